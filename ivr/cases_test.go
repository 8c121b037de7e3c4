package ivr

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/flows"
	"github.com/unsubivr/unsubivr/flows/flowstest"
)

// Timing of the scripted caller against the fake Asterisk. The flow's
// digit timeouts are divided by caseSpeedup so that silences are short;
// the caller acts once nothing has played for callerIdle.
const (
	caseSpeedup = 3
	callerIdle  = 120 * time.Millisecond
	keyGap      = 20 * time.Millisecond
)

// TestCases places the engine's contract calls (flowstest.Cases) through
// the adapter: the real engine and default flow, the Server, ext/play and
// the websocket, against the fake Asterisk. A scripted caller answers a
// question when the application has gone quiet: keys, "t" (let it time
// out), "h" (hang up).
func TestCases(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: every silence is a real (shortened) timeout")
	}
	b, err := flows.LoadBundle("", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range b.Flows {
		for _, n := range f.Nodes {
			n.FirstDigitTimeout.Duration /= caseSpeedup
			n.InterDigitTimeout.Duration /= caseSpeedup
		}
	}
	for _, c := range flowstest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			store := flowstest.Demo()
			logs := make(chan *unsubivr.CallLog, 1)
			h := newHarness(t, func(s *Server) {
				s.Handler = func(ctx context.Context, call flows.Call, st flows.Start) string {
					e := &flows.Engine{Store: store, Log: s.Log}
					log, err := e.Run(ctx, b, call, st)
					if err != nil {
						t.Errorf("engine: %v", err)
						return OutcomeError
					}
					logs <- log
					return log.Outcome
				}
			})
			h.f.setClip(10 * time.Millisecond)
			keys, err := flowstest.ParseScript(c.Keys)
			if err != nil {
				t.Fatal(err)
			}
			cl := &scriptedCaller{f: h.f, id: "case", keys: keys, done: make(chan struct{}), quietAt: time.Now()}
			h.f.mu.Lock()
			h.f.onPlayback = cl.onPlayback
			h.f.mu.Unlock()
			h.f.waitConnected()
			var args []string
			if c.Entry != "" {
				args = []string{c.Entry, c.Number, c.AgentID, c.Service}
			}
			h.f.call(cl.id, c.Caller, args...)
			go cl.run()
			var log *unsubivr.CallLog
			select {
			case log = <-logs:
			case <-time.After(30 * time.Second):
				t.Fatalf("the call did not end; requests %q", h.f.requests())
			}
			cl.stop()
			if log.Outcome != c.Outcome {
				t.Errorf("outcome %q, want %q; trace:\n%s", log.Outcome, c.Outcome, trace(log))
			}
			var cancelled []string
			for _, r := range store.Records {
				cancelled = append(cancelled, r.Services...)
				if r.Channel != c.Channel || r.AgentID != c.AgentID || r.CallID != "case" {
					t.Errorf("record %+v: want channel %q, agent %q, call id case", r, c.Channel, c.AgentID)
				}
			}
			sort.Strings(cancelled)
			if !reflect.DeepEqual(cancelled, c.Cancels) {
				t.Errorf("cancelled %v, want %v; trace:\n%s", cancelled, c.Cancels, trace(log))
			}
			transferred := h.f.countRequests("continue case unsub-agent agent 1") == 1
			if transferred != c.Transfer {
				t.Errorf("transferred %v, want %v; requests %q", transferred, c.Transfer, h.f.requests())
			}
			if transferred && h.f.countRequests("setvar case UNSUB_CALL_ID case") != 1 {
				t.Errorf("transfer without UNSUB_CALL_ID: %q", h.f.requests())
			}
		})
	}
}

func trace(l *unsubivr.CallLog) string {
	var b strings.Builder
	for _, e := range l.Trace {
		b.WriteString("  " + e.Kind + " " + e.Node + " " + e.Detail + "\n")
	}
	return b.String()
}

// scriptedCaller plays a flowstest script against the fake Asterisk.
type scriptedCaller struct {
	f  *fakeAsterisk
	id string

	mu       sync.Mutex
	keys     []string
	playing  int
	quietAt  time.Time // when the last playback ended
	acted    bool      // acted in this silence
	done     chan struct{}
	stopOnce sync.Once
}

func (c *scriptedCaller) onPlayback(ch, uri, state string, stopped bool) {
	if ch != c.id {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if state == "playing" {
		c.playing++
		c.acted = false
	} else {
		c.playing--
		c.quietAt = time.Now()
	}
}

func (c *scriptedCaller) stop() { c.stopOnce.Do(func() { close(c.done) }) }

func (c *scriptedCaller) run() {
	for {
		select {
		case <-c.done:
			return
		case <-time.After(5 * time.Millisecond):
		}
		ch := c.f.channel(c.id)
		if ch == nil {
			return
		}
		c.mu.Lock()
		quiet := c.playing == 0 && !c.acted && time.Since(c.quietAt) >= callerIdle
		var tok string
		more := len(c.keys) > 0
		if quiet {
			c.acted = true
			if more {
				tok, c.keys = c.keys[0], c.keys[1:]
			}
		}
		c.mu.Unlock()
		switch {
		case !quiet:
		case !more || tok == flowstest.TokenHangup:
			c.f.hangup(c.id)
			return
		case tok == flowstest.TokenTimeout:
		default:
			c.f.press(c.id, strings.TrimPrefix(tok, flowstest.BargePrefix), keyGap)
		}
	}
}
