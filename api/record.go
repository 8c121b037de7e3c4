package api

import (
	"net/http"
	"time"

	"github.com/unsubivr/unsubivr"
)

// recordJSON is the answer of GET /v1/records/{code}.
type recordJSON struct {
	Code      string           `json:"code"`
	Number    string           `json:"number"`
	Services  []string         `json:"services"`
	Channel   unsubivr.Channel `json:"channel"`
	CallID    string           `json:"call_id,omitempty"`
	AgentID   string           `json:"agent_id,omitempty"`
	Consent   unsubivr.Consent `json:"consent"`
	Purged    bool             `json:"purged"`
	CreatedAt time.Time        `json:"created_at"`
}

// GET /v1/records/{code}
func (s *server) getRecord(w http.ResponseWriter, r *http.Request) {
	rec, err := s.store.RecordByCode(r.Context(), r.PathValue("code"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	write(w, okReply(recordJSON{
		Code: rec.Code, Number: rec.Number, Services: rec.Services, Channel: rec.Channel,
		CallID: rec.CallID, AgentID: rec.AgentID, Consent: rec.Consent, Purged: rec.Purged,
		CreatedAt: rec.CreatedAt.UTC(),
	}))
}
