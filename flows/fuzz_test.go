package flows_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unsubivr/unsubivr/flows"
	"github.com/unsubivr/unsubivr/prompts"
)

// FuzzParse feeds arbitrary bytes to Parse, then Check and Graph: none may
// panic; problems must be Errors with a file, a plausible line and a
// message; a parsed flow must be fully resolved. Seeds: the default flow,
// testdata/good and testdata/broken, and testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	files = append(files, "unsubscribe.yaml")
	for _, file := range files {
		if strings.Contains(file, "prompts") {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	cat, err := prompts.Builtin()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// YAML breaks lines at \n, \r\n, \r and (1.1) NEL, LS, PS.
		lines := 2
		for _, br := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
			lines += bytes.Count(data, []byte(br))
		}
		valid := func(err error) {
			var errs flows.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("got %T %v, want flows.Errors", err, err)
			}
			for _, p := range errs {
				if p.File != "fuzz.yaml" || p.Line < 1 || p.Line > lines || p.Msg == "" {
					t.Fatalf("bad problem %#v (input has at most %d lines)", p, lines)
				}
			}
		}
		fl, err := flows.Parse("fuzz.yaml", data)
		if err != nil {
			valid(err)
			return
		}
		if len(fl.Order) != len(fl.Nodes) {
			t.Fatalf("order %v, %d nodes", fl.Order, len(fl.Nodes))
		}
		for _, id := range fl.Order {
			n := fl.Nodes[id]
			if n == nil || n.ID != id || n.InvalidPrompt == nil || n.NoInputPrompt == nil || n.BargeIn == nil {
				t.Fatalf("node %q not resolved: %+v", id, n)
			}
			if n.Subscriptions != nil && n.Subscriptions.FirstKey == 0 && !strings.Contains(string(data), "first_key") {
				t.Fatalf("node %q: first_key not resolved", id)
			}
		}
		if err := flows.Check(fl, cat); err != nil {
			valid(err)
		}
		if err := flows.Check(fl, nil); err != nil {
			valid(err)
		}
		if err := flows.Graph(io.Discard, fl); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzMatch checks the digit matchers against their contracts for any
// keys, digits and lengths: MenuMatcher is Complete exactly for a key;
// LengthMatcher is Complete only for all-digit bodies within min..max;
// once Invalid, more digits never help. Lengths and terminators are those
// Check allows (1 ≤ min ≤ max ≤ 20; no digit terminator).
func FuzzMatch(f *testing.F) {
	f.Add("1,2,8,0,*", "8", "", uint8(1), uint8(11), uint8(1))
	f.Add("1,11", "1", "1", uint8(11), uint8(11), uint8(1))
	f.Add("9", "", "9", uint8(6), uint8(6), uint8(0))
	f.Add("1,2", "13800138000#", "#", uint8(11), uint8(11), uint8(1))
	f.Fuzz(func(t *testing.T, keySpec, digits, more string, lo, hi, term uint8) {
		var keys []string
		for _, k := range strings.Split(keySpec, ",") {
			if k != "" {
				keys = append(keys, k)
			}
		}
		isKey := false
		for _, k := range keys {
			isKey = isKey || k == digits
		}
		menu := flows.MenuMatcher(keys)
		r := menu(digits)
		if (r == flows.Complete) != (isKey && digits != "") {
			t.Fatalf("MenuMatcher(%q)(%q) = %v, key: %v", keys, digits, r, isKey)
		}
		stays := func(name string, m func(string) flows.MatchResult) {
			if m(digits) != flows.Invalid {
				return
			}
			for _, k := range flows.DTMFKeys {
				if got := m(digits + string(k)); got != flows.Invalid {
					t.Fatalf("%s: %q Invalid but %q %v", name, digits, digits+string(k), got)
				}
			}
			if got := m(digits + more); got != flows.Invalid {
				t.Fatalf("%s: %q Invalid but %q %v", name, digits, digits+more, got)
			}
		}
		stays("MenuMatcher", menu)

		min := int(lo)%flows.MaxDigits + 1
		max := min + int(hi)%(flows.MaxDigits-min+1)
		terminators := []string{"", "#", "*", "A", "B", "C", "D"}
		tm := terminators[int(term)%len(terminators)]
		length := flows.LengthMatcher(min, max, tm)
		if length(digits) == flows.Complete {
			body := flows.StripTerminator(digits, tm)
			for _, c := range body {
				if c < '0' || c > '9' {
					t.Fatalf("LengthMatcher(%d, %d, %q)(%q) Complete with a non-digit", min, max, tm, digits)
				}
			}
			if len(body) < min || len(body) > max {
				t.Fatalf("LengthMatcher(%d, %d, %q)(%q) Complete with %d digits", min, max, tm, digits, len(body))
			}
		}
		stays("LengthMatcher", length)
	})
}
