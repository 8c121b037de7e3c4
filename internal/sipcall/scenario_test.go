package sipcall

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// elem is a top-level element of a SIPp scenario.
type elem struct {
	name  string
	attrs map[string]string
	text  string   // CDATA of a send
	inner []string // descendants: "log message", "exec play_pcap_audio", "ereg assign_to"
}

func parseScenario(t *testing.T, b []byte) []elem {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var out []elem
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("rendered scenario is not well-formed XML: %v\n%s", err, b)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			depth++
			attrs := map[string]string{}
			for _, a := range x.Attr {
				attrs[a.Name.Local] = a.Value
			}
			switch {
			case depth == 1 && x.Name.Local != "scenario":
				t.Fatalf("root element %s", x.Name.Local)
			case depth == 2:
				out = append(out, elem{name: x.Name.Local, attrs: attrs})
			case depth > 2:
				e := &out[len(out)-1]
				for k, v := range attrs {
					e.inner = append(e.inner, x.Name.Local+" "+k+"="+v)
				}
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 2 && len(out) > 0 {
				out[len(out)-1].text += string(x)
			}
		}
	}
	return out
}

// sippLoadChecks repeats the checks SIPp makes when it loads a scenario, so
// a template edit that SIPp would refuse fails here, without SIPp.
func sippLoadChecks(t *testing.T, els []elem, raw []byte) {
	t.Helper()
	labels := map[string]bool{}
	lastRecvOptional := false
	for i, e := range els {
		switch e.name {
		case "label":
			if labels[e.attrs["id"]] {
				t.Errorf("label %q twice", e.attrs["id"])
			}
			labels[e.attrs["id"]] = true
			continue // labels do not break a recv window
		case "recv":
			lastRecvOptional = e.attrs["optional"] == "true" || e.attrs["optional"] == "global"
			if e.attrs["response"] == "" && e.attrs["request"] == "" {
				t.Errorf("element %d: recv of nothing", i)
			}
		case "send", "pause", "nop":
			if lastRecvOptional {
				t.Errorf("element %d (<%s>): <recv> before <%s> sequence without a mandatory message", i, e.name, e.name)
			}
			lastRecvOptional = false
		default:
			t.Errorf("element %d: unexpected <%s>", i, e.name)
		}
	}
	for i, e := range els {
		for _, a := range []string{"next", "ontimeout"} {
			if l, ok := e.attrs[a]; ok && !labels[l] {
				t.Errorf("element %d: %s=%q: no such label", i, a, l)
			}
		}
	}
	// SIPp refuses a variable used only once (set and never read, or the reverse)
	uses := map[string]int{}
	for _, m := range regexp.MustCompile(`\[\$([A-Za-z0-9_]+)\]`).FindAllSubmatch(raw, -1) {
		uses[string(m[1])]++
	}
	for _, m := range regexp.MustCompile(`assign_to="([^"]*)"`).FindAllSubmatch(raw, -1) {
		for _, v := range strings.Split(string(m[1]), ",") {
			uses[v]++
		}
	}
	for v, n := range uses {
		if n < 2 {
			t.Errorf("variable $%s is referenced %d times (SIPp refuses that)", v, n)
		}
	}
}

func render(t *testing.T, c Call) ([]byte, []elem) {
	t.Helper()
	dir, err := FindScenarioDir()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := os.ReadFile(filepath.Join(dir, ScenarioFile))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(c.Steps...)
	if err != nil {
		t.Fatal(err)
	}
	pcap := "/tmp/x/media.pcap"
	d, err := buildScenario(c, p, pcap, 7*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	b, err := renderScenario(tmpl, d)
	if err != nil {
		t.Fatal(err)
	}
	els := parseScenario(t, b)
	sippLoadChecks(t, els, b)
	return b, els
}

func count(els []elem, f func(elem) bool) int {
	n := 0
	for _, e := range els {
		if f(e) {
			n++
		}
	}
	return n
}

func sends(els []elem, method string) []elem {
	var out []elem
	for _, e := range els {
		if e.name == "send" && strings.HasPrefix(strings.TrimSpace(e.text), method+" ") {
			out = append(out, e)
		}
	}
	return out
}

func hasInner(e elem, s string) bool {
	for _, x := range e.inner {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

func TestScenarioRFC2833(t *testing.T) {
	raw, els := render(t, Call{Exten: "10086", From: "13800138000",
		Steps:   []Step{Wait(time.Second), Press("52#"), Hangup()},
		Headers: []string{"X-Unsub-Customer: 13800138000"}})
	inv := sends(els, "INVITE")
	if len(inv) != 1 {
		t.Fatalf("%d INVITEs", len(inv))
	}
	for _, want := range []string{
		"m=audio [media_port] RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-16", "From: <sip:13800138000@", "X-Unsub-Test: sipp", "X-Unsub-Customer: 13800138000",
		"INVITE sip:[service]@",
	} {
		if !strings.Contains(inv[0].text, want) {
			t.Errorf("INVITE lacks %q:\n%s", want, inv[0].text)
		}
	}
	// every request we send identifies the test client
	for _, m := range []string{"ACK", "BYE"} {
		for _, e := range sends(els, m) {
			if m == "ACK" && !strings.Contains(e.text, "[$peer_tag]") {
				continue // the ACK of a non-2xx answer
			}
			if !strings.Contains(e.text, TestHeader) {
				t.Errorf("%s without %s", m, TestHeader)
			}
		}
	}
	if n := count(els, func(e elem) bool { return hasInner(e, "play_pcap_audio=/tmp/x/media.pcap") }); n != 1 {
		t.Errorf("%d play_pcap_audio of the capture, want 1", n)
	}
	if len(sends(els, "INFO")) != 0 {
		t.Error("INFO in RFC 2833 mode")
	}
	// one pause for the whole plan (1 s + 3 keys of 460 ms)
	if !bytes.Contains(raw, []byte(`<pause milliseconds="2380"/>`)) {
		t.Errorf("no pause of the plan's 2380 ms")
	}
	if !bytes.Contains(raw, []byte(`message="SIPCALL BYE [clock_tick]"`)) || bytes.Contains(raw, []byte(`message="SIPCALL BYE_TIMEOUT`)) {
		t.Error("hangup plan: want the BYE marker")
	}
	checkCommonFlow(t, els)
}

// checkCommonFlow: the far end's BYE is accepted from anywhere after the
// 200, and every rejection is ACKed.
func checkCommonFlow(t *testing.T, els []elem) {
	t.Helper()
	global := -1
	for i, e := range els {
		if e.name == "recv" && e.attrs["optional"] == "global" {
			if global >= 0 {
				t.Fatal("two global receives")
			}
			global = i
			if e.attrs["request"] != "BYE" || e.attrs["next"] != "farbye" || !hasInner(e, "SIPCALL FARBYE") {
				t.Errorf("global recv %+v", e)
			}
		}
	}
	if global < 0 {
		t.Fatal("no global BYE receive")
	}
	// it precedes every place where the call can wait after the 200
	for i, e := range els {
		if e.name == "label" && e.attrs["id"] == "answered" && i < global {
			t.Error("global BYE after the answered label: not found from there by SIPp")
		}
	}
	for _, code := range []string{"404", "486", "503", "603"} {
		if count(els, func(e elem) bool {
			return e.name == "recv" && e.attrs["response"] == code && e.attrs["next"] == "rejected"
		}) == 0 {
			t.Errorf("no receive of %s", code)
		}
	}
}

func TestScenarioSIPInfo(t *testing.T) {
	raw, els := render(t, Call{Exten: "10086", From: "anonymous", Mode: SIPInfo,
		Steps: []Step{Wait(time.Second), Press("5*#")}})
	inv := sends(els, "INVITE")[0]
	if strings.Contains(inv.text, "telephone-event") || !strings.Contains(inv.text, "RTP/AVP 0\n") {
		t.Errorf("SIP INFO mode offers PCMU only:\n%s", inv.text)
	}
	infos := sends(els, "INFO")
	if len(infos) != 3 {
		t.Fatalf("%d INFOs, want 3", len(infos))
	}
	for i, sig := range []string{"5", "*", "#"} {
		body := infos[i].text
		for _, want := range []string{"Signal=" + sig + "\n", "Duration=160", "Content-Type: application/dtmf-relay", "tag=[$peer_tag]", TestHeader} {
			if !strings.Contains(body, want) {
				t.Errorf("INFO %d lacks %q:\n%s", i, want, body)
			}
		}
	}
	// pauses: 1000 before the first key, 460 between keys, then the rest of
	// the plan (460) plus the wait for the far end's BYE (7 s)
	var pauses []string
	for _, e := range els {
		if e.name == "pause" {
			pauses = append(pauses, e.attrs["milliseconds"])
		}
	}
	if strings.Join(pauses, ",") != "1000,460,460,7460" {
		t.Errorf("pauses %v", pauses)
	}
	// CSeqs of in-dialog requests rise
	cseq := regexp.MustCompile(`CSeq: (\d+) (INFO|BYE)`).FindAllSubmatch(raw, -1)
	var got []string
	for _, m := range cseq {
		got = append(got, string(m[1])+string(m[2]))
	}
	if strings.Join(got, ",") != "10INFO,11INFO,12INFO,13BYE" {
		t.Errorf("CSeqs %v", got)
	}
	if !bytes.Contains(raw, []byte(`message="SIPCALL BYE_TIMEOUT`)) {
		t.Error("plan without hangup: want BYE_TIMEOUT")
	}
	if !bytes.Contains(raw, []byte("play_pcap_audio")) {
		t.Error("SIP INFO mode still plays the silence capture")
	}
	checkCommonFlow(t, els)
}

func TestScenarioAuth(t *testing.T) {
	_, els := render(t, Call{Exten: "10086", From: "tester", Auth: &Auth{User: "tester", Password: "x"},
		Steps: []Step{Press("1"), Hangup()}})
	inv := sends(els, "INVITE")
	if len(inv) != 2 {
		t.Fatalf("%d INVITEs, want 2 (before and after the challenge)", len(inv))
	}
	if strings.Contains(inv[0].text, "[authentication]") || !strings.Contains(inv[1].text, "[authentication]") {
		t.Error("[authentication] belongs to the second INVITE only")
	}
	for _, e := range inv {
		if strings.Contains(e.text, TestHeader) {
			t.Error("a call with Auth must not send the test header (it would select the sipp endpoint)")
		}
	}
	if n := count(els, func(e elem) bool {
		return e.name == "recv" && (e.attrs["response"] == "401" || e.attrs["response"] == "407") && e.attrs["auth"] == "true"
	}); n != 2 {
		t.Errorf("%d challenge receives, want 2", n)
	}
	if n := count(els, func(e elem) bool {
		return e.name == "recv" && e.attrs["response"] == "200" && e.attrs["next"] == "answered"
	}); n != 2 {
		t.Errorf("%d 200 receives to answered, want 2", n)
	}
	checkCommonFlow(t, els)
}

func TestScenarioBadInput(t *testing.T) {
	p, _ := NewPlan()
	for _, c := range []Call{
		{Exten: "1", From: "a b"},
		{Exten: "1", From: "x<y"},
		{Exten: "1", Headers: []string{"X-A: 1\r\nX-B: 2"}},
		{Exten: "1", Headers: []string{"no colon"}},
		{Exten: "1", Headers: []string{"X-A: ]]>"}},
	} {
		if _, err := buildScenario(c, p, "/tmp/a.pcap", 0); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if _, err := buildScenario(Call{Exten: "1"}, p, `/tmp/a"b.pcap`, 0); err == nil {
		t.Error("quote in capture path: no error")
	}
}

func TestFindScenarioDir(t *testing.T) {
	dir, err := FindScenarioDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "uas-ivr.xml")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("UNSUB_SIPP_DIR", "/elsewhere")
	if dir, _ := FindScenarioDir(); dir != "/elsewhere" {
		t.Fatalf("UNSUB_SIPP_DIR ignored: %s", dir)
	}
}

// The stand-in IVR of the loopback test passes SIPp's load checks too.
func TestUASScenario(t *testing.T) {
	dir, err := FindScenarioDir()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "uas-ivr.xml"))
	if err != nil {
		t.Fatal(err)
	}
	sippLoadChecks(t, parseScenario(t, b), b)
}
