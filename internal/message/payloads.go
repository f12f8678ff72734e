package message

import (
	"encoding/json"
	"fmt"

	"gridmeter/internal/meterdata"
)

// Reading is one reading on the wire.
type Reading struct {
	Seq     uint64            `json:"seq"`
	Meter   meterdata.MeterID `json:"meter"`
	Kind    meterdata.Kind    `json:"kind"`
	Time    Time              `json:"time"`
	Values  map[string]int64  `json:"values"`
	Quality meterdata.Quality `json:"quality"`
}

// ReadingBatch is published QoS 1 on UpReadings. Sequence numbers are the terminal's journal
// sequence: strictly increasing across batches and restarts, so the head-end can detect gaps.
// A batch the terminal re-sends after a reconnect carries the same numbers again.
type ReadingBatch struct {
	V          int       `json:"v"`
	Terminal   string    `json:"terminal"`
	FirstSeq   uint64    `json:"first_seq"`
	LastSeq    uint64    `json:"last_seq"`
	Historical bool      `json:"historical"` // sent from a backlog (journaled well before sending)
	Sent       Time      `json:"sent"`
	Readings   []Reading `json:"readings"`
}

// Encode marshals the batch.
func (b ReadingBatch) Encode() ([]byte, error) {
	b.V = Version
	return json.Marshal(b)
}

// DecodeReadingBatch decodes and validates a batch received on topic terminal's UpReadings.
// Every error names the field and, for a reading, its index, meter and kind.
func DecodeReadingBatch(terminal string, p []byte) (ReadingBatch, error) {
	var b ReadingBatch
	if err := decodeStrict("reading batch", p, &b, func() int { return b.V }); err != nil {
		return ReadingBatch{}, err
	}
	if b.Terminal != terminal {
		return ReadingBatch{}, fmt.Errorf("reading batch: terminal %q does not match topic terminal %q", b.Terminal, terminal)
	}
	if len(b.Readings) == 0 {
		return ReadingBatch{}, fmt.Errorf("reading batch seq %d..%d: readings: empty", b.FirstSeq, b.LastSeq)
	}
	if len(b.Readings) > MaxBatchLen {
		return ReadingBatch{}, fmt.Errorf("reading batch: readings: %d, at most %d", len(b.Readings), MaxBatchLen)
	}
	if b.FirstSeq == 0 || b.LastSeq < b.FirstSeq {
		return ReadingBatch{}, fmt.Errorf("reading batch: first_seq %d, last_seq %d: want 1 <= first_seq <= last_seq", b.FirstSeq, b.LastSeq)
	}
	var prev uint64
	for i, r := range b.Readings {
		if r.Seq <= prev {
			return ReadingBatch{}, fmt.Errorf("reading batch: readings[%d].seq %d: not above the previous %d", i, r.Seq, prev)
		}
		prev = r.Seq
		if r.Seq < b.FirstSeq || r.Seq > b.LastSeq {
			return ReadingBatch{}, fmt.Errorf("reading batch: readings[%d].seq %d outside first_seq..last_seq %d..%d", i, r.Seq, b.FirstSeq, b.LastSeq)
		}
		if t := r.Meter.Terminal(); t != terminal {
			return ReadingBatch{}, fmt.Errorf("reading batch: readings[%d].meter %q: not a meter of terminal %q", i, string(r.Meter), terminal)
		}
		if err := r.Domain().Validate(); err != nil {
			return ReadingBatch{}, fmt.Errorf("reading batch: readings[%d]: %w", i, err)
		}
	}
	if b.Readings[0].Seq != b.FirstSeq || prev != b.LastSeq {
		return ReadingBatch{}, fmt.Errorf("reading batch: first_seq..last_seq %d..%d does not match the readings' %d..%d", b.FirstSeq, b.LastSeq, b.Readings[0].Seq, prev)
	}
	return b, nil
}

// Domain converts a wire reading to the shared domain type.
func (r Reading) Domain() meterdata.Reading {
	return meterdata.Reading{Meter: r.Meter, Kind: r.Kind, Time: r.Time.Time, Values: r.Values, Quality: r.Quality}
}

// FromDomain converts a domain reading with its sequence number to the wire form.
func FromDomain(seq uint64, r meterdata.Reading) Reading {
	return Reading{Seq: seq, Meter: r.Meter, Kind: r.Kind, Time: Time{r.Time.UTC()}, Values: r.Values, Quality: r.Quality}
}

// Ack results.
const (
	AckStored   = "stored"   // durably stored (inserted, duplicate or conflict-logged): release the entries
	AckRejected = "rejected" // the batch is malformed and will never be stored: Error says why
)

// Ack is published QoS 1 on the terminal's DownAck after the head-end's durable commit of a
// batch (or its refusal). The terminal releases journal entries FirstSeq..LastSeq only on an
// Ack with Result "stored".
type Ack struct {
	V          int    `json:"v"`
	FirstSeq   uint64 `json:"first_seq"`
	LastSeq    uint64 `json:"last_seq"`
	Result     string `json:"result"`
	Inserted   int    `json:"inserted,omitempty"`
	Duplicates int    `json:"duplicates,omitempty"`
	Conflicts  int    `json:"conflicts,omitempty"`
	Error      string `json:"error,omitempty"`
}

// Encode marshals the ack, shortening an over-long error text.
func (a Ack) Encode() ([]byte, error) {
	a.V = Version
	if len(a.Error) > maxErrorMessage {
		a.Error = a.Error[:maxErrorMessage]
	}
	return json.Marshal(a)
}

// DecodeAck decodes and validates an ack.
func DecodeAck(p []byte) (Ack, error) {
	var a Ack
	if err := decodeStrict("ack", p, &a, func() int { return a.V }); err != nil {
		return Ack{}, err
	}
	if a.FirstSeq == 0 || a.LastSeq < a.FirstSeq {
		return Ack{}, fmt.Errorf("ack: first_seq %d, last_seq %d: want 1 <= first_seq <= last_seq", a.FirstSeq, a.LastSeq)
	}
	switch a.Result {
	case AckStored, AckRejected:
	default:
		return Ack{}, fmt.Errorf("ack: result %q: want %q or %q", a.Result, AckStored, AckRejected)
	}
	return a, nil
}

// Terminal states in Status.
const (
	StateOnline  = "online"
	StateOffline = "offline"
)

// Status is the terminal's retained status, published on connect; the broker publishes the
// same topic's last will (State offline) when the terminal disappears.
type Status struct {
	V        int    `json:"v"`
	Terminal string `json:"terminal"`
	State    string `json:"state"`
	Software string `json:"software,omitempty"`
	Time     *Time  `json:"time,omitempty"` // absent in the last will (the broker sends it later)
	// Checks is the terminal's self-check at start: its parts (journal, clock, buses,
	// meters) with their state. Absent until the check has run.
	Checks []Check `json:"checks,omitempty"`
	// PlanVersion is the acquisition plan version in force (0 or absent: the terminal's
	// own configuration).
	PlanVersion int64 `json:"plan_version,omitempty"`
}

// Check is one part of a terminal's self-check.
type Check struct {
	Name   string `json:"name"`             // "journal", "clock", "bus bus1", "meter T1.bus1.000000001001"
	OK     bool   `json:"ok"`               // false: the part is degraded; the terminal runs on without it
	Detail string `json:"detail,omitempty"` // what was found (error text, clock drift, ...)
}

// MaxChecks bounds a status's self-check list (a terminal has at most a few buses of 255 meters).
const MaxChecks = 4096

// Encode marshals the status.
func (s Status) Encode() ([]byte, error) {
	s.V = Version
	return json.Marshal(s)
}

// DecodeStatus decodes and validates a status received on terminal's UpStatus.
func DecodeStatus(terminal string, p []byte) (Status, error) {
	var s Status
	if err := decodeStrict("status", p, &s, func() int { return s.V }); err != nil {
		return Status{}, err
	}
	if s.Terminal != terminal {
		return Status{}, fmt.Errorf("status: terminal %q does not match topic terminal %q", s.Terminal, terminal)
	}
	switch s.State {
	case StateOnline, StateOffline:
	default:
		return Status{}, fmt.Errorf("status: state %q: want %q or %q", s.State, StateOnline, StateOffline)
	}
	if len(s.Software) > 64 {
		return Status{}, fmt.Errorf("status: software: longer than 64 bytes")
	}
	if len(s.Checks) > MaxChecks {
		return Status{}, fmt.Errorf("status: checks: %d, at most %d", len(s.Checks), MaxChecks)
	}
	for i, c := range s.Checks {
		if c.Name == "" || len(c.Name) > 128 || len(c.Detail) > 1024 {
			return Status{}, fmt.Errorf("status: checks[%d]: name must be 1 to 128 bytes and detail at most 1024", i)
		}
	}
	return s, nil
}

// Meters is the terminal's retained meter inventory.
type Meters struct {
	V        int               `json:"v"`
	Terminal string            `json:"terminal"`
	Meters   []meterdata.Meter `json:"meters"`
}

// Encode marshals the inventory.
func (m Meters) Encode() ([]byte, error) {
	m.V = Version
	return json.Marshal(m)
}

// DecodeMeters decodes and validates an inventory received on terminal's UpMeters.
func DecodeMeters(terminal string, p []byte) (Meters, error) {
	var m Meters
	if err := decodeStrict("meters", p, &m, func() int { return m.V }); err != nil {
		return Meters{}, err
	}
	if m.Terminal != terminal {
		return Meters{}, fmt.Errorf("meters: terminal %q does not match topic terminal %q", m.Terminal, terminal)
	}
	if len(m.Meters) > MaxMetersLen {
		return Meters{}, fmt.Errorf("meters: %d meters, at most %d", len(m.Meters), MaxMetersLen)
	}
	seen := make(map[meterdata.MeterID]bool, len(m.Meters))
	for i, mt := range m.Meters {
		if err := mt.Validate(); err != nil {
			return Meters{}, fmt.Errorf("meters: meters[%d]: %w", i, err)
		}
		if mt.Terminal != terminal {
			return Meters{}, fmt.Errorf("meters: meters[%d] %q: not a meter of terminal %q", i, string(mt.ID), terminal)
		}
		if seen[mt.ID] {
			return Meters{}, fmt.Errorf("meters: meters[%d] %q: listed twice", i, string(mt.ID))
		}
		seen[mt.ID] = true
	}
	return m, nil
}
