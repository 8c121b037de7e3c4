package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCmd runs the command line args as main would, and returns its exit
// code, stdout and stderr.
func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := env{strings.NewReader(stdin), &out, &errb, func(string) string { return "" }}
	code := exitCode(run(context.Background(), args, e), &errb)
	return code, out.String(), errb.String()
}

func TestSimulate(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "var", "x.db")
	code, out, errs := runCmd(t, "", "simulate", "--db", dbPath, "--caller", "13800138000", "--keys", "t 2 1 h")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"您将退订蓝钻", "营销数据将被永久删除", "退订成功。您的确认码是", "outcome: cancelled", "cancelled: code="} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// the same database: BLUE_DIAMOND is gone from the menu, CRBT is key 1
	_, out, _ = runCmd(t, "", "simulate", "--db", dbPath, "--caller", "13800138000", "--keys", "t h")
	if strings.Contains(out, "蓝钻") || !strings.Contains(out, "退订彩铃，月费五元，请按一") {
		t.Errorf("second call should list only CRBT:\n%s", out)
	}

	t.Run("Interactive", func(t *testing.T) {
		code, out, errs := runCmd(t, "t\n1\n1\n", "simulate", "--db", filepath.Join(t.TempDir(), "y.db"), "--caller", "13900139000")
		if code != 0 || !strings.Contains(out, "outcome: cancelled") {
			t.Errorf("exit %d, %s\n%s", code, errs, out)
		}
	})
	t.Run("English", func(t *testing.T) {
		_, out, _ := runCmd(t, "", "simulate", "--db", filepath.Join(t.TempDir(), "y.db"), "--caller", "13900139000", "--lang", "en-US", "--keys", "t h")
		if !strings.Contains(out, "To cancel video ring-back tone, six yuan per month, press one.") {
			t.Errorf("output:\n%s", out)
		}
	})
	t.Run("AgentEntry", func(t *testing.T) {
		_, out, _ := runCmd(t, "", "simulate", "--db", filepath.Join(t.TempDir(), "y.db"), "--entry", "agent",
			"--number", "13800138000", "--agent", "A001", "--service", "CRBT", "--keys", "1 h")
		if !strings.Contains(out, "您将退订彩铃") || !strings.Contains(out, "outcome: cancelled") {
			t.Errorf("output:\n%s", out)
		}
	})
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.yaml")
	os.WriteFile(broken, []byte("name: x\nstart: a\nnodes:\n  a:\n    type: goto\n    next: nowhere\n"), 0o644)
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"NoCommand", nil, 2, "no command given"},
		{"UnknownCommand", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"BadCaller", []string{"simulate", "--db", filepath.Join(dir, "a.db"), "--caller", "12ab"}, 2, "is not a phone number"},
		{"BadKeys", []string{"simulate", "--db", filepath.Join(dir, "a.db"), "--caller", "13800138000", "--keys", "1 x"}, 2, `"x" is not a key`},
		{"BadLang", []string{"simulate", "--caller", "138", "--lang", "fr"}, 2, "--lang"},
		{"BadFlag", []string{"simulate", "--nope"}, 2, "flag provided but not defined"},
		{"UnreadableDB", []string{"simulate", "--db", "/proc/nope/x.db", "--caller", "13800138000", "--keys", "h"}, 1, "db: open /proc/nope/x.db"},
		{"DBIsDirectory", []string{"db", "migrate", "--db", dir}, 1, "is a directory"},
		{"BrokenFlow", []string{"flow", "check", broken}, 1, "flow check: 1 file(s) with problems"},
		{"ServeNoCredentials", []string{"serve"}, 2, "ARI credentials missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCmd(t, "", tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.msg) {
				t.Errorf("exit %d, stderr %q (stdout %q); want exit %d and %q", code, errs, out, tt.code, tt.msg)
			}
			if n := strings.Count(strings.TrimSpace(errs), "\n"); n > 0 {
				t.Errorf("want a one-line error, got %d lines: %q", n+1, errs)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "a.db")); err == nil {
		t.Error("bad input left a database file behind")
	}
}

func TestFlowCheckPrintsProblems(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.yaml")
	os.WriteFile(broken, []byte("name: x\nstart: a\nnodes:\n  a:\n    type: goto\n    next: nowhere\n"), 0o644)
	code, out, _ := runCmd(t, "", "flow", "check", broken)
	if code != 1 || !strings.Contains(out, broken+":6: node a:") {
		t.Errorf("exit %d, output %q: want the problem as file:line: node", code, out)
	}
	code, out, _ = runCmd(t, "", "flow", "check")
	if code != 0 || !strings.Contains(out, "ok") {
		t.Errorf("built-in flow: exit %d, %q", code, out)
	}
	code, out, _ = runCmd(t, "", "flow", "graph")
	if code != 0 || !strings.HasPrefix(out, "flowchart TD") {
		t.Errorf("graph: exit %d, %q", code, out[:min(len(out), 80)])
	}
}

func TestCalls(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "x.db")
	if code, _, errs := runCmd(t, "", "simulate", "--db", dbPath, "--caller", "13800138000", "--keys", "t 1 1 h"); code != 0 {
		t.Fatal(errs)
	}
	code, out, errs := runCmd(t, "", "calls", "list", "--db", dbPath, "--since", "1h")
	if code != 0 || !strings.Contains(out, "*******8000") || !strings.Contains(out, "cancelled") || strings.Contains(out, "13800138000") {
		t.Fatalf("list: exit %d %s\n%s", code, errs, out)
	}
	id := strings.Fields(strings.Split(out, "\n")[1])[2]
	code, out, errs = runCmd(t, "", "calls", "show", "--db", dbPath, "--unmask", id)
	for _, want := range []string{"call " + id, "caller 13800138000", "outcome cancelled", "key", "confirm", "cancelled", "record ", "consent: prompts confirm-cancel, key \"1\""} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("show lacks %q: exit %d %s\n%s", want, code, errs, out)
		}
	}
	if code, _, errs := runCmd(t, "", "calls", "show", "--db", dbPath, "nope"); code != 1 || !strings.Contains(errs, "not_found") {
		t.Errorf("unknown call: exit %d, %q", code, errs)
	}
	if code, _, errs := runCmd(t, "", "calls", "list", "--db", dbPath, "--since", "last tuesday"); code != 2 || !strings.Contains(errs, "--since") {
		t.Errorf("bad --since: exit %d, %q", code, errs)
	}
}
