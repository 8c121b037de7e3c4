package flows_test

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/unsubivr/unsubivr/flows"
)

// load parses and, if that succeeds, checks a flow file against the
// testdata catalog, returning the problems of whichever failed.
func load(tb testing.TB, file string, data []byte) flows.Errors {
	tb.Helper()
	f, err := flows.Parse(file, data)
	if err == nil {
		err = flows.Check(f, testCatalog(tb))
	}
	if err == nil {
		return nil
	}
	var errs flows.Errors
	if !errors.As(err, &errs) {
		tb.Fatalf("got %T %v, want flows.Errors", err, err)
	}
	return errs
}

// TestCheckBroken loads each flow of testdata/broken, which has exactly
// one problem, and checks where it is reported and what it says.
func TestCheckBroken(t *testing.T) {
	tests := []struct {
		name string // testdata/broken/<name>.yaml
		line int
		node string // "" for the top level
		msg  string // a substring of the message
	}{
		{"alias", 14, "", "YAML aliases (*keys) are not supported"},
		{"bad_duration", 17, "ask", `first_digit_timeout: bad duration "5"`},
		{"bad_key", 11, "menu", `key "x": not DTMF keys`},
		{"collect_min_max", 15, "ask", "min 6 is more than max 4"},
		{"collect_var", 14, "ask", `var "pin": want number or password`},
		{"confirm_same_keys", 15, "confirm", `yes and no are both "1"`},
		{"defaults_target", 6, "", `defaults: on_exhausted: unknown target "exhusted"`},
		{"digit_terminator", 17, "ask", `terminator "5" is a digit`},
		{"duplicate_key", 11, "menu", `duplicate key "1" (first at line 10)`},
		{"duplicate_node", 15, "bye", "node defined twice (first at line 11)"},
		{"empty", 1, "", "empty flow file"},
		{"field_not_applicable", 14, "hello", "field max_attempts does not apply to a play node"},
		{"first_key_clash", 19, "services", `key "1" clashes with subscriptions.first_key 1`},
		{"goto_loop", 12, "ping", "loops forever without caller input: ping → pong → ping"},
		{"identify_source", 13, "who", "identify needs source: (caller or input)"},
		{"item_prompt_key", 14, "services", `subscriptions.item_prompt "item-nokey" does not say {key} in zh-CN, en-US`},
		{"long_duration", 17, "ask", "first_digit_timeout 1m30s: must be at most 1m0s"},
		{"max_attempts", 11, "menu", "max_attempts 0: want 1 to 10"},
		{"menu_no_keys", 12, "empty", "a menu needs keys: or subscriptions:"},
		{"missing_prompt", 13, "hello", `prompt "helo" missing in zh-CN, en-US (did you mean "hello"?)`},
		{"missing_prompt_en", 13, "hello", `prompt "zh-only" missing in en-US`},
		{"missing_start", 1, "", "no start"},
		{"negative_duration", 17, "ask", "inter_digit_timeout -2s: must be more than 0"},
		{"option_language", 11, "menu", `key "9": language "fr-FR" is not one of the flow's languages`},
		{"repeat_and_next", 11, "menu", `key "*": has both next: and repeat: true`},
		{"say_value", 14, "say", `value "total": want code, number, fee, count`},
		{"silent_loop", 6, "menu", "loops forever without caller input: menu →(noinput) nudge → menu"},
		{"syntax_error", 4, "", "YAML syntax: did not find expected ',' or ']'"},
		{"transfer_destination", 12, "agent", "a transfer node needs destination:"},
		{"two_documents", 8, "", "a second YAML document"},
		{"unhandled_outcome", 14, "cancel", `outcome "failed" of unsubscribe not handled`},
		{"unknown_action", 13, "cancel", `unknown action "unsubscrib" (did you mean "unsubscribe"?)`},
		{"unknown_entry", 5, "", `entry "agent": unknown target "agnet"`},
		{"unknown_field", 14, "hello", `unknown field "nxt" (did you mean "next"?)`},
		{"unknown_kind", 13, "again", `unknown type "menuu" (did you mean "menu"?)`},
		{"unknown_language", 4, "", `language "fr-FR" is not in the prompt catalog`},
		{"unknown_outcome", 18, "cancel", `unknown outcome "finished" (unsubscribe has done, already, failed)`},
		{"unknown_target", 15, "confirm", `unknown target "cancle" in back`},
		{"unreachable", 11, "orphan", "unreachable"},
		{"wrong_type", 13, "hello", `prompts: want a list like [a, b], got "hello"`},
	}
	files, err := filepath.Glob("testdata/broken/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("%d files in testdata/broken, %d cases: every broken flow needs a case", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join("testdata", "broken", tt.name+".yaml")
			f, err := flows.LoadFile(file)
			if err == nil {
				err = flows.Check(f, testCatalog(t))
			}
			var errs flows.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("got %v, want flows.Errors", err)
			}
			if len(errs) != 1 {
				t.Errorf("got %d problems, want 1:\n%v", len(errs), err)
			}
			prefix := file + ":" + strconv.Itoa(tt.line) + ": "
			if tt.node != "" {
				prefix += "node " + tt.node + ": "
			}
			got := errs[0].Error()
			if !strings.HasPrefix(got, prefix) || !strings.Contains(got, tt.msg) {
				t.Errorf("got  %s\nwant %s...%s...", got, prefix, tt.msg)
			}
		})
	}
}

// base is a flow the inline cases below change one part of.
const base = `name: inline
start: menu
languages: [zh-CN, en-US]
nodes:
  menu:
    type: menu
    prompts: [menu]
    keys:
      "0": {next: bye}
      "1": {next: bye}
  bye:
    type: hangup
    prompts: [goodbye]
`

// TestCheckInline covers more problems with flows written in the test:
// base with old replaced by new.
func TestCheckInline(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     []string // each problem's "line: node X: message" start; none for a clean flow
	}{
		{"ExhaustedSelfLoop",
			`      "1": {next: bye}`, `      "1": {next: bye}
    on_exhausted: menu`,
			[]string{"5: node menu: loops forever without caller input: menu →(exhausted) menu"}},
		{"ActionPlayLoop",
			`      "1": {next: bye}`, `      "1": {next: cancel}
  cancel:
    type: action
    action: unsubscribe
    outcomes: {done: bye, already: bye, failed: sorry}
  sorry:
    type: play
    prompts: [hello]
    next: cancel`,
			[]string{"11: node cancel: loops forever without caller input: cancel → sorry → cancel"}},
		{"NoInputElsewhereIsFine",
			`      "1": {next: bye}`, `      "1": {next: bye}
    on_noinput: again
    on_exhausted: again
  again:
    type: menu
    prompts: [menu]
    keys:
      "1": {next: menu}`,
			nil},
		{"ReachableOnlyThroughExhausted",
			`      "1": {next: bye}`, `      "1": {next: bye}
    on_exhausted: sorry
  sorry:
    type: play
    prompts: [hello]
    next: bye`,
			nil},
		{"KeyPrefix",
			`      "1": {next: bye}`, `      "1": {next: bye}
      "11": {next: bye}`,
			[]string{`11: node menu: key "11" can never be pressed: "1" matches first`}},
		{"YesPrefixOfNo",
			`      "1": {next: bye}`, `      "1": {next: ok}
  ok:
    type: confirm
    prompts: [confirm]
    yes: "1"
    no: "12"
    next: bye
    back: menu`,
			[]string{`15: node ok: no "12" can never be pressed: yes "1" matches first`}},
		{"SayMoneyOfCode",
			`      "1": {next: bye}`, `      "1": {next: code}
  code:
    type: say
    say: money
    value: code
    next: bye`,
			[]string{"14: node code: cannot say code as money (money takes fee)"}},
		{"LanguageNeedsNext",
			`"1": {next: bye}`, `"1": {next: bye}
      "9": {language: en-US, repeat: true}`,
			[]string{`11: node menu: key "9": language: needs next:`}},
		{"SourceOnlyForIdentify",
			`      "1": {next: bye}`, `      "1": {next: list}
  list:
    type: action
    action: list_services
    source: caller
    outcomes: {some: bye, none: bye}`,
			[]string{"14: node list: source applies only to the identify action"}},
		{"BargeInOnTransfer",
			`      "1": {next: bye}`, `      "1": {next: agent}
  agent:
    type: transfer
    barge_in: true
    destination: agent`,
			[]string{"13: node agent: field barge_in does not apply to a transfer node"}},
		{"BadNodeID",
			`  bye:`, `  "good bye":`,
			[]string{`9: node menu: unknown target "bye" in keys.0.next`, `10: node menu: unknown target "bye" in keys.1.next`,
				`11: node good bye: node id "good bye": use letters`, "11: node good bye: unreachable"}},
		{"DefaultPromptReportedOnce",
			`nodes:`, `defaults:
  invalid_prompt: invalide
nodes:`,
			[]string{`5: defaults: invalid_prompt: prompt "invalide" missing in zh-CN, en-US (did you mean "invalid"?)`}},
		{"NodeOverridesBadDefault",
			`nodes:`, `defaults:
  max_attempts: 11
nodes:`,
			[]string{"5: defaults: max_attempts 11: want 1 to 10"}},
		{"NoLanguages",
			`languages: [zh-CN, en-US]`, `languages: []`,
			[]string{"3: no languages"}},
		{"CollectNeeds",
			`      "1": {next: bye}`, `      "1": {next: ask}
  ask:
    type: collect
    prompts: [enter]`,
			[]string{"11: node ask: a collect node needs var:", "11: node ask: min 0: want 1 to 20", "11: node ask: max 0: want 1 to 20", "11: node ask: a collect node needs next:"}},
		{"ConfirmNeeds",
			`      "1": {next: bye}`, `      "1": {next: ok}
  ok:
    type: confirm
    prompts: [confirm]`,
			[]string{"11: node ok: a confirm node needs next:", "11: node ok: a confirm node needs back:"}},
		{"NoType",
			`    type: hangup`, ``,
			[]string{"11: node bye: no type"}},
		{"EveryTargetChecked",
			`      "1": {next: bye}`, `      "1": {next: byee}
      "2": {next: ok}
    on_noinput: nowhere
    on_exhausted: elsewhere
    subscriptions: {item_prompt: item, next: cnfirm, first_key: 3}
  ok:
    type: confirm
    prompts: [confirm]
    next: yes_node
    back: no_node`,
			[]string{
				`10: node menu: unknown target "byee" in keys.1.next (did you mean "bye"?)`,
				`12: node menu: unknown target "nowhere" in on_noinput`,
				`13: node menu: unknown target "elsewhere" in on_exhausted`,
				`14: node menu: unknown target "cnfirm" in subscriptions.next`,
				`18: node ok: unknown target "yes_node" in next`,
				`19: node ok: unknown target "no_node" in back`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.old) {
				t.Fatalf("base has no %q", tt.old)
			}
			src := strings.Replace(base, tt.old, tt.new, 1)
			errs := load(t, "inline.yaml", []byte(src))
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v\nflow:\n%s", len(errs), len(tt.want), errs, src)
			}
			for i, w := range tt.want {
				if got := errs[i].Error(); !strings.HasPrefix(got, "inline.yaml:"+w) {
					t.Errorf("problem %d:\n got  %s\n want inline.yaml:%s...", i, got, w)
				}
			}
		})
	}
}

func TestCheckNilCatalog(t *testing.T) {
	f := mustLoad(t, "testdata/broken/missing_prompt.yaml")
	if err := flows.Check(f, nil); err != nil {
		t.Fatalf("without a catalog prompts are not checked; got %v", err)
	}
	if err := flows.Check(nil, nil); err == nil {
		t.Fatal("Check(nil) succeeded")
	}
}

func TestProblemError(t *testing.T) {
	for _, tt := range []struct {
		p    flows.Problem
		want string
	}{
		{flows.Problem{File: "flows/x.yaml", Line: 42, Node: "confirm", Msg: `unknown target "cancle" in back`}, `flows/x.yaml:42: node confirm: unknown target "cancle" in back`},
		{flows.Problem{File: "flows/x.yaml", Line: 1, Msg: "no start"}, "flows/x.yaml:1: no start"},
		{flows.Problem{Node: "a", Msg: "m"}, "node a: m"},
	} {
		if got := tt.p.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	errs := flows.Errors{{File: "a.yaml", Line: 1, Msg: "x"}, {File: "a.yaml", Line: 2, Msg: "y"}}
	if got := errs.Error(); got != "a.yaml:1: x\na.yaml:2: y" {
		t.Errorf("got %q", got)
	}
}
