package message

import (
	"encoding/json"
	"fmt"
	"time"

	"gridmeter/internal/meterdata"
)

// Meter working states in a plan.
const (
	MeterActive   = "active"   // polled
	MeterInactive = "inactive" // kept in the inventory, not polled (disconnected, being exchanged)
)

// Plan is the acquisition plan the head-end pushes to a terminal: published QoS 1 and
// retained on the terminal's DownConfig, so a terminal gets the newest version whenever it
// connects. The terminal applies a version above the one it runs without restarting, keeps
// it across restarts, and reports the outcome on UpConfig. A field left out keeps the
// terminal's own configuration; the buses themselves (ports, gateways) stay the terminal's.
type Plan struct {
	V           int              `json:"v"`
	Terminal    string           `json:"terminal"`
	Version     int64            `json:"version"` // 1, 2, ...: the terminal applies only a newer one
	Issued      Time             `json:"issued"`
	Acquisition *PlanAcquisition `json:"acquisition,omitempty"`
	// Meters, when present, replaces the terminal's meter list: every meter on a bus the
	// terminal has; at most 255 per bus.
	Meters []PlanMeter `json:"meters"`
}

// PlanAcquisition holds the polling intervals per data kind, as Go durations ("15m"); an
// empty string keeps the terminal's own setting, "0s" disables a kind (not instant values).
type PlanAcquisition struct {
	InstantInterval     string `json:"instant_interval,omitempty"`      // current values (V, I, P, Q, PF, f, energy); ≥ 1s
	DailyFrozenInterval string `json:"daily_frozen_interval,omitempty"` // check for daily frozen values (表底)
	SettlementInterval  string `json:"settlement_interval,omitempty"`   // check for settlement (previous-month) values
	StatusInterval      string `json:"status_interval,omitempty"`       // status words
}

// PlanMeter is one meter in a plan.
type PlanMeter struct {
	Bus         string `json:"bus"`
	Address     string `json:"address"`
	Description string `json:"description,omitempty"`
	// CTRatio and PTRatio are the instrument transformer ratios (primary/secondary, e.g. 200/5
	// A → 40, 10 kV/100 V → 100); 0 means 1. Readings stay as the meter reports them
	// (secondary); the ratios travel with the plan for billing and display.
	CTRatio int `json:"ct_ratio,omitempty"`
	PTRatio int `json:"pt_ratio,omitempty"`
	// PulseConstant is the meter's pulse constant (imp/kWh), informational.
	PulseConstant int    `json:"pulse_constant,omitempty"`
	State         string `json:"state,omitempty"` // active (default) or inactive
}

// Encode marshals the plan.
func (p Plan) Encode() ([]byte, error) {
	p.V = Version
	return json.Marshal(p)
}

// Intervals parses the plan's intervals; a zero Duration with ok false means "keep".
type Intervals struct {
	Instant, DailyFrozen, Settlement, Status       time.Duration
	HasInstant, HasDailyFrozen, HasSettle, HasStat bool
}

// Intervals returns the plan's parsed intervals (validated by DecodePlan).
func (p Plan) Intervals() Intervals {
	var iv Intervals
	if a := p.Acquisition; a != nil {
		iv.Instant, iv.HasInstant = parseInterval(a.InstantInterval)
		iv.DailyFrozen, iv.HasDailyFrozen = parseInterval(a.DailyFrozenInterval)
		iv.Settlement, iv.HasSettle = parseInterval(a.SettlementInterval)
		iv.Status, iv.HasStat = parseInterval(a.StatusInterval)
	}
	return iv
}

func parseInterval(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}

// ValidatePlan checks a plan's fields, naming the first one that is wrong. Bus existence
// is the terminal's check.
func ValidatePlan(p Plan) error {
	if err := meterdata.ValidateTerminalID(p.Terminal); err != nil {
		return fmt.Errorf("plan: terminal: %w", err)
	}
	if p.Version < 1 {
		return fmt.Errorf("plan: version %d: want 1 or more", p.Version)
	}
	if a := p.Acquisition; a != nil {
		for _, f := range []struct {
			name, v string
			min     time.Duration
		}{
			{"acquisition.instant_interval", a.InstantInterval, time.Second},
			{"acquisition.daily_frozen_interval", a.DailyFrozenInterval, 0},
			{"acquisition.settlement_interval", a.SettlementInterval, 0},
			{"acquisition.status_interval", a.StatusInterval, 0},
		} {
			if f.v == "" {
				continue
			}
			d, err := time.ParseDuration(f.v)
			switch {
			case err != nil:
				return fmt.Errorf("plan v%d: %s %.40q: want a duration such as 15m", p.Version, f.name, f.v)
			case d < 0 || d > 31*24*time.Hour:
				return fmt.Errorf("plan v%d: %s %s: want 0s to 744h", p.Version, f.name, f.v)
			case d != 0 && d < time.Second, f.min > 0 && d < f.min:
				return fmt.Errorf("plan v%d: %s %s: want at least 1s", p.Version, f.name, f.v)
			case d%time.Second != 0:
				return fmt.Errorf("plan v%d: %s %s: want whole seconds", p.Version, f.name, f.v)
			}
		}
	}
	if len(p.Meters) > MaxMetersLen {
		return fmt.Errorf("plan v%d: meters: %d, at most %d", p.Version, len(p.Meters), MaxMetersLen)
	}
	seen := make(map[meterdata.MeterID]bool, len(p.Meters))
	for i, m := range p.Meters {
		id, err := meterdata.NewMeterID(p.Terminal, m.Bus, m.Address)
		if err != nil {
			return fmt.Errorf("plan v%d: meters[%d]: %w", p.Version, i, err)
		}
		if seen[id] {
			return fmt.Errorf("plan v%d: meters[%d] %s: listed twice", p.Version, i, id)
		}
		seen[id] = true
		switch {
		case len(m.Description) > 256:
			return fmt.Errorf("plan v%d: meters[%d] %s: description longer than 256 bytes", p.Version, i, id)
		case m.CTRatio < 0 || m.CTRatio > 100000:
			return fmt.Errorf("plan v%d: meters[%d] %s: ct_ratio %d: want 1 to 100000 (0 = 1)", p.Version, i, id, m.CTRatio)
		case m.PTRatio < 0 || m.PTRatio > 100000:
			return fmt.Errorf("plan v%d: meters[%d] %s: pt_ratio %d: want 1 to 100000 (0 = 1)", p.Version, i, id, m.PTRatio)
		case m.PulseConstant < 0 || m.PulseConstant > 1000000:
			return fmt.Errorf("plan v%d: meters[%d] %s: pulse_constant %d: want 0 to 1000000", p.Version, i, id, m.PulseConstant)
		}
		switch m.State {
		case "", MeterActive, MeterInactive:
		default:
			return fmt.Errorf("plan v%d: meters[%d] %s: state %.40q: want active or inactive", p.Version, i, id, m.State)
		}
	}
	return nil
}

// DecodePlan decodes and validates a plan received on terminal's DownConfig.
func DecodePlan(terminal string, p []byte) (Plan, error) {
	var pl Plan
	if err := decodeStrict("plan", p, &pl, func() int { return pl.V }); err != nil {
		return Plan{}, err
	}
	if pl.Terminal != terminal {
		return Plan{}, fmt.Errorf("plan: terminal %q does not match topic terminal %q", pl.Terminal, terminal)
	}
	if err := checkTime("plan: issued", pl.Issued); err != nil {
		return Plan{Version: pl.Version}, err
	}
	if err := ValidatePlan(pl); err != nil {
		return Plan{Version: pl.Version}, err
	}
	return pl, nil
}

// Config report states.
const (
	ConfigApplied  = "applied"
	ConfigRejected = "rejected"
)

// ConfigReport is published QoS 1, retained, on UpConfig: the plan version the terminal
// runs, and the outcome of the newest version it received.
type ConfigReport struct {
	V        int    `json:"v"`
	Terminal string `json:"terminal"`
	Applied  int64  `json:"applied"` // version running; 0 = the terminal's own configuration
	Version  int64  `json:"version"` // the version this report is about
	State    string `json:"state"`   // applied or rejected
	Error    string `json:"error,omitempty"`
	Time     Time   `json:"time"`
}

// Encode marshals the report.
func (r ConfigReport) Encode() ([]byte, error) {
	r.V = Version
	if len(r.Error) > maxErrorMessage {
		r.Error = r.Error[:maxErrorMessage]
	}
	return json.Marshal(r)
}

// DecodeConfigReport decodes and validates a report received on terminal's UpConfig.
func DecodeConfigReport(terminal string, p []byte) (ConfigReport, error) {
	var r ConfigReport
	if err := decodeStrict("config report", p, &r, func() int { return r.V }); err != nil {
		return ConfigReport{}, err
	}
	if r.Terminal != terminal {
		return ConfigReport{}, fmt.Errorf("config report: terminal %q does not match topic terminal %q", r.Terminal, terminal)
	}
	if r.Applied < 0 || r.Version < 0 {
		return ConfigReport{}, fmt.Errorf("config report: applied %d, version %d: want 0 or more", r.Applied, r.Version)
	}
	switch r.State {
	case ConfigApplied, ConfigRejected:
	default:
		return ConfigReport{}, fmt.Errorf("config report: state %.40q: want applied or rejected", r.State)
	}
	if err := checkTime("config report: time", r.Time); err != nil {
		return ConfigReport{}, err
	}
	return r, nil
}

// Event kinds a terminal reports.
const (
	EventPowerDown     = "power_down"     // the meter recorded a supply loss (its own record)
	EventPowerRestored = "power_restored" // ... and its end
	EventMeterSilent   = "meter_silent"   // the terminal lost the meter
	EventMeterAnswers  = "meter_answers"  // ... and regained it
	EventGap           = "gap"            // readings the meter no longer keeps: Data from_ms/to_ms, Message the kind
)

// Limits on events.
const MaxEventBatch = 1000

// Event is one event on the wire.
type Event struct {
	Seq     uint64            `json:"seq"`
	Meter   meterdata.MeterID `json:"meter,omitempty"`
	Time    Time              `json:"time"`
	Kind    string            `json:"kind"`
	Message string            `json:"message,omitempty"`
	Data    map[string]int64  `json:"data,omitempty"`
}

// EventBatch is published QoS 1 on UpEvents: events in their terminal's sequence order. Like
// readings, they are kept by the terminal until the head-end's EventAck.
type EventBatch struct {
	V        int     `json:"v"`
	Terminal string  `json:"terminal"`
	Events   []Event `json:"events"`
}

// Encode marshals the batch.
func (b EventBatch) Encode() ([]byte, error) {
	b.V = Version
	return json.Marshal(b)
}

// DecodeEventBatch decodes and validates an event batch received on terminal's UpEvents.
func DecodeEventBatch(terminal string, p []byte) (EventBatch, error) {
	var b EventBatch
	if err := decodeStrict("event batch", p, &b, func() int { return b.V }); err != nil {
		return EventBatch{}, err
	}
	if b.Terminal != terminal {
		return EventBatch{}, fmt.Errorf("event batch: terminal %q does not match topic terminal %q", b.Terminal, terminal)
	}
	if len(b.Events) == 0 || len(b.Events) > MaxEventBatch {
		return EventBatch{}, fmt.Errorf("event batch: events: %d, want 1 to %d", len(b.Events), MaxEventBatch)
	}
	var prev uint64
	for i, e := range b.Events {
		if e.Seq <= prev {
			return EventBatch{}, fmt.Errorf("event batch: events[%d].seq %d: not above the previous %d", i, e.Seq, prev)
		}
		prev = e.Seq
		if e.Meter != "" {
			if err := e.Meter.Validate(); err != nil {
				return EventBatch{}, fmt.Errorf("event batch: events[%d]: %w", i, err)
			}
			if e.Meter.Terminal() != terminal {
				return EventBatch{}, fmt.Errorf("event batch: events[%d].meter %q: not a meter of terminal %q", i, string(e.Meter), terminal)
			}
		}
		switch e.Kind {
		case EventPowerDown, EventPowerRestored, EventMeterSilent, EventMeterAnswers, EventGap:
		default:
			return EventBatch{}, fmt.Errorf("event batch: events[%d].kind %.40q: unknown", i, e.Kind)
		}
		if err := checkTime(fmt.Sprintf("event batch: events[%d].time", i), e.Time); err != nil {
			return EventBatch{}, err
		}
		if len(e.Data) == 0 {
			b.Events[i].Data = nil
		}
		if len(e.Message) > maxErrorMessage || len(e.Data) > 16 {
			return EventBatch{}, fmt.Errorf("event batch: events[%d]: message at most %d bytes, data at most 16 figures", i, maxErrorMessage)
		}
		for k := range e.Data {
			if k == "" || len(k) > maxParamName {
				return EventBatch{}, fmt.Errorf("event batch: events[%d].data[%.40q]: name 1 to %d bytes", i, k, maxParamName)
			}
		}
	}
	return b, nil
}

// EventAck is published QoS 1 on DownEventAck after the head-end stored a terminal's events
// durably: the terminal releases every event up to LastSeq.
type EventAck struct {
	V       int    `json:"v"`
	LastSeq uint64 `json:"last_seq"`
}

// Encode marshals the ack.
func (a EventAck) Encode() ([]byte, error) {
	a.V = Version
	return json.Marshal(a)
}

// DecodeEventAck decodes and validates an event ack.
func DecodeEventAck(p []byte) (EventAck, error) {
	var a EventAck
	if err := decodeStrict("event ack", p, &a, func() int { return a.V }); err != nil {
		return EventAck{}, err
	}
	if a.LastSeq == 0 {
		return EventAck{}, fmt.Errorf("event ack: last_seq 0: want 1 or more")
	}
	return a, nil
}

// checkTime refuses a time outside meterdata.EarliestTime..LatestTime (a missing one too).
func checkTime(what string, t Time) error {
	if t.Before(meterdata.EarliestTime) || !t.Before(meterdata.LatestTime) {
		return fmt.Errorf("%s %s: missing or out of range (want %s to %s)", what, t.Format(timeLayout),
			meterdata.EarliestTime.Format("2006"), meterdata.LatestTime.Format("2006"))
	}
	return nil
}
