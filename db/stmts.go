package db

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// stmts are the statements of the hot write path, prepared once on the
// writer connection.
type stmts struct {
	begin, commit, rollback *sqlx.Stmt

	findHolding  *sqlx.Stmt
	findActive   *sqlx.Stmt
	insertRecord *sqlx.Stmt
	insertItem   *sqlx.Stmt
	cancelOne    *sqlx.Stmt
	cancelAll    *sqlx.Stmt
	insertEvent  *sqlx.Stmt
	purge        *sqlx.Stmt
}

const serviceColumns = `sv.code, sv.short_name, sv.name_zh, sv.name_en, sv.monthly_fee_fen, sv.kind, sv.purge_on_cancel`

// Queries shared by the writer statements and the read pool.
//
// Parameters are wrapped in scalar subqueries, "(SELECT ?)", on purpose: a
// bare parameter compared with a column in a join makes SQLite (3.5x) mark
// the statement for re-preparation when that parameter is re-bound, and
// mattn/go-sqlite3 clears the bindings before each use, so every execution
// parsed and planned the query again (~70µs instead of ~10µs). A scalar
// subquery is still evaluated once and still drives the index.
const (
	// findHoldingSQL: the subscriber with number (2nd parameter) and its
	// subscription to service (1st), if any. No row: unknown subscriber;
	// NULL sub.id: not held.
	findHoldingSQL = `SELECT s.id, s.language, sub.id, sub.status, sub.cancel_record_id, ` + serviceColumns + `
		FROM subscribers s
		LEFT JOIN subscriptions sub ON sub.subscriber_id = s.id AND sub.service_code = (SELECT ?)
		LEFT JOIN services sv ON sv.code = sub.service_code
		WHERE s.number = (SELECT ?)`

	// findActiveSQL: the subscriber with number and its active
	// subscriptions, in subscription order. One row with NULL sub.id when
	// it has none; no row for an unknown subscriber.
	findActiveSQL = `SELECT s.id, s.language, sub.id, sub.subscribed_at, ` + serviceColumns + `
		FROM subscribers s
		LEFT JOIN subscriptions sub ON sub.subscriber_id = s.id AND sub.status = 'active'
		LEFT JOIN services sv ON sv.code = sub.service_code
		WHERE s.number = (SELECT ?)
		ORDER BY sub.subscribed_at, sub.service_code`
)

const insertEventSQL = `INSERT INTO outbox (number, kind, payload, idempotency_key, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?)`

// prepareTx prepares the transaction statements, before migrations.
func (d *DB) prepareTx(ctx context.Context) error {
	s := &d.stmts
	for _, p := range []struct {
		dst   **sqlx.Stmt
		query string
	}{
		{&s.begin, `BEGIN IMMEDIATE`},
		{&s.commit, `COMMIT`},
		{&s.rollback, `ROLLBACK`},
	} {
		st, err := d.conn.PreparexContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		*p.dst = st
	}
	return nil
}

func (d *DB) prepare(ctx context.Context) error {
	s := &d.stmts
	for _, p := range []struct {
		dst   **sqlx.Stmt
		query string
	}{
		{&s.findHolding, findHoldingSQL},
		{&s.findActive, findActiveSQL},
		// No RETURNING and no ON CONFLICT here: either makes SQLite treat
		// the insert into a parent table as a multi-row write and scan
		// the child tables for the new key (subscriptions.cancel_record_id
		// has no index: a full scan per cancel).
		{&s.insertRecord, `INSERT INTO records (id, subscriber_id, number, channel, call_id, agent_id, consent, purged, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&s.insertItem, `INSERT INTO record_items (record_id, seq, service_code) VALUES (?, ?, ?)`},
		{&s.cancelOne, `UPDATE subscriptions SET status = 'cancelled', cancelled_at = ?, cancel_record_id = ?
			WHERE id = ? AND status = 'active'`},
		{&s.cancelAll, `UPDATE subscriptions SET status = 'cancelled', cancelled_at = ?, cancel_record_id = ?
			WHERE subscriber_id = ? AND status = 'active'`},
		{&s.insertEvent, insertEventSQL},
		{&s.purge, `DELETE FROM marketing_profiles WHERE subscriber_id = ?`},
	} {
		st, err := d.conn.PreparexContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		*p.dst = st
	}
	return nil
}

func (s *stmts) close() {
	for _, st := range []*sqlx.Stmt{s.begin, s.commit, s.rollback, s.findHolding, s.findActive, s.insertRecord, s.insertItem,
		s.cancelOne, s.cancelAll, s.insertEvent, s.purge} {
		if st != nil {
			st.Close()
		}
	}
}
