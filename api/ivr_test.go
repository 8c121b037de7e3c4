package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/flows"
	"github.com/unsubivr/unsubivr/flows/flowstest"
)

// One store, every channel: what the SMS channel cancels, the hotline
// sees, on the same database file.

// runCall places a scripted hotline call from caller on the real store.
func runCall(t *testing.T, e *env, call flows.Call) *unsubivr.CallLog {
	t.Helper()
	b, err := flows.LoadBundle("", "")
	if err != nil {
		t.Fatal(err)
	}
	eng := &flows.Engine{Store: e.d}
	log, err := eng.Run(context.Background(), b, call, flows.Start{})
	if err != nil {
		t.Fatal(err)
	}
	return log
}

// listing returns the text of the services menu of a call: the prompt that
// offers the services.
func listing(t *testing.T, c *flowstest.Call) string {
	t.Helper()
	for _, text := range c.Texts() {
		if strings.Contains(text, "您当前开通的增值业务如下") {
			return text
		}
	}
	t.Fatalf("no services menu in the call:\n%s", strings.Join(c.Texts(), "\n"))
	return ""
}

func TestSMSCancelSeenByIVR(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	// Before: the hotline offers both services of 13800138000.
	before := &flowstest.Call{CallID: "call-before", CallerID: "13800138000", Keys: []string{"t", "h"}}
	runCall(t, e, before)
	if menu := listing(t, before); !strings.Contains(menu, "退订彩铃") || !strings.Contains(menu, "退订蓝钻") {
		t.Fatalf("menu before the SMS: %s", menu)
	}

	got, _ := e.sms(t, "13800138000", "TD CL")
	if got.Action != "cancelled" {
		t.Fatalf("%+v", got)
	}

	// The store gives the SMS's record to a cancel from the hotline.
	res, err := e.d.Unsubscribe(ctx, unsubivr.Request{Number: "13800138000", ServiceCode: "CRBT",
		Channel: unsubivr.ChannelIVR, CallID: "call-x", Consent: unsubivr.Consent{Key: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != unsubivr.AlreadyCancelled || res.Record.Code != got.Code || res.Record.Channel != unsubivr.ChannelSMS {
		t.Fatalf("hotline cancel after the SMS: %+v, want already_cancelled with code %s", res, got.Code)
	}

	// The next call no longer offers it; the first item is now Blue Diamond.
	after := &flowstest.Call{CallID: "call-after", CallerID: "13800138000", Keys: []string{"t", "h"}}
	runCall(t, e, after)
	menu := listing(t, after)
	if strings.Contains(menu, "彩铃") || !strings.Contains(menu, "退订蓝钻") {
		t.Fatalf("menu after the SMS still offers 彩铃 or lost 蓝钻: %s", menu)
	}
}

// smsMidCall is a hotline call during which, while the caller is being
// asked to confirm a service, the same subscriber cancels it by SMS.
type smsMidCall struct {
	*flowstest.Call
	t    *testing.T
	e    *env
	sent *smsReply
}

func (c *smsMidCall) Prompt(ctx context.Context, g flows.Gather) (flows.Input, error) {
	var text strings.Builder
	for _, clip := range g.Clips {
		text.WriteString(clip.Text)
	}
	if c.sent == nil && strings.Contains(text.String(), "您将退订") {
		got, _ := c.e.sms(c.t, "13800138000", "退订彩铃")
		c.sent = &got
	}
	return c.Call.Prompt(ctx, g)
}

func TestSMSCancelDuringCall(t *testing.T) {
	e := newEnv(t)
	// Listed while active; confirmed (1 1) after the SMS cancelled it.
	call := &smsMidCall{Call: &flowstest.Call{CallID: "call-race", CallerID: "13800138000", Keys: []string{"t", "1", "1", "h"}}, t: t, e: e}
	log := runCall(t, e, call)
	if call.sent == nil || call.sent.Action != "cancelled" {
		t.Fatalf("SMS during the call: %+v", call.sent)
	}
	if log.Outcome != flows.OutcomeAlready {
		t.Fatalf("call outcome %q, want %q\n%s", log.Outcome, flows.OutcomeAlready, strings.Join(call.Texts(), "\n"))
	}
	// The caller hears the SMS's code.
	spoken := spell(call.sent.Code)
	var heard bool
	for _, text := range call.Texts() {
		if strings.Contains(text, "该业务已于此前退订") && strings.Contains(text, spoken) {
			heard = true
		}
	}
	if !heard {
		t.Fatalf("no already-cancelled prompt with code %s (%s):\n%s", call.sent.Code, spoken, strings.Join(call.Texts(), "\n"))
	}
	if got := e.counts(t); got.Records != 1 {
		t.Fatalf("%d records, want the SMS's only", got.Records)
	}
}

// spell reads a code the way the Chinese prompts do, digit by digit.
func spell(code string) string {
	zh := []rune("零一二三四五六七八九")
	var b strings.Builder
	for _, r := range code {
		b.WriteRune(zh[r-'0'])
	}
	return b.String()
}
