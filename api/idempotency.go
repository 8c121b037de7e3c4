package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/db"
)

// IdempotencyHeader carries the caller's idempotency key on a POST;
// ReplayedHeader ("true") marks a response replayed for a retry.
const (
	IdempotencyHeader = "Idempotency-Key"
	ReplayedHeader    = "Idempotent-Replayed"
)

// pollInterval is how often a retry looks whether the first request with
// its key has finished.
const pollInterval = 20 * time.Millisecond

// readBody reads r's body, at most s.maxBody bytes: a larger body is a
// 413 with code "invalid".
func (s *server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, &statusError{http.StatusRequestEntityTooLarge,
			unsubivr.Errorf(unsubivr.EINVALID, "request body larger than %d bytes", s.maxBody)}
	case err != nil:
		return nil, errInvalid("cannot read the request body")
	}
	return body, nil
}

// idempotencyKey returns the Idempotency-Key of r: "" if there is none,
// EINVALID unless it is 1 to db.MaxIdempotencyKey visible ASCII
// characters.
func idempotencyKey(r *http.Request) (string, error) {
	key := r.Header.Get(IdempotencyHeader)
	if key == "" {
		return "", nil
	}
	if err := checkKey(key); err != nil {
		return "", err
	}
	return key, nil
}

func checkKey(key string) error {
	if len(key) > db.MaxIdempotencyKey {
		return errInvalid("an idempotency key has at most %d characters", db.MaxIdempotencyKey)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return errInvalid("an idempotency key has only visible ASCII characters")
		}
	}
	return nil
}

// post answers a POST that has been read and validated, so that a bad
// request writes nothing. canon is the request's canonical form: two
// requests to the same route with equal canon are the same request. With
// no key, run just runs. With a key, the first request claims it; a
// success (200) is stored, an error releases the key again, so that
// nothing is kept of a request that changed nothing and a retry runs
// afresh (after a 5xx it may well succeed). A retry with the same key and
// request gets the stored response with "Idempotent-Replayed: true"; one
// that arrives while the first is still running waits for it (up to
// s.wait, then 409). The same key with a different request is a 409.
func (s *server) post(w http.ResponseWriter, r *http.Request, key string, canon any, run func(context.Context) (any, error)) {
	if key == "" {
		write(w, s.do(r, run))
		return
	}
	sum := sha256.Sum256(append([]byte(r.Pattern+"\n"), mustJSON(canon)...))
	hash := hex.EncodeToString(sum[:])
	ctx := r.Context()
	deadline := time.Now().Add(s.wait)
	for {
		claim, err := s.store.ClaimKey(ctx, key, hash)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		switch claim.State {
		case db.KeyDone:
			w.Header().Set(ReplayedHeader, "true")
			write(w, reply{claim.Status, claim.Body})
			return
		case db.KeyClaimed:
			rep := s.do(r, run)
			ctx := context.WithoutCancel(ctx) // keep the answer even if the caller left
			if rep.status != http.StatusOK {
				err = s.store.ReleaseKey(ctx, key, claim.Token)
			} else {
				err = s.store.SaveResponse(ctx, key, claim.Token, rep.status, rep.body)
			}
			if err != nil {
				// The answer stands; a retry re-runs the request after
				// the lease, and a cancel run twice answers
				// already_cancelled with the same code.
				s.logInternal(r, err)
			}
			write(w, rep)
			return
		}
		if time.Now().After(deadline) {
			s.writeError(w, r, unsubivr.Errorf(unsubivr.ECONFLICT,
				"a request with this Idempotency-Key is still running; retry later"))
			return
		}
		t := time.NewTimer(pollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return // the caller left
		case <-t.C:
		}
	}
}

// do runs run and turns its result into a reply.
func (s *server) do(r *http.Request, run func(context.Context) (any, error)) reply {
	v, err := run(r.Context())
	if err != nil {
		return s.errorReply(r, err)
	}
	return okReply(v)
}
