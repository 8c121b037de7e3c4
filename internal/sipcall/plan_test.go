package sipcall

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const ms = time.Millisecond

func TestNewPlan(t *testing.T) {
	p, err := NewPlan(Wait(2*time.Second), Press("13#"), Wait(time.Second), PressTimed("0", 100*ms, 200*ms), Hangup())
	if err != nil {
		t.Fatal(err)
	}
	want := Plan{
		Keys: []Key{
			{Digit: '1', At: 2000 * ms, Duration: 160 * ms},
			{Digit: '3', At: 2460 * ms, Duration: 160 * ms},
			{Digit: '#', At: 2920 * ms, Duration: 160 * ms},
			{Digit: '0', At: 4380 * ms, Duration: 100 * ms},
		},
		Length: 4680 * ms,
		Hangup: true,
	}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("plan\n%+v\nwant\n%+v", p, want)
	}
	if p.Digits() != "13#0" {
		t.Fatalf("Digits %q", p.Digits())
	}
	// every plan's keys make a valid capture
	if err := WriteDTMFCapture(discard{}, p.Keys, CaptureOptions{Duration: p.Length}); err != nil {
		t.Fatal(err)
	}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

func TestNewPlanNoHangup(t *testing.T) {
	p, err := NewPlan(Wait(time.Second))
	if err != nil || p.Hangup || p.Length != time.Second || len(p.Keys) != 0 {
		t.Fatalf("%+v %v", p, err)
	}
	p, err = NewPlan()
	if err != nil || p.Hangup || p.Length != 0 {
		t.Fatalf("empty plan: %+v %v", p, err)
	}
}

func TestNewPlanErrors(t *testing.T) {
	for _, tc := range []struct {
		steps []Step
		want  string
	}{
		{[]Step{Hangup(), Wait(time.Second)}, "after hangup"},
		{[]Step{Press("12x")}, "not a DTMF key"},
		{[]Step{Press("")}, "no keys"},
		{[]Step{Wait(-time.Second)}, "negative"},
		{[]Step{PressTimed("12", 100*ms, 40*ms)}, "gap"},
	} {
		if _, err := NewPlan(tc.steps...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.steps, err, tc.want)
		}
	}
}

func TestScriptSteps(t *testing.T) {
	var seen []string
	steps, err := ScriptSteps("t 1  13800138000# h", func(i int, tok string) time.Duration {
		seen = append(seen, tok)
		switch tok {
		case "t":
			return 6 * time.Second
		case "h":
			return 0
		}
		return 3 * time.Second
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{Wait(6 * time.Second), Wait(3 * time.Second), Press("1"), Wait(3 * time.Second), Press("13800138000#"), Hangup()}
	if !reflect.DeepEqual(steps, want) {
		t.Fatalf("steps %v, want %v", steps, want)
	}
	if !reflect.DeepEqual(seen, []string{"t", "1", "13800138000#", "h"}) {
		t.Fatalf("wait called with %q", seen)
	}
	p, err := NewPlan(steps...)
	if err != nil {
		t.Fatal(err)
	}
	if p.Digits() != "113800138000#" || !p.Hangup || p.Keys[0].At != 9*time.Second {
		t.Fatalf("plan %+v", p)
	}

	for _, bad := range []string{"1 h 2", "1x"} {
		if _, err := ScriptSteps(bad, func(int, string) time.Duration { return 0 }); err == nil {
			t.Errorf("ScriptSteps(%q): no error", bad)
		}
	}
}
