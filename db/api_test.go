package db

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/unsubivr/unsubivr"
)

func TestSubscriptions(t *testing.T) {
	ctx := context.Background()
	d, c := MustOpenDB(t)

	t.Run("Active", func(t *testing.T) {
		hs, err := d.Subscriptions(ctx, "13800138000")
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != 2 || hs[0].Service.Code != "CRBT" || hs[1].Service.Code != "BLUE_DIAMOND" {
			t.Fatalf("holdings %+v", hs)
		}
		for _, h := range hs {
			if h.Status != unsubivr.StatusActive || h.CancelledAt != nil || h.CancelCode != "" || h.SubscribedAt.IsZero() {
				t.Errorf("active holding %+v", h)
			}
		}
		if hs[1].Service != DemoServices[1] {
			t.Errorf("service %+v, want %+v", hs[1].Service, DemoServices[1])
		}
	})

	t.Run("Cancelled", func(t *testing.T) {
		c.Add(time.Hour)
		res, err := d.Unsubscribe(ctx, req("13800138000", "CRBT"))
		if err != nil {
			t.Fatal(err)
		}
		hs, err := d.Subscriptions(ctx, "13800138000")
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != 2 {
			t.Fatalf("holdings %+v", hs)
		}
		h := hs[0]
		if h.Service.Code != "CRBT" || h.Status != unsubivr.StatusCancelled || h.CancelCode != res.Record.Code ||
			h.CancelledAt == nil || !h.CancelledAt.Equal(c.Now()) {
			t.Errorf("cancelled holding %+v, want code %s at %v", h, res.Record.Code, c.Now())
		}
		if hs[1].Status != unsubivr.StatusActive {
			t.Errorf("other holding %+v", hs[1])
		}
	})

	t.Run("CancelledElsewhere", func(t *testing.T) {
		mustExec(t, d, `UPDATE subscriptions SET status = 'cancelled', cancelled_at = ?
			WHERE service_code = 'VRBT'`, dbTime(c.Now()))
		hs, err := d.Subscriptions(ctx, "13900139000")
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != 1 || hs[0].Status != unsubivr.StatusCancelled || hs[0].CancelCode != "" || hs[0].CancelledAt == nil {
			t.Fatalf("holdings %+v", hs)
		}
	})

	t.Run("None", func(t *testing.T) {
		hs, err := d.Subscriptions(ctx, "13700137000")
		if err != nil {
			t.Fatal(err)
		}
		if hs == nil || len(hs) != 0 {
			t.Fatalf("holdings %#v, want empty", hs)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := d.Subscriptions(ctx, "13600136000")
		wantCode(t, err, unsubivr.ENOTFOUND)
	})

	t.Run("ErrMalformed", func(t *testing.T) {
		_, err := d.Subscriptions(ctx, "1380013800a")
		wantCode(t, err, unsubivr.EINVALID)
	})
}

func TestServices(t *testing.T) {
	d, _ := MustOpenDB(t)
	svcs, err := d.Services(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]unsubivr.Service{}
	for _, s := range DemoServices {
		want[s.Code] = s
	}
	if len(svcs) != len(DemoServices) {
		t.Fatalf("services %+v", svcs)
	}
	for i, s := range svcs {
		if s != want[s.Code] {
			t.Errorf("service %+v, want %+v", s, want[s.Code])
		}
		if i > 0 && svcs[i-1].Code >= s.Code {
			t.Errorf("not ordered by code: %s before %s", svcs[i-1].Code, s.Code)
		}
	}
}

func TestQueueSMS(t *testing.T) {
	ctx := context.Background()
	d, _ := MustOpenDB(t)

	t.Run("OK", func(t *testing.T) {
		if err := d.QueueSMS(ctx, "13800138000", unsubivr.EnUS, "Reply TD to list your services.", "req-1"); err != nil {
			t.Fatal(err)
		}
		events, err := d.Outbox(ctx, OutboxPending)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 {
			t.Fatalf("events %+v", events)
		}
		e := events[0]
		if e.Kind != EventSMS || e.Number != "13800138000" || e.IdempotencyKey != "sms:reply:req-1" {
			t.Errorf("event %+v", e)
		}
		var p SMSEvent
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if p != (SMSEvent{To: "13800138000", Language: unsubivr.EnUS, Text: "Reply TD to list your services."}) {
			t.Errorf("payload %+v", p)
		}
	})

	t.Run("UnknownLanguageIsChinese", func(t *testing.T) {
		if err := d.QueueSMS(ctx, "13700137000", "fr-FR", "x", "req-2"); err != nil {
			t.Fatal(err)
		}
		if got := str(t, d, `SELECT json_extract(payload, '$.language') FROM outbox WHERE idempotency_key = 'sms:reply:req-2'`); got != "zh-CN" {
			t.Errorf("language %q", got)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		before := count(t, d, `SELECT count(*) FROM outbox`)
		wantCode(t, d.QueueSMS(ctx, "1380013800x", unsubivr.ZhCN, "x", "a"), unsubivr.EINVALID)
		wantCode(t, d.QueueSMS(ctx, "13800138000", unsubivr.ZhCN, "", "a"), unsubivr.EINVALID)
		wantCode(t, d.QueueSMS(ctx, "13800138000", unsubivr.ZhCN, "x", ""), unsubivr.EINVALID)
		if after := count(t, d, `SELECT count(*) FROM outbox`); after != before {
			t.Errorf("outbox %d → %d rows", before, after)
		}
	})
}

func TestClaimKey(t *testing.T) {
	ctx := context.Background()
	d, c := MustOpenDB(t)

	claim := func(t *testing.T, key, hash, want string) KeyClaim {
		t.Helper()
		k, err := d.ClaimKey(ctx, key, hash)
		if err != nil {
			t.Fatal(err)
		}
		if k.State != want {
			t.Fatalf("claim %s: state %q, want %q", key, k.State, want)
		}
		return k
	}

	t.Run("ClaimRunDone", func(t *testing.T) {
		k := claim(t, "k1", "h1", KeyClaimed)
		if k.Token == "" {
			t.Fatal("no token")
		}
		claim(t, "k1", "h1", KeyRunning)
		if err := d.SaveResponse(ctx, "k1", k.Token, 200, []byte(`{"ok":true}`)); err != nil {
			t.Fatal(err)
		}
		got := claim(t, "k1", "h1", KeyDone)
		if got.Status != 200 || string(got.Body) != `{"ok":true}` {
			t.Fatalf("replay %d %q", got.Status, got.Body)
		}
		// A second save (a stale holder) changes nothing.
		if err := d.SaveResponse(ctx, "k1", k.Token, 500, []byte(`x`)); err != nil {
			t.Fatal(err)
		}
		if got := claim(t, "k1", "h1", KeyDone); got.Status != 200 {
			t.Fatalf("status %d after a second save", got.Status)
		}
	})

	t.Run("ErrConflict", func(t *testing.T) {
		_, err := d.ClaimKey(ctx, "k1", "other")
		wantCode(t, err, unsubivr.ECONFLICT)
	})

	t.Run("Release", func(t *testing.T) {
		k := claim(t, "k2", "h2", KeyClaimed)
		if err := d.ReleaseKey(ctx, "k2", k.Token); err != nil {
			t.Fatal(err)
		}
		claim(t, "k2", "h2", KeyClaimed)
	})

	t.Run("ReleaseKeepsSavedResponse", func(t *testing.T) {
		k := claim(t, "k3", "h3", KeyClaimed)
		if err := d.SaveResponse(ctx, "k3", k.Token, 404, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if err := d.ReleaseKey(ctx, "k3", k.Token); err != nil {
			t.Fatal(err)
		}
		claim(t, "k3", "h3", KeyDone)
	})

	t.Run("LeaseExpiredTakeover", func(t *testing.T) {
		old := claim(t, "k4", "h4", KeyClaimed)
		c.Add(IdempotencyLease - time.Second)
		claim(t, "k4", "h4", KeyRunning)
		c.Add(2 * time.Second)
		k := claim(t, "k4", "h4", KeyClaimed)
		if k.Token == old.Token {
			t.Fatal("takeover kept the token")
		}
		// The old holder finishing late stores nothing, nor releases.
		if err := d.SaveResponse(ctx, "k4", old.Token, 200, []byte(`old`)); err != nil {
			t.Fatal(err)
		}
		if err := d.ReleaseKey(ctx, "k4", old.Token); err != nil {
			t.Fatal(err)
		}
		claim(t, "k4", "h4", KeyRunning)
		if err := d.SaveResponse(ctx, "k4", k.Token, 200, []byte(`new`)); err != nil {
			t.Fatal(err)
		}
		if got := claim(t, "k4", "h4", KeyDone); string(got.Body) != "new" {
			t.Fatalf("body %q", got.Body)
		}
	})

	t.Run("ExpiredKeyStartsAfresh", func(t *testing.T) {
		k := claim(t, "k5", "h5", KeyClaimed)
		if err := d.SaveResponse(ctx, "k5", k.Token, 200, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		c.Add(IdempotencyTTL + time.Second)
		claim(t, "k5", "another request", KeyClaimed)
		if n := count(t, d, `SELECT count(*) FROM api_idempotency WHERE key <> 'k5'`); n != 0 {
			t.Errorf("%d expired keys left", n)
		}
	})

	t.Run("ErrKey", func(t *testing.T) {
		_, err := d.ClaimKey(ctx, "", "h")
		wantCode(t, err, unsubivr.EINVALID)
		_, err = d.ClaimKey(ctx, strings.Repeat("k", MaxIdempotencyKey+1), "h")
		wantCode(t, err, unsubivr.EINVALID)
	})

	t.Run("ConcurrentOneClaims", func(t *testing.T) {
		const n = 8
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			states = map[string]int{}
		)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := d.ClaimKey(ctx, "race", "h")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				states[k.State]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if states[KeyClaimed] != 1 || states[KeyRunning] != n-1 {
			t.Fatalf("states %v: want one claimed", states)
		}
	})
}

func TestMigration0002(t *testing.T) {
	d, _ := MustOpenDB(t)
	if got := count(t, d, `SELECT count(*) FROM schema_migrations WHERE version = 2 AND name = '0002_api.sql'`); got != 1 {
		t.Fatalf("migration 2 recorded %d times", got)
	}
	// Response status and body go together.
	onWriter(t, d, func(c *sqlx.Conn) error {
		_, err := c.ExecContext(context.Background(), `INSERT INTO api_idempotency
			(key, request_hash, claim_token, claimed_at, response_status, created_at) VALUES ('x', 'h', 't', 'n', 200, 'n')`)
		if err == nil {
			t.Error("a status without a body was accepted")
		}
		return nil
	})
}
