package ivr

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes the adapter itself reports in Metrics.Calls, besides those the
// Handler returns (flows.Outcome*).
const (
	OutcomeRejected = "rejected" // arrived while shutting down: sent back to the dialplan
	OutcomeError    = "error"    // the handler panicked ("" from the handler counts as "unknown")
)

// Metrics are the adapter's Prometheus metrics. Create them with
// NewMetrics; a Server without Metrics makes unregistered ones.
type Metrics struct {
	// ActiveCalls counts the calls in the application now.
	ActiveCalls prometheus.Gauge
	// Calls counts finished calls by outcome (what the Handler returned).
	Calls *prometheus.CounterVec
	// DigitToPrompt is the time from the key that answered a prompt to
	// the start of the next playback: how long the caller waits for the
	// application (flow, database) to react.
	DigitToPrompt prometheus.Histogram
	// QueuedEvents is the number of ARI events routed to calls and not yet
	// consumed. Queues are unbounded, so events are never dropped: a
	// growing value means calls cannot keep up.
	QueuedEvents prometheus.Gauge
	// Events counts ARI events received, by result: routed (to a call),
	// unrouted (for no live call), undecodable (ari/v5 does not know the
	// type or the JSON is bad).
	Events *prometheus.CounterVec
	// Connected is 1 while the ARI websocket is up.
	Connected prometheus.Gauge
	// Reconnects counts websocket connections after the first.
	Reconnects prometheus.Counter
}

// NewMetrics creates the adapter's metrics and registers them with reg,
// unless reg is nil. It panics if they are registered already, like
// prometheus.MustRegister.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns = "unsubivr" // names as in docs/operations.md
	m := &Metrics{
		ActiveCalls: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "calls_active",
			Help: "Calls in the ARI application now.",
		}),
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "calls_total",
			Help: "Finished calls by outcome.",
		}, []string{"outcome"}),
		DigitToPrompt: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "digit_to_prompt_seconds",
			Help:    "Time from the key that answered a prompt to the start of the next playback.",
			Buckets: []float64{.01, .025, .05, .1, .2, .3, .5, .75, 1, 1.5, 2, 3, 5},
		}),
		QueuedEvents: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "ari_event_queue_depth",
			Help: "ARI events routed to calls and not yet consumed (queues are unbounded: nothing is dropped).",
		}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "ari_events_total",
			Help: "ARI events received, by result: routed, unrouted, undecodable.",
		}, []string{"result"}),
		Connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "ari_connected",
			Help: "1 while the ARI websocket is connected.",
		}),
		Reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "ari_reconnects_total",
			Help: "ARI websocket connections after the first.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.ActiveCalls, m.Calls, m.DigitToPrompt, m.QueuedEvents, m.Events, m.Connected, m.Reconnects)
	}
	return m
}
