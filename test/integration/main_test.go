// Package integration places real SIP calls (SIPp) into the sandbox
// Asterisk running `unsubivr serve` on a fresh database, and checks the
// database after each call. Run it with `make integration` (part of
// `make test`). It needs root (for the chrooted Asterisk) or a host
// Asterisk, and sipp; without them, and outside CI, it skips in one line.
// With CI=true a missing prerequisite fails the run.
package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/unsubivr/unsubivr/db"
	"github.com/unsubivr/unsubivr/prompts"
)

// harness is what TestMain set up.
var h struct {
	root      string // repository root
	dbPath    string
	store     *db.DB
	serveLog  string
	astLog    string // Asterisk's messages.log
	httpAddr  string
	sounds    string
	catalog   *prompts.Catalog
	astOffset int64 // size of the Asterisk log when the tests began
	platform  *platform
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func skipOrFail(format string, args ...any) int {
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		fmt.Fprintln(os.Stderr, "integration: FAIL: "+msg)
		return 1
	}
	fmt.Println("integration: skipped: " + msg)
	return 0
}

func run(m *testing.M) int {
	if os.Getenv("UNSUB_INTEGRATION") != "1" {
		fmt.Println("integration: skipped: set UNSUB_INTEGRATION=1 or run `make integration`")
		return 0
	}
	wd, _ := os.Getwd()
	h.root = filepath.Clean(filepath.Join(wd, "..", ".."))
	if _, err := exec.LookPath("sipp"); err != nil {
		return skipOrFail("sipp not installed (apt-get install sip-tester, or `make deps`)")
	}
	_, hostAst := exec.LookPath("asterisk")
	if os.Geteuid() != 0 && hostAst != nil {
		return skipOrFail("needs root for the chrooted sandbox Asterisk, or an installed asterisk")
	}
	ctx := context.Background()
	sandbox := filepath.Join(h.root, "scripts", "asterisk-sandbox")
	if out, err := command(ctx, sandbox, "start"); err != nil {
		fmt.Fprintf(os.Stderr, "integration: asterisk-sandbox start: %v\n%s", err, out)
		return 1
	}
	envOut, err := command(ctx, sandbox, "env")
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: asterisk-sandbox env: %v\n%s", err, envOut)
		return 1
	}
	astEnv := parseEnv(envOut)
	logOut, _ := command(ctx, sandbox, "path", "log")
	h.astLog = strings.TrimSpace(logOut)
	if fi, err := os.Stat(h.astLog); err == nil {
		h.astOffset = fi.Size()
	}
	h.sounds = filepath.Join(h.root, "var", "sounds", "unsubivr")
	if h.catalog, err = prompts.Builtin(); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}

	tmp, err := os.MkdirTemp("", "unsubivr-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "unsubivr")
	if out, err := command(ctx, "go", "build", "-o", bin, filepath.Join(h.root, "cmd", "unsubivr")); err != nil {
		fmt.Fprintf(os.Stderr, "integration: build: %v\n%s", err, out)
		return 1
	}
	if out, err := command(ctx, bin, "prompts", "build", "--out", h.sounds, "--recordings", filepath.Join(h.root, "prompts", "recordings")); err != nil {
		fmt.Fprintf(os.Stderr, "integration: prompts: %v\n%s", err, out)
		return 1
	}

	h.dbPath = filepath.Join(tmp, "unsub.db")
	h.serveLog = filepath.Join(tmp, "serve.log")
	h.httpAddr = freeAddr()
	logf, err := os.Create(h.serveLog)
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer logf.Close()
	h.platform = startPlatform()
	defer h.platform.srv.Close()
	serve := exec.Command(bin, "serve", "--db", h.dbPath, "--http", h.httpAddr, "--grace", "5s", "--log-level", "debug",
		"--provisioning-url", h.platform.srv.URL+"/provisioning", "--sms-url", h.platform.srv.URL+"/sms")
	serve.Env = append(os.Environ(), astEnv...)
	serve.Env = append(serve.Env, "UNSUB_API_TOKEN="+apiToken, "UNSUB_OUTBOX_SECRET="+string(platformSecret))
	serve.Stdout, serve.Stderr = logf, logf
	if err := serve.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "integration: serve:", err)
		return 1
	}
	served := make(chan error, 1)
	go func() { served <- serve.Wait() }()
	if err := waitHealthy(ctx, served, 30*time.Second); err != nil {
		fmt.Fprintf(os.Stderr, "integration: serve did not become healthy: %v\n", err)
		dumpLogs()
		serve.Process.Kill()
		return 1
	}
	if h.store, err = db.Open(ctx, h.dbPath); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer h.store.Close()

	code := m.Run()
	report()

	serve.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-served:
		if err != nil {
			fmt.Fprintf(os.Stderr, "integration: serve exited after SIGTERM: %v\n", err)
			code = 1
		}
	case <-time.After(15 * time.Second):
		fmt.Fprintln(os.Stderr, "integration: serve did not stop within 15 s of SIGTERM")
		serve.Process.Kill()
		code = 1
	}
	if code != 0 {
		dumpLogs()
	}
	return code
}

func command(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = h.root
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

func parseEnv(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "UNSUB_") {
			out = append(out, k+"="+strings.Trim(v, `'"`))
		}
	}
	return out
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:18090"
	}
	defer l.Close()
	return l.Addr().String()
}

func waitHealthy(ctx context.Context, exited <-chan error, max time.Duration) error {
	deadline := time.Now().Add(max)
	var last string
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("serve exited: %v", err)
		default:
		}
		resp, err := http.Get("http://" + h.httpAddr + "/healthz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			last = string(b)
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("after %v: %s", max, last)
}

// report prints what the service measured over all the calls: calls by
// outcome and the digit-to-prompt latency.
func report() {
	resp, err := http.Get("http://" + h.httpAddr + "/metrics")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: metrics:", err)
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var sum, count float64
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "unsubivr_calls_total"), strings.HasPrefix(line, "unsubivr_unsubscribes_total"),
			strings.HasPrefix(line, "unsubivr_ari_events_total"):
			fmt.Println("integration: " + line)
		case strings.HasPrefix(line, "unsubivr_digit_to_prompt_seconds_sum"):
			fmt.Sscanf(strings.Fields(line)[1], "%g", &sum)
		case strings.HasPrefix(line, "unsubivr_digit_to_prompt_seconds_count"):
			fmt.Sscanf(strings.Fields(line)[1], "%g", &count)
		case strings.HasPrefix(line, "unsubivr_digit_to_prompt_seconds_bucket"):
			fmt.Println("integration: " + line)
		}
	}
	if count > 0 {
		fmt.Printf("integration: digit-to-prompt latency: %d keys, mean %.1f ms\n", int(count), sum/count*1000)
	}
}

// dumpLogs prints the tails of the service's and Asterisk's logs.
func dumpLogs() {
	for _, f := range []struct{ name, path string }{{"unsubivr serve", h.serveLog}, {"asterisk messages.log", h.astLog}} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			continue
		}
		lines := strings.Split(string(b), "\n")
		if len(lines) > 80 {
			lines = lines[len(lines)-80:]
		}
		fmt.Fprintf(os.Stderr, "----- last lines of %s (%s)\n%s\n", f.name, f.path, strings.Join(lines, "\n"))
	}
}
