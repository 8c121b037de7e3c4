package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/unsubivr/unsubivr/outbox"
)

const apiToken = "integration-token-0123456789"

var platformSecret = []byte("integration-secret-0123456789")

// platform stands in for the provisioning platform and the SMS gateway:
// it checks each request's signature and keeps the events by number.
type platform struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events map[string][]outbox.Envelope
	bad    int // requests with a wrong signature
}

func startPlatform() *platform {
	p := &platform{events: map[string][]outbox.Envelope{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var e outbox.Envelope
		ok := outbox.Verify(platformSecret, r.Header.Get("X-Unsub-Timestamp"), body, r.Header.Get("X-Unsub-Signature")) &&
			json.Unmarshal(body, &e) == nil && r.Header.Get("Idempotency-Key") == e.IdempotencyKey
		p.mu.Lock()
		defer p.mu.Unlock()
		if !ok {
			p.bad++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		p.events[e.Number] = append(p.events[e.Number], e)
		w.WriteHeader(http.StatusNoContent)
	}))
	return p
}

// wait returns number's events once there are at least n of them.
func (p *platform) wait(t *testing.T, number string, n int) []outbox.Envelope {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		p.mu.Lock()
		evs := append([]outbox.Envelope(nil), p.events[number]...)
		p.mu.Unlock()
		if len(evs) >= n {
			return evs
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t.Fatalf("%s: %d events delivered (%d with a bad signature), want %d", number, len(p.events[number]), p.bad, n)
	return nil
}
