package message

import (
	"encoding/json"
	"fmt"
	"regexp"

	"gridmeter/internal/meterdata"
)

// Command topics.
const (
	DownCommand  = "down/cmd"        // QoS 1, not retained: Command
	UpCmdResult  = "up/cmd-result"   // QoS 1, not retained: CommandResult (accepted, then final)
	DownConfig   = "down/config"     // QoS 1, retained: Plan
	UpConfig     = "up/config"       // QoS 1, retained: ConfigReport
	UpEvents     = "up/events"       // QoS 1, not retained: EventBatch
	DownEventAck = "down/events-ack" // QoS 1, not retained: EventAck
)

// Command actions.
const (
	ActionRelayOpen  = "relay_open"  // trip the meter's relay; succeeded once status word 3 reads it open
	ActionRelayClose = "relay_close" // close (or allow closing) the relay; confirmed by status word 3
	ActionReadNow    = "read_now"    // read the meter's current values now; Values carries them
	ActionSetParam   = "set_param"   // write a meter parameter: Params {"param": ..., "value": ...}
	ActionTimeSync   = "time_sync"   // set the meter's clock to the terminal's; Values carries drift_ms before
	ActionFreeze     = "freeze"      // make the meter freeze its registers now (instant freeze)
)

// Actions lists the command actions.
var Actions = []string{ActionRelayOpen, ActionRelayClose, ActionReadNow, ActionSetParam, ActionTimeSync, ActionFreeze}

// Parameters a set_param command may write (Params["param"]), with the form of their value.
var SetParams = map[string]string{
	"settlement_day": "DDhh: day 01-28 and hour 00-23 of the monthly settlement, e.g. 0100",
}

// Command result states (see storage's command states).
const (
	CmdAccepted  = "accepted"
	CmdSucceeded = "succeeded"
	CmdFailed    = "failed"
	CmdRejected  = "rejected"
	CmdExpired   = "expired"
)

// Limits on commands.
const (
	MaxCommandParams = 16
	maxParamName     = 64
	maxParamValue    = 256
	MaxResultValues  = 64
)

var commandIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Command is published QoS 1 on a terminal's DownCommand by the head-end. The head-end
// publishes it again (same ID) until it has the final result; a terminal that has the ID
// already answers with the command's current state instead of running it twice.
type Command struct {
	V       int               `json:"v"`
	ID      string            `json:"id"`
	Meter   meterdata.MeterID `json:"meter"`
	Action  string            `json:"action"`
	Params  map[string]string `json:"params,omitempty"`
	Issued  Time              `json:"issued"`
	Expires Time              `json:"expires"` // not to be executed after this instant
}

// Encode marshals the command.
func (c Command) Encode() ([]byte, error) {
	c.V = Version
	return json.Marshal(c)
}

// ValidateCommandID checks a command id: 1 to 64 bytes of A-Z, a-z, 0-9, _ and -.
func ValidateCommandID(id string) error {
	if !commandIDPattern.MatchString(id) {
		return fmt.Errorf("id %.80q: want 1 to 64 of A-Z a-z 0-9 _ -", id)
	}
	return nil
}

// DecodeCommand decodes and validates a command received on terminal's DownCommand.
// Errors name the field; an error after the id was read carries the id in the returned
// command, so the terminal can report the refusal against it.
func DecodeCommand(terminal string, p []byte) (Command, error) {
	var c Command
	if err := decodeStrict("command", p, &c, func() int { return c.V }); err != nil {
		return Command{}, err
	}
	if err := ValidateCommandID(c.ID); err != nil {
		return Command{}, fmt.Errorf("command: %w", err)
	}
	fail := func(format string, a ...any) (Command, error) {
		return Command{ID: c.ID}, fmt.Errorf("command %s: "+format, append([]any{c.ID}, a...)...)
	}
	if err := c.Meter.Validate(); err != nil {
		return fail("meter: %w", err)
	}
	if t := c.Meter.Terminal(); t != terminal {
		return fail("meter %q: not a meter of terminal %q", string(c.Meter), terminal)
	}
	if err := checkTime("issued", c.Issued); err != nil {
		return fail("%w", err)
	}
	if err := checkTime("expires", c.Expires); err != nil {
		return fail("%w", err)
	}
	if len(c.Params) == 0 {
		c.Params = nil
	}
	if !c.Expires.After(c.Issued.Time) {
		return fail("expires %s: not after issued %s", c.Expires.Format(timeLayout), c.Issued.Format(timeLayout))
	}
	if len(c.Params) > MaxCommandParams {
		return fail("params: %d, at most %d", len(c.Params), MaxCommandParams)
	}
	for k, v := range c.Params {
		if k == "" || len(k) > maxParamName || len(v) > maxParamValue {
			return fail("params[%.80q]: name 1 to %d bytes, value at most %d", k, maxParamName, maxParamValue)
		}
	}
	switch c.Action {
	case ActionRelayOpen, ActionRelayClose, ActionReadNow, ActionTimeSync, ActionFreeze:
		if len(c.Params) > 0 {
			return fail("action %s takes no params", c.Action)
		}
	case ActionSetParam:
		name := c.Params["param"]
		if _, ok := SetParams[name]; !ok {
			return fail("params.param %.80q: want one of %v", name, setParamNames())
		}
		if _, ok := c.Params["value"]; !ok || len(c.Params) != 2 {
			return fail("action set_param takes exactly params.param and params.value")
		}
	default:
		return fail("action %.80q: want one of %v", c.Action, Actions)
	}
	return c, nil
}

func setParamNames() []string {
	var ns []string
	for n := range SetParams {
		ns = append(ns, n)
	}
	return ns
}

// CommandResult is published QoS 1 on UpCmdResult: once with State accepted when the
// terminal has the command durably, then once with the final state; again whenever the
// head-end re-sends the command. The head-end keeps the first final state.
type CommandResult struct {
	V        int               `json:"v"`
	Terminal string            `json:"terminal"`
	ID       string            `json:"id"`
	Meter    meterdata.MeterID `json:"meter,omitempty"`
	Action   string            `json:"action,omitempty"`
	State    string            `json:"state"`
	Reason   string            `json:"reason,omitempty"`
	Time     Time              `json:"time"`             // when the state was reached
	Values   map[string]int64  `json:"values,omitempty"` // read_now: channels; relay: status3; time_sync: drift_ms
}

// Final reports whether the result's state is final.
func (r CommandResult) Final() bool { return r.State != CmdAccepted }

// Encode marshals the result, shortening an over-long reason.
func (r CommandResult) Encode() ([]byte, error) {
	r.V = Version
	if len(r.Reason) > maxErrorMessage {
		r.Reason = r.Reason[:maxErrorMessage]
	}
	return json.Marshal(r)
}

// DecodeCommandResult decodes and validates a result received on terminal's UpCmdResult.
func DecodeCommandResult(terminal string, p []byte) (CommandResult, error) {
	var r CommandResult
	if err := decodeStrict("command result", p, &r, func() int { return r.V }); err != nil {
		return CommandResult{}, err
	}
	if r.Terminal != terminal {
		return CommandResult{}, fmt.Errorf("command result: terminal %q does not match topic terminal %q", r.Terminal, terminal)
	}
	if err := ValidateCommandID(r.ID); err != nil {
		return CommandResult{}, fmt.Errorf("command result: %w", err)
	}
	switch r.State {
	case CmdAccepted, CmdSucceeded, CmdFailed, CmdRejected, CmdExpired:
	default:
		return CommandResult{}, fmt.Errorf("command result %s: state %.80q: want accepted, succeeded, failed, rejected or expired", r.ID, r.State)
	}
	if err := checkTime("time", r.Time); err != nil {
		return CommandResult{}, fmt.Errorf("command result %s: %w", r.ID, err)
	}
	if len(r.Values) == 0 {
		r.Values = nil
	}
	if len(r.Reason) > maxErrorMessage {
		return CommandResult{}, fmt.Errorf("command result %s: reason: longer than %d bytes", r.ID, maxErrorMessage)
	}
	if len(r.Values) > MaxResultValues {
		return CommandResult{}, fmt.Errorf("command result %s: values: %d, at most %d", r.ID, len(r.Values), MaxResultValues)
	}
	for k := range r.Values {
		if k == "" || len(k) > maxParamName {
			return CommandResult{}, fmt.Errorf("command result %s: values[%.80q]: name 1 to %d bytes", r.ID, k, maxParamName)
		}
	}
	return r, nil
}
