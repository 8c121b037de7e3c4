package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/unsubivr/unsubivr"
)

// maxConsent is the longest consent note a cancel body may carry, in
// characters.
const maxConsent = 500

// serviceJSON is one of a subscriber's services.
type serviceJSON struct {
	Code          string     `json:"code"`
	ShortName     string     `json:"short_name"`
	NameZh        string     `json:"name_zh"`
	NameEn        string     `json:"name_en"`
	MonthlyFeeFen int64      `json:"monthly_fee_fen"`
	Kind          string     `json:"kind"`
	PurgeOnCancel bool       `json:"purge_on_cancel"`
	Status        string     `json:"status"` // active or cancelled
	SubscribedAt  time.Time  `json:"subscribed_at"`
	CancelledAt   *time.Time `json:"cancelled_at"`          // null while active
	CancelCode    string     `json:"cancel_code,omitempty"` // the record that cancelled it
}

// servicesJSON is the answer of GET /v1/subscribers/{number}/services.
type servicesJSON struct {
	Number   string        `json:"number"`
	Services []serviceJSON `json:"services"`
}

// cancelJSON is the answer of a cancel.
type cancelJSON struct {
	Outcome     unsubivr.Outcome `json:"outcome"`        // cancelled, already_cancelled, nothing_active
	Code        string           `json:"code,omitempty"` // the record's confirmation code
	Services    []string         `json:"services"`
	Purged      bool             `json:"purged"`
	Channel     unsubivr.Channel `json:"channel,omitempty"`
	CancelledAt *time.Time       `json:"cancelled_at,omitempty"`
}

func cancelResult(res unsubivr.Result) cancelJSON {
	out := cancelJSON{Outcome: res.Outcome, Code: res.Record.Code, Services: res.Record.Services,
		Purged: res.Record.Purged, Channel: res.Record.Channel}
	if out.Services == nil {
		out.Services = []string{}
	}
	if !res.Record.CreatedAt.IsZero() {
		t := res.Record.CreatedAt.UTC()
		out.CancelledAt = &t
	}
	return out
}

// cancelBody is the optional body of a cancel.
type cancelBody struct {
	// Consent is evidence of the customer's request to keep with the
	// record (a screen id, a ticket): free text.
	Consent string `json:"consent"`
}

// cancelRequest is a validated cancel: the canonical form of its request.
type cancelRequest struct {
	Number  string `json:"number"`
	Service string `json:"service,omitempty"` // "" for all
	Consent string `json:"consent,omitempty"`
}

// GET /v1/subscribers/{number}/services
func (s *server) listServices(w http.ResponseWriter, r *http.Request) {
	number := r.PathValue("number")
	if err := checkNumber(number); err != nil {
		s.writeError(w, r, err)
		return
	}
	hs, err := s.store.Subscriptions(r.Context(), number)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := servicesJSON{Number: number, Services: make([]serviceJSON, len(hs))}
	for i, h := range hs {
		svc := h.Service
		out.Services[i] = serviceJSON{
			Code: svc.Code, ShortName: svc.ShortName, NameZh: svc.NameZh, NameEn: svc.NameEn,
			MonthlyFeeFen: svc.MonthlyFeeFen, Kind: string(svc.Kind), PurgeOnCancel: svc.PurgeOnCancel,
			Status: h.Status, SubscribedAt: h.SubscribedAt.UTC(), CancelledAt: h.CancelledAt, CancelCode: h.CancelCode,
		}
	}
	write(w, okReply(out))
}

// POST /v1/subscribers/{number}/services/{code}/cancel
func (s *server) cancelOne(w http.ResponseWriter, r *http.Request) {
	req, key, err := s.readCancel(w, r, true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.post(w, r, key, req, func(ctx context.Context) (any, error) {
		res, err := s.store.Unsubscribe(ctx, s.domainRequest(r, req, key))
		if err != nil {
			return nil, err
		}
		out := cancelResult(res)
		// The service asked about, also when the earlier record was a
		// cancel-all (and whatever a wrapping store did to the record):
		// GET /v1/records/{code} has the whole record.
		out.Services = []string{req.Service}
		return out, nil
	})
}

// POST /v1/subscribers/{number}/cancel-all
func (s *server) cancelAll(w http.ResponseWriter, r *http.Request) {
	req, key, err := s.readCancel(w, r, false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.post(w, r, key, req, func(ctx context.Context) (any, error) {
		res, err := s.store.UnsubscribeAll(ctx, s.domainRequest(r, req, key))
		if err != nil {
			return nil, err
		}
		return cancelResult(res), nil
	})
}

// readCancel reads and validates a cancel: the number, the service code
// if one (it must be in the catalogue; matched without regard to case),
// the idempotency key and the optional JSON body.
func (s *server) readCancel(w http.ResponseWriter, r *http.Request, one bool) (cancelRequest, string, error) {
	req := cancelRequest{Number: r.PathValue("number")}
	if err := checkNumber(req.Number); err != nil {
		return req, "", err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return req, "", err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return req, "", err
	}
	if len(bytes.TrimSpace(body)) > 0 {
		var b cancelBody
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
			return req, "", errInvalid("malformed JSON body: %s", jsonProblem(err))
		}
		if dec.More() {
			return req, "", errInvalid("malformed JSON body: more than one value")
		}
		if utf8.RuneCountInString(b.Consent) > maxConsent {
			return req, "", errInvalid("consent longer than %d characters", maxConsent)
		}
		req.Consent = strings.TrimSpace(b.Consent)
	}
	if one {
		svc, err := s.service(r.Context(), r.PathValue("code"))
		if err != nil {
			return req, "", err
		}
		req.Service = svc.Code
	}
	return req, key, nil
}

// service returns the catalogue's service with code (any case). Returns
// EINVALID for a code not in the catalogue.
func (s *server) service(ctx context.Context, code string) (unsubivr.Service, error) {
	svcs, err := s.store.Services(ctx)
	if err != nil {
		return unsubivr.Service{}, err
	}
	for _, svc := range svcs {
		if strings.EqualFold(svc.Code, code) {
			return svc, nil
		}
	}
	return unsubivr.Service{}, errInvalid("unknown service code %q", truncate(code, 40))
}

// domainRequest is the store's request for req, with the channel and the
// consent evidence of the API: the idempotency key, or else the request
// id, and the caller's note.
func (s *server) domainRequest(r *http.Request, req cancelRequest, key string) unsubivr.Request {
	ref := key
	if ref == "" {
		ref = requestID(r)
	}
	text := "api request " + ref
	if req.Consent != "" {
		text += ": " + req.Consent
	}
	return unsubivr.Request{Number: req.Number, ServiceCode: req.Service, Channel: unsubivr.ChannelAPI,
		Consent: unsubivr.Consent{Text: text}}
}

// checkNumber returns EINVALID unless number is a valid mobile number.
func checkNumber(number string) error {
	if !unsubivr.ValidNumber(number) {
		return errInvalid("malformed phone number: want 11 digits starting with 1")
	}
	return nil
}

// jsonProblem describes a decoding error without echoing the input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "syntax error at byte " + strconv.FormatInt(syn.Offset, 10)
	case errors.As(err, &typ) && typ.Field != "":
		return "field " + typ.Field + " must be a " + typ.Type.String()
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "not a JSON object"
}

// truncate cuts s to at most n runes, for messages.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
