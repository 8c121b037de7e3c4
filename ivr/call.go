package ivr

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"
	"github.com/sirupsen/logrus"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/flows"
)

// Call is one channel in the Stasis application, as the flow engine drives
// it. It implements flows.Call; the Server makes one per StasisStart and
// hands it to the Handler. Once the caller has hung up (or the channel
// left the application), every method returns flows.ErrHangup.
type Call struct {
	srv     *Server
	id      string
	channel string
	caller  string
	rt      *route
	log     logrus.FieldLogger

	// gone is cancelled, with the reason as cause, when the channel hangs
	// up or leaves Stasis.
	gone     context.Context
	markGone context.CancelCauseFunc

	mu           sync.Mutex
	transferred  bool
	hungUp       bool                    // we hung up
	promptCancel context.CancelCauseFunc // cancels the prompt playing now
}

// errResync restarts a prompt whose events may have been lost while the
// websocket was down.
var errResync = errors.New("ivr: ARI reconnected")

func newCall(s *Server, id string, ch ari.ChannelData) *Call {
	c := &Call{srv: s, id: id, channel: ch.ID}
	if ch.Caller != nil {
		c.caller = ch.Caller.Number
	}
	c.gone, c.markGone = context.WithCancelCause(context.Background())
	c.log = s.log().WithFields(logrus.Fields{"call_id": id, "caller": unsubivr.MaskNumber(c.caller)})
	return c
}

// ID implements flows.Call: the Asterisk channel id, with "-2", "-3"...
// appended when the same channel enters the application again (after a
// transfer out and back in).
func (c *Call) ID() string { return c.id }

// Caller implements flows.Call: the caller id number of the channel.
func (c *Call) Caller() string { return c.caller }

// Channel is the Asterisk channel id.
func (c *Call) Channel() string { return c.channel }

// onEvent sees every event of the channel, in order (route.hook).
func (c *Call) onEvent(e ari.Event) {
	switch e.(type) {
	case *ari.ChannelHangupRequest:
		c.markGone(errors.New("caller hung up"))
	case *ari.StasisEnd:
		c.markGone(errors.New("left the application"))
	case *ari.ChannelDestroyed:
		c.markGone(errors.New("channel destroyed"))
	}
}

// isGone reports whether the caller is gone.
func (c *Call) isGone() bool { return c.gone.Err() != nil }

// usable returns flows.ErrHangup if the call is no longer ours to drive.
func (c *Call) usable() error {
	if c.isGone() {
		return flows.ErrHangup
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.transferred || c.hungUp {
		return flows.ErrHangup
	}
	return nil
}

// resync restarts the prompt in progress, if any.
func (c *Call) resync() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.promptCancel != nil {
		c.promptCancel(errResync)
	}
}

func (c *Call) key() *ari.Key { return ari.NewKey(ari.ChannelKey, c.channel) }

// restErr turns an ARI REST error into flows.ErrHangup when the channel
// is gone (404: no such channel; 409: not in Stasis any more).
func (c *Call) restErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if code := ariCode(err); code == 404 || code == 409 {
		c.markGone(fmt.Errorf("%s: channel gone (%d)", op, code))
		return flows.ErrHangup
	}
	if c.isGone() {
		return flows.ErrHangup
	}
	return fmt.Errorf("ivr: %s: %w", op, err)
}

// ariCode returns the HTTP status of an ARI REST error, 0 if err is not
// one. It follows Unwrap and also Cause: native's data errors (Data, Get)
// wrap the request error in a type with Cause only.
func ariCode(err error) int {
	for i := 0; err != nil && i < 16; i++ {
		if re, ok := err.(native.RequestError); ok {
			return re.Code()
		}
		switch x := err.(type) {
		case interface{ Unwrap() error }:
			err = x.Unwrap()
		case interface{ Cause() error }:
			err = x.Cause()
		default:
			return 0
		}
	}
	return 0
}

// Transfer implements flows.Call: it sets t.Vars as channel variables and
// continues the channel in the dialplan at the agent destination, where
// it leaves the application. Destination "agent" (or "") is
// Config.AgentContext/AgentExten, priority 1; "context,exten[,priority]"
// is that dialplan location.
func (c *Call) Transfer(ctx context.Context, t flows.Transfer) error {
	if err := c.usable(); err != nil {
		return err
	}
	dctx, exten, prio, err := c.srv.destination(t.Destination)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(t.Vars))
	for k := range t.Vars {
		names = append(names, k)
	}
	sort.Strings(names)
	ch := c.srv.client.Channel()
	for _, k := range names {
		if err := c.restErr("set "+k, ch.SetVariable(c.key(), k, t.Vars[k])); err != nil {
			return err
		}
	}
	if err := c.restErr("continue to "+dctx+","+exten, ch.Continue(c.key(), dctx, exten, prio)); err != nil {
		return err
	}
	c.mu.Lock()
	c.transferred = true
	c.mu.Unlock()
	c.log.WithFields(logrus.Fields{
		"destination": fmt.Sprintf("%s,%s,%d", dctx, exten, prio),
		"number":      unsubivr.MaskNumber(t.Vars[flows.VarNumber]),
		"service":     t.Vars[flows.VarService],
	}).Info("transferred")
	return nil
}

// destination resolves a flows.Transfer destination to a dialplan location.
func (s *Server) destination(d string) (context, exten string, priority int, err error) {
	if d == "" || d == EntryAgent {
		return s.AgentContext, s.AgentExten, 1, nil
	}
	parts := strings.Split(d, ",")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return "", "", 0, fmt.Errorf("ivr: transfer destination %q: want \"agent\" or \"context,exten[,priority]\"", d)
	}
	priority = 1
	if len(parts) == 3 {
		if priority, err = strconv.Atoi(parts[2]); err != nil || priority < 1 {
			return "", "", 0, fmt.Errorf("ivr: transfer destination %q: bad priority", d)
		}
	}
	return parts[0], parts[1], priority, nil
}

// Hangup implements flows.Call. After a Transfer it does nothing: the
// channel belongs to the dialplan then.
func (c *Call) Hangup(ctx context.Context) error {
	c.mu.Lock()
	if c.transferred {
		c.mu.Unlock()
		return nil
	}
	already := c.hungUp
	c.mu.Unlock()
	if c.isGone() {
		return flows.ErrHangup
	}
	if already {
		return nil
	}
	err := c.restErr("hang up", c.srv.client.Channel().Hangup(c.key(), "normal"))
	if err == nil || errors.Is(err, flows.ErrHangup) {
		c.mu.Lock()
		c.hungUp = true
		c.mu.Unlock()
	}
	return err
}
