package flowstest

import "github.com/unsubivr/unsubivr"

// Case is one scripted call of the default flow (flows/unsubscribe.yaml)
// against the demo data, with what it must leave behind. The engine tests
// run every Case on the fake; the integration tests place the same calls
// through Asterisk with SIPp, so both paths are held to the same truth.
type Case struct {
	Name     string
	Caller   string
	Keys     string // script as in ParseScript
	Entry    string // "" for the hotline, "agent" for an agent transfer
	Number   string // agent entry: the customer number
	AgentID  string
	Service  string // agent entry: the preset service
	Outcome  string // the call log outcome
	Cancels  []string
	Channel  unsubivr.Channel // of the record, when Cancels is set
	Transfer bool             // ends at the agent destination
}

// Cases are the contract calls of the default flow. Each starts from fresh
// demo data. In the scripts, the first token answers the welcome menu
// ("for English press 9"): t lets it time out into Chinese.
var Cases = []Case{
	{Name: "CancelOne", Caller: "13800138000", Keys: "t 1 1 h",
		Outcome: "cancelled", Cancels: []string{"CRBT"}, Channel: unsubivr.ChannelIVR},
	{Name: "CancelMarketingPurges", Caller: "13800138000", Keys: "t 2 1 h",
		Outcome: "cancelled", Cancels: []string{"BLUE_DIAMOND"}, Channel: unsubivr.ChannelIVR},
	{Name: "CancelAll", Caller: "13800138000", Keys: "t 8 1 h",
		Outcome: "cancelled", Cancels: []string{"BLUE_DIAMOND", "CRBT"}, Channel: unsubivr.ChannelIVR},
	{Name: "English", Caller: "13900139000", Keys: "9 1 1 h",
		Outcome: "cancelled", Cancels: []string{"VRBT"}, Channel: unsubivr.ChannelIVR},
	{Name: "UnknownCallerNumberAndPassword", Caller: "anonymous", Keys: "t 13900139000# 654321# 1 1 h",
		Outcome: "cancelled", Cancels: []string{"VRBT"}, Channel: unsubivr.ChannelIVR},
	{Name: "UnknownCallerNoTerminator", Caller: "anonymous", Keys: "t 13900139000 654321 1 1 h",
		Outcome: "cancelled", Cancels: []string{"VRBT"}, Channel: unsubivr.ChannelIVR},
	{Name: "ThreeWrongPasswordsLock", Caller: "anonymous", Keys: "t 13900139000# 000000# 000001# 000002#",
		Outcome: "transferred", Transfer: true},
	{Name: "HangupBeforeConfirm", Caller: "13800138000", Keys: "t 1 h",
		Outcome: "abandoned"},
	{Name: "BackThenHangup", Caller: "13800138000", Keys: "t 1 2 h",
		Outcome: "abandoned"},
	{Name: "InvalidKeysExhausted", Caller: "13800138000", Keys: "t 5 6 7",
		Outcome: "transferred", Transfer: true},
	{Name: "SilenceExhausted", Caller: "13800138000", Keys: "t t t t",
		Outcome: "transferred", Transfer: true},
	{Name: "PressZeroForAgent", Caller: "13800138000", Keys: "t 0",
		Outcome: "transferred", Transfer: true},
	{Name: "NoActiveServices", Caller: "13700137000", Keys: "t t t",
		Outcome: "no_services"},
	{Name: "AgentTransferPresetService", Entry: "agent", Caller: "13800138000", Number: "13800138000", AgentID: "A001", Service: "CRBT",
		Keys: "1 h", Outcome: "cancelled", Cancels: []string{"CRBT"}, Channel: unsubivr.ChannelAgent},
	{Name: "AgentTransferNoService", Entry: "agent", Caller: "13800138000", Number: "13900139000", AgentID: "A002",
		Keys: "1 1 h", Outcome: "cancelled", Cancels: []string{"VRBT"}, Channel: unsubivr.ChannelAgent},
}
