package db

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/unsubivr/unsubivr"
)

func TestCallLog(t *testing.T) {
	ctx := context.Background()
	d, c := MustOpenDB(t)
	t0 := c.Now()
	log := unsubivr.CallLog{
		CallID:      "call-1",
		Caller:      "13800138000",
		Number:      "13800138000",
		Language:    unsubivr.ZhCN,
		FlowVersion: "v1",
		StartedAt:   t0,
		Trace: []unsubivr.CallEvent{
			{At: t0, Kind: "node", Node: "welcome"},
			{At: t0.Add(2 * time.Second), Kind: "key", Node: "menu", Detail: "1"},
		},
	}

	t.Run("SaveAndRead", func(t *testing.T) {
		if err := d.SaveCallLog(ctx, log); err != nil {
			t.Fatal(err)
		}
		got, err := d.CallLog(ctx, "call-1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, log) {
			t.Fatalf("got %+v\nwant %+v", *got, log)
		}
	})

	t.Run("Upsert", func(t *testing.T) {
		log.EndedAt = t0.Add(time.Minute)
		log.Outcome = "cancelled"
		log.AgentID = "agent-7"
		log.Trace = append(log.Trace, unsubivr.CallEvent{At: log.EndedAt, Kind: "hangup"})
		if err := d.SaveCallLog(ctx, log); err != nil {
			t.Fatal(err)
		}
		got, err := d.CallLog(ctx, "call-1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, log) {
			t.Fatalf("got %+v\nwant %+v", *got, log)
		}
		if n := count(t, d, `SELECT count(*) FROM call_logs`); n != 1 {
			t.Fatalf("%d rows", n)
		}
	})

	t.Run("Filter", func(t *testing.T) {
		for i, n := range []string{"13900139000", "13900139000", ""} {
			if err := d.SaveCallLog(ctx, unsubivr.CallLog{
				CallID: "call-" + string(rune('2'+i)), Caller: "13900139000", Number: n,
				StartedAt: t0.Add(time.Duration(i+1) * time.Hour),
			}); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(f CallLogFilter) []string {
			logs, err := d.CallLogs(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, l := range logs {
				ids = append(ids, l.CallID)
			}
			return ids
		}
		for _, tt := range []struct {
			name string
			f    CallLogFilter
			want []string
		}{
			{"All", CallLogFilter{}, []string{"call-4", "call-3", "call-2", "call-1"}},
			{"Number", CallLogFilter{Number: "13900139000"}, []string{"call-4", "call-3", "call-2"}},
			{"Since", CallLogFilter{Since: t0.Add(2 * time.Hour)}, []string{"call-4", "call-3"}},
			{"Until", CallLogFilter{Until: t0.Add(2 * time.Hour)}, []string{"call-2", "call-1"}},
			{"Limit", CallLogFilter{Limit: 1}, []string{"call-4"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if got := ids(tt.f); !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("%q, want %q", got, tt.want)
				}
			})
		}
	})

	t.Run("ZeroTimesAndNilTrace", func(t *testing.T) {
		if err := d.SaveCallLog(ctx, unsubivr.CallLog{CallID: "call-9"}); err != nil {
			t.Fatal(err)
		}
		got, err := d.CallLog(ctx, "call-9")
		if err != nil {
			t.Fatal(err)
		}
		if !got.StartedAt.Equal(c.Now()) || !got.EndedAt.IsZero() || got.Trace == nil || len(got.Trace) != 0 {
			t.Fatalf("%+v", got)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := d.CallLog(ctx, "nope")
		wantCode(t, err, unsubivr.ENOTFOUND)
	})

	t.Run("ErrNoCallID", func(t *testing.T) {
		wantCode(t, d.SaveCallLog(ctx, unsubivr.CallLog{}), unsubivr.EINVALID)
	})
}
