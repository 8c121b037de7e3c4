package db

// The dispatcher's side of the outbox (package outbox delivers): which
// events are due, what became of a delivery attempt, re-queueing parked
// events, and what an operator lists.
//
// The outbox has no index but its rowid, on purpose (a cancel writes no
// index page for it). Everything the dispatcher does often reads from
// outbox_cursor.low_id up, where only the not yet sent events and the
// events sent after the oldest pending one live: a rowid range scan. The
// cursor invariant (every event with id <= low_id is sent or parked) is
// kept by the transactions below: marking an event moves low_id forward
// past the leading sent and parked events; re-queueing a parked event
// moves it back to just below that event, so the dispatcher sees it again.
// 0001's comment says only "forward": re-queueing is the exception.
//
// Once an event is no longer pending, next_attempt_at holds the time of
// its last attempt: when it was sent, or parked.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
)

// MaxErrorLen is how much of a delivery error is kept in last_error.
const MaxErrorLen = 500

// The queries run on every poll or every recorded attempt. Each reads the
// outbox from a cursor up, a rowid range (TestDispatchQueryPlans).
const (
	// dueSQL: the pending events from the cursor up: id, number as an
	// integer, and whether due at the parameter.
	dueSQL = `SELECT id, CAST(number AS INTEGER), next_attempt_at <= ?
		FROM outbox WHERE id > (SELECT low_id FROM outbox_cursor) AND status = 'pending' ORDER BY id`

	// firstPendingSQL: just below the first pending event above low_id.
	firstPendingSQL = `SELECT id - 1 FROM outbox WHERE id > ? AND status = 'pending' ORDER BY id LIMIT 1`

	// statsSQL: the cursor, the pending count and the oldest's creation.
	// A join with the cursor would make SQLite build an automatic index
	// over the whole outbox: two scalar subqueries keep the range scan.
	statsSQL = `SELECT (SELECT low_id FROM outbox_cursor), count(*), min(created_at)
		FROM outbox WHERE id > (SELECT low_id FROM outbox_cursor) AND status = 'pending'`
)

// Due returns the events to deliver now, in ID order, at most limit (no
// limit if limit <= 0): of each number, its first pending event, if its
// NextAttemptAt is not after now. A later event of a number waits until
// the earlier ones are sent or parked, whatever its own NextAttemptAt.
//
// It reads on the read pool, without taking the writer: the id, number
// and next attempt of the pending events from the dispatcher's cursor up,
// until limit are found, then the chosen events in full. With none due it
// reads every pending event (one per number in an outage of a receiver):
// about 80 ms per 100,000 on the development machine (BenchmarkDue), 0.15
// ms when the first are due.
func (d *DB) Due(ctx context.Context, now time.Time, limit int) ([]OutboxEvent, error) {
	ids, err := d.dueIDs(ctx, now, limit)
	if err != nil || len(ids) == 0 {
		return []OutboxEvent{}, err
	}
	events := make([]OutboxEvent, 0, len(ids))
	for chunk := range slices.Chunk(ids, 500) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		found, err := findEvents(ctx, d.read, `SELECT id, number, kind, payload, idempotency_key, status, attempts,
			next_attempt_at, last_error, created_at
			FROM outbox WHERE id IN (?`+strings.Repeat(", ?", len(chunk)-1)+`) ORDER BY id`, args...)
		if err != nil {
			return nil, internal("outbox due", err)
		}
		events = append(events, found...)
	}
	return events, nil
}

// dueIDs returns the ids of the events Due returns. It reads three
// integers per pending event, as the driver allocates for every text
// column it hands over: the number as an integer (numbers are digits;
// two numbers that read as the same integer would only wait for each
// other, never lose order), and whether the event is due.
func (d *DB) dueIDs(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	rows, err := d.read.QueryContext(ctx, dueSQL, now.UTC().Format(timeLayout))
	if err != nil {
		return nil, internal("outbox due", err)
	}
	defer rows.Close()
	seen := map[int64]struct{}{} // numbers whose first pending event went by
	var (
		ids        []int64
		id, number int64
		due        bool
	)
	for rows.Next() {
		if err := rows.Scan(&id, &number, &due); err != nil {
			return nil, internal("outbox due", err)
		}
		if _, ok := seen[number]; ok {
			continue // waits for the number's earlier event
		}
		seen[number] = struct{}{}
		if !due {
			continue // backing off: and so is the rest of its number
		}
		ids = append(ids, id)
		if limit > 0 && len(ids) == limit {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, internal("outbox due", err)
	}
	return ids, nil
}

// Attempt is the outcome of one attempt to deliver an outbox event.
type Attempt struct {
	ID    int64
	Sent  bool      // delivered: the event is done
	Error string    // not delivered: why (kept, one line, MaxErrorLen bytes)
	Next  time.Time // not delivered: when to try again (zero: now)
	Park  bool      // not delivered: give up until an operator re-queues it
}

// RecordAttempts records the outcomes of delivery attempts in one short
// transaction on the writer, and moves the cursor past the leading sent
// and parked events. Each attempt adds one to its event's Attempts; a
// failed one stores its error and next time (or parks the event), a sent
// one keeps the last error for the record. An event that is not pending
// (re-queued, parked or sent meanwhile) is left alone: the count returned
// is of the events changed.
func (d *DB) RecordAttempts(ctx context.Context, attempts []Attempt) (int, error) {
	if len(attempts) == 0 {
		return 0, nil
	}
	tx, err := d.beginTx(ctx)
	if err != nil {
		return 0, internal("outbox record attempts", err)
	}
	defer tx.Rollback()
	ctx = tx.ctx // see beginTx
	n, err := recordAttempts(ctx, tx, attempts)
	if err != nil {
		return 0, internal("outbox record attempts", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, internal("outbox record attempts", err)
	}
	return n, nil
}

func recordAttempts(ctx context.Context, tx *writeTx, attempts []Attempt) (int, error) {
	changed := 0
	for _, a := range attempts {
		var (
			r   sql.Result
			err error
		)
		if a.Sent {
			r, err = tx.ExecContext(ctx, `UPDATE outbox SET status = 'sent', attempts = attempts + 1, next_attempt_at = ?
				WHERE id = ? AND status = 'pending'`, tx.nowText, a.ID)
		} else {
			status, next := OutboxPending, tx.nowText
			if a.Park {
				status = OutboxParked
			} else if a.Next.After(tx.now) {
				next = a.Next.UTC().Format(timeLayout)
			}
			r, err = tx.ExecContext(ctx, `UPDATE outbox SET status = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ?
				WHERE id = ? AND status = 'pending'`, status, next, errorText(a.Error), a.ID)
		}
		if err != nil {
			return 0, fmt.Errorf("event %d: %w", a.ID, err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return 0, err
		} else {
			changed += int(n)
		}
	}
	if err := advanceCursor(ctx, tx); err != nil {
		return 0, err
	}
	return changed, nil
}

// errorText makes a delivery error one line of at most MaxErrorLen bytes.
func errorText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		s = "delivery failed"
	}
	if len(s) > MaxErrorLen {
		s = s[:MaxErrorLen]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// advanceCursor moves low_id forward to just below the first pending
// event, or to the last event if none is pending. The scan starts at
// low_id and stops at the first pending event; the events it passes are
// passed by the cursor too, so each is scanned once in the cursor's life.
func advanceCursor(ctx context.Context, tx *writeTx) error {
	var low int64
	if err := tx.GetContext(ctx, &low, `SELECT low_id FROM outbox_cursor`); err != nil {
		return fmt.Errorf("cursor: %w", err)
	}
	var to int64
	err := tx.GetContext(ctx, &to, firstPendingSQL, low)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.GetContext(ctx, &to, `SELECT coalesce(max(id), 0) FROM outbox`)
	}
	if err != nil {
		return fmt.Errorf("cursor: %w", err)
	}
	if to > low {
		if _, err := tx.ExecContext(ctx, `UPDATE outbox_cursor SET low_id = ?`, to); err != nil {
			return fmt.Errorf("cursor: %w", err)
		}
	}
	return nil
}

// MarkSent records that event id was delivered (see RecordAttempts).
// Returns ENOTFOUND if there is no pending event id.
func (d *DB) MarkSent(ctx context.Context, id int64) error {
	return d.markOne(ctx, Attempt{ID: id, Sent: true})
}

// MarkFailed records a failed attempt to deliver event id: errText is
// kept as its last error, and it is tried again at next, or parked if park
// (see RecordAttempts). Returns ENOTFOUND if there is no pending event id.
func (d *DB) MarkFailed(ctx context.Context, id int64, errText string, next time.Time, park bool) error {
	return d.markOne(ctx, Attempt{ID: id, Error: errText, Next: next, Park: park})
}

func (d *DB) markOne(ctx context.Context, a Attempt) error {
	n, err := d.RecordAttempts(ctx, []Attempt{a})
	if err != nil {
		return err
	}
	if n == 0 {
		return errNotFound("no pending outbox event %d", a.ID)
	}
	return nil
}

// Retry re-queues the parked events among ids: pending again, attempts
// reset, due now. It returns the ids it re-queued, in the order given;
// the others (unknown, pending or sent) are left alone. Returns EINVALID
// for an id that is not positive.
//
// A re-queued event goes back to its place in its number's order: later
// pending events of the number wait for it again. Later events that were
// sent while it was parked stay sent: it is delivered after them. See
// docs/outbox.md for what receivers make of that.
func (d *DB) Retry(ctx context.Context, ids ...int64) ([]int64, error) {
	for _, id := range ids {
		if id <= 0 {
			return nil, errInvalid("outbox event id %d: want a positive number", id)
		}
	}
	done := []int64{}
	if len(ids) == 0 {
		return done, nil
	}
	tx, err := d.beginTx(ctx)
	if err != nil {
		return nil, internal("outbox retry", err)
	}
	defer tx.Rollback()
	ctx = tx.ctx // see beginTx
	for _, id := range ids {
		r, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?
			WHERE id = ? AND status = 'parked'`, tx.nowText, id)
		if err != nil {
			return nil, internal("outbox retry", err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return nil, internal("outbox retry", err)
		} else if n == 1 {
			done = append(done, id)
		}
	}
	if len(done) > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE outbox_cursor SET low_id = min(low_id, ?)`, slices.Min(done)-1); err != nil {
			return nil, internal("outbox retry", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, internal("outbox retry", err)
	}
	return done, nil
}

// RetryParked re-queues every parked event (see Retry) and returns how
// many. It scans the whole outbox: an operator's command, not a loop's.
func (d *DB) RetryParked(ctx context.Context) (int, error) {
	tx, err := d.beginTx(ctx)
	if err != nil {
		return 0, internal("outbox retry parked", err)
	}
	defer tx.Rollback()
	ctx = tx.ctx // see beginTx
	var first sql.NullInt64
	if err := tx.GetContext(ctx, &first, `SELECT min(id) FROM outbox WHERE status = 'parked'`); err != nil {
		return 0, internal("outbox retry parked", err)
	}
	if !first.Valid {
		return 0, nil
	}
	r, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?
		WHERE id >= ? AND status = 'parked'`, tx.nowText, first.Int64)
	if err != nil {
		return 0, internal("outbox retry parked", err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, internal("outbox retry parked", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE outbox_cursor SET low_id = min(low_id, ?)`, first.Int64-1); err != nil {
		return 0, internal("outbox retry parked", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, internal("outbox retry parked", err)
	}
	return int(n), nil
}

// OutboxList returns at most limit events with status (any status if
// status is ""; no limit if limit <= 0), in ID order: the oldest pending
// or parked ones, the newest sent ones (or newest of any status). Pending
// events are read from the cursor up; the other statuses scan the table
// until limit are found, so keep limit small on a large outbox. Returns
// EINVALID for an unknown status.
func (d *DB) OutboxList(ctx context.Context, status string, limit int) ([]OutboxEvent, error) {
	query := `SELECT id, number, kind, payload, idempotency_key, status, attempts, next_attempt_at, last_error, created_at
		FROM outbox `
	newest := false
	switch status {
	case OutboxPending:
		query += `WHERE id > (SELECT low_id FROM outbox_cursor) AND status = 'pending' ORDER BY id`
	case OutboxParked:
		query += `WHERE status = 'parked' ORDER BY id`
	case OutboxSent:
		query += `WHERE status = 'sent' ORDER BY id DESC`
		newest = true
	case "":
		query += `ORDER BY id DESC`
		newest = true
	default:
		return nil, errInvalid("unknown outbox status %q (want pending, sent or parked)", status)
	}
	var args []any
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	events, err := findEvents(ctx, d.read, query, args...)
	if err != nil {
		return nil, internal("outbox list", err)
	}
	if newest {
		slices.Reverse(events)
	}
	return events, nil
}

// findEvents runs query, which selects the outbox columns in table order.
func findEvents(ctx context.Context, q sqlx.QueryerContext, query string, args ...any) ([]OutboxEvent, error) {
	rows, err := q.QueryxContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	events := []OutboxEvent{}
	for rows.Next() {
		var (
			e        OutboxEvent
			payload  string
			next, at nullTime
		)
		if err := rows.Scan(&e.ID, &e.Number, &e.Kind, &payload, &e.IdempotencyKey, &e.Status, &e.Attempts,
			&next, &e.LastError, &at); err != nil {
			return nil, err
		}
		e.Payload = json.RawMessage(payload)
		e.NextAttemptAt, e.CreatedAt = next.Time, at.Time
		events = append(events, e)
	}
	return events, rows.Err()
}

// OutboxStats describes the outbox's backlog.
type OutboxStats struct {
	Pending       int       // events not yet sent nor parked
	OldestPending time.Time // creation of the oldest of them; zero if none
	LowID         int64     // the dispatcher's cursor: events up to it are done
}

// OutboxStats counts the pending events, from the cursor up: cheap enough
// for every poll of the dispatcher while the backlog is small.
func (d *DB) OutboxStats(ctx context.Context) (OutboxStats, error) {
	var (
		s      OutboxStats
		oldest nullTime
	)
	err := d.read.QueryRowxContext(ctx, statsSQL).Scan(&s.LowID, &s.Pending, &oldest)
	if err != nil {
		return OutboxStats{}, internal("outbox stats", err)
	}
	s.OldestPending = oldest.Time
	return s, nil
}

// OutboxParked counts the parked events. It scans the whole outbox (the
// outbox has no status index, to keep cancels fast): call it every minute
// or so, not in a tight loop. About 18 ms per 100,000 events on the
// development machine (BenchmarkOutboxParked).
func (d *DB) OutboxParked(ctx context.Context) (int, error) {
	var n int
	if err := d.read.GetContext(ctx, &n, `SELECT count(*) FROM outbox WHERE status = 'parked'`); err != nil {
		return 0, internal("outbox parked", err)
	}
	return n, nil
}
