package sipcall

import (
	"fmt"
	"strings"
	"time"
)

type stepKind int

const (
	stepWait stepKind = iota
	stepPress
	stepHangup
)

// Step is one step of a caller's plan: build them with Wait, Press, PressTimed
// and Hangup.
type Step struct {
	kind stepKind
	d    time.Duration // Wait: how long
	keys string        // Press
	tone time.Duration // Press: tone length per key
	gap  time.Duration // Press: silence after each key
}

// Wait stays silent for d.
func Wait(d time.Duration) Step { return Step{kind: stepWait, d: d} }

// Press sends keys (0-9, *, #, A-D) one after the other: each key is a
// DefaultToneDuration tone followed by DefaultKeyGap of silence, so a key
// takes 460 ms of the plan.
func Press(keys string) Step {
	return Step{kind: stepPress, keys: keys, tone: DefaultToneDuration, gap: DefaultKeyGap}
}

// PressTimed is Press with an explicit tone length and silence after each key.
func PressTimed(keys string, tone, gap time.Duration) Step {
	return Step{kind: stepPress, keys: keys, tone: tone, gap: gap}
}

// Hangup ends the call from our side (BYE); it must be the last step. A plan
// without it waits for the far end to hang up.
func Hangup() Step { return Step{kind: stepHangup} }

func (s Step) String() string {
	switch s.kind {
	case stepWait:
		return "wait " + s.d.String()
	case stepPress:
		return "press " + s.keys
	default:
		return "hangup"
	}
}

// Plan is a caller's plan in time: the keys with their times from the start
// of media, and how long it runs.
type Plan struct {
	Keys []Key
	// Length is the time from the start of media to the end of the last step
	// (the BYE when Hangup is set).
	Length time.Duration
	// Hangup: we hang up at Length; otherwise we wait for the far end.
	Hangup bool
}

// NewPlan lays the steps out in time. The first step starts with media
// (right after our ACK of the 200 OK).
func NewPlan(steps ...Step) (Plan, error) {
	var p Plan
	var t time.Duration
	for i, s := range steps {
		if p.Hangup {
			return Plan{}, fmt.Errorf("sipcall: step %d (%v) after hangup", i, s)
		}
		switch s.kind {
		case stepWait:
			if s.d < 0 {
				return Plan{}, fmt.Errorf("sipcall: step %d: negative wait", i)
			}
			t += s.d
		case stepPress:
			if s.keys == "" {
				return Plan{}, fmt.Errorf("sipcall: step %d: press of no keys", i)
			}
			tone := s.tone
			if tone <= 0 {
				tone = DefaultToneDuration
			}
			if s.gap < PacketInterval*endPackets {
				return Plan{}, fmt.Errorf("sipcall: step %d: gap %v shorter than the %v of end packets", i, s.gap, PacketInterval*endPackets)
			}
			for _, d := range s.keys {
				if _, err := EventCode(d); err != nil {
					return Plan{}, fmt.Errorf("sipcall: step %d: %w", i, err)
				}
				p.Keys = append(p.Keys, Key{Digit: d, At: t, Duration: tone})
				t += tone + s.gap
			}
		case stepHangup:
			p.Hangup = true
		}
	}
	p.Length = t
	return p, nil
}

// Digits is the keys of the plan as a string, e.g. "13800138000#".
func (p Plan) Digits() string {
	var b strings.Builder
	for _, k := range p.Keys {
		b.WriteRune(k.Digit)
	}
	return b.String()
}

// ScriptSteps turns a flow-engine key script such as "t 1 13800138000# h"
// into steps. Tokens are separated by spaces: "t" stays silent (until the
// IVR's timeout), "h" hangs up (must be last), anything else is a string of
// keys pressed with Press. Before each token, wait(i, token) gives the
// silence to keep first (e.g. the length of the prompt being answered, or
// the IVR's timeout plus a margin for "t"); it may return 0.
func ScriptSteps(script string, wait func(i int, token string) time.Duration) ([]Step, error) {
	var steps []Step
	toks := strings.Fields(script)
	for i, tok := range toks {
		if d := wait(i, tok); d > 0 {
			steps = append(steps, Wait(d))
		}
		switch tok {
		case "t":
		case "h":
			if i != len(toks)-1 {
				return nil, fmt.Errorf("sipcall: script %q: h must be the last token", script)
			}
			steps = append(steps, Hangup())
		default:
			for _, d := range tok {
				if _, err := EventCode(d); err != nil {
					return nil, fmt.Errorf("sipcall: script %q: %w", script, err)
				}
			}
			steps = append(steps, Press(tok))
		}
	}
	return steps, nil
}
