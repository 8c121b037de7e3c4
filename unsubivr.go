// Package unsubivr holds the domain of the unsubscribe hotline: subscribers,
// value-added services, subscriptions, unsubscribe records, and the service
// interfaces that the flow engine, the HTTP API and the SMS channel use.
//
// It imports nothing of this module. The db package implements Store on
// SQLite; the flows package drives calls against it; ivr adapts Asterisk.
package unsubivr

import (
	"context"
	"regexp"
	"time"
)

// Language is a BCP 47 tag of a language the hotline speaks.
type Language string

// The languages the hotline speaks. ZhCN is the default.
const (
	ZhCN Language = "zh-CN"
	EnUS Language = "en-US"
)

// Languages lists every language the hotline speaks, default first.
var Languages = []Language{ZhCN, EnUS}

// Valid reports whether l is one of Languages.
func (l Language) Valid() bool {
	for _, x := range Languages {
		if l == x {
			return true
		}
	}
	return false
}

// Channel is where an unsubscribe came from. It is stored on every record.
type Channel string

// The channels a customer can cancel through.
const (
	ChannelIVR   Channel = "ivr"   // the hotline, caller alone
	ChannelAgent Channel = "agent" // the hotline, transferred in by an agent
	ChannelAPI   Channel = "api"   // the app / HTTP API
	ChannelSMS   Channel = "sms"   // an SMS keyword
)

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool {
	switch c {
	case ChannelIVR, ChannelAgent, ChannelAPI, ChannelSMS:
		return true
	}
	return false
}

// ServiceKind classifies a value-added service.
type ServiceKind string

// The kinds of service. Cancelling a KindMarketing service deletes the
// subscriber's marketing profile (PIPL).
const (
	KindRingback  ServiceKind = "ringback"
	KindVideo     ServiceKind = "video"
	KindMarketing ServiceKind = "marketing"
)

// Subscriber is a phone customer of the carrier.
type Subscriber struct {
	ID       int64
	Number   string   // 11-digit mobile number, digits only
	Language Language // preferred language of prompts and SMS
}

// Service is a value-added service a subscriber can hold.
type Service struct {
	Code          string // stable upper-case code, e.g. "CRBT"
	ShortName     string // SMS short name, e.g. "CL" (may be empty)
	NameZh        string
	NameEn        string
	MonthlyFeeFen int64 // monthly fee in fen (1/100 yuan)
	Kind          ServiceKind
	PurgeOnCancel bool // cancelling deletes the subscriber's marketing data
}

// Name returns the service's name in lang.
func (s Service) Name(lang Language) string {
	if lang == EnUS && s.NameEn != "" {
		return s.NameEn
	}
	return s.NameZh
}

// Subscription status values.
const (
	StatusActive    = "active"
	StatusCancelled = "cancelled"
)

// Subscription is one service held by one subscriber.
type Subscription struct {
	ID           int64
	Service      Service
	Status       string
	SubscribedAt time.Time
	CancelledAt  *time.Time
}

// Consent is the evidence that the customer asked for a cancel: for a call,
// the prompt ids played before the confirmation and the key that confirmed;
// for other channels, what was received (an SMS text, an API request id).
type Consent struct {
	Prompts []string `json:"prompts,omitempty"`
	Key     string   `json:"key,omitempty"`
	Text    string   `json:"text,omitempty"`
}

// Record is the durable trace of one confirmed cancel: one service, or
// every service cancelled at once by UnsubscribeAll, under one code.
type Record struct {
	ID        int64
	Code      string // digits-only confirmation code, unique, read to the caller
	Number    string
	Services  []string // codes of the services it cancelled
	Channel   Channel
	CallID    string
	AgentID   string
	Consent   Consent
	Purged    bool // the subscriber's marketing data was deleted with it
	CreatedAt time.Time
}

// Request asks to cancel one service (ServiceCode set) or every active one.
type Request struct {
	Number      string
	ServiceCode string
	Channel     Channel
	CallID      string
	AgentID     string
	Consent     Consent
}

// Outcome says what a cancel did.
type Outcome string

// The outcomes of a cancel.
const (
	Cancelled        Outcome = "cancelled"         // cancelled now; Record is new
	AlreadyCancelled Outcome = "already_cancelled" // cancelled before; Record is the original
	NothingActive    Outcome = "nothing_active"    // UnsubscribeAll found nothing to cancel; no Record
)

// Result is the answer to one cancel.
type Result struct {
	Outcome Outcome
	Record  Record
}

// CallEvent is one step of a call's timeline.
type CallEvent struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"` // node, prompt, key, timeout, invalid, action, transfer, hangup, error
	Node   string    `json:"node,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// CallLog is what is kept of every call, whatever its outcome.
type CallLog struct {
	CallID      string
	Caller      string
	Number      string // the identified subscriber, if any
	AgentID     string
	Language    Language
	FlowVersion string
	StartedAt   time.Time
	EndedAt     time.Time
	Outcome     string
	Trace       []CallEvent
}

// Store is the subscription store every channel uses.
type Store interface {
	// Subscriber returns the subscriber with number.
	// Returns ENOTFOUND if there is none, EINVALID if number is malformed.
	Subscriber(ctx context.Context, number string) (*Subscriber, error)

	// ActiveSubscriptions lists number's active subscriptions, ordered by
	// subscription time. Returns ENOTFOUND for an unknown subscriber.
	ActiveSubscriptions(ctx context.Context, number string) ([]Subscription, error)

	// Unsubscribe cancels req.ServiceCode for req.Number in one transaction:
	// status, record, outbox events and, for a purging service, the
	// marketing data. Cancelling an already cancelled subscription returns
	// AlreadyCancelled with the original record and writes nothing.
	// Returns ENOTFOUND for an unknown subscriber or a service the number
	// never held, EINVALID for a malformed request.
	Unsubscribe(ctx context.Context, req Request) (Result, error)

	// UnsubscribeAll cancels every active subscription of req.Number in one
	// transaction (一键退订) under one record and one code. With nothing
	// active it returns NothingActive and writes nothing.
	UnsubscribeAll(ctx context.Context, req Request) (Result, error)

	// VerifyPassword checks number's service password. Returns EUNAUTHORIZED
	// for a wrong password and ELOCKED while the number is locked after
	// too many failures.
	VerifyPassword(ctx context.Context, number, password string) error

	// SetLanguage stores number's preferred language.
	SetLanguage(ctx context.Context, number string, lang Language) error

	// RecordByCode returns the record with confirmation code.
	// Returns ENOTFOUND if there is none.
	RecordByCode(ctx context.Context, code string) (*Record, error)

	// SaveCallLog stores the log of a finished call.
	SaveCallLog(ctx context.Context, log CallLog) error
}

var numberRE = regexp.MustCompile(`^1[3-9][0-9]{9}$`)

// ValidNumber reports whether s is an 11-digit mainland China mobile number.
func ValidNumber(s string) bool { return numberRE.MatchString(s) }

// MaskNumber hides all but the last four digits of a phone number, for logs.
func MaskNumber(s string) string {
	if len(s) <= 4 {
		return "****"
	}
	b := []byte(s)
	for i := 0; i < len(b)-4; i++ {
		b[i] = '*'
	}
	return string(b)
}
