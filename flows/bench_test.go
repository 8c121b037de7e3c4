package flows_test

import (
	"context"
	"testing"

	"github.com/unsubivr/unsubivr/flows"
	"github.com/unsubivr/unsubivr/flows/flowstest"
)

// BenchmarkMenuStep measures the engine's cost of one menu step on the
// default flow: build the services menu (two subscriptions read with
// their fees), hand it to the call, match the key, act on it ("*"
// replays the menu). The fake call costs little; the store is in memory.
// Target: under 50 µs a step.
func BenchmarkMenuStep(b *testing.B) {
	bundle := mustBundle(b)
	keys := make([]string, 0, b.N+2)
	keys = append(keys, "t")
	for i := 0; i < b.N; i++ {
		keys = append(keys, "*")
	}
	keys = append(keys, "h")
	call := &flowstest.Call{CallID: "bench", CallerID: "13800138000", Keys: keys}
	e := &flows.Engine{Store: flowstest.Demo(), MaxRepeats: b.N + 1}
	b.ReportAllocs()
	b.ResetTimer()
	log, err := e.Run(context.Background(), bundle, call, flows.Start{})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if got := len(call.Prompts); got != b.N+2 {
		b.Fatalf("%d prompts for %d steps", got, b.N)
	}
	_ = log
}
