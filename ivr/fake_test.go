package ivr

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// fakeAsterisk speaks enough ARI (REST and the event websocket) for the
// adapter: channels enter Stasis when a test says so, playbacks start at
// once and finish after clipLen unless stopped, and the test plays the
// caller (keys, hang-up).
type fakeAsterisk struct {
	t          *testing.T
	srv        *httptest.Server
	user, pass string

	mu        sync.Mutex
	clipLen   time.Duration
	ws        map[*websocket.Conn]chan struct{}
	channels  map[string]*fakeChannel
	playbacks map[string]*fakePlayback
	reqs      []string
	reqSignal chan struct{}
	refuseWS  bool
	delayPlay time.Duration
	// onPlayback, if set, is called after each PlaybackStarted ("playing")
	// and PlaybackFinished ("done") the fake sends; stopped tells a
	// playback that was stopped from one that played to its end.
	onPlayback func(ch, uri, state string, stopped bool)
}

type fakeChannel struct {
	id, caller string
	vars       map[string]string
	inStasis   bool
}

type fakePlayback struct {
	id, channel, uri string
	stop             chan struct{}
	done             bool
}

func newFakeAsterisk(t *testing.T) *fakeAsterisk {
	f := &fakeAsterisk{
		t: t, user: "unsubivr", pass: "secret", clipLen: 200 * time.Millisecond,
		ws: map[*websocket.Conn]chan struct{}{}, channels: map[string]*fakeChannel{},
		playbacks: map[string]*fakePlayback{}, reqSignal: make(chan struct{}, 1),
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serveHTTP))
	t.Cleanup(f.close)
	return f
}

func (f *fakeAsterisk) close() {
	f.dropWS()
	f.srv.Close()
}

// config returns a Config for f.
func (f *fakeAsterisk) config() Config {
	c := DefaultConfig()
	c.URL = f.srv.URL + "/ari"
	c.Password = f.pass
	c.ShutdownGrace = 2 * time.Second
	return c
}

func (f *fakeAsterisk) authorized(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	return ok && u == f.user && p == f.pass
}

func (f *fakeAsterisk) record(format string, args ...any) {
	f.mu.Lock()
	f.reqs = append(f.reqs, fmt.Sprintf(format, args...))
	f.mu.Unlock()
	select {
	case f.reqSignal <- struct{}{}:
	default:
	}
}

// requests returns the REST requests that changed something, as
// "play CH URI", "stop PB", "answer CH", "setvar CH K V", "continue CH C E P",
// "hangup CH REASON".
func (f *fakeAsterisk) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

// waitRequest waits until some request starts with prefix and returns it.
func (f *fakeAsterisk) waitRequest(prefix string, timeout time.Duration) string {
	f.t.Helper()
	deadline := time.After(timeout)
	for {
		for _, r := range f.requests() {
			if strings.HasPrefix(r, prefix) {
				return r
			}
		}
		select {
		case <-f.reqSignal:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			f.t.Fatalf("no request %q within %v; got %q", prefix, timeout, f.requests())
			return ""
		}
	}
}

// countRequests counts the requests starting with prefix.
func (f *fakeAsterisk) countRequests(prefix string) int {
	n := 0
	for _, r := range f.requests() {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func (f *fakeAsterisk) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"message": "Authentication required"}`)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/ari")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var body map[string]any
	if r.Body != nil {
		_ = json.NewDecoder(r.Body).Decode(&body)
	}
	str := func(k string) string { s, _ := body[k].(string); return s }
	switch {
	case path == "/events":
		f.mu.Lock()
		refuse := f.refuseWS
		f.mu.Unlock()
		if refuse {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		websocket.Handler(f.serveWS).ServeHTTP(w, r)
	case path == "/asterisk/info" && r.Method == http.MethodGet:
		io.WriteString(w, `{"system": {"version": "22.0.0-fake", "entity_id": "fake"}}`)
	case len(parts) == 2 && parts[0] == "channels" && r.Method == http.MethodGet:
		if f.channel(parts[1]) == nil {
			f.notFound(w, "Channel not found")
			return
		}
		fmt.Fprintf(w, `{"id": %q, "state": "Up"}`, parts[1])
	case len(parts) == 2 && parts[0] == "channels" && r.Method == http.MethodDelete:
		ch := f.channel(parts[1])
		if ch == nil {
			f.notFound(w, "Channel not found")
			return
		}
		f.record("hangup %s %s", ch.id, r.URL.Query().Get("reason"))
		w.WriteHeader(http.StatusNoContent)
		go f.hangup(ch.id)
	case len(parts) == 3 && parts[0] == "channels" && r.Method == http.MethodPost:
		ch := f.channel(parts[1])
		if ch == nil || !ch.inStasis {
			f.notFound(w, "Channel not found")
			return
		}
		switch parts[2] {
		case "answer":
			f.record("answer %s", ch.id)
		case "variable":
			f.mu.Lock()
			ch.vars[str("variable")] = str("value")
			f.mu.Unlock()
			f.record("setvar %s %s %s", ch.id, str("variable"), str("value"))
		case "continue":
			prio, _ := body["priority"].(float64)
			f.record("continue %s %s %s %d", ch.id, str("context"), str("extension"), int(prio))
			f.mu.Lock()
			ch.inStasis = false
			f.mu.Unlock()
			go f.send(map[string]any{"type": "StasisEnd", "channel": f.chanJSON(ch)})
		default:
			http.Error(w, "unknown", http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case len(parts) == 4 && parts[0] == "channels" && parts[2] == "play" && r.Method == http.MethodPost:
		ch := f.channel(parts[1])
		if ch == nil || !ch.inStasis {
			f.notFound(w, "Channel not found")
			return
		}
		pb := &fakePlayback{id: parts[3], channel: ch.id, uri: str("media"), stop: make(chan struct{})}
		f.mu.Lock()
		f.playbacks[pb.id] = pb
		clip, delay := f.clipLen, f.delayPlay
		f.mu.Unlock()
		f.record("play %s %s", ch.id, pb.uri)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id": %q, "media_uri": %q, "state": "queued"}`, pb.id, pb.uri)
		go f.runPlayback(pb, clip, delay)
	case len(parts) == 2 && parts[0] == "playbacks" && r.Method == http.MethodDelete:
		f.mu.Lock()
		pb := f.playbacks[parts[1]]
		f.mu.Unlock()
		f.record("stop %s", parts[1])
		if pb == nil || !f.stopPlayback(pb) {
			f.notFound(w, "Playback not found")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "not implemented: "+r.Method+" "+path, http.StatusNotImplemented)
	}
}

func (f *fakeAsterisk) notFound(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintf(w, `{"message": %q}`, msg)
}

func (f *fakeAsterisk) runPlayback(pb *fakePlayback, clip, delay time.Duration) {
	if delay > 0 {
		time.Sleep(delay)
	}
	f.send(map[string]any{"type": "PlaybackStarted", "playback": f.pbJSON(pb, "playing")})
	f.mu.Lock()
	hook := f.onPlayback
	f.mu.Unlock()
	if hook != nil {
		hook(pb.channel, pb.uri, "playing", false)
	}
	select {
	case <-time.After(clip):
		f.mu.Lock()
		done := pb.done
		pb.done = true
		f.mu.Unlock()
		if !done {
			f.send(map[string]any{"type": "PlaybackFinished", "playback": f.pbJSON(pb, "done")})
			if hook != nil {
				hook(pb.channel, pb.uri, "done", false)
			}
		}
	case <-pb.stop:
		if hook != nil {
			hook(pb.channel, pb.uri, "done", true)
		}
	}
}

// stopPlayback stops pb if it plays, reporting whether it did.
func (f *fakeAsterisk) stopPlayback(pb *fakePlayback) bool {
	f.mu.Lock()
	if pb.done {
		f.mu.Unlock()
		return false
	}
	pb.done = true
	close(pb.stop)
	f.mu.Unlock()
	f.send(map[string]any{"type": "PlaybackFinished", "playback": f.pbJSON(pb, "done")})
	return true
}

func (f *fakeAsterisk) pbJSON(pb *fakePlayback, state string) map[string]any {
	return map[string]any{"id": pb.id, "media_uri": pb.uri, "target_uri": "channel:" + pb.channel, "state": state}
}

func (f *fakeAsterisk) chanJSON(ch *fakeChannel) map[string]any {
	return map[string]any{"id": ch.id, "name": "PJSIP/sipp-" + ch.id, "state": "Ring",
		"caller": map[string]any{"name": "", "number": ch.caller}}
}

func (f *fakeAsterisk) channel(id string) *fakeChannel {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.channels[id]
}

func (f *fakeAsterisk) serveWS(ws *websocket.Conn) {
	done := make(chan struct{})
	f.mu.Lock()
	f.ws[ws] = done
	f.mu.Unlock()
	// read until the client goes away or the test drops the connection
	go func() {
		var b []byte
		for websocket.Message.Receive(ws, &b) == nil {
		}
		f.mu.Lock()
		if d, ok := f.ws[ws]; ok {
			delete(f.ws, ws)
			close(d)
		}
		f.mu.Unlock()
	}()
	<-done
	ws.Close()
}

// connected reports whether a websocket is open.
func (f *fakeAsterisk) connected() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ws) > 0
}

func (f *fakeAsterisk) waitConnected() {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f.connected() {
		if time.Now().After(deadline) {
			f.t.Fatal("the adapter did not connect")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dropWS closes every websocket, as a restart or a network cut would.
func (f *fakeAsterisk) dropWS() {
	f.mu.Lock()
	for ws, d := range f.ws {
		delete(f.ws, ws)
		close(d)
	}
	f.mu.Unlock()
}

// send writes an event to the websocket(s), in order.
func (f *fakeAsterisk) send(ev map[string]any) {
	ev["application"] = "unsub-ivr"
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	f.sendRaw(b)
}

func (f *fakeAsterisk) sendRaw(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ws := range f.ws {
		_ = websocket.Message.Send(ws, string(b))
	}
}

// call puts a new channel into Stasis with args.
func (f *fakeAsterisk) call(id, caller string, args ...string) {
	ch := &fakeChannel{id: id, caller: caller, vars: map[string]string{}, inStasis: true}
	f.mu.Lock()
	f.channels[id] = ch
	f.mu.Unlock()
	if args == nil {
		args = []string{}
	}
	f.send(map[string]any{"type": "StasisStart", "args": args, "channel": f.chanJSON(ch)})
}

// press sends keys, gap apart.
func (f *fakeAsterisk) press(id, keys string, gap time.Duration) {
	for i, k := range keys {
		if i > 0 && gap > 0 {
			time.Sleep(gap)
		}
		f.send(map[string]any{"type": "ChannelDtmfReceived", "digit": string(k), "duration_ms": 100,
			"channel": map[string]any{"id": id, "state": "Up"}})
	}
}

// hangup is the caller hanging up (or Asterisk after a DELETE).
func (f *fakeAsterisk) hangup(id string) {
	f.mu.Lock()
	ch := f.channels[id]
	delete(f.channels, id)
	var pbs []*fakePlayback
	for _, pb := range f.playbacks {
		if pb.channel == id && !pb.done {
			pbs = append(pbs, pb)
		}
	}
	f.mu.Unlock()
	if ch == nil {
		return
	}
	for _, pb := range pbs {
		f.stopPlayback(pb)
	}
	cj := f.chanJSON(ch)
	f.send(map[string]any{"type": "ChannelHangupRequest", "cause": 16, "channel": cj})
	if ch.inStasis {
		f.send(map[string]any{"type": "StasisEnd", "channel": cj})
	}
	f.send(map[string]any{"type": "ChannelDestroyed", "cause": 16, "cause_txt": "Normal Clearing", "channel": cj})
}

// vanish removes a channel without any event, as an Asterisk restart does.
func (f *fakeAsterisk) vanish(id string) {
	f.mu.Lock()
	delete(f.channels, id)
	f.mu.Unlock()
}

// playing returns the media playing on channel id now.
func (f *fakeAsterisk) playing(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, pb := range f.playbacks {
		if pb.channel == id && !pb.done {
			out = append(out, pb.uri)
		}
	}
	return out
}

// waitPlaying waits until uri plays on channel id.
func (f *fakeAsterisk) waitPlaying(id, uri string) {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, u := range f.playing(id) {
			if u == uri {
				return
			}
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s never played on %s; requests %q", uri, id, f.requests())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// setClip sets how long playbacks last.
func (f *fakeAsterisk) setClip(d time.Duration) {
	f.mu.Lock()
	f.clipLen = d
	f.mu.Unlock()
}
