package outbox

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/unsubivr/unsubivr/db"
)

// metrics are the dispatcher's Prometheus metrics (docs/outbox.md).
type metrics struct {
	delivered *prometheus.CounterVec
	failures  *prometheus.CounterVec
	parked    *prometheus.CounterVec
	parkedNow prometheus.Gauge
	pending   prometheus.Gauge
	oldest    prometheus.Gauge
}

// newMetrics creates the metrics and registers them with reg, if not nil.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "unsubivr_outbox_delivered_total",
			Help: "Outbox events delivered (answered 2xx), by kind.",
		}, []string{"kind"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "unsubivr_outbox_failures_total",
			Help: "Failed delivery attempts of outbox events, by kind and reason (timeout, connection, http_3xx, http_4xx, http_5xx, other).",
		}, []string{"kind", "reason"}),
		parked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "unsubivr_outbox_parked_total",
			Help: "Outbox events parked after their last failed attempt, by kind.",
		}, []string{"kind"}),
		parkedNow: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "unsubivr_outbox_parked",
			Help: "Outbox events parked now, waiting for `unsubivr outbox retry` (recounted every minute).",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "unsubivr_outbox_pending",
			Help: "Outbox events not yet delivered nor parked.",
		}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "unsubivr_outbox_oldest_pending_seconds",
			Help: "Age of the oldest pending outbox event; 0 if none.",
		}),
	}
	for _, kind := range []string{db.EventUnsubscribe, db.EventSMS} {
		// Present from the start, so that rate() and alerts see a 0.
		m.delivered.WithLabelValues(kind)
		m.parked.WithLabelValues(kind)
	}
	if reg != nil {
		reg.MustRegister(m.delivered, m.failures, m.parked, m.parkedNow, m.pending, m.oldest)
	}
	return m
}
