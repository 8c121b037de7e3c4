// Package outbox delivers the events every cancel writes to the outbox
// table in its own transaction (see db/dispatch.go): unsubscribe events to
// the provisioning platform's webhook, confirmation SMS to the SMS
// gateway. Delivery is at least once, in order per subscriber number,
// with exponential backoff; an event that keeps failing is parked for an
// operator (`unsubivr outbox list|retry`). All its state is in the
// database, so a restart resumes where the last process stopped.
//
// Run one Dispatcher per database: two would deliver the same events
// twice, and out of order.
//
// The wire format, signature and operator guide are in docs/outbox.md.
package outbox

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"
)

// Defaults of Config.
const (
	DefaultMaxAttempts = 12
	DefaultPoll        = time.Second
	DefaultTimeout     = 10 * time.Second
	DefaultConcurrency = 8

	// MaxBackoff caps DefaultBackoff and a receiver's Retry-After.
	MaxBackoff = 10 * time.Minute
)

// Config configures a Dispatcher. Zero fields take the defaults.
type Config struct {
	// ProvisioningURL receives the "unsubscribe" events; SMSURL the "sms"
	// events. Set both, or neither to disable delivery (events then
	// accumulate, pending, and the gauges show it). An event of any other
	// kind is parked at once.
	ProvisioningURL string
	SMSURL          string

	// Secret keys the HMAC-SHA256 signature of every request. Required
	// when delivery is enabled; 16 bytes at least.
	Secret []byte

	// MaxAttempts is how many failed attempts park an event. With
	// DefaultBackoff, the 12th failure comes 14 to 27 minutes after the
	// first (plus the requests' own time): a receiver down for less than
	// that gets everything once it is back, in order, without a person.
	MaxAttempts int

	// Backoff returns how long to wait after the attempt-th failed
	// attempt (1 after the first) before the next. Default DefaultBackoff.
	// It is called from several goroutines at once.
	Backoff func(attempt int) time.Duration

	// Poll is how often the outbox is read when nothing wakes the
	// dispatcher sooner (a finished delivery, Notify).
	Poll time.Duration

	// Timeout bounds one request, from dialling to reading the response.
	Timeout time.Duration

	// Concurrency is how many requests may be in flight, to different
	// numbers: one number has at most one.
	Concurrency int

	// Client, if set, sends the requests (tests). By default a client
	// with its own transport, Timeout, and no redirects followed.
	Client *http.Client
}

// DefaultBackoff waits 1s·2^(attempt-1), at most MaxBackoff, with equal
// jitter: between half of that and all of it, so that events failed
// together do not come back together.
func DefaultBackoff(attempt int) time.Duration {
	d := MaxBackoff
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 20 {
		d = min(time.Second<<(attempt-1), MaxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

// withDefaults returns c with its zero fields set.
func (c Config) withDefaults() Config {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Backoff == nil {
		c.Backoff = DefaultBackoff
	}
	if c.Poll <= 0 {
		c.Poll = DefaultPoll
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	return c
}

// Enabled reports whether c delivers anything: a URL is set.
func (c Config) Enabled() bool { return c.ProvisioningURL != "" || c.SMSURL != "" }

// Validate returns an error naming the first bad field. A Config that is
// not Enabled is valid.
//
// One URL without the other is an error: every cancel writes an "sms"
// event after its "unsubscribe" events, and an event that cannot be
// delivered holds back the later events of its number, so a half
// configuration would stop the provisioning of a subscriber's next cancel
// behind an SMS that never goes.
func (c Config) Validate() error {
	if !c.Enabled() {
		return nil
	}
	for _, u := range []struct{ name, v string }{{"ProvisioningURL", c.ProvisioningURL}, {"SMSURL", c.SMSURL}} {
		if u.v == "" {
			return fmt.Errorf("outbox: %s is empty: set both webhook URLs, or neither to disable delivery", u.name)
		}
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("outbox: %s %q: want an http:// or https:// URL", u.name, u.v)
		}
	}
	if len(c.Secret) < 16 {
		return errors.New("outbox: Secret: want at least 16 bytes to sign requests with")
	}
	if c.MaxAttempts < 0 || c.Poll < 0 || c.Timeout < 0 || c.Concurrency < 0 {
		return errors.New("outbox: MaxAttempts, Poll, Timeout and Concurrency must not be negative")
	}
	return nil
}
