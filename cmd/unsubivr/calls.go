package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/db"
)

// runCalls shows call logs: `calls list` and `calls show CALL_ID`.
func runCalls(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		return usagef("calls: want list or show")
	}
	sub := args[0]
	fs := newFlagSet("calls " + sub)
	var s storeFlags
	s.register(fs, e)
	unmask := fs.Bool("unmask", false, "show full phone numbers (they are masked to the last 4 digits by default)")
	var caller, since string
	var limit int
	if sub == "list" {
		fs.StringVar(&caller, "caller", "", "only calls from or about this number")
		fs.StringVar(&since, "since", "", `only calls since: a duration back ("2h") or a time (RFC 3339 or 2006-01-02)`)
		fs.IntVar(&limit, "limit", 50, "at most this many, newest first")
	}
	if err := parse(fs, args[1:], e); err != nil {
		return err
	}
	mask := unsubivr.MaskNumber
	if *unmask {
		mask = func(s string) string { return s }
	}
	switch sub {
	case "list":
		if fs.NArg() > 0 {
			return usagef("calls list: unexpected argument %q", fs.Arg(0))
		}
		f := db.CallLogFilter{Number: caller, Limit: limit}
		if since != "" {
			t, err := parseSince(since, time.Now())
			if err != nil {
				return usagef("calls list: --since: %v", err)
			}
			f.Since = t
		}
		s.noDemo = true
		d, err := s.open(ctx)
		if err != nil {
			return err
		}
		defer d.Close()
		logs, err := d.CallLogs(ctx, f)
		if err != nil {
			return err
		}
		printCallList(e.stdout, logs, mask)
		return nil
	case "show":
		if fs.NArg() != 1 {
			return usagef("calls show: want one CALL_ID")
		}
		s.noDemo = true
		d, err := s.open(ctx)
		if err != nil {
			return err
		}
		defer d.Close()
		l, err := d.CallLog(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		var recs []unsubivr.Record
		if l.Number != "" {
			all, err := d.Records(ctx, l.Number)
			if err != nil {
				return err
			}
			for _, r := range all {
				if r.CallID == l.CallID {
					recs = append(recs, r)
				}
			}
		}
		printCall(e.stdout, l, recs, mask)
		return nil
	}
	return usagef("calls: unknown subcommand %q (want list or show)", sub)
}

// parseSince reads "2h" (that long before now), an RFC 3339 time or a date.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (2h) nor a time (2006-01-02 or RFC 3339)", s)
}

func printCallList(w io.Writer, logs []unsubivr.CallLog, mask func(string) string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED\tCALL ID\tCALLER\tNUMBER\tAGENT\tLANG\tSECONDS\tOUTCOME\tFLOW")
	for _, l := range logs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%s\t%s\n", l.StartedAt.Local().Format("2006-01-02 15:04:05"), l.CallID,
			orDash(maskIf(l.Caller, mask)), orDash(maskIf(l.Number, mask)), orDash(l.AgentID), l.Language,
			l.EndedAt.Sub(l.StartedAt).Seconds(), l.Outcome, l.FlowVersion)
	}
	tw.Flush()
	if len(logs) == 0 {
		fmt.Fprintln(w, "(no calls)")
	}
}

func printCall(w io.Writer, l *unsubivr.CallLog, recs []unsubivr.Record, mask func(string) string) {
	fmt.Fprintf(w, "call %s  caller %s  number %s  agent %s  language %s  flow %s\n", l.CallID,
		orDash(maskIf(l.Caller, mask)), orDash(maskIf(l.Number, mask)), orDash(l.AgentID), l.Language, l.FlowVersion)
	fmt.Fprintf(w, "started %s  ended %s  outcome %s\n\n", l.StartedAt.Local().Format(time.RFC3339), l.EndedAt.Local().Format(time.RFC3339), l.Outcome)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, ev := range l.Trace {
		fmt.Fprintf(tw, "+%.3fs\t%s\t%s\t%s\n", ev.At.Sub(l.StartedAt).Seconds(), ev.Kind, ev.Node, ev.Detail)
	}
	tw.Flush()
	for _, r := range recs {
		fmt.Fprintf(w, "\nrecord %s: %s via %s, consent: prompts %s, key %q\n", r.Code, strings.Join(r.Services, ","), r.Channel,
			strings.Join(r.Consent.Prompts, " "), r.Consent.Key)
	}
}

func maskIf(s string, mask func(string) string) string {
	if s == "" {
		return ""
	}
	return mask(s)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
