package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/db"
)

// outboxUsage is the help of `unsubivr outbox`.
const outboxUsage = `Usage:
  unsubivr outbox list  [--status parked|pending|sent|all] [--limit N] [--db PATH]
  unsubivr outbox retry (--all-parked | ID...) [--db PATH]

list shows outbox events (parked ones by default) and how many are pending;
retry re-queues parked events: a running "unsubivr serve" delivers them
within a second. See docs/outbox.md.
`

// runOutbox is `unsubivr outbox list|retry`: what an operator needs to see
// and re-queue parked outbox events. It works on the database file while
// serve runs.
func runOutbox(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, outboxUsage)
		return usagef("outbox: want list or retry")
	}
	sub := args[0]
	if sub == "-h" || sub == "--help" || sub == "help" {
		fmt.Fprint(e.stdout, outboxUsage)
		return errHelp
	}
	fs := newFlagSet("outbox " + sub)
	var path string
	fs.StringVar(&path, "db", envOr(e, "UNSUB_DB", DefaultDB), "SQLite database file (env UNSUB_DB)")
	switch sub {
	case "list":
		status := fs.String("status", db.OutboxParked, "parked, pending, sent or all")
		limit := fs.Int("limit", 50, "show at most this many events (0: all): the oldest pending or parked, the newest sent")
		if err := parse(fs, args[1:], e); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return usagef("outbox list: unexpected argument %q", fs.Arg(0))
		}
		switch *status {
		case db.OutboxParked, db.OutboxPending, db.OutboxSent:
		case "all":
			*status = ""
		default:
			return usagef("outbox list: --status %q: want parked, pending, sent or all", *status)
		}
		if *limit < 0 {
			return usagef("outbox list: --limit %d: want 0 or more", *limit)
		}
		d, err := openExisting(ctx, path)
		if err != nil {
			return err
		}
		defer d.Close()
		return outboxList(ctx, d, *status, *limit, e.stdout)
	case "retry":
		all := fs.Bool("all-parked", false, "re-queue every parked event")
		if err := parse(fs, args[1:], e); err != nil {
			return err
		}
		ids, err := parseIDs(fs.Args())
		if err != nil {
			return err
		}
		switch {
		case *all && len(ids) > 0:
			return usagef("outbox retry: give --all-parked or event ids, not both")
		case !*all && len(ids) == 0:
			return usagef("outbox retry: give the ids of parked events (see unsubivr outbox list), or --all-parked")
		}
		d, err := openExisting(ctx, path)
		if err != nil {
			return err
		}
		defer d.Close()
		return outboxRetry(ctx, d, *all, ids, e.stdout)
	}
	return usagef("outbox: unknown subcommand %q (want list or retry)", sub)
}

// parseIDs parses event ids, dropping repeats. A word that is not a
// positive number (a flag after the ids, too) is a usage error.
func parseIDs(args []string) ([]int64, error) {
	var ids []int64
	seen := map[int64]bool{}
	for _, a := range args {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id <= 0 {
			if strings.HasPrefix(a, "-") {
				return nil, usagef("outbox retry: %q: flags go before the ids", a)
			}
			return nil, usagef("outbox retry: %q is not an event id (a positive number)", a)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// openExisting opens the database at path, refusing to create one: a
// mistyped path should not leave an empty database behind.
func openExisting(ctx context.Context, path string) (*db.DB, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no database at %s (set --db or UNSUB_DB)", path)
	}
	return db.Open(ctx, path)
}

func outboxList(ctx context.Context, d *db.DB, status string, limit int, w io.Writer) error {
	stats, err := d.OutboxStats(ctx)
	if err != nil {
		return err
	}
	parked, err := d.OutboxParked(ctx)
	if err != nil {
		return err
	}
	events, err := d.OutboxList(ctx, status, limit)
	if err != nil {
		return err
	}
	now := d.Now()
	fmt.Fprintf(w, "pending %d", stats.Pending)
	if stats.Pending > 0 {
		fmt.Fprintf(w, " (oldest %s ago)", now.Sub(stats.OldestPending).Round(time.Second))
	}
	fmt.Fprintf(w, ", parked %d\n", parked)
	if len(events) == 0 {
		what := status + " events"
		if status == "" {
			what = "events"
		}
		fmt.Fprintf(w, "no %s\n", what)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNUMBER\tKIND\tSTATUS\tATTEMPTS\tCREATED\tNEXT ATTEMPT\tLAST ERROR")
	for _, ev := range events {
		next := "-"
		if ev.Status == db.OutboxPending {
			next = cliTime(ev.NextAttemptAt)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", ev.ID, unsubivr.MaskNumber(ev.Number), ev.Kind, ev.Status,
			ev.Attempts, cliTime(ev.CreatedAt), next, shorten(ev.LastError, 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if limit > 0 && len(events) == limit {
		fmt.Fprintf(w, "(first %d shown: --limit 0 for all)\n", limit)
	}
	return nil
}

func outboxRetry(ctx context.Context, d *db.DB, all bool, ids []int64, w io.Writer) error {
	if all {
		n, err := d.RetryParked(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "re-queued %d parked %s\n", n, plural(n, "event", "events"))
		return nil
	}
	done, err := d.Retry(ctx, ids...)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "re-queued %d %s%s\n", len(done), plural(len(done), "event", "events"), idList(": ", done))
	if len(done) < len(ids) {
		requeued := map[int64]bool{}
		for _, id := range done {
			requeued[id] = true
		}
		var left []int64
		for _, id := range ids {
			if !requeued[id] {
				left = append(left, id)
			}
		}
		return fmt.Errorf("outbox retry: not parked (unknown, pending or sent), left alone:%s", idList(" ", left))
	}
	return nil
}

func idList(prefix string, ids []int64) string {
	if len(ids) == 0 {
		return ""
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return prefix + strings.Join(s, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// cliTime shows a stored time in UTC to the second.
func cliTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// shorten cuts s to n runes, marking the cut.
func shorten(s string, n int) string {
	if s == "" {
		return "-"
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
