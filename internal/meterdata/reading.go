package meterdata

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Kind is a data kind: a group of channels read together and keyed together.
type Kind string

// Data kinds. The seed's acquisition plan has one interval per kind.
const (
	// KindInstant: current values (voltage, current, power, power factor, frequency) and the
	// energy registers read in the same poll. Time is the start of the polling slot.
	KindInstant Kind = "instant"
	// KindDailyFrozen: the meter's daily frozen "meter base" values (表底). Time is the
	// meter's freeze time.
	KindDailyFrozen Kind = "daily_frozen"
	// KindMonthly: settlement-day (previous month) values. Time is the settlement time.
	KindMonthly Kind = "monthly"
	// KindStatus: run status words. Time is the start of the polling slot.
	KindStatus Kind = "status"
)

// Kinds lists every kind in a stable order.
var Kinds = []Kind{KindInstant, KindDailyFrozen, KindMonthly, KindStatus}

// Validate reports whether k is a known kind.
func (k Kind) Validate() error {
	for _, known := range Kinds {
		if k == known {
			return nil
		}
	}
	return fmt.Errorf("kind %q: want one of %s", string(k), kindList())
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// Channel describes one value a reading can carry. Every value is an int64 in Unit, chosen
// so that the resolution of DL/T 645-2007 data formats is kept exactly: XXX.X V → mV,
// XXX.XXX A → mA, XX.XXXX kW → mW, X.XXX → thousandths, XX.XX Hz → mHz, XXXXXX.XX kWh → Wh.
type Channel struct {
	Name        string
	Unit        string
	Description string
}

// Channels is the closed set of channel names a reading may carry.
var Channels = []Channel{
	{"u_a", "mV", "phase A voltage"},
	{"u_b", "mV", "phase B voltage"},
	{"u_c", "mV", "phase C voltage"},
	{"i_a", "mA", "phase A current (signed)"},
	{"i_b", "mA", "phase B current (signed)"},
	{"i_c", "mA", "phase C current (signed)"},
	{"p", "mW", "total active power (signed, + import)"},
	{"p_a", "mW", "phase A active power (signed)"},
	{"p_b", "mW", "phase B active power (signed)"},
	{"p_c", "mW", "phase C active power (signed)"},
	{"q", "mvar", "total reactive power (signed)"},
	{"pf", "0.001", "total power factor (signed)"},
	{"f", "mHz", "grid frequency"},
	{"e_imp", "Wh", "forward (import) active energy, total"},
	{"e_imp_t1", "Wh", "forward active energy, rate 1 (sharp)"},
	{"e_imp_t2", "Wh", "forward active energy, rate 2 (peak)"},
	{"e_imp_t3", "Wh", "forward active energy, rate 3 (flat)"},
	{"e_imp_t4", "Wh", "forward active energy, rate 4 (valley)"},
	{"e_exp", "Wh", "reverse (export) active energy, total"},
	{"status1", "bits", "run status word 1"},
	{"status3", "bits", "run status word 3 (relay state in bit 4)"},
}

var channelIndex = func() map[string]Channel {
	m := make(map[string]Channel, len(Channels))
	for _, c := range Channels {
		m[c.Name] = c
	}
	return m
}()

// LookupChannel returns the channel with the given name.
func LookupChannel(name string) (Channel, bool) {
	c, ok := channelIndex[name]
	return c, ok
}

// Quality is a set of flags on a reading. The zero value means valid: read live from the meter.
type Quality uint8

// Quality flags.
const (
	QualityEstimated  Quality = 1 << iota // value computed, not read (never made silently)
	QualityBackfilled                     // read after the fact from the meter's memory
	QualitySuspect                        // read, but failed a plausibility check (rollover, exchange, bogus zero)
)

var qualityNames = []struct {
	q    Quality
	name string
}{{QualityEstimated, "estimated"}, {QualityBackfilled, "backfilled"}, {QualitySuspect, "suspect"}}

// Strings returns the flag names; a valid reading has none.
func (q Quality) Strings() []string {
	out := []string{}
	for _, n := range qualityNames {
		if q&n.q != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// ParseQuality turns flag names back into a Quality.
func ParseQuality(names []string) (Quality, error) {
	var q Quality
	for _, s := range names {
		found := false
		for _, n := range qualityNames {
			if s == n.name {
				q |= n.q
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("quality flag %q: want estimated, backfilled or suspect", s)
		}
	}
	return q, nil
}

// MarshalJSON encodes the flags as a list of names.
func (q Quality) MarshalJSON() ([]byte, error) { return json.Marshal(q.Strings()) }

// UnmarshalJSON decodes a list of flag names.
func (q *Quality) UnmarshalJSON(b []byte) error {
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return fmt.Errorf("quality: want a list of flag names: %w", err)
	}
	v, err := ParseQuality(names)
	if err != nil {
		return err
	}
	*q = v
	return nil
}

// Reading is one acquisition of one data kind from one meter at one meter timestamp.
type Reading struct {
	Meter   MeterID
	Kind    Kind
	Time    time.Time // UTC, truncated to the millisecond
	Values  map[string]int64
	Quality Quality
}

// Key is the exactly-once identity of a reading.
type Key struct {
	Meter MeterID
	Kind  Kind
	Time  int64 // Unix milliseconds, UTC
}

// Key returns the reading's exactly-once key.
func (r Reading) Key() Key { return Key{Meter: r.Meter, Kind: r.Kind, Time: r.Time.UnixMilli()} }

// Earliest and latest meter timestamps accepted: a reading outside is refused as implausible.
var (
	EarliestTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	LatestTime   = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// MaxChannels bounds the number of values in one reading.
const MaxChannels = 64

// Validate checks the reading's meter id, kind, time and channels.
func (r Reading) Validate() error {
	if err := r.Meter.Validate(); err != nil {
		return err
	}
	if err := r.Kind.Validate(); err != nil {
		return fmt.Errorf("meter %s: %w", r.Meter, err)
	}
	if r.Time.Before(EarliestTime) || !r.Time.Before(LatestTime) {
		return fmt.Errorf("meter %s kind %s: time %s outside %s..%s", r.Meter, r.Kind,
			r.Time.UTC().Format(time.RFC3339), EarliestTime.Format("2006"), LatestTime.Format("2006"))
	}
	if len(r.Values) == 0 {
		return fmt.Errorf("meter %s kind %s time %s: no values", r.Meter, r.Kind, r.Time.UTC().Format(time.RFC3339))
	}
	if len(r.Values) > MaxChannels {
		return fmt.Errorf("meter %s kind %s: %d values, at most %d", r.Meter, r.Kind, len(r.Values), MaxChannels)
	}
	for name := range r.Values {
		if _, ok := channelIndex[name]; !ok {
			return fmt.Errorf("meter %s kind %s: unknown channel %q", r.Meter, r.Kind, name)
		}
	}
	if r.Quality>>3 != 0 {
		return fmt.Errorf("meter %s kind %s: unknown quality bits %#x", r.Meter, r.Kind, uint8(r.Quality))
	}
	return nil
}

// Normalize returns r with its time in UTC truncated to the millisecond, as stored.
func (r Reading) Normalize() Reading {
	r.Time = r.Time.UTC().Truncate(time.Millisecond)
	return r
}

// SameValues reports whether two readings carry the same values. Two readings with the same
// key and the same values are duplicates (whatever their quality flags: the first stored
// wins); with other values, a conflict.
func SameValues(a, b Reading) bool {
	if len(a.Values) != len(b.Values) {
		return false
	}
	for k, v := range a.Values {
		if w, ok := b.Values[k]; !ok || w != v {
			return false
		}
	}
	return true
}
