package sipcall

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSIPp writes a stand-in for sipp that records its arguments and the
// files it was given, writes log (the scenario's markers), errlog, prints
// out and exits with code.
func fakeSIPp(t *testing.T, log, errlog, out string, code int) (bin, argsFile string) {
	t.Helper()
	dir := t.TempDir()
	argsFile = filepath.Join(dir, "args")
	script := fmt.Sprintf(`#!/bin/sh
printf '%%s\n' "$@" >>%[1]q
echo --- >>%[1]q
while [ $# -gt 0 ]; do
  case $1 in
    -log_file) log=$2; shift ;;
    -error_file) err=$2; shift ;;
    -sf) sf=$2; shift ;;
  esac
  shift
done
[ -f "$sf" ] || { echo "no scenario $sf"; exit 99; }
pcap=$(sed -n 's/.*play_pcap_audio="\([^"]*\)".*/\1/p' "$sf")
[ -s "$pcap" ] || { echo "no capture $pcap"; exit 98; }
cp "$sf" %[2]q
printf '%%b' %[3]q >"$log"
[ -n %[4]q ] && printf '%%b' %[4]q >"$err"
printf '%%b' %[5]q
exit %[6]d
`, argsFile, filepath.Join(dir, "scenario.xml"), log, errlog, out, code)
	bin = filepath.Join(dir, "sipp")
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, argsFile
}

func argsOf(t *testing.T, file string) [][]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var runs [][]string
	for _, run := range strings.Split(strings.TrimSuffix(string(b), "---\n"), "---\n") {
		runs = append(runs, strings.Split(strings.TrimSuffix(run, "\n"), "\n"))
	}
	return runs
}

func argValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func TestPlaceFarEndHangup(t *testing.T) {
	bin, argsFile := fakeSIPp(t, "SIPCALL ANSWERED 120 3097SIPpTag011\nSIPCALL FARBYE 4620\n", "", "", 0)
	cl := &Client{TempDir: t.TempDir(), SIPp: bin, Server: "127.0.0.1:5999", Logf: t.Logf}
	res, err := cl.Place(context.Background(), Call{Exten: "10086", From: "13900000001",
		Steps: []Step{Wait(time.Second), Press("1")}, MaxWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Answered || res.Status != 200 || !res.FarEndHangup || res.HungUp || res.WaitTimedOut {
		t.Fatalf("result %+v", res)
	}
	if res.Duration != 4500*time.Millisecond {
		t.Fatalf("duration %v", res.Duration)
	}
	if res.ExitCode != 0 || res.Dir != "" {
		t.Fatalf("exit %d dir %q", res.ExitCode, res.Dir)
	}
	args := argsOf(t, argsFile)[0]
	if args[0] != "127.0.0.1:5999" || argValue(args, "-s") != "10086" || argValue(args, "-m") != "1" ||
		argValue(args, "-i") != "127.0.0.1" || argValue(args, "-p") != fmt.Sprint(res.SIPPort) ||
		argValue(args, "-mp") != fmt.Sprint(res.MediaPort) || argValue(args, "-cp") == "" {
		t.Fatalf("args %q (ports %d %d)", args, res.SIPPort, res.MediaPort)
	}
	// plan 1.46 s + MaxWait 5 s + setup margin
	if argValue(args, "-timeout") != "27s" {
		t.Fatalf("-timeout %q", argValue(args, "-timeout"))
	}
	if argValue(args, "-au") != "" {
		t.Fatal("-au without Auth")
	}
}

func TestPlaceWeHangUp(t *testing.T) {
	bin, argsFile := fakeSIPp(t, "SIPCALL ANSWERED 100 x\nSIPCALL BYE 2480\nSIPCALL BYE_OK 2482\n", "", "", 0)
	cl := &Client{TempDir: t.TempDir(), SIPp: bin, KeepFiles: true}
	res, err := cl.Place(context.Background(), Call{Exten: "10086", Mode: SIPInfo, Auth: &Auth{User: "tester", Password: "pw"},
		Steps: []Step{Press("52#"), Hangup()}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Answered || res.FarEndHangup || !res.HungUp || res.WaitTimedOut || res.Duration != 2382*time.Millisecond {
		t.Fatalf("result %+v", res)
	}
	if res.Dir == "" {
		t.Fatal("KeepFiles: no Dir")
	}
	defer os.RemoveAll(res.Dir)
	for _, f := range []string{"scenario.xml", "media.pcap"} {
		if _, err := os.Stat(filepath.Join(res.Dir, f)); err != nil {
			t.Error(err)
		}
	}
	args := argsOf(t, argsFile)[0]
	if argValue(args, "-au") != "tester" || argValue(args, "-ap") != "pw" {
		t.Fatalf("args %q", args)
	}
}

func TestPlaceTimeoutAndRejected(t *testing.T) {
	bin, _ := fakeSIPp(t, "SIPCALL ANSWERED 100 x\nSIPCALL BYE_TIMEOUT 9000\nSIPCALL BYE_OK 9001\n", "", "", 0)
	res, err := (&Client{TempDir: t.TempDir(), SIPp: bin}).Place(context.Background(), Call{Exten: "10086", MaxWait: time.Second})
	if err != nil || !res.WaitTimedOut || !res.HungUp || res.FarEndHangup {
		t.Fatalf("%+v %v", res, err)
	}

	bin, _ = fakeSIPp(t, "SIPCALL REJECTED_404 50\n", "", "", 0)
	res, err = (&Client{TempDir: t.TempDir(), SIPp: bin}).Place(context.Background(), Call{Exten: "999"})
	if err != nil || res.Answered || res.Status != 404 || res.Duration != 0 {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestPlaceFailure(t *testing.T) {
	errlog := "2026-01-01\t10:00:00: Aborting call on unexpected message for Call-Id '1-2@127.0.0.1': while expecting '200' (index 25), received 'SIP/2.0 415 Unsupported Media Type\r\n"
	bin, _ := fakeSIPp(t, "", errlog, "screen\n", 1)
	res, err := (&Client{TempDir: t.TempDir(), SIPp: bin}).Place(context.Background(), Call{Exten: "10086"})
	var ce *CallError
	if !errors.As(err, &ce) || ce.ExitCode != 1 || !strings.Contains(err.Error(), "unexpected message") {
		t.Fatalf("err %v", err)
	}
	if res.Status != 415 || res.Answered || res.ErrorLog != errlog {
		t.Fatalf("result %+v", res)
	}
	if res.Dir == "" {
		t.Fatal("a failed call keeps its files")
	}
	os.RemoveAll(res.Dir)
}

func TestPlaceRetriesBindFailure(t *testing.T) {
	dir := t.TempDir()
	counter := filepath.Join(dir, "n")
	argsFile := filepath.Join(dir, "args")
	bin := filepath.Join(dir, "sipp")
	script := fmt.Sprintf(`#!/bin/sh
printf '%%s\n' "$@" >>%[1]q
echo --- >>%[1]q
while [ $# -gt 0 ]; do case $1 in -log_file) log=$2; shift ;; esac; shift; done
if [ ! -f %[2]q ]; then : >%[2]q; echo "Unable to bind audio RTP socket (IP=127.0.0.1, port=22002)"; exit 254; fi
printf 'SIPCALL ANSWERED 1 x\nSIPCALL FARBYE 2\n' >"$log"
`, argsFile, counter)
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := (&Client{TempDir: t.TempDir(), SIPp: bin}).Place(context.Background(), Call{Exten: "10086"})
	if err != nil || !res.FarEndHangup {
		t.Fatalf("%+v %v", res, err)
	}
	runs := argsOf(t, argsFile)
	if len(runs) != 2 || argValue(runs[0], "-mp") == argValue(runs[1], "-mp") {
		t.Fatalf("want a retry on other ports, runs %q", runs)
	}
}

func TestPlaceBadCall(t *testing.T) {
	for _, c := range []Call{
		{},
		{Exten: "1", Steps: []Step{Hangup(), Press("1")}},
		{Exten: "1", From: "a b"},
	} {
		if _, err := (&Client{TempDir: t.TempDir(), SIPp: "/nonexistent"}).Place(context.Background(), c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	_, err := (&Client{TempDir: t.TempDir(), SIPp: "/nonexistent/sipp"}).Place(context.Background(), Call{Exten: "1"})
	if err == nil || !strings.Contains(err.Error(), "running /nonexistent/sipp") {
		t.Fatalf("err %v", err)
	}
}

func TestPlaceMany(t *testing.T) {
	bin, argsFile := fakeSIPp(t, "SIPCALL ANSWERED 1 x\nSIPCALL FARBYE 1001\n", "", "", 0)
	calls := make([]Call, 20)
	for i := range calls {
		calls[i] = Call{Exten: "10086", From: fmt.Sprintf("139%08d", i), Steps: []Step{Press(fmt.Sprint(i))}}
	}
	res, err := (&Client{TempDir: t.TempDir(), SIPp: bin}).PlaceMany(context.Background(), calls, 5)
	if err != nil {
		t.Fatal(err)
	}
	ports := map[string]bool{}
	for i, r := range res {
		if !r.FarEndHangup || r.Plan.Digits() != fmt.Sprint(i) {
			t.Fatalf("call %d: %+v", i, r)
		}
	}
	for _, run := range argsOf(t, argsFile) {
		for _, p := range []string{argValue(run, "-p"), argValue(run, "-mp")} {
			if ports[p] {
				// ports may be reused only once a call has ended; with 5 at a
				// time and 20 calls the pool never comes back round this fast
				t.Fatalf("port %s used twice", p)
			}
			ports[p] = true
		}
	}

	// errors are joined, with the call's index
	bad, _ := fakeSIPp(t, "", "boom", "", 1)
	_, err = (&Client{TempDir: t.TempDir(), SIPp: bad}).PlaceMany(context.Background(), calls[:3], 0)
	if err == nil || !strings.Contains(err.Error(), "call 2:") {
		t.Fatalf("err %v", err)
	}
}

func TestPlaceCancelled(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "sipp")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := (&Client{TempDir: t.TempDir(), SIPp: bin}).Place(ctx, Call{Exten: "1"})
	if err == nil || !strings.Contains(err.Error(), "cancelled") || time.Since(start) > 10*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

func TestPortsDistinct(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]bool{}
	var releases []func()
	cl := &Client{}
	for i := 0; i < 50; i++ {
		ports, release, err := cl.ports(Call{})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		for _, p := range []int{ports.SIP, ports.Control, ports.Media, ports.Media + 1, ports.Media + 2, ports.Media + 3} {
			if seen[p] || p < portLow || p >= portHigh {
				t.Fatalf("port %d reused or out of range", p)
			}
			seen[p] = true
		}
		mu.Unlock()
		releases = append(releases, release)
	}
	for _, r := range releases {
		r()
	}
	// explicit ports are used as they are
	ports, release, err := cl.ports(Call{SIPPort: 5070, MediaPort: 7000})
	if err != nil || ports.SIP != 5070 || ports.Media != 7000 || ports.Control < portLow {
		t.Fatalf("%+v %v", ports, err)
	}
	release()
}

func TestParseLog(t *testing.T) {
	var r Result
	r.parseLog("junk\nSIPCALL ANSWERED 100 tag\nSIPCALL BYE 300\nSIPCALL FARBYE 310\nSIPCALL BYE_OK notanumber\n")
	// BYE crossing: we sent ours first, theirs arrived before our 200 OK
	if !r.Answered || !r.HungUp || r.FarEndHangup || r.Duration != 210*time.Millisecond || len(r.Events) != 3 {
		t.Fatalf("%+v", r)
	}
}
