package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/unsubivr/unsubivr"
)

// Subscriber returns the subscriber with number.
// Returns EINVALID if number is malformed, ENOTFOUND if there is none.
func (d *DB) Subscriber(ctx context.Context, number string) (*unsubivr.Subscriber, error) {
	if err := checkNumber(number); err != nil {
		return nil, err
	}
	var s unsubivr.Subscriber
	var lang string
	err := d.read.QueryRowxContext(ctx, `SELECT id, number, language FROM subscribers WHERE number = ?`, number).
		Scan(&s.ID, &s.Number, &lang)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound("subscriber not found")
	} else if err != nil {
		return nil, internal("subscriber", err)
	}
	s.Language = unsubivr.Language(lang)
	return &s, nil
}

// ActiveSubscriptions lists number's active subscriptions with their
// Service, ordered by subscription time then service code. A subscriber
// with none gets an empty list. Returns EINVALID if number is malformed,
// ENOTFOUND for an unknown subscriber.
func (d *DB) ActiveSubscriptions(ctx context.Context, number string) ([]unsubivr.Subscription, error) {
	if err := checkNumber(number); err != nil {
		return nil, err
	}
	rows, err := d.read.QueryxContext(ctx, findActiveSQL, number)
	if err != nil {
		return nil, internal("active subscriptions", err)
	}
	_, _, subs, err := scanActive(rows)
	if err != nil {
		return nil, internal("active subscriptions", err)
	}
	return subs, nil
}

// scanActive reads the rows of findActiveSQL: the subscriber's id and
// language and its active subscriptions. Returns ENOTFOUND for an unknown
// subscriber.
func scanActive(rows *sqlx.Rows) (int64, unsubivr.Language, []unsubivr.Subscription, error) {
	defer rows.Close()
	var (
		found  bool
		subID  int64
		lang   string
		subs   = []unsubivr.Subscription{}
		id     sql.NullInt64
		at     nullTime
		svc    nullService
		values = append([]any{&subID, &lang, &id, &at}, svc.dest()...)
	)
	for rows.Next() {
		found = true
		if err := rows.Scan(values...); err != nil {
			return 0, "", nil, err
		}
		if !id.Valid {
			continue
		}
		subs = append(subs, unsubivr.Subscription{
			ID:           id.Int64,
			Service:      svc.service(),
			Status:       unsubivr.StatusActive,
			SubscribedAt: at.Time,
		})
	}
	if err := rows.Err(); err != nil {
		return 0, "", nil, err
	}
	if !found {
		return 0, "", nil, errNotFound("subscriber not found")
	}
	return subID, unsubivr.Language(lang), subs, nil
}

// nullService scans the service columns of a LEFT JOIN.
type nullService struct {
	code, short, zh, en, kind sql.NullString
	fee                       sql.NullInt64
	purge                     sql.NullBool
}

func (n *nullService) dest() []any {
	return []any{&n.code, &n.short, &n.zh, &n.en, &n.fee, &n.kind, &n.purge}
}

func (n *nullService) service() unsubivr.Service {
	return unsubivr.Service{
		Code:          n.code.String,
		ShortName:     n.short.String,
		NameZh:        n.zh.String,
		NameEn:        n.en.String,
		MonthlyFeeFen: n.fee.Int64,
		Kind:          unsubivr.ServiceKind(n.kind.String),
		PurgeOnCancel: n.purge.Bool,
	}
}

// checkRequest validates the fields common to Unsubscribe and
// UnsubscribeAll.
func checkRequest(req unsubivr.Request) error {
	if err := checkNumber(req.Number); err != nil {
		return err
	}
	if !req.Channel.Valid() {
		return errInvalid("unknown channel %q", req.Channel)
	}
	return nil
}

// Unsubscribe cancels req.ServiceCode for req.Number in one transaction:
// the subscription's status, a record with a new confirmation code, its
// item, one "unsubscribe" and one "sms" outbox event and, for a
// purge_on_cancel service, the deletion of the subscriber's marketing
// profile (Record.Purged). Cancelling an already cancelled subscription
// returns AlreadyCancelled with the record that cancelled it and writes
// nothing (the record is zero but for Number and Services if it was
// cancelled outside this store). Returns EINVALID for a malformed number,
// an unknown channel or an empty service code, ENOTFOUND for an unknown
// subscriber or a service the number never held.
func (d *DB) Unsubscribe(ctx context.Context, req unsubivr.Request) (unsubivr.Result, error) {
	if err := checkRequest(req); err != nil {
		return unsubivr.Result{}, err
	}
	if req.ServiceCode == "" {
		return unsubivr.Result{}, errInvalid("no service to cancel")
	}
	consent, err := json.Marshal(req.Consent)
	if err != nil {
		return unsubivr.Result{}, internal("unsubscribe", err)
	}
	tx, err := d.beginTx(ctx)
	if err != nil {
		return unsubivr.Result{}, internal("unsubscribe", err)
	}
	defer tx.Rollback()
	ctx = tx.ctx // see beginTx
	res, err := unsubscribe(ctx, tx, req, consent)
	if err != nil {
		return unsubivr.Result{}, internal("unsubscribe", err)
	}
	if res.Outcome == unsubivr.Cancelled {
		if err := tx.Commit(); err != nil {
			return unsubivr.Result{}, internal("unsubscribe", err)
		}
	}
	return res, nil
}

func unsubscribe(ctx context.Context, tx *writeTx, req unsubivr.Request, consent []byte) (unsubivr.Result, error) {
	st := &tx.db.stmts
	var (
		subscriberID int64
		lang         string
		subID        sql.NullInt64
		status       sql.NullString
		recordID     sql.NullInt64
		svc          nullService
	)
	err := st.findHolding.QueryRowxContext(ctx, req.ServiceCode, req.Number).
		Scan(append([]any{&subscriberID, &lang, &subID, &status, &recordID}, svc.dest()...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return unsubivr.Result{}, errNotFound("subscriber not found")
	} else if err != nil {
		return unsubivr.Result{}, err
	}
	if !subID.Valid {
		return unsubivr.Result{}, errNotFound("service %s is not held by this number", req.ServiceCode)
	}
	if status.String == unsubivr.StatusCancelled {
		res := unsubivr.Result{Outcome: unsubivr.AlreadyCancelled}
		if !recordID.Valid {
			res.Record = unsubivr.Record{Number: req.Number, Services: []string{req.ServiceCode}}
			return res, nil
		}
		recs, err := findRecords(ctx, tx, `r.id = (SELECT ?)`, recordID.Int64)
		if err != nil {
			return unsubivr.Result{}, err
		}
		if len(recs) != 1 {
			return unsubivr.Result{}, fmt.Errorf("record %d of a cancelled subscription is missing", recordID.Int64)
		}
		res.Record = recs[0]
		return res, nil
	}

	service := svc.service()
	rec := newRecord(tx, req, []unsubivr.Service{service})
	if err := insertRecord(ctx, tx, &rec, subscriberID, consent); err != nil {
		return unsubivr.Result{}, err
	}
	if _, err := st.insertItem.ExecContext(ctx, rec.ID, 0, service.Code); err != nil {
		return unsubivr.Result{}, err
	}
	r, err := st.cancelOne.ExecContext(ctx, tx.nowText, rec.ID, subID.Int64)
	if err != nil {
		return unsubivr.Result{}, err
	}
	if n, err := r.RowsAffected(); err != nil || n != 1 {
		return unsubivr.Result{}, fmt.Errorf("cancel subscription %d: %d rows changed (%v)", subID.Int64, n, err)
	}
	if rec.Purged {
		if err := purge(ctx, tx, subscriberID); err != nil {
			return unsubivr.Result{}, err
		}
	}
	events, err := recordEvents(tx, rec, unsubivr.Language(lang), []unsubivr.Service{service})
	if err != nil {
		return unsubivr.Result{}, err
	}
	if err := insertEvents(ctx, tx, events); err != nil {
		return unsubivr.Result{}, err
	}
	return unsubivr.Result{Outcome: unsubivr.Cancelled, Record: rec}, nil
}

// UnsubscribeAll cancels every active subscription of req.Number (一键退订)
// in one transaction, under one record and one code: one item and one
// "unsubscribe" outbox event per service, one "sms" event listing them
// all, and the marketing profile deleted if any of them purges.
// req.ServiceCode is ignored. With nothing active it returns NothingActive
// and writes nothing. Returns EINVALID for a malformed number or an
// unknown channel, ENOTFOUND for an unknown subscriber.
func (d *DB) UnsubscribeAll(ctx context.Context, req unsubivr.Request) (unsubivr.Result, error) {
	if err := checkRequest(req); err != nil {
		return unsubivr.Result{}, err
	}
	consent, err := json.Marshal(req.Consent)
	if err != nil {
		return unsubivr.Result{}, internal("unsubscribe all", err)
	}
	tx, err := d.beginTx(ctx)
	if err != nil {
		return unsubivr.Result{}, internal("unsubscribe all", err)
	}
	defer tx.Rollback()
	ctx = tx.ctx // see beginTx
	res, err := unsubscribeAll(ctx, tx, req, consent)
	if err != nil {
		return unsubivr.Result{}, internal("unsubscribe all", err)
	}
	if res.Outcome == unsubivr.Cancelled {
		if err := tx.Commit(); err != nil {
			return unsubivr.Result{}, internal("unsubscribe all", err)
		}
	}
	return res, nil
}

func unsubscribeAll(ctx context.Context, tx *writeTx, req unsubivr.Request, consent []byte) (unsubivr.Result, error) {
	st := &tx.db.stmts
	rows, err := st.findActive.QueryxContext(ctx, req.Number)
	if err != nil {
		return unsubivr.Result{}, err
	}
	subscriberID, lang, subs, err := scanActive(rows)
	if err != nil {
		return unsubivr.Result{}, err
	}
	if len(subs) == 0 {
		return unsubivr.Result{Outcome: unsubivr.NothingActive}, nil
	}

	services := make([]unsubivr.Service, len(subs))
	for i, s := range subs {
		services[i] = s.Service
	}
	rec := newRecord(tx, req, services)
	if err := insertRecord(ctx, tx, &rec, subscriberID, consent); err != nil {
		return unsubivr.Result{}, err
	}
	item := st.insertItem
	for i, s := range services {
		if _, err := item.ExecContext(ctx, rec.ID, i, s.Code); err != nil {
			return unsubivr.Result{}, err
		}
	}
	r, err := st.cancelAll.ExecContext(ctx, tx.nowText, rec.ID, subscriberID)
	if err != nil {
		return unsubivr.Result{}, err
	}
	if n, err := r.RowsAffected(); err != nil || n != int64(len(subs)) {
		return unsubivr.Result{}, fmt.Errorf("cancel %d subscriptions: %d rows changed (%v)", len(subs), n, err)
	}
	if rec.Purged {
		if err := purge(ctx, tx, subscriberID); err != nil {
			return unsubivr.Result{}, err
		}
	}
	events, err := recordEvents(tx, rec, lang, services)
	if err != nil {
		return unsubivr.Result{}, err
	}
	if err := insertEvents(ctx, tx, events); err != nil {
		return unsubivr.Result{}, err
	}
	return unsubivr.Result{Outcome: unsubivr.Cancelled, Record: rec}, nil
}

// newRecord returns the record (without ID and Code) of req cancelling
// services at tx's time.
func newRecord(tx *writeTx, req unsubivr.Request, services []unsubivr.Service) unsubivr.Record {
	rec := unsubivr.Record{
		Number:    req.Number,
		Services:  make([]string, len(services)),
		Channel:   req.Channel,
		CallID:    req.CallID,
		AgentID:   req.AgentID,
		Consent:   req.Consent,
		CreatedAt: tx.now,
	}
	for i, s := range services {
		rec.Services[i] = s.Code
		rec.Purged = rec.Purged || s.PurgeOnCancel
	}
	return rec
}

// maxCodeTries bounds the draws of a confirmation code that is not taken.
// With 9e7 codes a second draw is already rare.
const maxCodeTries = 10

// newCode returns a random confirmation code: a number of 8 digits, the
// first not 0, from crypto/rand. It is also the record's ID. Tests replace
// it.
var newCode = func() (int64, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(90_000_000))
	if err != nil {
		return 0, err
	}
	return n.Int64() + 10_000_000, nil
}

// insertRecord inserts rec under a fresh confirmation code, drawing again
// while the code is taken, and sets rec.ID and rec.Code.
func insertRecord(ctx context.Context, tx *writeTx, rec *unsubivr.Record, subscriberID int64, consent []byte) error {
	st := tx.db.stmts.insertRecord
	for i := 0; i < maxCodeTries; i++ {
		code, err := newCode()
		if err != nil {
			return fmt.Errorf("confirmation code: %w", err)
		}
		_, err = st.ExecContext(ctx, code, subscriberID, rec.Number, string(rec.Channel), rec.CallID, rec.AgentID,
			string(consent), rec.Purged, tx.nowText)
		if isUniqueViolation(err) {
			continue // code taken: the failed statement changed nothing, draw again
		} else if err != nil {
			return err
		}
		rec.ID, rec.Code = code, strconv.FormatInt(code, 10)
		return nil
	}
	return fmt.Errorf("no free confirmation code after %d tries", maxCodeTries)
}

// purge deletes the subscriber's marketing profile.
func purge(ctx context.Context, tx *writeTx, subscriberID int64) error {
	_, err := tx.db.stmts.purge.ExecContext(ctx, subscriberID)
	return err
}

// RecordByCode returns the record with confirmation code, with its
// Services. Returns EINVALID for a code that is not all digits, ENOTFOUND
// if there is none.
func (d *DB) RecordByCode(ctx context.Context, code string) (*unsubivr.Record, error) {
	if code == "" || strings.Trim(code, "0123456789") != "" {
		return nil, errInvalid("a confirmation code has only digits")
	}
	id, err := strconv.ParseInt(code, 10, 64)
	if err != nil || code[0] == '0' {
		return nil, errNotFound("no record with this confirmation code") // too long, or never issued
	}
	recs, err := findRecords(ctx, d.read, `r.id = (SELECT ?)`, id)
	if err != nil {
		return nil, internal("record by code", err)
	}
	if len(recs) == 0 {
		return nil, errNotFound("no record with this confirmation code")
	}
	return &recs[0], nil
}

// Records returns the records of cancels made for number, oldest first,
// with their Services. Returns EINVALID if number is malformed.
func (d *DB) Records(ctx context.Context, number string) ([]unsubivr.Record, error) {
	if err := checkNumber(number); err != nil {
		return nil, err
	}
	recs, err := findRecords(ctx, d.read, `r.number = (SELECT ?)`, number)
	if err != nil {
		return nil, internal("records", err)
	}
	return recs, nil
}

// findRecords returns the records matching where, oldest first, each with
// its services in item order. Wrap parameters in where as "(SELECT ?)":
// see findHoldingSQL.
func findRecords(ctx context.Context, q sqlx.QueryerContext, where string, args ...any) ([]unsubivr.Record, error) {
	rows, err := q.QueryxContext(ctx, `SELECT r.id, r.number, r.channel, r.call_id, r.agent_id, r.consent,
		r.purged, r.created_at, i.service_code
		FROM records r JOIN record_items i ON i.record_id = r.id
		WHERE `+where+`
		ORDER BY r.created_at, r.id, i.seq`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	recs := []unsubivr.Record{}
	for rows.Next() {
		var (
			r       unsubivr.Record
			channel string
			consent string
			created nullTime
			service string
		)
		if err := rows.Scan(&r.ID, &r.Number, &channel, &r.CallID, &r.AgentID, &consent,
			&r.Purged, &created, &service); err != nil {
			return nil, err
		}
		if n := len(recs); n > 0 && recs[n-1].ID == r.ID {
			recs[n-1].Services = append(recs[n-1].Services, service)
			continue
		}
		r.Code = strconv.FormatInt(r.ID, 10)
		r.Channel = unsubivr.Channel(channel)
		r.CreatedAt = created.Time
		r.Services = []string{service}
		if err := json.Unmarshal([]byte(consent), &r.Consent); err != nil {
			return nil, fmt.Errorf("record %d: consent: %w", r.ID, err)
		}
		recs = append(recs, r)
	}
	return recs, rows.Err()
}
