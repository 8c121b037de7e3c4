package flows

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/unsubivr/unsubivr/prompts"
)

// Problem is one thing wrong with a flow, and where: the file, the line
// of the field at fault (else of its node, else 1) and the node id ("" for
// the flow's top level).
type Problem struct {
	File string
	Line int
	Node string
	Msg  string
}

// Error formats p as "flows/x.yaml:42: node confirm: unknown target ...".
func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":" + strconv.Itoa(p.Line))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if p.Node != "" {
		b.WriteString("node " + p.Node + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Errors is every problem Parse, Check or LoadBundle found, in file and
// line order. Its Error is one line per problem.
type Errors []*Problem

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, p := range e {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

func (e Errors) sort() {
	sort.SliceStable(e, func(i, j int) bool {
		if e[i].File != e[j].File {
			return e[i].File < e[j].File
		}
		return e[i].Line < e[j].Line
	})
}

// Limits Check enforces.
const (
	MaxTimeout     = 60 * time.Second
	MaxMaxAttempts = 10
	MaxDigits      = 20 // collect's max
)

// Variables collect fills and say reads.
var (
	collectVars = []string{"number", "password"}
	sayForms    = []string{SayDigits, SayNumber, SayMoney}
	sayValues   = []string{"code", "number", "fee", "count"}
	// sayCombos are the say/value pairs the engine can speak.
	sayCombos = map[string][]string{
		SayDigits: {"code", "number", "count"},
		SayNumber: {"code", "number", "fee", "count"},
		SayMoney:  {"fee"},
	}
	sources = []string{SourceCaller, SourceInput}
)

// The fields each kind of node uses; any other written field is a problem.
// A new Node field must be added here for the kinds that use it.
var (
	gatherFields = []string{"first_digit_timeout", "inter_digit_timeout", "max_attempts", "invalid_prompt", "noinput_prompt", "on_exhausted", "on_noinput", "prompts", "barge_in"}
	kindFields   = map[string][]string{
		KindPlay:     {"prompts", "barge_in", "next"},
		KindMenu:     append([]string{"keys", "subscriptions"}, gatherFields...),
		KindCollect:  append([]string{"var", "min", "max", "terminator", "next"}, gatherFields...),
		KindConfirm:  append([]string{"purge_warning", "yes", "no", "next", "back"}, gatherFields...),
		KindAction:   {"action", "source", "outcomes"},
		KindSay:      {"say", "value", "barge_in", "next"},
		KindTransfer: {"prompts", "destination"}, // played whole: no barge_in
		KindHangup:   {"prompts"},
		KindGoto:     {"next"},
	}
)

// gathers reports whether nodes of kind wait for keys, and so use the
// timeouts, attempts, invalid/noinput prompts, on_noinput and on_exhausted.
func gathers(kind string) bool {
	return kind == KindMenu || kind == KindCollect || kind == KindConfirm
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// Check reports every problem of f at once, as Errors; nil if there is
// none. With a nil cat, prompt ids and languages are not checked.
//
// It checks that start and entries name nodes; that each node's kind is
// known and has the fields its kind needs and no others; that every target
// (next, back, on_noinput, on_exhausted, key options, outcomes,
// subscriptions.next) names a node; that every node is reachable from start
// or an entry; that action nodes handle exactly their action's outcomes;
// keys, durations and attempt counts; that every prompt id exists in every
// language of the flow; and that no loop can run without the caller's
// input (a silent caller must reach an end).
func Check(f *Flow, cat *prompts.Catalog) error {
	if f == nil {
		return Errors{{Msg: "no flow"}}
	}
	c := &checker{f: f, cat: cat}
	c.top()
	for _, id := range c.ids() {
		c.node(f.Nodes[id])
	}
	c.reach()
	c.loops()
	if len(c.errs) == 0 {
		return nil
	}
	c.errs.sort()
	return c.errs
}

type checker struct {
	f     *Flow
	cat   *prompts.Catalog
	langs []string // the flow's languages the catalog has
	errs  Errors
}

// ids lists the node ids in file order, then any not in Order (flows built
// in code), sorted.
func (c *checker) ids() []string {
	var out []string
	seen := map[string]bool{}
	for _, id := range c.f.Order {
		if _, ok := c.f.Nodes[id]; ok && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	var rest []string
	for id := range c.f.Nodes {
		if !seen[id] {
			rest = append(rest, id)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// line finds where field was written in pos, trying its parents
// ("keys.8.next", "keys.8", "keys") before fallback.
func line(pos map[string]int, field string, fallback int) int {
	for field != "" {
		if l := pos[field]; l > 0 {
			return l
		}
		i := strings.LastIndexByte(field, '.')
		if i < 0 {
			break
		}
		field = field[:i]
	}
	return fallback
}

func (c *checker) topf(field, format string, args ...any) {
	c.errs = append(c.errs, &Problem{File: c.f.File, Line: line(c.f.pos, field, 1), Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) nodef(n *Node, field, format string, args ...any) {
	c.errs = append(c.errs, &Problem{File: c.f.File, Line: line(n.pos, field, n.Line), Node: n.ID, Msg: fmt.Sprintf(format, args...)})
}

// own reports whether n itself set field, rather than inheriting it from
// the flow's defaults. Nodes built in code (no positions) own everything.
func own(n *Node, field string) bool { return n.pos == nil || n.pos[field] > 0 }

func (c *checker) top() {
	f := c.f
	if f.Name == "" {
		c.topf("name", "no name: give the flow a name (name: unsubscribe)")
	}
	if len(f.Nodes) == 0 {
		c.topf("nodes", "no nodes")
	}
	switch _, ok := f.Nodes[f.Start]; {
	case f.Start == "":
		c.topf("start", "no start: name the node calls begin at (start: welcome)")
	case !ok:
		c.topf("start", "start: %s", c.unknown(f.Start))
	}
	for _, name := range sortedKeys(f.Entries) {
		id := f.Entries[name]
		switch _, ok := f.Nodes[id]; {
		case name == "":
			c.topf("entries", "entries: an entry needs a name")
		case id == "":
			c.topf("entries."+name, "entry %q: no node", name)
		case !ok:
			c.topf("entries."+name, "entry %q: %s", name, c.unknown(id))
		}
	}

	// languages
	if len(f.Languages) == 0 {
		c.topf("languages", "no languages: list the languages the flow speaks, default first (languages: [zh-CN, en-US])")
	}
	seen := map[string]bool{}
	for i, l := range f.Languages {
		field := "languages." + strconv.Itoa(i)
		switch {
		case seen[l]:
			c.topf(field, "language %q listed twice", l)
			continue
		case c.cat != nil && !contains(c.cat.Languages(), l):
			c.topf(field, "language %q is not in the prompt catalog (it has %s)", l, strings.Join(c.cat.Languages(), ", "))
		default:
			c.langs = append(c.langs, l)
		}
		seen[l] = true
	}

	// defaults
	d := &f.Defaults
	report := func(field, msg string) { c.topf("defaults."+field, "defaults: %s", msg) }
	c.durations(d, report)
	if d.MaxAttempts < 1 || d.MaxAttempts > MaxMaxAttempts {
		report("max_attempts", fmt.Sprintf("max_attempts %d: want 1 to %d", d.MaxAttempts, MaxMaxAttempts))
	}
	for _, p := range []struct {
		field string
		id    *string
	}{{"invalid_prompt", d.InvalidPrompt}, {"noinput_prompt", d.NoInputPrompt}} {
		if p.id != nil && *p.id != "" {
			if msg := c.missing(*p.id); msg != "" {
				report(p.field, p.field+": "+msg)
			}
		}
	}
	if t := d.OnExhausted; t != "" {
		if _, ok := f.Nodes[t]; !ok {
			report("on_exhausted", "on_exhausted: "+c.unknown(t))
		}
	}
}

// durations checks the timeouts of d, reporting through report(field, msg).
func (c *checker) durations(d *Defaults, report func(field, msg string)) {
	for _, x := range []struct {
		field string
		d     Duration
	}{{"first_digit_timeout", d.FirstDigitTimeout}, {"inter_digit_timeout", d.InterDigitTimeout}} {
		switch {
		case x.d.Duration <= 0:
			report(x.field, fmt.Sprintf("%s %v: must be more than 0", x.field, x.d.Duration))
		case x.d.Duration > MaxTimeout:
			report(x.field, fmt.Sprintf("%s %v: must be at most %v", x.field, x.d.Duration, MaxTimeout))
		}
	}
}

func (c *checker) node(n *Node) {
	if n == nil {
		return
	}
	if !idRE.MatchString(n.ID) {
		c.nodef(n, "", "node id %q: use letters, digits and _ . - only", n.ID)
	}
	fields, known := kindFields[n.Kind]
	switch {
	case n.Kind == "":
		c.nodef(n, "type", "no type: say what the node does (type: %s)", strings.Join(Kinds, ", "))
		return
	case !known:
		c.nodef(n, "type", "unknown type %q%s (want %s)", n.Kind, suggest(n.Kind, Kinds), strings.Join(Kinds, ", "))
		return
	}
	// fields written that this kind does not use
	var extra []string
	for f := range n.pos {
		if !strings.Contains(f, ".") && f != "type" && !contains(fields, f) {
			extra = append(extra, f)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return n.pos[extra[i]] < n.pos[extra[j]] })
	for _, f := range extra {
		c.nodef(n, f, "field %s does not apply to a %s node", f, n.Kind)
	}

	switch n.Kind {
	case KindPlay:
		c.need(n, len(n.Prompts) > 0, "prompts", "a play node needs prompts:")
		c.need(n, n.Next != "", "next", "a play node needs next:")
	case KindMenu:
		c.menu(n)
	case KindCollect:
		c.collect(n)
	case KindConfirm:
		c.need(n, len(n.Prompts) > 0, "prompts", "a confirm node needs prompts:")
		c.need(n, n.Next != "", "next", "a confirm node needs next: (where yes goes)")
		c.need(n, n.Back != "", "back", "a confirm node needs back: (where no goes)")
		c.keyStr(n, "yes", "yes", n.YesKey)
		c.keyStr(n, "no", "no", n.NoKey)
		switch {
		case n.YesKey == n.NoKey:
			c.nodef(n, "no", "yes and no are both %q", n.YesKey)
		case n.YesKey != "" && n.NoKey != "" && strings.HasPrefix(n.NoKey, n.YesKey):
			c.nodef(n, "no", "no %q can never be pressed: yes %q matches first", n.NoKey, n.YesKey)
		case n.YesKey != "" && n.NoKey != "" && strings.HasPrefix(n.YesKey, n.NoKey):
			c.nodef(n, "yes", "yes %q can never be pressed: no %q matches first", n.YesKey, n.NoKey)
		}
		if n.PurgeWarning != "" {
			c.prompt(n, "purge_warning", n.PurgeWarning)
		}
	case KindAction:
		c.action(n)
	case KindSay:
		switch {
		case n.Say == "":
			c.nodef(n, "say", "a say node needs say: (%s)", strings.Join(sayForms, ", "))
		case !contains(sayForms, n.Say):
			c.nodef(n, "say", "say %q: want %s", n.Say, strings.Join(sayForms, ", "))
		}
		switch {
		case n.Value == "":
			c.nodef(n, "value", "a say node needs value: (%s)", strings.Join(sayValues, ", "))
		case !contains(sayValues, n.Value):
			c.nodef(n, "value", "value %q: want %s", n.Value, strings.Join(sayValues, ", "))
		}
		if contains(sayForms, n.Say) && contains(sayValues, n.Value) && !contains(sayCombos[n.Say], n.Value) {
			c.nodef(n, "value", "cannot say %s as %s (%s takes %s)", n.Value, n.Say, n.Say, strings.Join(sayCombos[n.Say], ", "))
		}
		c.need(n, n.Next != "", "next", "a say node needs next:")
	case KindTransfer:
		c.need(n, n.Destination != "", "destination", "a transfer node needs destination:")
	case KindGoto:
		c.need(n, n.Next != "", "next", "a goto node needs next:")
	}

	for i, id := range n.Prompts {
		c.prompt(n, "prompts."+strconv.Itoa(i), id)
	}
	if gathers(n.Kind) {
		c.gather(n)
	}
	for _, e := range edges(n) {
		if e.field == "on_exhausted" && !own(n, "on_exhausted") {
			continue // the flow's default, checked once in top
		}
		if _, ok := c.f.Nodes[e.to]; !ok {
			c.nodef(n, e.field, "unknown target %q in %s%s", e.to, e.field, suggest(e.to, c.ids()))
		}
	}
}

// gather checks the settings of a node that waits for keys.
func (c *checker) gather(n *Node) {
	c.durations(&n.Defaults, func(field, msg string) {
		if own(n, field) {
			c.nodef(n, field, "%s", msg)
		}
	})
	if own(n, "max_attempts") && (n.MaxAttempts < 1 || n.MaxAttempts > MaxMaxAttempts) {
		c.nodef(n, "max_attempts", "max_attempts %d: want 1 to %d", n.MaxAttempts, MaxMaxAttempts)
	}
	if p := n.InvalidPrompt; p != nil && *p != "" && own(n, "invalid_prompt") {
		c.prompt(n, "invalid_prompt", *p)
	}
	if p := n.NoInputPrompt; p != nil && *p != "" && own(n, "noinput_prompt") {
		c.prompt(n, "noinput_prompt", *p)
	}
}

func (c *checker) need(n *Node, ok bool, field, msg string) {
	if !ok {
		c.nodef(n, field, "%s", msg)
	}
}

func (c *checker) menu(n *Node) {
	if len(n.Keys) == 0 && n.Subscriptions == nil {
		c.nodef(n, "", "a menu needs keys: or subscriptions:")
	}
	if len(n.Prompts) == 0 && n.Subscriptions == nil {
		c.nodef(n, "", "a menu needs prompts: to say what the keys do")
	}
	keys := sortedOptions(n.Keys)
	for _, k := range keys {
		o := n.Keys[k]
		field := "keys." + k
		if o == nil {
			c.nodef(n, field, "key %q: no option", k)
			continue
		}
		if !c.keyStr(n, field, "key", k) {
			continue
		}
		switch {
		case o.Next == "" && !o.Repeat:
			c.nodef(n, field, "key %q: needs next: or repeat: true", k)
		case o.Next != "" && o.Repeat:
			c.nodef(n, field, "key %q: has both next: and repeat: true", k)
		}
		if o.Language != "" && o.Next == "" {
			c.nodef(n, field+".language", "key %q: language: needs next: (where to go in the new language)", k)
		}
		if o.Language != "" && !contains(c.f.Languages, o.Language) {
			c.nodef(n, field+".language", "key %q: language %q is not one of the flow's languages (%s)", k, o.Language, strings.Join(c.f.Languages, ", "))
		}
		for _, k2 := range keys {
			if k2 != k && strings.HasPrefix(k2, k) && dtmf(k2) {
				c.nodef(n, "keys."+k2, "key %q can never be pressed: %q matches first", k2, k)
			}
		}
		if s := n.Subscriptions; s != nil && k == strconv.Itoa(s.FirstKey) {
			c.nodef(n, field, "key %q clashes with subscriptions.first_key %d: the first subscription takes it", k, s.FirstKey)
		}
	}
	s := n.Subscriptions
	if s == nil {
		return
	}
	if s.FirstKey < 0 || s.FirstKey > 9 {
		c.nodef(n, "subscriptions.first_key", "subscriptions.first_key %d: want 0 to 9", s.FirstKey)
	}
	if s.ItemPrompt == "" {
		c.nodef(n, "subscriptions", "subscriptions needs item_prompt: (read once per subscription, with {key})")
	} else if c.prompt(n, "subscriptions.item_prompt", s.ItemPrompt) && c.cat != nil {
		var nokey []string
		for _, l := range c.langs {
			if !contains(c.cat.Placeholders(l, s.ItemPrompt), "key") {
				nokey = append(nokey, l)
			}
		}
		if len(nokey) > 0 {
			c.nodef(n, "subscriptions.item_prompt", "subscriptions.item_prompt %q does not say {key} in %s: callers would not hear which key to press", s.ItemPrompt, strings.Join(nokey, ", "))
		}
	}
	c.need(n, s.Next != "", "subscriptions", "subscriptions needs next: (where a chosen subscription goes)")
	for i, id := range s.Footer {
		c.prompt(n, "subscriptions.footer."+strconv.Itoa(i), id)
	}
}

func (c *checker) collect(n *Node) {
	c.need(n, len(n.Prompts) > 0, "prompts", "a collect node needs prompts:")
	switch {
	case n.Var == "":
		c.nodef(n, "var", "a collect node needs var: (%s)", strings.Join(collectVars, " or "))
	case !contains(collectVars, n.Var):
		c.nodef(n, "var", "var %q: want %s", n.Var, strings.Join(collectVars, " or "))
	}
	okMin := n.MinDigits >= 1 && n.MinDigits <= MaxDigits
	okMax := n.MaxDigits >= 1 && n.MaxDigits <= MaxDigits
	if !okMin {
		c.nodef(n, "min", "min %d: want 1 to %d digits", n.MinDigits, MaxDigits)
	}
	if !okMax {
		c.nodef(n, "max", "max %d: want 1 to %d digits", n.MaxDigits, MaxDigits)
	}
	if okMin && okMax && n.MinDigits > n.MaxDigits {
		c.nodef(n, "min", "min %d is more than max %d", n.MinDigits, n.MaxDigits)
	}
	switch t := n.Terminator; {
	case t == "":
	case len(t) != 1 || !strings.Contains(DTMFKeys, t):
		c.nodef(n, "terminator", "terminator %q: want one key, # or *", t)
	case t[0] >= '0' && t[0] <= '9':
		c.nodef(n, "terminator", "terminator %q is a digit: it would end the number early; use # or *", t)
	}
	c.need(n, n.Next != "", "next", "a collect node needs next:")
}

func (c *checker) action(n *Node) {
	names := sortedKeys(Actions)
	outs, ok := Actions[n.Action]
	switch {
	case n.Action == "":
		c.nodef(n, "action", "an action node needs action: (%s)", strings.Join(names, ", "))
		return
	case !ok:
		c.nodef(n, "action", "unknown action %q%s (want %s)", n.Action, suggest(n.Action, names), strings.Join(names, ", "))
		return
	}
	for _, o := range outs {
		if _, ok := n.Outcomes[o]; !ok {
			c.nodef(n, "outcomes", "outcome %q of %s not handled: add %s: <node> to outcomes", o, n.Action, o)
		}
	}
	for _, o := range sortedKeys(n.Outcomes) {
		switch {
		case !contains(outs, o):
			c.nodef(n, "outcomes."+o, "unknown outcome %q%s (%s has %s)", o, suggest(o, outs), n.Action, strings.Join(outs, ", "))
		case n.Outcomes[o] == "":
			c.nodef(n, "outcomes."+o, "outcome %q: no target", o)
		}
	}
	switch {
	case n.Action == ActionIdentify && n.Source == "":
		c.nodef(n, "action", "identify needs source: (caller or input)")
	case n.Action == ActionIdentify && !contains(sources, n.Source):
		c.nodef(n, "source", "source %q: want caller or input", n.Source)
	case n.Action != ActionIdentify && n.Source != "":
		c.nodef(n, "source", "source applies only to the identify action")
	}
}

// dtmf reports whether s is a non-empty string of DTMF keys.
func dtmf(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune(DTMFKeys, r) {
			return false
		}
	}
	return s != ""
}

// keyStr checks that s, the what of n, is a non-empty string of DTMF keys.
func (c *checker) keyStr(n *Node, field, what, s string) bool {
	if s == "" {
		c.nodef(n, field, "%s: empty; want DTMF keys (0-9 * # A-D)", what)
		return false
	}
	if !dtmf(s) {
		c.nodef(n, field, "%s %q: not DTMF keys (use 0-9 * # A-D)", what, s)
		return false
	}
	return true
}

// prompt checks that id exists in every language of the flow and reports
// whether it does.
func (c *checker) prompt(n *Node, field, id string) bool {
	if id == "" {
		c.nodef(n, field, "%s: empty prompt id", field)
		return false
	}
	if msg := c.missing(id); msg != "" {
		c.nodef(n, field, "%s", msg)
		return false
	}
	return true
}

// missing says which of the flow's languages lack prompt id, or "".
func (c *checker) missing(id string) string {
	if c.cat == nil {
		return ""
	}
	var miss []string
	for _, l := range c.langs {
		if !c.cat.Has(l, id) {
			miss = append(miss, l)
		}
	}
	if len(miss) == 0 {
		return ""
	}
	var ids []string
	for _, e := range c.cat.Entries(miss[0]) {
		ids = append(ids, e.ID)
	}
	return fmt.Sprintf("prompt %q missing in %s%s", id, strings.Join(miss, ", "), suggest(id, ids))
}

// unknown describes a target that is not a node.
func (c *checker) unknown(id string) string {
	return fmt.Sprintf("unknown target %q%s", id, suggest(id, c.ids()))
}

// reach reports nodes no path from start or an entry leads to. A node
// reached only through on_exhausted or on_noinput is reachable.
func (c *checker) reach() {
	if _, ok := c.f.Nodes[c.f.Start]; !ok {
		return // everything would be unreachable; start is reported already
	}
	seen := map[string]bool{}
	queue := []string{c.f.Start}
	for _, name := range sortedKeys(c.f.Entries) {
		queue = append(queue, c.f.Entries[name])
	}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		n, ok := c.f.Nodes[id]
		if !ok || seen[id] {
			continue
		}
		seen[id] = true
		for _, e := range edges(n) {
			queue = append(queue, e.to)
		}
	}
	for _, id := range c.ids() {
		if n := c.f.Nodes[id]; n != nil && !seen[id] {
			c.nodef(n, "", "unreachable: no path from start or an entry leads here")
		}
	}
}

// loops reports cycles a call can go round without the caller pressing a
// key: through play, say, goto and action nodes, and through the noinput
// or exhausted exits of nodes that wait for keys (a silent caller). Such a
// call would never end. One problem per strongly connected component.
func (c *checker) loops() {
	ids := c.ids()
	silent := map[string][]edge{}
	for _, id := range ids {
		if n := c.f.Nodes[id]; n != nil {
			for _, e := range edges(n) {
				if _, ok := c.f.Nodes[e.to]; ok && e.silent {
					silent[id] = append(silent[id], e)
				}
			}
		}
	}
	// Tarjan's algorithm, iterative-free: flows are small enough to recurse.
	var (
		index   = map[string]int{}
		low     = map[string]int{}
		onStack = map[string]bool{}
		stack   []string
		next    int
		sccs    [][]string
	)
	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, e := range silent[v] {
			if _, seen := index[e.to]; !seen {
				visit(e.to)
				low[v] = min(low[v], low[e.to])
			} else if onStack[e.to] {
				low[v] = min(low[v], index[e.to])
			}
		}
		if low[v] == index[v] {
			var scc []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			sccs = append(sccs, scc)
		}
	}
	for _, id := range ids {
		if _, seen := index[id]; !seen {
			visit(id)
		}
	}
	order := map[string]int{}
	for i, id := range ids {
		order[id] = i
	}
	for _, scc := range sccs {
		in := map[string]bool{}
		root := scc[0]
		for _, id := range scc {
			in[id] = true
			if order[id] < order[root] {
				root = id
			}
		}
		path := cycle(root, in, silent)
		if path == "" {
			continue // a single node without a self-loop
		}
		c.nodef(c.f.Nodes[root], "", "loops forever without caller input: %s", path)
	}
}

// cycle finds a shortest path from root back to root within in, following
// silent edges, and formats it "a → b →(exhausted) a"; "" if none.
func cycle(root string, in map[string]bool, silent map[string][]edge) string {
	type step struct {
		from string
		e    edge
	}
	prev := map[string]step{}
	queue := []string{root}
	seen := map[string]bool{}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, e := range silent[v] {
			if !in[e.to] {
				continue
			}
			if e.to == root {
				// rebuild root → ... → v → root
				var hops []step
				hops = append(hops, step{v, e})
				for x := v; x != root; x = prev[x].from {
					hops = append(hops, prev[x])
				}
				var b strings.Builder
				b.WriteString(root)
				for i := len(hops) - 1; i >= 0; i-- {
					b.WriteString(" →")
					if hops[i].e.kind == edgeNoInput || hops[i].e.kind == edgeExhausted {
						b.WriteString("(" + hops[i].e.label + ")")
					}
					b.WriteString(" " + hops[i].e.to)
				}
				return b.String()
			}
			if !seen[e.to] {
				seen[e.to] = true
				prev[e.to] = step{v, e}
				queue = append(queue, e.to)
			}
		}
	}
	return ""
}

// suggest returns ` (did you mean "x"?)` for a likely typo of one of
// candidates, else "".
func suggest(s string, candidates []string) string {
	if x := closest(s, candidates); x != "" && x != s {
		return fmt.Sprintf(" (did you mean %q?)", x)
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sortedOptions lists a menu's keys in file order (then by key).
func sortedOptions(keys map[string]*Option) []string {
	out := sortedKeys(keys)
	sort.SliceStable(out, func(i, j int) bool {
		li, lj := 0, 0
		if o := keys[out[i]]; o != nil {
			li = o.Line
		}
		if o := keys[out[j]]; o != nil {
			lj = o.Line
		}
		return li < lj
	})
	return out
}

// add appends the problems of err to es. An error that is not Errors (an
// unreadable file, say) is returned: it ends the loading.
func (es *Errors) add(err error) error {
	var e Errors
	if !errors.As(err, &e) {
		return err
	}
	*es = append(*es, e...)
	return nil
}
