package flows

import (
	"context"
	"errors"
	"time"
)

// ErrHangup is returned by every Call method once the caller has hung up.
var ErrHangup = errors.New("flows: caller hung up")

// Clip is one audio file of a prompt and the text it speaks.
// File is relative to the prompt root, without extension: "zh-CN/welcome".
type Clip struct {
	File string
	Text string
}

// MatchResult is what a digit matcher says of the digits received so far.
type MatchResult int

// The answers of a matcher; they mirror ari/v5 ext/play's.
const (
	Incomplete MatchResult = iota // need more digits
	Complete                      // digits form a valid answer
	Invalid                       // digits can never form a valid answer
)

// Gather asks a Call to play clips and, when Match is set, collect digits.
type Gather struct {
	// Clips play in order. With BargeIn, a key ends the playback and is
	// taken as the first digit.
	Clips   []Clip
	BargeIn bool

	// Match judges the digits collected so far. Nil means play only: the
	// Call returns once the clips have played (or, with BargeIn, at the
	// first key, which it returns in Input.Digits).
	Match func(digits string) MatchResult

	// FirstDigit is how long to wait after the clips for a first key;
	// InterDigit how long between keys.
	FirstDigit time.Duration
	InterDigit time.Duration
}

// InputStatus says how a Gather ended.
type InputStatus int

// How a Gather ends.
const (
	Matched InputStatus = iota // Match said Complete
	NoMatch                    // Match said Invalid, or the inter-digit timeout struck with Incomplete digits
	NoInput                    // no key before the first-digit timeout
	Played                     // play only: the clips played (Digits holds a barge-in key, if any)
)

func (s InputStatus) String() string {
	switch s {
	case Matched:
		return "matched"
	case NoMatch:
		return "nomatch"
	case NoInput:
		return "noinput"
	case Played:
		return "played"
	}
	return "unknown"
}

// Input is what a Gather collected.
type Input struct {
	Digits string
	Status InputStatus
}

// Transfer asks a Call to leave the flow for a human agent.
type Transfer struct {
	Destination string            // the flow's name for it, e.g. "agent"
	Vars        map[string]string // channel variables for the agent: UNSUB_NUMBER, UNSUB_SERVICE...
}

// Call is what the engine drives: one phone call, or anything that behaves
// like one (the terminal simulator, the scripted fake in flowstest).
// Every method returns ErrHangup once the caller is gone.
type Call interface {
	// ID identifies the call in logs and records.
	ID() string
	// Caller is the calling number as presented (may be empty or malformed).
	Caller() string
	// Prompt plays g.Clips and collects digits as g says.
	Prompt(ctx context.Context, g Gather) (Input, error)
	// Transfer hands the call to an agent; the engine is done with it after.
	Transfer(ctx context.Context, t Transfer) error
	// Hangup ends the call.
	Hangup(ctx context.Context) error
}
