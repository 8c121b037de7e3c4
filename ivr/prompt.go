package ivr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/ext/play"

	"github.com/unsubivr/unsubivr/flows"
)

// Prompts run on ext/play (play.Prompt with a MatchFunc over the flow's
// matcher and DigitTimeouts; play.Play for play-only prompts). ext/play is
// given a Player (promptRun) whose subscriptions come from the call's
// route, never from stdbus. ext/play has gaps and defects the adapter
// works around here rather than hand-rolling digit collection:
//
//  1. It cannot collect digits without playing something: an empty URI
//     list is an error ("empty playback URI list"). A prompt with no clips
//     (the engine continuing a number typed ahead) plays silenceURI, a
//     playback the Player completes at once without asking Asterisk.
//  2. With a match function, any key stops the audio: there is no "collect
//     after the prompt, but no barge-in". For Gather.BargeIn == false the
//     route discards keys until the prompt's last clip has finished
//     (route.gate), so they neither stop the audio nor count.
//  3. Data races: waitDigits reads Result.DTMF without the lock while
//     listenDTMF appends to it, and listenDTMF reads currentSequence (and
//     the sequence's cancel func) without the lock. Keys are also matched
//     as the whole string received so far, so two quick keys can be judged
//     together ("12" where "1" alone completes a menu). The key
//     subscription is therefore paced (promptRun.pace): the first key goes
//     only after a playback has been staged, each later one only after the
//     match function has judged the previous one. The digits returned come
//     from the match function's own record, never from Result.DTMF.
//  4. Result.Status never says Hangup: a hang-up shows as Cancelled or
//     Finished. The call's own state says whether the caller is gone.
//  5. Its listenDTMF subscribes in a goroutine after the prompt starts, so
//     a key pressed at that moment would be lost: the Player opens the key
//     subscription before the prompt starts and hands it to ext/play.
//  6. playStaged stops every playback when it ends (DELETE /playbacks/id,
//     a 404 once finished); the Player skips the request for playbacks
//     already finished.
//  7. A barge-in does not end the sequence: the key cancels the clip
//     playing, and sequence.Play goes on to stage, start and at once stop
//     each remaining clip (playStaged returns Cancelled without an error),
//     so Asterisk would start every one of them and the caller could hear
//     fragments. Once a key has been handed to ext/play, the Player's
//     playbacks start nothing: playStaged sees its cancelled context and
//     returns.

// silenceURI is the media of a prompt that only collects digits.
const silenceURI = "ivr:silence"

// Digit timeouts used when a Gather leaves them zero, and the bound on
// everything typed after the clips.
const (
	DefaultFirstDigit = 5 * time.Second
	DefaultInterDigit = 3 * time.Second
	// overallDigits bounds digit entry after the clips: room for a number
	// and a terminator at the inter-digit pace, so a stuck or endless
	// keypad cannot hold a call.
	overallDigits = 16

	playbackStartTimeout = 5 * time.Second
	maxResyncs           = 3
)

// Prompt implements flows.Call: it plays g.Clips and collects digits as g
// says. Each call is one attempt: no replays.
func (c *Call) Prompt(ctx context.Context, g flows.Gather) (flows.Input, error) {
	for i := 0; ; i++ {
		in, err := c.prompt(ctx, g)
		if errors.Is(err, errResync) && i < maxResyncs {
			c.log.Warn("ARI reconnected during a prompt: playing it again")
			continue
		}
		if errors.Is(err, errResync) {
			err = fmt.Errorf("ivr: prompt: %w (gave up after %d)", err, maxResyncs)
		}
		return in, err
	}
}

func (c *Call) prompt(ctx context.Context, g flows.Gather) (flows.Input, error) {
	if err := c.usable(); err != nil {
		return flows.Input{}, err
	}
	uris := make([]string, 0, len(g.Clips))
	for _, cl := range g.Clips {
		if cl.File != "" {
			uris = append(uris, c.srv.SoundPrefix+cl.File)
		}
	}
	if len(uris) == 0 && g.Match == nil {
		return flows.Input{Status: flows.Played}, nil
	}

	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(c.gone, func() { cancel(flows.ErrHangup) })
	defer stop()
	c.mu.Lock()
	c.promptCancel = cancel
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.promptCancel = nil
		c.mu.Unlock()
	}()

	pr := newPromptRun(c, g)
	defer pr.close()
	if !g.BargeIn && len(uris) > 0 {
		c.rt.setGate(pr.num, len(uris))
		defer c.rt.setGate(pr.num, 0)
	}

	var sess play.Session
	switch {
	case g.Match == nil && !g.BargeIn:
		sess = play.Play(pctx, pr, play.URI(uris...), play.MatchNone(),
			play.PlaybackStartTimeout(playbackStartTimeout))
	case g.Match == nil:
		sess = play.Play(pctx, pr, play.URI(uris...), play.MatchFunc(pr.firstKey),
			play.PlaybackStartTimeout(playbackStartTimeout))
	default:
		if len(uris) == 0 {
			uris = []string{silenceURI}
		}
		first, inter := orDefault(g.FirstDigit, DefaultFirstDigit), orDefault(g.InterDigit, DefaultInterDigit)
		sess = play.Prompt(pctx, pr, play.URI(uris...), play.MatchFunc(pr.match),
			play.DigitTimeouts(first, inter, first+overallDigits*inter), play.Replays(0),
			play.PlaybackStartTimeout(playbackStartTimeout))
	}
	_, err := sess.Result()

	in := pr.input()
	if errors.Is(context.Cause(pctx), errResync) && in.Status != flows.Matched && !c.isGone() {
		return flows.Input{}, errResync
	}
	if in.Status == flows.Matched || (in.Status == flows.Played && in.Digits != "") {
		c.rt.answered()
	}
	if in.Status == flows.Matched {
		// answered before any hang-up: let the flow act on it; the next
		// call on c reports the hang-up.
		return in, nil
	}
	if c.isGone() {
		return flows.Input{}, flows.ErrHangup
	}
	if ctx.Err() != nil {
		return flows.Input{}, ctx.Err()
	}
	if err != nil {
		return flows.Input{}, c.restErr("prompt "+strings.Join(uris, " "), err)
	}
	return in, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// promptRun is one prompt's ari.Player for ext/play, and its record of the
// keys matched.
type promptRun struct {
	c   *Call
	g   flows.Gather
	num int // the route's number for this prompt

	dtmf      *subscription // opened before the prompt starts; see Subscribe
	handedOut bool
	staged    chan struct{} // closed when the first playback is staged
	stageOnce sync.Once
	credit    chan struct{} // the match function judged a key: the next may go

	mu     sync.Mutex
	handed int // keys handed to ext/play
	digits string
	result flows.MatchResult
	judged bool
	barged string // play only: the first key handed to ext/play
}

func newPromptRun(c *Call, g flows.Gather) *promptRun {
	pr := &promptRun{c: c, g: g, num: c.rt.beginPrompt(), staged: make(chan struct{}), credit: make(chan struct{}, 1)}
	pr.dtmf = c.rt.subscribePaced("", pr.pace, ari.Events.ChannelDtmfReceived)
	return pr
}

func (pr *promptRun) close() {
	pr.dtmf.Cancel()
}

// pace holds each key until ext/play may safely take it (see the comment
// at the top of this file).
func (pr *promptRun) pace(e ari.Event, first bool, done <-chan struct{}) bool {
	wait := pr.credit
	if first {
		wait = pr.staged
	}
	select {
	case <-wait:
	case <-done:
		return false
	}
	pr.mu.Lock()
	pr.handed++
	if d, ok := e.(*ari.ChannelDtmfReceived); ok && first {
		pr.barged = d.Digit
	}
	pr.mu.Unlock()
	return true
}

// match is the MatchFunc given to ext/play. It judges each prefix of what
// it gets, so that it answers as the flow's matcher would have, key by key.
func (pr *promptRun) match(d string) (string, play.MatchResult) {
	res := flows.Incomplete
	n := len(d)
	for i := 1; i <= len(d); i++ {
		if res = pr.g.Match(d[:i]); res != flows.Incomplete {
			n = i
			break
		}
	}
	d = d[:n]
	pr.mu.Lock()
	pr.digits, pr.result, pr.judged = d, res, true
	pr.mu.Unlock()
	pr.grant()
	switch res {
	case flows.Complete:
		return d, play.Complete
	case flows.Invalid:
		return d, play.Invalid
	}
	return d, play.Incomplete
}

// firstKey is the MatchFunc of a play-only prompt with barge-in.
func (pr *promptRun) firstKey(d string) (string, play.MatchResult) {
	pr.grant()
	if d == "" {
		return d, play.Incomplete
	}
	return d[:1], play.Complete
}

func (pr *promptRun) grant() {
	select {
	case pr.credit <- struct{}{}:
	default:
	}
}

// input says what the prompt collected.
func (pr *promptRun) input() flows.Input {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.g.Match == nil {
		in := flows.Input{Status: flows.Played}
		if pr.g.BargeIn {
			in.Digits = pr.barged
		}
		return in
	}
	switch {
	case pr.judged && pr.result == flows.Complete:
		return flows.Input{Digits: pr.digits, Status: flows.Matched}
	case pr.digits != "":
		return flows.Input{Digits: pr.digits, Status: flows.NoMatch}
	}
	return flows.Input{Status: flows.NoInput}
}

// Play implements ari.Player.
func (pr *promptRun) Play(id, uri string) (*ari.PlaybackHandle, error) {
	h, err := pr.StagePlay(id, uri)
	if err != nil {
		return nil, err
	}
	return h, h.Exec()
}

// StagePlay implements ari.Player: the playback's events come from the
// call's route.
func (pr *promptRun) StagePlay(id, uri string) (*ari.PlaybackHandle, error) {
	pr.stageOnce.Do(func() { close(pr.staged) })
	key := ari.NewKey(ari.PlaybackKey, id)
	if uri == silenceURI {
		return ari.NewPlaybackHandle(key, silence{}, func(*ari.PlaybackHandle) error { return nil }), nil
	}
	c := pr.c
	return ari.NewPlaybackHandle(key, playbacks{c}, func(*ari.PlaybackHandle) error {
		if pr.cut() {
			return nil // see 7. at the top of this file
		}
		c.rt.staged(id, pr.num)
		_, err := c.srv.client.Channel().Play(c.key(), id, uri)
		if err != nil {
			c.rt.finished(id)
			if c.log != nil {
				c.log.WithError(err).WithField("media", uri).Debug("playback failed")
			}
		}
		return err
	}), nil
}

// cut reports whether a key has ended the prompt's audio: with a match
// function ext/play stops the clip playing at the first key.
func (pr *promptRun) cut() bool {
	if pr.g.Match == nil && !pr.g.BargeIn {
		return false
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.handed > 0
}

// Subscribe implements ari.Player. The first key subscription is the one
// opened before the prompt started.
func (pr *promptRun) Subscribe(types ...string) ari.Subscription {
	if len(types) == 1 && types[0] == ari.Events.ChannelDtmfReceived {
		pr.mu.Lock()
		handed := pr.handedOut
		pr.handedOut = true
		pr.mu.Unlock()
		if !handed {
			return pr.dtmf
		}
	}
	return pr.c.rt.subscribe("", types...)
}

// playbacks is the ari.Playback behind the handles the Player makes: REST
// through the native client, events from the call's route.
type playbacks struct{ c *Call }

func (p playbacks) Get(key *ari.Key) *ari.PlaybackHandle {
	return ari.NewPlaybackHandle(key, p, nil)
}

func (p playbacks) Data(key *ari.Key) (*ari.PlaybackData, error) {
	return p.c.srv.client.Playback().Data(key)
}

func (p playbacks) Control(key *ari.Key, op string) error {
	return p.c.srv.client.Playback().Control(key, op)
}

// Stop stops a playback still playing; one that has finished needs no
// request.
func (p playbacks) Stop(key *ari.Key) error {
	if !p.c.rt.playing(key.ID) {
		return nil
	}
	err := p.c.srv.client.Playback().Stop(key)
	if ariCode(err) == 404 {
		return nil
	}
	return err
}

func (p playbacks) Subscribe(key *ari.Key, types ...string) ari.Subscription {
	return p.c.rt.subscribe(key.ID, types...)
}

// silence is the ari.Playback of silenceURI: it finishes as soon as it is
// asked about.
type silence struct{}

func (silence) Get(key *ari.Key) *ari.PlaybackHandle {
	return ari.NewPlaybackHandle(key, silence{}, nil)
}
func (silence) Data(key *ari.Key) (*ari.PlaybackData, error) {
	return &ari.PlaybackData{Key: key, ID: key.ID, State: "done"}, nil
}
func (silence) Control(key *ari.Key, op string) error { return nil }
func (silence) Stop(key *ari.Key) error               { return nil }
func (silence) Subscribe(key *ari.Key, types ...string) ari.Subscription {
	ch := make(chan ari.Event, 1)
	for _, t := range types {
		if t == ari.Events.PlaybackFinished {
			ch <- &ari.PlaybackFinished{
				EventData: ari.EventData{Type: ari.Events.PlaybackFinished},
				Playback:  ari.PlaybackData{ID: key.ID, State: "done", MediaURI: silenceURI},
			}
			break
		}
	}
	return staticSub(ch)
}

// staticSub is a subscription with its events already queued.
type staticSub chan ari.Event

func (s staticSub) Events() <-chan ari.Event { return s }
func (s staticSub) Cancel()                  {}

var (
	_ ari.Player   = (*promptRun)(nil)
	_ ari.Playback = playbacks{}
	_ ari.Playback = silence{}
)
