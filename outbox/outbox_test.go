package outbox

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/crypto/bcrypt"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/db"
)

func TestMain(m *testing.M) {
	db.BcryptCost = bcrypt.MinCost
	os.Exit(m.Run())
}

var secret = []byte("0123456789abcdef-test-secret")

// openDB opens a database file in a temporary directory with n
// subscribers (15000000000, 15000000001, ...) holding CRBT and VRBT; it is
// closed at the end of the test.
func openDB(tb testing.TB, path string, n int) *db.DB {
	tb.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	if !d.IsNew() {
		return d
	}
	if err := d.Seed(ctx); err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := d.AddSubscriber(ctx, db.DemoSubscriber{Number: number(i), Password: "123456",
			Services: []string{"CRBT", "VRBT"}}); err != nil {
			tb.Fatal(err)
		}
	}
	return d
}

func number(i int) string { return fmt.Sprintf("150%08d", i) }

// cancelAll cancels every service of subscribers [from, to): three events
// each (CRBT, VRBT, then the SMS).
func cancelAll(tb testing.TB, s unsubivr.Store, from, to int) {
	tb.Helper()
	for i := from; i < to; i++ {
		res, err := s.UnsubscribeAll(context.Background(), unsubivr.Request{Number: number(i), Channel: unsubivr.ChannelAPI})
		if err != nil || res.Outcome != unsubivr.Cancelled {
			tb.Fatalf("cancel %s: %v %v", number(i), res.Outcome, err)
		}
	}
}

// delivery is one request the receiver saw.
type delivery struct {
	path     string
	env      Envelope
	body     string
	attempt  int
	accepted bool
}

// receiver is a webhook that checks every request (method, headers,
// signature computed here from the spec, body) and answers as fail says.
type receiver struct {
	tb  testing.TB
	srv *httptest.Server

	mu   sync.Mutex
	seen []delivery
	// fail says how to answer attempt n (X-Unsub-Attempt) of the event
	// with key: "" accepts; "500", "400", "503" answer that status;
	// "close" closes the connection without an answer; "hang" answers
	// nothing until the client gives up. (Go's transport sends a request
	// with an Idempotency-Key again, once, if the connection closes under
	// it: the receiver sees such an attempt twice.)
	fail func(key string, n int) string
	// delay slows every request down.
	delay time.Duration
}

func newReceiver(tb testing.TB, fail func(key string, n int) string) *receiver {
	r := &receiver{tb: tb, fail: fail}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	tb.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return // the client gave up
	}
	ts := req.Header.Get("X-Unsub-Timestamp")
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "." + string(body)))
	wantSig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	var env Envelope
	problems := []string{}
	if err := json.Unmarshal(body, &env); err != nil {
		problems = append(problems, "body: "+err.Error())
	}
	if req.Method != http.MethodPost {
		problems = append(problems, "method "+req.Method)
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		problems = append(problems, "content type "+ct)
	}
	if sig := req.Header.Get("X-Unsub-Signature"); !hmac.Equal([]byte(sig), []byte(wantSig)) {
		problems = append(problems, "signature "+sig)
	}
	if sec, err := strconv.ParseInt(ts, 10, 64); err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Minute {
		problems = append(problems, "timestamp "+ts)
	}
	key := req.Header.Get("Idempotency-Key")
	if key == "" || key != env.IdempotencyKey {
		problems = append(problems, fmt.Sprintf("Idempotency-Key %q, body has %q", key, env.IdempotencyKey))
	}
	attempt, _ := strconv.Atoi(req.Header.Get("X-Unsub-Attempt"))
	if len(problems) > 0 {
		r.tb.Errorf("bad request to %s: %s", req.URL.Path, strings.Join(problems, "; "))
		w.WriteHeader(http.StatusBadRequest)
		return
	}

	r.mu.Lock()
	how := ""
	if r.fail != nil {
		how = r.fail(key, attempt)
	}
	d := delivery{path: req.URL.Path, env: env, body: string(body), attempt: attempt, accepted: how == ""}
	r.seen = append(r.seen, d)
	delay := r.delay
	r.mu.Unlock()

	if delay > 0 {
		time.Sleep(delay)
	}
	switch how {
	case "":
		w.WriteHeader(http.StatusNoContent)
	case "close":
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	case "hang":
		<-req.Context().Done()
	default:
		code, _ := strconv.Atoi(how)
		if code == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "0")
		}
		http.Error(w, "receiver says no\nsecond line", code)
	}
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// testConfig sends unsubscribe events to rcv's /prov and SMS to /sms,
// with tiny backoffs and timeouts.
func testConfig(rcv *receiver) Config {
	return Config{
		ProvisioningURL: rcv.srv.URL + "/prov",
		SMSURL:          rcv.srv.URL + "/sms",
		Secret:          secret,
		MaxAttempts:     8,
		Backoff:         func(int) time.Duration { return 5 * time.Millisecond },
		Poll:            20 * time.Millisecond,
		Timeout:         300 * time.Millisecond,
	}
}

// start runs a dispatcher until the test ends or stop is called.
func start(tb testing.TB, d *db.DB, cfg Config, reg prometheus.Registerer) (disp *Dispatcher, stop func()) {
	tb.Helper()
	disp = New(d, cfg, nil, reg)
	disp.statsEvery, disp.parkedEvery = 10*time.Millisecond, 10*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- disp.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Error(err)
			}
		})
	}
	tb.Cleanup(stop)
	return disp, stop
}

// waitFor polls cond until it holds, failing the test after 10 s (a
// minute in benchmarks).
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	limit := 10 * time.Second
	if _, ok := tb.(*testing.B); ok {
		limit = time.Minute
	}
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settled reports whether nothing is pending.
func settled(tb testing.TB, d *db.DB) func() bool {
	return func() bool {
		s, err := d.OutboxStats(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		return s.Pending == 0
	}
}

func events(tb testing.TB, d *db.DB, status string) []db.OutboxEvent {
	tb.Helper()
	evs, err := d.OutboxList(context.Background(), status, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}

// checkOrder fails unless, for each number, no event was attempted before
// the earlier events of the number were accepted (or parked: parked lists
// the ids given up on when the later ones were tried), and unless every
// attempt of an event sent the same body to the right path.
func checkOrder(tb testing.TB, seen []delivery, parked map[int64]bool) {
	tb.Helper()
	accepted := map[int64]bool{}
	last := map[string]int64{} // number → highest id accepted or parked so far
	bodies := map[int64]string{}
	for i, d := range seen {
		e := d.env
		if b, ok := bodies[e.ID]; ok && b != d.body {
			tb.Errorf("event %d: body changed between attempts:\n%s\n%s", e.ID, b, d.body)
		}
		bodies[e.ID] = d.body
		if want := map[string]string{db.EventUnsubscribe: "/prov", db.EventSMS: "/sms"}[e.Kind]; d.path != want {
			tb.Errorf("event %d (%s) went to %s", e.ID, e.Kind, d.path)
		}
		if e.ID < last[e.Number] && !accepted[e.ID] && !parked[e.ID] {
			tb.Errorf("request %d: event %d of %s attempted after event %d was accepted", i, e.ID, e.Number, last[e.Number])
		}
		// Every earlier pending event of the number must be done: the
		// dispatcher only moves on once it is.
		for id := range bodies {
			if id < e.ID && !accepted[id] && !parked[id] && numberOf(seen, id) == e.Number {
				tb.Errorf("request %d: event %d of %s attempted while event %d was not delivered", i, e.ID, e.Number, id)
			}
		}
		if d.accepted {
			accepted[e.ID] = true
			last[e.Number] = max(last[e.Number], e.ID)
		}
	}
}

func numberOf(seen []delivery, id int64) string {
	for _, d := range seen {
		if d.env.ID == id {
			return d.env.Number
		}
	}
	return ""
}

// failing returns a fail function that fails the first n attempts of
// every event, each time in one of the ways given, picked by the key.
func failing(n int, ways ...string) func(string, int) string {
	return func(key string, try int) string {
		if try > n {
			return ""
		}
		h := fnv.New32a()
		fmt.Fprintf(h, "%s/%d", key, try)
		return ways[int(h.Sum32())%len(ways)]
	}
}

func TestDeliver(t *testing.T) {
	const subscribers = 12
	d := openDB(t, filepath.Join(t.TempDir(), "x.db"), subscribers)
	cancelAll(t, d, 0, subscribers) // 36 events: 24 unsubscribe, 12 sms
	rcv := newReceiver(t, failing(2, "500", "close", "hang", "503"))
	reg := prometheus.NewRegistry()
	start(t, d, testConfig(rcv), reg)
	waitFor(t, "every event delivered", settled(t, d))

	seen := rcv.deliveries()
	checkOrder(t, seen, nil)
	sent := events(t, d, db.OutboxSent)
	if len(sent) != 3*subscribers {
		t.Fatalf("%d events sent, want %d", len(sent), 3*subscribers)
	}
	perKey := map[string][]int{}
	for _, x := range seen {
		perKey[x.env.IdempotencyKey] = append(perKey[x.env.IdempotencyKey], x.attempt)
	}
	replays := 0
	for k, v := range perKey {
		replays += len(v)
		perKey[k] = slices.Compact(v) // the transport's own replays
		replays -= len(perKey[k])
	}
	t.Logf("%d requests, %d of them replays by the transport", len(seen), replays)
	for _, e := range sent {
		if e.Attempts != 3 {
			t.Errorf("event %d: %d attempts, want 3", e.ID, e.Attempts)
		}
		if got := perKey[e.IdempotencyKey]; !slices.Equal(got, []int{1, 2, 3}) {
			t.Errorf("event %d: X-Unsub-Attempt %v, want [1 2 3] under one key", e.ID, got)
		}
		if !strings.HasPrefix(e.LastError, "attempt 2: ") {
			t.Errorf("event %d: last error %q", e.ID, e.LastError)
		}
	}
	// The envelope of the first event, in full.
	var first delivery
	for _, x := range seen {
		if x.env.ID == 1 && x.accepted {
			first = x
		}
	}
	var payload db.UnsubscribeEvent
	if err := json.Unmarshal(first.env.Payload, &payload); err != nil {
		t.Fatal(err)
	}
	if e := first.env; e.Kind != db.EventUnsubscribe || e.Number != number(0) || e.CreatedAt.IsZero() ||
		e.IdempotencyKey != "unsubscribe:"+payload.RecordCode+":CRBT" || payload.Service != "CRBT" ||
		payload.Number != number(0) || payload.Channel != unsubivr.ChannelAPI {
		t.Errorf("first event: %s", first.body)
	}

	want := fmt.Sprintf(`
# HELP unsubivr_outbox_delivered_total Outbox events delivered (answered 2xx), by kind.
# TYPE unsubivr_outbox_delivered_total counter
unsubivr_outbox_delivered_total{kind="sms"} %d
unsubivr_outbox_delivered_total{kind="unsubscribe"} %d
# HELP unsubivr_outbox_parked_total Outbox events parked after their last failed attempt, by kind.
# TYPE unsubivr_outbox_parked_total counter
unsubivr_outbox_parked_total{kind="sms"} 0
unsubivr_outbox_parked_total{kind="unsubscribe"} 0
`, subscribers, 2*subscribers)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"unsubivr_outbox_delivered_total", "unsubivr_outbox_parked_total"); err != nil {
		t.Error(err)
	}
	if got := value(t, reg, "unsubivr_outbox_failures_total", nil); got != 2*3*subscribers {
		t.Errorf("%v failures counted, want %d", got, 2*3*subscribers)
	}
	for _, reason := range []string{ReasonStatus5xx, ReasonConnection, ReasonTimeout} {
		if value(t, reg, "unsubivr_outbox_failures_total", map[string]string{"reason": reason}) == 0 {
			t.Errorf("no failure counted with reason %s", reason)
		}
	}
	waitFor(t, "pending gauges at 0", func() bool {
		return value(t, reg, "unsubivr_outbox_pending", nil) == 0 && value(t, reg, "unsubivr_outbox_oldest_pending_seconds", nil) == 0
	})
}

// value returns the sum of the samples of metric name whose labels
// include labels, from reg.
func value(tb testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	v := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, want := range labels {
				if have[k] != want {
					continue metric
				}
			}
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return v
}

func TestPark(t *testing.T) {
	d := openDB(t, filepath.Join(t.TempDir(), "x.db"), 2)
	cancelAll(t, d, 0, 2)
	// 1 CRBT, 2 VRBT, 3 sms of number(0); 4, 5, 6 of number(1).
	var mu sync.Mutex
	refuse := "unsubscribe:" // the first event's key, filled in below
	rcv := newReceiver(t, func(key string, n int) string {
		mu.Lock()
		defer mu.Unlock()
		if key == refuse {
			return "400" // a 4xx is retried like the rest, then parked
		}
		return ""
	})
	first := events(t, d, db.OutboxPending)[0]
	mu.Lock()
	refuse = first.IdempotencyKey
	mu.Unlock()

	cfg := testConfig(rcv)
	cfg.MaxAttempts = 3
	reg := prometheus.NewRegistry()
	_, stop := start(t, d, cfg, reg)
	waitFor(t, "the rest delivered", settled(t, d))

	parked := events(t, d, db.OutboxParked)
	if len(parked) != 1 || parked[0].ID != first.ID || parked[0].Attempts != 3 ||
		!strings.HasPrefix(parked[0].LastError, "attempt 3: HTTP 400 Bad Request: receiver says no second line") {
		t.Fatalf("parked: %+v", parked)
	}
	// Event 1 held back 2 and 3 until it was parked, not after.
	seen := rcv.deliveries()
	checkOrder(t, seen, map[int64]bool{first.ID: true})
	lastOfFirst, firstOfLater := -1, -1
	for i, x := range seen {
		switch {
		case x.env.ID == first.ID:
			lastOfFirst = i
		case x.env.Number == first.Number && firstOfLater < 0:
			firstOfLater = i
		}
	}
	if lastOfFirst < 0 || firstOfLater < lastOfFirst {
		t.Errorf("event %d last tried at request %d, the next of its number at request %d", first.ID, lastOfFirst, firstOfLater)
	}
	if n := len(events(t, d, db.OutboxSent)); n != 5 {
		t.Fatalf("%d sent, want 5", n)
	}
	if got := value(t, reg, "unsubivr_outbox_parked_total", map[string]string{"kind": "unsubscribe"}); got != 1 {
		t.Errorf("parked_total %v, want 1", got)
	}
	if got := value(t, reg, "unsubivr_outbox_failures_total", map[string]string{"kind": "unsubscribe", "reason": ReasonStatus4xx}); got != 3 {
		t.Errorf("4xx failures %v, want 3", got)
	}
	waitFor(t, "parked gauge at 1", func() bool { return value(t, reg, "unsubivr_outbox_parked", nil) == 1 })

	// The receiver is fixed; an operator re-queues the event.
	mu.Lock()
	refuse = "none"
	mu.Unlock()
	requeued, err := d.Retry(context.Background(), first.ID)
	if err != nil || len(requeued) != 1 {
		t.Fatalf("retry: %v %v", requeued, err)
	}
	waitFor(t, "the re-queued event delivered", settled(t, d))
	if n := len(events(t, d, db.OutboxSent)); n != 6 {
		t.Fatalf("%d sent, want 6", n)
	}
	seen = rcv.deliveries()
	if last := seen[len(seen)-1]; last.env.ID != first.ID || !last.accepted || last.attempt != 1 {
		t.Errorf("last delivery %+v, want the re-queued event, attempt 1 again", last)
	}
	waitFor(t, "parked gauge at 0", func() bool { return value(t, reg, "unsubivr_outbox_parked", nil) == 0 })
	stop()
}

// TestUnknownKind: an event of a kind with no URL is parked at once and
// holds nothing back.
func TestUnknownKind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	d := openDB(t, path, 1)
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z")
	if _, err := raw.Exec(`INSERT INTO outbox (number, kind, payload, idempotency_key, next_attempt_at, created_at)
		VALUES (?, 'fax', '{}', 'fax:1', ?, ?)`, number(0), now, now); err != nil {
		t.Fatal(err)
	}
	cancelAll(t, d, 0, 1)
	rcv := newReceiver(t, nil)
	reg := prometheus.NewRegistry()
	start(t, d, testConfig(rcv), reg)
	waitFor(t, "all done", settled(t, d))
	parked := events(t, d, db.OutboxParked)
	if len(parked) != 1 || parked[0].Kind != "fax" || parked[0].Attempts != 1 ||
		parked[0].LastError != `attempt 1: no URL for events of kind "fax"` {
		t.Fatalf("parked %+v", parked)
	}
	if n := len(rcv.deliveries()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	if got := value(t, reg, "unsubivr_outbox_failures_total", map[string]string{"kind": "fax", "reason": ReasonNoURL}); got != 1 {
		t.Errorf("no_url failures %v, want 1", got)
	}
}

// TestRestart stops a dispatcher half-way, closes the database, opens it
// again and starts another: it resumes, in order, losing nothing.
func TestRestart(t *testing.T) {
	const subscribers = 20
	path := filepath.Join(t.TempDir(), "x.db")
	d := openDB(t, path, subscribers)
	cancelAll(t, d, 0, subscribers)
	rcv := newReceiver(t, failing(1, "500", "close"))
	rcv.delay = 2 * time.Millisecond // requests are in flight when it stops

	_, stop := start(t, d, testConfig(rcv), nil)
	waitFor(t, "a third delivered", func() bool { return len(events(t, d, db.OutboxSent)) >= subscribers })
	stop()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	before := len(rcv.deliveries())

	d = openDB(t, path, 0)
	sentBefore := len(events(t, d, db.OutboxSent))
	if sentBefore >= 3*subscribers {
		t.Fatalf("all %d sent before the restart: nothing to resume", sentBefore)
	}
	start(t, d, testConfig(rcv), nil)
	waitFor(t, "every event delivered", settled(t, d))
	seen := rcv.deliveries()
	checkOrder(t, seen, nil)
	accepted := map[int64]int{}
	for _, x := range seen {
		if x.accepted {
			accepted[x.env.ID]++
		}
	}
	if len(accepted) != 3*subscribers {
		t.Errorf("%d events accepted, want %d", len(accepted), 3*subscribers)
	}
	t.Logf("%d sent before the restart (%d requests), %d requests after; %d accepted twice",
		sentBefore, before, len(seen)-before, func() (n int) {
			for _, c := range accepted {
				if c > 1 {
					n++
				}
			}
			return n
		}())
}

// TestCrash: a dispatcher dies between delivering events and recording
// it (here: the database stops accepting its writes). The next one
// delivers them again, in order: at least once.
func TestCrash(t *testing.T) {
	const subscribers = 10
	path := filepath.Join(t.TempDir(), "x.db")
	d := openDB(t, path, subscribers)
	cancelAll(t, d, 0, subscribers)
	rcv := newReceiver(t, nil)

	fs := &flakyStore{DB: d, ok: 3, fail: 1 << 30}
	disp := newDispatcher(fs, d.Now, testConfig(rcv), nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- disp.Run(ctx) }()
	waitFor(t, "deliveries it cannot record", func() bool {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		return fs.refused > 0
	})
	cancel()
	<-done
	before := len(rcv.deliveries())
	sentBefore := len(events(t, d, db.OutboxSent))

	start(t, d, testConfig(rcv), nil)
	waitFor(t, "every event delivered", settled(t, d))
	seen := rcv.deliveries()
	checkOrder(t, seen, nil)
	twice := 0
	count := map[int64]int{}
	for _, x := range seen {
		if count[x.env.ID]++; count[x.env.ID] == 2 {
			twice++
		}
	}
	if len(count) != 3*subscribers || twice == 0 {
		t.Errorf("%d events delivered, %d of them twice; want %d, some twice", len(count), twice, 3*subscribers)
	}
	t.Logf("%d requests, %d events recorded sent before the crash; %d delivered again after it", before, sentBefore, twice)
}

// TestNotify: with a poll of an hour, a cancel through Notifying is
// delivered at once.
func TestNotify(t *testing.T) {
	d := openDB(t, filepath.Join(t.TempDir(), "x.db"), 1)
	rcv := newReceiver(t, nil)
	cfg := testConfig(rcv)
	cfg.Poll = time.Hour
	disp, _ := start(t, d, cfg, nil)
	time.Sleep(50 * time.Millisecond) // past the first poll, which runs at start
	cancelAll(t, Notifying(d, disp), 0, 1)
	waitFor(t, "delivered without a poll", func() bool { return len(rcv.deliveries()) == 3 })
}

func TestDisabled(t *testing.T) {
	d := openDB(t, filepath.Join(t.TempDir(), "x.db"), 1)
	cancelAll(t, d, 0, 1)
	reg := prometheus.NewRegistry()
	_, stop := start(t, d, Config{}, reg)
	waitFor(t, "pending gauge at 3", func() bool { return value(t, reg, "unsubivr_outbox_pending", nil) == 3 })
	stop()
	if n := len(events(t, d, db.OutboxPending)); n != 3 {
		t.Errorf("%d pending, want 3", n)
	}
}

func TestRunInvalidConfig(t *testing.T) {
	d := openDB(t, filepath.Join(t.TempDir(), "x.db"), 0)
	err := New(d, Config{ProvisioningURL: "http://x"}, nil, nil).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "SMSURL") {
		t.Fatalf("error %v, want one naming SMSURL", err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{ProvisioningURL: "https://prov.example/hook", SMSURL: "http://127.0.0.1:9000/sms", Secret: secret}
	for _, tt := range []struct {
		name string
		edit func(*Config)
		want string // in the error; "" for none
	}{
		{"OK", func(*Config) {}, ""},
		{"Disabled", func(c *Config) { *c = Config{} }, ""},
		{"ErrNoSMSURL", func(c *Config) { c.SMSURL = "" }, "SMSURL is empty"},
		{"ErrNoProvisioningURL", func(c *Config) { c.ProvisioningURL = "" }, "ProvisioningURL is empty"},
		{"ErrScheme", func(c *Config) { c.SMSURL = "ftp://x/y" }, "SMSURL"},
		{"ErrRelative", func(c *Config) { c.ProvisioningURL = "/hook" }, "ProvisioningURL"},
		{"ErrShortSecret", func(c *Config) { c.Secret = []byte("short") }, "Secret"},
		{"ErrNegative", func(c *Config) { c.Timeout = -1 }, "negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := c.Validate()
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDefaultBackoff(t *testing.T) {
	for _, tt := range []struct {
		attempt int
		base    time.Duration
	}{{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {5, 16 * time.Second}, {10, 512 * time.Second},
		{11, MaxBackoff}, {64, MaxBackoff}, {1 << 30, MaxBackoff}} {
		for i := 0; i < 50; i++ {
			if got := DefaultBackoff(tt.attempt); got < tt.base/2 || got > tt.base {
				t.Fatalf("attempt %d: %v, want within [%v, %v]", tt.attempt, got, tt.base/2, tt.base)
			}
		}
	}
}

func TestSign(t *testing.T) {
	body := []byte(`{"id":1}`)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(`1700000000.{"id":1}`))
	sig := Sign(secret, "1700000000", body)
	if sig != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		t.Fatalf("signature %s", sig)
	}
	if !Verify(secret, "1700000000", body, sig) {
		t.Error("Verify refuses a good signature")
	}
	for _, bad := range [][3]string{
		{"1700000001", `{"id":1}`, sig},
		{"1700000000", `{"id":2}`, sig},
		{"1700000000", `{"id":1}`, strings.ToUpper(sig)},
	} {
		if Verify(secret, bad[0], []byte(bad[1]), bad[2]) {
			t.Errorf("Verify accepts %q", bad)
		}
	}
}

// TestRecordFails: while the database refuses to record outcomes, the
// events stay in flight (not delivered again), and are recorded once it
// accepts.
func TestRecordFails(t *testing.T) {
	d := openDB(t, filepath.Join(t.TempDir(), "x.db"), 1)
	cancelAll(t, d, 0, 1)
	rcv := newReceiver(t, nil)
	fs := &flakyStore{DB: d, fail: 3}
	disp := newDispatcher(fs, d.Now, testConfig(rcv), nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- disp.Run(ctx) }()
	waitFor(t, "every event delivered", settled(t, d))
	cancel()
	<-done
	seen := rcv.deliveries()
	if len(seen) != 3 {
		t.Errorf("%d requests, want 3 (no event sent again while its outcome waited)", len(seen))
	}
	checkOrder(t, seen, nil)
}

// flakyStore records the first ok batches of attempts, then refuses the
// next fail ones, then records again.
type flakyStore struct {
	*db.DB
	mu       sync.Mutex
	ok, fail int
	refused  int
}

func (f *flakyStore) RecordAttempts(ctx context.Context, a []db.Attempt) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ok > 0 {
		f.ok--
	} else if f.fail > 0 {
		f.fail--
		f.refused++
		return 0, fmt.Errorf("disk on fire")
	}
	return f.DB.RecordAttempts(ctx, a)
}

// BenchmarkDeliver measures delivery to a local receiver that accepts
// everything at once: each iteration is one event (a third of a cancel of
// two services), from the outbox to a 204 and back into the database.
// Run it with a fixed count: go test -bench Deliver -benchtime 6000x.
func BenchmarkDeliver(b *testing.B) {
	for _, conc := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("Concurrency%d", conc), func(b *testing.B) {
			subscribers := (b.N + 2) / 3
			d := openDB(b, filepath.Join(b.TempDir(), "x.db"), subscribers)
			cancelAll(b, d, 0, subscribers)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()
			cfg := Config{ProvisioningURL: srv.URL + "/prov", SMSURL: srv.URL + "/sms", Secret: secret, Concurrency: conc}
			b.ResetTimer()
			_, stop := start(b, d, cfg, nil)
			waitFor(b, "every event delivered", settled(b, d))
			b.StopTimer()
			stop()
			b.ReportMetric(float64(3*subscribers)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// TestAnswers: what one attempt makes of each kind of answer.
func TestAnswers(t *testing.T) {
	var mu sync.Mutex
	var answer func(w http.ResponseWriter)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		a := answer
		mu.Unlock()
		a(w)
	}))
	defer srv.Close()
	now := time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)
	cfg := Config{ProvisioningURL: srv.URL, SMSURL: srv.URL, Secret: secret, MaxAttempts: 5,
		Backoff: func(n int) time.Duration { return time.Duration(n) * time.Second }, Timeout: 200 * time.Millisecond}
	d := newDispatcher(nil, func() time.Time { return now }, cfg, nil, nil)
	ev := db.OutboxEvent{ID: 7, Number: number(0), Kind: db.EventSMS, Payload: json.RawMessage(`{}`), IdempotencyKey: "sms:1", Attempts: 2}
	status := func(code int, header ...string) func(w http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			w.WriteHeader(code)
			fmt.Fprint(w, strings.Repeat("x", 300))
		}
	}
	for _, tt := range []struct {
		name     string
		answer   func(w http.ResponseWriter)
		attempts int // before this one
		sent     bool
		park     bool
		next     time.Duration
		errHas   string
	}{
		{"OK", status(200), 2, true, false, 0, ""},
		{"Accepted", status(202), 2, true, false, 0, ""},
		{"ServerError", status(500), 2, false, false, 3 * time.Second, "attempt 3: HTTP 500 Internal Server Error: xxx"},
		{"BadRequestRetried", status(400), 2, false, false, 3 * time.Second, "HTTP 400"},
		{"RedirectNotFollowed", status(302, "Location", "/elsewhere"), 2, false, false, 3 * time.Second, "HTTP 302"},
		{"RetryAfter", status(429, "Retry-After", "90"), 2, false, false, 90 * time.Second, "HTTP 429"},
		{"RetryAfterCapped", status(503, "Retry-After", "86400"), 2, false, false, MaxBackoff, "HTTP 503"},
		{"RetryAfterShorterThanBackoff", status(503, "Retry-After", "1"), 2, false, false, 3 * time.Second, "HTTP 503"},
		{"Timeout", func(http.ResponseWriter) { time.Sleep(300 * time.Millisecond) }, 2, false, false, 3 * time.Second, "no answer within 200ms"},
		{"LastAttemptParks", status(500), 4, false, true, 0, "attempt 5: HTTP 500"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			answer = tt.answer
			mu.Unlock()
			e := ev
			e.Attempts = tt.attempts
			res := d.deliver(context.Background(), e, srv.URL)
			a := res.attempt
			if a.ID != 7 || a.Sent != tt.sent || a.Park != tt.park || !strings.Contains(a.Error, tt.errHas) {
				t.Fatalf("%+v", a)
			}
			if !tt.sent && !tt.park && !a.Next.Equal(now.Add(tt.next)) {
				t.Errorf("next %v, want now + %v", a.Next, tt.next)
			}
			if len(a.Error) > 300 {
				t.Errorf("error of %d bytes: %q", len(a.Error), a.Error)
			}
		})
	}
	t.Run("ConnectionRefused", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		a := d.deliver(context.Background(), ev, dead.URL).attempt
		if a.Sent || a.Park || !strings.Contains(a.Error, "connection refused") {
			t.Fatalf("%+v", a)
		}
	})
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://prov.example/hook":               "https://prov.example/hook",
		"https://user:pw@prov.example/hook?tok=1": "https://user:xxxxx@prov.example/hook?redacted",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
