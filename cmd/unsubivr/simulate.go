package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/flows"
	"github.com/unsubivr/unsubivr/flows/flowstest"
)

// simulateCmd places one call through the real engine and store on the
// terminal: prompts are printed as text, keys come from --keys or stdin.
type simulateCmd struct {
	store   storeFlags
	flow    flowFlags
	caller  string
	keys    string
	lang    string
	entry   string
	number  string
	agent   string
	service string
}

var callerRE = regexp.MustCompile(`^\+?[0-9]{3,20}$`)

func (c *simulateCmd) Run(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("simulate")
	c.store.register(fs, e)
	c.flow.register(fs, e)
	fs.StringVar(&c.caller, "caller", "", `calling number as the network presents it ("" or "anonymous" for none)`)
	fs.StringVar(&c.keys, "keys", "", `key script: space-separated key strings, "t" for silence until the timeout, "h" to hang up, "^1" for a key during the prompt; without it keys are read from stdin`)
	fs.StringVar(&c.lang, "lang", "", "language to start in (zh-CN, en-US); default the flow's first")
	fs.StringVar(&c.entry, "entry", "", `flow entry: "" for the hotline, "agent" for an agent transfer`)
	fs.StringVar(&c.number, "number", "", "agent entry: the customer number the agent verified")
	fs.StringVar(&c.agent, "agent", "", "agent entry: the agent id")
	fs.StringVar(&c.service, "service", "", "agent entry: the service code to cancel")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("simulate: unexpected argument %q", fs.Arg(0))
	}
	if c.caller == "anonymous" {
		c.caller = ""
	}
	if c.caller != "" && !callerRE.MatchString(c.caller) {
		return usagef("simulate: --caller %q is not a phone number (digits, optional leading +)", c.caller)
	}
	if c.lang != "" && !unsubivr.Language(c.lang).Valid() {
		return usagef("simulate: --lang %q: want one of %v", c.lang, unsubivr.Languages)
	}
	var keys []string
	if c.keys != "" {
		var err error
		if keys, err = flowstest.ParseScript(c.keys); err != nil {
			return usagef("simulate: --keys: %v", strings.TrimPrefix(err.Error(), "flowstest: "))
		}
	}
	b, err := c.flow.load()
	if err != nil {
		return err
	}
	store, err := c.store.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()

	call := &flowstest.Call{CallID: newCallID("sim"), CallerID: c.caller, Keys: keys, Out: e.stdout}
	if c.keys == "" {
		call.In = e.stdin
		fmt.Fprintln(e.stdout, `Type keys and Enter ("1", "13800138000#"), "t" for silence, "h" to hang up.`)
	}
	fmt.Fprintf(e.stdout, "call %s from %s (flow %s)\n", call.CallID, orNone(c.caller), b.Version)
	log, err := (&flows.Engine{Store: store}).Run(ctx, b, call, flows.Start{
		Entry: c.entry, Language: unsubivr.Language(c.lang),
		Number: c.number, AgentID: c.agent, Service: c.service,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "outcome: %s\n", log.Outcome)
	for _, ev := range log.Trace {
		if ev.Kind == "cancelled" || ev.Kind == "already" {
			fmt.Fprintf(e.stdout, "%s: %s\n", ev.Kind, ev.Detail)
		}
	}
	if log.Outcome == flows.OutcomeFailed {
		return fmt.Errorf("simulate: the cancel failed (see the log above)")
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(no caller id)"
	}
	return s
}

// newCallID returns prefix-<8 random hex digits>.
func newCallID(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}
