package flows

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// edgeKind says what takes a call along an edge.
type edgeKind int

const (
	edgeNext      edgeKind = iota // the node is done (label: collect's var, or none)
	edgeKey                       // the caller pressed the key in label
	edgeOutcome                   // the action returned the outcome in label
	edgeNoInput                   // silence, with on_noinput set
	edgeExhausted                 // max_attempts invalid keys or silences
)

// edge is one way out of a node.
type edge struct {
	to     string
	label  string
	field  string // the field naming the target, for problems
	kind   edgeKind
	silent bool // taken without the caller pressing a key
}

// edges lists the ways out of n, in a stable order. Targets left empty are
// left out; unknown targets are kept (Check reports them).
func edges(n *Node) []edge {
	var out []edge
	add := func(e edge) {
		if e.to != "" {
			out = append(out, e)
		}
	}
	switch n.Kind {
	case KindPlay, KindSay, KindGoto:
		add(edge{to: n.Next, field: "next", silent: true})
	case KindMenu:
		if s := n.Subscriptions; s != nil {
			add(edge{to: s.Next, label: strconv.Itoa(s.FirstKey) + "..n", field: "subscriptions.next", kind: edgeKey})
		}
		for _, k := range sortedOptions(n.Keys) {
			o := n.Keys[k]
			if o == nil {
				continue
			}
			e := edge{to: o.Next, label: k, field: "keys." + k + ".next", kind: edgeKey}
			if o.Language != "" {
				e.label += " " + o.Language
			}
			if o.Repeat && o.Next == "" {
				e.to, e.label, e.field = n.ID, e.label+" repeat", "keys."+k+".repeat"
			}
			add(e)
		}
	case KindCollect:
		add(edge{to: n.Next, label: n.Var, field: "next"})
	case KindConfirm:
		add(edge{to: n.Next, label: n.YesKey, field: "next", kind: edgeKey})
		add(edge{to: n.Back, label: n.NoKey, field: "back", kind: edgeKey})
	case KindAction:
		known := Actions[n.Action]
		for _, o := range known {
			if t, ok := n.Outcomes[o]; ok {
				add(edge{to: t, label: o, field: "outcomes." + o, kind: edgeOutcome, silent: true})
			}
		}
		for _, o := range sortedKeys(n.Outcomes) {
			if !contains(known, o) {
				add(edge{to: n.Outcomes[o], label: o, field: "outcomes." + o, kind: edgeOutcome, silent: true})
			}
		}
	}
	if gathers(n.Kind) {
		add(edge{to: n.OnNoInput, label: "noinput", field: "on_noinput", kind: edgeNoInput, silent: true})
		add(edge{to: n.OnExhausted, label: "exhausted", field: "on_exhausted", kind: edgeExhausted, silent: n.OnNoInput == ""})
	}
	return out
}

// Graph writes f as a Mermaid flowchart: one box per node labelled with
// its id and kind (shaped by kind: parallelograms wait for keys,
// subroutines are actions, stadiums end the flow), circles for start and
// the entries, and one arrow per way out labelled with the key ("8"), the
// outcome (done), noinput or exhausted. It works on unchecked flows too;
// unknown targets show as plain boxes.
func Graph(w io.Writer, f *Flow) error {
	c := &checker{f: f}
	ids := c.ids()
	names := newMermaidNames()
	for _, id := range ids {
		names.get(id)
	}
	g := &errWriter{w: w}
	g.printf("flowchart TD\n")
	entries := []struct{ name, to string }{{"start", f.Start}}
	for _, name := range sortedKeys(f.Entries) {
		entries = append(entries, struct{ name, to string }{name, f.Entries[name]})
	}
	for _, e := range entries {
		if e.to == "" {
			continue
		}
		g.printf("    %s((%s)) --> %s\n", names.alloc("entry "+e.name, "in_"+e.name), quote(e.name), names.get(e.to))
	}
	for _, id := range ids {
		n := f.Nodes[id]
		if n == nil {
			continue
		}
		open, close := shape(n.Kind)
		g.printf("    %s%s%s%s\n", names.get(id), open, quote(id+" ("+n.Kind+")"), close)
	}
	for _, id := range ids {
		n := f.Nodes[id]
		if n == nil {
			continue
		}
		for _, e := range edges(n) {
			from, to := names.get(id), names.get(e.to)
			switch {
			case e.label == "":
				g.printf("    %s --> %s\n", from, to)
			case e.kind == edgeKey || !plainLabel.MatchString(e.label):
				g.printf("    %s -- %s --> %s\n", from, quote(e.label), to)
			default:
				g.printf("    %s -- %s --> %s\n", from, e.label, to)
			}
		}
	}
	return g.err
}

var plainLabel = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// shape returns the Mermaid brackets for a node of kind.
func shape(kind string) (string, string) {
	switch kind {
	case KindMenu, KindCollect, KindConfirm:
		return "[/", "/]"
	case KindAction:
		return "[[", "]]"
	case KindTransfer, KindHangup:
		return "([", "])"
	case KindGoto:
		return "(", ")"
	}
	return "[", "]"
}

// quote makes s a Mermaid string, with the characters Mermaid would take
// for syntax written as entity codes.
func quote(s string) string {
	r := strings.NewReplacer(`"`, "#quot;", "#", "#35;", "<", "#lt;", ">", "#gt;", "\n", " ", "\r", " ")
	return `"` + r.Replace(s) + `"`
}

// mermaidNames gives each flow name (node id, or "entry NAME") a Mermaid
// id: the name itself where Mermaid takes it, else a cleaned, unique one.
type mermaidNames struct {
	ids  map[string]string
	used map[string]bool
}

func newMermaidNames() *mermaidNames {
	return &mermaidNames{ids: map[string]string{}, used: map[string]bool{}}
}

var (
	mermaidID       = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	mermaidBadChars = regexp.MustCompile(`[^A-Za-z0-9_]+`)
	mermaidReserved = map[string]bool{
		"end": true, "graph": true, "flowchart": true, "subgraph": true, "style": true, "classdef": true,
		"class": true, "click": true, "linkstyle": true, "call": true, "href": true, "default": true,
		"direction": true, "interpolate": true, "td": true, "tb": true, "bt": true, "rl": true, "lr": true,
	}
)

func (m *mermaidNames) get(name string) string { return m.alloc(name, name) }

// alloc returns the Mermaid id of name, preferring id.
func (m *mermaidNames) alloc(name, id string) string {
	if id, ok := m.ids[name]; ok {
		return id
	}
	if !mermaidID.MatchString(id) || mermaidReserved[strings.ToLower(id)] {
		id = "n_" + strings.Trim(mermaidBadChars.ReplaceAllString(id, "_"), "_")
	}
	base := id
	for i := 2; m.used[id]; i++ {
		id = base + "_" + strconv.Itoa(i)
	}
	m.ids[name] = id
	m.used[id] = true
	return id
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
