package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/db"
	"github.com/unsubivr/unsubivr/internal/sipcall"
	"github.com/unsubivr/unsubivr/prompts"
)

// Each test calls as subscribers of its own, so that tests run in parallel
// against one service and one database without seeing each other.
var nextNumber atomic.Int64

func newSubscriber(t *testing.T, services ...string) string {
	t.Helper()
	n := fmt.Sprintf("1310000%04d", nextNumber.Add(1))
	err := h.store.AddSubscriber(context.Background(), db.DemoSubscriber{
		Number: n, Password: "246810", Language: unsubivr.ZhCN, Services: services,
		Marketing: map[string]string{"segment": "test", "interests": "music"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// react is how long a caller listens to a prompt before pressing: the key
// barges in, so it need only be long enough for the prompt to have begun.
const react = 1500 * time.Millisecond

// say is how long prompt id takes to play in Chinese with demo values.
func say(t *testing.T, ids ...string) time.Duration {
	t.Helper()
	var d time.Duration
	for _, id := range ids {
		clips, err := h.catalog.Expand("zh-CN", id, prompts.Vars{Service: "CRBT", FeeFen: 500, Key: "1", Code: "12345678", Count: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range clips {
			fi, err := os.Stat(filepath.Join(h.sounds, c.File+".wav"))
			if err != nil {
				t.Fatalf("prompt audio: %v", err)
			}
			d += time.Duration(fi.Size()-44) * time.Second / 16000 // 8 kHz, 16 bit
		}
	}
	return d
}

// welcome is the wait through the welcome menu until it times out into
// Chinese (its first_digit_timeout is 2 s), plus react into the next menu.
func welcome(t *testing.T) sipcall.Step {
	return sipcall.Wait(say(t, "welcome", "press-9-english") + 2*time.Second + react)
}

func place(t *testing.T, c sipcall.Call) sipcall.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	res, err := (&sipcall.Client{Logf: t.Logf}).Place(ctx, c)
	if err != nil {
		t.Fatalf("call %s from %s: %v\n%s\n%s", c.Exten, c.From, err, res.ErrorLog, res.Output)
	}
	if !res.Answered {
		t.Fatalf("call %s from %s not answered: status %d", c.Exten, c.From, res.Status)
	}
	return res
}

func records(t *testing.T, number string) []unsubivr.Record {
	t.Helper()
	rs, err := h.store.Records(context.Background(), number)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func active(t *testing.T, number string) []string {
	t.Helper()
	subs, err := h.store.ActiveSubscriptions(context.Background(), number)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range subs {
		out = append(out, s.Service.Code)
	}
	sort.Strings(out)
	return out
}

// callLog waits for the log of the call identified as (or from) number.
func callLog(t *testing.T, number string) unsubivr.CallLog {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		logs, err := h.store.CallLogs(context.Background(), db.CallLogFilter{Number: number})
		if err != nil {
			t.Fatal(err)
		}
		if len(logs) > 0 {
			return logs[0]
		}
	}
	t.Fatalf("no call log for %s", number)
	return unsubivr.CallLog{}
}

// agentReached reports whether the dialplan's agent destination logged
// this number since the tests began.
func agentReached(t *testing.T, number string) bool {
	t.Helper()
	want := "unsub-agent reached number=" + number
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		b, err := os.ReadFile(h.astLog)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) > h.astOffset && strings.Contains(string(b[h.astOffset:]), want) {
			return true
		}
	}
	return false
}

func wantRecord(t *testing.T, number string, channel unsubivr.Channel, services ...string) unsubivr.Record {
	t.Helper()
	rs := records(t, number)
	if len(rs) != 1 {
		t.Fatalf("%s: %d records, want 1: %+v", number, len(rs), rs)
	}
	r := rs[0]
	got := append([]string{}, r.Services...)
	sort.Strings(got)
	sort.Strings(services)
	if !reflect.DeepEqual(got, services) || r.Channel != channel {
		t.Errorf("record %+v: want services %v on channel %s", r, services, channel)
	}
	if len(r.Code) != 8 || r.Consent.Key != "1" || len(r.Consent.Prompts) == 0 || r.CallID == "" {
		t.Errorf("record %+v: want an 8-digit code, the call id and the consent (prompts, key 1)", r)
	}
	return r
}

func TestCancelOne(t *testing.T) {
	t.Parallel()
	for _, mode := range []sipcall.DTMFMode{sipcall.RFC2833, sipcall.SIPInfo} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			n := newSubscriber(t, "CRBT", "BLUE_DIAMOND")
			place(t, sipcall.Call{Exten: "10086", From: n, Mode: mode, Steps: []sipcall.Step{
				welcome(t), sipcall.Press("1"), // 彩铃
				sipcall.Wait(react), sipcall.Press("1"), // confirm
				sipcall.Wait(say(t, "cancel-success") + time.Second), sipcall.Hangup(),
			}})
			r := wantRecord(t, n, unsubivr.ChannelIVR, "CRBT")
			if got := active(t, n); !reflect.DeepEqual(got, []string{"BLUE_DIAMOND"}) {
				t.Errorf("active after cancelling CRBT: %v", got)
			}
			l := callLog(t, n)
			if l.Outcome != "cancelled" || l.CallID != r.CallID {
				t.Errorf("call log %s outcome %q, record call %s", l.CallID, l.Outcome, r.CallID)
			}
			// the platform and the SMS gateway are told, signed, in order
			evs := h.platform.wait(t, n, 2)
			if evs[0].Kind != "unsubscribe" || evs[1].Kind != "sms" || !strings.Contains(string(evs[0].Payload), `"CRBT"`) ||
				!strings.Contains(string(evs[1].Payload), r.Code) {
				t.Errorf("delivered events %+v: want the unsubscribe of CRBT, then the SMS with code %s", evs, r.Code)
			}
		})
	}
}

func TestCancelAll(t *testing.T) {
	t.Parallel()
	n := newSubscriber(t, "CRBT", "BLUE_DIAMOND")
	place(t, sipcall.Call{Exten: "10086", From: n, Steps: []sipcall.Step{
		welcome(t), sipcall.Press("8"),
		sipcall.Wait(react), sipcall.Press("1"),
		sipcall.Wait(say(t, "cancel-all-success") + time.Second), sipcall.Hangup(),
	}})
	r := wantRecord(t, n, unsubivr.ChannelIVR, "CRBT", "BLUE_DIAMOND")
	if !r.Purged {
		t.Error("cancelling BLUE_DIAMOND should purge the marketing profile")
	}
	if got := active(t, n); len(got) != 0 {
		t.Errorf("still active: %v", got)
	}
	if m, err := h.store.MarketingProfile(context.Background(), n); err != nil || len(m) != 0 {
		t.Errorf("marketing profile after purge: %v, %v", m, err)
	}
}

func TestUnknownCallerEntersNumberAndPassword(t *testing.T) {
	t.Parallel()
	n := newSubscriber(t, "VRBT")
	place(t, sipcall.Call{Exten: "10086", From: "anonymous", Steps: []sipcall.Step{
		welcome(t), sipcall.Press(n + "#"),
		sipcall.Wait(react), sipcall.Press("246810#"),
		sipcall.Wait(react), sipcall.Press("1"),
		sipcall.Wait(react), sipcall.Press("1"),
		sipcall.Wait(say(t, "cancel-success") + time.Second), sipcall.Hangup(),
	}})
	wantRecord(t, n, unsubivr.ChannelIVR, "VRBT")
}

func TestThreeWrongPasswordsLock(t *testing.T) {
	t.Parallel()
	n := newSubscriber(t, "VRBT")
	again := sipcall.Wait(say(t, "wrong-password") + react)
	res := place(t, sipcall.Call{Exten: "10086", From: "anonymous", MaxWait: 40 * time.Second, Steps: []sipcall.Step{
		welcome(t), sipcall.Press(n + "#"),
		sipcall.Wait(react), sipcall.Press("000000#"),
		again, sipcall.Press("000001#"),
		again, sipcall.Press("000002#"),
	}})
	if !res.FarEndHangup {
		t.Error("the IVR should end the call (transfer to the agent destination)")
	}
	if rs := records(t, n); len(rs) != 0 {
		t.Errorf("records %+v, want none", rs)
	}
	if err := h.store.VerifyPassword(context.Background(), n, "246810"); unsubivr.ErrorCode(err) != unsubivr.ELOCKED {
		t.Errorf("after three wrong passwords the right one gives %v, want locked", err)
	}
	if !agentReached(t, n) {
		t.Error("locked caller not handed to the agent destination")
	}
}

func TestHangupBeforeConfirm(t *testing.T) {
	t.Parallel()
	n := newSubscriber(t, "CRBT", "BLUE_DIAMOND")
	place(t, sipcall.Call{Exten: "10086", From: n, Steps: []sipcall.Step{
		welcome(t), sipcall.Press("2"), sipcall.Wait(react), sipcall.Hangup(),
	}})
	if l := callLog(t, n); l.Outcome != "abandoned" {
		t.Errorf("outcome %q, want abandoned", l.Outcome)
	}
	if rs := records(t, n); len(rs) != 0 {
		t.Errorf("records %+v, want none", rs)
	}
	if got := active(t, n); len(got) != 2 {
		t.Errorf("active %v, want both", got)
	}
}

func TestInvalidKeysUntilAgent(t *testing.T) {
	t.Parallel()
	n := newSubscriber(t, "CRBT")
	res := place(t, sipcall.Call{Exten: "10086", From: n, MaxWait: 40 * time.Second, Steps: []sipcall.Step{
		welcome(t), sipcall.Press("5"),
		sipcall.Wait(react), sipcall.Press("6"),
		sipcall.Wait(react), sipcall.Press("7"),
	}})
	if !res.FarEndHangup {
		t.Error("the IVR should end the call")
	}
	if l := callLog(t, n); l.Outcome != "transferred" {
		t.Errorf("outcome %q, want transferred", l.Outcome)
	}
	if rs := records(t, n); len(rs) != 0 {
		t.Errorf("records %+v, want none", rs)
	}
	if !agentReached(t, n) {
		t.Error("agent destination not reached")
	}
}

func TestSilenceUntilAgent(t *testing.T) {
	t.Parallel()
	n := newSubscriber(t, "CRBT")
	res := place(t, sipcall.Call{Exten: "10086", From: n, MaxWait: 3 * time.Minute, Steps: []sipcall.Step{welcome(t)}})
	if !res.FarEndHangup {
		t.Error("the IVR should end the call")
	}
	if l := callLog(t, n); l.Outcome != "transferred" {
		t.Errorf("outcome %q, want transferred", l.Outcome)
	}
	if rs := records(t, n); len(rs) != 0 {
		t.Errorf("records %+v, want none", rs)
	}
}

func TestPressZeroForAgent(t *testing.T) {
	t.Parallel()
	n := newSubscriber(t, "CRBT")
	place(t, sipcall.Call{Exten: "10086", From: n, MaxWait: 40 * time.Second, Steps: []sipcall.Step{
		welcome(t), sipcall.Press("0"),
	}})
	if !agentReached(t, n) {
		t.Error("agent destination not reached")
	}
	if l := callLog(t, n); l.Outcome != "transferred" {
		t.Errorf("outcome %q, want transferred", l.Outcome)
	}
}

func TestAgentTransfer(t *testing.T) {
	t.Parallel()
	n := newSubscriber(t, "CRBT", "VRBT")
	place(t, sipcall.Call{Exten: "10087*" + n + "*A007*CRBT", From: "A007", Steps: []sipcall.Step{
		sipcall.Wait(react), sipcall.Press("1"), // the flow starts at the confirm step
		sipcall.Wait(say(t, "cancel-success") + time.Second), sipcall.Hangup(),
	}})
	r := wantRecord(t, n, unsubivr.ChannelAgent, "CRBT")
	if r.AgentID != "A007" {
		t.Errorf("agent id %q, want A007", r.AgentID)
	}
}

func TestConcurrentCallers(t *testing.T) {
	t.Parallel()
	const callers = 20
	var calls []sipcall.Call
	var numbers []string
	for i := 0; i < callers; i++ {
		n := newSubscriber(t, "CRBT")
		numbers = append(numbers, n)
		calls = append(calls, sipcall.Call{Exten: "10086", From: n, Steps: []sipcall.Step{
			welcome(t), sipcall.Press("1"),
			sipcall.Wait(react), sipcall.Press("1"),
			sipcall.Wait(say(t, "cancel-success") + time.Second), sipcall.Hangup(),
		}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	results, err := (&sipcall.Client{Logf: t.Logf}).PlaceMany(ctx, calls, callers)
	failed := 0
	for i, r := range results {
		if !r.Answered || r.ExitCode != 0 {
			failed++
			t.Errorf("call %d from %s: answered %v, sipp exit %d: %s", i, numbers[i], r.Answered, r.ExitCode, r.ErrorLog)
		}
	}
	var ce *sipcall.CallError
	if err != nil && !errors.As(err, &ce) {
		t.Fatal(err)
	}
	got := 0
	for _, n := range numbers {
		got += len(records(t, n))
	}
	if got != callers || failed != 0 {
		t.Errorf("%d callers: %d records, %d failed calls; want %d records, 0 failed", callers, got, failed, callers)
	}
}

// post sends a JSON request to the running service's API.
func post(t *testing.T, path, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+h.httpAddr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %v %v", path, resp.StatusCode, out, err)
	}
	return out
}

// An SMS cancel is the truth for the hotline too: the next call no longer
// offers the service, so key 1 is now the other one.
func TestSMSThenCall(t *testing.T) {
	t.Parallel()
	n := newSubscriber(t, "CRBT", "VRBT")
	out := post(t, "/v1/sms/inbound", `{"from":"`+n+`","text":"ｔｄ　ｃｌ"}`)
	if out["action"] != "cancelled" {
		t.Fatalf("SMS reply %v", out)
	}
	place(t, sipcall.Call{Exten: "10086", From: n, Steps: []sipcall.Step{
		welcome(t), sipcall.Press("1"),
		sipcall.Wait(react), sipcall.Press("1"),
		sipcall.Wait(say(t, "cancel-success") + time.Second), sipcall.Hangup(),
	}})
	rs := records(t, n)
	if len(rs) != 2 {
		t.Fatalf("records %+v, want the SMS one and the call's", rs)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Channel > rs[j].Channel }) // sms, ivr
	if rs[0].Channel != unsubivr.ChannelSMS || rs[0].Services[0] != "CRBT" || rs[1].Channel != unsubivr.ChannelIVR || rs[1].Services[0] != "VRBT" {
		t.Errorf("records %+v: want CRBT by SMS, then VRBT by phone", rs)
	}
	// and the API answers with the SMS's code for CRBT
	out = post(t, "/v1/subscribers/"+n+"/services/CRBT/cancel", `{}`)
	if out["outcome"] != "already_cancelled" || out["code"] != rs[0].Code {
		t.Errorf("API cancel of CRBT: %v, want already_cancelled with code %s", out, rs[0].Code)
	}
}
