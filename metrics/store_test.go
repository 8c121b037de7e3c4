package metrics_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/flows/flowstest"
	"github.com/unsubivr/unsubivr/metrics"
)

func TestStoreCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := metrics.NewStore(flowstest.Demo(), reg)
	ctx := context.Background()
	req := unsubivr.Request{Number: "13800138000", ServiceCode: "CRBT", Channel: unsubivr.ChannelIVR}
	for i := 0; i < 2; i++ {
		if _, err := s.Unsubscribe(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UnsubscribeAll(ctx, unsubivr.Request{Number: "13800138000", Channel: unsubivr.ChannelSMS}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unsubscribe(ctx, unsubivr.Request{Number: "13800138000", ServiceCode: "NOPE", Channel: unsubivr.ChannelAPI}); err == nil {
		t.Fatal("unknown service: want error")
	}
	want := `
# HELP unsubivr_unsubscribes_total Services cancelled (or found already cancelled), by service, channel and outcome.
# TYPE unsubivr_unsubscribes_total counter
unsubivr_unsubscribes_total{channel="ivr",outcome="already_cancelled",service="CRBT"} 1
unsubivr_unsubscribes_total{channel="ivr",outcome="cancelled",service="CRBT"} 1
unsubivr_unsubscribes_total{channel="sms",outcome="cancelled",service="BLUE_DIAMOND"} 1
`
	want += `
# HELP unsubivr_store_errors_total Failed unsubscribe requests, by error code.
# TYPE unsubivr_store_errors_total counter
unsubivr_store_errors_total{code="not_found"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "unsubivr_unsubscribes_total", "unsubivr_store_errors_total"); err != nil {
		t.Error(err)
	}
}
