package flows_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/flows"
	"github.com/unsubivr/unsubivr/flows/flowstest"
)

func mustBundle(tb testing.TB) *flows.Bundle {
	tb.Helper()
	b, err := flows.LoadBundle("", "")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// runCase places c on the fake against store.
func runCase(t *testing.T, b *flows.Bundle, store unsubivr.Store, c flowstest.Case) (*flowstest.Call, *unsubivr.CallLog) {
	t.Helper()
	keys, err := flowstest.ParseScript(c.Keys)
	if err != nil {
		t.Fatal(err)
	}
	call := &flowstest.Call{CallID: "call-" + c.Name, CallerID: c.Caller, Keys: keys}
	e := &flows.Engine{Store: store}
	log, err := e.Run(context.Background(), b, call, flows.Start{Entry: c.Entry, Number: c.Number, AgentID: c.AgentID, Service: c.Service})
	if err != nil {
		t.Fatal(err)
	}
	return call, log
}

func TestCases(t *testing.T) {
	b := mustBundle(t)
	for _, c := range flowstest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			store := flowstest.Demo()
			call, log := runCase(t, b, store, c)
			if log.Outcome != c.Outcome {
				t.Errorf("outcome %q, want %q\n%s", log.Outcome, c.Outcome, strings.Join(call.Texts(), "\n"))
			}
			var cancelled []string
			for _, r := range store.Records {
				cancelled = append(cancelled, r.Services...)
				if r.Channel != c.Channel {
					t.Errorf("record channel %q, want %q", r.Channel, c.Channel)
				}
				if r.AgentID != c.AgentID {
					t.Errorf("record agent %q, want %q", r.AgentID, c.AgentID)
				}
				if r.CallID != call.CallID {
					t.Errorf("record call id %q, want %q", r.CallID, call.CallID)
				}
				if r.Consent.Key != "1" || len(r.Consent.Prompts) == 0 {
					t.Errorf("consent %+v: want the confirm prompts and key 1", r.Consent)
				}
			}
			sort.Strings(cancelled)
			if !reflect.DeepEqual(cancelled, c.Cancels) {
				t.Errorf("cancelled %v, want %v", cancelled, c.Cancels)
			}
			if (call.Transferred != nil) != c.Transfer {
				t.Errorf("transferred %v, want %v", call.Transferred, c.Transfer)
			}
			if len(store.Logs) != 1 || store.Logs[0].CallID != call.CallID {
				t.Fatalf("call logs %+v: want one for this call", store.Logs)
			}
			if len(store.Records) == 1 {
				code := store.Records[0].Code
				if !strings.Contains(strings.Join(call.Texts(), "\n"), spell(code, c.Name == "English")) {
					t.Errorf("confirmation code %s was not read out:\n%s", code, strings.Join(call.Texts(), "\n"))
				}
			}
		})
	}
}

// spell reads digits the way the catalogs do.
func spell(code string, english bool) string {
	zh := []string{"零", "一", "二", "三", "四", "五", "六", "七", "八", "九"}
	en := []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
	var parts []string
	for _, r := range code {
		if english {
			parts = append(parts, en[r-'0'])
		} else {
			parts = append(parts, zh[r-'0'])
		}
	}
	if english {
		return strings.Join(parts, " ")
	}
	return strings.Join(parts, "")
}

func TestConsentAndPurgeWarning(t *testing.T) {
	b := mustBundle(t)
	store := flowstest.Demo()
	call, _ := runCase(t, b, store, flowstest.Case{Name: "bd", Caller: "13800138000", Keys: "t 2 1 h"})
	if len(store.Records) != 1 {
		t.Fatalf("records %+v", store.Records)
	}
	got := store.Records[0].Consent
	want := unsubivr.Consent{Prompts: []string{"confirm-cancel", "purge-warning"}, Key: "1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("consent %+v, want %+v", got, want)
	}
	if !strings.Contains(strings.Join(call.Texts(), "\n"), "营销数据将被永久删除") {
		t.Error("purge warning not played")
	}

	// CRBT purges nothing: no warning
	store = flowstest.Demo()
	runCase(t, b, store, flowstest.Case{Name: "crbt", Caller: "13800138000", Keys: "t 1 1 h"})
	if p := store.Records[0].Consent.Prompts; !reflect.DeepEqual(p, []string{"confirm-cancel"}) {
		t.Errorf("consent prompts %v, want [confirm-cancel]", p)
	}
}

func TestListingReadsFees(t *testing.T) {
	b := mustBundle(t)
	call, _ := runCase(t, b, flowstest.Demo(), flowstest.Case{Name: "list", Caller: "13800138000", Keys: "t h"})
	all := strings.Join(call.Texts(), "\n")
	for _, want := range []string{"退订彩铃，月费五元，请按一。", "退订蓝钻，月费十元，请按二。", "一键退订全部业务请按8"} {
		if !strings.Contains(all, want) {
			t.Errorf("listing lacks %q:\n%s", want, all)
		}
	}
}

func TestInvalidAndNoInputPrompts(t *testing.T) {
	b := mustBundle(t)
	call, _ := runCase(t, b, flowstest.Demo(), flowstest.Case{Name: "x", Caller: "13800138000", Keys: "t 5 t 7"})
	// prompts: welcome, services x3, too-many-attempts, transfer
	texts := call.Texts()
	if len(texts) < 4 {
		t.Fatalf("prompts %q", texts)
	}
	if !strings.HasPrefix(texts[2], "您的输入有误。") {
		t.Errorf("after an invalid key the menu should start with the invalid prompt: %q", texts[2])
	}
	if !strings.HasPrefix(texts[3], "未收到您的按键。") {
		t.Errorf("after silence the menu should start with the no-input prompt: %q", texts[3])
	}
	if call.Transferred == nil || call.Transferred.Destination != "agent" {
		t.Errorf("exhausted attempts should transfer to agent, got %+v", call.Transferred)
	}
	if v := call.Transferred.Vars; v[flows.VarNumber] != "13800138000" || v[flows.VarLang] != "zh-CN" || v[flows.VarCallID] != "call-x" {
		t.Errorf("transfer vars %v", v)
	}
}

func TestRepeatDoesNotCountAsAttempt(t *testing.T) {
	b := mustBundle(t)
	store := flowstest.Demo()
	call, _ := runCase(t, b, store, flowstest.Case{Name: "r", Caller: "13800138000", Keys: "t * * * * 1 1 h"})
	if len(store.Records) != 1 {
		t.Fatalf("after four repeats the caller should still cancel: records %v\n%s", store.Records, strings.Join(call.Texts(), "\n"))
	}
}

func TestTimeoutsFromFlow(t *testing.T) {
	b := mustBundle(t)
	call, _ := runCase(t, b, flowstest.Demo(), flowstest.Case{Name: "t", Caller: "anonymous", Keys: "t 13900139000# h"})
	want := []struct{ first, inter time.Duration }{
		{2 * time.Second, 3 * time.Second}, // welcome overrides first_digit_timeout
		{8 * time.Second, 3 * time.Second}, // ask_number
		{8 * time.Second, 3 * time.Second}, // ask_password
	}
	var got []struct{ first, inter time.Duration }
	for _, p := range call.Prompts {
		if p.Gather.Match != nil {
			got = append(got, struct{ first, inter time.Duration }{p.Gather.FirstDigit, p.Gather.InterDigit})
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("timeouts %v, want %v", got, want)
	}
}

func TestBargeIn(t *testing.T) {
	b := mustBundle(t)
	t.Run("DuringMenu", func(t *testing.T) {
		call, log := runCase(t, b, flowstest.Demo(), flowstest.Case{Name: "b", Caller: "13900139000", Keys: "^9 h"})
		if !call.Prompts[0].Interrupted || call.Prompts[0].Input.Digits != "9" {
			t.Errorf("welcome: %+v", call.Prompts[0])
		}
		if log.Language != unsubivr.EnUS {
			t.Errorf("language %s, want en-US", log.Language)
		}
	})
	t.Run("DuringPlayTypesAhead", func(t *testing.T) {
		// the caller starts typing the number again while "unknown number" plays
		store := flowstest.Demo()
		call, _ := runCase(t, b, store, flowstest.Case{Name: "b2", Caller: "", Keys: "t 13100000000# ^13900139000# 654321# 1 1 h"})
		if len(store.Records) != 1 || store.Records[0].Number != "13900139000" {
			t.Fatalf("records %+v\n%s", store.Records, strings.Join(call.Texts(), "\n"))
		}
		for _, p := range call.Prompts {
			if strings.Contains(p.Text, "请输入您的十一位手机号码") && p.Input.Digits == "3900139000#" {
				t.Errorf("the typed-ahead number should not replay the question: %+v", p)
			}
		}
	})
	t.Run("NotDuringResult", func(t *testing.T) {
		// a key during the (non-bargeable) result does not cut the code short
		store := flowstest.Demo()
		call, _ := runCase(t, b, store, flowstest.Case{Name: "b3", Caller: "13800138000", Keys: "t 1 1 ^1 h"})
		for _, p := range call.Prompts {
			if strings.HasPrefix(p.Text, "退订成功") && p.Interrupted {
				t.Errorf("result prompt was interrupted")
			}
		}
		if len(store.Records) != 1 {
			t.Fatalf("records %v", store.Records)
		}
	})
}

func TestLanguageRemembered(t *testing.T) {
	b := mustBundle(t)
	store := flowstest.Demo()
	runCase(t, b, store, flowstest.Case{Name: "l", Caller: "13800138000", Keys: "9 h"})
	if got := store.Subscribers["13800138000"].Language; got != unsubivr.EnUS {
		t.Fatalf("stored language %s, want en-US", got)
	}
	// next call: English from the start of the menu, without pressing 9
	call, _ := runCase(t, b, store, flowstest.Case{Name: "l2", Caller: "13800138000", Keys: "t h"})
	if !strings.Contains(call.Texts()[1], "These are your active value-added services.") {
		t.Errorf("second call not in English: %q", call.Texts())
	}
}

func TestFailureWritesNothing(t *testing.T) {
	b := mustBundle(t)
	store := flowstest.Demo()
	store.Fail = errors.New("disk I/O error")
	call, log := runCase(t, b, store, flowstest.Case{Name: "f", Caller: "13800138000", Keys: "t 1 1"})
	if len(store.Records) != 0 {
		t.Errorf("records %v", store.Records)
	}
	if log.Outcome != flows.OutcomeFailed {
		t.Errorf("outcome %s", log.Outcome)
	}
	if !strings.Contains(strings.Join(call.Texts(), "\n"), "系统繁忙，请稍后再试") || !call.HungUp {
		t.Errorf("want system busy then goodbye:\n%s", strings.Join(call.Texts(), "\n"))
	}
}

// staleStore lists a subscription another channel cancels before the
// caller confirms, as when an SMS cancel lands mid-call.
type staleStore struct{ *flowstest.Store }

func (s staleStore) ActiveSubscriptions(ctx context.Context, n string) ([]unsubivr.Subscription, error) {
	subs, err := s.Store.ActiveSubscriptions(ctx, n)
	if err == nil && len(subs) > 0 {
		_, err = s.Store.Unsubscribe(ctx, unsubivr.Request{Number: n, ServiceCode: subs[0].Service.Code, Channel: unsubivr.ChannelSMS})
	}
	return subs, err
}

func TestAlreadyCancelled(t *testing.T) {
	b := mustBundle(t)
	store := flowstest.Demo()
	call, log := runCase(t, b, staleStore{store}, flowstest.Case{Name: "a", Caller: "13900139000", Keys: "t 1 1 h"})
	if len(store.Records) != 1 || store.Records[0].Channel != unsubivr.ChannelSMS {
		t.Fatalf("records %+v: want only the SMS one", store.Records)
	}
	if log.Outcome != flows.OutcomeAlready {
		t.Errorf("outcome %s", log.Outcome)
	}
	if !strings.Contains(strings.Join(call.Texts(), "\n"), "该业务已于此前退订，确认码是"+spell(store.Records[0].Code, false)) {
		t.Errorf("want the original code read:\n%s", strings.Join(call.Texts(), "\n"))
	}
}

func TestHangupAnywhere(t *testing.T) {
	// Cut a full call after every token: nothing is written before the
	// confirming key, the cancel is written once it is pressed.
	b := mustBundle(t)
	full := strings.Fields("t 1 1 1 1 1 h")
	confirmAt := 2 // index of the confirming key
	for i := 0; i <= len(full); i++ {
		keys := strings.Join(append(append([]string{}, full[:i]...), "h"), " ")
		t.Run(fmt.Sprintf("After%d", i), func(t *testing.T) {
			store := flowstest.Demo()
			_, log := runCase(t, b, store, flowstest.Case{Name: "h", Caller: "13800138000", Keys: keys})
			wantRecords := 0
			if i > confirmAt {
				wantRecords = 1
			}
			if i > 5 {
				wantRecords = 2
			}
			if len(store.Records) != wantRecords {
				t.Errorf("keys %q: %d records, want %d", keys, len(store.Records), wantRecords)
			}
			if len(store.Logs) != 1 || log.EndedAt.IsZero() {
				t.Errorf("keys %q: call log not saved", keys)
			}
		})
	}
}

// hangupAfterConfirm hangs up the context the moment the store is asked to
// cancel: the write must complete regardless.
type hangupAfterConfirm struct {
	*flowstest.Store
	cancel context.CancelFunc
}

func (s hangupAfterConfirm) Unsubscribe(ctx context.Context, r unsubivr.Request) (unsubivr.Result, error) {
	s.cancel()
	if ctx.Err() != nil {
		return unsubivr.Result{}, ctx.Err()
	}
	return s.Store.Unsubscribe(ctx, r)
}

func TestWriteSurvivesHangup(t *testing.T) {
	b := mustBundle(t)
	store := flowstest.Demo()
	ctx, cancel := context.WithCancel(context.Background())
	keys, _ := flowstest.ParseScript("t 1 1 1")
	call := &flowstest.Call{CallID: "c", CallerID: "13800138000", Keys: keys}
	log, err := (&flows.Engine{Store: hangupAfterConfirm{store, cancel}}).Run(ctx, b, call, flows.Start{})
	if err != nil {
		t.Fatal(err)
	}
	if len(store.Records) != 1 {
		t.Fatalf("records %v: the confirmed cancel must be written after the hang-up", store.Records)
	}
	if log.Outcome != flows.OutcomeCancelled || len(store.Logs) != 1 {
		t.Errorf("outcome %s, logs %d", log.Outcome, len(store.Logs))
	}
}

func TestTrace(t *testing.T) {
	b := mustBundle(t)
	_, log := runCase(t, b, flowstest.Demo(), flowstest.Case{Name: "tr", Caller: "13800138000", Keys: "t 1 1 h"})
	var kinds []string
	for _, ev := range log.Trace {
		kinds = append(kinds, ev.Kind+":"+ev.Node)
	}
	for _, want := range []string{"node:welcome", "timeout:welcome", "action:identify", "key:services", "key:confirm", "cancelled:cancel", "hangup:cancelled"} {
		if !containsStr(kinds, want) {
			t.Errorf("trace lacks %s: %v", want, kinds)
		}
	}
	if log.FlowVersion == "" || log.Number != "13800138000" {
		t.Errorf("log %+v", log)
	}
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestBadStart(t *testing.T) {
	b := mustBundle(t)
	_, err := (&flows.Engine{Store: flowstest.Demo()}).Run(context.Background(), b, &flowstest.Call{}, flows.Start{Entry: "nope"})
	if err == nil {
		t.Fatal("unknown entry: want error")
	}
	_, err = (&flows.Engine{Store: flowstest.Demo()}).Run(context.Background(), b, &flowstest.Call{}, flows.Start{Flow: "nope"})
	if err == nil {
		t.Fatal("unknown flow: want error")
	}
}

func TestSecondCancelInOneCall(t *testing.T) {
	// cancel one, then "press 1 to cancel another", then cancel all that is left
	b := mustBundle(t)
	store := flowstest.Demo()
	call, _ := runCase(t, b, store, flowstest.Case{Name: "two", Caller: "13800138000", Keys: "t 1 1 1 8 1 h"})
	if len(store.Records) != 2 {
		t.Fatalf("records %+v", store.Records)
	}
	all := strings.Join(call.Texts(), "\n")
	if !strings.Contains(all, "您将退订全部一项增值业务") {
		t.Errorf("the second round should count what is left (one service):\n%s", all)
	}
	if !strings.Contains(all, "确认码是"+spell(store.Records[1].Code, false)) {
		t.Errorf("the second code should be read:\n%s", all)
	}
}

func TestSecretsStayOutOfTraces(t *testing.T) {
	b := mustBundle(t)
	_, log := runCase(t, b, flowstest.Demo(), flowstest.Case{Name: "s", Caller: "anonymous", Keys: "t 13900139000# 654321# 1 1 h"})
	var keys []string
	for _, ev := range log.Trace {
		if ev.Kind == "key" || ev.Kind == "invalid" {
			keys = append(keys, ev.Node+"="+ev.Detail)
		}
		if strings.Contains(ev.Detail, "654321") || strings.Contains(ev.Detail, "13900139000") {
			t.Errorf("trace event %+v holds a password or a full number", ev)
		}
	}
	if !containsStr(keys, "ask_password=*******") || !containsStr(keys, "ask_number=*******9000") {
		t.Errorf("keys %v: want the password as stars and the number masked", keys)
	}
}

func TestDefaultLanguageIsNotAChoice(t *testing.T) {
	b := mustBundle(t)
	store := flowstest.Demo()
	store.Subscribers["13900139000"].Language = unsubivr.EnUS
	keys, _ := flowstest.ParseScript("t h")
	call := &flowstest.Call{CallID: "d", CallerID: "13900139000", Keys: keys}
	if _, err := (&flows.Engine{Store: store, Language: unsubivr.ZhCN}).Run(context.Background(), b, call, flows.Start{}); err != nil {
		t.Fatal(err)
	}
	if got := store.Subscribers["13900139000"].Language; got != unsubivr.EnUS {
		t.Errorf("stored language became %s: the service default must not overwrite a subscriber's choice", got)
	}
	if !strings.Contains(call.Texts()[1], "These are your active value-added services.") {
		t.Errorf("the menu should follow the subscriber's preference: %q", call.Texts()[1])
	}
}

func TestNoCancelWithoutConfirm(t *testing.T) {
	// a flow that goes from the menu straight to the cancel
	f, err := flows.Parse("skip.yaml", []byte(`name: skip
start: list
languages: [zh-CN]
nodes:
  list:
    type: action
    action: list_services
    outcomes: {some: pick, none: bye}
  pick:
    type: menu
    prompts: [services-intro]
    subscriptions: {item_prompt: service-item, next: cancel}
  cancel:
    type: action
    action: unsubscribe
    outcomes: {done: bye, already: bye, failed: bye}
  bye:
    type: hangup
`))
	if err != nil {
		t.Fatal(err)
	}
	b := mustBundle(t)
	skip := &flows.Bundle{Flows: map[string]*flows.Flow{"skip": f}, Catalog: b.Catalog, Version: "skip"}
	store := flowstest.Demo()
	call := &flowstest.Call{CallID: "x", CallerID: "13800138000", Keys: []string{"1", "h"}}
	log, err := (&flows.Engine{Store: store}).Run(context.Background(), skip, call, flows.Start{})
	if err != nil {
		t.Fatal(err)
	}
	if len(store.Records) != 0 {
		t.Errorf("cancelled without confirmation: %+v", store.Records)
	}
	if log.Trace[len(log.Trace)-1].Kind != "error" || !call.HungUp {
		t.Errorf("want an error event and a hang-up, got %+v", log.Trace[len(log.Trace)-1])
	}
}

func TestRepeatsAreBounded(t *testing.T) {
	b := mustBundle(t)
	keys := "t" + strings.Repeat(" *", 11)
	call, log := runCase(t, b, flowstest.Demo(), flowstest.Case{Name: "rep", Caller: "13800138000", Keys: keys})
	if call.Transferred == nil || log.Outcome != flows.OutcomeTransferred {
		t.Errorf("after 10 free replays the 11th should end as exhausted attempts (agent): outcome %s", log.Outcome)
	}
}
