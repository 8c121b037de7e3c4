package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"golang.org/x/crypto/bcrypt"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/api"
	"github.com/unsubivr/unsubivr/db"
)

func TestMain(m *testing.M) {
	db.BcryptCost = bcrypt.MinCost
	os.Exit(m.Run())
}

const token = "s3cret-token-for-tests"

// env is the real handler on a real listener over a real database file
// with the demo data, mounted as `unsubivr serve` mounts it.
type env struct {
	d    *db.DB
	path string
	srv  *httptest.Server
	logs *logtest.Hook
	raw  *sqlx.DB // read-only, to count rows
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, api.Config{Token: token}, nil)
}

// newEnvWith builds an env; wrap, if set, gives the API's store.
func newEnvWith(t *testing.T, cfg api.Config, wrap func(*db.DB) api.Store) *env {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "unsubivr.db")
	d, err := db.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	log, hook := logtest.NewNullLogger()
	var store api.Store = d
	if wrap != nil {
		store = wrap(d)
	}
	h, err := api.New(cfg, store, log)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.Handle("/v1/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	raw, err := sqlx.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	e := &env{d: d, path: path, srv: srv, logs: hook, raw: raw}
	t.Cleanup(func() { e.noNumbersLogged(t) })
	return e
}

// call is one HTTP request.
type call struct {
	method, path, body string
	header             map[string]string // added to the defaults
	noAuth             bool
}

// response is what came back.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d %q: %v", r.status, r.body, err)
	}
}

// errorCode returns the code of an error response.
func (r response) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	r.json(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not an error response: %d %s", r.status, r.body)
	}
	return e.Error.Code
}

func (e *env) do(t *testing.T, c call) response {
	t.Helper()
	req, err := http.NewRequest(c.method, e.srv.URL+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if !c.noAuth {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q", c.method, c.path, ct)
	}
	return response{resp.StatusCode, resp.Header, body}
}

func (e *env) get(t *testing.T, path string) response {
	t.Helper()
	return e.do(t, call{method: "GET", path: path})
}

func (e *env) post(t *testing.T, path, body string) response {
	t.Helper()
	return e.do(t, call{method: "POST", path: path, body: body})
}

// counts are the rows of the tables a request may write.
type counts struct {
	Records, Outbox, Keys, Active, Profiles int
}

func (e *env) counts(t *testing.T) counts {
	t.Helper()
	var c counts
	for _, q := range []struct {
		dst   *int
		query string
	}{
		{&c.Records, `SELECT count(*) FROM records`},
		{&c.Outbox, `SELECT count(*) FROM outbox`},
		{&c.Keys, `SELECT count(*) FROM api_idempotency`},
		{&c.Active, `SELECT count(*) FROM subscriptions WHERE status = 'active'`},
		{&c.Profiles, `SELECT count(*) FROM marketing_profiles`},
	} {
		if err := e.raw.Get(q.dst, q.query); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// unchanged runs fn and fails if it wrote anything.
func (e *env) unchanged(t *testing.T, fn func()) {
	t.Helper()
	before := e.counts(t)
	fn()
	if after := e.counts(t); after != before {
		t.Errorf("rows changed: %+v → %+v", before, after)
	}
}

// noNumbersLogged fails if a log line holds a full demo number.
func (e *env) noNumbersLogged(t *testing.T) {
	for _, entry := range e.logs.AllEntries() {
		line, _ := entry.String()
		for _, s := range db.DemoSubscribers {
			if strings.Contains(line, s.Number) {
				t.Errorf("full number in log: %s", line)
			}
		}
	}
}

// errorsLogged returns the number of error log lines.
func (e *env) errorsLogged() int {
	n := 0
	for _, entry := range e.logs.AllEntries() {
		if entry.Level <= logrus.ErrorLevel {
			n++
		}
	}
	return n
}

func TestNew(t *testing.T) {
	t.Run("ErrNoToken", func(t *testing.T) {
		_, err := api.New(api.Config{}, nil, nil)
		if err == nil || err.Error() != "api: no token configured: set UNSUB_API_TOKEN or --api-disabled" {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("Disabled", func(t *testing.T) {
		h, err := api.New(api.Config{Disabled: true}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/v1/records/12345678", nil)
		req.Header.Set("Authorization", "Bearer x")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `"not_found"`) {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("ErrNoStore", func(t *testing.T) {
		if _, err := api.New(api.Config{Token: "x"}, nil, nil); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	paths := []call{
		{method: "GET", path: "/v1/subscribers/13800138000/services"},
		{method: "POST", path: "/v1/subscribers/13800138000/services/CRBT/cancel"},
		{method: "POST", path: "/v1/subscribers/13800138000/cancel-all"},
		{method: "GET", path: "/v1/records/12345678"},
		{method: "POST", path: "/v1/sms/inbound", body: `{"from":"13800138000","text":"TD ALL"}`},
		{method: "GET", path: "/v1/no/such/thing"},
	}
	for _, tc := range []struct {
		name, header string
	}{
		{"ErrNoHeader", ""},
		{"ErrWrongToken", "Bearer wrong-token"},
		{"ErrTokenPrefix", "Bearer " + token[:5]},
		{"ErrTokenLonger", "Bearer " + token + "x"},
		{"ErrBasic", "Basic " + token},
		{"ErrEmptyBearer", "Bearer "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.unchanged(t, func() {
				for _, c := range paths {
					c.noAuth = true
					if tc.header != "" {
						c.header = map[string]string{"Authorization": tc.header}
					}
					r := e.do(t, c)
					if r.status != http.StatusUnauthorized || r.errorCode(t) != unsubivr.EUNAUTHORIZED {
						t.Errorf("%s %s: %d %s", c.method, c.path, r.status, r.body)
					}
					if r.header.Get("WWW-Authenticate") == "" {
						t.Errorf("%s %s: no WWW-Authenticate", c.method, c.path)
					}
				}
			})
		})
	}
	t.Run("SchemeAnyCase", func(t *testing.T) {
		r := e.do(t, call{method: "GET", path: "/v1/subscribers/13800138000/services", noAuth: true,
			header: map[string]string{"Authorization": "bearer " + token}})
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("HealthzOutsideAPI", func(t *testing.T) {
		resp, err := e.srv.Client().Get(e.srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz %d", resp.StatusCode)
		}
	})
	if n := e.errorsLogged(); n != 0 {
		t.Errorf("%d errors logged for refused requests", n)
	}
}

func TestNotFoundRoute(t *testing.T) {
	e := newEnv(t)
	for _, c := range []call{
		{method: "GET", path: "/v1/"},
		{method: "GET", path: "/v1/subscribers/13800138000"},
		{method: "DELETE", path: "/v1/records/12345678"},
	} {
		r := e.do(t, c)
		if r.status != http.StatusNotFound || r.errorCode(t) != unsubivr.ENOTFOUND {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.status, r.body)
		}
		if r.header.Get("X-Request-Id") == "" {
			t.Errorf("%s %s: no X-Request-Id", c.method, c.path)
		}
	}
}

// service is one entry of the services listing.
type service struct {
	Code          string     `json:"code"`
	ShortName     string     `json:"short_name"`
	NameZh        string     `json:"name_zh"`
	NameEn        string     `json:"name_en"`
	MonthlyFeeFen int64      `json:"monthly_fee_fen"`
	Kind          string     `json:"kind"`
	PurgeOnCancel bool       `json:"purge_on_cancel"`
	Status        string     `json:"status"`
	SubscribedAt  time.Time  `json:"subscribed_at"`
	CancelledAt   *time.Time `json:"cancelled_at"`
	CancelCode    string     `json:"cancel_code"`
}

type services struct {
	Number   string    `json:"number"`
	Services []service `json:"services"`
}

// cancel is the answer of a cancel.
type cancel struct {
	Outcome     string     `json:"outcome"`
	Code        string     `json:"code"`
	Services    []string   `json:"services"`
	Purged      bool       `json:"purged"`
	Channel     string     `json:"channel"`
	CancelledAt *time.Time `json:"cancelled_at"`
}

func TestListServices(t *testing.T) {
	e := newEnv(t)

	t.Run("OK", func(t *testing.T) {
		r := e.get(t, "/v1/subscribers/13800138000/services")
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
		var got services
		r.json(t, &got)
		if got.Number != "13800138000" || len(got.Services) != 2 {
			t.Fatalf("%s", r.body)
		}
		crbt := got.Services[0]
		if crbt.Code != "CRBT" || crbt.ShortName != "CL" || crbt.NameZh != "彩铃" || crbt.MonthlyFeeFen != 500 ||
			crbt.Status != "active" || crbt.CancelledAt != nil || crbt.CancelCode != "" || crbt.SubscribedAt.IsZero() {
			t.Errorf("CRBT %+v", crbt)
		}
		if bd := got.Services[1]; bd.Code != "BLUE_DIAMOND" || !bd.PurgeOnCancel || bd.Kind != "marketing" {
			t.Errorf("BLUE_DIAMOND %+v", bd)
		}
		if !strings.Contains(string(r.body), `"cancelled_at":null`) {
			t.Errorf("cancelled_at of an active service is not null: %s", r.body)
		}
	})

	t.Run("AfterCancel", func(t *testing.T) {
		c := e.post(t, "/v1/subscribers/13800138000/services/CRBT/cancel", "")
		var res cancel
		c.json(t, &res)
		r := e.get(t, "/v1/subscribers/13800138000/services")
		var got services
		r.json(t, &got)
		crbt := got.Services[0]
		if crbt.Status != "cancelled" || crbt.CancelCode != res.Code || crbt.CancelledAt == nil {
			t.Errorf("CRBT after cancel %+v, want code %s", crbt, res.Code)
		}
	})

	t.Run("NoServices", func(t *testing.T) {
		r := e.get(t, "/v1/subscribers/13700137000/services")
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"services":[]`) {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})

	t.Run("ErrUnknownSubscriber", func(t *testing.T) {
		r := e.get(t, "/v1/subscribers/13600136000/services")
		if r.status != http.StatusNotFound || r.errorCode(t) != unsubivr.ENOTFOUND {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})

	t.Run("ErrNumberWithLetters", func(t *testing.T) {
		for _, n := range []string{"1380013800a", "abc", "138001380001", "+8613800138000"} {
			r := e.get(t, "/v1/subscribers/"+n+"/services")
			if r.status != http.StatusBadRequest || r.errorCode(t) != unsubivr.EINVALID {
				t.Errorf("%s: %d %s", n, r.status, r.body)
			}
		}
	})
}

func TestCancelOne(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const path = "/v1/subscribers/13800138000/services/CRBT/cancel"
	var first cancel

	t.Run("Cancelled", func(t *testing.T) {
		before := e.counts(t)
		r := e.post(t, path, `{"consent":"app screen 7"}`)
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
		r.json(t, &first)
		if first.Outcome != "cancelled" || len(first.Code) != 8 || len(first.Services) != 1 || first.Services[0] != "CRBT" ||
			first.Purged || first.Channel != "api" || first.CancelledAt == nil {
			t.Fatalf("%s", r.body)
		}
		rec, err := e.d.RecordByCode(ctx, first.Code)
		if err != nil {
			t.Fatal(err)
		}
		want := "api request " + r.header.Get("X-Request-Id") + ": app screen 7"
		if rec.Channel != unsubivr.ChannelAPI || rec.Consent.Text != want {
			t.Errorf("record %+v, want consent %q", rec, want)
		}
		after := e.counts(t)
		if after.Records != before.Records+1 || after.Outbox != before.Outbox+2 || after.Active != before.Active-1 || after.Keys != 0 {
			t.Errorf("rows %+v → %+v", before, after)
		}
	})

	t.Run("AlreadyCancelledSameCode", func(t *testing.T) {
		e.unchanged(t, func() {
			r := e.post(t, "/v1/subscribers/13800138000/services/crbt/cancel", "")
			var got cancel
			r.json(t, &got)
			if r.status != http.StatusOK || got.Outcome != "already_cancelled" || got.Code != first.Code ||
				got.CancelledAt == nil || !got.CancelledAt.Equal(*first.CancelledAt) {
				t.Fatalf("%d %s, want code %s", r.status, r.body, first.Code)
			}
		})
	})

	t.Run("Purges", func(t *testing.T) {
		r := e.post(t, "/v1/subscribers/13800138000/services/BLUE_DIAMOND/cancel", "{}")
		var got cancel
		r.json(t, &got)
		if got.Outcome != "cancelled" || !got.Purged {
			t.Fatalf("%s", r.body)
		}
		if c := e.counts(t); c.Profiles != 0 {
			t.Errorf("%d marketing rows left", c.Profiles)
		}
	})

	bad := []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"ErrUnknownService", "/v1/subscribers/13900139000/services/GOLD/cancel", "", 400, unsubivr.EINVALID},
		{"ErrNotHeld", "/v1/subscribers/13900139000/services/CRBT/cancel", "", 404, unsubivr.ENOTFOUND},
		{"ErrUnknownSubscriber", "/v1/subscribers/13600136000/services/CRBT/cancel", "", 404, unsubivr.ENOTFOUND},
		{"ErrNumberWithLetters", "/v1/subscribers/1390013900O/services/VRBT/cancel", "", 400, unsubivr.EINVALID},
		{"ErrMalformedJSON", "/v1/subscribers/13900139000/services/VRBT/cancel", `{"consent":`, 400, unsubivr.EINVALID},
		{"ErrNotJSON", "/v1/subscribers/13900139000/services/VRBT/cancel", `consent=x`, 400, unsubivr.EINVALID},
		{"ErrJSONArray", "/v1/subscribers/13900139000/services/VRBT/cancel", `[1]`, 400, unsubivr.EINVALID},
		{"ErrUnknownField", "/v1/subscribers/13900139000/services/VRBT/cancel", `{"consnet":"x"}`, 400, unsubivr.EINVALID},
		{"ErrTwoValues", "/v1/subscribers/13900139000/services/VRBT/cancel", `{} {}`, 400, unsubivr.EINVALID},
		{"ErrWrongType", "/v1/subscribers/13900139000/services/VRBT/cancel", `{"consent":7}`, 400, unsubivr.EINVALID},
		{"ErrConsentTooLong", "/v1/subscribers/13900139000/services/VRBT/cancel", `{"consent":"` + strings.Repeat("长", 501) + `"}`, 400, unsubivr.EINVALID},
		{"ErrOversizedBody", "/v1/subscribers/13900139000/services/VRBT/cancel", `{"consent":"` + strings.Repeat("x", api.DefaultMaxBody) + `"}`, 413, unsubivr.EINVALID},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			e.unchanged(t, func() {
				r := e.do(t, call{method: "POST", path: tc.path, body: tc.body,
					header: map[string]string{"Idempotency-Key": "key-" + tc.name}})
				if r.status != tc.status || r.errorCode(t) != tc.code {
					t.Fatalf("%d %s, want %d %s", r.status, r.body, tc.status, tc.code)
				}
			})
		})
	}
	if n := e.errorsLogged(); n != 0 {
		t.Errorf("%d errors logged, want none: only internal errors are", n)
	}
}

func TestCancelAll(t *testing.T) {
	e := newEnv(t)
	const path = "/v1/subscribers/13800138000/cancel-all"

	r := e.post(t, path, "")
	var got cancel
	r.json(t, &got)
	if r.status != http.StatusOK || got.Outcome != "cancelled" || len(got.Code) != 8 || !got.Purged ||
		strings.Join(got.Services, ",") != "CRBT,BLUE_DIAMOND" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	e.unchanged(t, func() {
		r := e.post(t, path, "")
		var again cancel
		r.json(t, &again)
		if r.status != http.StatusOK || again.Outcome != "nothing_active" || again.Code != "" || len(again.Services) != 0 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	// A single cancel after it names the service asked for, with the
	// cancel-all's code.
	r = e.post(t, "/v1/subscribers/13800138000/services/BLUE_DIAMOND/cancel", "")
	var one cancel
	r.json(t, &one)
	if one.Outcome != "already_cancelled" || one.Code != got.Code || strings.Join(one.Services, ",") != "BLUE_DIAMOND" || !one.Purged {
		t.Fatalf("%s", r.body)
	}
	r = e.post(t, "/v1/subscribers/abc/cancel-all", "")
	if r.status != http.StatusBadRequest {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

func TestGetRecord(t *testing.T) {
	e := newEnv(t)
	r := e.post(t, "/v1/subscribers/13900139000/services/VRBT/cancel", "")
	var c cancel
	r.json(t, &c)

	r = e.get(t, "/v1/records/"+c.Code)
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var rec struct {
		Code, Number, Channel string
		Services              []string
		Consent               unsubivr.Consent
		CreatedAt             time.Time `json:"created_at"`
	}
	r.json(t, &rec)
	if rec.Code != c.Code || rec.Number != "13900139000" || rec.Channel != "api" || len(rec.Services) != 1 ||
		rec.Services[0] != "VRBT" || !strings.HasPrefix(rec.Consent.Text, "api request ") || !rec.CreatedAt.Equal(*c.CancelledAt) {
		t.Fatalf("%s", r.body)
	}

	for _, tc := range []struct {
		code   string
		status int
	}{
		{"10000000", 404}, {"0" + c.Code[1:], 404}, {"1234567890123456789012", 404}, {"12a45678", 400},
	} {
		r := e.get(t, "/v1/records/"+tc.code)
		if r.status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.code, r.status, r.body, tc.status)
		}
	}
}

func TestIdempotency(t *testing.T) {
	const path = "/v1/subscribers/13800138000/services/CRBT/cancel"
	withKey := func(key, body string) call {
		return call{method: "POST", path: path, body: body, header: map[string]string{"Idempotency-Key": key}}
	}

	t.Run("RetryReplays", func(t *testing.T) {
		e := newEnv(t)
		r1 := e.do(t, withKey("k-1", `{"consent":"x"}`))
		if r1.status != 200 || r1.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("%d %v %s", r1.status, r1.header, r1.body)
		}
		var c cancel
		r1.json(t, &c)
		rec, err := e.d.RecordByCode(context.Background(), c.Code)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Consent.Text != "api request k-1: x" {
			t.Errorf("consent %q", rec.Consent.Text)
		}
		e.unchanged(t, func() {
			// Same request, other whitespace: the same.
			r2 := e.do(t, withKey("k-1", ` { "consent" : "x" } `))
			if r2.status != 200 || string(r2.body) != string(r1.body) || r2.header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("replay %d %v %s, want %s", r2.status, r2.header, r2.body, r1.body)
			}
		})
		// A new key runs the request again: already cancelled, same code.
		r3 := e.do(t, withKey("k-2", `{"consent":"x"}`))
		var c3 cancel
		r3.json(t, &c3)
		if c3.Outcome != "already_cancelled" || c3.Code != c.Code {
			t.Fatalf("%s", r3.body)
		}
	})

	t.Run("ErrSameKeyOtherRequest", func(t *testing.T) {
		e := newEnv(t)
		e.do(t, withKey("k-1", ""))
		e.unchanged(t, func() {
			for _, c := range []call{
				withKey("k-1", `{"consent":"other"}`),
				{method: "POST", path: "/v1/subscribers/13800138000/services/BLUE_DIAMOND/cancel", header: map[string]string{"Idempotency-Key": "k-1"}},
				{method: "POST", path: "/v1/subscribers/13800138000/cancel-all", header: map[string]string{"Idempotency-Key": "k-1"}},
				{method: "POST", path: "/v1/sms/inbound", body: `{"from":"13800138000","text":"TD"}`, header: map[string]string{"Idempotency-Key": "k-1"}},
			} {
				r := e.do(t, c)
				if r.status != http.StatusConflict || r.errorCode(t) != unsubivr.ECONFLICT {
					t.Errorf("%s: %d %s", c.path, r.status, r.body)
				}
			}
		})
	})

	t.Run("ErrBadKey", func(t *testing.T) {
		e := newEnv(t)
		e.unchanged(t, func() {
			for _, key := range []string{"has space", strings.Repeat("k", 256), "ключ"} {
				r := e.do(t, withKey(key, ""))
				if r.status != http.StatusBadRequest || r.errorCode(t) != unsubivr.EINVALID {
					t.Errorf("%q: %d %s", key, r.status, r.body)
				}
			}
		})
	})

	t.Run("ConcurrentRetries", func(t *testing.T) {
		e := newEnv(t)
		const n = 10
		bodies := make([]string, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", e.srv.URL+"/v1/subscribers/13800138000/cancel-all", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Idempotency-Key", "same")
				resp, err := e.srv.Client().Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 {
					t.Errorf("%d %s", resp.StatusCode, b)
				}
				bodies[i] = string(b)
			}()
		}
		wg.Wait()
		for i := range bodies {
			if bodies[i] != bodies[0] {
				t.Fatalf("answers differ:\n%s\n%s", bodies[0], bodies[i])
			}
		}
		var c cancel
		if err := json.Unmarshal([]byte(bodies[0]), &c); err != nil || c.Outcome != "cancelled" {
			t.Fatalf("%s %v", bodies[0], err)
		}
		if got := e.counts(t); got.Records != 1 || got.Keys != 1 {
			t.Fatalf("rows %+v: want one record, one key", got)
		}
	})

	t.Run("InternalErrorReleasesKey", func(t *testing.T) {
		fail := &failing{}
		e := newEnvWith(t, api.Config{Token: token}, func(d *db.DB) api.Store {
			fail.Store = d
			return api.Join(fail, d)
		})
		fail.n = 1
		r := e.do(t, withKey("k-1", ""))
		if r.status != http.StatusInternalServerError || r.errorCode(t) != unsubivr.EINTERNAL {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if strings.Contains(string(r.body), "disk on fire") {
			t.Errorf("internal detail leaked: %s", r.body)
		}
		if e.errorsLogged() != 1 {
			t.Errorf("%d errors logged, want 1", e.errorsLogged())
		}
		r = e.do(t, withKey("k-1", ""))
		var c cancel
		r.json(t, &c)
		if r.status != 200 || c.Outcome != "cancelled" || r.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("retry after a 500: %d %v %s", r.status, r.header, r.body)
		}
	})
}

func TestIdempotencyRetryWhileRunning(t *testing.T) {
	defer api.SetReplayWait(200 * time.Millisecond)()
	slow := &blocking{entered: make(chan struct{}), release: make(chan struct{})}
	e := newEnvWith(t, api.Config{Token: token}, func(d *db.DB) api.Store {
		slow.Store = d
		return api.Join(slow, d)
	})
	req := call{method: "POST", path: "/v1/subscribers/13900139000/services/VRBT/cancel",
		header: map[string]string{"Idempotency-Key": "slow"}}
	first := make(chan response)
	go func() { first <- e.do(t, req) }()
	<-slow.entered

	// The retry waits for the first request, then is told to come back.
	start := time.Now()
	r := e.do(t, req)
	if r.status != http.StatusConflict || r.errorCode(t) != unsubivr.ECONFLICT || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("retry while running: %d %s after %v", r.status, r.body, time.Since(start))
	}

	// A retry that is waiting when the first finishes gets its answer.
	second := make(chan response)
	go func() { second <- e.do(t, req) }()
	time.Sleep(50 * time.Millisecond)
	close(slow.release)
	r1, r2 := <-first, <-second
	if r1.status != 200 || r2.status != 200 || string(r1.body) != string(r2.body) || r2.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("first %d %s; waiting retry %d %v %s", r1.status, r1.body, r2.status, r2.header, r2.body)
	}
	if got := e.counts(t); got.Records != 1 {
		t.Fatalf("%d records", got.Records)
	}
}

// blocking is a store whose first Unsubscribe waits for release.
type blocking struct {
	unsubivr.Store
	once             sync.Once
	entered, release chan struct{}
}

func (b *blocking) Unsubscribe(ctx context.Context, req unsubivr.Request) (unsubivr.Result, error) {
	b.once.Do(func() {
		close(b.entered)
		<-b.release
	})
	return b.Store.Unsubscribe(ctx, req)
}

// failing is a store whose next n cancels fail as a broken disk would.
type failing struct {
	unsubivr.Store
	mu sync.Mutex
	n  int
}

func (f *failing) Unsubscribe(ctx context.Context, req unsubivr.Request) (unsubivr.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n > 0 {
		f.n--
		return unsubivr.Result{}, errDisk
	}
	return f.Store.Unsubscribe(ctx, req)
}

var errDisk = &diskError{}

type diskError struct{}

func (*diskError) Error() string { return "db: unsubscribe: disk on fire" }
