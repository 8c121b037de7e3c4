package outbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/unsubivr/unsubivr/db"
)

// Headers of every delivery request.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderSignature      = "X-Unsub-Signature" // "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body)
	HeaderTimestamp      = "X-Unsub-Timestamp" // Unix seconds when the request was signed
	HeaderAttempt        = "X-Unsub-Attempt"   // 1 for the first attempt; reset by a retry
)

// Envelope is the JSON body of a delivery request. It is the same bytes
// on every attempt of an event.
type Envelope struct {
	ID             int64           `json:"id"`              // outbox id: grows with commit order, per number too
	Kind           string          `json:"kind"`            // "unsubscribe" or "sms"
	IdempotencyKey string          `json:"idempotency_key"` // unique per event; also the Idempotency-Key header
	Number         string          `json:"number"`          // the subscriber
	CreatedAt      time.Time       `json:"created_at"`      // when the cancel committed
	Payload        json.RawMessage `json:"payload"`         // db.UnsubscribeEvent or db.SMSEvent
}

// Body returns the request body of e.
func Body(e db.OutboxEvent) ([]byte, error) {
	return json.Marshal(Envelope{
		ID:             e.ID,
		Kind:           e.Kind,
		IdempotencyKey: e.IdempotencyKey,
		Number:         e.Number,
		CreatedAt:      e.CreatedAt.UTC(),
		Payload:        e.Payload,
	})
}

// Sign returns the X-Unsub-Signature of body sent at timestamp (the
// X-Unsub-Timestamp value): "sha256=" and the hex HMAC-SHA256 under
// secret of timestamp, ".", body. Signing the timestamp lets a receiver
// refuse old requests replayed by someone who saw them.
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether signature is Sign(secret, timestamp, body), in
// constant time: what a receiver written in Go checks.
func Verify(secret []byte, timestamp string, body []byte, signature string) bool {
	return hmac.Equal([]byte(signature), []byte(Sign(secret, timestamp, body)))
}

// Reasons of a failed attempt (the reason label of
// unsubivr_outbox_failures_total).
const (
	ReasonTimeout    = "timeout"    // no answer within Config.Timeout
	ReasonConnection = "connection" // refused, reset, closed, DNS...
	ReasonStatus3xx  = "http_3xx"   // redirects are not followed
	ReasonStatus4xx  = "http_4xx"   // likely our bug or configuration (secret, URL): retried all the same
	ReasonStatus5xx  = "http_5xx"
	ReasonNoURL      = "no_url" // a kind of event this version does not know: parked at once
	ReasonOther      = "other"
)

// maxErrorBody is how much of a refusal's body goes into the last error.
const maxErrorBody = 200

// deliver makes one attempt to deliver e to target and says what became
// of it. Every answer but a 2xx is a failure to retry: see docs/outbox.md.
//
// An event of a kind with no URL (written by a newer version, say) is
// parked at once: left pending, it would hold back its number's later
// events and the cursor for good; parked, it shows in the metrics and
// `unsubivr outbox list`, and is re-queued once a version that knows it
// runs.
func (d *Dispatcher) deliver(ctx context.Context, e db.OutboxEvent, target string) result {
	n := e.Attempts + 1
	var (
		reason, msg string
		retryAfter  time.Duration
	)
	if target == "" {
		reason, msg = ReasonNoURL, fmt.Sprintf("no URL for events of kind %q", e.Kind)
	} else {
		reason, msg, retryAfter = d.post(ctx, e, target, n)
	}
	res := result{event: e, attempt: db.Attempt{ID: e.ID}}
	if reason == "" {
		res.attempt.Sent = true
		return res
	}
	d.metrics.failures.WithLabelValues(e.Kind, reason).Inc()
	res.attempt.Error = fmt.Sprintf("attempt %d: %s", n, msg)
	if n >= d.cfg.MaxAttempts || reason == ReasonNoURL {
		res.attempt.Park = true
		return res
	}
	wait := max(d.cfg.Backoff(n), min(retryAfter, MaxBackoff))
	res.attempt.Next = d.now().Add(wait)
	return res
}

// post sends e; reason is "" if it was delivered.
func (d *Dispatcher) post(ctx context.Context, e db.OutboxEvent, target string, attempt int) (reason, msg string, retryAfter time.Duration) {
	body, err := Body(e)
	if err != nil {
		// The payload is not JSON: it never will be.
		return ReasonOther, "encoding the event: " + err.Error(), 0
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return ReasonOther, err.Error(), 0
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "unsubivr-outbox/1")
	req.Header.Set(HeaderIdempotencyKey, e.IdempotencyKey)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(d.cfg.Secret, ts, body))
	req.Header.Set(HeaderAttempt, strconv.Itoa(attempt))

	resp, err := d.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return ReasonTimeout, fmt.Sprintf("no answer within %s", d.cfg.Timeout), 0
		}
		return ReasonConnection, err.Error(), 0
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return "", "", 0
	}
	switch {
	case resp.StatusCode >= 500:
		reason = ReasonStatus5xx
	case resp.StatusCode >= 400:
		reason = ReasonStatus4xx
	case resp.StatusCode >= 300:
		reason = ReasonStatus3xx
	default:
		reason = ReasonOther
	}
	msg = "HTTP " + resp.Status
	if s := strings.TrimSpace(string(head)); s != "" {
		msg += ": " + s
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			retryAfter = time.Duration(secs) * time.Second
		}
	}
	return reason, msg, retryAfter
}

// isTimeout reports whether err is a net timeout.
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
