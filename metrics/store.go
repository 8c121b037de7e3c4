// Package metrics counts what the store does, whichever channel asked:
// it wraps any unsubivr.Store.
package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/unsubivr/unsubivr"
)

// Store is a unsubivr.Store that counts unsubscribes by service, channel
// and outcome, and store errors by code.
type Store struct {
	unsubivr.Store
	unsubscribes *prometheus.CounterVec
	errors       *prometheus.CounterVec
}

// NewStore wraps s and registers its counters with reg.
func NewStore(s unsubivr.Store, reg prometheus.Registerer) *Store {
	m := &Store{
		Store: s,
		unsubscribes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "unsubivr_unsubscribes_total",
			Help: "Services cancelled (or found already cancelled), by service, channel and outcome.",
		}, []string{"service", "channel", "outcome"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "unsubivr_store_errors_total",
			Help: "Failed unsubscribe requests, by error code.",
		}, []string{"code"}),
	}
	reg.MustRegister(m.unsubscribes, m.errors)
	return m
}

func (m *Store) count(req unsubivr.Request, res unsubivr.Result, err error) {
	if err != nil {
		m.errors.WithLabelValues(unsubivr.ErrorCode(err)).Inc()
		return
	}
	for _, svc := range res.Record.Services {
		m.unsubscribes.WithLabelValues(svc, string(req.Channel), string(res.Outcome)).Inc()
	}
}

// Unsubscribe implements unsubivr.Store.
func (m *Store) Unsubscribe(ctx context.Context, req unsubivr.Request) (unsubivr.Result, error) {
	res, err := m.Store.Unsubscribe(ctx, req)
	if err == nil && res.Outcome == unsubivr.AlreadyCancelled {
		// the original record may list other services too; count this one
		res.Record.Services = []string{req.ServiceCode}
	}
	m.count(req, res, err)
	return res, err
}

// UnsubscribeAll implements unsubivr.Store.
func (m *Store) UnsubscribeAll(ctx context.Context, req unsubivr.Request) (unsubivr.Result, error) {
	res, err := m.Store.UnsubscribeAll(ctx, req)
	m.count(req, res, err)
	return res, err
}
