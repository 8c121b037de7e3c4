package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/api"
	"github.com/unsubivr/unsubivr/db"
)

type smsReply struct {
	Action string `json:"action"`
	Reply  string `json:"reply"`
	Code   string `json:"code"`
}

// sms posts an inbound SMS as JSON and returns the reply, failing unless
// it is a 200.
func (e *env) sms(t *testing.T, from, text string) (smsReply, response) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"from": from, "text": text})
	r := e.post(t, "/v1/sms/inbound", string(b))
	if r.status != http.StatusOK {
		t.Fatalf("SMS %q from %s: %d %s", text, from, r.status, r.body)
	}
	var got smsReply
	r.json(t, &got)
	return got, r
}

// smsEvents returns the SMS outbox events, oldest first.
func (e *env) smsEvents(t *testing.T) []db.OutboxEvent {
	t.Helper()
	all, err := e.d.Outbox(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []db.OutboxEvent
	for _, ev := range all {
		if ev.Kind == db.EventSMS {
			out = append(out, ev)
		}
	}
	return out
}

func payload(t *testing.T, ev db.OutboxEvent) db.SMSEvent {
	t.Helper()
	var p db.SMSEvent
	if err := json.Unmarshal(ev.Payload, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantQueued fails unless the last SMS in the outbox is reply to number,
// queued as a reply (not a confirmation).
func (e *env) wantQueued(t *testing.T, number string, reply smsReply, r response) {
	t.Helper()
	evs := e.smsEvents(t)
	if len(evs) == 0 {
		t.Fatal("no SMS queued")
	}
	last := evs[len(evs)-1]
	p := payload(t, last)
	if last.Number != number || p.To != number || p.Text != reply.Reply || p.RecordCode != "" ||
		last.IdempotencyKey != "sms:reply:"+r.header.Get("X-Request-Id") {
		t.Fatalf("queued %+v %+v, want reply %q", last, p, reply.Reply)
	}
}

func TestSMSList(t *testing.T) {
	e := newEnv(t)
	for _, text := range []string{"TD", "td", "退订", "STOP", "unsub", " Td。", "ＴＤ", "\u200bTD"} {
		t.Run(text, func(t *testing.T) {
			got, r := e.sms(t, "13800138000", text)
			want := "【退订服务】您已订购：彩铃（5元/月），回复TD CL退订；蓝钻（10元/月），回复TD LZ退订。回复TD ALL退订全部。"
			if got.Action != "list" || got.Reply != want {
				t.Fatalf("%+v, want list %q", got, want)
			}
			e.wantQueued(t, "13800138000", got, r)
		})
	}
	t.Run("NothingActive", func(t *testing.T) {
		got, r := e.sms(t, "13700137000", "TD")
		if got.Action != "nothing_active" || !strings.Contains(got.Reply, "没有可退订") {
			t.Fatalf("%+v", got)
		}
		e.wantQueued(t, "13700137000", got, r)
	})
	t.Run("English", func(t *testing.T) {
		if err := e.d.SetLanguage(context.Background(), "13900139000", unsubivr.EnUS); err != nil {
			t.Fatal(err)
		}
		got, _ := e.sms(t, "13900139000", "td")
		want := "Your services: video ring-back tone (6 yuan/month): reply TD SP to cancel. Reply TD ALL to cancel all."
		if got.Action != "list" || got.Reply != want {
			t.Fatalf("%+v, want %q", got, want)
		}
	})
	t.Run("NothingWritten", func(t *testing.T) {
		if got := e.counts(t); got.Records != 0 || got.Active != 3 {
			t.Fatalf("a listing changed subscriptions: %+v", got)
		}
	})
}

func TestSMSCancel(t *testing.T) {
	for _, tc := range []struct {
		name, from, text string
		services         []string
	}{
		{"Code", "13800138000", "TD CRBT", []string{"CRBT"}},
		{"ShortName", "13800138000", "TD CL", []string{"CRBT"}},
		{"MixedCase", "13800138000", "tD cL", []string{"CRBT"}},
		{"FullWidth", "13800138000", "ＴＤ　ＣＬ", []string{"CRBT"}},
		{"FullWidthMixed", "13800138000", "ｔｄ ｃｒｂｔ！", []string{"CRBT"}},
		{"NoSpace", "13800138000", "TDCL", []string{"CRBT"}},
		{"Chinese", "13800138000", "退订彩铃", []string{"CRBT"}},
		{"ChineseSpace", "13800138000", "退订 蓝钻", []string{"BLUE_DIAMOND"}},
		{"Stop", "13900139000", "STOP SP", []string{"VRBT"}},
		{"ExtraSpaces", "13900139000", "  unsub \t  vrbt  ", []string{"VRBT"}},
		{"All", "13800138000", "TD ALL", []string{"CRBT", "BLUE_DIAMOND"}},
		{"StopAll", "13800138000", "stop all", []string{"CRBT", "BLUE_DIAMOND"}},
		{"AllChinese", "13800138000", "退订全部", []string{"CRBT", "BLUE_DIAMOND"}},
		{"FromWithCountryCode", "+8613800138000", "TD CL", []string{"CRBT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			before := e.smsEvents(t)
			got, _ := e.sms(t, tc.from, tc.text)
			if got.Action != "cancelled" || len(got.Code) != 8 {
				t.Fatalf("%+v", got)
			}
			rec, err := e.d.RecordByCode(ctx, got.Code)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Channel != unsubivr.ChannelSMS || rec.Consent.Text != tc.text || strings.Join(rec.Services, ",") != strings.Join(tc.services, ",") {
				t.Errorf("record %+v", rec)
			}
			// The reply is the confirmation the store queued with the
			// cancel, and nothing else is queued.
			evs := e.smsEvents(t)
			if len(evs) != len(before)+1 {
				t.Fatalf("%d SMS queued, want 1", len(evs)-len(before))
			}
			p := payload(t, evs[len(evs)-1])
			if p.RecordCode != got.Code || p.Text != got.Reply || !strings.HasPrefix(got.Reply, "【退订通知】") {
				t.Errorf("queued %+v, reply %q", p, got.Reply)
			}
		})
	}
}

func TestSMSAnswers(t *testing.T) {
	e := newEnv(t)
	first, _ := e.sms(t, "13800138000", "TD CL")

	for _, tc := range []struct {
		name, from, text, action, reply string
	}{
		{"AlreadyCancelled", "13800138000", "td crbt", "already_cancelled",
			"【退订服务】您的彩铃已于此前退订，确认码" + first.Code + "。"},
		{"NotSubscribed", "13800138000", "TD SP", "not_subscribed",
			"【退订服务】您未订购视频彩铃，无需退订。回复TD查询您已订购的业务。"},
		{"UnknownService", "13800138000", "TD GOLD", "help", "【退订服务】未识别的业务代码。回复TD"},
		{"TwoServices", "13800138000", "TD CL LZ", "help", "【退订服务】未识别的业务代码。"},
		{"UnknownKeyword", "13800138000", "hello", "help", "【退订服务】回复TD查询您已订购的业务；回复TD加业务代码退订一项（蓝钻LZ、彩铃CL、视频彩铃SP），如TD LZ；回复TD ALL退订全部。"},
		{"Empty", "13800138000", "", "help", "【退订服务】回复TD"},
		{"OnlySpaces", "13800138000", "　 ", "help", "【退订服务】回复TD"},
		{"Emoji", "13800138000", "👍", "help", "【退订服务】回复TD"},
		{"UnknownSender", "13600136000", "TD", "unknown_subscriber", "【退订服务】本号码未订购增值业务，无需退订。"},
		{"UnknownSenderCancel", "13600136000", "TD ALL", "unknown_subscriber", "【退订服务】本号码未订购增值业务，无需退订。"},
		{"UnknownSenderHelp", "13600136000", "?", "help", "【退订服务】回复TD"},
		{"NothingActiveAll", "13700137000", "TD ALL", "nothing_active", "【退订服务】您当前没有可退订的增值业务。"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.counts(t)
			got, r := e.sms(t, tc.from, tc.text)
			if got.Action != tc.action || !strings.HasPrefix(got.Reply, tc.reply) {
				t.Fatalf("%+v, want %s %q", got, tc.action, tc.reply)
			}
			e.wantQueued(t, strings.TrimPrefix(tc.from, "+86"), got, r)
			after := e.counts(t)
			before.Outbox++
			if after != before {
				t.Errorf("rows %+v, want %+v (one SMS more)", after, before)
			}
		})
	}
	if got, _ := e.sms(t, "13800138000", "TD CL"); got.Code != first.Code {
		t.Errorf("already cancelled code %q, want %q", got.Code, first.Code)
	}
}

func TestSMSEnglish(t *testing.T) {
	e := newEnv(t)
	if err := e.d.SetLanguage(context.Background(), "13800138000", unsubivr.EnUS); err != nil {
		t.Fatal(err)
	}
	got, _ := e.sms(t, "13800138000", "TD LZ")
	if got.Action != "cancelled" || got.Reply != "You have cancelled Blue Diamond. Confirmation code "+got.Code+"." {
		t.Fatalf("%+v", got)
	}
	got, _ = e.sms(t, "13800138000", "what")
	if got.Action != "help" || !strings.HasPrefix(got.Reply, "Reply TD to list your services") {
		t.Fatalf("%+v", got)
	}
	got, _ = e.sms(t, "13800138000", "td bLUE  dIAMOND")
	if got.Action != "already_cancelled" || !strings.HasPrefix(got.Reply, "Your Blue Diamond was cancelled before.") {
		t.Fatalf("%+v", got)
	}
}

func TestSMSForm(t *testing.T) {
	e := newEnv(t)
	form := url.Values{"from": {"8613900139000"}, "text": {"ｔｄ　ｓｐ"}, "message_id": {"gw-1"}, "signature": {"ignored"}}
	post := func() response {
		return e.do(t, call{method: "POST", path: "/v1/sms/inbound", body: form.Encode(),
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}})
	}
	r := post()
	var got smsReply
	r.json(t, &got)
	if r.status != 200 || got.Action != "cancelled" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	// The gateway retries the same message: the first answer, nothing new.
	e.unchanged(t, func() {
		r2 := post()
		if r2.status != 200 || string(r2.body) != string(r.body) || r2.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry %d %v %s", r2.status, r2.header, r2.body)
		}
	})
}

func TestSMSRetryDoesNotResend(t *testing.T) {
	e := newEnv(t)
	body := `{"from":"13800138000","text":"TD","message_id":"m-1","received_at":"2025-03-01T09:30:00Z"}`
	r := e.post(t, "/v1/sms/inbound", body)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	e.unchanged(t, func() {
		r2 := e.post(t, "/v1/sms/inbound", body)
		if string(r2.body) != string(r.body) || r2.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry %d %v %s", r2.status, r2.header, r2.body)
		}
	})
}

func TestSMSBadWebhook(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
	}{
		{"ErrNoFrom", "application/json", `{"text":"TD"}`, 400},
		{"ErrEmptyFrom", "application/json", `{"from":" ","text":"TD"}`, 400},
		{"ErrFromWithLetters", "application/json", `{"from":"1380013800O","text":"TD"}`, 400},
		{"ErrFromShortCode", "application/json", `{"from":"10086","text":"TD"}`, 400},
		{"ErrMalformedJSON", "application/json", `{"from":"13800138000","text":"TD"`, 400},
		{"ErrJSONWrongType", "application/json", `{"from":13800138000,"text":"TD"}`, 400},
		{"ErrFormNoFrom", "application/x-www-form-urlencoded", `text=TD`, 400},
		{"ErrMalformedForm", "application/x-www-form-urlencoded", `from=%zz&text=TD`, 400},
		{"ErrOversized", "application/json", `{"from":"13800138000","text":"` + strings.Repeat("T", api.DefaultMaxBody) + `"}`, 413},
		{"ErrBadMessageID", "application/json", `{"from":"13800138000","text":"TD","message_id":"a b"}`, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.unchanged(t, func() {
				r := e.do(t, call{method: "POST", path: "/v1/sms/inbound", body: tc.body,
					header: map[string]string{"Content-Type": tc.contentType}})
				if r.status != tc.status || r.errorCode(t) != unsubivr.EINVALID {
					t.Fatalf("%d %s, want %d invalid", r.status, r.body, tc.status)
				}
			})
		})
	}
	if n := e.errorsLogged(); n != 0 {
		t.Errorf("%d errors logged", n)
	}
}
