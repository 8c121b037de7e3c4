package sipcall

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DTMFMode is how a call sends its keys.
type DTMFMode int

const (
	// RFC2833: RFC 4733 telephone-events in the RTP stream (the SDP offers
	// telephone-event/8000, payload type 101).
	RFC2833 DTMFMode = iota
	// SIPInfo: one SIP INFO per key (application/dtmf-relay), the SDP offers
	// PCMU only; the RTP stream is silence.
	SIPInfo
)

func (m DTMFMode) String() string {
	if m == SIPInfo {
		return "sipinfo"
	}
	return "rfc2833"
}

// Defaults of a call.
const (
	// TestHeader identifies the SIPp test client to Asterisk (endpoint "sipp"
	// of asterisk/pjsip_sipp.conf). Sent on every request of a call without
	// Auth.
	TestHeader = "X-Unsub-Test: sipp"
	// DefaultFrom is the caller's user part when Call.From is empty.
	DefaultFrom = "13800138000"
	// DefaultMaxWait bounds the wait for the far end's BYE after a plan
	// without Hangup.
	DefaultMaxWait = 30 * time.Second
)

// Auth is a digest credential, for a call as a softphone endpoint (e.g.
// tester) instead of the header-identified sipp endpoint.
type Auth struct {
	User, Password string
}

// Call is one call to place.
type Call struct {
	Exten string // dialled number, e.g. "10086" or "10087*13800138000*A001*CRBT"
	// From is the caller id user part ("13800138000", "anonymous");
	// default DefaultFrom.
	From  string
	Steps []Step // what the caller does once answered (see NewPlan)
	Mode  DTMFMode
	// Headers are extra "Name: value" lines on every request (e.g.
	// "X-Unsub-Customer: 13800138000"); TestHeader is added unless Auth is set.
	Headers []string
	Auth    *Auth
	// MaxWait: for a plan without Hangup, how long after its last step to
	// wait for the far end's BYE before we hang up (Result.WaitTimedOut).
	// Default DefaultMaxWait.
	MaxWait time.Duration
	// SIPPort and MediaPort are the local ports (-p, -mp); 0 allocates free
	// ones. MediaPort uses four ports from it (RTP/RTCP, video RTP/RTCP).
	SIPPort, MediaPort int
}

// Event is a marker line of the scenario's log.
type Event struct {
	Name string        // ANSWERED, REJECTED_486, FARBYE, BYE, BYE_TIMEOUT, BYE_OK
	At   time.Duration // since SIPp started
}

// Result is what happened on a call.
type Result struct {
	Plan     Plan
	Answered bool // 200 OK to the INVITE
	// Status is the final answer to the INVITE: 200, a rejection such as
	// 404 or 486, or 0 when there was none (or an unlisted one: see ErrorLog).
	Status int
	// FarEndHangup: the far end sent BYE (IVR hangup, transfer end); we
	// answered it with 200 OK. HungUp: we sent BYE first (the plan's Hangup,
	// or WaitTimedOut).
	FarEndHangup, HungUp bool
	WaitTimedOut         bool // no BYE from the far end within MaxWait after the plan
	// Duration is from the 200 OK to the end of the call (BYE received, or
	// the 200 OK to our BYE).
	Duration           time.Duration
	Elapsed            time.Duration // the whole SIPp run
	Events             []Event
	ExitCode           int    // SIPp's exit status (0: the call succeeded)
	ErrorLog           string // SIPp's error log (unexpected messages etc.), if any
	Output             string // tail of SIPp's stdout/stderr when it failed
	Dir                string // the call's files, when kept (Client.KeepFiles)
	SIPPort, MediaPort int
}

// Client runs SIPp. The zero value works; DefaultClient is used by Place and
// PlaceMany.
type Client struct {
	SIPp        string // SIPp binary; default "sipp"
	Server      string // Asterisk's SIP address; default $UNSUB_SIP_ADDR or 127.0.0.1:5060
	LocalIP     string // default 127.0.0.1
	ScenarioDir string // default FindScenarioDir()
	TempDir     string // parent of the per-call directories; default os.TempDir()
	// KeepFiles keeps each call's directory (scenario, capture, SIPp logs)
	// and reports it in Result.Dir; else it is removed unless the call failed.
	KeepFiles bool
	// Logf, if set, gets one line per call (e.g. t.Logf).
	Logf func(format string, args ...any)
}

// DefaultClient is the client of Place and PlaceMany.
var DefaultClient = &Client{}

// Place places one call with DefaultClient.
func Place(ctx context.Context, c Call) (Result, error) { return DefaultClient.Place(ctx, c) }

// PlaceMany places calls with DefaultClient, parallel at a time.
func PlaceMany(ctx context.Context, calls []Call, parallel int) ([]Result, error) {
	return DefaultClient.PlaceMany(ctx, calls, parallel)
}

// CallError is the error of a call whose SIPp run failed.
type CallError struct {
	Exten    string
	ExitCode int
	Reason   string
}

func (e *CallError) Error() string {
	return fmt.Sprintf("sipcall: call to %s: sipp exit %d: %s", e.Exten, e.ExitCode, e.Reason)
}

const setupMargin = 20 * time.Second // INVITE to 200 OK, BYE, SIPp start and stop

// Place places the call: it lays out the plan, writes the capture and the
// rendered scenario to a temporary directory, runs SIPp once and reads back
// what happened. A call the far end rejects (404, 486, ...) is not an error:
// see Result.Status. The error is non-nil when SIPp could not run or the call
// failed (unexpected message, timeout, ctx done); Result is filled as far as
// known.
func (cl *Client) Place(ctx context.Context, c Call) (res Result, err error) {
	if c.Exten == "" {
		return res, errors.New("sipcall: Call.Exten is empty")
	}
	var plan Plan
	plan, err = NewPlan(c.Steps...)
	if err != nil {
		return res, err
	}
	res.Plan = plan
	wait := time.Duration(0)
	if !plan.Hangup {
		wait = c.MaxWait
		if wait <= 0 {
			wait = DefaultMaxWait
		}
	}
	scenDir := cl.ScenarioDir
	if scenDir == "" {
		if scenDir, err = FindScenarioDir(); err != nil {
			return res, err
		}
	}
	tmpl, err := os.ReadFile(filepath.Join(scenDir, ScenarioFile))
	if err != nil {
		return res, err
	}
	dir, err := os.MkdirTemp(cl.TempDir, "sipcall-")
	if err != nil {
		return res, err
	}
	keep := cl.KeepFiles
	defer func() {
		if keep {
			res.Dir = dir
		} else {
			os.RemoveAll(dir)
		}
	}()

	// The capture: silence for the whole call, the keys as RFC 4733 events
	// (none in SIP INFO mode), one second beyond the plan for the BYE.
	pcap := filepath.Join(dir, "media.pcap")
	keys := plan.Keys
	if c.Mode == SIPInfo {
		keys = nil
	}
	f, err := os.Create(pcap)
	if err != nil {
		return res, err
	}
	bw := bufio.NewWriter(f)
	err = WriteDTMFCapture(bw, keys, CaptureOptions{Duration: plan.Length + wait + time.Second})
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, err
	}
	data, err := buildScenario(c, plan, pcap, wait)
	if err != nil {
		return res, err
	}
	xml, err := renderScenario(tmpl, data)
	if err != nil {
		return res, err
	}
	scen := filepath.Join(dir, "scenario.xml")
	if err := os.WriteFile(scen, xml, 0o644); err != nil {
		return res, err
	}

	limit := plan.Length + wait + setupMargin
	for attempt := 0; ; attempt++ {
		ports, release, err := cl.ports(c)
		if err != nil {
			return res, err
		}
		res = Result{Plan: plan, SIPPort: ports.SIP, MediaPort: ports.Media}
		err = cl.run(ctx, c, dir, scen, ports, limit, &res)
		release()
		if err != nil && attempt < 3 && c.SIPPort == 0 && c.MediaPort == 0 && bindFailed(&res) {
			continue // a port was taken between the probe and SIPp's bind
		}
		if err != nil {
			keep = true
		}
		if keep {
			res.Dir = dir
		}
		if cl.Logf != nil {
			cl.Logf("sipcall: %s from %s %s keys %q: %s", c.Exten, orDefault(c.From, DefaultFrom), c.Mode, plan.Digits(), res.summary(err))
		}
		return res, err
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func (r *Result) summary(err error) string {
	var b strings.Builder
	switch {
	case r.Answered:
		b.WriteString("answered")
	case r.Status != 0:
		fmt.Fprintf(&b, "rejected %d", r.Status)
	default:
		b.WriteString("not answered")
	}
	switch {
	case r.FarEndHangup:
		b.WriteString(", far end hung up")
	case r.WaitTimedOut:
		b.WriteString(", we hung up (no BYE within MaxWait)")
	case r.HungUp:
		b.WriteString(", we hung up")
	}
	fmt.Fprintf(&b, ", %v", r.Duration.Round(time.Millisecond))
	if err != nil {
		fmt.Fprintf(&b, "; %v", err)
	}
	if r.Dir != "" {
		fmt.Fprintf(&b, " (files %s)", r.Dir)
	}
	return b.String()
}

// bindFailed: SIPp could not bind a local port (exit -2, or a fatal error
// naming the bind).
func bindFailed(r *Result) bool {
	s := strings.ToLower(r.Output + r.ErrorLog)
	return r.ExitCode == 254 || (r.ExitCode != 0 && strings.Contains(s, "unable to bind"))
}

func (cl *Client) run(ctx context.Context, c Call, dir, scen string, ports localPorts, limit time.Duration, res *Result) error {
	bin := cl.SIPp
	if bin == "" {
		bin = "sipp"
	}
	server := cl.Server
	if server == "" {
		server = os.Getenv("UNSUB_SIP_ADDR")
	}
	if server == "" {
		server = "127.0.0.1:5060"
	}
	local := cl.localIP()
	logFile := filepath.Join(dir, "log.txt")
	errFile := filepath.Join(dir, "errors.txt")
	for _, f := range []string{logFile, errFile} {
		os.Remove(f) // from an earlier attempt
	}
	args := []string{server,
		"-sf", scen, "-m", "1", "-l", "1", "-s", c.Exten,
		"-p", strconv.Itoa(ports.SIP), "-mp", strconv.Itoa(ports.Media), "-cp", strconv.Itoa(ports.Control),
		"-i", local,
		"-nostdin", "-aa",
		"-trace_err", "-error_file", errFile,
		"-trace_logs", "-log_file", logFile,
		"-trace_msg", "-message_file", filepath.Join(dir, "messages.txt"),
		"-timeout", strconv.Itoa(int(limit.Seconds()+1)) + "s", "-timeout_error",
		// a loaded machine (parallel test binaries, 20 calls on 2 cores)
		// stalls SIPp's loop now and then: not a reason to abort the call
		"-watchdog_minor_threshold", "2000", "-watchdog_major_threshold", "20000",
		"-watchdog_minor_maxtriggers", "100000", "-watchdog_major_maxtriggers", "100000",
	}
	if c.Auth != nil {
		args = append(args, "-au", c.Auth.User, "-ap", c.Auth.Password)
	}
	cctx, cancel := context.WithTimeout(ctx, limit+10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, bin, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	runErr := cmd.Run()
	res.Elapsed = time.Since(start)
	_ = os.WriteFile(filepath.Join(dir, "sipp.out"), out.Bytes(), 0o644)

	res.ExitCode = cmd.ProcessState.ExitCode()
	if b, err := os.ReadFile(errFile); err == nil {
		res.ErrorLog = string(b)
	}
	if lb, err := os.ReadFile(logFile); err == nil {
		res.parseLog(string(lb))
	}
	if res.Status == 0 {
		if m := unexpectedRe.FindStringSubmatch(res.ErrorLog); m != nil {
			res.Status, _ = strconv.Atoi(m[1])
		}
	}
	if runErr == nil {
		return nil
	}
	res.Output = tail(out.String(), 2000)
	reason := runErr.Error()
	switch {
	case ctx.Err() != nil:
		reason = "cancelled: " + ctx.Err().Error()
	case cctx.Err() != nil:
		reason = fmt.Sprintf("killed after %v", limit+10*time.Second)
	case res.ExitCode == 1 && res.ErrorLog != "":
		reason = "call failed: " + firstLines(res.ErrorLog, 6)
	case res.ExitCode == 1:
		reason = "call failed (SIPp timeout or retransmissions exhausted)"
	default:
		if res.ErrorLog != "" {
			reason += ": " + firstLines(res.ErrorLog, 6)
		} else if res.Output != "" {
			reason += ": " + firstLines(lastLines(res.Output, 6), 6)
		}
	}
	var exitErr *exec.ExitError
	if !errors.As(runErr, &exitErr) && ctx.Err() == nil {
		return fmt.Errorf("sipcall: running %s: %w", bin, runErr)
	}
	return &CallError{Exten: c.Exten, ExitCode: res.ExitCode, Reason: reason}
}

// unexpectedRe finds the status of an unexpected answer in SIPp's error log.
var unexpectedRe = regexp.MustCompile(`received 'SIP/2\.0 (\d{3})`)

// parseLog reads the scenario's marker lines, "SIPCALL <EVENT> <clock ms>".
func (r *Result) parseLog(s string) {
	var answered, end time.Duration
	haveEnd := false
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		i := 0
		for i < len(f) && f[i] != "SIPCALL" {
			i++
		}
		if i+2 >= len(f) {
			continue
		}
		ms, err := strconv.ParseInt(f[i+2], 10, 64)
		if err != nil {
			continue
		}
		ev := Event{Name: f[i+1], At: time.Duration(ms) * time.Millisecond}
		r.Events = append(r.Events, ev)
		switch {
		case ev.Name == "ANSWERED":
			r.Answered, r.Status, answered = true, 200, ev.At
		case strings.HasPrefix(ev.Name, "REJECTED_"):
			r.Status, _ = strconv.Atoi(strings.TrimPrefix(ev.Name, "REJECTED_"))
		case ev.Name == "FARBYE":
			if !r.HungUp {
				r.FarEndHangup = true
			}
			if !haveEnd {
				end, haveEnd = ev.At, true
			}
		case ev.Name == "BYE":
			r.HungUp = true
		case ev.Name == "BYE_TIMEOUT":
			r.HungUp, r.WaitTimedOut = true, true
		case ev.Name == "BYE_OK":
			if !haveEnd {
				end, haveEnd = ev.At, true
			}
		}
	}
	if r.Answered && haveEnd {
		r.Duration = end - answered
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, " | ")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// PlaceMany places the calls, at most parallel at a time (all at once when
// parallel <= 0). Results are in the order of calls; the error joins the
// calls' errors, each prefixed with its index.
func (cl *Client) PlaceMany(ctx context.Context, calls []Call, parallel int) ([]Result, error) {
	if parallel <= 0 || parallel > len(calls) {
		parallel = len(calls)
	}
	results := make([]Result, len(calls))
	errs := make([]error, len(calls))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r, err := cl.Place(ctx, calls[i])
			results[i] = r
			if err != nil {
				errs[i] = fmt.Errorf("call %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	return results, errors.Join(errs...)
}
