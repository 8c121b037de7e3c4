// Package api is the HTTP side of the hotline for machines: a JSON API
// (list a subscriber's services, cancel one or all, look up a record by
// its confirmation code) and the SMS keyword webhook an SMS gateway
// calls. Both cancel through the same store and rules as the phone
// channel; records made here carry channel "api" or "sms".
//
// Every route is under /v1/ and needs "Authorization: Bearer <token>".
// Errors are JSON, {"error":{"code":"not_found","message":"..."}}, with the
// code of the domain error and its HTTP status; this package is the one
// place that mapping happens (errorReply), and it logs only internal
// errors. POSTs honour an Idempotency-Key header. See docs/api.md and
// docs/sms.md.
package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/db"
)

// DefaultMaxBody is the request body limit when Config.MaxBody is 0.
const DefaultMaxBody = 8 << 10

// Config configures the API.
type Config struct {
	// Token is the bearer token every caller presents. Required unless
	// Disabled.
	Token string
	// Disabled turns the API off: New returns a handler that answers 404
	// to everything, and needs no token.
	Disabled bool
	// MaxBody is the largest request body accepted, in bytes; 0 means
	// DefaultMaxBody. A larger body is refused with 413.
	MaxBody int64
}

// Validate reports a configuration New would refuse, naming the setting.
func (c Config) Validate() error {
	if c.Disabled {
		return nil
	}
	if c.Token == "" {
		return errors.New("api: no token configured: set UNSUB_API_TOKEN or --api-disabled")
	}
	if c.MaxBody < 0 {
		return errors.New("api: MaxBody is negative")
	}
	return nil
}

// DB is what the API needs of the database beyond unsubivr.Store. *db.DB
// implements it.
type DB interface {
	// Services returns the service catalogue.
	Services(ctx context.Context) ([]unsubivr.Service, error)
	// Subscriptions lists every subscription of number, active or not.
	// Returns EINVALID for a malformed number, ENOTFOUND for an unknown
	// subscriber.
	Subscriptions(ctx context.Context, number string) ([]db.Holding, error)
	// QueueSMS puts an SMS that confirms nothing into the outbox.
	QueueSMS(ctx context.Context, number string, lang unsubivr.Language, text, id string) error
	// ClaimKey, SaveResponse and ReleaseKey keep idempotency keys: see
	// the db package.
	ClaimKey(ctx context.Context, key, requestHash string) (db.KeyClaim, error)
	SaveResponse(ctx context.Context, key, token string, status int, body []byte) error
	ReleaseKey(ctx context.Context, key, token string) error
	CallLogs(ctx context.Context, f db.CallLogFilter) ([]unsubivr.CallLog, error)
	CallLog(ctx context.Context, id string) (*unsubivr.CallLog, error)
}

// Store is everything the API uses. *db.DB implements it; so does Join.
type Store interface {
	unsubivr.Store
	DB
}

// Join returns a Store that answers the unsubivr.Store methods from s and
// the rest from d. Pass the store the other channels use (such as a
// metrics.Store wrapping d) as s, so that cancels made here are counted
// with theirs.
func Join(s unsubivr.Store, d DB) Store {
	return joined{s, d}
}

type joined struct {
	unsubivr.Store
	DB
}

// New returns the API's handler: routes under /v1/ only, to be mounted on
// the service's HTTP listener (mux.Handle("/v1/", h)). With cfg.Disabled
// it returns a handler that answers 404 to everything and store may be
// nil. It returns an error, naming the setting, when no token is
// configured and the API is not disabled. log receives internal errors
// only; nil discards them.
func New(cfg Config, store Store, log logrus.FieldLogger) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		l := logrus.New()
		l.Out = io.Discard
		log = l
	}
	s := &server{store: store, log: log, maxBody: cfg.MaxBody, wait: replayWait}
	if cfg.Disabled {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.writeError(w, r, unsubivr.Errorf(unsubivr.ENOTFOUND, "the API is disabled"))
		}), nil
	}
	if store == nil {
		return nil, errors.New("api: no store")
	}
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBody
	}
	s.token = sha256.Sum256([]byte(cfg.Token))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/subscribers/{number}/services", s.listServices)
	mux.HandleFunc("POST /v1/subscribers/{number}/services/{code}/cancel", s.cancelOne)
	mux.HandleFunc("POST /v1/subscribers/{number}/cancel-all", s.cancelAll)
	mux.HandleFunc("GET /v1/records/{code}", s.getRecord)
	mux.HandleFunc("POST /v1/sms/inbound", s.smsInbound)
	mux.HandleFunc("GET /v1/calls", s.listCalls)
	mux.HandleFunc("GET /v1/calls/{id}", s.getCall)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, unsubivr.Errorf(unsubivr.ENOTFOUND, "no such endpoint"))
	})
	return s.authenticate(mux), nil
}

// server holds the handlers' dependencies.
type server struct {
	store   Store
	log     logrus.FieldLogger
	token   [sha256.Size]byte // SHA-256 of the configured token
	maxBody int64
	wait    time.Duration // how long a retry waits for the first request with its key
}

// replayWait is how long a retry waits for a running request with the same
// idempotency key before it is told to come back (409).
var replayWait = 10 * time.Second

type ctxKey int

const requestIDKey ctxKey = 0

// requestID returns the id the middleware gave r.
func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey).(string)
	return id
}

// authenticate gives every request an id (X-Request-Id in the response)
// and refuses those without the bearer token.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := newID()
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="unsubivr"`)
			s.writeError(w, r, unsubivr.Errorf(unsubivr.EUNAUTHORIZED, "missing or wrong bearer token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorized compares the bearer token in constant time. Both sides are
// hashed first, so that neither the token nor its length leaks through
// timing.
func (s *server) authorized(r *http.Request) bool {
	const prefix = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(h[len(prefix):])))
	return subtle.ConstantTimeCompare(got[:], s.token[:]) == 1
}

// newID returns a random request id.
func newID() string {
	b := make([]byte, 8)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
