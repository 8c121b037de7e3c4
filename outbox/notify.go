package outbox

import (
	"context"

	"github.com/unsubivr/unsubivr"
)

// Notifying returns a store that is s and, after every cancel that
// committed outbox events, calls d.Notify: events then go out at once
// instead of at the next poll.
func Notifying(s unsubivr.Store, d *Dispatcher) unsubivr.Store {
	return &notifyingStore{Store: s, d: d}
}

type notifyingStore struct {
	unsubivr.Store
	d *Dispatcher
}

func (n *notifyingStore) Unsubscribe(ctx context.Context, req unsubivr.Request) (unsubivr.Result, error) {
	res, err := n.Store.Unsubscribe(ctx, req)
	if err == nil && res.Outcome == unsubivr.Cancelled {
		n.d.Notify()
	}
	return res, err
}

func (n *notifyingStore) UnsubscribeAll(ctx context.Context, req unsubivr.Request) (unsubivr.Result, error) {
	res, err := n.Store.UnsubscribeAll(ctx, req)
	if err == nil && res.Outcome == unsubivr.Cancelled {
		n.d.Notify()
	}
	return res, err
}
