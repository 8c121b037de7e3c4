package db

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/unsubivr/unsubivr"
)

// SaveCallLog stores the log of a call, replacing any earlier log with the
// same CallID (so a call may be saved more than once as it goes). A zero
// StartedAt is stored as now; a zero EndedAt as NULL. Returns EINVALID for
// an empty CallID.
func (d *DB) SaveCallLog(ctx context.Context, log unsubivr.CallLog) error {
	if log.CallID == "" {
		return errInvalid("call log without a call id")
	}
	trace := log.Trace
	if trace == nil {
		trace = []unsubivr.CallEvent{}
	}
	tr, err := json.Marshal(trace)
	if err != nil {
		return internal("save call log", err)
	}
	tx, err := d.beginTx(ctx)
	if err != nil {
		return internal("save call log", err)
	}
	defer tx.Rollback()
	ctx = tx.ctx // see beginTx
	if log.StartedAt.IsZero() {
		log.StartedAt = tx.now
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO call_logs
		(call_id, caller, number, agent_id, language, flow_version, started_at, ended_at, outcome, trace)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (call_id) DO UPDATE SET
			caller = excluded.caller, number = excluded.number, agent_id = excluded.agent_id,
			language = excluded.language, flow_version = excluded.flow_version,
			started_at = excluded.started_at, ended_at = excluded.ended_at,
			outcome = excluded.outcome, trace = excluded.trace`,
		log.CallID, log.Caller, log.Number, log.AgentID, string(log.Language), log.FlowVersion,
		dbTime(log.StartedAt), dbTime(log.EndedAt), log.Outcome, string(tr)); err != nil {
		return internal("save call log", err)
	}
	if err := tx.Commit(); err != nil {
		return internal("save call log", err)
	}
	return nil
}

// CallLog returns the log of call id. Returns ENOTFOUND if there is none.
func (d *DB) CallLog(ctx context.Context, id string) (*unsubivr.CallLog, error) {
	logs, err := findCallLogs(ctx, d.read, `WHERE call_id = ?`, id)
	if err != nil {
		return nil, internal("call log", err)
	}
	if len(logs) == 0 {
		return nil, errNotFound("no call log with this id")
	}
	return &logs[0], nil
}

// CallLogFilter selects call logs. Zero fields select everything.
type CallLogFilter struct {
	Number string    // the identified subscriber or the caller
	Since  time.Time // started at or after
	Until  time.Time // started before
	Limit  int       // at most this many, newest first
}

// CallLogs returns the call logs matching f, newest first.
func (d *DB) CallLogs(ctx context.Context, f CallLogFilter) ([]unsubivr.CallLog, error) {
	var (
		where []string
		args  []any
	)
	if f.Number != "" {
		where = append(where, `(number = ? OR caller = ?)`)
		args = append(args, f.Number, f.Number)
	}
	if !f.Since.IsZero() {
		where = append(where, `started_at >= ?`)
		args = append(args, dbTime(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, `started_at < ?`)
		args = append(args, dbTime(f.Until))
	}
	query := ""
	if len(where) > 0 {
		query = `WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY started_at DESC, call_id`
	if f.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	logs, err := findCallLogs(ctx, d.read, query, args...)
	if err != nil {
		return nil, internal("call logs", err)
	}
	return logs, nil
}

func findCallLogs(ctx context.Context, q sqlx.QueryerContext, tail string, args ...any) ([]unsubivr.CallLog, error) {
	rows, err := q.QueryxContext(ctx, `SELECT call_id, caller, number, agent_id, language, flow_version,
		started_at, ended_at, outcome, trace FROM call_logs `+tail, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	logs := []unsubivr.CallLog{}
	for rows.Next() {
		var (
			l              unsubivr.CallLog
			lang, trace    string
			started, ended nullTime
		)
		if err := rows.Scan(&l.CallID, &l.Caller, &l.Number, &l.AgentID, &lang, &l.FlowVersion,
			&started, &ended, &l.Outcome, &trace); err != nil {
			return nil, err
		}
		l.Language = unsubivr.Language(lang)
		l.StartedAt, l.EndedAt = started.Time, ended.Time
		if err := json.Unmarshal([]byte(trace), &l.Trace); err != nil {
			return nil, err
		}
		logs = append(logs, l)
	}
	return logs, rows.Err()
}
