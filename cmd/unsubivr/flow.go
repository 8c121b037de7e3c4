package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/unsubivr/unsubivr/flows"
	"github.com/unsubivr/unsubivr/prompts"
)

func runFlow(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		return usagef("flow: want check or graph")
	}
	switch args[0] {
	case "check":
		return flowCheck(args[1:], e)
	case "graph":
		return flowGraph(args[1:], e)
	}
	return usagef("flow: unknown subcommand %q (want check or graph)", args[0])
}

// flowCheck loads and checks flow files against the prompt catalog and
// prints every problem, one per line.
func flowCheck(args []string, e env) error {
	fs := newFlagSet("flow check")
	promptDir := fs.String("prompts", envOr(e, "UNSUB_PROMPTS", ""), "directory of prompt catalogs (default: built in)")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	cat, err := prompts.Load(*promptDir)
	if err != nil {
		return err
	}
	bad := 0
	if err := cat.Check(); err != nil {
		fmt.Fprintln(e.stdout, err)
		bad++
	} else {
		fmt.Fprintf(e.stdout, "prompt catalogs %v: ok\n", cat.Languages())
	}
	files := fs.Args()
	var list []*flows.Flow
	if len(files) == 0 {
		f, err := flows.Builtin()
		if err != nil {
			return err
		}
		list = append(list, f)
	}
	for _, file := range files {
		f, err := flows.LoadFile(file)
		if err != nil {
			fmt.Fprintln(e.stdout, err)
			bad++
			continue
		}
		list = append(list, f)
	}
	for _, f := range list {
		if err := flows.Check(f, cat); err != nil {
			fmt.Fprintln(e.stdout, err)
			bad++
			continue
		}
		fmt.Fprintf(e.stdout, "%s: ok (%d nodes, languages %v)\n", f.File, len(f.Nodes), f.Languages)
	}
	if bad > 0 {
		return fmt.Errorf("flow check: %d file(s) with problems", bad)
	}
	return nil
}

// flowGraph prints a flow as a Mermaid flowchart.
func flowGraph(args []string, e env) error {
	fs := newFlagSet("flow graph")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	var f *flows.Flow
	var err error
	switch fs.NArg() {
	case 0:
		f, err = flows.Builtin()
	case 1:
		f, err = flows.LoadFile(fs.Arg(0))
	default:
		return usagef("flow graph: one file at most")
	}
	if err != nil {
		return err
	}
	if f == nil {
		return errors.New("flow graph: no flow")
	}
	return flows.Graph(e.stdout, f)
}
