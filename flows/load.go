package flows

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The built-in defaults: what a node gets when neither it nor its flow's
// defaults: set a value. InvalidPrompt, NoInputPrompt and OnExhausted
// default to "" (no prompt; hang up when attempts run out).
const (
	DefaultFirstDigitTimeout = 5 * time.Second
	DefaultInterDigitTimeout = 3 * time.Second
	DefaultMaxAttempts       = 3
	DefaultYesKey            = "1"
	DefaultNoKey             = "2"
	DefaultFirstKey          = 1
)

//go:embed unsubscribe.yaml
var builtinFlow []byte

// builtinFile is the name problems in the built-in flow are reported under.
const builtinFile = "flows/unsubscribe.yaml"

// Builtin returns the default flow compiled into the binary
// (flows/unsubscribe.yaml), parsed and resolved. Check it against a catalog
// before use; LoadBundle does both.
func Builtin() (*Flow, error) { return Parse(builtinFile, builtinFlow) }

// LoadFile parses the flow file at path. Problems are reported under path.
func LoadFile(path string) (*Flow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("flows: %w", err)
	}
	return Parse(path, data)
}

// LoadDir parses every *.yaml file in dir, in name order. It fails if dir
// holds none; the problems of every file are reported together as Errors.
func LoadDir(dir string) ([]*Flow, error) {
	srcs, err := readDir(dir)
	if err != nil {
		return nil, err
	}
	return parseAll(srcs)
}

// source is one flow file's name and bytes.
type source struct {
	file string
	data []byte
}

func readDir(dir string) ([]source, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("flows: %w", err)
	}
	if len(names) == 0 {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("flows: %w", err)
		}
		return nil, fmt.Errorf("flows: no *.yaml flow in %s", dir)
	}
	sort.Strings(names)
	srcs := make([]source, 0, len(names))
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("flows: %w", err)
		}
		srcs = append(srcs, source{file: name, data: data})
	}
	return srcs, nil
}

func parseAll(srcs []source) ([]*Flow, error) {
	var (
		out  []*Flow
		errs Errors
	)
	for _, s := range srcs {
		f, err := Parse(s.file, s.data)
		if err != nil {
			if err := errs.add(err); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, f)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// Parse reads a flow from data, which came from file (used in problems
// and kept in Flow.File). It reports every problem it finds at once as
// Errors: YAML syntax, unknown or repeated fields, values of the wrong
// type, unparseable durations, repeated node ids and menu keys. On success
// every node's Defaults, BargeIn, YesKey/NoKey and Subscriptions.FirstKey
// are resolved (see resolve); the flow still needs Check.
//
// Parse decodes from yaml.Node itself rather than into structs so that
// every field keeps its line and a typo like `nxt:` is an error.
func Parse(file string, data []byte) (*Flow, error) {
	p := &parser{file: file}
	f := p.parse(data)
	if len(p.errs) > 0 {
		p.errs.sort()
		return nil, p.errs
	}
	resolve(f)
	return f, nil
}

type parser struct {
	file string
	errs Errors
}

func (p *parser) errorf(line int, node, format string, args ...any) {
	p.errs = append(p.errs, &Problem{File: p.file, Line: line, Node: node, Msg: fmt.Sprintf(format, args...)})
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError turns a yaml.v3 error ("yaml: line 5: did not find expected
// key") into problems with their lines.
func (p *parser) yamlError(err error) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, m := range msgs {
		m, line := strings.TrimPrefix(strings.TrimSpace(m), "yaml: "), 0
		if s := yamlLineRE.FindStringSubmatch(m); s != nil {
			line, _ = strconv.Atoi(s[1])
			m = s[2]
		}
		// yaml.v3 reports a parser error (as opposed to a scanner error)
		// at the 0-based line where the enclosing collection starts.
		for _, prefix := range []string{"did not find expected", "found duplicate", "found incompatible", "found undefined tag"} {
			if strings.HasPrefix(m, prefix) {
				line++
				break
			}
		}
		p.errorf(max(line, 1), "", "YAML syntax: %s", m)
	}
}

func (p *parser) parse(data []byte) *Flow {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			p.errorf(1, "", "empty flow file")
		} else {
			p.yamlError(err)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == io.EOF:
	case err != nil:
		p.yamlError(err)
		return nil
	default:
		p.errorf(extra.Line, "", "a second YAML document: a flow file holds one flow")
		return nil
	}
	if len(doc.Content) == 0 {
		p.errorf(1, "", "empty flow file")
		return nil
	}
	root := doc.Content[0]
	if p.aliases(root); len(p.errs) > 0 {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		p.errorf(root.Line, "", "a flow is a map with name, start, languages, defaults and nodes; got %s", kindName(root))
		return nil
	}
	f := &Flow{File: p.file, Nodes: map[string]*Node{}, pos: map[string]int{}}
	sawNodes := false
	p.fields(root, reflect.ValueOf(f).Elem(), flowFields, "", "", f.pos, func(name string, k, v *yaml.Node) bool {
		switch name {
		case "nodes":
			sawNodes = true
			p.nodes(v, f)
		case "entries":
			f.Entries = p.stringMap(v, "", "entries", f.pos)
		case "defaults":
			if v.Kind != yaml.MappingNode {
				if !isNull(v) {
					p.errorf(v.Line, "", "defaults: want a map of settings, got %s", kindName(v))
				}
				return true
			}
			p.fields(v, reflect.ValueOf(&f.Defaults).Elem(), defaultsFields, "", "defaults.", f.pos, nil)
		default:
			return false
		}
		return true
	})
	if !sawNodes {
		p.errorf(root.Line, "", "no nodes: a flow needs a nodes: map of node id to node")
	}
	if f.Name == "" && f.pos["name"] == 0 {
		// name: defaults to the file's base name ("unsubscribe.yaml" → "unsubscribe")
		f.Name = strings.TrimSuffix(filepath.Base(p.file), filepath.Ext(p.file))
	}
	return f
}

// aliases rejects aliases (and so merge keys): a flow file says
// everything where it applies (shared settings belong in defaults:). An
// anchor alone is harmless. Each alias name is reported once.
func (p *parser) aliases(n *yaml.Node) {
	seen := map[string]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.AliasNode {
			if !seen[n.Value] {
				seen[n.Value] = true
				p.errorf(n.Line, "", "YAML aliases (*%s) are not supported in flow files; write the value out, or use defaults: for shared settings", n.Value)
			}
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
}

func (p *parser) nodes(m *yaml.Node, f *Flow) {
	if m.Kind != yaml.MappingNode {
		if !isNull(m) {
			p.errorf(m.Line, "", "nodes: want a map of node id to node, got %s", kindName(m))
		}
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k.Line, "", "nodes: a node id must be a plain name, got %s", kindName(k))
			continue
		}
		id := k.Value
		if prev, dup := f.Nodes[id]; dup {
			p.errorf(k.Line, id, "node defined twice (first at line %d)", prev.Line)
			continue
		}
		n := &Node{ID: id, Line: k.Line, pos: map[string]int{}}
		f.Nodes[id] = n
		f.Order = append(f.Order, id)
		if v.Kind != yaml.MappingNode {
			p.errorf(v.Line, id, "want a map with type: and the node's fields, got %s", kindName(v))
			continue
		}
		p.fields(v, reflect.ValueOf(n).Elem(), nodeFields, id, "", n.pos, func(name string, k, v *yaml.Node) bool {
			switch name {
			case "keys":
				p.keys(v, n)
			case "subscriptions":
				p.subscriptions(v, n)
			case "outcomes":
				n.Outcomes = p.stringMap(v, id, "outcomes", n.pos)
			default:
				return false
			}
			return true
		})
	}
}

func (p *parser) keys(m *yaml.Node, n *Node) {
	if m.Kind != yaml.MappingNode {
		if !isNull(m) {
			p.errorf(m.Line, n.ID, "keys: want a map of DTMF key to option, e.g. \"1\": {next: confirm}; got %s", kindName(m))
		}
		return
	}
	n.Keys = map[string]*Option{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k.Line, n.ID, "keys: a key must be a string of DTMF keys, got %s", kindName(k))
			continue
		}
		key := k.Value // 9 and "9" alike: the scalar's text, whatever its tag
		if prev, dup := n.Keys[key]; dup {
			p.errorf(k.Line, n.ID, "duplicate key %q (first at line %d)", key, prev.Line)
			continue
		}
		o := &Option{Line: k.Line}
		n.Keys[key] = o
		n.pos["keys."+key] = k.Line
		if v.Kind != yaml.MappingNode {
			p.errorf(v.Line, n.ID, "key %q: want an option like {next: confirm}, {repeat: true} or {language: en-US, next: menu}; got %s", key, kindName(v))
			continue
		}
		p.fields(v, reflect.ValueOf(o).Elem(), optionFields, n.ID, "keys."+key+".", n.pos, nil)
	}
}

func (p *parser) subscriptions(m *yaml.Node, n *Node) {
	if m.Kind != yaml.MappingNode {
		if !isNull(m) {
			p.errorf(m.Line, n.ID, "subscriptions: want a map with item_prompt, next, footer; got %s", kindName(m))
		}
		return
	}
	n.Subscriptions = &Dynamic{}
	p.fields(m, reflect.ValueOf(n.Subscriptions).Elem(), dynamicFields, n.ID, "subscriptions.", n.pos, nil)
}

// stringMap decodes a map of names to node ids (entries, outcomes),
// recording each entry's line under path.name.
func (p *parser) stringMap(m *yaml.Node, node, path string, pos map[string]int) map[string]string {
	if m.Kind != yaml.MappingNode {
		if !isNull(m) {
			p.errorf(m.Line, node, "%s: want a map of name to node id, got %s", path, kindName(m))
		}
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k.Line, node, "%s: a name must be a plain string, got %s", path, kindName(k))
			continue
		}
		if first, dup := pos[path+"."+k.Value]; dup {
			p.errorf(k.Line, node, "%s: %q given twice (first at line %d)", path, k.Value, first)
			continue
		}
		pos[path+"."+k.Value] = k.Line
		if v.Kind != yaml.ScalarNode || isNull(v) {
			p.errorf(v.Line, node, "%s.%s: want a node id, got %s", path, k.Value, kindName(v))
			continue
		}
		out[k.Value] = v.Value
	}
	return out
}

// fields decodes mapping m into the struct dst, whose fields are named by
// yaml tags (table). special handles the fields that need more than a
// plain decode and reports whether it took name. Each field's line is
// recorded in pos under prefix+name.
func (p *parser) fields(m *yaml.Node, dst reflect.Value, table map[string][]int, node, prefix string, pos map[string]int, special func(name string, k, v *yaml.Node) bool) {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k.Line, node, "%sfield names must be plain strings, got %s", prefix, kindName(k))
			continue
		}
		name := k.Value
		if first, dup := seen[name]; dup {
			p.errorf(k.Line, node, "%s%s given twice (first at line %d)", prefix, name, first)
			continue
		}
		seen[name] = k.Line
		pos[prefix+name] = k.Line
		if special != nil && special(name, k, v) {
			continue
		}
		idx, ok := table[name]
		if !ok {
			p.errorf(k.Line, node, "%s", unknownField(prefix, name, table))
			continue
		}
		if err := decode(v, dst.FieldByIndex(idx).Addr().Interface()); err != nil {
			p.errorf(v.Line, node, "%s%s: %v", prefix, name, err)
			continue
		}
		if v.Kind == yaml.SequenceNode {
			for j, item := range v.Content {
				pos[prefix+name+"."+strconv.Itoa(j)] = item.Line
			}
		}
	}
}

func unknownField(prefix, name string, table map[string][]int) string {
	known := make([]string, 0, len(table))
	for k := range table {
		known = append(known, k)
	}
	sort.Strings(known)
	msg := fmt.Sprintf("unknown field %q", prefix+name)
	if s := closest(name, known); s != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", prefix+s)
	}
	return msg + " (known: " + strings.Join(known, ", ") + ")"
}

// decode decodes the value v into ptr, insisting on the YAML shape the
// field's Go type implies.
func decode(v *yaml.Node, ptr any) error {
	switch ptr := ptr.(type) {
	case *string:
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("want a string, got %s", kindName(v))
		}
		return clean(v.Decode(ptr))
	case **string:
		if isNull(v) {
			*ptr = nil
			return nil
		}
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("want a string, got %s", kindName(v))
		}
		s := v.Value
		*ptr = &s
		return nil
	case *int:
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" {
			return fmt.Errorf("want a whole number, got %s", kindName(v))
		}
		return clean(v.Decode(ptr))
	case *bool, **bool:
		if v.Kind != yaml.ScalarNode || (v.ShortTag() != "!!bool" && !isNull(v)) {
			return fmt.Errorf("want true or false, got %s", kindName(v))
		}
		return clean(v.Decode(ptr))
	case *[]string:
		if isNull(v) {
			*ptr = nil
			return nil
		}
		if v.Kind != yaml.SequenceNode {
			return fmt.Errorf("want a list like [a, b], got %s", kindName(v))
		}
		out := make([]string, 0, len(v.Content))
		for _, item := range v.Content {
			if item.Kind != yaml.ScalarNode || isNull(item) {
				return fmt.Errorf("want a list of names, got %s at line %d", kindName(item), item.Line)
			}
			out = append(out, item.Value)
		}
		*ptr = out
		return nil
	case *Duration:
		return ptr.UnmarshalYAML(v)
	}
	return clean(v.Decode(ptr))
}

// clean strips yaml.v3's "yaml: unmarshal errors: line N:" wrapping; the
// caller reports the line.
func clean(err error) error {
	if err == nil {
		return nil
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		m := te.Errors[0]
		if s := yamlLineRE.FindStringSubmatch(strings.TrimSpace(m)); s != nil {
			m = s[2]
		}
		return errors.New(m)
	}
	return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
}

// UnmarshalYAML reads a Go duration string ("5s", "1500ms", "1m") and sets
// Set. Range (positive, at most a minute) is Check's business.
func (d *Duration) UnmarshalYAML(v *yaml.Node) error {
	if v.Kind != yaml.ScalarNode || isNull(v) {
		return fmt.Errorf("want a duration like \"5s\" or \"1500ms\", got %s", kindName(v))
	}
	x, err := time.ParseDuration(v.Value)
	if err != nil {
		return fmt.Errorf("bad duration %q: want a number and a unit, like \"5s\" or \"1500ms\"", v.Value)
	}
	d.Duration, d.Set = x, true
	return nil
}

func isNull(v *yaml.Node) bool { return v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" }

// kindName says what a YAML node is, for messages.
func kindName(v *yaml.Node) string {
	switch v.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if isNull(v) {
			return "nothing"
		}
		return strconv.Quote(v.Value)
	}
	return "an empty document"
}

// The yaml field tables of the flow types.
var (
	flowFields     = yamlFields(reflect.TypeOf(Flow{}), "nodes")
	defaultsFields = yamlFields(reflect.TypeOf(Defaults{}))
	nodeFields     = yamlFields(reflect.TypeOf(Node{}))
	optionFields   = yamlFields(reflect.TypeOf(Option{}))
	dynamicFields  = yamlFields(reflect.TypeOf(Dynamic{}))
)

// yamlFields maps the yaml names of t's fields to their index paths,
// flattening ",inline" structs; extra names (decoded specially) map to nil.
func yamlFields(t reflect.Type, extra ...string) map[string][]int {
	out := map[string][]int{}
	for _, e := range extra {
		out[e] = nil
	}
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag := sf.Tag.Get("yaml")
			if !sf.IsExported() || tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), index...), i)
			if opts == "inline" {
				walk(sf.Type, idx)
				continue
			}
			if name == "" {
				name = strings.ToLower(sf.Name)
			}
			out[name] = idx
		}
	}
	walk(t, nil)
	return out
}

// resolve fills every node's settings: the node's own value, else the
// flow's defaults:, else the built-in default. A value counts as given
// when the file wrote it (so `max_attempts: 0` stays 0 and Check reports
// it). f.Defaults is resolved too.
func resolve(f *Flow) {
	d := &f.Defaults
	if !d.FirstDigitTimeout.Set {
		d.FirstDigitTimeout = Duration{Duration: DefaultFirstDigitTimeout}
	}
	if !d.InterDigitTimeout.Set {
		d.InterDigitTimeout = Duration{Duration: DefaultInterDigitTimeout}
	}
	if f.pos["defaults.max_attempts"] == 0 && d.MaxAttempts == 0 {
		d.MaxAttempts = DefaultMaxAttempts
	}
	if d.InvalidPrompt == nil {
		d.InvalidPrompt = new(string)
	}
	if d.NoInputPrompt == nil {
		d.NoInputPrompt = new(string)
	}
	for _, n := range f.Nodes {
		if !n.FirstDigitTimeout.Set {
			n.FirstDigitTimeout = d.FirstDigitTimeout
		}
		if !n.InterDigitTimeout.Set {
			n.InterDigitTimeout = d.InterDigitTimeout
		}
		if n.pos["max_attempts"] == 0 && n.MaxAttempts == 0 {
			n.MaxAttempts = d.MaxAttempts
		}
		if n.InvalidPrompt == nil {
			s := *d.InvalidPrompt
			n.InvalidPrompt = &s
		}
		if n.NoInputPrompt == nil {
			s := *d.NoInputPrompt
			n.NoInputPrompt = &s
		}
		if n.pos["on_exhausted"] == 0 && n.OnExhausted == "" {
			n.OnExhausted = d.OnExhausted
		}
		if n.BargeIn == nil {
			t := true
			n.BargeIn = &t
		}
		if n.pos["yes"] == 0 && n.YesKey == "" {
			n.YesKey = DefaultYesKey
		}
		if n.pos["no"] == 0 && n.NoKey == "" {
			n.NoKey = DefaultNoKey
		}
		if s := n.Subscriptions; s != nil && n.pos["subscriptions.first_key"] == 0 && s.FirstKey == 0 {
			s.FirstKey = DefaultFirstKey
		}
	}
}

// closest returns the candidate nearest to s by edit distance, if it is
// near enough to be a likely typo.
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	if len(s) <= 3 {
		bestD = 2
	}
	for _, c := range candidates {
		if d := editDistance(s, c, bestD); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, or max if it is at
// least max (long inputs stop early).
func editDistance(a, b string, max int) int {
	if d := len(a) - len(b); d >= max || -d >= max {
		return max
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		low := cur[0]
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			c = min(c, prev[j]+1, cur[j-1]+1)
			cur[j] = c
			low = min(low, c)
		}
		if low >= max {
			return max
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], max)
}
