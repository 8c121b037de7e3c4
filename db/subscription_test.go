package db

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/unsubivr/unsubivr"
)

func req(number, service string) unsubivr.Request {
	return unsubivr.Request{
		Number:      number,
		ServiceCode: service,
		Channel:     unsubivr.ChannelIVR,
		CallID:      "call-1",
		Consent:     unsubivr.Consent{Prompts: []string{"menu.main", "confirm.cancel"}, Key: "1"},
	}
}

func validCode(code string) bool {
	if len(code) != 8 || code[0] == '0' {
		return false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func TestSubscriber(t *testing.T) {
	ctx := context.Background()
	d, _ := MustOpenDB(t)

	t.Run("OK", func(t *testing.T) {
		s, err := d.Subscriber(ctx, "13800138000")
		if err != nil {
			t.Fatal(err)
		}
		if s.Number != "13800138000" || s.Language != unsubivr.ZhCN || s.ID == 0 {
			t.Fatalf("%+v", s)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := d.Subscriber(ctx, "13600136000")
		wantCode(t, err, unsubivr.ENOTFOUND)
	})
	t.Run("ErrMalformed", func(t *testing.T) {
		for _, n := range []string{"", "1380013800", "138001380001", "23800138000", "1380013800x"} {
			_, err := d.Subscriber(ctx, n)
			wantCode(t, err, unsubivr.EINVALID)
		}
	})
}

func TestSetLanguage(t *testing.T) {
	ctx := context.Background()
	d, _ := MustOpenDB(t)

	t.Run("OK", func(t *testing.T) {
		if err := d.SetLanguage(ctx, "13900139000", unsubivr.EnUS); err != nil {
			t.Fatal(err)
		}
		if got := str(t, d, `SELECT language FROM subscribers WHERE number = '13900139000'`); got != "en-US" {
			t.Fatalf("language %q", got)
		}
		s, err := d.Subscriber(ctx, "13900139000")
		if err != nil || s.Language != unsubivr.EnUS {
			t.Fatalf("%+v %v", s, err)
		}
	})
	t.Run("ErrLanguage", func(t *testing.T) {
		wantCode(t, d.SetLanguage(ctx, "13900139000", "fr-FR"), unsubivr.EINVALID)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		wantCode(t, d.SetLanguage(ctx, "13600136000", unsubivr.EnUS), unsubivr.ENOTFOUND)
	})
	t.Run("ErrMalformed", func(t *testing.T) {
		wantCode(t, d.SetLanguage(ctx, "123", unsubivr.EnUS), unsubivr.EINVALID)
	})
}

func TestActiveSubscriptions(t *testing.T) {
	ctx := context.Background()
	d, c := MustOpenDB(t)

	t.Run("Ordered", func(t *testing.T) {
		subs, err := d.ActiveSubscriptions(ctx, "13800138000")
		if err != nil {
			t.Fatal(err)
		}
		if len(subs) != 2 || subs[0].Service.Code != "CRBT" || subs[1].Service.Code != "BLUE_DIAMOND" {
			t.Fatalf("%+v", subs)
		}
		s := subs[0]
		if s.Status != unsubivr.StatusActive || s.CancelledAt != nil || !s.SubscribedAt.Equal(c.Now().Add(-48*time.Hour)) ||
			s.Service.NameZh != "彩铃" || s.Service.ShortName != "CL" || s.Service.MonthlyFeeFen != 500 || s.Service.Kind != unsubivr.KindRingback {
			t.Fatalf("%+v", s)
		}
		if !subs[1].Service.PurgeOnCancel || subs[1].Service.Kind != unsubivr.KindMarketing {
			t.Fatalf("%+v", subs[1])
		}
	})
	t.Run("SameTimeByCode", func(t *testing.T) {
		mustExec(t, d, `UPDATE subscriptions SET subscribed_at = '2025-01-01T00:00:00.000000000Z'`)
		subs, err := d.ActiveSubscriptions(ctx, "13800138000")
		if err != nil {
			t.Fatal(err)
		}
		if len(subs) != 2 || subs[0].Service.Code != "BLUE_DIAMOND" || subs[1].Service.Code != "CRBT" {
			t.Fatalf("%+v", subs)
		}
	})
	t.Run("None", func(t *testing.T) {
		subs, err := d.ActiveSubscriptions(ctx, "13700137000")
		if err != nil || subs == nil || len(subs) != 0 {
			t.Fatalf("%+v %v", subs, err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := d.ActiveSubscriptions(ctx, "13600136000")
		wantCode(t, err, unsubivr.ENOTFOUND)
	})
	t.Run("ErrMalformed", func(t *testing.T) {
		_, err := d.ActiveSubscriptions(ctx, "x")
		wantCode(t, err, unsubivr.EINVALID)
	})
}

func TestUnsubscribe(t *testing.T) {
	ctx := context.Background()

	t.Run("Cancelled", func(t *testing.T) {
		d, c := MustOpenDB(t)
		r := req("13800138000", "CRBT")
		res, err := d.Unsubscribe(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		rec := res.Record
		if res.Outcome != unsubivr.Cancelled || !validCode(rec.Code) || rec.ID == 0 ||
			rec.Number != r.Number || !reflect.DeepEqual(rec.Services, []string{"CRBT"}) ||
			rec.Channel != unsubivr.ChannelIVR || rec.CallID != "call-1" || rec.Purged ||
			!reflect.DeepEqual(rec.Consent, r.Consent) || !rec.CreatedAt.Equal(c.Now()) {
			t.Fatalf("%+v", res)
		}

		// What was stored.
		got, err := d.RecordByCode(ctx, rec.Code)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, rec) {
			t.Fatalf("stored %+v\nreturned %+v", *got, rec)
		}
		if n := count(t, d, `SELECT count(*) FROM subscriptions s JOIN subscribers u ON u.id = s.subscriber_id
			WHERE u.number = '13800138000' AND s.service_code = 'CRBT' AND s.status = 'cancelled'
			AND s.cancel_record_id = ? AND s.cancelled_at = ?`, rec.ID, dbTime(c.Now())); n != 1 {
			t.Fatal("subscription not cancelled with the record")
		}
		if n := count(t, d, `SELECT count(*) FROM record_items WHERE record_id = ? AND service_code = 'CRBT'`, rec.ID); n != 1 {
			t.Fatal("no record item")
		}
		if got := str(t, d, `SELECT consent FROM records WHERE id = ?`, rec.ID); got != `{"prompts":["menu.main","confirm.cancel"],"key":"1"}` {
			t.Fatalf("consent %s", got)
		}
		subs, err := d.ActiveSubscriptions(ctx, r.Number)
		if err != nil || len(subs) != 1 || subs[0].Service.Code != "BLUE_DIAMOND" {
			t.Fatalf("active after cancel: %+v %v", subs, err)
		}
		if n := count(t, d, `SELECT count(*) FROM marketing_profiles`); n != 3 {
			t.Fatalf("ringback cancel touched marketing data: %d rows", n)
		}

		// The outbox: unsubscribe then sms, pending now.
		events, err := d.Outbox(ctx, OutboxPending)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 2 {
			t.Fatalf("%d events", len(events))
		}
		var u UnsubscribeEvent
		if err := json.Unmarshal(events[0].Payload, &u); err != nil {
			t.Fatal(err)
		}
		if events[0].Kind != EventUnsubscribe || events[0].Number != r.Number || events[0].IdempotencyKey != "unsubscribe:"+rec.Code+":CRBT" ||
			u != (UnsubscribeEvent{RecordCode: rec.Code, Number: r.Number, Service: "CRBT", Channel: unsubivr.ChannelIVR, CancelledAt: c.Now()}) ||
			!events[0].NextAttemptAt.Equal(c.Now()) || events[0].Attempts != 0 || events[0].Status != OutboxPending {
			t.Fatalf("unsubscribe event %+v %+v", events[0], u)
		}
		var s SMSEvent
		if err := json.Unmarshal(events[1].Payload, &s); err != nil {
			t.Fatal(err)
		}
		want := SMSEvent{RecordCode: rec.Code, To: r.Number, Language: unsubivr.ZhCN,
			Text: "【退订通知】您已成功退订彩铃，确认码" + rec.Code + "。"}
		if events[1].Kind != EventSMS || events[1].IdempotencyKey != "sms:"+rec.Code || s != want || events[1].ID <= events[0].ID {
			t.Fatalf("sms event %+v %+v", events[1], s)
		}
	})

	t.Run("EnglishSMS", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		if err := d.SetLanguage(ctx, "13900139000", unsubivr.EnUS); err != nil {
			t.Fatal(err)
		}
		res, err := d.Unsubscribe(ctx, req("13900139000", "VRBT"))
		if err != nil {
			t.Fatal(err)
		}
		var s SMSEvent
		if err := json.Unmarshal([]byte(str(t, d, `SELECT payload FROM outbox WHERE kind = 'sms'`)), &s); err != nil {
			t.Fatal(err)
		}
		if want := "You have cancelled video ring-back tone. Confirmation code " + res.Record.Code + "."; s.Text != want || s.Language != unsubivr.EnUS {
			t.Fatalf("%+v", s)
		}
	})

	t.Run("Idempotent", func(t *testing.T) {
		d, c := MustOpenDB(t)
		first, err := d.Unsubscribe(ctx, req("13800138000", "CRBT"))
		if err != nil {
			t.Fatal(err)
		}
		c.Add(time.Minute)
		r := req("13800138000", "CRBT")
		r.Channel, r.CallID = unsubivr.ChannelAgent, "call-2"
		again, err := d.Unsubscribe(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if again.Outcome != unsubivr.AlreadyCancelled || !reflect.DeepEqual(again.Record, first.Record) {
			t.Fatalf("again %+v\nfirst %+v", again, first)
		}
		if n := count(t, d, `SELECT count(*) FROM records`); n != 1 {
			t.Fatalf("%d records", n)
		}
		if n := count(t, d, `SELECT count(*) FROM outbox`); n != 2 {
			t.Fatalf("%d outbox events", n)
		}
		if n := count(t, d, `SELECT count(*) FROM subscriptions WHERE cancelled_at = ?`, dbTime(c.Now().Add(-time.Minute))); n != 1 {
			t.Fatal("cancel time changed")
		}
	})

	t.Run("Race", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		const n = 20
		results := make([]unsubivr.Result, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				results[i], errs[i] = d.Unsubscribe(ctx, req("13800138000", "BLUE_DIAMOND"))
			}(i)
		}
		close(start)
		wg.Wait()
		cancelled := 0
		var code string
		for i := range results {
			if errs[i] != nil {
				t.Fatalf("goroutine %d: %v", i, errs[i])
			}
			if results[i].Outcome == unsubivr.Cancelled {
				cancelled++
				code = results[i].Record.Code
			}
		}
		if cancelled != 1 {
			t.Fatalf("%d cancelled, want 1", cancelled)
		}
		for i, r := range results {
			if r.Outcome != unsubivr.Cancelled && (r.Outcome != unsubivr.AlreadyCancelled || r.Record.Code != code) {
				t.Errorf("goroutine %d: %s %s, want already_cancelled %s", i, r.Outcome, r.Record.Code, code)
			}
		}
		if got := count(t, d, `SELECT count(*) FROM records`); got != 1 {
			t.Fatalf("%d records", got)
		}
		if got := count(t, d, `SELECT count(*) FROM record_items`); got != 1 {
			t.Fatalf("%d items", got)
		}
		if got := count(t, d, `SELECT count(*) FROM outbox`); got != 2 {
			t.Fatalf("%d outbox events", got)
		}
	})

	t.Run("Purge", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		mustExec(t, d, `INSERT INTO marketing_profiles (subscriber_id, key, value, updated_at)
			SELECT id, 'segment', 'video', '2025-01-01T00:00:00.000000000Z' FROM subscribers WHERE number = '13900139000'`)
		res, err := d.Unsubscribe(ctx, req("13800138000", "BLUE_DIAMOND"))
		if err != nil {
			t.Fatal(err)
		}
		if !res.Record.Purged {
			t.Fatal("Purged = false")
		}
		if n := count(t, d, `SELECT count(*) FROM marketing_profiles m JOIN subscribers s ON s.id = m.subscriber_id
			WHERE s.number = '13800138000'`); n != 0 {
			t.Fatalf("%d marketing rows left for the subscriber", n)
		}
		if n := count(t, d, `SELECT count(*) FROM marketing_profiles m JOIN subscribers s ON s.id = m.subscriber_id
			WHERE s.number = '13900139000'`); n != 1 {
			t.Fatalf("other subscriber's marketing rows: %d, want 1", n)
		}
		rec, err := d.RecordByCode(ctx, res.Record.Code)
		if err != nil || !rec.Purged {
			t.Fatalf("stored %+v %v", rec, err)
		}
		if n := count(t, d, `SELECT count(*) FROM subscriptions WHERE service_code = 'CRBT' AND status = 'active'`); n != 1 {
			t.Fatal("purge touched another subscription")
		}
	})

	t.Run("RollbackMidway", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		mustExec(t, d, `CREATE TRIGGER boom BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'boom'); END`)
		for _, all := range []bool{false, true} {
			var err error
			if all {
				_, err = d.UnsubscribeAll(ctx, req("13800138000", ""))
			} else {
				_, err = d.Unsubscribe(ctx, req("13800138000", "BLUE_DIAMOND"))
			}
			wantCode(t, err, unsubivr.EINTERNAL)
			if n := count(t, d, `SELECT count(*) FROM subscriptions WHERE status = 'active'`); n != 3 {
				t.Fatalf("all=%v: %d active subscriptions, want 3", all, n)
			}
			for _, table := range []string{"records", "record_items", "outbox"} {
				if n := count(t, d, `SELECT count(*) FROM `+table); n != 0 {
					t.Fatalf("all=%v: %d rows in %s", all, n, table)
				}
			}
			if n := count(t, d, `SELECT count(*) FROM marketing_profiles`); n != 3 {
				t.Fatalf("all=%v: purge not rolled back: %d marketing rows", all, n)
			}
		}
		// The writer is usable after the rollback.
		mustExec(t, d, `DROP TRIGGER boom`)
		if res, err := d.Unsubscribe(ctx, req("13800138000", "BLUE_DIAMOND")); err != nil || res.Outcome != unsubivr.Cancelled {
			t.Fatalf("%+v %v", res, err)
		}
	})

	t.Run("CodeTakenDrawsAgain", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		codes := []int64{12345678, 12345678, 12345678, 87654321}
		old := newCode
		t.Cleanup(func() { newCode = old })
		newCode = func() (int64, error) {
			c := codes[0]
			codes = codes[1:]
			return c, nil
		}
		a, err := d.Unsubscribe(ctx, req("13800138000", "CRBT"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := d.Unsubscribe(ctx, req("13900139000", "VRBT"))
		if err != nil {
			t.Fatal(err)
		}
		if a.Record.Code != "12345678" || b.Record.Code != "87654321" || len(codes) != 0 {
			t.Fatalf("codes %s %s, left %v", a.Record.Code, b.Record.Code, codes)
		}
		if n := count(t, d, `SELECT count(*) FROM records`); n != 2 {
			t.Fatalf("%d records", n)
		}
	})

	t.Run("ErrNoFreeCode", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		old := newCode
		t.Cleanup(func() { newCode = old })
		newCode = func() (int64, error) { return 12345678, nil }
		if _, err := d.Unsubscribe(ctx, req("13800138000", "CRBT")); err != nil {
			t.Fatal(err)
		}
		_, err := d.Unsubscribe(ctx, req("13900139000", "VRBT"))
		wantCode(t, err, unsubivr.EINTERNAL)
		if n := count(t, d, `SELECT count(*) FROM subscriptions WHERE service_code = 'VRBT' AND status = 'active'`); n != 1 {
			t.Fatal("VRBT cancelled without a record")
		}
	})

	t.Run("CancelledElsewhere", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		mustExec(t, d, `UPDATE subscriptions SET status = 'cancelled', cancelled_at = '2025-01-01T00:00:00.000000000Z'
			WHERE service_code = 'VRBT'`)
		res, err := d.Unsubscribe(ctx, req("13900139000", "VRBT"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != unsubivr.AlreadyCancelled || res.Record.Code != "" || !reflect.DeepEqual(res.Record.Services, []string{"VRBT"}) {
			t.Fatalf("%+v", res)
		}
		if n := count(t, d, `SELECT count(*) FROM records`); n != 0 {
			t.Fatal("record written")
		}
	})

	t.Run("Errors", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		for _, tt := range []struct {
			name string
			req  unsubivr.Request
			code string
		}{
			{"ErrMalformedNumber", req("1380013800", "CRBT"), unsubivr.EINVALID},
			{"ErrChannel", unsubivr.Request{Number: "13800138000", ServiceCode: "CRBT", Channel: "fax"}, unsubivr.EINVALID},
			{"ErrNoChannel", unsubivr.Request{Number: "13800138000", ServiceCode: "CRBT"}, unsubivr.EINVALID},
			{"ErrNoService", req("13800138000", ""), unsubivr.EINVALID},
			{"ErrUnknownSubscriber", req("13600136000", "CRBT"), unsubivr.ENOTFOUND},
			{"ErrNotHeld", req("13700137000", "CRBT"), unsubivr.ENOTFOUND},
			{"ErrUnknownService", req("13800138000", "NOPE"), unsubivr.ENOTFOUND},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := d.Unsubscribe(ctx, tt.req)
				wantCode(t, err, tt.code)
			})
		}
		if n := count(t, d, `SELECT (SELECT count(*) FROM records) + (SELECT count(*) FROM outbox)`); n != 0 {
			t.Fatalf("errors wrote %d rows", n)
		}
	})

	t.Run("ErrCanceledContext", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := d.Unsubscribe(cctx, req("13800138000", "CRBT"))
		wantCode(t, err, unsubivr.EINTERNAL)
		if n := count(t, d, `SELECT count(*) FROM subscriptions WHERE status = 'active'`); n != 3 {
			t.Fatal("cancelled context changed data")
		}
	})
}

func TestUnsubscribeAll(t *testing.T) {
	ctx := context.Background()

	t.Run("OneCode", func(t *testing.T) {
		d, c := MustOpenDB(t)
		res, err := d.UnsubscribeAll(ctx, req("13800138000", ""))
		if err != nil {
			t.Fatal(err)
		}
		rec := res.Record
		if res.Outcome != unsubivr.Cancelled || !validCode(rec.Code) || !rec.Purged ||
			!reflect.DeepEqual(rec.Services, []string{"CRBT", "BLUE_DIAMOND"}) {
			t.Fatalf("%+v", res)
		}
		got, err := d.RecordByCode(ctx, rec.Code)
		if err != nil || !reflect.DeepEqual(*got, rec) {
			t.Fatalf("stored %+v %v\nreturned %+v", got, err, rec)
		}
		if n := count(t, d, `SELECT count(*) FROM records`); n != 1 {
			t.Fatalf("%d records", n)
		}
		if n := count(t, d, `SELECT count(*) FROM subscriptions WHERE status = 'cancelled' AND cancel_record_id = ? AND cancelled_at = ?`,
			rec.ID, dbTime(c.Now())); n != 2 {
			t.Fatalf("%d subscriptions cancelled with the record", n)
		}
		if n := count(t, d, `SELECT count(*) FROM subscriptions WHERE status = 'active'`); n != 1 {
			t.Fatal("another subscriber's subscription changed")
		}
		if n := count(t, d, `SELECT count(*) FROM marketing_profiles`); n != 0 {
			t.Fatalf("%d marketing rows left", n)
		}
		events, err := d.Outbox(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range events {
			kinds = append(kinds, e.Kind+" "+e.IdempotencyKey)
		}
		want := []string{
			"unsubscribe unsubscribe:" + rec.Code + ":CRBT",
			"unsubscribe unsubscribe:" + rec.Code + ":BLUE_DIAMOND",
			"sms sms:" + rec.Code,
		}
		if !reflect.DeepEqual(kinds, want) {
			t.Fatalf("events %q, want %q", kinds, want)
		}
		var s SMSEvent
		if err := json.Unmarshal(events[2].Payload, &s); err != nil {
			t.Fatal(err)
		}
		if want := "【退订通知】您已成功退订彩铃、蓝钻，确认码" + rec.Code + "。"; s.Text != want {
			t.Fatalf("sms %q, want %q", s.Text, want)
		}

		t.Run("Again", func(t *testing.T) {
			res, err := d.UnsubscribeAll(ctx, req("13800138000", ""))
			if err != nil || res.Outcome != unsubivr.NothingActive || res.Record.Code != "" {
				t.Fatalf("%+v %v", res, err)
			}
			one, err := d.Unsubscribe(ctx, req("13800138000", "BLUE_DIAMOND"))
			if err != nil || one.Outcome != unsubivr.AlreadyCancelled || one.Record.Code != rec.Code {
				t.Fatalf("single after all: %+v %v", one, err)
			}
			if n := count(t, d, `SELECT count(*) FROM outbox`); n != 3 {
				t.Fatalf("%d outbox events", n)
			}
		})
	})

	t.Run("English", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		if err := d.SetLanguage(ctx, "13800138000", unsubivr.EnUS); err != nil {
			t.Fatal(err)
		}
		res, err := d.UnsubscribeAll(ctx, req("13800138000", ""))
		if err != nil {
			t.Fatal(err)
		}
		var s SMSEvent
		if err := json.Unmarshal([]byte(str(t, d, `SELECT payload FROM outbox WHERE kind = 'sms'`)), &s); err != nil {
			t.Fatal(err)
		}
		if want := "You have cancelled colour ring-back tone and Blue Diamond. Confirmation code " + res.Record.Code + "."; s.Text != want {
			t.Fatalf("sms %q, want %q", s.Text, want)
		}
	})

	t.Run("SkipsCancelled", func(t *testing.T) {
		d, c := MustOpenDB(t)
		first, err := d.Unsubscribe(ctx, req("13800138000", "CRBT"))
		if err != nil {
			t.Fatal(err)
		}
		c.Add(time.Second)
		res, err := d.UnsubscribeAll(ctx, req("13800138000", ""))
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != unsubivr.Cancelled || !reflect.DeepEqual(res.Record.Services, []string{"BLUE_DIAMOND"}) || res.Record.Code == first.Record.Code {
			t.Fatalf("%+v", res)
		}
		if got := str(t, d, `SELECT r.code FROM subscriptions s JOIN records r ON r.id = s.cancel_record_id WHERE s.service_code = 'CRBT'`); got != first.Record.Code {
			t.Fatal("CRBT's record changed")
		}
		recs, err := d.Records(ctx, "13800138000")
		if err != nil || len(recs) != 2 || recs[0].Code != first.Record.Code || recs[1].Code != res.Record.Code {
			t.Fatalf("records %+v %v", recs, err)
		}
	})

	t.Run("NothingActive", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		res, err := d.UnsubscribeAll(ctx, req("13700137000", ""))
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != unsubivr.NothingActive || !reflect.DeepEqual(res.Record, unsubivr.Record{}) {
			t.Fatalf("%+v", res)
		}
		if n := count(t, d, `SELECT (SELECT count(*) FROM records) + (SELECT count(*) FROM record_items) + (SELECT count(*) FROM outbox)`); n != 0 {
			t.Fatalf("%d rows written", n)
		}
	})

	t.Run("Race", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		const n = 10
		var wg sync.WaitGroup
		outcomes := make(chan unsubivr.Outcome, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := d.UnsubscribeAll(ctx, req("13800138000", ""))
				if err != nil {
					t.Error(err)
				}
				outcomes <- res.Outcome
			}()
		}
		wg.Wait()
		close(outcomes)
		got := map[unsubivr.Outcome]int{}
		for o := range outcomes {
			got[o]++
		}
		if got[unsubivr.Cancelled] != 1 || got[unsubivr.NothingActive] != n-1 {
			t.Fatalf("outcomes %v", got)
		}
		if c := count(t, d, `SELECT count(*) FROM records`); c != 1 {
			t.Fatalf("%d records", c)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		_, err := d.UnsubscribeAll(ctx, req("13600136000", ""))
		wantCode(t, err, unsubivr.ENOTFOUND)
		_, err = d.UnsubscribeAll(ctx, req("1360013600", ""))
		wantCode(t, err, unsubivr.EINVALID)
		_, err = d.UnsubscribeAll(ctx, unsubivr.Request{Number: "13800138000", Channel: "web"})
		wantCode(t, err, unsubivr.EINVALID)
	})
}

func TestRecordByCode(t *testing.T) {
	ctx := context.Background()
	d, _ := MustOpenDB(t)
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := d.RecordByCode(ctx, "12345678")
		wantCode(t, err, unsubivr.ENOTFOUND)
	})
	t.Run("ErrMalformed", func(t *testing.T) {
		for _, code := range []string{"", "1234abcd", "1234 5678", "' OR 1=1 --"} {
			_, err := d.RecordByCode(ctx, code)
			wantCode(t, err, unsubivr.EINVALID)
		}
	})
}

func TestRecords(t *testing.T) {
	ctx := context.Background()
	d, c := MustOpenDB(t)
	recs, err := d.Records(ctx, "13800138000")
	if err != nil || recs == nil || len(recs) != 0 {
		t.Fatalf("%v %v", recs, err)
	}
	var codes []string
	for _, s := range []string{"BLUE_DIAMOND", "CRBT"} {
		c.Add(time.Second)
		res, err := d.Unsubscribe(ctx, req("13800138000", s))
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, res.Record.Code)
	}
	if _, err := d.Unsubscribe(ctx, req("13900139000", "VRBT")); err != nil {
		t.Fatal(err)
	}
	recs, err = d.Records(ctx, "13800138000")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprint(r.Code, r.Services))
	}
	if want := []string{codes[0] + "[BLUE_DIAMOND]", codes[1] + "[CRBT]"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("%q, want %q", got, want)
	}
	_, err = d.Records(ctx, "0")
	wantCode(t, err, unsubivr.EINVALID)
}

func TestOutbox(t *testing.T) {
	ctx := context.Background()
	d, _ := MustOpenDB(t)
	if _, err := d.Unsubscribe(ctx, req("13800138000", "CRBT")); err != nil {
		t.Fatal(err)
	}
	mustExec(t, d, `UPDATE outbox SET status = 'sent' WHERE kind = 'sms'`)
	for status, want := range map[string]int{"": 2, OutboxPending: 1, OutboxSent: 1, OutboxParked: 0} {
		events, err := d.Outbox(ctx, status)
		if err != nil || len(events) != want {
			t.Errorf("status %q: %d events %v, want %d", status, len(events), err, want)
		}
	}
	_, err := d.Outbox(ctx, "lost")
	wantCode(t, err, unsubivr.EINVALID)
}

func TestConfirmationText(t *testing.T) {
	crbt, bd, vrbt := DemoServices[0], DemoServices[1], DemoServices[2]
	for _, tt := range []struct {
		lang     unsubivr.Language
		services []unsubivr.Service
		want     string
	}{
		{unsubivr.ZhCN, []unsubivr.Service{crbt}, "【退订通知】您已成功退订彩铃，确认码12345678。"},
		{unsubivr.EnUS, []unsubivr.Service{crbt}, "You have cancelled colour ring-back tone. Confirmation code 12345678."},
		{unsubivr.ZhCN, []unsubivr.Service{crbt, bd, vrbt}, "【退订通知】您已成功退订彩铃、蓝钻、视频彩铃，确认码12345678。"},
		{unsubivr.EnUS, []unsubivr.Service{crbt, bd, vrbt}, "You have cancelled colour ring-back tone, Blue Diamond and video ring-back tone. Confirmation code 12345678."},
	} {
		if got := ConfirmationText(tt.lang, "12345678", tt.services); got != tt.want {
			t.Errorf("%q, want %q", got, tt.want)
		}
	}
}
