package ivr

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/flows"
)

func TestParseArgs(t *testing.T) {
	agent := func(number, id, svc string, lang unsubivr.Language) flows.Start {
		return flows.Start{Entry: "agent", Number: number, AgentID: id, Service: svc, Language: lang}
	}
	for _, tc := range []struct {
		name string
		args []string
		want flows.Start
		warn string // substring of the only warning; "" for none
	}{
		{"Hotline", nil, flows.Start{}, ""},
		{"HotlineEmptyArg", []string{""}, flows.Start{}, ""},
		{"HotlineExplicit", []string{"hotline"}, flows.Start{}, ""},
		{"Agent", []string{"agent", "13800138000", "A001"}, agent("13800138000", "A001", "", ""), ""},
		{"AgentService", []string{"agent", "13800138000", "A001", "crbt"}, agent("13800138000", "A001", "CRBT", ""), ""},
		{"AgentServiceLang", []string{"agent", "13800138000", "A001", "CRBT", "en-US"}, agent("13800138000", "A001", "CRBT", unsubivr.EnUS), ""},
		{"AgentShortLang", []string{"agent", "13800138000", "A001", "", "zh"}, agent("13800138000", "A001", "", unsubivr.ZhCN), ""},
		{"AgentPlus86", []string{"AGENT", "+8613800138000", " A001 "}, agent("13800138000", "A001", "", ""), ""},
		{"AgentTrailingEmpty", []string{"agent", "13800138000", "A001", "", ""}, agent("13800138000", "A001", "", ""), ""},
		{"BadNumber", []string{"agent", "12345", "A001"}, flows.Start{}, "not an 11-digit mobile number"},
		{"NoNumber", []string{"agent"}, flows.Start{}, "not an 11-digit mobile number"},
		{"EmptyAgent", []string{"agent", "13800138000", ""}, flows.Start{}, "empty agent id"},
		{"MissingAgent", []string{"agent", "13800138000"}, flows.Start{}, "empty agent id"},
		{"BadAgent", []string{"agent", "13800138000", "A 001;x"}, flows.Start{}, "malformed"},
		{"BadService", []string{"agent", "13800138000", "A001", "CR BT"}, agent("13800138000", "A001", "", ""), "service code"},
		{"BadLang", []string{"agent", "13800138000", "A001", "CRBT", "fr"}, agent("13800138000", "A001", "CRBT", ""), "language"},
		{"Extra", []string{"agent", "13800138000", "A001", "CRBT", "zh-CN", "x"}, agent("13800138000", "A001", "CRBT", unsubivr.ZhCN), "extra"},
		{"Unknown", []string{"vip"}, flows.Start{}, "unknown entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, warns := ParseArgs(tc.args)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("start %+v, want %+v", got, tc.want)
			}
			switch {
			case tc.warn == "" && len(warns) > 0:
				t.Errorf("warnings %q, want none", warns)
			case tc.warn != "" && (len(warns) != 1 || !strings.Contains(warns[0], tc.warn)):
				t.Errorf("warnings %q, want one with %q", warns, tc.warn)
			}
			for _, w := range warns {
				if strings.Contains(w, "13800138000") {
					t.Errorf("warning shows a full number: %q", w)
				}
			}
		})
	}
}

func TestConfig(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "Password") {
		t.Errorf("default config without password: %v, want a Password error", err)
	}
	c.Password = "x"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.websocketURL(); got != "ws://127.0.0.1:8088/ari/events" {
		t.Errorf("websocket URL %q", got)
	}
	c.URL = "https://pbx.example/ari/"
	if got := c.websocketURL(); got != "wss://pbx.example/ari/events" {
		t.Errorf("websocket URL %q", got)
	}
	for field, mut := range map[string]func(*Config){
		"URL":           func(c *Config) { c.URL = "127.0.0.1:8088" },
		"WebsocketURL":  func(c *Config) { c.WebsocketURL = "http://x/events" },
		"App":           func(c *Config) { c.App = "a,b" },
		"AgentContext":  func(c *Config) { c.AgentContext = "" },
		"ShutdownGrace": func(c *Config) { c.ShutdownGrace = -time.Second },
	} {
		c := DefaultConfig()
		c.Password = "x"
		mut(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: error %v, want one naming the field", field, err)
		}
	}
}

func TestDestination(t *testing.T) {
	s := &Server{Config: DefaultConfig()}
	for _, tc := range []struct {
		in         string
		ctx, exten string
		prio       int
		bad        bool
	}{
		{"agent", "unsub-agent", "agent", 1, false},
		{"", "unsub-agent", "agent", 1, false},
		{"other,s", "other", "s", 1, false},
		{"other,s,3", "other", "s", 3, false},
		{"PJSIP/agent1", "", "", 0, true},
		{"a,b,0", "", "", 0, true},
	} {
		c, e, p, err := s.destination(tc.in)
		if (err != nil) != tc.bad || c != tc.ctx || e != tc.exten || p != tc.prio {
			t.Errorf("destination(%q) = %q %q %d %v", tc.in, c, e, p, err)
		}
	}
}

func TestMatchPrefixes(t *testing.T) {
	pr := &promptRun{g: flows.Gather{Match: flows.MenuMatcher([]string{"1", "2", "0"})}, credit: make(chan struct{}, 1)}
	// two keys judged together: the first completes the menu
	if d, res := pr.match("12"); d != "1" || res != 1 {
		t.Errorf("match(12) = %q %v, want 1 Complete", d, res)
	}
	if in := pr.input(); in != (flows.Input{Digits: "1", Status: flows.Matched}) {
		t.Errorf("input %+v", in)
	}
	pr = &promptRun{g: flows.Gather{Match: flows.LengthMatcher(11, 11, "#")}, credit: make(chan struct{}, 1)}
	pr.match("138")
	if in := pr.input(); in != (flows.Input{Digits: "138", Status: flows.NoMatch}) {
		t.Errorf("incomplete input %+v, want NoMatch", in)
	}
	pr = &promptRun{g: flows.Gather{Match: flows.MenuMatcher([]string{"1"})}, credit: make(chan struct{}, 1)}
	if in := pr.input(); in.Status != flows.NoInput {
		t.Errorf("no keys: %+v, want NoInput", in)
	}
	pr.match("7")
	if in := pr.input(); in != (flows.Input{Digits: "7", Status: flows.NoMatch}) {
		t.Errorf("invalid: %+v, want NoMatch 7", in)
	}
}
