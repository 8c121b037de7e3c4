package main

import (
	"context"
	"fmt"

	"github.com/unsubivr/unsubivr/prompts"
)

// DefaultSounds is where generated prompt audio goes; the sandbox Asterisk
// sees it as sounds/unsubivr.
const DefaultSounds = "var/sounds/unsubivr"

func runPrompts(ctx context.Context, args []string, e env) error {
	if len(args) == 0 || args[0] != "build" {
		return usagef("prompts: want build")
	}
	fs := newFlagSet("prompts build")
	dir := fs.String("prompts", envOr(e, "UNSUB_PROMPTS", ""), "directory of prompt catalogs (default: built in)")
	out := fs.String("out", envOr(e, "UNSUB_SOUNDS", DefaultSounds), "where to write <lang>/<prompt>.{wav,ulaw,alaw} (env UNSUB_SOUNDS)")
	rec := fs.String("recordings", "prompts/recordings", "recorded prompts <lang>/<file>.wav that win over speech synthesis")
	if err := parse(fs, args[1:], e); err != nil {
		return err
	}
	cat, err := prompts.Load(*dir)
	if err != nil {
		return err
	}
	_, err = cat.Build(ctx, prompts.BuildOptions{Out: *out, Recordings: *rec, Log: func(f string, a ...any) {
		fmt.Fprintf(e.stdout, f+"\n", a...)
	}})
	return err
}
