package sipcall

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"text/template"
	"time"
)

// ScenarioFile is the SIPp scenario template Place renders for each call,
// in the scenario directory (test/sipp of the repository).
const ScenarioFile = "uac-dtmf.xml"

// rejectCodes are the final answers to the INVITE that end the call as
// "not answered" (ACKed, Result.Status set) instead of failing the scenario.
var rejectCodes = []int{403, 404, 408, 410, 480, 481, 484, 486, 487, 488, 500, 501, 502, 503, 504, 600, 603, 604, 606}

type inviteData struct {
	From       string
	InviteCSeq int
	WithAuth   bool // [authentication] header (the INVITE after a challenge)
	Challenge  bool // accept 401/407 and answer it
	Events     bool // offer telephone-event/8000
	Headers    []string
	Reject     []int
	GlobalBye  bool // the far end's BYE (put in the last INVITE's block)
}

type infoData struct {
	PauseMs    int64
	CSeq       int
	Signal     string
	DurationMs int64
}

type scenarioData struct {
	First, Second *inviteData
	From          string
	Headers       []string
	Pcap          string
	Infos         []infoData
	TailMs        int64
	Hangup        bool
	ByeCSeq       int
}

var (
	fromRe   = regexp.MustCompile(`^[A-Za-z0-9_.!~*'()+-]+$`)
	headerRe = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_` + "`" + `|~-]+:[^\r\n]*$`)
)

// buildScenario fills the template data of a call. pcap is the capture the
// scenario plays ("" for none); wait is how long to wait for the far end's
// BYE after the plan when the plan does not hang up.
func buildScenario(c Call, p Plan, pcap string, wait time.Duration) (*scenarioData, error) {
	from := c.From
	if from == "" {
		from = DefaultFrom
	}
	if !fromRe.MatchString(from) {
		return nil, fmt.Errorf("sipcall: From %q: not a SIP user part", from)
	}
	var hdrs []string
	if c.Auth == nil {
		hdrs = append(hdrs, TestHeader)
	}
	for _, h := range c.Headers {
		if !headerRe.MatchString(h) {
			return nil, fmt.Errorf("sipcall: header %q: want \"Name: value\" on one line", h)
		}
		hdrs = append(hdrs, h)
	}
	for _, h := range hdrs {
		if strings.Contains(h, "]]>") {
			return nil, fmt.Errorf("sipcall: header %q contains ]]>", h)
		}
	}
	if strings.ContainsAny(pcap, "\"&<>") {
		return nil, fmt.Errorf("sipcall: capture path %q: quotes, & or <> in it", pcap)
	}
	reject := rejectCodes
	if c.Auth == nil {
		reject = append([]int{401, 407}, rejectCodes...)
	}
	events := c.Mode == RFC2833
	d := &scenarioData{
		First: &inviteData{From: from, InviteCSeq: 1, Challenge: c.Auth != nil, Events: events, Headers: hdrs, Reject: reject},
		From:  from, Headers: hdrs, Pcap: pcap, Hangup: p.Hangup,
	}
	if c.Auth != nil {
		d.Second = &inviteData{From: from, InviteCSeq: 2, WithAuth: true, Events: events, Headers: hdrs,
			Reject: append([]int{401, 407}, rejectCodes...), GlobalBye: true}
	} else {
		d.First.GlobalBye = true
	}
	cseq := 10
	var last time.Duration
	if c.Mode == SIPInfo {
		for _, k := range p.Keys {
			d.Infos = append(d.Infos, infoData{
				PauseMs:    (k.At - last).Milliseconds(),
				CSeq:       cseq,
				Signal:     string(k.Digit),
				DurationMs: k.Duration.Milliseconds(),
			})
			cseq++
			last = k.At
		}
	}
	d.ByeCSeq = cseq
	tail := p.Length - last
	if !p.Hangup {
		tail += wait
	}
	d.TailMs = tail.Milliseconds()
	return d, nil
}

// renderScenario renders the scenario template with d.
func renderScenario(tmpl []byte, d *scenarioData) ([]byte, error) {
	t, err := template.New(ScenarioFile).Option("missingkey=error").Parse(string(tmpl))
	if err != nil {
		return nil, fmt.Errorf("sipcall: scenario template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("sipcall: scenario template: %w", err)
	}
	return b.Bytes(), nil
}

// FindScenarioDir returns the directory of the SIPp scenario templates: the
// environment's UNSUB_SIPP_DIR, else test/sipp of the first directory from
// the working directory upwards (or from this package's source) that has it.
func FindScenarioDir() (string, error) {
	if d := os.Getenv("UNSUB_SIPP_DIR"); d != "" {
		return d, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			cand := filepath.Join(dir, "test", "sipp")
			if _, err := os.Stat(filepath.Join(cand, ScenarioFile)); err == nil {
				return cand, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("sipcall: test/sipp/" + ScenarioFile + " not found above the working directory (set UNSUB_SIPP_DIR)")
}
