package ivr

import (
	"fmt"
	"math/rand"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
)

func dtmf(ch, digit string) *ari.ChannelDtmfReceived {
	return &ari.ChannelDtmfReceived{EventData: ari.EventData{Type: ari.Events.ChannelDtmfReceived},
		Channel: ari.ChannelData{ID: ch}, Digit: digit}
}

func varset(ch string, n int) *ari.ChannelVarset {
	return &ari.ChannelVarset{EventData: ari.EventData{Type: ari.Events.ChannelVarset},
		Channel: ari.ChannelData{ID: ch}, Variable: "N", Value: strconv.Itoa(n)}
}

func pbEvent(typ, ch, id string) ari.Event {
	d := ari.PlaybackData{ID: id, TargetURI: "channel:" + ch}
	switch typ {
	case ari.Events.PlaybackStarted:
		return &ari.PlaybackStarted{EventData: ari.EventData{Type: typ}, Playback: d}
	default:
		return &ari.PlaybackFinished{EventData: ari.EventData{Type: typ}, Playback: d}
	}
}

// TestRouterBurst sends a burst of events for many calls from one
// goroutine, as the websocket reader does, while slow consumers read:
// every subscription must get every event meant for it, in order.
func TestRouterBurst(t *testing.T) {
	const calls, perCall = 300, 400 // 120,000 channel events + playback events
	r := newRouter()
	type consumer struct {
		all, keys *subscription
		pb        *subscription
	}
	cons := make([]consumer, calls)
	for i := range cons {
		rt := r.add(fmt.Sprintf("ch%d", i))
		cons[i] = consumer{
			all:  rt.subscribe(""),
			keys: rt.subscribe("", ari.Events.ChannelDtmfReceived),
			pb:   rt.subscribe(fmt.Sprintf("pb%d", i), ari.Events.PlaybackFinished),
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, calls*3)
	read := func(s *subscription, want int, check func(n int, e ari.Event) error) {
		defer wg.Done()
		rnd := rand.New(rand.NewSource(int64(want)))
		for n := 0; n < want; n++ {
			select {
			case e := <-s.Events():
				if err := check(n, e); err != nil {
					errs <- err
					return
				}
			case <-time.After(10 * time.Second):
				errs <- fmt.Errorf("got %d of %d events", n, want)
				return
			}
			if rnd.Intn(50) == 0 {
				time.Sleep(time.Millisecond) // a slow reader: queues must absorb it
			}
		}
	}
	for i, c := range cons {
		ch := fmt.Sprintf("ch%d", i)
		wg.Add(3)
		go read(c.all, perCall, func(n int, e ari.Event) error {
			if n%2 == 0 {
				if v, ok := e.(*ari.ChannelVarset); !ok || v.Channel.ID != ch || v.Value != strconv.Itoa(n) {
					return fmt.Errorf("%s event %d: got %#v", ch, n, e)
				}
			} else if d, ok := e.(*ari.ChannelDtmfReceived); !ok || d.Channel.ID != ch || d.Digit != strconv.Itoa(n%10) {
				return fmt.Errorf("%s event %d: got %#v", ch, n, e)
			}
			return nil
		})
		go read(c.keys, perCall/2, func(n int, e ari.Event) error {
			d, ok := e.(*ari.ChannelDtmfReceived)
			if !ok || d.Channel.ID != ch || d.Digit != strconv.Itoa((n*2+1)%10) {
				return fmt.Errorf("%s key %d: got %#v", ch, n, e)
			}
			return nil
		})
		go read(c.pb, 1, func(n int, e ari.Event) error {
			if _, ok := e.(*ari.PlaybackFinished); !ok {
				return fmt.Errorf("%s playback: got %#v", ch, e)
			}
			return nil
		})
	}
	start := time.Now()
	for n := 0; n < perCall; n++ {
		for i := 0; i < calls; i++ {
			ch := fmt.Sprintf("ch%d", i)
			var e ari.Event
			if n%2 == 0 {
				e = varset(ch, n)
			} else {
				e = dtmf(ch, strconv.Itoa(n%10))
			}
			if !r.dispatch(e) {
				t.Fatalf("event for %s not routed", ch)
			}
		}
	}
	for i := 0; i < calls; i++ {
		r.dispatch(pbEvent(ari.Events.PlaybackStarted, fmt.Sprintf("ch%d", i), fmt.Sprintf("pb%d", i)))
		r.dispatch(pbEvent(ari.Events.PlaybackFinished, fmt.Sprintf("ch%d", i), fmt.Sprintf("pb%d", i)))
	}
	t.Logf("dispatched %d events in %v", calls*(perCall+2), time.Since(start))
	if r.dispatch(dtmf("nobody", "1")) {
		t.Error("an event for an unknown channel was routed")
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if q := r.queued.Load(); q != 0 {
		t.Errorf("queued = %d after every event was read", q)
	}
	before := runtime.NumGoroutine()
	for _, rt := range r.all() {
		rt.close()
		r.remove(rt)
	}
	waitGoroutines(t, before-calls*3)
	if len(r.all()) != 0 {
		t.Error("routes left")
	}
}

// TestRouterGate: keys are discarded until the gated playbacks finish.
func TestRouterGate(t *testing.T) {
	r := newRouter()
	rt := r.add("c")
	s := rt.subscribe("", ari.Events.ChannelDtmfReceived)
	defer s.Cancel()
	rt.staged("old", rt.beginPrompt())
	p := rt.beginPrompt()
	rt.staged("p1", p)
	rt.staged("p2", p)
	rt.setGate(p, 2)
	r.dispatch(dtmf("c", "1"))
	r.dispatch(pbEvent(ari.Events.PlaybackFinished, "c", "old")) // a late clip of the prompt before
	r.dispatch(dtmf("c", "1"))
	r.dispatch(pbEvent(ari.Events.PlaybackFinished, "c", "p1"))
	r.dispatch(dtmf("c", "2"))
	r.dispatch(pbEvent(ari.Events.PlaybackFinished, "c", "p1")) // twice: counts once
	r.dispatch(dtmf("c", "2"))
	r.dispatch(pbEvent(ari.Events.PlaybackFinished, "c", "p2"))
	r.dispatch(dtmf("c", "3"))
	select {
	case e := <-s.Events():
		if d := e.(*ari.ChannelDtmfReceived).Digit; d != "3" {
			t.Errorf("first key through the gate %q, want 3", d)
		}
	case <-time.After(time.Second):
		t.Fatal("no key after the gate opened")
	}
	if rt.playing("p1") || rt.playing("p2") {
		t.Error("finished playbacks still playing")
	}
}

// TestRouterReplace: a channel entering again gets a new route; removing
// the old one leaves the new.
func TestRouterReplace(t *testing.T) {
	r := newRouter()
	old := r.add("c")
	nu := r.add("c")
	r.remove(old)
	if r.get("c") != nu {
		t.Fatal("removing the old route removed the new one")
	}
}

// waitGoroutines waits until at most n goroutines run.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := runtime.NumGoroutine()
		if got <= n {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, want at most %d:\n%s", got, n, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
