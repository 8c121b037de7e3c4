// Command unsubivr is the unsubscribe hotline: the ARI application, the
// terminal call simulator, and the tools to check flows and manage the
// database. main only handles signals and exit codes; each subcommand is
// its own file.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

const usage = `unsubivr: the value-added service unsubscribe hotline

Usage:
  unsubivr serve      [flags]   run the ARI application (and /healthz, /metrics)
  unsubivr simulate   --caller NUMBER [--keys "1 1"] [flags]
                                place a call through the flow on this terminal
  unsubivr flow check [FILE...] check flow files (default: the built-in flow)
  unsubivr flow graph [FILE]    print a flow as a Mermaid flowchart
  unsubivr db seed    [--db PATH]   add the demo subscribers and services
  unsubivr db migrate [--db PATH]   create or upgrade the database, nothing else
  unsubivr prompts build [--out DIR] generate prompt audio (espeak-ng, sox)
  unsubivr calls list [--caller N] [--since 2h]   recent calls
  unsubivr calls show CALL_ID   a call's timeline and the records it made
  unsubivr outbox list [--status parked]   events for the platforms and the SMS gateway
  unsubivr outbox retry [--all-parked | ID...]   re-queue parked events

Run "unsubivr COMMAND -h" for a command's flags.
`

// env is the process environment, replaceable in tests.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], env{os.Stdin, os.Stdout, os.Stderr, os.Getenv})
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, errHelp) {
		return 0
	}
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintln(stderr, "unsubivr: "+u.msg)
		return 2
	}
	fmt.Fprintln(stderr, "unsubivr: "+err.Error())
	return 1
}

func run(ctx context.Context, args []string, e env) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(e.stdout, usage)
		if len(args) == 0 {
			return usagef("no command given")
		}
		return nil
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return (&serveCmd{}).Run(ctx, rest, e)
	case "simulate":
		return (&simulateCmd{}).Run(ctx, rest, e)
	case "flow":
		return runFlow(ctx, rest, e)
	case "db":
		return runDB(ctx, rest, e)
	case "outbox":
		return runOutbox(ctx, rest, e)
	case "prompts":
		return runPrompts(ctx, rest, e)
	case "calls":
		return runCalls(ctx, rest, e)
	}
	return usagef("unknown command %q (try unsubivr help)", cmd)
}
