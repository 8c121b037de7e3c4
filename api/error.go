package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/sirupsen/logrus"

	"github.com/unsubivr/unsubivr"
)

// reply is a finished answer: an HTTP status and its JSON body. It is what
// an idempotency key keeps.
type reply struct {
	status int
	body   []byte
}

// statusOf maps error codes to HTTP statuses.
var statusOf = map[string]int{
	unsubivr.EINVALID:      http.StatusBadRequest,
	unsubivr.EUNAUTHORIZED: http.StatusUnauthorized,
	unsubivr.ENOTFOUND:     http.StatusNotFound,
	unsubivr.ECONFLICT:     http.StatusConflict,
	unsubivr.ELOCKED:       http.StatusLocked,
	unsubivr.EINTERNAL:     http.StatusInternalServerError,
}

// statusError asks for a status other than its code's (413 for a body
// that is too large, still with code "invalid").
type statusError struct {
	status int
	err    *unsubivr.Error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// errorBody is the JSON of every error response.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// errorReply turns err into its response: the status of its code and
// {"error":{"code","message"}}. It is the only place error codes become
// HTTP statuses, and it logs internal errors, and only those.
func (s *server) errorReply(r *http.Request, err error) reply {
	code := unsubivr.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		code, status = unsubivr.EINTERNAL, http.StatusInternalServerError
	}
	var se *statusError
	if errors.As(err, &se) {
		status = se.status
	}
	if code == unsubivr.EINTERNAL {
		s.logInternal(r, err)
	}
	var body errorBody
	body.Error.Code = code
	body.Error.Message = unsubivr.ErrorMessage(err)
	return reply{status, mustJSON(body)}
}

// logInternal logs an internal error of r with the request id and route,
// never the path, which holds phone numbers.
func (s *server) logInternal(r *http.Request, err error) {
	fields := logrus.Fields{"request_id": requestID(r), "method": r.Method, "route": r.Pattern}
	if n := r.PathValue("number"); n != "" {
		fields["number"] = unsubivr.MaskNumber(n)
	}
	s.log.WithFields(fields).WithError(err).Error("api: internal error")
}

// writeError writes the response of err.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	write(w, s.errorReply(r, err))
}

// okReply is a 200 with v as JSON.
func okReply(v any) reply { return reply{http.StatusOK, mustJSON(v)} }

// write sends rep.
func write(w http.ResponseWriter, rep reply) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(rep.status)
	w.Write(rep.body)
}

// mustJSON encodes v, which is always one of this package's response
// types, without escaping <, > and & (the replies carry text for people).
func mustJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("api: encode response: " + err.Error())
	}
	return b.Bytes()
}

// errInvalid is a 400 "invalid" error.
func errInvalid(format string, args ...any) error {
	return unsubivr.Errorf(unsubivr.EINVALID, format, args...)
}
