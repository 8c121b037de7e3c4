package ivr

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/CyCoreSystems/ari/v5"
)

// Event routing.
//
// ari/v5's stdbus hands every event to every subscription (a linear scan
// per event) and silently drops an event when a subscription's 100-slot
// buffer is full: measured, an ext/play app loses calls from about 60
// calls/s. The adapter therefore does not use stdbus at all. The websocket
// reader (one goroutine) decodes each event and hands it to router.dispatch,
// which finds the call by channel id in a map (playback events by their
// target channel), and appends the event to the unbounded queue of each of
// that call's matching subscriptions. dispatch never blocks and never drops;
// each subscription has one pump goroutine that feeds its queue into the
// channel ext/play reads. A call has a handful of subscriptions, so an event
// costs O(1) whatever the number of live calls, and the events of one call
// reach its subscriptions in the order Asterisk sent them.

// router dispatches ARI events to the routes (calls) they concern.
type router struct {
	mu     sync.Mutex
	routes map[string]*route // by channel id

	queued    atomic.Int64 // events routed but not yet taken by a subscriber
	onQueue   func(depth int64)
	onLatency func(time.Duration) // digit-to-prompt latency, see route.answered
}

func newRouter() *router {
	return &router{routes: map[string]*route{}}
}

// add registers a route for channel id, replacing any earlier one (a
// channel may come back into Stasis after a transfer).
func (r *router) add(id string) *route {
	rt := &route{r: r, channel: id, playbacks: map[string]int{}}
	r.mu.Lock()
	r.routes[id] = rt
	r.mu.Unlock()
	return rt
}

// remove unregisters rt, if it is still the route of its channel.
func (r *router) remove(rt *route) {
	r.mu.Lock()
	if r.routes[rt.channel] == rt {
		delete(r.routes, rt.channel)
	}
	r.mu.Unlock()
}

func (r *router) get(id string) *route {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.routes[id]
}

// all returns the live routes.
func (r *router) all() []*route {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*route, 0, len(r.routes))
	for _, rt := range r.routes {
		out = append(out, rt)
	}
	return out
}

// dispatch delivers e to the route of the channel it concerns. It reports
// whether some route took it.
func (r *router) dispatch(e ari.Event) bool {
	id := eventChannel(e)
	if id == "" {
		return false
	}
	rt := r.get(id)
	if rt == nil {
		return false
	}
	rt.deliver(e)
	return true
}

func (r *router) queuedAdd(n int64) {
	d := r.queued.Add(n)
	if r.onQueue != nil {
		r.onQueue(d)
	}
}

// eventChannel returns the id of the channel e concerns: the channel of a
// channel event, the target channel of a playback event.
func eventChannel(e ari.Event) string {
	switch v := e.(type) {
	case *ari.PlaybackStarted:
		return targetChannel(v.Playback.TargetURI)
	case *ari.PlaybackContinuing:
		return targetChannel(v.Playback.TargetURI)
	case *ari.PlaybackFinished:
		return targetChannel(v.Playback.TargetURI)
	}
	for _, k := range e.Keys() {
		if k.Kind == ari.ChannelKey && k.ID != "" {
			return k.ID
		}
	}
	return ""
}

func targetChannel(uri string) string {
	if id, ok := strings.CutPrefix(uri, "channel:"); ok {
		return id
	}
	return ""
}

// route is one call's share of the event stream.
type route struct {
	r       *router
	channel string

	mu        sync.Mutex
	subs      []*subscription
	playbacks map[string]int // playbacks staged on this channel and not yet finished, by prompt
	prompts   int            // prompts begun (numbers them)
	gate      int            // playbacks of prompt gateOf to finish before keys go through (no barge-in)
	gateOf    int
	lastDTMF  time.Time       // when the last key let through arrived
	answer    time.Time       // when the key that answered the last prompt arrived
	hook      func(ari.Event) // called in order for every event, under mu; must not block
}

// deliver runs the route's hook and queues e on the matching subscriptions.
func (rt *route) deliver(e ari.Event) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	typ := e.GetType()
	var pb string
	switch v := e.(type) {
	case *ari.PlaybackStarted:
		pb = v.Playback.ID
		if _, ok := rt.playbacks[pb]; ok && !rt.answer.IsZero() {
			if rt.r.onLatency != nil {
				rt.r.onLatency(time.Since(rt.answer))
			}
			rt.answer = time.Time{}
		}
	case *ari.PlaybackContinuing:
		pb = v.Playback.ID
	case *ari.PlaybackFinished:
		pb = v.Playback.ID
		if p, ok := rt.playbacks[pb]; ok {
			delete(rt.playbacks, pb)
			// a clip of an earlier prompt, stopped by a barge-in, may
			// finish late: it does not open this prompt's gate
			if p == rt.gateOf && rt.gate > 0 {
				rt.gate--
			}
		}
	case *ari.ChannelDtmfReceived:
		if rt.gate > 0 {
			return // a key while a no-barge-in prompt plays: discarded
		}
		rt.lastDTMF = time.Now()
	}
	if rt.hook != nil {
		rt.hook(e)
	}
	for _, s := range rt.subs {
		if s.wants(typ, pb) {
			s.push(e)
		}
	}
}

// subscribe opens a subscription to the events of types (all if none) of
// the route's channel or, with playback set, of that playback.
func (rt *route) subscribe(playback string, types ...string) *subscription {
	return rt.subscribePaced(playback, nil, types...)
}

// subscribePaced is subscribe with a pace function (see subscription.pace).
func (rt *route) subscribePaced(playback string, pace func(ari.Event, bool, <-chan struct{}) bool, types ...string) *subscription {
	s := &subscription{
		rt: rt, playback: playback, types: types, pace: pace,
		wake: make(chan struct{}, 1),
		out:  make(chan ari.Event),
		done: make(chan struct{}),
	}
	rt.mu.Lock()
	rt.subs = append(rt.subs, s)
	rt.mu.Unlock()
	go s.pump()
	return s
}

func (rt *route) unsubscribe(s *subscription) {
	rt.mu.Lock()
	for i, x := range rt.subs {
		if x == s {
			rt.subs = append(rt.subs[:i], rt.subs[i+1:]...)
			break
		}
	}
	rt.mu.Unlock()
}

// beginPrompt numbers a new prompt.
func (rt *route) beginPrompt() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.prompts++
	return rt.prompts
}

// staged records that playback id of prompt p was started on the channel.
func (rt *route) staged(id string, p int) {
	rt.mu.Lock()
	rt.playbacks[id] = p
	rt.mu.Unlock()
}

// finished forgets playback id (it failed to start).
func (rt *route) finished(id string) {
	rt.mu.Lock()
	delete(rt.playbacks, id)
	rt.mu.Unlock()
}

// answered notes that the last key let through answered a prompt: the
// next playback to start measures the digit-to-prompt latency.
func (rt *route) answered() {
	rt.mu.Lock()
	rt.answer = rt.lastDTMF
	rt.mu.Unlock()
}

// playing reports whether playback id was staged and has not finished.
func (rt *route) playing(id string) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	_, ok := rt.playbacks[id]
	return ok
}

// setGate makes the route discard keys until n more playbacks of prompt
// p have finished.
func (rt *route) setGate(p, n int) {
	rt.mu.Lock()
	rt.gate, rt.gateOf = n, p
	rt.mu.Unlock()
}

// close cancels every subscription still open.
func (rt *route) close() {
	rt.mu.Lock()
	subs := rt.subs
	rt.subs = nil
	rt.mu.Unlock()
	for _, s := range subs {
		s.Cancel()
	}
}

// subscription is an ari.Subscription fed by a route through an unbounded
// queue. Its pump goroutine ends when it is cancelled.
type subscription struct {
	rt       *route
	playback string   // "" for channel events
	types    []string // nil for all

	mu    sync.Mutex
	queue []ari.Event
	wake  chan struct{}
	out   chan ari.Event
	done  chan struct{}
	once  sync.Once

	// pace, if set, is called before each event is handed on (first tells
	// whether it is the first) and returns when it may go, or false once
	// the subscription is cancelled. See prompt.go.
	pace func(e ari.Event, first bool, done <-chan struct{}) bool
}

func (s *subscription) wants(typ, playback string) bool {
	if s.playback != playback {
		return false
	}
	if len(s.types) == 0 {
		return true
	}
	for _, t := range s.types {
		if t == typ || t == ari.Events.All {
			return true
		}
	}
	return false
}

func (s *subscription) push(e ari.Event) {
	s.mu.Lock()
	s.queue = append(s.queue, e)
	s.mu.Unlock()
	s.rt.r.queuedAdd(1)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscription) pop() (ari.Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return nil, false
	}
	e := s.queue[0]
	s.queue[0] = nil
	s.queue = s.queue[1:]
	return e, true
}

func (s *subscription) pump() {
	defer close(s.out)
	defer func() { // what is left was never taken
		s.mu.Lock()
		n := len(s.queue)
		s.queue = nil
		s.mu.Unlock()
		if n > 0 {
			s.rt.r.queuedAdd(-int64(n))
		}
	}()
	first := true
	for {
		e, ok := s.pop()
		if !ok {
			select {
			case <-s.wake:
				continue
			case <-s.done:
				return
			}
		}
		if s.pace != nil && !s.pace(e, first, s.done) {
			s.rt.r.queuedAdd(-1)
			return
		}
		select {
		case s.out <- e:
			s.rt.r.queuedAdd(-1)
			first = false
		case <-s.done:
			s.rt.r.queuedAdd(-1)
			return
		}
	}
}

// Events implements ari.Subscription.
func (s *subscription) Events() <-chan ari.Event { return s.out }

// Cancel implements ari.Subscription. The events channel is closed once
// the pump has stopped.
func (s *subscription) Cancel() {
	s.once.Do(func() {
		s.rt.unsubscribe(s)
		close(s.done)
	})
}
