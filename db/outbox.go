package db

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/unsubivr/unsubivr"
)

// Kinds of outbox events.
const (
	// EventUnsubscribe tells the provisioning platform to stop one
	// service; its payload is an UnsubscribeEvent.
	EventUnsubscribe = "unsubscribe"
	// EventSMS is a confirmation SMS to the subscriber; its payload is an
	// SMSEvent.
	EventSMS = "sms"
)

// Outbox event status values.
const (
	OutboxPending = "pending" // to deliver, at NextAttemptAt
	OutboxSent    = "sent"    // delivered
	OutboxParked  = "parked"  // given up on; needs a person
)

// OutboxEvent is one event written in the same transaction as the change it
// announces, to deliver at least once, in ID order per Number. Receivers
// deduplicate on IdempotencyKey.
type OutboxEvent struct {
	ID             int64
	Number         string
	Kind           string          // EventUnsubscribe or EventSMS
	Payload        json.RawMessage // UnsubscribeEvent or SMSEvent
	IdempotencyKey string
	Status         string // OutboxPending, OutboxSent or OutboxParked
	Attempts       int
	NextAttemptAt  time.Time
	LastError      string
	CreatedAt      time.Time
}

// UnsubscribeEvent is the payload of an EventUnsubscribe event.
type UnsubscribeEvent struct {
	RecordCode  string           `json:"record_code"`
	Number      string           `json:"number"`
	Service     string           `json:"service"`
	Channel     unsubivr.Channel `json:"channel"`
	CancelledAt time.Time        `json:"cancelled_at"`
}

// SMSEvent is the payload of an EventSMS event.
type SMSEvent struct {
	RecordCode string            `json:"record_code"`
	To         string            `json:"to"`
	Language   unsubivr.Language `json:"language"`
	Text       string            `json:"text"`
}

// event is an outbox row to insert.
type event struct {
	number, kind, key string
	payload           []byte
}

// args returns the arguments of insertEventSQL for e.
func (e event) args(tx *writeTx) []any {
	return []any{e.number, e.kind, string(e.payload), e.key, tx.nowText, tx.nowText}
}

// insertEvents appends events to the outbox, in order. One single-row
// INSERT each: a multi-row INSERT needs a statement journal and was slower.
func insertEvents(ctx context.Context, tx *writeTx, events []event) error {
	insert := tx.db.stmts.insertEvent
	for _, e := range events {
		if _, err := insert.ExecContext(ctx, e.args(tx)...); err != nil {
			return err
		}
	}
	return nil
}

// recordEvents returns the outbox events of rec: one EventUnsubscribe per
// service, then one EventSMS in lang.
func recordEvents(tx *writeTx, rec unsubivr.Record, lang unsubivr.Language, services []unsubivr.Service) ([]event, error) {
	events := make([]event, 0, len(services)+1)
	for _, s := range services {
		p, err := json.Marshal(UnsubscribeEvent{
			RecordCode:  rec.Code,
			Number:      rec.Number,
			Service:     s.Code,
			Channel:     rec.Channel,
			CancelledAt: tx.now,
		})
		if err != nil {
			return nil, err
		}
		events = append(events, event{rec.Number, EventUnsubscribe, EventUnsubscribe + ":" + rec.Code + ":" + s.Code, p})
	}
	if !lang.Valid() {
		lang = unsubivr.ZhCN
	}
	p, err := json.Marshal(SMSEvent{
		RecordCode: rec.Code,
		To:         rec.Number,
		Language:   lang,
		Text:       ConfirmationText(lang, rec.Code, services),
	})
	if err != nil {
		return nil, err
	}
	return append(events, event{rec.Number, EventSMS, EventSMS + ":" + rec.Code, p}), nil
}

// ConfirmationText returns the confirmation SMS of a cancel of services
// under code, in lang (Chinese unless lang is EnUS):
//
//	【退订通知】您已成功退订彩铃、蓝钻，确认码12345678。
//	You have cancelled colour ring-back tone and Blue Diamond. Confirmation code 12345678.
func ConfirmationText(lang unsubivr.Language, code string, services []unsubivr.Service) string {
	names := make([]string, len(services))
	for i, s := range services {
		names[i] = s.Name(lang)
	}
	if lang == unsubivr.EnUS {
		list := strings.Join(names, ", ")
		if n := len(names); n > 1 {
			list = strings.Join(names[:n-1], ", ") + " and " + names[n-1]
		}
		return "You have cancelled " + list + ". Confirmation code " + code + "."
	}
	return "【退订通知】您已成功退订" + strings.Join(names, "、") + "，确认码" + code + "。"
}

// Outbox returns the outbox events with status (all events if status is
// ""), in ID order. Pending events are found from the dispatcher's cursor
// up; the other statuses scan the table (for tests and tooling). Returns
// EINVALID for an unknown status.
func (d *DB) Outbox(ctx context.Context, status string) ([]OutboxEvent, error) {
	query := `SELECT id, number, kind, payload, idempotency_key, status, attempts, next_attempt_at, last_error, created_at
		FROM outbox`
	var args []any
	switch status {
	case "":
	case OutboxPending:
		// Only above the cursor: a range scan, not a table scan.
		query += ` WHERE id > (SELECT low_id FROM outbox_cursor) AND status = ?`
		args = append(args, status)
	case OutboxSent, OutboxParked:
		query += ` WHERE status = ?` // a table scan: for tests and tooling
		args = append(args, status)
	default:
		return nil, errInvalid("unknown outbox status %q", status)
	}
	events, err := findEvents(ctx, d.read, query+` ORDER BY id`, args...)
	if err != nil {
		return nil, internal("outbox", err)
	}
	return events, nil
}
