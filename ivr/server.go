package ivr

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"
	"github.com/sirupsen/logrus"
	"golang.org/x/net/websocket"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/flows"
)

// The websocket.
//
// The adapter reads ARI's websocket itself and uses ari/v5's native client
// for REST only. native.Client.Connect does not fit a service: it blocks
// without a context until the first connection succeeds (forever with a
// wrong password), retries every second with no backoff, reconnects
// without telling anyone (it logs to a discarded log15 logger), hands a
// nil event to the bus when a message has a type ari/v5 does not know
// (Asterisk 22 has a few; stdbus then panics), and feeds stdbus, which
// drops events (see router.go). The loop here retries with exponential
// backoff, logs every attempt, stops at once on a 401, skips unknown
// events, and after a reconnect checks which calls still have a channel.

// Backoff between connection attempts.
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second

	checkTimeout = 5 * time.Second
	// hardStopWait is how long Shutdown waits for handlers to return after
	// hanging up the calls that outlived the grace period (the engine
	// still saves their call logs).
	hardStopWait = 10 * time.Second
	// recentCalls is how many channel ids the server remembers, to give a
	// channel that comes back into the application a new call id.
	recentCalls = 4096
)

// RejectVar is the channel variable set on a call that arrives while the
// server shuts down, before the channel continues at the next priority
// after Stasis() (docs/stasis.md).
const RejectVar = "UNSUB_REJECT"

// ErrUnauthorized is returned (wrapped) by Run and Check when ARI rejects
// the user or password: retrying cannot fix that.
var ErrUnauthorized = errors.New("ivr: ARI rejected the credentials")

type authError struct{ user string }

func (e authError) Error() string {
	return fmt.Sprintf("ivr: ARI rejected user %s (401): check UNSUB_ARI_USER/UNSUB_ARI_PASSWORD", e.user)
}

func (e authError) Unwrap() error { return ErrUnauthorized }

// Server is the ARI application: it takes every channel that enters
// Stasis(App), runs Handler on it in its own goroutine, and keeps the
// websocket to Asterisk up. Set its fields, then call Run.
type Server struct {
	Config

	// Handler runs one call, from StasisStart until the flow ends, and
	// returns the call's outcome (flows.Outcome*), counted in
	// Metrics.Calls. ctx ends only when the server stops for good; a
	// caller hanging up shows as flows.ErrHangup from call's methods.
	// When Handler returns, the server hangs the channel up unless it was
	// transferred or is gone.
	Handler func(ctx context.Context, call flows.Call, st flows.Start) string

	// Log receives JSON-friendly structured logs; per-call lines carry
	// call_id. Defaults to a discard logger.
	Log logrus.FieldLogger

	// Metrics, if nil, are made unregistered by Run.
	Metrics *Metrics

	mu       sync.Mutex
	started  bool
	draining bool
	calls    map[*Call]struct{}
	wg       sync.WaitGroup // one per call goroutine
	recent   map[string]int // channel id → calls seen
	ring     []string       // recent's keys, oldest first
	stopOnce sync.Once
	stopped  chan struct{} // closed when Shutdown has finished

	connected  atomic.Bool
	hardStop   time.Duration // hardStopWait; tests shorten it
	client     *native.Client
	router     *router
	callCtx    context.Context // handlers' context; cancelled after the hard stop
	callCancel context.CancelFunc
	httpc      *http.Client
}

func (s *Server) log() logrus.FieldLogger {
	if s.Log == nil {
		l := logrus.New()
		l.Out = io.Discard
		s.Log = l
	}
	return s.Log
}

// init prepares s once; Run and Check call it.
func (s *Server) init() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.router != nil {
		return nil
	}
	if err := s.Config.Validate(); err != nil {
		return err
	}
	s.log()
	if s.Metrics == nil {
		s.Metrics = NewMetrics(nil)
	}
	if s.hardStop == 0 {
		s.hardStop = hardStopWait
	}
	s.calls = map[*Call]struct{}{}
	s.recent = map[string]int{}
	s.stopped = make(chan struct{})
	s.callCtx, s.callCancel = context.WithCancel(context.Background())
	s.httpc = &http.Client{Timeout: checkTimeout}
	s.client = native.New(&native.Options{
		Application:  s.App,
		URL:          strings.TrimSuffix(s.URL, "/"),
		WebsocketURL: s.websocketURL(),
		Username:     s.User,
		Password:     s.Password,
	})
	r := newRouter()
	m := s.Metrics
	r.onQueue = func(d int64) { m.QueuedEvents.Set(float64(d)) }
	r.onLatency = func(d time.Duration) { m.DigitToPrompt.Observe(d.Seconds()) }
	s.router = r
	return nil
}

// Check asks ARI for the Asterisk version once: a startup check of the URL
// and credentials. It returns an error wrapping ErrUnauthorized for a 401.
func (s *Server) Check(ctx context.Context) error {
	if err := s.init(); err != nil {
		return err
	}
	_, err := s.check(ctx)
	return err
}

// check returns the Asterisk version.
func (s *Server) check(ctx context.Context) (string, error) {
	u := strings.TrimSuffix(s.URL, "/") + "/asterisk/info"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("ivr: ARI %s: %w", u, err)
	}
	req.SetBasicAuth(s.User, s.Password)
	resp, err := s.httpc.Do(req)
	if err != nil {
		return "", fmt.Errorf("ivr: ARI not reachable at %s: %w", s.URL, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return "", authError{s.User}
	case resp.StatusCode == http.StatusNotFound:
		return "", fmt.Errorf("ivr: ARI answered 404 at %s: is ARI enabled (http.conf, ari.conf) and the URL right (…/ari)?", u)
	case resp.StatusCode/100 != 2:
		return "", fmt.Errorf("ivr: ARI %s: %s", u, resp.Status)
	}
	var info ari.AsteriskInfo
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&info); err != nil {
		return "", fmt.Errorf("ivr: ARI %s: decoding the answer: %w", u, err)
	}
	return info.SystemInfo.Version, nil
}

// Run connects to ARI and serves calls until ctx is cancelled or Shutdown
// is called. When the connection fails or drops it retries with
// exponential backoff (0.5 s to 30 s), logging each attempt; it returns
// early only for ARI's 401 (an error wrapping ErrUnauthorized). When ctx
// is cancelled it stops as Shutdown does with ShutdownGrace, then returns
// nil.
func (s *Server) Run(ctx context.Context) error {
	if s.Handler == nil {
		return errors.New("ivr: Server.Handler is nil")
	}
	if err := s.init(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("ivr: Server.Run called twice")
	}
	s.started = true
	s.mu.Unlock()

	connCtx, stopConn := context.WithCancel(context.Background())
	defer stopConn()
	connDone := make(chan error, 1)
	go func() { connDone <- s.connect(connCtx) }()

	select {
	case err := <-connDone:
		// only a 401 ends the loop by itself
		s.log().WithError(err).Error("ARI rejected the credentials; stopping")
		s.mu.Lock()
		s.draining = true
		s.mu.Unlock()
		s.callCancel()
		s.waitCalls(context.Background(), s.hardStop)
		return err
	case <-ctx.Done():
		s.log().WithField("grace", s.ShutdownGrace.String()).Info("shutting down: no new calls; waiting for active calls")
		gctx, cancel := context.WithTimeout(context.Background(), s.ShutdownGrace)
		err := s.Shutdown(gctx)
		cancel()
		if err != nil {
			s.log().WithError(err).Warn("shutdown grace over: calls hung up")
		}
	case <-s.stopped:
	}
	stopConn()
	<-connDone
	s.log().Info("ARI application stopped")
	return nil
}

// Shutdown stops taking calls (a new one continues in the dialplan after
// Stasis() with UNSUB_REJECT=shutdown) and waits for the active calls to
// end. If ctx ends first, it hangs up the calls left, waits up to 10 s more
// for their handlers, and returns ctx's error. Run returns after Shutdown.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.init(); err != nil {
		return err
	}
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	err := s.waitCalls(ctx, 0)
	if err != nil {
		s.mu.Lock()
		left := make([]*Call, 0, len(s.calls))
		for c := range s.calls {
			left = append(left, c)
		}
		s.mu.Unlock()
		for _, c := range left {
			c.log.Warn("shutting down: hanging up")
			_ = c.Hangup(context.Background())
			c.markGone(errors.New("server shut down"))
		}
		// handlers see flows.ErrHangup and save their call logs; then
		// their contexts end too
		s.waitCalls(context.Background(), s.hardStop/2)
		s.callCancel()
		s.waitCalls(context.Background(), s.hardStop/2)
	}
	s.callCancel()
	s.stopOnce.Do(func() { close(s.stopped) })
	return err
}

// waitCalls waits until no call is active, ctx ends or (if max > 0) max
// has passed. It returns ctx's error if calls are left when ctx ends.
func (s *Server) waitCalls(ctx context.Context, max time.Duration) error {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var timeout <-chan time.Time
	if max > 0 {
		t := time.NewTimer(max)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timeout:
		return context.DeadlineExceeded
	}
}

// Connected reports whether the ARI websocket is up now.
func (s *Server) Connected() bool { return s.connected.Load() }

// Active returns the number of calls in progress.
func (s *Server) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// connect keeps the websocket up until ctx ends (nil) or ARI answers 401.
func (s *Server) connect(ctx context.Context) error {
	log := s.log().WithFields(logrus.Fields{"ari": s.URL, "app": s.App})
	delay := minBackoff
	connected := false
	var lost time.Time
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		version, err := s.check(cctx)
		var ws *websocket.Conn
		if err == nil {
			ws, err = s.dial(cctx)
		}
		cancel()
		if errors.Is(err, ErrUnauthorized) {
			return err
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.WithError(err).WithFields(logrus.Fields{"attempt": attempt, "retry_in": delay.String()}).Warn("ARI connection failed; retrying")
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(delay):
			}
			delay = min(delay*2, maxBackoff)
			continue
		}
		l := log.WithFields(logrus.Fields{"asterisk": version, "attempt": attempt})
		if connected {
			s.Metrics.Reconnects.Inc()
			l.WithField("down_for", time.Since(lost).Round(time.Millisecond).String()).Info("ARI reconnected")
			go s.reconcile()
		} else {
			l.Info("ARI connected")
		}
		connected = true
		attempt, delay = 0, minBackoff
		s.Metrics.Connected.Set(1)
		s.connected.Store(true)
		err = s.read(ctx, ws)
		s.connected.Store(false)
		s.Metrics.Connected.Set(0)
		if ctx.Err() != nil {
			return nil
		}
		lost = time.Now()
		log.WithError(err).Warn("ARI websocket lost; reconnecting")
	}
}

// dial opens the event websocket of the application.
func (s *Server) dial(ctx context.Context) (*websocket.Conn, error) {
	u := s.websocketURL() + "?" + url.Values{"app": {s.App}}.Encode()
	origin := "http://localhost/"
	cfg, err := websocket.NewConfig(u, origin)
	if err != nil {
		return nil, fmt.Errorf("ivr: websocket %s: %w", u, err)
	}
	cfg.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(s.User+":"+s.Password)))
	cfg.Dialer = &net.Dialer{
		Timeout: checkTimeout,
		// notice a peer that vanished without closing within ~25 s
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 5 * time.Second, Count: 3},
	}
	ws, err := cfg.DialContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("ivr: websocket %s: %w", s.websocketURL(), err)
	}
	return ws, nil
}

// read hands the websocket's events to handle until it fails or ctx ends.
func (s *Server) read(ctx context.Context, ws *websocket.Conn) error {
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	defer stop()
	defer ws.Close()
	for {
		var data []byte
		if err := websocket.Message.Receive(ws, &data); err != nil {
			return err
		}
		e, err := ari.DecodeEvent(data)
		if err != nil || e == nil {
			s.Metrics.Events.WithLabelValues("undecodable").Inc()
			s.log().WithError(err).Debug("skipping an ARI event ari/v5 cannot decode")
			continue
		}
		s.handle(e)
	}
}

// handle routes one event. It runs on the websocket reader and must not
// block.
func (s *Server) handle(e ari.Event) {
	switch v := e.(type) {
	case *ari.StasisStart:
		s.Metrics.Events.WithLabelValues("routed").Inc()
		s.start(v)
		return
	case *ari.ApplicationReplaced:
		s.log().WithField("app", s.App).Error("another ARI connection took over the application: this process gets no new calls (two instances with the same App?)")
	}
	if s.router.dispatch(e) {
		s.Metrics.Events.WithLabelValues("routed").Inc()
	} else {
		s.Metrics.Events.WithLabelValues("unrouted").Inc()
	}
}

// start takes a channel that entered the application.
func (s *Server) start(e *ari.StasisStart) {
	ch := e.Channel
	st, warnings := ParseArgs(e.Args)
	s.mu.Lock()
	draining := s.draining
	var c *Call
	if !draining {
		c = newCall(s, s.callID(ch.ID), ch)
		rt := s.router.add(ch.ID)
		rt.mu.Lock()
		rt.hook = c.onEvent
		rt.mu.Unlock()
		c.rt = rt
		s.calls[c] = struct{}{}
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if draining {
		go s.reject(ch)
		return
	}
	s.Metrics.ActiveCalls.Inc()
	go s.serve(c, st, warnings, ch.State)
}

// callID returns the call id of channel id: the id itself the first time,
// then id-2, id-3... Called with s.mu held.
func (s *Server) callID(id string) string {
	n := s.recent[id] + 1
	if n == 1 {
		if len(s.ring) >= recentCalls {
			delete(s.recent, s.ring[0])
			s.ring = s.ring[1:]
		}
		s.ring = append(s.ring, id)
	}
	s.recent[id] = n
	if n == 1 {
		return id
	}
	return fmt.Sprintf("%s-%d", id, n)
}

// reject sends a call that arrived during shutdown back to the dialplan.
func (s *Server) reject(ch ari.ChannelData) {
	log := s.log().WithField("call_id", ch.ID)
	key := ari.NewKey(ari.ChannelKey, ch.ID)
	cl := s.client.Channel()
	err := cl.SetVariable(key, RejectVar, "shutdown")
	if err == nil {
		err = cl.Continue(key, "", "", 0) // the next priority after Stasis()
	}
	if err != nil {
		log.WithError(err).Warn("shutting down: could not send the call back to the dialplan; hanging up")
		_ = cl.Hangup(key, "congestion")
	} else {
		log.Info("shutting down: call sent back to the dialplan")
	}
	s.Metrics.Calls.WithLabelValues(OutcomeRejected).Inc()
}

// serve runs one call to its end.
func (s *Server) serve(c *Call, st flows.Start, warnings []string, state string) {
	t0 := time.Now()
	defer s.wg.Done()
	defer func() {
		s.router.remove(c.rt)
		c.rt.close()
		s.mu.Lock()
		delete(s.calls, c)
		s.mu.Unlock()
		s.Metrics.ActiveCalls.Dec()
	}()
	f := logrus.Fields{"channel": c.channel}
	if st.Entry != "" {
		f["entry"], f["agent_id"], f["number"], f["service"] = st.Entry, st.AgentID, unsubivr.MaskNumber(st.Number), st.Service
	}
	c.log.WithFields(f).Info("call started")
	for _, w := range warnings {
		c.log.Warn("stasis arguments: " + w)
	}
	if state != "Up" {
		if err := c.restErr("answer", s.client.Channel().Answer(c.key())); err != nil && !errors.Is(err, flows.ErrHangup) {
			c.log.WithError(err).Error("answer failed")
		}
	}

	ctx, cancel := context.WithCancel(s.callCtx)
	outcome := s.runHandler(ctx, c, st)
	cancel()

	if err := c.usable(); err == nil {
		if err := c.Hangup(context.Background()); err != nil && !errors.Is(err, flows.ErrHangup) {
			c.log.WithError(err).Warn("hang up after the flow failed")
		}
	}
	s.Metrics.Calls.WithLabelValues(outcome).Inc()
	c.log.WithFields(logrus.Fields{"outcome": outcome, "duration": time.Since(t0).Round(time.Millisecond).String()}).Info("call finished")
}

func (s *Server) runHandler(ctx context.Context, c *Call, st flows.Start) (outcome string) {
	defer func() {
		if r := recover(); r != nil {
			c.log.WithField("panic", fmt.Sprint(r)).WithField("stack", string(debug.Stack())).Error("call handler panicked")
			outcome = OutcomeError
		}
	}()
	outcome = s.Handler(ctx, c, st)
	if outcome == "" {
		outcome = "unknown"
	}
	return outcome
}

// reconcile runs after a reconnect: events may have been lost while the
// websocket was down. Calls whose channel is gone end; the others replay
// the prompt they were playing.
func (s *Server) reconcile() {
	s.mu.Lock()
	calls := make([]*Call, 0, len(s.calls))
	for c := range s.calls {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	for _, c := range calls {
		if _, err := s.client.Channel().Data(c.key()); err != nil {
			if code := ariCode(err); code == 404 {
				c.log.Info("channel gone while ARI was disconnected")
				c.markGone(errors.New("channel gone while ARI was disconnected"))
				continue
			}
			c.log.WithError(err).Warn("checking the channel after a reconnect failed")
		}
		c.resync()
	}
}
