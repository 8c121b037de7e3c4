package ivr

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/flows"
)

// EntryAgent is the first Stasis argument of an agent transfer, and the
// flow entry it starts at.
const EntryAgent = "agent"

var (
	agentIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$`)
	serviceRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`)
)

// ParseArgs turns the arguments of Stasis(app[,args...]) into where the
// call enters the flow (docs/stasis.md):
//
//	Stasis(unsub-ivr)                                            hotline
//	Stasis(unsub-ivr,agent,<number>,<agent id>[,<service>[,<lang>]])  agent transfer
//
// Arguments it cannot use never keep a caller out: a malformed agent
// transfer (bad number, empty or malformed agent id, unknown first
// argument) becomes a plain hotline call, and a bad service code or
// language is dropped while the transfer stands. Each such problem is
// returned in warnings, for the log.
func ParseArgs(args []string) (st flows.Start, warnings []string) {
	for len(args) > 0 && strings.TrimSpace(args[len(args)-1]) == "" {
		args = args[:len(args)-1] // Stasis(app,) passes one empty argument
	}
	if len(args) == 0 {
		return flows.Start{}, nil
	}
	kind := strings.ToLower(strings.TrimSpace(args[0]))
	switch kind {
	case "hotline":
		if len(args) > 1 {
			warnings = append(warnings, fmt.Sprintf("hotline takes no arguments; ignoring %d", len(args)-1))
		}
		return flows.Start{}, warnings
	case EntryAgent:
	default:
		return flows.Start{}, []string{fmt.Sprintf("unknown entry %q: treating as a hotline call", args[0])}
	}
	arg := func(i int) string {
		if i < len(args) {
			return strings.TrimSpace(args[i])
		}
		return ""
	}
	number := normalizeNumber(arg(1))
	agent := arg(2)
	switch {
	case !unsubivr.ValidNumber(number):
		return flows.Start{}, []string{fmt.Sprintf("agent transfer: customer number %q is not an 11-digit mobile number: treating as a hotline call", unsubivr.MaskNumber(arg(1)))}
	case agent == "":
		return flows.Start{}, []string{"agent transfer: empty agent id: treating as a hotline call"}
	case !agentIDRE.MatchString(agent):
		return flows.Start{}, []string{fmt.Sprintf("agent transfer: agent id %q is malformed (want 1-32 of A-Z a-z 0-9 _ . -): treating as a hotline call", agent)}
	}
	st = flows.Start{Entry: EntryAgent, Number: number, AgentID: agent}
	if svc := arg(3); svc != "" {
		if serviceRE.MatchString(svc) {
			st.Service = strings.ToUpper(svc)
		} else {
			warnings = append(warnings, fmt.Sprintf("agent transfer: service code %q is malformed: ignoring it", svc))
		}
	}
	if lang := arg(4); lang != "" {
		if l, ok := parseLanguage(lang); ok {
			st.Language = l
		} else {
			warnings = append(warnings, fmt.Sprintf("agent transfer: language %q is not one of %v: ignoring it", lang, unsubivr.Languages))
		}
	}
	if len(args) > 5 {
		warnings = append(warnings, fmt.Sprintf("agent transfer: ignoring %d extra arguments", len(args)-5))
	}
	return st, warnings
}

// normalizeNumber turns +8613800138000 or 008613800138000 into
// 13800138000 and drops spaces and dashes.
func normalizeNumber(s string) string {
	s = strings.NewReplacer(" ", "", "-", "").Replace(s)
	for _, p := range []string{"+86", "0086"} {
		if strings.HasPrefix(s, p) && len(s) == len(p)+11 {
			return s[len(p):]
		}
	}
	return s
}

// parseLanguage accepts a Language in any case, and zh / en for short.
func parseLanguage(s string) (unsubivr.Language, bool) {
	for _, l := range unsubivr.Languages {
		if strings.EqualFold(s, string(l)) || strings.EqualFold(s, strings.SplitN(string(l), "-", 2)[0]) {
			return l, true
		}
	}
	return "", false
}
