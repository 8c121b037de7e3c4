package flows_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unsubivr/unsubivr/flows"
	"github.com/unsubivr/unsubivr/prompts"
	"gopkg.in/yaml.v3"
)

// mustLoad parses a flow file of testdata or fails the test.
func mustLoad(tb testing.TB, path string) *flows.Flow {
	tb.Helper()
	f, err := flows.LoadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// testCatalog is the small prompt catalog of testdata/prompts.
func testCatalog(tb testing.TB) *prompts.Catalog {
	tb.Helper()
	cat, err := prompts.Load("testdata/prompts")
	if err != nil {
		tb.Fatal(err)
	}
	return cat
}

func TestBuiltin(t *testing.T) {
	f, err := flows.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	cat, err := prompts.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if err := flows.Check(f, cat); err != nil {
		t.Fatalf("the default flow has problems:\n%v", err)
	}
	if f.Name != "unsubscribe" || f.Start != "welcome" || f.File != "flows/unsubscribe.yaml" {
		t.Errorf("name %q start %q file %q", f.Name, f.Start, f.File)
	}
	if len(f.Order) != len(f.Nodes) || f.Order[0] != "welcome" || f.Order[len(f.Order)-1] != "goodbye" {
		t.Errorf("order %v", f.Order)
	}
	for _, id := range f.Order {
		n := f.Nodes[id]
		if n.ID != id || n.Line == 0 {
			t.Errorf("node %q: ID %q line %d", id, n.ID, n.Line)
		}
	}
	// the embedded copy is the file in the tree
	disk, err := os.ReadFile("unsubscribe.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g, err := flows.Parse("unsubscribe.yaml", disk)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Order) != len(f.Order) {
		t.Errorf("embedded flow has %d nodes, file %d", len(f.Order), len(g.Order))
	}
}

// TestResolve checks that a node's own setting beats the flow's defaults:,
// which beat the built-in defaults.
func TestResolve(t *testing.T) {
	f := mustLoad(t, "testdata/good/all_kinds.yaml")
	if err := flows.Check(f, testCatalog(t)); err != nil {
		t.Fatal(err)
	}
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	tests := []struct {
		node                  string
		first, inter          time.Duration
		firstSet              bool
		attempts              int
		invalid, noinput, exh string
		bargeIn               bool
	}{
		// node value: 1500ms, 1 attempt, no invalid prompt
		{"welcome", 1500 * time.Millisecond, 3 * time.Second, true, 1, "", "", "bye", true},
		// flow defaults: 4s, 2 attempts, invalid, on_exhausted bye; built-in 3s inter-digit
		{"ask", 4 * time.Second, 3 * time.Second, true, 2, "invalid", "", "bye", true},
		{"confirm", 4 * time.Second, 3 * time.Second, true, 2, "invalid", "silence", "bye", true},
		// on_exhausted: "" at the node beats the flow's bye
		{"again", 4 * time.Second, 3 * time.Second, true, 2, "invalid", "", "", true},
		{"done", 4 * time.Second, 3 * time.Second, true, 2, "invalid", "", "bye", false},
	}
	for _, tt := range tests {
		t.Run(tt.node, func(t *testing.T) {
			n := f.Nodes[tt.node]
			if n.FirstDigitTimeout.Duration != tt.first || n.FirstDigitTimeout.Set != tt.firstSet {
				t.Errorf("first_digit_timeout %v (set %v), want %v (set %v)", n.FirstDigitTimeout.Duration, n.FirstDigitTimeout.Set, tt.first, tt.firstSet)
			}
			if n.InterDigitTimeout.Duration != tt.inter {
				t.Errorf("inter_digit_timeout %v, want %v", n.InterDigitTimeout.Duration, tt.inter)
			}
			if n.MaxAttempts != tt.attempts {
				t.Errorf("max_attempts %d, want %d", n.MaxAttempts, tt.attempts)
			}
			if str(n.InvalidPrompt) != tt.invalid || str(n.NoInputPrompt) != tt.noinput {
				t.Errorf("invalid_prompt %q noinput_prompt %q, want %q %q", str(n.InvalidPrompt), str(n.NoInputPrompt), tt.invalid, tt.noinput)
			}
			if n.OnExhausted != tt.exh {
				t.Errorf("on_exhausted %q, want %q", n.OnExhausted, tt.exh)
			}
			if n.BargeIn == nil || *n.BargeIn != tt.bargeIn {
				t.Errorf("barge_in %v, want %v", n.BargeIn, tt.bargeIn)
			}
		})
	}
	t.Run("BuiltinDefaults", func(t *testing.T) {
		g, err := flows.Parse("x.yaml", []byte("start: a\nlanguages: [zh-CN]\nnodes:\n  a: {type: menu, prompts: [menu], keys: {\"1\": {next: a}}}\n"))
		if err != nil {
			t.Fatal(err)
		}
		n := g.Nodes["a"]
		if n.FirstDigitTimeout.Duration != 5*time.Second || n.FirstDigitTimeout.Set ||
			n.InterDigitTimeout.Duration != 3*time.Second || n.MaxAttempts != 3 ||
			*n.InvalidPrompt != "" || *n.NoInputPrompt != "" || n.OnExhausted != "" || !*n.BargeIn {
			t.Errorf("built-in defaults not applied: %+v", n.Defaults)
		}
		if g.Name != "x" {
			t.Errorf("name %q, want the file's base name x", g.Name)
		}
		if g.Defaults.MaxAttempts != 3 || g.Defaults.InvalidPrompt == nil {
			t.Errorf("flow defaults not resolved: %+v", g.Defaults)
		}
	})
	t.Run("Confirm", func(t *testing.T) {
		n := f.Nodes["confirm"]
		if n.YesKey != "1" || n.NoKey != "2" {
			t.Errorf("yes %q no %q, want 1 2", n.YesKey, n.NoKey)
		}
	})
	t.Run("FirstKey", func(t *testing.T) {
		if k := f.Nodes["services"].Subscriptions.FirstKey; k != 1 {
			t.Errorf("first_key %d, want 1", k)
		}
	})
	t.Run("Keys", func(t *testing.T) {
		keys := f.Nodes["welcome"].Keys
		for k, line := range map[string]int{"9": 24, "1": 25, "*": 26} {
			o := keys[k]
			if o == nil {
				t.Errorf("no key %q (have %v)", k, keys)
				continue
			}
			if o.Line != line {
				t.Errorf("key %q at line %d, want %d", k, o.Line, line)
			}
		}
		if o := keys["9"]; o == nil || o.Language != "en-US" || o.Next != "ask" {
			t.Errorf("key 9: %+v", o)
		}
		if o := keys["*"]; o == nil || !o.Repeat {
			t.Errorf("key *: %+v", o)
		}
	})
}

func TestParseReportsEveryProblem(t *testing.T) {
	src := `name: many
start: a
languages: [zh-CN]
colour: blue
nodes:
  a:
    type: play
    prompts: [hello]
    nxt: b
    barge_in: maybe
  b:
    type: collect
    first_digit_timeout: soon
    min: eleven
`
	_, err := flows.Parse("many.yaml", []byte(src))
	var errs flows.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v, want Errors", err)
	}
	want := []string{
		`many.yaml:4: unknown field "colour"`,
		`many.yaml:9: node a: unknown field "nxt" (did you mean "next"?)`,
		`many.yaml:10: node a: barge_in: want true or false, got "maybe"`,
		`many.yaml:13: node b: first_digit_timeout: bad duration "soon"`,
		`many.yaml:14: node b: min: want a whole number, got "eleven"`,
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(errs), len(want), err)
	}
	for i, w := range want {
		if got := errs[i].Error(); !strings.HasPrefix(got, w) {
			t.Errorf("problem %d:\n got  %s\n want %s...", i, got, w)
		}
	}
}

func TestDurationUnmarshal(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"5s", 5 * time.Second, true},
		{"1500ms", 1500 * time.Millisecond, true},
		{"1m", time.Minute, true},
		{"-2s", -2 * time.Second, true}, // Check rejects it, with its line
		{"5", 0, false},
		{"soon", 0, false},
		{"[5s]", 0, false},
	} {
		t.Run(tt.in, func(t *testing.T) {
			var v struct{ D flows.Duration }
			err := yaml.Unmarshal([]byte("d: "+tt.in), &v)
			if (err == nil) != tt.ok {
				t.Fatalf("err %v, want ok %v", err, tt.ok)
			}
			if tt.ok && (v.D.Duration != tt.want || !v.D.Set) {
				t.Errorf("got %v set %v, want %v set", v.D.Duration, v.D.Set, tt.want)
			}
		})
	}
}

func TestLoadDir(t *testing.T) {
	t.Run("Good", func(t *testing.T) {
		list, err := flows.LoadDir("testdata/good")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].Name != "all-kinds" || list[0].File != filepath.Join("testdata/good", "all_kinds.yaml") {
			t.Fatalf("got %v", list)
		}
	})
	t.Run("Empty", func(t *testing.T) {
		if _, err := flows.LoadDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no *.yaml flow") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		if _, err := flows.LoadDir(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("EveryFilesProblems", func(t *testing.T) {
		_, err := flows.LoadDir("testdata/broken")
		var errs flows.Errors
		if !errors.As(err, &errs) {
			t.Fatalf("got %v", err)
		}
		files := map[string]bool{}
		for _, p := range errs {
			files[p.File] = true
		}
		for _, f := range []string{"unknown_field.yaml", "syntax_error.yaml", "duplicate_key.yaml"} {
			if !files[filepath.Join("testdata/broken", f)] {
				t.Errorf("no problem reported for %s", f)
			}
		}
	})
}

func TestLoadBundle(t *testing.T) {
	t.Run("Builtin", func(t *testing.T) {
		b, err := flows.LoadBundle("", "")
		if err != nil {
			t.Fatal(err)
		}
		f, err := b.Flow("unsubscribe")
		if err != nil || f.Start != "welcome" {
			t.Fatalf("flow %v, %v", f, err)
		}
		if len(b.Version) != 12 || b.Catalog == nil {
			t.Errorf("version %q catalog %v", b.Version, b.Catalog)
		}
		again, err := flows.LoadBundle("", "")
		if err != nil || again.Version != b.Version {
			t.Errorf("version not stable: %q then %q (%v)", b.Version, again.Version, err)
		}
		if _, err := b.Flow("nope"); !errors.Is(err, flows.ErrUnknownFlow) {
			t.Errorf("Flow(nope): %v", err)
		}
	})
	t.Run("Dirs", func(t *testing.T) {
		b, err := flows.LoadBundle("testdata/good", "testdata/prompts")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Flow("all-kinds"); err != nil {
			t.Fatal(err)
		}
		builtin, _ := flows.LoadBundle("", "")
		if b.Version == builtin.Version {
			t.Error("different flows, same version")
		}
	})
	t.Run("VersionFollowsContent", func(t *testing.T) {
		dir := t.TempDir()
		data, err := os.ReadFile("testdata/good/all_kinds.yaml")
		if err != nil {
			t.Fatal(err)
		}
		write := func(data []byte) string {
			if err := os.WriteFile(filepath.Join(dir, "a.yaml"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			b, err := flows.LoadBundle(dir, "testdata/prompts")
			if err != nil {
				t.Fatal(err)
			}
			return b.Version
		}
		v1 := write(data)
		v2 := write(append(data, "# a comment\n"...))
		if v1 == v2 || v1 != write(data) {
			t.Errorf("versions %s %s", v1, v2)
		}
	})
	t.Run("Problems", func(t *testing.T) {
		dir := t.TempDir()
		data, err := os.ReadFile("testdata/good/all_kinds.yaml")
		if err != nil {
			t.Fatal(err)
		}
		broken, err := os.ReadFile("testdata/broken/unknown_target.yaml")
		if err != nil {
			t.Fatal(err)
		}
		for name, d := range map[string][]byte{"a.yaml": data, "b.yaml": data, "c.yaml": broken} {
			if err := os.WriteFile(filepath.Join(dir, name), d, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err = flows.LoadBundle(dir, "testdata/prompts")
		var errs flows.Errors
		if !errors.As(err, &errs) || len(errs) != 2 {
			t.Fatalf("got %v", err)
		}
		if got := errs[0].Error(); !strings.HasSuffix(got, `b.yaml:4: flow "all-kinds" is also defined in `+filepath.Join(dir, "a.yaml")) {
			t.Errorf("got %s", got)
		}
		if got := errs[1].Error(); !strings.Contains(got, `c.yaml:15: node confirm: unknown target "cancle"`) {
			t.Errorf("got %s", got)
		}
	})
}
