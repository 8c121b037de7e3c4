package ivr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/flows"
)

// callRun is one call handed to the test by the harness's Handler.
type callRun struct {
	call flows.Call
	st   flows.Start
	ctx  context.Context
	end  chan string // the test sends the outcome to end the handler
}

// harness runs a Server against a fake Asterisk.
type harness struct {
	t     *testing.T
	f     *fakeAsterisk
	srv   *Server
	calls chan *callRun
	hook  *logtest.Hook
	reg   *prometheus.Registry

	cancel context.CancelFunc
	done   chan error
}

func newHarness(t *testing.T, mod ...func(*Server)) *harness {
	t.Helper()
	f := newFakeAsterisk(t)
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	h := &harness{t: t, f: f, calls: make(chan *callRun, 100), hook: hook, reg: prometheus.NewRegistry()}
	h.srv = &Server{
		Config:  f.config(),
		Log:     logger,
		Metrics: NewMetrics(h.reg),
		Handler: func(ctx context.Context, call flows.Call, st flows.Start) string {
			cr := &callRun{call: call, st: st, ctx: ctx, end: make(chan string, 1)}
			h.calls <- cr
			select {
			case o := <-cr.end:
				return o
			case <-call.(*Call).gone.Done():
				select { // the test may still say how it ended
				case o := <-cr.end:
					return o
				case <-time.After(time.Second):
					return "gone"
				}
			case <-ctx.Done():
				return "ctx-done"
			}
		},
	}
	for _, m := range mod {
		m(h.srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- h.srv.Run(ctx) }()
	t.Cleanup(func() { h.stop() })
	return h
}

// stop cancels Run and waits for it.
func (h *harness) stop() error {
	h.cancel()
	select {
	case err := <-h.done:
		h.done <- err
		return err
	case <-time.After(15 * time.Second):
		h.t.Fatal("Run did not return")
		return nil
	}
}

// next waits for the next call the handler gets.
func (h *harness) next() *callRun {
	h.t.Helper()
	select {
	case cr := <-h.calls:
		return cr
	case <-time.After(5 * time.Second):
		h.t.Fatal("no call reached the handler")
		return nil
	}
}

// dial places a call and returns it as the handler got it.
func (h *harness) dial(id string, args ...string) *callRun {
	h.t.Helper()
	h.f.waitConnected()
	h.f.call(id, "13800138000", args...)
	return h.next()
}

func (h *harness) logged(msg string) bool {
	for _, e := range h.hook.AllEntries() {
		if strings.Contains(e.Message, msg) {
			return true
		}
	}
	return false
}

func (h *harness) waitLogged(msg string, timeout time.Duration) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for !h.logged(msg) {
		if time.Now().After(deadline) {
			var all []string
			for _, e := range h.hook.AllEntries() {
				all = append(all, e.Message)
			}
			h.t.Fatalf("never logged %q; log: %q", msg, all)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) metric(name string, labels ...string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !labelsMatch(m, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return 0
}

func labelsMatch(m *dto.Metric, kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		ok := false
		for _, l := range m.GetLabel() {
			if l.GetName() == kv[i] && l.GetValue() == kv[i+1] {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func clips(files ...string) []flows.Clip {
	out := make([]flows.Clip, len(files))
	for i, f := range files {
		out[i] = flows.Clip{File: f}
	}
	return out
}

const pfx = "sound:unsubivr/"

type promptResult struct {
	in  flows.Input
	err error
	at  time.Duration
}

// goPrompt runs Prompt in the background.
func goPrompt(c flows.Call, g flows.Gather) <-chan promptResult {
	out := make(chan promptResult, 1)
	t0 := time.Now()
	go func() {
		in, err := c.Prompt(context.Background(), g)
		out <- promptResult{in, err, time.Since(t0)}
	}()
	return out
}

func wait(t *testing.T, ch <-chan promptResult) promptResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("Prompt did not return")
		return promptResult{}
	}
}

func menu(keys ...string) func(string) flows.MatchResult { return flows.MenuMatcher(keys) }

func TestPromptBargeIn(t *testing.T) {
	h := newHarness(t)
	h.f.setClip(time.Second)
	cr := h.dial("c1")
	if cr.st != (flows.Start{}) {
		t.Errorf("start %+v, want the hotline", cr.st)
	}
	if cr.call.ID() != "c1" || cr.call.Caller() != "13800138000" {
		t.Errorf("call %q from %q", cr.call.ID(), cr.call.Caller())
	}
	h.f.waitRequest("answer c1", time.Second)
	res := goPrompt(cr.call, flows.Gather{Clips: clips("zh-CN/welcome", "zh-CN/menu"), BargeIn: true,
		Match: menu("1", "2"), FirstDigit: time.Second, InterDigit: time.Second})
	h.f.waitPlaying("c1", pfx+"zh-CN/welcome")
	h.f.press("c1", "2", 0)
	r := wait(t, res)
	if r.err != nil || r.in != (flows.Input{Digits: "2", Status: flows.Matched}) {
		t.Fatalf("Prompt = %+v, %v; want Matched 2", r.in, r.err)
	}
	if r.at > 800*time.Millisecond {
		t.Errorf("barge-in took %v: the key did not cut the prompt", r.at)
	}
	if n := h.f.countRequests("play c1 " + pfx + "zh-CN/menu"); n != 0 {
		t.Errorf("the clip after the barge-in played %d times", n)
	}
	if h.f.countRequests("stop ") != 1 {
		t.Errorf("requests %q: want the playing clip stopped once", h.f.requests())
	}
	// the next prompt measures the digit-to-prompt latency
	h.f.setClip(20 * time.Millisecond)
	r = wait(t, goPrompt(cr.call, flows.Gather{Clips: clips("zh-CN/bye")}))
	if r.err != nil || r.in.Status != flows.Played {
		t.Fatalf("play = %+v, %v", r.in, r.err)
	}
	if n := h.metric("unsubivr_digit_to_prompt_seconds"); n != 1 {
		t.Errorf("digit-to-prompt observations = %v, want 1", n)
	}
	cr.end <- "completed"
	h.f.waitRequest("hangup c1", time.Second)
	waitMetric(t, h, "unsubivr_calls_total", 1, "outcome", "completed")
}

func waitMetric(t *testing.T, h *harness, name string, want float64, labels ...string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for h.metric(name, labels...) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v, want %v", name, labels, h.metric(name, labels...), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPromptNoBargeIn(t *testing.T) {
	h := newHarness(t)
	h.f.setClip(300 * time.Millisecond)
	cr := h.dial("c1")
	res := goPrompt(cr.call, flows.Gather{Clips: clips("a", "b"), BargeIn: false,
		Match: menu("1", "2"), FirstDigit: 2 * time.Second, InterDigit: time.Second})
	h.f.waitPlaying("c1", pfx+"a")
	h.f.press("c1", "1", 0) // ignored: no barge-in
	h.f.waitPlaying("c1", pfx+"b")
	h.f.press("c1", "1", 0)
	for len(h.f.playing("c1")) > 0 {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	h.f.press("c1", "2", 0)
	r := wait(t, res)
	if r.err != nil || r.in != (flows.Input{Digits: "2", Status: flows.Matched}) {
		t.Fatalf("Prompt = %+v, %v; want Matched 2 (keys during the clips ignored)", r.in, r.err)
	}
	if h.f.countRequests("stop ") != 0 {
		t.Errorf("a clip was stopped: %q", h.f.requests())
	}
	cr.end <- "completed"
}

func TestPromptResults(t *testing.T) {
	h := newHarness(t)
	h.f.setClip(50 * time.Millisecond)
	cr := h.dial("c1")
	num := flows.LengthMatcher(11, 11, "#")
	for _, tc := range []struct {
		name  string
		g     flows.Gather
		keys  string
		delay time.Duration // before the keys, after the prompt starts
		want  flows.Input
	}{
		{"NoInput", flows.Gather{Clips: clips("q"), BargeIn: true, Match: menu("1"), FirstDigit: 150 * time.Millisecond}, "", 0,
			flows.Input{Status: flows.NoInput}},
		{"Invalid", flows.Gather{Clips: clips("q"), BargeIn: true, Match: menu("1", "2")}, "7", 0,
			flows.Input{Digits: "7", Status: flows.NoMatch}},
		{"IncompleteThenTimeout", flows.Gather{Clips: clips("q"), BargeIn: true, Match: num, InterDigit: 150 * time.Millisecond}, "138", 0,
			flows.Input{Digits: "138", Status: flows.NoMatch}},
		// a whole number typed at once during the clip: the burst that
		// exposes ext/play's races without pacing
		{"NumberBurst", flows.Gather{Clips: clips("q"), BargeIn: true, Match: num, InterDigit: time.Second}, "13800138000#", 0,
			flows.Input{Digits: "13800138000#", Status: flows.Matched}},
		{"NumberAfterClip", flows.Gather{Clips: clips("q"), BargeIn: false, Match: num, FirstDigit: time.Second, InterDigit: time.Second}, "13900139000#", 150 * time.Millisecond,
			flows.Input{Digits: "13900139000#", Status: flows.Matched}},
		// two keys at once: the first answers the menu, as key by key
		{"TwoKeysAtOnce", flows.Gather{Clips: clips("q"), BargeIn: true, Match: menu("1", "2", "12x")}, "21", 0,
			flows.Input{Digits: "2", Status: flows.Matched}},
		{"PlayOnly", flows.Gather{Clips: clips("q", "r")}, "5", 0,
			flows.Input{Status: flows.Played}},
		{"PlayOnlyBargeIn", flows.Gather{Clips: clips("q", "r"), BargeIn: true}, "5", 0,
			flows.Input{Digits: "5", Status: flows.Played}},
		{"CollectOnly", flows.Gather{BargeIn: true, Match: menu("1", "2"), FirstDigit: time.Second}, "1", 50 * time.Millisecond,
			flows.Input{Digits: "1", Status: flows.Matched}},
		{"CollectOnlyNoInput", flows.Gather{Match: menu("1"), FirstDigit: 100 * time.Millisecond}, "", 0,
			flows.Input{Status: flows.NoInput}},
		{"Nothing", flows.Gather{}, "", 0, flows.Input{Status: flows.Played}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plays := h.f.countRequests("play ")
			res := goPrompt(cr.call, tc.g)
			if len(tc.g.Clips) > 0 {
				h.f.waitPlaying("c1", pfx+tc.g.Clips[0].File)
			}
			time.Sleep(tc.delay)
			if tc.keys != "" {
				h.f.press("c1", tc.keys, 0)
			}
			r := wait(t, res)
			if r.err != nil || r.in != tc.want {
				t.Fatalf("Prompt = %+v, %v; want %+v", r.in, r.err, tc.want)
			}
			played := h.f.countRequests("play ") - plays
			switch {
			case len(tc.g.Clips) == 0 && played != 0:
				t.Errorf("%d playbacks for a prompt without clips", played)
			case tc.name == "PlayOnly" && played != 2:
				t.Errorf("%d playbacks, want both clips", played)
			case tc.name == "PlayOnlyBargeIn" && played != 1:
				t.Errorf("%d playbacks, want the barge-in to skip the second clip", played)
			}
			for len(h.f.playing("c1")) > 0 { // let a stopped clip finish before the next case
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	cr.end <- "completed"
}

func TestHangupDuringPrompt(t *testing.T) {
	h := newHarness(t)
	h.f.setClip(5 * time.Second)
	cr := h.dial("c1")
	res := goPrompt(cr.call, flows.Gather{Clips: clips("long"), BargeIn: true, Match: menu("1")})
	h.f.waitPlaying("c1", pfx+"long")
	h.f.hangup("c1")
	r := wait(t, res)
	if !errors.Is(r.err, flows.ErrHangup) {
		t.Fatalf("Prompt after hang-up = %+v, %v; want ErrHangup", r.in, r.err)
	}
	if r.at > 2*time.Second {
		t.Errorf("Prompt took %v to notice the hang-up", r.at)
	}
	ctx := context.Background()
	if _, err := cr.call.Prompt(ctx, flows.Gather{Clips: clips("x")}); !errors.Is(err, flows.ErrHangup) {
		t.Errorf("Prompt: %v, want ErrHangup", err)
	}
	if err := cr.call.Transfer(ctx, flows.Transfer{Destination: "agent"}); !errors.Is(err, flows.ErrHangup) {
		t.Errorf("Transfer: %v, want ErrHangup", err)
	}
	if err := cr.call.Hangup(ctx); !errors.Is(err, flows.ErrHangup) {
		t.Errorf("Hangup: %v, want ErrHangup", err)
	}
	cr.end <- flows.OutcomeAbandoned
	waitMetric(t, h, "unsubivr_calls_total", 1, "outcome", "abandoned")
	if n := h.f.countRequests("hangup c1"); n != 0 {
		t.Errorf("hung up a channel that was gone (%d requests)", n)
	}
	if h.srv.Active() != 0 {
		t.Errorf("%d calls active", h.srv.Active())
	}
	// every line of the call carries call_id
	for _, e := range h.hook.AllEntries() {
		if strings.HasPrefix(e.Message, "call ") && e.Data["call_id"] != "c1" {
			t.Errorf("log line %q without call_id: %v", e.Message, e.Data)
		}
	}
}

func TestTransfer(t *testing.T) {
	h := newHarness(t)
	cr := h.dial("c1")
	err := cr.call.Transfer(context.Background(), flows.Transfer{Destination: "agent", Vars: map[string]string{
		flows.VarNumber: "13800138000", flows.VarService: "CRBT", flows.VarLang: "zh-CN", flows.VarCallID: "c1",
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"setvar c1 UNSUB_CALL_ID c1", "setvar c1 UNSUB_LANG zh-CN", "setvar c1 UNSUB_NUMBER 13800138000",
		"setvar c1 UNSUB_SERVICE CRBT", "continue c1 unsub-agent agent 1",
	}
	var got []string
	for _, r := range h.f.requests() {
		if strings.HasPrefix(r, "setvar") || strings.HasPrefix(r, "continue") {
			got = append(got, r)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := cr.call.Hangup(context.Background()); err != nil {
		t.Errorf("Hangup after Transfer: %v, want nil (a no-op)", err)
	}
	if _, err := cr.call.Prompt(context.Background(), flows.Gather{Clips: clips("x")}); !errors.Is(err, flows.ErrHangup) {
		t.Errorf("Prompt after Transfer: %v, want ErrHangup", err)
	}
	cr.end <- flows.OutcomeTransferred
	waitMetric(t, h, "unsubivr_calls_total", 1, "outcome", "transferred")
	if n := h.f.countRequests("hangup"); n != 0 {
		t.Errorf("the transferred channel was hung up")
	}
	for _, e := range h.hook.AllEntries() {
		for _, v := range e.Data {
			if s, ok := v.(string); ok && strings.Contains(s, "13800138000") {
				t.Errorf("log line %q shows a full number: %v", e.Message, e.Data)
			}
		}
	}
}

func TestAgentEntry(t *testing.T) {
	h := newHarness(t)
	cr := h.dial("c1", "agent", "13900139000", "A002", "VRBT", "en-US")
	want := flows.Start{Entry: "agent", Number: "13900139000", AgentID: "A002", Service: "VRBT", Language: unsubivr.EnUS}
	if cr.st != want {
		t.Errorf("start %+v, want %+v", cr.st, want)
	}
	cr.end <- "completed"
	cr = h.dial("c2", "agent", "123", "A002")
	if cr.st != (flows.Start{}) {
		t.Errorf("bad number: start %+v, want the hotline", cr.st)
	}
	h.waitLogged("not an 11-digit mobile number", time.Second)
	cr.end <- "completed"
}

func TestHandlerEndHangsUp(t *testing.T) {
	h := newHarness(t, func(s *Server) {
		s.Handler = func(ctx context.Context, call flows.Call, st flows.Start) string { return "" }
	})
	h.f.waitConnected()
	h.f.call("c1", "13800138000")
	h.f.waitRequest("hangup c1 normal", 2*time.Second)
	waitMetric(t, h, "unsubivr_calls_total", 1, "outcome", "unknown")
}

func TestHandlerPanic(t *testing.T) {
	h := newHarness(t, func(s *Server) {
		s.Handler = func(ctx context.Context, call flows.Call, st flows.Start) string { panic("boom") }
	})
	h.f.waitConnected()
	h.f.call("c1", "13800138000")
	h.f.waitRequest("hangup c1", 2*time.Second)
	waitMetric(t, h, "unsubivr_calls_total", 1, "outcome", OutcomeError)
	h.waitLogged("panicked", time.Second)
}

func TestShutdown(t *testing.T) {
	h := newHarness(t, func(s *Server) { s.ShutdownGrace, s.hardStop = time.Second, time.Second })
	h.f.setClip(50 * time.Millisecond)
	cr := h.dial("c1")
	h.cancel() // SIGTERM
	h.waitLogged("shutting down", time.Second)
	// a new call goes back to the dialplan
	h.f.call("c2", "13900139000")
	h.f.waitRequest("continue c2   0", 2*time.Second)
	if h.f.countRequests("setvar c2 "+RejectVar+" shutdown") != 1 {
		t.Errorf("requests %q: want %s set", h.f.requests(), RejectVar)
	}
	// the active call goes on
	r := wait(t, goPrompt(cr.call, flows.Gather{Clips: clips("still-here")}))
	if r.err != nil {
		t.Fatalf("Prompt during the grace period: %v", r.err)
	}
	// until the grace period is over
	select {
	case err := <-h.done:
		h.done <- err
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the grace period")
	}
	if h.f.countRequests("hangup c1") != 1 {
		t.Errorf("requests %q: want c1 hung up after the grace period", h.f.requests())
	}
	if err := cr.ctx.Err(); err == nil {
		t.Error("the handler's context is still live after Run returned")
	}
	waitMetric(t, h, "unsubivr_calls_total", 1, "outcome", OutcomeRejected)
}

func TestShutdownIdle(t *testing.T) {
	h := newHarness(t)
	cr := h.dial("c1")
	go func() {
		time.Sleep(100 * time.Millisecond)
		cr.end <- "completed"
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case err := <-h.done:
		h.done <- err
	case <-time.After(3 * time.Second):
		t.Fatal("Run did not return after Shutdown")
	}
}

func TestUnauthorized(t *testing.T) {
	f := newFakeAsterisk(t)
	cfg := f.config()
	cfg.Password = "wrong"
	s := &Server{Config: cfg, Handler: func(context.Context, flows.Call, flows.Start) string { return "" }}
	if err := s.Check(context.Background()); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Check: %v, want ErrUnauthorized", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	select {
	case err := <-done:
		want := "ivr: ARI rejected user unsubivr (401): check UNSUB_ARI_USER/UNSUB_ARI_PASSWORD"
		if !errors.Is(err, ErrUnauthorized) || err.Error() != want {
			t.Errorf("Run: %v, want %q", err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run kept retrying a wrong password")
	}
}

func TestCheck(t *testing.T) {
	f := newFakeAsterisk(t)
	s := &Server{Config: f.config()}
	if err := s.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg := f.config()
	cfg.URL = f.srv.URL + "/nope"
	s = &Server{Config: cfg}
	if err := s.Check(context.Background()); err == nil {
		t.Error("Check of a wrong URL passed")
	}
}

func TestReconnect(t *testing.T) {
	h := newHarness(t)
	h.f.setClip(400 * time.Millisecond)
	gone := h.dial("gone")
	alive := h.dial("alive")
	resGone := goPrompt(gone.call, flows.Gather{Clips: clips("g"), BargeIn: true, Match: menu("1"), FirstDigit: 30 * time.Second})
	resAlive := goPrompt(alive.call, flows.Gather{Clips: clips("a"), BargeIn: true, Match: menu("1"), FirstDigit: 30 * time.Second})
	h.f.waitPlaying("gone", pfx+"g")
	h.f.waitPlaying("alive", pfx+"a")

	// Asterisk goes away: the websocket drops, "gone" vanishes without a
	// word, and the connection is refused for a while
	h.f.mu.Lock()
	h.f.refuseWS = true
	h.f.mu.Unlock()
	h.f.dropWS()
	h.f.vanish("gone")
	h.waitLogged("ARI websocket lost", 2*time.Second)
	h.waitLogged("ARI connection failed; retrying", 3*time.Second)
	h.f.mu.Lock()
	h.f.refuseWS = false
	h.f.mu.Unlock()
	h.waitLogged("ARI reconnected", 5*time.Second)

	if r := wait(t, resGone); !errors.Is(r.err, flows.ErrHangup) {
		t.Errorf("prompt of the vanished channel: %+v %v, want ErrHangup", r.in, r.err)
	}
	// the live call's prompt plays again, and answers
	deadline := time.Now().Add(5 * time.Second)
	for h.f.countRequests("play alive "+pfx+"a") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the prompt was not replayed after the reconnect: %q", h.f.requests())
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.f.press("alive", "1", 0)
	if r := wait(t, resAlive); r.err != nil || r.in.Status != flows.Matched {
		t.Errorf("prompt after reconnect: %+v %v, want Matched", r.in, r.err)
	}
	if n := h.metric("unsubivr_ari_reconnects_total"); n != 1 {
		t.Errorf("reconnects = %v, want 1", n)
	}
	gone.end <- "abandoned"
	alive.end <- "completed"
}

func TestBackoff(t *testing.T) {
	f := newFakeAsterisk(t)
	f.refuseWS = true
	logger, hook := logtest.NewNullLogger()
	s := &Server{Config: f.config(), Log: logger,
		Handler: func(context.Context, flows.Call, flows.Start) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(1800 * time.Millisecond) // attempts at 0, 0.5, 1.5 s
	f.mu.Lock()
	f.refuseWS = false
	f.mu.Unlock()
	f.waitConnected()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var retries []string
	for _, e := range hook.AllEntries() {
		if e.Message == "ARI connection failed; retrying" {
			retries = append(retries, fmt.Sprint(e.Data["attempt"], "/", e.Data["retry_in"]))
		}
	}
	if len(retries) < 2 || retries[0] != "1/500ms" || retries[1] != "2/1s" {
		t.Errorf("retries %q, want 1/500ms, 2/1s...", retries)
	}
}

func TestUndecodableEvents(t *testing.T) {
	h := newHarness(t)
	cr := h.dial("c1")
	// a type ari/v5 does not know (Asterisk 22 has some), and junk
	h.f.sendRaw([]byte(`{"type": "ChannelToneDetected", "application": "unsub-ivr", "channel": {"id": "c1"}}`))
	h.f.sendRaw([]byte(`not json`))
	res := goPrompt(cr.call, flows.Gather{Clips: clips("q"), BargeIn: true, Match: menu("1")})
	h.f.waitPlaying("c1", pfx+"q")
	h.f.press("c1", "1", 0)
	if r := wait(t, res); r.err != nil || r.in.Status != flows.Matched {
		t.Fatalf("Prompt after undecodable events: %+v %v", r.in, r.err)
	}
	if n := h.metric("unsubivr_ari_events_total", "result", "undecodable"); n != 2 {
		t.Errorf("undecodable events = %v, want 2", n)
	}
	cr.end <- "completed"
}

func TestReentryGetsNewCallID(t *testing.T) {
	h := newHarness(t)
	cr := h.dial("c1")
	if err := cr.call.Transfer(context.Background(), flows.Transfer{Destination: "agent"}); err != nil {
		t.Fatal(err)
	}
	cr.end <- flows.OutcomeTransferred
	h.f.mu.Lock()
	h.f.channels["c1"].inStasis = true
	h.f.mu.Unlock()
	h.f.send(map[string]any{"type": "StasisStart", "args": []string{"agent", "13800138000", "A001"},
		"channel": h.f.chanJSON(h.f.channel("c1"))})
	cr2 := h.next()
	if cr2.call.ID() != "c1-2" {
		t.Errorf("second session id %q, want c1-2", cr2.call.ID())
	}
	cr2.end <- "completed"
}

// TestNoGoroutineLeak runs calls through prompts, keys and hang-ups and
// checks that nothing of them is left running.
func TestNoGoroutineLeak(t *testing.T) {
	h := newHarness(t)
	h.f.setClip(30 * time.Millisecond)
	h.f.waitConnected()
	time.Sleep(50 * time.Millisecond)
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		id := fmt.Sprintf("c%d", i)
		h.f.call(id, "13800138000")
		cr := h.next()
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := goPrompt(cr.call, flows.Gather{Clips: clips("a", "b"), BargeIn: true, Match: menu("1"), FirstDigit: time.Second})
			time.Sleep(10 * time.Millisecond)
			h.f.press(id, "1", 0)
			wait(t, res)
			wait(t, goPrompt(cr.call, flows.Gather{Clips: clips("c"), BargeIn: false, Match: menu("2"), FirstDigit: 50 * time.Millisecond}))
			if i%2 == 0 {
				h.f.hangup(id)
			}
			cr.end <- "completed"
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for h.srv.Active() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls still active", h.srv.Active())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// no goroutine of a call (ours or ext/play's) is left
	deadline = time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		left := ""
		for _, fn := range []string{"ext/play.", "ivr.(*subscription).pump", "ivr.(*Server).serve", "ivr.(*Call)."} {
			if strings.Contains(stacks, fn) {
				left = fn
			}
		}
		if left == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s goroutines left after every call ended:\n%s", left, stacks)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// and the count is back where it was, once idle REST connections close
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	waitGoroutines(t, before)
	if q := h.metric("unsubivr_ari_event_queue_depth"); q != 0 {
		t.Errorf("event queue depth %v after all calls ended", q)
	}
}

// TestManyCalls runs a burst of concurrent calls through the whole path
// (websocket, router, ext/play, REST), each answering a barge-in menu
// during its first clip and a no-barge-in menu after its clip: every key
// of every call must arrive.
func TestManyCalls(t *testing.T) {
	n := 200
	if testing.Short() {
		n = 40
	}
	h := newHarness(t, func(s *Server) {
		s.Handler = func(ctx context.Context, call flows.Call, st flows.Start) string {
			in1, err := call.Prompt(ctx, flows.Gather{Clips: clips("m1", "m1b"), BargeIn: true, Match: menu("1"), FirstDigit: 5 * time.Second})
			if err != nil || in1.Status != flows.Matched {
				return fmt.Sprintf("bad1:%v:%v", in1, err)
			}
			in2, err := call.Prompt(ctx, flows.Gather{Clips: clips("m2"), BargeIn: false, Match: menu("2"), FirstDigit: 5 * time.Second})
			if err != nil || in2.Status != flows.Matched {
				return fmt.Sprintf("bad2:%v:%v", in2, err)
			}
			if strings.HasSuffix(call.ID(), "0") {
				_ = call.Transfer(ctx, flows.Transfer{Destination: "agent", Vars: map[string]string{flows.VarCallID: call.ID()}})
			} else {
				_ = call.Hangup(ctx)
			}
			return "ok"
		}
	})
	// clips long enough that the key pressed as m1 starts always arrives
	// while it plays, however loaded the machine
	h.f.setClip(250 * time.Millisecond)
	h.f.mu.Lock()
	h.f.onPlayback = func(ch, uri, state string, stopped bool) {
		switch {
		case uri == pfx+"m1" && state == "playing":
			h.f.press(ch, "1", 0)
		case uri == pfx+"m2" && state == "playing":
			h.f.press(ch, "9", 0) // during the clip: ignored
		case uri == pfx+"m2" && state == "done" && !stopped:
			h.f.press(ch, "2", 0)
		}
	}
	h.f.mu.Unlock()
	h.f.waitConnected()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		h.f.call(fmt.Sprintf("m%03d", i), "13800138000")
	}
	deadline := time.Now().Add(60 * time.Second)
	for h.metric("unsubivr_calls_total", "outcome", "ok") < float64(n) {
		if time.Now().After(deadline) {
			mfs, _ := h.reg.Gather()
			var out []string
			for _, mf := range mfs {
				if mf.GetName() == "unsubivr_calls_total" {
					for _, m := range mf.GetMetric() {
						out = append(out, fmt.Sprint(m.GetLabel()[0].GetValue(), "=", m.Counter.GetValue()))
					}
				}
			}
			t.Fatalf("outcomes %v, want %d ok", out, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%d calls in %v", n, time.Since(t0))
	if h.f.countRequests("play ") != 2*n {
		t.Errorf("%d playbacks, want %d (m1b must never start after the barge-in)", h.f.countRequests("play "), 2*n)
	}
}
