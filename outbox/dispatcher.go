package outbox

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/db"
)

// store is what the dispatcher needs of the database (*db.DB).
type store interface {
	Due(ctx context.Context, now time.Time, limit int) ([]db.OutboxEvent, error)
	RecordAttempts(ctx context.Context, attempts []db.Attempt) (int, error)
	OutboxStats(ctx context.Context) (db.OutboxStats, error)
	OutboxParked(ctx context.Context) (int, error)
}

// How often the gauges are refreshed. The pending count reads from the
// cursor up; the parked count scans the whole outbox (no status index, to
// keep cancels fast), so it is counted less often and, in between, moved
// by the parkings this dispatcher makes.
const (
	statsEvery  = 5 * time.Second
	parkedEvery = time.Minute
)

// Dispatcher delivers outbox events. Create it with New, start it with
// Run; Notify may be called from any goroutine.
type Dispatcher struct {
	store   store
	cfg     Config
	log     logrus.FieldLogger
	client  *http.Client
	now     func() time.Time
	wake    chan struct{}
	metrics *metrics

	statsEvery, parkedEvery time.Duration // tests shorten them

	// Owned by Run's goroutine.
	statsAt     time.Time
	parkedAt    time.Time
	parkedCount int // at parkedAt, plus the parkings since
}

// New returns a dispatcher of store's outbox. Its metrics are registered
// with reg (nil: not registered); log may be nil. cfg's zero fields take
// the defaults; Run returns cfg.Validate's error, so check it first to
// fail at start-up.
func New(store *db.DB, cfg Config, log logrus.FieldLogger, reg prometheus.Registerer) *Dispatcher {
	return newDispatcher(store, store.Now, cfg, log, reg)
}

func newDispatcher(s store, now func() time.Time, cfg Config, log logrus.FieldLogger, reg prometheus.Registerer) *Dispatcher {
	cfg = cfg.withDefaults()
	if log == nil {
		l := logrus.New()
		l.Out = io.Discard
		log = l
	}
	client := cfg.Client
	if client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = cfg.Concurrency
		client = &http.Client{
			Transport: t,
			Timeout:   cfg.Timeout,
			// A webhook that redirects is misconfigured; following it
			// would turn the POST into a GET.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Dispatcher{
		store:       s,
		cfg:         cfg,
		log:         log.WithField("component", "outbox"),
		client:      client,
		now:         now,
		wake:        make(chan struct{}, 1),
		metrics:     newMetrics(reg),
		statsEvery:  statsEvery,
		parkedEvery: parkedEvery,
	}
}

// Notify wakes the dispatcher to read the outbox now rather than at its
// next poll: call it after a cancel has committed. It never blocks.
func (d *Dispatcher) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// result is a finished delivery attempt.
type result struct {
	event   db.OutboxEvent
	attempt db.Attempt
}

// Run delivers events until ctx is done, then waits for the requests in
// flight (each bounded by Config.Timeout), records them and returns nil.
// Call it once, and keep the database open until it has returned. It
// returns an error only for an invalid Config. With delivery disabled (no
// URL) it only keeps the gauges up to date.
func (d *Dispatcher) Run(ctx context.Context) error {
	if err := d.cfg.Validate(); err != nil {
		return err
	}
	if !d.cfg.Enabled() {
		d.log.Warn("outbox delivery disabled (no provisioning or SMS URL): events stay pending")
		return d.idle(ctx)
	}
	d.log.WithFields(logrus.Fields{
		"provisioning_url": redact(d.cfg.ProvisioningURL), "sms_url": redact(d.cfg.SMSURL),
		"max_attempts": d.cfg.MaxAttempts, "concurrency": d.cfg.Concurrency,
	}).Info("outbox dispatcher started")

	var (
		wg       sync.WaitGroup
		results  = make(chan result, d.cfg.Concurrency) // never blocks a sender: at most Concurrency in flight
		inflight = map[string]int64{}                   // number → the event being delivered
		done     []result                               // finished, not yet recorded
		timer    = time.NewTimer(0)
	)
	defer timer.Stop()
	// Requests in flight at shutdown run to their end (Timeout) and are
	// recorded, rather than abandoned and sent again by the next process.
	reqCtx := context.WithoutCancel(ctx)

	for {
		// Record what finished before reading the outbox again: Due reads
		// a snapshot, and an event leaves inflight only once its outcome
		// is committed, so Due never hands back a delivered event.
		if len(done) > 0 && d.record(ctx, done) {
			for _, r := range done {
				delete(inflight, r.event.Number)
			}
			done = done[:0]
		}
		if ctx.Err() != nil {
			break
		}
		if free := d.cfg.Concurrency - len(inflight); free > 0 && len(done) == 0 {
			// The events in flight are still due, first of their numbers:
			// ask for that many more.
			events, err := d.store.Due(ctx, d.now(), len(inflight)+free)
			if err != nil && ctx.Err() == nil {
				d.log.WithError(err).Error("outbox: reading due events")
			}
			for _, e := range events {
				if free == 0 {
					break
				}
				if _, busy := inflight[e.Number]; busy {
					continue
				}
				target := d.url(e.Kind)
				inflight[e.Number] = e.ID
				free--
				wg.Add(1)
				go func() {
					defer wg.Done()
					results <- d.deliver(reqCtx, e, target)
				}()
			}
		}
		d.refreshStats(ctx)

		select {
		case <-ctx.Done():
		case r := <-results:
			done = append(done, r)
		drain:
			for {
				select {
				case r := <-results:
					done = append(done, r)
				default:
					break drain
				}
			}
		case <-d.wake:
		case <-timer.C:
			timer.Reset(d.cfg.Poll)
		}
	}

	go func() { wg.Wait(); close(results) }()
	for r := range results {
		done = append(done, r)
	}
	if len(done) > 0 {
		d.record(context.WithoutCancel(ctx), done)
	}
	d.log.Info("outbox dispatcher stopped")
	return nil
}

// idle refreshes the gauges until ctx is done.
func (d *Dispatcher) idle(ctx context.Context) error {
	t := time.NewTicker(d.statsEvery)
	defer t.Stop()
	for {
		d.refreshStats(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// url returns where events of kind go; "" for a kind it does not know.
func (d *Dispatcher) url(kind string) string {
	switch kind {
	case db.EventUnsubscribe:
		return d.cfg.ProvisioningURL
	case db.EventSMS:
		return d.cfg.SMSURL
	}
	return ""
}

// record commits the outcomes of finished attempts, counts and logs them.
// It reports false if the database refused: the caller keeps them and
// tries again at the next poll (the events stay in flight meanwhile, so
// they are not delivered again).
func (d *Dispatcher) record(ctx context.Context, done []result) bool {
	attempts := make([]db.Attempt, len(done))
	for i, r := range done {
		attempts[i] = r.attempt
	}
	if _, err := d.store.RecordAttempts(ctx, attempts); err != nil {
		if ctx.Err() == nil {
			d.log.WithError(err).WithField("events", len(done)).Error("outbox: recording delivery attempts; will try again")
		}
		return false
	}
	for _, r := range done {
		e, a := r.event, r.attempt
		kind := e.Kind
		log := d.log.WithFields(logrus.Fields{
			"event_id": e.ID, "kind": kind, "number": unsubivr.MaskNumber(e.Number), "attempt": e.Attempts + 1,
		})
		if a.Sent {
			d.metrics.delivered.WithLabelValues(kind).Inc()
			log.Debug("outbox: delivered")
			continue
		}
		log = log.WithField("error", a.Error)
		if a.Park {
			d.metrics.parked.WithLabelValues(kind).Inc()
			d.parkedCount++
			d.metrics.parkedNow.Set(float64(d.parkedCount))
			log.Error("outbox: event parked after its last attempt; `unsubivr outbox retry` re-queues it")
		} else {
			log.WithField("next_attempt_at", a.Next).Warn("outbox: delivery failed; will retry")
		}
	}
	return true
}

// refreshStats updates the gauges when they are due.
func (d *Dispatcher) refreshStats(ctx context.Context) {
	now := time.Now()
	if now.Sub(d.statsAt) < d.statsEvery {
		return
	}
	d.statsAt = now
	s, err := d.store.OutboxStats(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.WithError(err).Warn("outbox: counting pending events")
		}
		return
	}
	d.metrics.pending.Set(float64(s.Pending))
	age := 0.0
	if !s.OldestPending.IsZero() {
		age = max(d.now().Sub(s.OldestPending).Seconds(), 0)
	}
	d.metrics.oldest.Set(age)

	if now.Sub(d.parkedAt) < d.parkedEvery {
		return
	}
	n, err := d.store.OutboxParked(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.WithError(err).Warn("outbox: counting parked events")
		}
		return
	}
	d.parkedAt, d.parkedCount = now, n
	d.metrics.parkedNow.Set(float64(n))
}

// redact returns u for the log without its password and query, where
// webhook credentials tend to be.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable)"
	}
	if p.RawQuery != "" {
		p.RawQuery = "redacted"
	}
	return p.Redacted()
}
