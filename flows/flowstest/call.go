// Package flowstest provides a scripted flows.Call, like net/http/httptest
// does for handlers: it feeds keys from a script, records every prompt it
// was asked to play, and can print the call as it goes. Engine tests drive
// it, and `unsubivr simulate` runs real calls on it in a terminal.
package flowstest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/unsubivr/unsubivr/flows"
	"github.com/unsubivr/unsubivr/prompts"
)

// Script tokens. Anything else is a string of keys (0-9 * # A-D).
const (
	TokenTimeout = "t" // silence until the timeout
	TokenHangup  = "h" // the caller hangs up
	BargePrefix  = "^" // "^1": key 1 pressed while the prompt is still playing
)

// Prompt is one Gather the engine asked for, as the fake saw it.
type Prompt struct {
	Clips       []flows.Clip
	Text        string // what the clips say
	Gather      flows.Gather
	Input       flows.Input
	Interrupted bool // a key cut the prompt short (barge-in)
}

// Call is a scripted flows.Call. Set its fields before the engine runs it.
type Call struct {
	CallID   string
	CallerID string

	// Keys is the key script: tokens as in ParseScript. When it runs out
	// and In is nil, the caller hangs up.
	Keys []string
	// In, if set, is read a line at a time for more tokens when Keys runs
	// out (interactive simulation); EOF hangs up.
	In io.Reader
	// Out, if set, receives a transcript: prompts, keys, transfer, hang-up.
	Out io.Writer

	mu          sync.Mutex
	Prompts     []Prompt
	Transferred *flows.Transfer
	HungUp      bool // the engine hung up
	Gone        bool // the caller hung up
	cur         string
	in          *bufio.Scanner
}

// ParseScript splits a space-separated key script ("1 1", "13800138000# t h").
func ParseScript(s string) ([]string, error) {
	toks := strings.Fields(s)
	for _, t := range toks {
		if err := checkToken(t); err != nil {
			return nil, err
		}
	}
	return toks, nil
}

func checkToken(t string) error {
	if t == TokenTimeout || t == TokenHangup {
		return nil
	}
	keys := strings.TrimPrefix(t, BargePrefix)
	if keys == "" {
		return fmt.Errorf("flowstest: empty key token %q", t)
	}
	for _, r := range keys {
		if !strings.ContainsRune(flows.DTMFKeys, r) {
			return fmt.Errorf("flowstest: %q is not a key (use 0-9 * # A-D, t for a timeout, h to hang up)", string(r))
		}
	}
	return nil
}

// ID implements flows.Call.
func (c *Call) ID() string { return c.CallID }

// Caller implements flows.Call.
func (c *Call) Caller() string { return c.CallerID }

func (c *Call) printf(format string, args ...any) {
	if c.Out != nil {
		fmt.Fprintf(c.Out, format, args...)
	}
}

// buffered returns the next token already scripted, without reading In.
func (c *Call) buffered() (string, bool) {
	if c.cur == "" && len(c.Keys) == 0 {
		return "", false
	}
	return c.next()
}

// next returns the next script token, "" and false at the end.
func (c *Call) next() (string, bool) {
	if c.cur != "" {
		t := c.cur
		c.cur = ""
		return t, true
	}
	for len(c.Keys) == 0 {
		if c.In == nil {
			return "", false
		}
		if c.in == nil {
			c.in = bufio.NewScanner(c.In)
		}
		c.printf("keys> ")
		if !c.in.Scan() {
			return "", false
		}
		toks, err := ParseScript(c.in.Text())
		if err != nil {
			c.printf("  %v\n", err)
			continue
		}
		c.Keys = toks
	}
	t := c.Keys[0]
	c.Keys = c.Keys[1:]
	return t, true
}

// Prompt implements flows.Call. The prompt is recorded before the keys are
// read, so that a test can see it while the call waits for its caller.
func (c *Call) Prompt(ctx context.Context, g flows.Gather) (flows.Input, error) {
	c.mu.Lock()
	if c.Gone || c.HungUp || ctx.Err() != nil {
		c.mu.Unlock()
		return flows.Input{}, flows.ErrHangup
	}
	p := Prompt{Clips: g.Clips, Gather: g, Text: prompts.Text(toPrompts(g.Clips))}
	if p.Text != "" {
		c.printf("  ♪ %s\n", p.Text)
	}
	c.Prompts = append(c.Prompts, p)
	i := len(c.Prompts) - 1
	c.mu.Unlock()

	in, interrupted, err := c.input(g) // may wait on In; only the engine's goroutine is here

	c.mu.Lock()
	defer c.mu.Unlock()
	c.Prompts[i].Input, c.Prompts[i].Interrupted = in, interrupted
	if err != nil {
		c.printf("  ☎ caller hangs up\n")
		return flows.Input{}, err
	}
	switch {
	case in.Digits != "":
		c.printf("  ▶ %s\n", in.Digits)
	case in.Status == flows.NoInput:
		c.printf("  … (silence)\n")
	}
	return in, nil
}

// input consumes script tokens for one Gather.
func (c *Call) input(g flows.Gather) (flows.Input, bool, error) {
	if g.Match == nil { // play only: look at what the caller already did, wait for nothing
		t, ok := c.buffered()
		switch {
		case !ok:
		case t == TokenHangup:
			c.Gone = true
			return flows.Input{}, false, flows.ErrHangup
		case strings.HasPrefix(t, BargePrefix) && g.BargeIn:
			keys := strings.TrimPrefix(t, BargePrefix)
			return flows.Input{Digits: keys[:1], Status: flows.Played}, true, c.keep(BargePrefix, keys[1:])
		default:
			c.cur = t // not for this prompt: keep it for the next question
		}
		return flows.Input{Status: flows.Played}, false, nil
	}
	t, ok := c.next()
	if !ok || t == TokenHangup {
		c.Gone = true
		return flows.Input{}, false, flows.ErrHangup
	}
	if t == TokenTimeout {
		return flows.Input{Status: flows.NoInput}, false, nil
	}
	barged := strings.HasPrefix(t, BargePrefix)
	keys := strings.TrimPrefix(t, BargePrefix)
	if barged && !g.BargeIn {
		// the key went nowhere while the prompt played; the caller then waits
		return flows.Input{Status: flows.NoInput}, false, c.keep("", keys[1:])
	}
	for i := 1; i <= len(keys); i++ {
		switch g.Match(keys[:i]) {
		case flows.Complete:
			return flows.Input{Digits: keys[:i], Status: flows.Matched}, barged, c.keep("", keys[i:])
		case flows.Invalid:
			return flows.Input{Digits: keys[:i], Status: flows.NoMatch}, barged, c.keep("", keys[i:])
		}
	}
	// the token ran out with an incomplete answer: the inter-digit timeout
	return flows.Input{Digits: keys, Status: flows.NoMatch}, barged, nil
}

// keep puts the unused rest of a token back for the next question.
func (c *Call) keep(prefix, rest string) error {
	if rest != "" {
		c.cur = prefix + rest
	}
	return nil
}

// Transfer implements flows.Call.
func (c *Call) Transfer(ctx context.Context, t flows.Transfer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Gone {
		return flows.ErrHangup
	}
	c.Transferred = &t
	c.printf("  ⇒ transferred to %s %v\n", t.Destination, t.Vars)
	return nil
}

// Hangup implements flows.Call.
func (c *Call) Hangup(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Gone {
		return flows.ErrHangup
	}
	c.HungUp = true
	c.printf("  ☎ hung up\n")
	return nil
}

// Texts returns the text of every prompt played, in order.
func (c *Call) Texts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.Prompts))
	for i, p := range c.Prompts {
		out[i] = p.Text
	}
	return out
}

func toPrompts(cs []flows.Clip) []prompts.Clip {
	out := make([]prompts.Clip, len(cs))
	for i, c := range cs {
		out[i] = prompts.Clip(c)
	}
	return out
}
