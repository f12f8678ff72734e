package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gridmeter/internal/meterdata"
)

// ErrExists is returned when a record to create already exists under its key.
var ErrExists = errors.New("already exists")

// ErrInvalidCommand is wrapped by every error of Command.Validate and CommandUpdate.Validate,
// so that a caller can tell a refused command or report (its own mistake) from a failing
// store.
var ErrInvalidCommand = errors.New("invalid command")

// ErrInvalidPlan is wrapped by the errors of PutPlan and ReportPlan that refuse their input
// (a malformed terminal id, an empty or oversized body, an unknown report state, ...).
var ErrInvalidPlan = errors.New("invalid plan")

// Command states. A command moves forward only: pending → accepted → one final state
// (succeeded, failed, rejected, expired); pending may go straight to a final state. A final
// state never changes again.
const (
	CommandPending   = "pending"   // created by the head-end, not yet confirmed by the terminal
	CommandAccepted  = "accepted"  // the terminal has it durably and will execute it
	CommandSucceeded = "succeeded" // executed and confirmed (e.g. relay state read back)
	CommandFailed    = "failed"    // executed or tried, and failed: Reason says why
	CommandRejected  = "rejected"  // refused by the terminal without execution (malformed, unknown meter)
	CommandExpired   = "expired"   // not executed before its expiry
)

// CommandFinal reports whether state is a final command state.
func CommandFinal(state string) bool {
	switch state {
	case CommandSucceeded, CommandFailed, CommandRejected, CommandExpired:
		return true
	}
	return false
}

// Limits on a Command, a CommandUpdate and a Plan.
const (
	MaxCommandID     = 64   // bytes of Command.ID: [A-Za-z0-9_-]
	MaxCommandParams = 16   // entries of Command.Params, each name ≤ 64 and value ≤ 256 bytes
	MaxCommandReason = 1024 // bytes of CommandUpdate.Reason (and so of Command.Reason)

	MaxCommandAction     = 64   // bytes of Command.Action: [a-z_]
	MaxCommandParamName  = 64   // bytes of a Command.Params name
	MaxCommandParamValue = 256  // bytes of a Command.Params value
	MaxUserName          = 256  // bytes of Command.IssuedBy and of PutPlan's createdBy
	MaxPlanReportError   = 1024 // bytes of ReportPlan's reason (Plan.ReportError)
)

// Command is an operator's command to one meter, carried out by its terminal. The head-end
// creates it pending; the terminal's reports move it on.
type Command struct {
	ID       string            // unique, assigned by the head-end: 1 to 64 bytes of A-Z a-z 0-9 _ -
	Terminal string            // the meter's terminal (meterdata.ValidateTerminalID)
	Meter    meterdata.MeterID // the target meter: a well-formed id whose terminal is Terminal
	// Action names what to do: relay_open, relay_close, read_now, set_param, time_sync,
	// freeze, ... The set is open: the store checks only the form, 1 to 64 bytes of a-z and _.
	Action string
	// Params are the action's parameters: at most 16, each name 1 to 64 bytes and value at
	// most 256 bytes, both valid UTF-8 without NUL. Nil or empty is stored as none and read
	// back as nil.
	Params   map[string]string
	IssuedBy string    // the operator's login: 1 to 256 bytes of valid UTF-8 without NUL
	Issued   time.Time // creation; in meterdata.EarliestTime..LatestTime; stored UTC at the millisecond
	Expires  time.Time // not to be executed after this; in range too, and after Issued at the millisecond
	State    string    // one of the Command* states
	Reason   string    // why it failed, was rejected or expired, as the last report said; "" otherwise
	// Result holds the figures of the outcome (read_now: the channels read; relay: status3;
	// time_sync: drift_ms), as the last report gave them; nil or empty stored as none, read
	// back as nil.
	Result  map[string]int64
	Updated time.Time // when State last changed: the At of the report that moved it (UTC, ms), or Issued
}

// Validate reports whether the command may be created, with an error wrapping
// ErrInvalidCommand that names the first field breaking the rules stated on Command. State,
// Reason, Result and Updated are not checked: CreateCommand ignores them.
func (c Command) Validate() error {
	if err := validID("id", c.ID); err != nil {
		return err
	}
	if err := meterdata.ValidateTerminalID(c.Terminal); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidCommand, err)
	}
	if err := c.Meter.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidCommand, err)
	}
	if got := c.Meter.Terminal(); got != c.Terminal {
		return fmt.Errorf("%w: meter %s: a meter of terminal %s, not of terminal %s", ErrInvalidCommand, c.Meter, got, c.Terminal)
	}
	if err := validAction(c.Action); err != nil {
		return err
	}
	if len(c.Params) > MaxCommandParams {
		return fmt.Errorf("%w: params: %d entries: want at most %d", ErrInvalidCommand, len(c.Params), MaxCommandParams)
	}
	for name, value := range c.Params {
		if err := validText(ErrInvalidCommand, "params name", name, true, MaxCommandParamName); err != nil {
			return err
		}
		if err := validText(ErrInvalidCommand, fmt.Sprintf("params %.80q value", name), value, false, MaxCommandParamValue); err != nil {
			return err
		}
	}
	if err := validText(ErrInvalidCommand, "issued_by", c.IssuedBy, true, MaxUserName); err != nil {
		return err
	}
	if err := validTime(ErrInvalidCommand, "issued", c.Issued); err != nil {
		return err
	}
	if err := validTime(ErrInvalidCommand, "expires", c.Expires); err != nil {
		return err
	}
	if c.Expires.UnixMilli() <= c.Issued.UnixMilli() {
		return fmt.Errorf("%w: expires %s: want after issued %s", ErrInvalidCommand, milli(c.Expires), milli(c.Issued))
	}
	return nil
}

// CommandQuery selects commands; the zero query selects every command (up to DefaultLimit).
type CommandQuery struct {
	Terminal string            // "" for any; else the commands whose Terminal is this
	Meter    meterdata.MeterID // "" for any; else the commands whose Meter is this
	Open     bool              // only commands not in a final state (pending or accepted)
	Limit    int               // at most this many, newest Issued first (then ID descending); 0 or less means DefaultLimit
}

// CommandUpdate is a terminal's report on a command.
type CommandUpdate struct {
	ID     string
	State  string // CommandAccepted or a final state; never CommandPending
	Reason string // at most 1,024 bytes of valid UTF-8 without NUL; may be ""
	// Result holds figures named as Event.Data's (1 to 64 bytes of a-z, 0-9 and _, at most
	// 64 of them); nil or empty is stored as none.
	Result map[string]int64
	At     time.Time // the report's time, in meterdata.EarliestTime..LatestTime; zero means now (the store's clock)
}

// Validate reports whether the report may be applied, with an error wrapping
// ErrInvalidCommand that names the first field breaking the rules stated on CommandUpdate
// (an ID not of Command.ID's form included). A zero At is not checked.
func (u CommandUpdate) Validate() error {
	if err := validID("id", u.ID); err != nil {
		return err
	}
	if u.State != CommandAccepted && !CommandFinal(u.State) {
		return fmt.Errorf("%w: state %.80q: want %q or a final state (%q, %q, %q, %q)", ErrInvalidCommand, u.State,
			CommandAccepted, CommandSucceeded, CommandFailed, CommandRejected, CommandExpired)
	}
	if err := validText(ErrInvalidCommand, "reason", u.Reason, false, MaxCommandReason); err != nil {
		return err
	}
	if len(u.Result) > MaxEventFigures {
		return fmt.Errorf("%w: %d result figures: want at most %d", ErrInvalidCommand, len(u.Result), MaxEventFigures)
	}
	for name := range u.Result {
		if err := validIdent(ErrInvalidCommand, "result name", name, MaxEventKind); err != nil {
			return err
		}
	}
	if !u.At.IsZero() {
		return validTime(ErrInvalidCommand, "at", u.At)
	}
	return nil
}

// CommandStore keeps operators' commands and their outcome.
type CommandStore interface {
	// CreateCommand stores a new command in state pending (State, Reason, Result and
	// Updated are ignored: Updated becomes Issued). ErrExists if the ID is taken (the stored
	// command is left as it is); the fields are checked (Command.Validate: ID form and
	// length, Terminal, Meter belonging to Terminal, Action 1–64 bytes of a-z and _, Params
	// limits, IssuedBy, Expires after Issued, both in meterdata.EarliestTime..LatestTime)
	// and a violation is refused with an error wrapping ErrInvalidCommand naming the field.
	// Of concurrent calls with one ID, exactly one succeeds.
	CreateCommand(ctx context.Context, c Command) error
	// UpdateCommand applies a report if it moves the command forward (pending → accepted,
	// pending or accepted → final) and returns the command as stored afterwards with
	// changed = true: State becomes u.State, Reason and Result the report's, Updated its At.
	// A report that would not move it forward (a repeat, an accepted after a final state, a
	// second final state) changes nothing: it returns the command as stored, changed =
	// false, no error. Of concurrent reports on one command, each move is applied at most
	// once: exactly one report brings it to a final state, and only that one gets changed
	// = true for it. ErrNotFound for an unknown ID; a report breaking
	// CommandUpdate.Validate is refused with an error wrapping ErrInvalidCommand.
	UpdateCommand(ctx context.Context, u CommandUpdate) (c Command, changed bool, err error)
	// Command returns one command; ErrNotFound if unknown.
	Command(ctx context.Context, id string) (Command, error)
	// Commands returns the commands matching q, newest Issued first, then ID descending.
	// Times are UTC.
	Commands(ctx context.Context, q CommandQuery) ([]Command, error)
}

// Plan report states (Plan.ReportState, ReportPlan's state).
const (
	PlanApplied  = "applied"  // the terminal runs the version
	PlanRejected = "rejected" // the terminal refused the version: ReportError says why
)

// Plan is a terminal's acquisition plan as the head-end keeps it: the versioned document it
// pushes to the terminal, and what the terminal last reported about it.
type Plan struct {
	Terminal  string
	Version   int64     // 1, 2, ... per terminal, assigned by PutPlan
	Body      []byte    // the plan document (JSON), stored and returned byte for byte
	Created   time.Time // when PutPlan stored it (the store's clock; UTC, milliseconds)
	CreatedBy string
	// What the terminal reported last: the version it runs (0 if none reported), and the
	// state of the newest version it reported on (PlanApplied or PlanRejected, "" if none)
	// with the reason and the report's time (UTC, milliseconds; zero if none). The report
	// fields belong to the terminal, not to a version: PutPlan keeps them.
	AppliedVersion int64
	ReportVersion  int64
	ReportState    string
	ReportError    string
	ReportedAt     time.Time
}

// MaxPlanBody bounds Plan.Body.
const MaxPlanBody = 1 << 20

// PlanStore keeps acquisition plans.
type PlanStore interface {
	// PutPlan stores a new version of a terminal's plan (the previous version + 1, 1 for the
	// first) and returns it, with the terminal's latest report; the terminal need not be
	// known, but its id must pass meterdata.ValidateTerminalID, and createdBy must be 1 to
	// MaxUserName bytes of valid UTF-8 without NUL. The version number is assigned
	// atomically: of concurrent calls, each gets its own number.
	//
	// build is called once, inside the transaction, with the version to assign and returns
	// the body to store (so the body can carry its own version); the body must be 1 byte to
	// MaxPlanBody. A nil build, a bad terminal or createdBy, or a bad body is refused with an
	// error wrapping ErrInvalidPlan; an error from build is returned wrapped. Either way
	// nothing is stored and the version is not used up. build runs while the store holds
	// the terminal's plan (the SQLite backend: its only writer), so it must be quick and
	// must not call the store.
	PutPlan(ctx context.Context, terminal, createdBy string, build func(version int64) ([]byte, error)) (Plan, error)
	// Plan returns the newest version of a terminal's plan with the latest report;
	// ErrNotFound if the terminal has none.
	Plan(ctx context.Context, terminal string) (Plan, error)
	// ReportPlan records a terminal's report on version: state PlanApplied (it runs
	// version) or PlanRejected (reason says why; at most MaxPlanReportError bytes of valid
	// UTF-8 without NUL), at the report's time at (zero means now, the store's clock; else
	// in meterdata.EarliestTime..LatestTime). A report on a version older than the last
	// reported one is ignored (nil error); one on the same version replaces it;
	// AppliedVersion only moves forward. ErrNotFound if the terminal has no plan or no such
	// version (version above its newest); a version below 1, an unknown state or a bad
	// reason or at is refused with an error wrapping ErrInvalidPlan.
	ReportPlan(ctx context.Context, terminal string, version int64, state, reason string, at time.Time) error
}

// TerminalEvent is an event as a terminal sent it: Seq is the terminal's event sequence
// number (strictly increasing per terminal, never reused).
type TerminalEvent struct {
	Seq uint64
	Event
}

// TerminalEventWriter stores terminals' events exactly once.
type TerminalEventWriter interface {
	// AppendTerminalEvents appends, in one transaction, the events of es whose Seq is above
	// the highest Seq stored for the terminal so far, and raises that mark to the greatest
	// Seq of es; events at or below the mark are skipped (resent, or older than an event
	// already stored). It returns how many were appended. The appended events are then
	// visible through EventStore.Events with Terminal set to terminal; their IDs grow in
	// the order given; a zero At means now, as for AppendEvents.
	//
	// terminal must pass meterdata.ValidateTerminalID; every event must pass Event.Validate
	// (its Terminal, if set, must be terminal; its Meter is not checked against terminal);
	// es must be in strictly increasing Seq order, each Seq 1 to math.MaxInt64; at most
	// MaxEventsPerCall events. Else the whole call is refused, with an error wrapping
	// ErrInvalidEvent naming the event by its index: nothing is appended and the mark stays.
	// On any other error (a cancelled ctx included) nothing is appended either. An empty es
	// appends nothing. Concurrent calls for one terminal are applied one after the other, so
	// an event resent by two of them is appended once.
	AppendTerminalEvents(ctx context.Context, terminal string, es []TerminalEvent) (int, error)
}

// validID checks a command id: 1 to MaxCommandID bytes of A-Z a-z 0-9 _ -.
func validID(what, s string) error {
	ok := s != "" && len(s) <= MaxCommandID
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
	}
	if !ok {
		return fmt.Errorf("%w: %s %.80q: want 1 to %d bytes of A-Z a-z 0-9 _ -", ErrInvalidCommand, what, s, MaxCommandID)
	}
	return nil
}

// validAction checks a command action: 1 to MaxCommandAction bytes of a-z and _.
func validAction(s string) error {
	ok := s != "" && len(s) <= MaxCommandAction
	for i := 0; ok && i < len(s); i++ {
		ok = 'a' <= s[i] && s[i] <= 'z' || s[i] == '_'
	}
	if !ok {
		return fmt.Errorf("%w: action %.80q: want 1 to %d bytes of a-z and _", ErrInvalidCommand, s, MaxCommandAction)
	}
	return nil
}

// validText checks that s is at most maxLen bytes (and not empty if required) of valid
// UTF-8 without NUL (which PostgreSQL's text and jsonb cannot hold); what names the field in
// the error, which wraps sentinel.
func validText(sentinel error, what, s string, required bool, maxLen int) error {
	switch {
	case required && s == "":
		return fmt.Errorf("%w: empty %s", sentinel, what)
	case len(s) > maxLen:
		return fmt.Errorf("%w: %s of %d bytes: want at most %d", sentinel, what, len(s), maxLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s %.80q: not valid UTF-8", sentinel, what, s)
	case strings.IndexByte(s, 0) >= 0:
		return fmt.Errorf("%w: %s %.80q: contains a NUL byte", sentinel, what, s)
	}
	return nil
}

// validTime checks that t lies in meterdata.EarliestTime..LatestTime (a whole millisecond
// or not: the bounds are whole milliseconds, so the stored, truncated time does too).
func validTime(sentinel error, what string, t time.Time) error {
	if t.Before(meterdata.EarliestTime) || !t.Before(meterdata.LatestTime) {
		return fmt.Errorf("%w: %s %s: want %s <= %s < %s", sentinel, what, milli(t),
			meterdata.EarliestTime.Format("2006-01-02"), what, meterdata.LatestTime.Format("2006-01-02"))
	}
	return nil
}

// milli formats t as stored: UTC at the millisecond.
func milli(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// ValidatePlanPut checks the arguments of PutPlan but the body, with an error wrapping
// ErrInvalidPlan; the backends share it.
func ValidatePlanPut(terminal, createdBy string, build func(version int64) ([]byte, error)) error {
	if err := meterdata.ValidateTerminalID(terminal); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPlan, err)
	}
	if err := validText(ErrInvalidPlan, "created_by", createdBy, true, MaxUserName); err != nil {
		return err
	}
	if build == nil {
		return fmt.Errorf("%w: no build function to make the body", ErrInvalidPlan)
	}
	return nil
}

// ValidatePlanBody checks a body built for PutPlan: 1 byte to MaxPlanBody.
func ValidatePlanBody(body []byte) error {
	if len(body) == 0 || len(body) > MaxPlanBody {
		return fmt.Errorf("%w: body of %d bytes: want 1 to %d", ErrInvalidPlan, len(body), MaxPlanBody)
	}
	return nil
}

// ValidatePlanReport checks the arguments of ReportPlan, with an error wrapping
// ErrInvalidPlan; a zero at is not checked.
func ValidatePlanReport(terminal string, version int64, state, reason string, at time.Time) error {
	if err := meterdata.ValidateTerminalID(terminal); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPlan, err)
	}
	if version < 1 {
		return fmt.Errorf("%w: version %d: want 1 or more", ErrInvalidPlan, version)
	}
	if state != PlanApplied && state != PlanRejected {
		return fmt.Errorf("%w: report state %.80q: want %q or %q", ErrInvalidPlan, state, PlanApplied, PlanRejected)
	}
	if err := validText(ErrInvalidPlan, "reason", reason, false, MaxPlanReportError); err != nil {
		return err
	}
	if !at.IsZero() {
		return validTime(ErrInvalidPlan, "at", at)
	}
	return nil
}
