package sipcall

// Tests that run SIPp for real. Both are skipped unless asked for:
//   UNSUB_SIPP=1  loopback: our caller against a SIPp stand-in IVR
//                 (test/sipp/uas-ivr.xml); needs sipp, and root (SIPp plays
//                 captures through a raw socket)
//   UNSUB_LIVE=1  live: calls to the sandbox Asterisk (live_test.go)

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func needSIPp(t *testing.T, env string) {
	t.Helper()
	if os.Getenv(env) != "1" {
		what := "loopback SIPp call to a SIPp stand-in IVR"
		if env == "UNSUB_LIVE" {
			what = "live SIPp call to the sandbox Asterisk"
		}
		t.Skipf("skipped: %s; set %s=1 to run", what, env)
	}
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Fatalf("%s=1 but no sipp in PATH (apt-get install sip-tester)", env)
	}
}

// rtpSink collects the RTP packets sent to a local UDP port.
type rtpSink struct {
	conn *net.UDPConn
	mu   sync.Mutex
	pkts []rtpPacket
	done chan struct{}
}

func newRTPSink(t *testing.T) *rtpSink {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &rtpSink{conn: c, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		b := make([]byte, 2048)
		start := time.Now()
		for {
			n, _, err := c.ReadFromUDP(b)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			p := rtpPacket{
				at: time.Since(start), pt: b[1] & 0x7F, marker: b[1]&0x80 != 0,
				seq: binary.BigEndian.Uint16(b[2:]), ts: binary.BigEndian.Uint32(b[4:]),
				ssrc: binary.BigEndian.Uint32(b[8:]), payload: append([]byte(nil), b[12:n]...),
			}
			s.mu.Lock()
			s.pkts = append(s.pkts, p)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-s.done })
	return s
}

func (s *rtpSink) port() int { return s.conn.LocalAddr().(*net.UDPAddr).Port }

func (s *rtpSink) packets() []rtpPacket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rtpPacket(nil), s.pkts...)
}

// startUAS runs the stand-in IVR; it hangs up after hangup. It returns its
// SIP address and its message log.
func startUAS(t *testing.T, rtpPort int, hangup time.Duration) (addr string, messages func() string) {
	t.Helper()
	dir, err := FindScenarioDir()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	cl := &Client{}
	ports, release, err := cl.ports(Call{})
	if err != nil {
		t.Fatal(err)
	}
	msgs := filepath.Join(work, "messages.log")
	cmd := exec.Command("sipp", "-sf", filepath.Join(dir, "uas-ivr.xml"), "-i", "127.0.0.1",
		"-p", strconv.Itoa(ports.SIP), "-mp", strconv.Itoa(ports.Media), "-cp", strconv.Itoa(ports.Control),
		"-key", "rtp_port", strconv.Itoa(rtpPort),
		"-d", strconv.Itoa(int(hangup.Milliseconds())), "-aa", "-m", "1", "-nostdin",
		"-trace_msg", "-message_file", msgs, "-timeout", "60s",
		"-watchdog_minor_maxtriggers", "100000", "-watchdog_major_maxtriggers", "100000")
	cmd.Dir = work
	out, err := os.Create(filepath.Join(work, "sipp.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		out.Close()
		release()
	})
	// wait until it listens: its SIP port is bound
	for i := 0; udpFree("127.0.0.1", ports.SIP); i++ {
		if i > 50 {
			b, _ := os.ReadFile(filepath.Join(work, "sipp.out"))
			t.Fatalf("stand-in IVR did not start:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Sprintf("127.0.0.1:%d", ports.SIP), func() string {
		b, _ := os.ReadFile(msgs)
		return string(b)
	}
}

// Our caller against the stand-in: the RTP that arrives is exactly the
// generated stream (one SSRC, sequence numbers rising by one, the keys as
// RFC 4733 events in order), and the far end's BYE in the middle of the
// plan ends the call cleanly.
func TestLoopbackRFC2833FarEndHangup(t *testing.T) {
	needSIPp(t, "UNSUB_SIPP")
	sink := newRTPSink(t)
	addr, _ := startUAS(t, sink.port(), 4*time.Second)
	cl := &Client{Server: addr, Logf: t.Logf, TempDir: t.TempDir()}
	res, err := cl.Place(context.Background(), Call{Exten: "10086", From: "13800138000",
		Steps: []Step{Wait(500 * time.Millisecond), Press("52#"), Press("13800138000#"), Wait(20 * time.Second), Hangup()}})
	if err != nil {
		t.Fatalf("%v\n%s", err, res.ErrorLog)
	}
	if !res.Answered || !res.FarEndHangup || res.HungUp {
		t.Fatalf("want answered and hung up by the far end: %+v", res)
	}
	if res.Duration < 3500*time.Millisecond || res.Duration > 6*time.Second {
		t.Errorf("duration %v, want about 4 s (the stand-in's hangup)", res.Duration)
	}
	time.Sleep(200 * time.Millisecond)
	pkts := sink.packets()
	if len(pkts) < 150 {
		t.Fatalf("%d RTP packets in 4 s, want about 200", len(pkts))
	}
	var digits strings.Builder
	for i := range pkts {
		p := &pkts[i]
		if i > 0 {
			if p.seq != pkts[i-1].seq+1 || p.ssrc != pkts[0].ssrc || int32(p.ts-pkts[i-1].ts) < 0 {
				t.Fatalf("packet %d: seq %d ts %d after seq %d ts %d", i, p.seq, p.ts, pkts[i-1].seq, pkts[i-1].ts)
			}
		}
		if p.pt == PayloadEvent && p.marker {
			digits.WriteByte(digitOfCode[p.payload[0]])
		}
	}
	// 4 s: "52#" (from 0.5 s) and "13800138000#" (1.88 s + 12 x 460 ms) is cut
	// by the hangup after 4 of its keys or so
	if got := digits.String(); !strings.HasPrefix(got, "52#1380") {
		t.Fatalf("events %q, want 52#1380...", got)
	}
}

func TestLoopbackSIPInfoWeHangUp(t *testing.T) {
	needSIPp(t, "UNSUB_SIPP")
	sink := newRTPSink(t)
	addr, messages := startUAS(t, sink.port(), 30*time.Second)
	cl := &Client{Server: addr, Logf: t.Logf, TempDir: t.TempDir()}
	res, err := cl.Place(context.Background(), Call{Exten: "10086", From: "anonymous", Mode: SIPInfo,
		Steps: []Step{Wait(300 * time.Millisecond), Press("9*0#"), Hangup()}})
	if err != nil {
		t.Fatalf("%v\n%s", err, res.ErrorLog)
	}
	if !res.Answered || res.FarEndHangup || !res.HungUp {
		t.Fatalf("want answered and hung up by us: %+v", res)
	}
	var got []string
	for _, line := range strings.Split(messages(), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Signal="); ok {
			got = append(got, v)
		}
	}
	if strings.Join(got, "") != "9*0#" {
		t.Fatalf("INFO signals %q, want 9*0#", got)
	}
	for _, p := range sink.packets() {
		if p.pt != PayloadPCMU {
			t.Fatalf("SIP INFO mode: RTP payload type %d, want silence only", p.pt)
		}
	}
	if n := len(sink.packets()); n < 50 {
		t.Errorf("%d RTP packets of silence, want about 100", n)
	}
}

func TestLoopbackConcurrent(t *testing.T) {
	needSIPp(t, "UNSUB_SIPP")
	const n = 10
	calls := make([]Call, n)
	sinks := make([]*rtpSink, n)
	targets := make([]string, n)
	for i := range calls {
		sinks[i] = newRTPSink(t)
		targets[i], _ = startUAS(t, sinks[i].port(), 30*time.Second)
		calls[i] = Call{Exten: "10086", From: fmt.Sprintf("139%08d", i),
			Steps: []Step{Wait(300 * time.Millisecond), Press(fmt.Sprintf("%d#", i)), Hangup()}}
	}
	var wg sync.WaitGroup
	results := make([]Result, n)
	errs := make([]error, n)
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// each call to its own stand-in
			results[i], errs[i] = (&Client{Server: targets[i], TempDir: t.TempDir()}).Place(context.Background(), calls[i])
		}()
	}
	wg.Wait()
	time.Sleep(200 * time.Millisecond)
	for i := range calls {
		if errs[i] != nil || !results[i].Answered || !results[i].HungUp {
			t.Errorf("call %d: %+v %v", i, results[i], errs[i])
			continue
		}
		var digits strings.Builder
		for _, p := range sinks[i].packets() {
			if p.pt == PayloadEvent && p.marker {
				digits.WriteByte(digitOfCode[p.payload[0]])
			}
		}
		if want := fmt.Sprintf("%d#", i); digits.String() != want {
			t.Errorf("call %d: events %q, want %q", i, digits.String(), want)
		}
	}
}
