package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/unsubivr/unsubivr"
)

func TestCalls(t *testing.T) {
	e := newEnv(t)
	start := time.Now().UTC().Truncate(time.Second)
	log := unsubivr.CallLog{CallID: "1795325466.7", Caller: "13800138000", Number: "13800138000", Language: unsubivr.ZhCN,
		FlowVersion: "abc", StartedAt: start, EndedAt: start.Add(20 * time.Second), Outcome: "cancelled",
		Trace: []unsubivr.CallEvent{{At: start, Kind: "node", Node: "welcome"}, {At: start.Add(time.Second), Kind: "key", Node: "services", Detail: "1"}}}
	if err := e.d.SaveCallLog(context.Background(), log); err != nil {
		t.Fatal(err)
	}
	var list struct{ Calls []map[string]any }
	r := e.do(t, call{method: "GET", path: "/v1/calls?number=13800138000&since=" + start.Add(-time.Minute).Format(time.RFC3339)})
	r.json(t, &list)
	if r.status != 200 || len(list.Calls) != 1 || list.Calls[0]["call_id"] != "1795325466.7" || list.Calls[0]["trace"] != nil {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	var one struct {
		Outcome string
		Trace   []unsubivr.CallEvent
	}
	r = e.do(t, call{method: "GET", path: "/v1/calls/1795325466.7"})
	r.json(t, &one)
	if r.status != 200 || one.Outcome != "cancelled" || len(one.Trace) != 2 || one.Trace[1].Detail != "1" {
		t.Fatalf("show: %d %s", r.status, r.body)
	}
	for _, bad := range []struct {
		path, code string
		status     int
	}{
		{"/v1/calls/nope", "not_found", 404},
		{"/v1/calls?number=138abc", "invalid", 400},
		{"/v1/calls?since=yesterday", "invalid", 400},
		{"/v1/calls?limit=0", "invalid", 400},
	} {
		r := e.do(t, call{method: "GET", path: bad.path})
		if r.status != bad.status || r.errorCode(t) != bad.code {
			t.Errorf("%s: %d %s, want %d %s", bad.path, r.status, r.body, bad.status, bad.code)
		}
	}
}
