package main

import (
	"context"
	"fmt"
)

func runDB(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		return usagef("db: want seed or migrate")
	}
	sub := args[0]
	fs := newFlagSet("db " + sub)
	var s storeFlags
	s.register(fs, e)
	if err := parse(fs, args[1:], e); err != nil {
		return err
	}
	switch sub {
	case "seed":
		s.noDemo = true // Seed below, whatever the file
		d, err := s.open(ctx)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := d.Seed(ctx); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: demo data in place\n", s.path)
	case "migrate":
		s.noDemo = true
		d, err := s.open(ctx)
		if err != nil {
			return err
		}
		defer d.Close()
		fmt.Fprintf(e.stdout, "%s: schema up to date\n", s.path)
	default:
		return usagef("db: unknown subcommand %q (want seed or migrate)", sub)
	}
	return nil
}
