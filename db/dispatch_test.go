package db

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/unsubivr/unsubivr"
)

// addEvent appends an outbox event for number, as a cancel would, and
// returns its id.
func addEvent(tb testing.TB, d *DB, number string) int64 {
	tb.Helper()
	now := dbTime(d.now())
	mustExec(tb, d, insertEventSQL, number, EventSMS, `{"to":"`+number+`"}`, fmt.Sprintf("test:%d", rand.Int64()), now, now)
	return int64(count(tb, d, `SELECT max(id) FROM outbox`))
}

// dueIDs returns the ids Due returns at now.
func dueIDs(tb testing.TB, d *DB, now time.Time, limit int) []int64 {
	tb.Helper()
	events, err := d.Due(context.Background(), now, limit)
	if err != nil {
		tb.Fatal(err)
	}
	ids := []int64{}
	for _, e := range events {
		ids = append(ids, e.ID)
	}
	return ids
}

func wantIDs(tb testing.TB, what string, got []int64, want ...int64) {
	tb.Helper()
	if want == nil {
		want = []int64{}
	}
	if !reflect.DeepEqual(got, want) {
		tb.Fatalf("%s: %v, want %v", what, got, want)
	}
}

func lowID(tb testing.TB, d *DB) int64 {
	tb.Helper()
	return int64(count(tb, d, `SELECT low_id FROM outbox_cursor`))
}

func outboxEvent(tb testing.TB, d *DB, id int64) OutboxEvent {
	tb.Helper()
	events, err := findEvents(context.Background(), d.read, `SELECT id, number, kind, payload, idempotency_key, status,
		attempts, next_attempt_at, last_error, created_at FROM outbox WHERE id = ?`, id)
	if err != nil || len(events) != 1 {
		tb.Fatalf("event %d: %v %v", id, events, err)
	}
	return events[0]
}

const (
	numA = "13800138000"
	numB = "13900139000"
	numC = "13700137000"
)

func TestDue(t *testing.T) {
	ctx := context.Background()

	t.Run("FirstOfEachNumberInOrder", func(t *testing.T) {
		d, c := MustOpenDB(t)
		// A real cancel: one unsubscribe event per service, then the SMS.
		if _, err := d.UnsubscribeAll(ctx, unsubivr.Request{Number: numA, Channel: unsubivr.ChannelIVR}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Unsubscribe(ctx, req(numB, "VRBT")); err != nil {
			t.Fatal(err)
		}
		// 1 CRBT, 2 BLUE_DIAMOND, 3 sms (numA); 4 VRBT, 5 sms (numB)
		now := c.Now()
		events, err := d.Due(ctx, now, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 2 || events[0].ID != 1 || events[1].ID != 4 {
			t.Fatalf("due %+v, want events 1 and 4", events)
		}
		e := events[0]
		if e.Number != numA || e.Kind != EventUnsubscribe || e.Status != OutboxPending || e.Attempts != 0 ||
			!e.NextAttemptAt.Equal(now) || !e.CreatedAt.Equal(now) || !strings.HasPrefix(e.IdempotencyKey, "unsubscribe:") ||
			!strings.Contains(string(e.Payload), `"service":"CRBT"`) {
			t.Errorf("event 1: %+v %s", e, e.Payload)
		}
		wantIDs(t, "limit 1", dueIDs(t, d, now, 1), 1)
		wantIDs(t, "before the events", dueIDs(t, d, now.Add(-time.Second), 0))

		if err := d.MarkSent(ctx, 1); err != nil {
			t.Fatal(err)
		}
		wantIDs(t, "after 1 sent", dueIDs(t, d, now, 0), 2, 4)
	})

	t.Run("LaterEventWaitsForBackoff", func(t *testing.T) {
		d, c := MustOpenDB(t)
		now := c.Now()
		a1, b1, a2, b2 := addEvent(t, d, numA), addEvent(t, d, numB), addEvent(t, d, numA), addEvent(t, d, numB)
		if err := d.MarkFailed(ctx, a1, "boom", now.Add(time.Minute), false); err != nil {
			t.Fatal(err)
		}
		// a2 is due by its own time, but waits behind a1.
		wantIDs(t, "a1 backing off", dueIDs(t, d, now, 0), b1)
		wantIDs(t, "a1 due again", dueIDs(t, d, now.Add(time.Minute), 0), a1, b1)
		if err := d.MarkSent(ctx, b1); err != nil {
			t.Fatal(err)
		}
		wantIDs(t, "b1 sent", dueIDs(t, d, now, 0), b2)
		// Parked does not block.
		if err := d.MarkFailed(ctx, a1, "boom", time.Time{}, true); err != nil {
			t.Fatal(err)
		}
		wantIDs(t, "a1 parked", dueIDs(t, d, now, 0), a2, b2)
	})

	t.Run("ReadsFromCursor", func(t *testing.T) {
		d, c := MustOpenDB(t)
		a1 := addEvent(t, d, numA)
		addEvent(t, d, numA)
		// A pending row below the cursor breaks the invariant; Due must
		// not look there, so it shows.
		mustExec(t, d, `UPDATE outbox_cursor SET low_id = ?`, a1)
		wantIDs(t, "from the cursor", dueIDs(t, d, c.Now(), 0), a1+1)
	})

	t.Run("Empty", func(t *testing.T) {
		d, c := MustOpenDB(t)
		wantIDs(t, "empty outbox", dueIDs(t, d, c.Now(), 10))
	})
}

func TestRecordAttempts(t *testing.T) {
	ctx := context.Background()

	t.Run("CursorPassesLeadingDoneEvents", func(t *testing.T) {
		d, c := MustOpenDB(t)
		now := c.Now()
		a1, b1, a2, b2 := addEvent(t, d, numA), addEvent(t, d, numB), addEvent(t, d, numA), addEvent(t, d, numB)
		if err := d.MarkSent(ctx, b1); err != nil {
			t.Fatal(err)
		}
		if got := lowID(t, d); got != 0 {
			t.Fatalf("low_id %d after b1 sent with a1 pending, want 0", got)
		}
		if err := d.MarkFailed(ctx, a1, "x", now.Add(time.Hour), false); err != nil {
			t.Fatal(err)
		}
		if got := lowID(t, d); got != 0 {
			t.Fatalf("low_id %d after a failed attempt, want 0", got)
		}
		if err := d.MarkFailed(ctx, a1, "x", time.Time{}, true); err != nil {
			t.Fatal(err)
		}
		if got := lowID(t, d); got != b1 {
			t.Fatalf("low_id %d after a1 parked, want %d", got, b1)
		}
		n, err := d.RecordAttempts(ctx, []Attempt{{ID: a2, Sent: true}, {ID: b2, Sent: true}})
		if err != nil || n != 2 {
			t.Fatalf("record: %d %v", n, err)
		}
		if got := lowID(t, d); got != b2 {
			t.Fatalf("low_id %d with all done, want %d", got, b2)
		}
		// New events after an idle cursor are found.
		a3 := addEvent(t, d, numA)
		wantIDs(t, "new event", dueIDs(t, d, now, 0), a3)
	})

	t.Run("Fields", func(t *testing.T) {
		d, c := MustOpenDB(t)
		start := c.Now()
		id := addEvent(t, d, numA)
		next := start.Add(90 * time.Second)
		long := "line one\n\tline two " + strings.Repeat("错", MaxErrorLen) // multi-byte: cut on a rune
		c.Add(time.Second)
		if err := d.MarkFailed(ctx, id, long, next, false); err != nil {
			t.Fatal(err)
		}
		e := outboxEvent(t, d, id)
		if e.Status != OutboxPending || e.Attempts != 1 || !e.NextAttemptAt.Equal(next) {
			t.Errorf("after a failure: %+v", e)
		}
		if !strings.HasPrefix(e.LastError, "line one line two 错") || len(e.LastError) > MaxErrorLen ||
			!strings.HasSuffix(e.LastError, "错") {
			t.Errorf("last error %q (%d bytes)", e.LastError, len(e.LastError))
		}
		// A next time in the past means now.
		if err := d.MarkFailed(ctx, id, "", start.Add(-time.Hour), false); err != nil {
			t.Fatal(err)
		}
		if e := outboxEvent(t, d, id); e.Attempts != 2 || !e.NextAttemptAt.Equal(c.Now()) || e.LastError != "delivery failed" {
			t.Errorf("after a failure with a past next: %+v", e)
		}
		c.Add(time.Second)
		if err := d.MarkSent(ctx, id); err != nil {
			t.Fatal(err)
		}
		e = outboxEvent(t, d, id)
		if e.Status != OutboxSent || e.Attempts != 3 || !e.NextAttemptAt.Equal(c.Now()) || e.LastError != "delivery failed" {
			t.Errorf("after sent: %+v (want attempts 3, next_attempt_at = time sent, last error kept)", e)
		}
	})

	t.Run("ErrNotPending", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		id := addEvent(t, d, numA)
		if err := d.MarkSent(ctx, id); err != nil {
			t.Fatal(err)
		}
		wantCode(t, d.MarkSent(ctx, id), unsubivr.ENOTFOUND)
		wantCode(t, d.MarkFailed(ctx, id, "x", time.Time{}, true), unsubivr.ENOTFOUND)
		wantCode(t, d.MarkSent(ctx, 999), unsubivr.ENOTFOUND)
		if e := outboxEvent(t, d, id); e.Status != OutboxSent || e.Attempts != 1 {
			t.Errorf("sent event changed: %+v", e)
		}
		// In a batch, the others are recorded.
		other := addEvent(t, d, numB)
		n, err := d.RecordAttempts(ctx, []Attempt{{ID: id, Sent: true}, {ID: other, Error: "x", Park: true}})
		if err != nil || n != 1 {
			t.Fatalf("record: %d %v, want 1", n, err)
		}
		if e := outboxEvent(t, d, other); e.Status != OutboxParked {
			t.Errorf("batch: %+v", e)
		}
	})
}

func TestRetry(t *testing.T) {
	ctx := context.Background()

	t.Run("ParkedBackInOrder", func(t *testing.T) {
		d, c := MustOpenDB(t)
		now := c.Now()
		a1, a2, b1, a3 := addEvent(t, d, numA), addEvent(t, d, numA), addEvent(t, d, numB), addEvent(t, d, numA)
		if err := d.MarkFailed(ctx, a1, "gone", time.Time{}, true); err != nil {
			t.Fatal(err)
		}
		for _, id := range []int64{a2, b1} {
			if err := d.MarkSent(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if got := lowID(t, d); got != b1 {
			t.Fatalf("low_id %d, want %d", got, b1)
		}
		c.Add(time.Minute)
		got, err := d.Retry(ctx, a2, 999, a1) // sent, unknown, parked
		if err != nil {
			t.Fatal(err)
		}
		wantIDs(t, "re-queued", got, a1)
		if low := lowID(t, d); low != a1-1 {
			t.Fatalf("low_id %d after retry, want %d", low, a1-1)
		}
		e := outboxEvent(t, d, a1)
		if e.Status != OutboxPending || e.Attempts != 0 || !e.NextAttemptAt.Equal(c.Now()) || e.LastError != "gone" {
			t.Errorf("re-queued: %+v", e)
		}
		// a1 is due (now and not before); a3 waits behind it again.
		wantIDs(t, "due", dueIDs(t, d, c.Now(), 0), a1)
		wantIDs(t, "due before the retry", dueIDs(t, d, now, 0))
		if err := d.MarkSent(ctx, a1); err != nil {
			t.Fatal(err)
		}
		wantIDs(t, "after a1", dueIDs(t, d, c.Now(), 0), a3)
		if low := lowID(t, d); low != b1 {
			t.Fatalf("low_id %d, want %d", low, b1)
		}
	})

	t.Run("Nothing", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		got, err := d.Retry(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantIDs(t, "no ids", got)
		n, err := d.RetryParked(ctx)
		if err != nil || n != 0 {
			t.Fatalf("retry parked: %d %v", n, err)
		}
	})

	t.Run("ErrBadID", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		_, err := d.Retry(ctx, 1, 0)
		wantCode(t, err, unsubivr.EINVALID)
	})

	t.Run("AllParked", func(t *testing.T) {
		d, c := MustOpenDB(t)
		var ids []int64
		for i := 0; i < 6; i++ {
			ids = append(ids, addEvent(t, d, []string{numA, numB, numC}[i%3]))
		}
		for i, id := range ids {
			a := Attempt{ID: id, Sent: true}
			if i == 1 || i == 4 { // both of numB
				a = Attempt{ID: id, Error: "x", Park: true}
			}
			if _, err := d.RecordAttempts(ctx, []Attempt{a}); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := d.OutboxParked(ctx); err != nil || n != 2 {
			t.Fatalf("parked %d %v, want 2", n, err)
		}
		n, err := d.RetryParked(ctx)
		if err != nil || n != 2 {
			t.Fatalf("retry parked: %d %v, want 2", n, err)
		}
		if low := lowID(t, d); low != ids[1]-1 {
			t.Fatalf("low_id %d, want %d", low, ids[1]-1)
		}
		wantIDs(t, "due", dueIDs(t, d, c.Now(), 0), ids[1]) // ids[4] waits behind it
		if n, err := d.OutboxParked(ctx); err != nil || n != 0 {
			t.Fatalf("parked %d %v, want 0", n, err)
		}
	})
}

func TestOutboxList(t *testing.T) {
	ctx := context.Background()
	d, _ := MustOpenDB(t)
	var ids []int64
	for i := 0; i < 7; i++ {
		ids = append(ids, addEvent(t, d, []string{numA, numB}[i%2]))
	}
	// sent: 0 1 3 5; parked: 2 4; pending: 6
	for _, i := range []int{0, 1, 3, 5} {
		if err := d.MarkSent(ctx, ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{2, 4} {
		if err := d.MarkFailed(ctx, ids[i], "x", time.Time{}, true); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		status string
		limit  int
		want   []int64
	}{
		{OutboxPending, 0, []int64{ids[6]}},
		{OutboxParked, 0, []int64{ids[2], ids[4]}},
		{OutboxParked, 1, []int64{ids[2]}}, // oldest first
		{OutboxSent, 0, []int64{ids[0], ids[1], ids[3], ids[5]}},
		{OutboxSent, 2, []int64{ids[3], ids[5]}}, // the newest, in id order
		{"", 3, []int64{ids[4], ids[5], ids[6]}},
		{"", 0, ids},
	} {
		t.Run(fmt.Sprintf("%s_%d", tt.status, tt.limit), func(t *testing.T) {
			events, err := d.OutboxList(ctx, tt.status, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, e := range events {
				got = append(got, e.ID)
				if tt.status != "" && e.Status != tt.status {
					t.Errorf("event %d has status %q", e.ID, e.Status)
				}
			}
			wantIDs(t, "listed", got, tt.want...)
		})
	}
	t.Run("ErrUnknownStatus", func(t *testing.T) {
		_, err := d.OutboxList(ctx, "lost", 0)
		wantCode(t, err, unsubivr.EINVALID)
	})
}

func TestOutboxStats(t *testing.T) {
	ctx := context.Background()
	d, c := MustOpenDB(t)
	s, err := d.OutboxStats(ctx)
	if err != nil || s != (OutboxStats{}) {
		t.Fatalf("empty: %+v %v", s, err)
	}
	first := c.Now()
	a1 := addEvent(t, d, numA)
	c.Add(time.Minute)
	a2 := addEvent(t, d, numA)
	addEvent(t, d, numB)
	if s, err = d.OutboxStats(ctx); err != nil || s.Pending != 3 || !s.OldestPending.Equal(first) || s.LowID != 0 {
		t.Fatalf("3 pending: %+v %v", s, err)
	}
	if err := d.MarkSent(ctx, a1); err != nil {
		t.Fatal(err)
	}
	if err := d.MarkFailed(ctx, a2, "x", time.Time{}, true); err != nil {
		t.Fatal(err)
	}
	if s, err = d.OutboxStats(ctx); err != nil || s.Pending != 1 || !s.OldestPending.Equal(c.Now()) || s.LowID != a2 {
		t.Fatalf("1 pending: %+v %v", s, err)
	}
	if n, err := d.OutboxParked(ctx); err != nil || n != 1 {
		t.Fatalf("parked %d %v", n, err)
	}
}

// TestDispatchModel drives the outbox with random deliveries, failures,
// parkings and retries, checking after each step the cursor invariant and
// Due against a model computed from the whole table.
func TestDispatchModel(t *testing.T) {
	ctx := context.Background()
	d, c := MustOpenDB(t)
	r := rand.New(rand.NewPCG(1, 2))
	numbers := []string{numA, numB, numC, "13600136000"}
	type row struct {
		id     int64
		number string
		status string
		next   time.Time
	}
	rows := func() []row {
		var out []row
		outboxRows(t, d, &out, func(id int64, number, status, next string) row {
			var n nullTime
			if err := n.parse(next); err != nil {
				t.Fatal(err)
			}
			return row{id, number, status, n.Time}
		})
		return out
	}
	for step := 0; step < 400; step++ {
		now := c.Now()
		switch k := r.IntN(10); {
		case k < 3:
			addEvent(t, d, numbers[r.IntN(len(numbers))])
		case k < 8:
			due, err := d.Due(ctx, now, 0)
			if err != nil {
				t.Fatal(err)
			}
			var batch []Attempt
			for _, e := range due {
				switch x := r.IntN(10); {
				case x < 5:
					batch = append(batch, Attempt{ID: e.ID, Sent: true})
				case x < 9:
					batch = append(batch, Attempt{ID: e.ID, Error: "x", Next: now.Add(time.Duration(r.IntN(3)) * time.Second)})
				default:
					batch = append(batch, Attempt{ID: e.ID, Error: "x", Park: true})
				}
			}
			if n, err := d.RecordAttempts(ctx, batch); err != nil || n != len(batch) {
				t.Fatalf("step %d: record %d of %d: %v", step, n, len(batch), err)
			}
		case k < 9:
			var parked []int64
			for _, x := range rows() {
				if x.status == OutboxParked && r.IntN(2) == 0 {
					parked = append(parked, x.id)
				}
			}
			got, err := d.Retry(ctx, parked...)
			if err != nil || len(got) != len(parked) {
				t.Fatalf("step %d: retry %v: %v %v", step, parked, got, err)
			}
		default:
			c.Add(time.Second)
		}

		all, low := rows(), lowID(t, d)
		var want []int64
		seen := map[string]bool{}
		for _, x := range all {
			if x.id <= low && x.status == OutboxPending {
				t.Fatalf("step %d: pending event %d at or below low_id %d", step, x.id, low)
			}
			if x.status != OutboxPending || seen[x.number] {
				continue
			}
			seen[x.number] = true
			if !x.next.After(c.Now()) {
				want = append(want, x.id)
			}
		}
		wantIDs(t, fmt.Sprintf("step %d: due", step), dueIDs(t, d, c.Now(), 0), want...)
	}
	if s, err := d.OutboxStats(ctx); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("%d events, %d pending, low_id %d", len(rows()), s.Pending, s.LowID)
	}
}

// outboxRows reads every outbox row (id, number, status,
// next_attempt_at) in id order.
func outboxRows[T any](tb testing.TB, d *DB, out *[]T, fn func(id int64, number, status, next string) T) {
	tb.Helper()
	rows, err := d.read.QueryContext(context.Background(), `SELECT id, number, status, next_attempt_at FROM outbox ORDER BY id`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id                   int64
			number, status, next string
		)
		if err := rows.Scan(&id, &number, &status, &next); err != nil {
			tb.Fatal(err)
		}
		*out = append(*out, fn(id, number, status, next))
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
}

// TestDispatchQueryPlans checks that what the dispatcher runs on every
// poll reads the outbox from the cursor up (a rowid range), never the
// whole table.
func TestDispatchQueryPlans(t *testing.T) {
	d, _ := MustOpenDB(t)
	for _, q := range []string{
		dueSQL,
		firstPendingSQL,
		statsSQL,
		`SELECT id, number FROM outbox WHERE id > (SELECT low_id FROM outbox_cursor) AND status = 'pending' ORDER BY id`, // OutboxList
	} {
		rows, err := d.read.Query(`EXPLAIN QUERY PLAN `+q, "2025-03-01T09:30:00.000000000Z")
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		t.Logf("%s", p)
		if !strings.Contains(p, "SEARCH outbox USING INTEGER PRIMARY KEY (rowid>?)") || strings.Contains(p, "SCAN outbox;") ||
			strings.HasSuffix(p, "SCAN outbox") || strings.Contains(p, "AUTOMATIC") {
			t.Errorf("%s\nplan: %s", q, p)
		}
	}
}

// benchEvents appends n events, over numbers distinct numbers in turn, in
// transactions of 10,000, and returns the first id.
func benchEvents(tb testing.TB, d *DB, n, numbers int) int64 {
	tb.Helper()
	ctx := context.Background()
	first := int64(count(tb, d, `SELECT coalesce(max(id), 0) FROM outbox`)) + 1
	for start := 0; start < n; start += 10_000 {
		tx, err := d.beginTx(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		for i := start; i < n && i < start+10_000; i++ {
			number := fmt.Sprintf("150%08d", i%numbers)
			payload := fmt.Sprintf(`{"record_code":"%08d","number":"%s","service":"CRBT","channel":"ivr","cancelled_at":"%s"}`,
				10_000_000+i, number, tx.nowText)
			if _, err := tx.ExecContext(tx.ctx, insertEventSQL, number, EventUnsubscribe, payload,
				fmt.Sprintf("unsubscribe:%08d:CRBT", 10_000_000+i), tx.nowText, tx.nowText); err != nil {
				tb.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			tb.Fatal(err)
		}
	}
	return first
}

// BenchmarkDue measures one poll of the dispatcher with a backlog of
// 100,000 pending events over 10,000 numbers: "Ready" takes the first 32
// due; "AllBackingOff" finds none due (every number's first event waits:
// a receiver outage) and so reads every pending event.
func BenchmarkDue(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name     string
		backlog  bool
		wantNone bool
	}{{"Ready", false, false}, {"AllBackingOff", true, true}} {
		b.Run(bc.name, func(b *testing.B) {
			d, c := MustOpenDB(b)
			benchEvents(b, d, 100_000, 10_000)
			if bc.backlog {
				mustExec(b, d, `UPDATE outbox SET next_attempt_at = ?`, dbTime(c.Now().Add(time.Hour)))
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				events, err := d.Due(ctx, c.Now(), 32)
				if err != nil || (len(events) == 0) != bc.wantNone {
					b.Fatalf("%d events, %v", len(events), err)
				}
			}
		})
	}
}

// BenchmarkRecordAttempts measures recording delivered events, one
// transaction per event or per batch of 32, with the cursor following.
func BenchmarkRecordAttempts(b *testing.B) {
	ctx := context.Background()
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("Batch%d", batch), func(b *testing.B) {
			d, _ := MustOpenDB(b)
			first := benchEvents(b, d, b.N, 10_000)
			attempts := make([]Attempt, 0, batch)
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				attempts = attempts[:0]
				for j := i; j < b.N && j < i+batch; j++ {
					attempts = append(attempts, Attempt{ID: first + int64(j), Sent: true})
				}
				if n, err := d.RecordAttempts(ctx, attempts); err != nil || n != len(attempts) {
					b.Fatal(n, err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkOutboxParked measures the parked count (a scan of the whole
// outbox) over 100,000 events.
func BenchmarkOutboxParked(b *testing.B) {
	d, _ := MustOpenDB(b)
	benchEvents(b, d, 100_000, 10_000)
	mustExec(b, d, `UPDATE outbox SET status = 'sent'`)
	mustExec(b, d, `UPDATE outbox SET status = 'parked' WHERE id % 1000 = 0`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n, err := d.OutboxParked(context.Background()); err != nil || n != 100 {
			b.Fatal(n, err)
		}
	}
}
