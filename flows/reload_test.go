package flows_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unsubivr/unsubivr/flows"
	"github.com/unsubivr/unsubivr/flows/flowstest"
)

// copyTree copies the default flow and catalogs into temp dirs.
func copyTree(t *testing.T) (flowDir, promptDir string) {
	t.Helper()
	flowDir, promptDir = t.TempDir(), t.TempDir()
	for src, dst := range map[string]string{
		"unsubscribe.yaml":      filepath.Join(flowDir, "unsubscribe.yaml"),
		"../prompts/zh-CN.yaml": filepath.Join(promptDir, "zh-CN.yaml"),
		"../prompts/en-US.yaml": filepath.Join(promptDir, "en-US.yaml"),
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return flowDir, promptDir
}

func rewrite(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s lacks %q", file, old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReloadDuringCall(t *testing.T) {
	flowDir, promptDir := copyTree(t)
	r, err := flows.NewReloader(flowDir, promptDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	v1 := r.Current()

	// A call starts on v1 and waits at the welcome menu for its caller.
	keys, w := io.Pipe()
	store := flowstest.Demo()
	call := &flowstest.Call{CallID: "old", CallerID: "13800138000", In: keys}
	done := make(chan string)
	go func() {
		log, err := (&flows.Engine{Store: store}).Run(context.Background(), r.Current(), call, flows.Start{})
		if err != nil {
			done <- err.Error()
			return
		}
		done <- log.FlowVersion
	}()
	for deadline := time.Now().Add(5 * time.Second); len(call.Texts()) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("call did not start")
		}
	}

	// The operator changes the listing prompt and the flow's timeout.
	rewrite(t, filepath.Join(promptDir, "zh-CN.yaml"), "services-intro: 您当前开通的增值业务如下。", "services-intro: 以下是您已开通的业务。")
	rewrite(t, filepath.Join(flowDir, "unsubscribe.yaml"), "first_digit_timeout: 2s", "first_digit_timeout: 3s")
	changed, err := r.Reload()
	if err != nil || !changed {
		t.Fatalf("reload: changed %v, %v", changed, err)
	}
	v2 := r.Current()
	if v2.Version == v1.Version {
		t.Fatal("version did not change")
	}

	// The call in progress goes on with v1.
	io.WriteString(w, "t\nh\n")
	if got := <-done; got != v1.Version {
		t.Errorf("call in progress logged version %s, want the one it started with, %s", got, v1.Version)
	}
	if texts := strings.Join(call.Texts(), "\n"); !strings.Contains(texts, "您当前开通的增值业务如下") || strings.Contains(texts, "以下是您已开通的业务") {
		t.Errorf("call in progress heard the new prompt:\n%s", texts)
	}

	// A new call uses v2.
	call2 := &flowstest.Call{CallID: "new", CallerID: "13800138000", Keys: []string{"t", "h"}}
	log, err := (&flows.Engine{Store: store}).Run(context.Background(), r.Current(), call2, flows.Start{})
	if err != nil {
		t.Fatal(err)
	}
	if log.FlowVersion != v2.Version || !strings.Contains(strings.Join(call2.Texts(), "\n"), "以下是您已开通的业务") {
		t.Errorf("new call: version %s, prompts %q", log.FlowVersion, call2.Texts())
	}
	if got := call2.Prompts[0].Gather.FirstDigit; got != 3*time.Second {
		t.Errorf("new call welcome timeout %v, want 3s", got)
	}
}

func TestReloadKeepsOldOnError(t *testing.T) {
	flowDir, promptDir := copyTree(t)
	r, err := flows.NewReloader(flowDir, promptDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	v1 := r.Current()
	rewrite(t, filepath.Join(flowDir, "unsubscribe.yaml"), "next: cancel\n", "next: cancle\n")
	changed, err := r.Reload()
	if err == nil || changed {
		t.Fatalf("broken flow: changed %v, err %v", changed, err)
	}
	if !strings.Contains(err.Error(), "unsubscribe.yaml:") || !strings.Contains(err.Error(), "cancle") {
		t.Errorf("error should name file:line and the bad target: %v", err)
	}
	if r.Current() != v1 {
		t.Error("a broken reload replaced the bundle")
	}
}

func TestWatchReloadsOnChange(t *testing.T) {
	flowDir, promptDir := copyTree(t)
	r, err := flows.NewReloader(flowDir, promptDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	v1 := r.Current().Version
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hup := make(chan os.Signal, 1)
	go r.Watch(ctx, 10*time.Millisecond, hup)
	rewrite(t, filepath.Join(promptDir, "en-US.yaml"), "Goodbye.", "Bye now.")
	for deadline := time.Now().Add(5 * time.Second); r.Current().Version == v1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("watch did not pick up the change")
		}
	}
}
