package api

import (
	"bytes"
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/db"
)

// smsMessage is an inbound SMS as a gateway posts it, as JSON or as a
// form. Other fields are ignored: gateways add their own.
type smsMessage struct {
	From      string `json:"from"`
	Text      string `json:"text"`
	MessageID string `json:"message_id,omitempty"` // the gateway's id; a retry carries the same
}

// smsJSON is the answer of POST /v1/sms/inbound.
type smsJSON struct {
	Action string `json:"action"`         // one of the action* constants
	Reply  string `json:"reply"`          // the SMS sent back to the sender, through the outbox
	Code   string `json:"code,omitempty"` // a record's confirmation code, when the reply gives one
}

// What an SMS did (smsJSON.Action).
const (
	actionList              = "list"               // listed the active services with their reply codes
	actionCancelled         = "cancelled"          // cancelled now; Reply is the confirmation SMS
	actionAlreadyCancelled  = "already_cancelled"  // that service was cancelled before
	actionNothingActive     = "nothing_active"     // nothing active to list or cancel
	actionNotSubscribed     = "not_subscribed"     // a known service the sender never held
	actionHelp              = "help"               // not a keyword, or an unknown service
	actionUnknownSubscriber = "unknown_subscriber" // a keyword from a number that is no subscriber
)

// POST /v1/sms/inbound
//
// Always 200 with a reply for a well-formed webhook, whatever the text
// says; 400 only for a missing or malformed sender; 5xx when the store
// fails (the gateway should retry). The reply goes out through the
// outbox: a cancel's confirmation is queued by the store in the cancel's
// transaction, and every other reply is queued here.
func (s *server) smsInbound(w http.ResponseWriter, r *http.Request) {
	msg, key, err := s.readSMS(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id := requestID(r)
	s.post(w, r, key, msg, func(ctx context.Context) (any, error) {
		return s.answerSMS(ctx, msg, id)
	})
}

// readSMS reads the webhook: a form (application/x-www-form-urlencoded)
// or JSON, with from and text. from may carry the country code (+86,
// 0086, 86). The idempotency key is the Idempotency-Key header, else
// "sms:" and the message_id.
func (s *server) readSMS(w http.ResponseWriter, r *http.Request) (smsMessage, string, error) {
	var msg smsMessage
	key, err := idempotencyKey(r)
	if err != nil {
		return msg, "", err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return msg, "", err
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return msg, "", errInvalid("malformed form body")
		}
		msg = smsMessage{From: form.Get("from"), Text: form.Get("text"), MessageID: form.Get("message_id")}
	} else {
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(&msg); err != nil {
			return msg, "", errInvalid("malformed JSON body: %s", jsonProblem(err))
		}
		if dec.More() {
			return msg, "", errInvalid("malformed JSON body: more than one value")
		}
	}
	msg.From = senderNumber(msg.From)
	switch {
	case msg.From == "":
		return msg, "", errInvalid("from is required")
	case !unsubivr.ValidNumber(msg.From):
		return msg, "", errInvalid("from is not a mobile number")
	}
	msg.Text = strings.ToValidUTF8(msg.Text, "\uFFFD")
	if key == "" && msg.MessageID != "" {
		key = "sms:" + msg.MessageID
		if err := checkKey(key); err != nil {
			return msg, "", errInvalid("message_id: %s", unsubivr.ErrorMessage(err))
		}
	}
	return msg, key, nil
}

// senderNumber trims from and strips a mainland country code.
func senderNumber(from string) string {
	from = strings.TrimSpace(from)
	for _, cc := range []string{"+86", "0086", "86"} {
		if rest, ok := strings.CutPrefix(from, cc); ok && len(rest) == 11 {
			return rest
		}
	}
	return from
}

// answerSMS does what msg asks and returns the reply, queued in the
// outbox unless it is a cancel's confirmation (the store queued that one).
// id names the queued reply.
func (s *server) answerSMS(ctx context.Context, msg smsMessage, id string) (smsJSON, error) {
	cmd := parseCommand(msg.Text)
	lang := unsubivr.ZhCN
	known := true
	sub, err := s.store.Subscriber(ctx, msg.From)
	switch {
	case unsubivr.ErrorCode(err) == unsubivr.ENOTFOUND:
		known = false
	case err != nil:
		return smsJSON{}, err
	case sub.Language.Valid():
		lang = sub.Language
	}
	catalogue, err := s.store.Services(ctx)
	if err != nil {
		return smsJSON{}, err
	}
	t := texts[lang]

	var ans smsJSON
	switch {
	case cmd.kind == cmdHelp:
		ans = smsJSON{Action: actionHelp, Reply: t.help(catalogue)}
	case !known:
		ans = smsJSON{Action: actionUnknownSubscriber, Reply: t.unknownSubscriber}
	case cmd.kind == cmdList:
		subs, err := s.store.ActiveSubscriptions(ctx, msg.From)
		if err != nil {
			return smsJSON{}, err
		}
		if len(subs) == 0 {
			ans = smsJSON{Action: actionNothingActive, Reply: t.nothingActive}
			break
		}
		svcs := make([]unsubivr.Service, len(subs))
		for i, sub := range subs {
			svcs[i] = sub.Service
		}
		ans = smsJSON{Action: actionList, Reply: t.list(svcs)}
	case cmd.kind == cmdAll:
		res, err := s.store.UnsubscribeAll(ctx, smsRequest(msg, ""))
		if err != nil {
			return smsJSON{}, err
		}
		if res.Outcome == unsubivr.NothingActive {
			ans = smsJSON{Action: actionNothingActive, Reply: t.nothingActive}
			break
		}
		ans = confirmation(lang, res.Record, catalogue)
	default: // cmdOne
		svc, ok := findService(catalogue, cmd.arg)
		if !ok {
			ans = smsJSON{Action: actionHelp, Reply: t.unknownService + t.help(catalogue)}
			break
		}
		res, err := s.store.Unsubscribe(ctx, smsRequest(msg, svc.Code))
		switch {
		case unsubivr.ErrorCode(err) == unsubivr.ENOTFOUND:
			ans = smsJSON{Action: actionNotSubscribed, Reply: t.notSubscribed(svc)}
		case err != nil:
			return smsJSON{}, err
		case res.Outcome == unsubivr.AlreadyCancelled:
			ans = smsJSON{Action: actionAlreadyCancelled, Reply: t.alreadyCancelled(svc, res.Record.Code), Code: res.Record.Code}
		default:
			ans = confirmation(lang, res.Record, catalogue)
		}
	}
	if ans.Action != actionCancelled {
		ans.Reply = t.prefix + ans.Reply
		if err := s.store.QueueSMS(ctx, msg.From, lang, ans.Reply, id); err != nil {
			return smsJSON{}, err
		}
	}
	return ans, nil
}

// smsRequest is the store's request for a cancel by msg: channel sms, the
// text as received for consent.
func smsRequest(msg smsMessage, service string) unsubivr.Request {
	return unsubivr.Request{Number: msg.From, ServiceCode: service, Channel: unsubivr.ChannelSMS,
		Consent: unsubivr.Consent{Text: msg.Text}}
}

// confirmation is the answer to a cancel that happened: the same text as
// the confirmation SMS the store queued with it.
func confirmation(lang unsubivr.Language, rec unsubivr.Record, catalogue []unsubivr.Service) smsJSON {
	svcs := make([]unsubivr.Service, len(rec.Services))
	for i, code := range rec.Services {
		svcs[i] = unsubivr.Service{Code: code, NameZh: code}
		for _, svc := range catalogue {
			if svc.Code == code {
				svcs[i] = svc
			}
		}
	}
	return smsJSON{Action: actionCancelled, Reply: db.ConfirmationText(lang, rec.Code, svcs), Code: rec.Code}
}
