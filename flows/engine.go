package flows

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/prompts"
)

// Call outcomes, as stored in call logs and counted in metrics.
const (
	OutcomeCancelled   = "cancelled"         // at least one service cancelled
	OutcomeFailed      = "failed"            // a cancel failed (system busy)
	OutcomeTransferred = "transferred"       // handed to an agent
	OutcomeLocked      = "locked"            // password locked
	OutcomeAlready     = "already_cancelled" // asked to cancel what was cancelled before
	OutcomeNoServices  = "no_services"       // nothing active to cancel
	OutcomeCompleted   = "completed"         // ended by the flow
	OutcomeAbandoned   = "abandoned"         // caller hung up first
)

// outcomeRank orders outcomes: a call keeps the highest it reached.
var outcomeRank = map[string]int{
	OutcomeCancelled: 7, OutcomeFailed: 6, OutcomeTransferred: 5, OutcomeLocked: 4,
	OutcomeAlready: 3, OutcomeNoServices: 2, OutcomeCompleted: 1, OutcomeAbandoned: 0,
}

// Channel variables a Transfer carries to the agent.
const (
	VarNumber  = "UNSUB_NUMBER"
	VarService = "UNSUB_SERVICE"
	VarLang    = "UNSUB_LANG"
	VarCallID  = "UNSUB_CALL_ID"
)

// MaxSteps bounds the nodes one call may visit, so that a flow loop the
// checker could not see ends the call instead of running forever.
const MaxSteps = 500

// writeTimeout bounds a store write that outlives the caller's hang-up.
const writeTimeout = 10 * time.Second

// Start says how a call enters the flow.
type Start struct {
	Flow     string            // flow name; "" for the bundle's only or "unsubscribe" flow
	Entry    string            // "" for the flow's start, else a name in its entries
	Language unsubivr.Language // "" for the default (first of the flow's languages)
	Number   string            // customer number an agent verified (agent entry)
	AgentID  string            // the agent who transferred the call in
	Service  string            // service code the agent preset, if any
}

// Engine runs calls through flows. It knows nothing of telephony or SQL:
// it drives a Call and a unsubivr.Store.
type Engine struct {
	Store unsubivr.Store
	Log   logrus.FieldLogger // defaults to a discard logger
	Now   func() time.Time   // defaults to time.Now
	// Language is what a call starts in when neither Start nor the
	// subscriber's stored preference says otherwise; "" for the flow's
	// first language. Unlike Start.Language it is not a choice to remember.
	Language unsubivr.Language
	// MaxRepeats is how often a caller may replay one menu in a row ("*");
	// the next replay counts as running out of attempts. Default 10.
	MaxRepeats int
}

// Run takes call through flow st.Flow of b from st's entry until the call
// ends, hangs up or is transferred. It returns the call's log, also saved
// to the store. The error is only for a broken start (unknown flow or
// entry); what happens during the call is in the log's outcome.
func (e *Engine) Run(ctx context.Context, b *Bundle, call Call, st Start) (*unsubivr.CallLog, error) {
	f, err := pickFlow(b, st.Flow)
	if err != nil {
		return nil, err
	}
	node := f.Start
	if st.Entry != "" {
		var ok bool
		if node, ok = f.Entries[st.Entry]; !ok {
			return nil, fmt.Errorf("flows: flow %s has no entry %q", f.Name, st.Entry)
		}
	}
	lang, chosen := string(st.Language), true
	if lang == "" || !inList(f.Languages, lang) {
		lang, chosen = string(e.Language), false
		if !inList(f.Languages, lang) {
			lang = f.Languages[0]
		}
	}
	s := &session{
		e: e, f: f, cat: b.Catalog, call: call, start: st,
		lang: lang, langChosen: chosen,
		number: st.Number,
		log: e.logger().WithFields(logrus.Fields{
			"call_id": call.ID(), "caller": unsubivr.MaskNumber(call.Caller()),
		}),
		clog: unsubivr.CallLog{
			CallID: call.ID(), Caller: call.Caller(), AgentID: st.AgentID,
			FlowVersion: b.Version, StartedAt: e.now(),
		},
	}
	s.run(ctx, node)
	s.clog.EndedAt = e.now()
	s.clog.Language = unsubivr.Language(s.lang)
	s.clog.Number = s.number
	if s.subscriber == nil {
		s.clog.Number = ""
	}
	if s.clog.Outcome == "" {
		s.clog.Outcome = OutcomeAbandoned
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	if err := e.Store.SaveCallLog(wctx, s.clog); err != nil {
		s.log.WithError(err).Error("saving call log")
	}
	s.log.WithField("outcome", s.clog.Outcome).Info("call ended")
	return &s.clog, nil
}

func pickFlow(b *Bundle, name string) (*Flow, error) {
	if name != "" {
		return b.Flow(name)
	}
	if len(b.Flows) == 1 {
		for _, f := range b.Flows {
			return f, nil
		}
	}
	return b.Flow("unsubscribe")
}

func (e *Engine) logger() logrus.FieldLogger {
	if e.Log != nil {
		return e.Log
	}
	l := logrus.New()
	l.Out = io.Discard
	return l
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// session is the state of one call.
type session struct {
	e     *Engine
	f     *Flow
	cat   *prompts.Catalog
	call  Call
	start Start
	log   logrus.FieldLogger
	clog  unsubivr.CallLog

	lang       string
	langChosen bool // the caller or the agent chose it: remember it
	number     string
	password   string
	subscriber *unsubivr.Subscriber
	subs       []unsubivr.Subscription
	selected   *unsubivr.Subscription // the service being cancelled; nil with all
	all        bool                   // cancelling everything
	result     unsubivr.Result
	consent    unsubivr.Consent
	pending    string // a key pressed during a play node, for the next menu
}

// errEnd ends a call normally (hang-up node, transfer).
var errEnd = errors.New("flows: call ended")

func (s *session) run(ctx context.Context, id string) {
	for steps := 0; ; steps++ {
		if steps == MaxSteps {
			s.event("error", id, "too many steps")
			s.log.Error("flow exceeded MaxSteps; hanging up")
			_ = s.call.Hangup(ctx)
			s.outcome(OutcomeCompleted)
			return
		}
		n := s.f.Nodes[id]
		if n == nil { // Check makes this impossible for a checked flow
			s.event("error", id, "no such node")
			s.log.WithField("node", id).Error("unknown node; hanging up")
			_ = s.call.Hangup(ctx)
			return
		}
		s.event("node", id, n.Kind)
		next, err := s.step(ctx, n)
		switch {
		case errors.Is(err, errEnd):
			return
		case errors.Is(err, ErrHangup):
			s.event("hangup", id, "caller")
			return
		case err != nil:
			s.event("error", id, err.Error())
			s.log.WithError(err).WithField("node", id).Error("node failed; hanging up")
			_ = s.call.Hangup(ctx)
			return
		}
		if next == "" { // nowhere to go: end the call politely
			_ = s.call.Hangup(ctx)
			s.outcome(OutcomeCompleted)
			return
		}
		id = next
	}
}

func (s *session) step(ctx context.Context, n *Node) (string, error) {
	switch n.Kind {
	case KindPlay:
		return n.Next, s.play(ctx, n, n.Prompts)
	case KindSay:
		return n.Next, s.say(ctx, n)
	case KindMenu:
		return s.menu(ctx, n)
	case KindCollect:
		return s.collect(ctx, n)
	case KindConfirm:
		return s.confirm(ctx, n)
	case KindAction:
		return s.action(ctx, n)
	case KindTransfer:
		return "", s.transfer(ctx, n)
	case KindHangup:
		if err := s.playNoBarge(ctx, n); err != nil {
			return "", err
		}
		s.event("hangup", n.ID, "flow")
		s.outcome(OutcomeCompleted)
		_ = s.call.Hangup(ctx)
		return "", errEnd
	case KindGoto:
		return n.Next, nil
	}
	return "", fmt.Errorf("unknown node kind %q", n.Kind)
}

// vars are the placeholder values of the call's current state.
func (s *session) vars() prompts.Vars {
	v := prompts.Vars{Code: s.result.Record.Code, Number: s.number}
	if s.selected != nil {
		v.Service = s.selected.Service.Code
		v.FeeFen = s.selected.Service.MonthlyFeeFen
	}
	switch {
	case len(s.result.Record.Services) > 0:
		v.Count = len(s.result.Record.Services)
	default:
		v.Count = len(s.subs)
	}
	return v
}

func (s *session) clips(ids []string, v prompts.Vars) ([]Clip, error) {
	var out []Clip
	for _, id := range ids {
		cs, err := s.cat.Expand(s.lang, id, v)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			out = append(out, Clip(c))
		}
	}
	return out, nil
}

func (s *session) play(ctx context.Context, n *Node, ids []string) error {
	clips, err := s.clips(ids, s.vars())
	if err != nil {
		return err
	}
	s.event("prompt", n.ID, strings.Join(ids, " "))
	in, err := s.call.Prompt(ctx, Gather{Clips: clips, BargeIn: bargeIn(n)})
	if err != nil {
		return err
	}
	if in.Digits != "" {
		// it may begin the answer to the next question, a password even
		s.event("key", n.ID, strings.Repeat("*", len(in.Digits)))
		s.pending += in.Digits
	}
	return nil
}

// playNoBarge plays what must be heard whole: goodbyes, transfer notices.
func (s *session) playNoBarge(ctx context.Context, n *Node) error {
	if len(n.Prompts) == 0 {
		return nil
	}
	return s.play(ctx, &Node{ID: n.ID, BargeIn: new(bool)}, n.Prompts)
}

func bargeIn(n *Node) bool { return n.BargeIn == nil || *n.BargeIn }

func (s *session) say(ctx context.Context, n *Node) error {
	v := s.vars()
	var clips []prompts.Clip
	var err error
	switch n.Say + ":" + n.Value {
	case "digits:code", "number:code":
		clips, err = s.cat.Digits(s.lang, v.Code)
	case "digits:number", "number:number":
		clips, err = s.cat.Digits(s.lang, v.Number)
	case "money:fee", "number:fee":
		clips, err = s.cat.Money(s.lang, v.FeeFen)
	case "number:count", "digits:count":
		clips, err = s.cat.Number(s.lang, int64(v.Count))
	default:
		return fmt.Errorf("cannot say %s %s", n.Say, n.Value)
	}
	if err != nil {
		return err
	}
	out := make([]Clip, len(clips))
	for i, c := range clips {
		out[i] = Clip(c)
	}
	s.event("prompt", n.ID, n.Say+":"+n.Value)
	_, err = s.call.Prompt(ctx, Gather{Clips: out, BargeIn: bargeIn(n)})
	return err
}

// ask plays a question until it is answered: it owns the attempt count,
// the invalid / no-input prompts and the exhausted exit shared by menus,
// collects and confirmations. build returns the question's clips and the
// prompt ids they came from. It returns the matched digits, or ok=false
// with the node to go to instead.
func (s *session) ask(ctx context.Context, n *Node, build func() ([]Clip, []string, error), match func(string) MatchResult) (digits string, played []string, next string, ok bool, err error) {
	var prefix []string // invalid / no-input prompt before the replay
	for attempt := 1; attempt <= n.MaxAttempts; attempt++ {
		clips, ids, err := build()
		if err != nil {
			return "", nil, "", false, err
		}
		if len(prefix) > 0 {
			pc, err := s.clips(prefix, s.vars())
			if err != nil {
				return "", nil, "", false, err
			}
			clips = append(pc, clips...)
			ids = append(append([]string{}, prefix...), ids...)
		}
		in, err := s.gather(ctx, n, clips, ids, match)
		if err != nil {
			return "", nil, "", false, err
		}
		prefix = nil
		switch in.Status {
		case Matched:
			s.event("key", n.ID, redact(n, in.Digits))
			return in.Digits, ids, "", true, nil
		case NoInput:
			s.event("timeout", n.ID, fmt.Sprintf("attempt %d", attempt))
			if n.OnNoInput != "" {
				return "", nil, n.OnNoInput, false, nil
			}
			if *n.NoInputPrompt != "" {
				prefix = []string{*n.NoInputPrompt}
			}
		default:
			s.event("invalid", n.ID, redact(n, in.Digits))
			if *n.InvalidPrompt != "" {
				prefix = []string{*n.InvalidPrompt}
			}
		}
	}
	s.event("exhausted", n.ID, fmt.Sprintf("%d attempts", n.MaxAttempts))
	return "", nil, n.OnExhausted, false, nil
}

// gather asks the Call for input, starting from keys the caller typed
// ahead during a previous prompt: those answer the question without
// replaying it, or begin the answer the caller is still typing.
func (s *session) gather(ctx context.Context, n *Node, clips []Clip, ids []string, match func(string) MatchResult) (Input, error) {
	g := Gather{
		Clips: clips, BargeIn: bargeIn(n), Match: match,
		FirstDigit: n.FirstDigitTimeout.Duration, InterDigit: n.InterDigitTimeout.Duration,
	}
	pre := s.pending
	s.pending = ""
	if pre != "" {
		switch match(pre) {
		case Complete:
			return Input{Digits: pre, Status: Matched}, nil
		case Invalid:
			return Input{Digits: pre, Status: NoMatch}, nil
		}
		g.Clips = nil
		g.FirstDigit = g.InterDigit
		g.Match = func(d string) MatchResult { return match(pre + d) }
	} else {
		s.event("prompt", n.ID, strings.Join(ids, " "))
	}
	in, err := s.call.Prompt(ctx, g)
	if pre != "" {
		in.Digits = pre + in.Digits
		if in.Status == NoInput { // typed a beginning, then stopped
			in.Status = NoMatch
		}
	}
	// A full number without its terminator, ended by the timeout, counts.
	if n.Kind == KindCollect && in.Status == NoMatch && LengthOK(n.MinDigits, n.MaxDigits, in.Digits) {
		in.Status = Matched
	}
	return in, err
}

// redact keeps what a collect node collected out of traces and logs: a
// password shows as stars, a number masked to its last four digits.
func redact(n *Node, digits string) string {
	if n.Kind != KindCollect {
		return digits
	}
	if n.Var == "number" {
		return unsubivr.MaskNumber(StripTerminator(digits, n.Terminator))
	}
	return strings.Repeat("*", len(digits))
}

// menuItem is one key of a menu as offered on this call.
type menuItem struct {
	opt *Option
	sub *unsubivr.Subscription
}

func (s *session) menu(ctx context.Context, n *Node) (string, error) {
	maxRepeats := s.e.MaxRepeats
	if maxRepeats <= 0 {
		maxRepeats = 10
	}
	for repeats := 0; ; repeats++ {
		items := map[string]menuItem{}
		var keys []string
		for k, o := range n.Keys {
			items[k] = menuItem{opt: o}
			keys = append(keys, k)
		}
		var dyn []string // dynamic keys in order
		if d := n.Subscriptions; d != nil {
			key := d.FirstKey
			for i := range s.subs {
				for key <= 9 && n.Keys[fmt.Sprint(key)] != nil {
					key++
				}
				if key > 9 {
					s.log.WithField("node", n.ID).Warn("more subscriptions than free menu keys; offering the first ones")
					break
				}
				k := fmt.Sprint(key)
				items[k] = menuItem{sub: &s.subs[i]}
				keys = append(keys, k)
				dyn = append(dyn, k)
				key++
			}
		}
		build := func() ([]Clip, []string, error) {
			ids := append([]string{}, n.Prompts...)
			clips, err := s.clips(n.Prompts, s.vars())
			if err != nil {
				return nil, nil, err
			}
			if d := n.Subscriptions; d != nil {
				for _, k := range dyn {
					sub := items[k].sub
					c, err := s.clips([]string{d.ItemPrompt}, prompts.Vars{Service: sub.Service.Code, FeeFen: sub.Service.MonthlyFeeFen, Key: k})
					if err != nil {
						return nil, nil, err
					}
					clips = append(clips, c...)
					ids = append(ids, d.ItemPrompt+":"+sub.Service.Code)
				}
				fc, err := s.clips(d.Footer, s.vars())
				if err != nil {
					return nil, nil, err
				}
				clips = append(clips, fc...)
				ids = append(ids, d.Footer...)
			}
			return clips, ids, nil
		}
		digits, _, next, ok, err := s.ask(ctx, n, build, MenuMatcher(keys))
		if err != nil || !ok {
			return next, err
		}
		it := items[digits]
		switch {
		case it.sub != nil:
			s.selected, s.all = it.sub, false
			return n.Subscriptions.Next, nil
		case it.opt.Repeat && repeats < maxRepeats:
			continue
		case it.opt.Repeat:
			s.event("exhausted", n.ID, fmt.Sprintf("%d replays", repeats))
			return n.OnExhausted, nil
		case it.opt.Language != "":
			s.setLanguage(ctx, it.opt.Language)
		}
		return it.opt.Next, nil
	}
}

func (s *session) setLanguage(ctx context.Context, lang string) {
	s.lang, s.langChosen = lang, true
	s.event("language", "", lang)
	s.rememberLanguage(ctx)
}

// rememberLanguage stores a chosen language for an identified subscriber.
func (s *session) rememberLanguage(ctx context.Context) {
	if !s.langChosen || s.subscriber == nil || string(s.subscriber.Language) == s.lang {
		return
	}
	if err := s.e.Store.SetLanguage(ctx, s.subscriber.Number, unsubivr.Language(s.lang)); err != nil {
		s.log.WithError(err).Warn("remembering language")
		return
	}
	s.subscriber.Language = unsubivr.Language(s.lang)
}

func (s *session) collect(ctx context.Context, n *Node) (string, error) {
	build := func() ([]Clip, []string, error) {
		c, err := s.clips(n.Prompts, s.vars())
		return c, n.Prompts, err
	}
	digits, _, next, ok, err := s.ask(ctx, n, build, LengthMatcher(n.MinDigits, n.MaxDigits, n.Terminator))
	if err != nil || !ok {
		return next, err
	}
	digits = StripTerminator(digits, n.Terminator)
	switch n.Var {
	case "number":
		s.number = digits
		s.subscriber, s.subs = nil, nil
	case "password":
		s.password = digits
	}
	return n.Next, nil
}

func (s *session) confirm(ctx context.Context, n *Node) (string, error) {
	purges := false
	if s.all {
		for _, sub := range s.subs {
			purges = purges || sub.Service.PurgeOnCancel
		}
	} else if s.selected != nil {
		purges = s.selected.Service.PurgeOnCancel
	}
	build := func() ([]Clip, []string, error) {
		ids := append([]string{}, n.Prompts...)
		if purges && n.PurgeWarning != "" {
			ids = append(ids, n.PurgeWarning)
		}
		c, err := s.clips(ids, s.vars())
		return c, ids, err
	}
	digits, played, next, ok, err := s.ask(ctx, n, build, MenuMatcher([]string{n.YesKey, n.NoKey}))
	if err != nil || !ok {
		return next, err
	}
	if digits == n.NoKey {
		return n.Back, nil
	}
	s.consent = unsubivr.Consent{Prompts: played, Key: digits}
	return n.Next, nil
}

func (s *session) action(ctx context.Context, n *Node) (string, error) {
	outcome, err := s.do(ctx, n)
	if err != nil {
		return "", err
	}
	s.event("action", n.ID, n.Action+"="+outcome)
	return n.Outcomes[outcome], nil
}

func (s *session) channel() unsubivr.Channel {
	if s.start.AgentID != "" {
		return unsubivr.ChannelAgent
	}
	return unsubivr.ChannelIVR
}

func (s *session) request() unsubivr.Request {
	return unsubivr.Request{
		Number: s.number, Channel: s.channel(), CallID: s.call.ID(),
		AgentID: s.start.AgentID, Consent: s.consent,
	}
}

// do runs n's action and names its outcome.
func (s *session) do(ctx context.Context, n *Node) (string, error) {
	st := s.e.Store
	switch n.Action {
	case ActionIdentify:
		if n.Source == SourceCaller {
			s.number = normalizeCaller(s.call.Caller())
		}
		if !unsubivr.ValidNumber(s.number) {
			return "invalid", nil
		}
		sub, err := st.Subscriber(ctx, s.number)
		switch unsubivr.ErrorCode(err) {
		case "":
		case unsubivr.ENOTFOUND:
			return "not_found", nil
		case unsubivr.EINVALID:
			return "invalid", nil
		default:
			return "", err
		}
		s.subscriber = sub
		s.log = s.log.WithField("number", unsubivr.MaskNumber(s.number))
		if s.langChosen {
			s.rememberLanguage(ctx)
		} else if sub.Language.Valid() && inList(s.f.Languages, string(sub.Language)) {
			s.lang = string(sub.Language)
		}
		return "found", nil

	case ActionVerifyPassword:
		err := st.VerifyPassword(ctx, s.number, s.password)
		s.password = ""
		switch unsubivr.ErrorCode(err) {
		case "":
			return "ok", nil
		case unsubivr.EUNAUTHORIZED, unsubivr.ENOTFOUND:
			return "wrong", nil
		case unsubivr.ELOCKED:
			s.outcome(OutcomeLocked)
			return "locked", nil
		}
		return "", err

	case ActionListServices:
		subs, err := st.ActiveSubscriptions(ctx, s.number)
		if err != nil {
			return "", err
		}
		s.subs, s.selected, s.all = subs, nil, false
		s.result = unsubivr.Result{} // a new round: no code from a previous cancel
		if len(subs) == 0 {
			s.outcome(OutcomeNoServices)
			return "none", nil
		}
		s.all = true // until a single service is chosen, a confirm means all
		return "some", nil

	case ActionSelectPreset:
		if s.start.Service == "" {
			return "none", nil
		}
		subs, err := st.ActiveSubscriptions(ctx, s.number)
		if err != nil {
			return "", err
		}
		s.subs = subs
		for i := range subs {
			if strings.EqualFold(subs[i].Service.Code, s.start.Service) {
				s.selected, s.all = &subs[i], false
				return "selected", nil
			}
		}
		return "none", nil

	case ActionUnsubscribe, ActionUnsubscribeAll:
		if s.consent.Key == "" {
			// only a confirm node's yes key leads here; a flow that skips it
			// must not cancel on a menu key
			return "", errors.New("unsubscribe without an explicit confirmation: the flow must pass a confirm node first")
		}
		// The caller has confirmed: finish the write even if they hang up now.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
		defer cancel()
		req := s.request()
		var res unsubivr.Result
		var err error
		if n.Action == ActionUnsubscribe {
			if s.selected == nil {
				return "", errors.New("unsubscribe with no service selected")
			}
			req.ServiceCode = s.selected.Service.Code
			res, err = st.Unsubscribe(wctx, req)
		} else {
			res, err = st.UnsubscribeAll(wctx, req)
		}
		s.consent = unsubivr.Consent{}
		if err != nil {
			s.log.WithError(err).Error("unsubscribe failed")
			s.outcome(OutcomeFailed)
			return "failed", nil
		}
		s.result = res
		switch res.Outcome {
		case unsubivr.Cancelled:
			s.outcome(OutcomeCancelled)
			s.event("cancelled", n.ID, "code="+res.Record.Code+" services="+strings.Join(res.Record.Services, ","))
			return "done", nil
		case unsubivr.AlreadyCancelled:
			s.outcome(OutcomeAlready)
			s.event("already", n.ID, "code="+res.Record.Code+" services="+strings.Join(res.Record.Services, ","))
			return "already", nil
		default: // nothing active any more
			s.outcome(OutcomeNoServices)
			return "already", nil
		}
	}
	return "", fmt.Errorf("unknown action %q", n.Action)
}

// normalizeCaller turns a presented caller ID into a national number:
// +8613800138000 and 008613800138000 become 13800138000.
func normalizeCaller(s string) string {
	s = strings.TrimSpace(s)
	for _, p := range []string{"+86", "0086"} {
		if strings.HasPrefix(s, p) && len(s) == len(p)+11 {
			return s[len(p):]
		}
	}
	return s
}

func (s *session) transfer(ctx context.Context, n *Node) error {
	if err := s.playNoBarge(ctx, n); err != nil {
		return err
	}
	vars := map[string]string{VarLang: s.lang, VarCallID: s.call.ID()}
	if s.subscriber != nil {
		vars[VarNumber] = s.number
	}
	if s.selected != nil {
		vars[VarService] = s.selected.Service.Code
	}
	s.event("transfer", n.ID, n.Destination)
	if err := s.call.Transfer(ctx, Transfer{Destination: n.Destination, Vars: vars}); err != nil {
		return err
	}
	s.outcome(OutcomeTransferred)
	return errEnd
}

func (s *session) outcome(o string) {
	if outcomeRank[o] >= outcomeRank[s.clog.Outcome] || s.clog.Outcome == "" {
		s.clog.Outcome = o
	}
}

func (s *session) event(kind, node, detail string) {
	s.clog.Trace = append(s.clog.Trace, unsubivr.CallEvent{At: s.e.now(), Kind: kind, Node: node, Detail: detail})
	s.log.WithFields(logrus.Fields{"node": node, "event": kind}).Debug(detail)
}

func inList(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
