package db

// What the HTTP API and the SMS channel (package api) need beyond
// unsubivr.Store: the service catalogue, a subscriber's services whatever
// their status, SMS replies that are not a cancel's confirmation, and the
// API's idempotency keys (migration 0002).

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/unsubivr/unsubivr"
)

// Holding is one service a subscriber holds or held.
type Holding struct {
	unsubivr.Subscription
	// CancelCode is the confirmation code of the record that cancelled it:
	// "" while active, or if it was cancelled outside this store.
	CancelCode string
}

// subscriptionsSQL: the subscriber with number and all its subscriptions,
// in subscription order. One row with NULL sub.id when it has none; no row
// for an unknown subscriber. See findHoldingSQL for "(SELECT ?)".
const subscriptionsSQL = `SELECT sub.id, sub.status, sub.subscribed_at, sub.cancelled_at, sub.cancel_record_id, ` + serviceColumns + `
	FROM subscribers s
	LEFT JOIN subscriptions sub ON sub.subscriber_id = s.id
	LEFT JOIN services sv ON sv.code = sub.service_code
	WHERE s.number = (SELECT ?)
	ORDER BY sub.subscribed_at, sub.service_code`

// Subscriptions lists every subscription number has or had, active and
// cancelled, with its Service, ordered by subscription time then service
// code. A subscriber with none gets an empty list. Returns EINVALID if
// number is malformed, ENOTFOUND for an unknown subscriber.
func (d *DB) Subscriptions(ctx context.Context, number string) ([]Holding, error) {
	if err := checkNumber(number); err != nil {
		return nil, err
	}
	rows, err := d.read.QueryxContext(ctx, subscriptionsSQL, number)
	if err != nil {
		return nil, internal("subscriptions", err)
	}
	defer rows.Close()
	var (
		found     bool
		out       = []Holding{}
		id        sql.NullInt64
		status    sql.NullString
		at        nullTime
		cancelled nullTime
		record    sql.NullInt64
		svc       nullService
		values    = append([]any{&id, &status, &at, &cancelled, &record}, svc.dest()...)
	)
	for rows.Next() {
		found = true
		if err := rows.Scan(values...); err != nil {
			return nil, internal("subscriptions", err)
		}
		if !id.Valid {
			continue
		}
		h := Holding{Subscription: unsubivr.Subscription{
			ID:           id.Int64,
			Service:      svc.service(),
			Status:       status.String,
			SubscribedAt: at.Time,
		}}
		if !cancelled.IsZero() {
			t := cancelled.Time
			h.CancelledAt = &t
		}
		if record.Valid {
			h.CancelCode = strconv.FormatInt(record.Int64, 10)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, internal("subscriptions", err)
	}
	if !found {
		return nil, errNotFound("subscriber not found")
	}
	return out, nil
}

// Services returns the service catalogue, ordered by code.
func (d *DB) Services(ctx context.Context) ([]unsubivr.Service, error) {
	rows, err := d.read.QueryxContext(ctx, `SELECT `+serviceColumns+` FROM services sv ORDER BY sv.code`)
	if err != nil {
		return nil, internal("services", err)
	}
	defer rows.Close()
	out := []unsubivr.Service{}
	var svc nullService
	for rows.Next() {
		if err := rows.Scan(svc.dest()...); err != nil {
			return nil, internal("services", err)
		}
		out = append(out, svc.service())
	}
	if err := rows.Err(); err != nil {
		return nil, internal("services", err)
	}
	return out, nil
}

// QueueSMS appends an EventSMS to the outbox: text to number, in lang,
// with no RecordCode. It is for SMS replies that confirm nothing (a list
// of services, help); a cancel queues its own confirmation in its
// transaction. id names the reply and must be unique (a request id): the
// event's idempotency key is "sms:reply:"+id. Returns EINVALID for a
// malformed number, an empty text or an empty id.
func (d *DB) QueueSMS(ctx context.Context, number string, lang unsubivr.Language, text, id string) error {
	if err := checkNumber(number); err != nil {
		return err
	}
	if text == "" || id == "" {
		return errInvalid("an SMS needs a text and an id")
	}
	if !lang.Valid() {
		lang = unsubivr.ZhCN
	}
	p, err := json.Marshal(SMSEvent{To: number, Language: lang, Text: text})
	if err != nil {
		return internal("queue sms", err)
	}
	tx, err := d.beginTx(ctx)
	if err != nil {
		return internal("queue sms", err)
	}
	defer tx.Rollback()
	ctx = tx.ctx // see beginTx
	if err := insertEvents(ctx, tx, []event{{number, EventSMS, EventSMS + ":reply:" + id, p}}); err != nil {
		return internal("queue sms", err)
	}
	if err := tx.Commit(); err != nil {
		return internal("queue sms", err)
	}
	return nil
}

// Idempotency keys of the HTTP API.
const (
	// IdempotencyTTL is how long a key is remembered. A key claimed again
	// after it starts afresh.
	IdempotencyTTL = 24 * time.Hour
	// IdempotencyLease is how long a claim of a key whose request has not
	// finished holds. After it another request with the key may take the
	// claim over: the first one is taken to have died with its process.
	// It is far longer than any request takes.
	IdempotencyLease = 30 * time.Second
	// MaxIdempotencyKey is the longest key accepted, in bytes.
	MaxIdempotencyKey = 255
)

// Claim states: what ClaimKey found.
const (
	KeyClaimed = "claimed" // the key is the caller's: run the request, then SaveResponse or ReleaseKey
	KeyRunning = "running" // the same request holds the key and has not finished: ask again later
	KeyDone    = "done"    // the same request finished: replay Status and Body
)

// KeyClaim is the answer of ClaimKey.
type KeyClaim struct {
	State  string // KeyClaimed, KeyRunning or KeyDone
	Token  string // KeyClaimed: pass it to SaveResponse or ReleaseKey
	Status int    // KeyDone: the stored response
	Body   []byte
}

// ClaimKey claims the idempotency key for the request with requestHash
// (any string naming the request: route and canonical body), in one
// transaction, so that of concurrent requests with one key exactly one
// gets KeyClaimed. The others get KeyRunning until the holder saves its
// response, then KeyDone with it. A claim held longer than
// IdempotencyLease without a response is taken over. Keys older than
// IdempotencyTTL are forgotten on the way. Returns EINVALID for an empty
// key or one longer than MaxIdempotencyKey, ECONFLICT if the key was used
// for a different request.
func (d *DB) ClaimKey(ctx context.Context, key, requestHash string) (KeyClaim, error) {
	if key == "" || len(key) > MaxIdempotencyKey {
		return KeyClaim{}, errInvalid("an idempotency key has 1 to %d bytes", MaxIdempotencyKey)
	}
	token, err := newToken()
	if err != nil {
		return KeyClaim{}, internal("claim key", err)
	}
	tx, err := d.beginTx(ctx)
	if err != nil {
		return KeyClaim{}, internal("claim key", err)
	}
	defer tx.Rollback()
	ctx = tx.ctx // see beginTx
	claim, err := claimKey(ctx, tx, key, requestHash, token)
	if err != nil {
		return KeyClaim{}, internal("claim key", err)
	}
	if err := tx.Commit(); err != nil {
		return KeyClaim{}, internal("claim key", err)
	}
	return claim, nil
}

func claimKey(ctx context.Context, tx *writeTx, key, requestHash, token string) (KeyClaim, error) {
	if _, err := tx.ExecContext(ctx, `DELETE FROM api_idempotency WHERE created_at < ?`,
		dbTime(tx.now.Add(-IdempotencyTTL))); err != nil {
		return KeyClaim{}, err
	}
	var (
		hash    string
		claimed nullTime
		status  sql.NullInt64
		body    []byte
	)
	err := tx.QueryRowxContext(ctx, `SELECT request_hash, claimed_at, response_status, response_body
		FROM api_idempotency WHERE key = ?`, key).Scan(&hash, &claimed, &status, &body)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_idempotency
			(key, request_hash, claim_token, claimed_at, created_at) VALUES (?, ?, ?, ?, ?)`,
			key, requestHash, token, tx.nowText, tx.nowText); err != nil {
			return KeyClaim{}, err
		}
		return KeyClaim{State: KeyClaimed, Token: token}, nil
	case err != nil:
		return KeyClaim{}, err
	case hash != requestHash:
		return KeyClaim{}, unsubivr.Errorf(unsubivr.ECONFLICT, "this Idempotency-Key was used for a different request")
	case status.Valid:
		return KeyClaim{State: KeyDone, Status: int(status.Int64), Body: body}, nil
	case claimed.Add(IdempotencyLease).After(tx.now):
		return KeyClaim{State: KeyRunning}, nil
	}
	// The holder has not answered within the lease: take the claim over.
	if _, err := tx.ExecContext(ctx, `UPDATE api_idempotency SET claim_token = ?, claimed_at = ?
		WHERE key = ? AND response_status IS NULL`, token, tx.nowText, key); err != nil {
		return KeyClaim{}, err
	}
	return KeyClaim{State: KeyClaimed, Token: token}, nil
}

// SaveResponse stores the response of the request that claimed key with
// token. It does nothing if the claim was taken over meanwhile (the
// request outlived IdempotencyLease): the response of the request that
// took it over is the one replayed.
func (d *DB) SaveResponse(ctx context.Context, key, token string, status int, body []byte) error {
	if body == nil {
		body = []byte{}
	}
	return d.keyExec(ctx, "save response", `UPDATE api_idempotency SET response_status = ?, response_body = ?
		WHERE key = ? AND claim_token = ? AND response_status IS NULL`, status, body, key, token)
}

// ReleaseKey gives up the claim of key with token without a response (the
// request failed), so that the next request with the key runs afresh. It
// does nothing if the claim was taken over or a response is saved.
func (d *DB) ReleaseKey(ctx context.Context, key, token string) error {
	return d.keyExec(ctx, "release key", `DELETE FROM api_idempotency
		WHERE key = ? AND claim_token = ? AND response_status IS NULL`, key, token)
}

func (d *DB) keyExec(ctx context.Context, op, query string, args ...any) error {
	tx, err := d.beginTx(ctx)
	if err != nil {
		return internal(op, err)
	}
	defer tx.Rollback()
	ctx = tx.ctx // see beginTx
	if _, err := tx.ExecContext(ctx, query, args...); err != nil {
		return internal(op, err)
	}
	if err := tx.Commit(); err != nil {
		return internal(op, err)
	}
	return nil
}

// newToken returns 128 random bits in hex.
func newToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
