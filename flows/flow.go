package flows

import (
	"time"
)

// Node kinds.
const (
	KindPlay     = "play"
	KindMenu     = "menu"
	KindCollect  = "collect"
	KindConfirm  = "confirm"
	KindAction   = "action"
	KindSay      = "say"
	KindTransfer = "transfer"
	KindHangup   = "hangup"
	KindGoto     = "goto"
)

// Kinds lists every node kind.
var Kinds = []string{KindPlay, KindMenu, KindCollect, KindConfirm, KindAction, KindSay, KindTransfer, KindHangup, KindGoto}

// Actions and the outcomes each may return. A flow's action node must
// handle every outcome of its action.
var Actions = map[string][]string{
	ActionIdentify:       {"found", "not_found", "invalid"},
	ActionVerifyPassword: {"ok", "wrong", "locked"},
	ActionListServices:   {"some", "none"},
	ActionSelectPreset:   {"selected", "none"},
	ActionUnsubscribe:    {"done", "already", "failed"},
	ActionUnsubscribeAll: {"done", "already", "failed"},
}

// Action names.
const (
	ActionIdentify       = "identify"        // source: caller (caller ID) or input (the number variable)
	ActionVerifyPassword = "verify_password" // checks the password variable for the number
	ActionListServices   = "list_services"   // loads the number's active subscriptions
	ActionSelectPreset   = "select_preset"   // selects the service an agent preset, if any
	ActionUnsubscribe    = "unsubscribe"     // cancels the selected service
	ActionUnsubscribeAll = "unsubscribe_all" // cancels every active service (一键退订)
)

// Sources of the identify action.
const (
	SourceCaller = "caller"
	SourceInput  = "input"
)

// Say forms.
const (
	SayDigits = "digits"
	SayNumber = "number"
	SayMoney  = "money"
)

// Duration is a time.Duration written in a flow as "5s", "1500ms".
type Duration struct {
	time.Duration
	Set bool // written in the file
}

// Defaults are the node settings a flow sets once and nodes may override.
type Defaults struct {
	FirstDigitTimeout Duration `yaml:"first_digit_timeout"`
	InterDigitTimeout Duration `yaml:"inter_digit_timeout"`
	MaxAttempts       int      `yaml:"max_attempts"`
	InvalidPrompt     *string  `yaml:"invalid_prompt"` // nil: inherit; "": none
	NoInputPrompt     *string  `yaml:"noinput_prompt"`
	OnExhausted       string   `yaml:"on_exhausted"`
}

// Option is one static key of a menu.
type Option struct {
	Next     string `yaml:"next"`
	Language string `yaml:"language"` // switch the call's language, then go to Next
	Repeat   bool   `yaml:"repeat"`   // play the menu again (does not count as an attempt)
	Line     int    `yaml:"-"`
}

// Dynamic is a menu's list of the caller's active subscriptions, one key
// each from FirstKey ("1") upward, each read with ItemPrompt (a template
// that may use {key}, {service} and {fee}).
type Dynamic struct {
	FirstKey   int      `yaml:"first_key"`
	ItemPrompt string   `yaml:"item_prompt"`
	Next       string   `yaml:"next"`   // where a chosen subscription goes (usually the confirm node)
	Footer     []string `yaml:"footer"` // prompts played after the items (the static keys' help)
}

// Node is one step of a flow. Which fields apply depends on Kind.
type Node struct {
	ID   string `yaml:"-"`
	Kind string `yaml:"type"`
	Line int    `yaml:"-"` // where the node starts in its file

	Prompts []string `yaml:"prompts"`  // play, menu, collect, confirm, transfer, hangup
	BargeIn *bool    `yaml:"barge_in"` // default true
	Next    string   `yaml:"next"`     // play, collect, confirm (yes), action-less successor, say, goto

	// Per-node overrides of the flow's Defaults. After loading, every
	// field is resolved: node value, else flow default, else built-in.
	Defaults `yaml:",inline"`
	// OnNoInput, when set, is where silence goes at once (no retry).
	OnNoInput string `yaml:"on_noinput"`

	// menu
	Keys          map[string]*Option `yaml:"keys"`
	Subscriptions *Dynamic           `yaml:"subscriptions"`

	// collect
	Var        string `yaml:"var"` // number or password
	MinDigits  int    `yaml:"min"`
	MaxDigits  int    `yaml:"max"`
	Terminator string `yaml:"terminator"`

	// confirm
	PurgeWarning string `yaml:"purge_warning"` // played when the cancel purges marketing data
	YesKey       string `yaml:"yes"`           // default "1"
	NoKey        string `yaml:"no"`            // default "2"
	Back         string `yaml:"back"`          // where NoKey goes

	// action
	Action   string            `yaml:"action"`
	Source   string            `yaml:"source"` // identify: caller or input
	Outcomes map[string]string `yaml:"outcomes"`

	// say
	Say   string `yaml:"say"`   // digits, number or money
	Value string `yaml:"value"` // a variable: code, number, fee, count

	// transfer
	Destination string `yaml:"destination"`

	pos map[string]int // set by Parse: line of each field written, by path ("next", "outcomes.done", "keys.8.next")
}

// Flow is a checked call flow, ready to run.
type Flow struct {
	Name      string            `yaml:"name"`
	Start     string            `yaml:"start"`   // the hotline entry
	Entries   map[string]string `yaml:"entries"` // other named entries, e.g. agent: agent_entry
	Languages []string          `yaml:"languages"`
	Defaults  Defaults          `yaml:"defaults"`
	Nodes     map[string]*Node  `yaml:"-"`
	Order     []string          `yaml:"-"` // node ids in file order
	File      string            `yaml:"-"`

	pos map[string]int // set by Parse: line of each top-level field written ("start", "entries.agent", "defaults.max_attempts")
}
