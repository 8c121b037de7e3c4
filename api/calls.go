package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/db"
)

// callJSON is a call log as the API shows it.
type callJSON struct {
	CallID      string               `json:"call_id"`
	Caller      string               `json:"caller"`
	Number      string               `json:"number,omitempty"`
	AgentID     string               `json:"agent_id,omitempty"`
	Language    unsubivr.Language    `json:"language"`
	FlowVersion string               `json:"flow_version"`
	StartedAt   time.Time            `json:"started_at"`
	EndedAt     time.Time            `json:"ended_at"`
	Outcome     string               `json:"outcome"`
	Trace       []unsubivr.CallEvent `json:"trace,omitempty"`
}

func toCallJSON(l unsubivr.CallLog, trace bool) callJSON {
	c := callJSON{CallID: l.CallID, Caller: l.Caller, Number: l.Number, AgentID: l.AgentID, Language: l.Language,
		FlowVersion: l.FlowVersion, StartedAt: l.StartedAt.UTC(), EndedAt: l.EndedAt.UTC(), Outcome: l.Outcome}
	if trace {
		c.Trace = l.Trace
	}
	return c
}

// GET /v1/calls?number=N&since=T&limit=L — newest first, without traces.
func (s *server) listCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := db.CallLogFilter{Number: q.Get("number"), Limit: 50}
	if f.Number != "" && !unsubivr.ValidNumber(f.Number) {
		s.writeError(w, r, unsubivr.Errorf(unsubivr.EINVALID, "number must be 11 digits"))
		return
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			s.writeError(w, r, unsubivr.Errorf(unsubivr.EINVALID, "since must be an RFC 3339 time"))
			return
		}
		f.Since = t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			s.writeError(w, r, unsubivr.Errorf(unsubivr.EINVALID, "limit must be 1 to 500"))
			return
		}
		f.Limit = n
	}
	logs, err := s.store.CallLogs(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := struct {
		Calls []callJSON `json:"calls"`
	}{Calls: []callJSON{}}
	for _, l := range logs {
		out.Calls = append(out.Calls, toCallJSON(l, false))
	}
	write(w, okReply(out))
}

// GET /v1/calls/{id} — one call with its timeline.
func (s *server) getCall(w http.ResponseWriter, r *http.Request) {
	l, err := s.store.CallLog(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	write(w, okReply(toCallJSON(*l, true)))
}
