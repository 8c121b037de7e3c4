package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/unsubivr/unsubivr/db"
	"github.com/unsubivr/unsubivr/flows"
)

// DefaultDB is where the database lives unless --db or UNSUB_DB says.
const DefaultDB = "var/unsubivr.db"

// storeFlags are the flags of every command that opens the database.
type storeFlags struct {
	path   string
	noDemo bool
}

func (s *storeFlags) register(fs *flag.FlagSet, e env) {
	fs.StringVar(&s.path, "db", envOr(e, "UNSUB_DB", DefaultDB), "SQLite database file (env UNSUB_DB)")
	fs.BoolVar(&s.noDemo, "no-demo", envBool(e, "UNSUB_NO_DEMO"), "do not put demo data into a new database (env UNSUB_NO_DEMO)")
}

// open opens the database, seeding a new file with demo data unless
// --no-demo.
func (s *storeFlags) open(ctx context.Context) (*db.DB, error) {
	d, err := db.Open(ctx, s.path)
	if err != nil {
		return nil, err
	}
	if d.IsNew() && !s.noDemo {
		if err := d.Seed(ctx); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

// flowFlags are the flags of every command that runs flows.
type flowFlags struct {
	flowDir, promptDir string
}

func (f *flowFlags) register(fs *flag.FlagSet, e env) {
	fs.StringVar(&f.flowDir, "flows", envOr(e, "UNSUB_FLOWS", ""), "directory of flow files (env UNSUB_FLOWS; default: the built-in flows/unsubscribe.yaml)")
	fs.StringVar(&f.promptDir, "prompts", envOr(e, "UNSUB_PROMPTS", ""), "directory of prompt catalogs <lang>.yaml (env UNSUB_PROMPTS; default: built in)")
}

func (f *flowFlags) load() (*flows.Bundle, error) { return flows.LoadBundle(f.flowDir, f.promptDir) }

func envOr(e env, key, def string) string {
	if v := e.getenv(key); v != "" {
		return v
	}
	return def
}

func envBool(e env, key string) bool {
	b, _ := strconv.ParseBool(e.getenv(key))
	return b
}

// errHelp ends a command that printed its help: exit 0.
var errHelp = errors.New("help")

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses args: -h prints the flags to stdout (errHelp), a bad flag
// is a usage error naming it.
func parse(fs *flag.FlagSet, args []string, e env) error {
	err := fs.Parse(args)
	switch {
	case err == flag.ErrHelp:
		fmt.Fprintf(e.stdout, "Usage of unsubivr %s:\n", fs.Name())
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		return errHelp
	case err != nil:
		return usagef("%s: %v", fs.Name(), err)
	}
	return nil
}
