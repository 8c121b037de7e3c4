package sipcall

// Live: calls to the sandbox Asterisk (scripts/asterisk-sandbox start), with
// UNSUB_LIVE=1. No ARI app needed: the test adds a temporary extension to the
// context the sipp endpoint lands in (unsub-test), through the CLI; it reads
// the caller's keys with Read() and logs them, and the test finds that line
// in messages.log. Nothing is written to the repository's config.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	liveExten   = "5555"
	liveContext = "unsub-test"
	// Read(): terminator D instead of # (so # is read as a key; D is never sent), up to
	// 40 keys, one attempt, liveReadTimeout seconds for each key. Then the
	// keys are logged and Asterisk hangs up.
	liveReadTimeout = 5
)

type sandbox struct {
	script string
	log    string
}

func (s sandbox) cli(t *testing.T, cmd string) string {
	t.Helper()
	out, err := exec.Command(s.script, "cli", cmd).CombinedOutput()
	if err != nil {
		t.Fatalf("asterisk-sandbox cli %q: %v\n%s", cmd, err, out)
	}
	return string(out)
}

func liveSandbox(t *testing.T) sandbox {
	t.Helper()
	needSIPp(t, "UNSUB_LIVE")
	dir, err := FindScenarioDir()
	if err != nil {
		t.Fatal(err)
	}
	s := sandbox{script: filepath.Join(dir, "..", "..", "scripts", "asterisk-sandbox")}
	if out, err := exec.Command(s.script, "status").CombinedOutput(); err != nil {
		t.Fatalf("sandbox Asterisk not running (scripts/asterisk-sandbox start): %s", out)
	}
	out, err := exec.Command(s.script, "path", "log").Output()
	if err != nil {
		t.Fatal(err)
	}
	s.log = strings.TrimSpace(string(out))
	for i, app := range []string{
		"Answer()",
		fmt.Sprintf("Read(D,,40,t(D),1,%d)", liveReadTimeout),
		"Log(NOTICE,DTMF-GOT:${CALLERID(num)}:${D}:)",
		"Hangup()",
	} {
		s.cli(t, fmt.Sprintf("dialplan add extension %s,%d,%s into %s replace", liveExten, i+1, app, liveContext))
	}
	t.Cleanup(func() { s.cli(t, fmt.Sprintf("dialplan remove extension %s@%s", liveExten, liveContext)) })
	return s
}

// logOffset is the current end of messages.log.
func (s sandbox) logOffset(t *testing.T) int64 {
	t.Helper()
	fi, err := os.Stat(s.log)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

var dtmfGotRe = regexp.MustCompile(`DTMF-GOT:([^:]*):([^:]*):`)

// received returns caller -> keys of the DTMF-GOT lines logged after off.
func (s sandbox) received(t *testing.T, off int64) map[string][]string {
	t.Helper()
	f, err := os.Open(s.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(off, 0); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := dtmfGotRe.FindStringSubmatch(sc.Text()); m != nil {
			got[m[1]] = append(got[m[1]], m[2])
		}
	}
	return got
}

func liveCall(from string, mode DTMFMode, keys string) Call {
	return Call{Exten: liveExten, From: from, Mode: mode,
		Steps:   []Step{Wait(time.Second), Press(keys)},
		MaxWait: liveReadTimeout*time.Second + 15*time.Second}
}

func checkLive(t *testing.T, s sandbox, off int64, calls []Call, results []Result) {
	t.Helper()
	time.Sleep(300 * time.Millisecond) // the log line is written just before the hangup
	got := s.received(t, off)
	ok := 0
	for i, c := range calls {
		want := results[i].Plan.Digits()
		if !results[i].Answered || !results[i].FarEndHangup {
			t.Errorf("call %d (%s): want answered, hung up by Asterisk: %+v", i, c.From, results[i])
		}
		if g := got[c.From]; len(g) != 1 || g[0] != want {
			t.Errorf("call %d from %s (%s): sent %q, Asterisk read %q", i, c.From, c.Mode, want, g)
			continue
		}
		ok++
	}
	t.Logf("%d/%d calls: Asterisk read exactly the keys sent", ok, len(calls))
}

func TestLiveDTMF(t *testing.T) {
	s := liveSandbox(t)
	cl := &Client{Logf: t.Logf, TempDir: t.TempDir()}
	for _, tc := range []struct {
		from string
		mode DTMFMode
		keys string
	}{
		{"13800000001", RFC2833, "52#"},
		{"13800000002", RFC2833, "13800138000#"},
		{"13800000003", RFC2833, "*0123456789#ABC"},
		{"13800000004", SIPInfo, "52#"},
		{"13800000005", SIPInfo, "13800138000#"},
		{"13800000006", SIPInfo, "*0123456789#"},
	} {
		t.Run(tc.mode.String()+"-"+tc.keys, func(t *testing.T) {
			off := s.logOffset(t)
			c := liveCall(tc.from, tc.mode, tc.keys)
			res, err := cl.Place(context.Background(), c)
			if err != nil {
				t.Fatalf("%v\n%s", err, res.ErrorLog)
			}
			checkLive(t, s, off, []Call{c}, []Result{res})
		})
	}
}

func TestLiveConcurrent(t *testing.T) {
	s := liveSandbox(t)
	const n = 20
	calls := make([]Call, n)
	for i := range calls {
		// different keys for each call; every fourth one by SIP INFO
		mode := RFC2833
		if i%4 == 3 {
			mode = SIPInfo
		}
		calls[i] = liveCall(fmt.Sprintf("139%08d", i), mode, fmt.Sprintf("%d*%03d#", i, i*37))
	}
	off := s.logOffset(t)
	start := time.Now()
	results, err := (&Client{TempDir: t.TempDir()}).PlaceMany(context.Background(), calls, n)
	t.Logf("%d calls at once in %v", n, time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Error(err)
	}
	checkLive(t, s, off, calls, results)
}

func TestLiveWeHangUpAndRejected(t *testing.T) {
	s := liveSandbox(t)
	off := s.logOffset(t)
	// we hang up in the middle of Read(): no keys logged
	res, err := (&Client{TempDir: t.TempDir()}).Place(context.Background(), Call{Exten: liveExten, From: "13800000010",
		Steps: []Step{Wait(time.Second), Press("12"), Hangup()}})
	if err != nil || !res.Answered || !res.HungUp || res.FarEndHangup {
		t.Fatalf("our hangup: %+v %v", res, err)
	}
	if got := s.received(t, off)["13800000010"]; len(got) != 0 {
		t.Errorf("keys logged after our hangup: %q", got)
	}
	// no such extension
	res, err = (&Client{TempDir: t.TempDir()}).Place(context.Background(), Call{Exten: "5555999", From: "13800000011",
		Steps: []Step{Hangup()}})
	if err != nil || res.Answered || res.Status != 404 {
		t.Fatalf("unknown extension: want 404: %+v %v", res, err)
	}
}

// As the tester softphone endpoint, with digest auth (401 challenge).
func TestLiveDigestAuth(t *testing.T) {
	s := liveSandbox(t)
	out, err := exec.Command(s.script, "env").Output()
	if err != nil {
		t.Fatal(err)
	}
	var pw string
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "UNSUB_TESTER_PASSWORD="); ok {
			pw = v
		}
	}
	off := s.logOffset(t)
	c := liveCall("tester", RFC2833, "7#")
	c.Auth = &Auth{User: "tester", Password: pw}
	res, err := (&Client{Logf: t.Logf, TempDir: t.TempDir()}).Place(context.Background(), c)
	if err != nil {
		t.Fatalf("%v\n%s", err, res.ErrorLog)
	}
	if !res.Answered || !res.FarEndHangup {
		t.Fatalf("%+v", res)
	}
	time.Sleep(300 * time.Millisecond)
	found := false
	for _, keys := range s.received(t, off) {
		for _, k := range keys {
			found = found || k == "7#"
		}
	}
	if !found {
		t.Errorf("Asterisk did not read 7# from the tester endpoint: %v", s.received(t, off))
	}
}
