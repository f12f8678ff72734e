package metersim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"gridmeter/internal/dlt645"
)

// Scenario describes a simulation in a JSON file (cmd/metersim -scenario): the bus, its
// meters and what happens to them. Unknown keys are errors; zero values take the
// defaults of Options and MeterSpec.
//
//	{
//	  "seed": 1,
//	  "start": "2024-03-01T00:00:00+08:00",
//	  "speed": 3600,
//	  "time_zone": "+08:00",
//	  "generate": {"count": 100, "first_address": "000000000001"},
//	  "meters": [
//	    {"address": "000000000003", "customer": "industrial",
//	     "outages": [{"start": "2024-03-05T10:00:00+08:00", "end": "2024-03-05T12:30:00+08:00"}],
//	     "faults": {"no_answer": true, "probability": 0.1}}
//	  ]
//	}
//
// A meter listed with the address of a generated one replaces it.
type Scenario struct {
	Seed          int64            `json:"seed"`
	Start         time.Time        `json:"start"`     // when the registers start; zero: now
	Speed         float64          `json:"speed"`     // simulated seconds per real second; 0: 1
	TimeZone      string           `json:"time_zone"` // IANA name or ±hh:mm; "": China Standard Time
	ReplyDelay    Duration         `json:"reply_delay"`
	ReplyPreamble bool             `json:"reply_preamble"`
	Generate      *GeneratedMeters `json:"generate"`
	Meters        []MeterScenario  `json:"meters"`

	location *time.Location // resolved TimeZone
	specs    []MeterSpec    // resolved meters
}

// GeneratedMeters asks for Count meters with consecutive addresses (see the function
// GenerateMeters for the mix of customers).
type GeneratedMeters struct {
	Count        int    `json:"count"`
	FirstAddress string `json:"first_address"`
}

// MeterScenario is one meter of a scenario: a MeterSpec in JSON.
type MeterScenario struct {
	Address          string          `json:"address"`
	Customer         string          `json:"customer"` // residential (default), commercial, industrial
	PeakW            int64           `json:"peak_w"`
	ExportPeakW      int64           `json:"export_peak_w"`
	StartImportWh    int64           `json:"start_import_wh"`
	Password         string          `json:"password"` // six digits; "" for 000000
	EncryptedControl bool            `json:"encrypted_control"`
	CloseDelay       Duration        `json:"close_delay"`
	SettlementDay    int             `json:"settlement_day"`
	SettlementHour   int             `json:"settlement_hour"`
	ProfileDays      int             `json:"profile_days"`
	Outages          []Outage        `json:"outages"`
	Faults           *FaultsScenario `json:"faults"`
}

// FaultsScenario is Faults in JSON.
type FaultsScenario struct {
	NoAnswer        bool      `json:"no_answer"`
	Late            Duration  `json:"late"`
	BadChecksum     bool      `json:"bad_checksum"`
	Garbage         int       `json:"garbage"`
	Abnormal        uint8     `json:"abnormal"` // error information word, e.g. 4 for unauthorised
	Probability     float64   `json:"probability"`
	ExchangeAt      time.Time `json:"exchange_at"`
	ExchangeStartWh int64     `json:"exchange_start_wh"`
}

// Duration is a time.Duration written as in Go, "1.5s", "3m".
type Duration time.Duration

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string such as \"1.5s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads an outage {"start": …, "end": …} strictly.
func (o *Outage) UnmarshalJSON(b []byte) error {
	var v struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
	}
	if err := strictUnmarshal(b, &v); err != nil {
		return fmt.Errorf("outage: %w", err)
	}
	*o = Outage{Start: v.Start, End: v.End}
	return nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// LoadScenario reads and validates a scenario.
func LoadScenario(r io.Reader) (*Scenario, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var sc Scenario
	if err := dec.Decode(&sc); err != nil {
		return nil, fmt.Errorf("metersim: scenario: %w", err)
	}
	if dec.More() {
		return nil, errors.New("metersim: scenario: more than one JSON value")
	}
	if err := sc.resolve(); err != nil {
		return nil, fmt.Errorf("metersim: scenario: %w", err)
	}
	return &sc, nil
}

// resolve checks the scenario and builds its location and meter specs.
func (sc *Scenario) resolve() error {
	if sc.Speed < 0 {
		return fmt.Errorf("speed %v: want a positive number", sc.Speed)
	}
	if sc.ReplyDelay < 0 {
		return errors.New("reply_delay: negative")
	}
	loc, err := parseZone(sc.TimeZone)
	if err != nil {
		return fmt.Errorf("time_zone: %w", err)
	}
	sc.location = loc
	var specs []MeterSpec
	if g := sc.Generate; g != nil {
		if specs, err = GenerateMeters(g.Count, g.FirstAddress); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
	}
	index := make(map[string]int, len(specs))
	for i, s := range specs {
		index[s.Address] = i
	}
	for i, ms := range sc.Meters {
		spec, err := ms.spec()
		if err != nil {
			return fmt.Errorf("meters[%d] (%s): %w", i, ms.Address, err)
		}
		if j, ok := index[spec.Address]; ok {
			specs[j] = spec
			continue
		}
		index[spec.Address] = len(specs)
		specs = append(specs, spec)
	}
	if len(specs) == 0 {
		return errors.New("no meters: give generate or meters")
	}
	for _, s := range specs {
		if _, err := NewMeter(s, sc.Seed, time.Unix(0, 0), loc); err != nil {
			return err
		}
	}
	sc.specs = specs
	return nil
}

func (ms MeterScenario) spec() (MeterSpec, error) {
	s := MeterSpec{
		Address: ms.Address, PeakW: ms.PeakW, ExportPeakW: ms.ExportPeakW, StartImportWh: ms.StartImportWh,
		EncryptedControl: ms.EncryptedControl, CloseDelay: time.Duration(ms.CloseDelay),
		ProfileDays: ms.ProfileDays, Outages: ms.Outages,
	}
	if len(ms.Address) != 12 {
		return s, errors.New("address: want 12 digits")
	}
	if ms.Customer != "" {
		c, err := ParseCustomerType(ms.Customer)
		if err != nil {
			return s, err
		}
		s.Customer = c
	}
	if ms.Password != "" {
		if len(ms.Password) != 6 {
			return s, errors.New("password: want 6 digits")
		}
		p, err := strconv.ParseUint(ms.Password, 16, 32)
		if err != nil || strings.Trim(ms.Password, "0123456789") != "" {
			return s, errors.New("password: want 6 digits")
		}
		s.Password = uint32(p)
	}
	if ms.SettlementDay != 0 || ms.SettlementHour != 0 {
		s.Settlement = dlt645.SettlementDay{Day: ms.SettlementDay, Hour: ms.SettlementHour}
		if err := s.Settlement.Validate(); err != nil {
			return s, err
		}
	}
	if f := ms.Faults; f != nil {
		s.Faults = Faults{
			NoAnswer: f.NoAnswer, Late: time.Duration(f.Late), BadChecksum: f.BadChecksum, Garbage: f.Garbage,
			Abnormal: dlt645.ErrorCode(f.Abnormal), Probability: f.Probability,
			ExchangeAt: f.ExchangeAt, ExchangeStartWh: f.ExchangeStartWh,
		}
	}
	return s, s.validate()
}

// parseZone reads an IANA zone name or a fixed offset ±hh:mm; "" is China Standard Time.
func parseZone(s string) (*time.Location, error) {
	if s == "" {
		return ChinaStandardTime, nil
	}
	if s[0] == '+' || s[0] == '-' {
		t, err := time.Parse("-07:00", s)
		if err != nil {
			return nil, fmt.Errorf("%q: want ±hh:mm", s)
		}
		_, off := t.Zone()
		return time.FixedZone("UTC"+s, off), nil
	}
	return time.LoadLocation(s)
}

// Location returns the meters' time zone.
func (sc *Scenario) Location() *time.Location { return sc.location }

// Specs returns the meters, generated ones first, in address order of the listing.
func (sc *Scenario) Specs() []MeterSpec { return append([]MeterSpec(nil), sc.specs...) }

// Options returns simulator options for the scenario with the given clock (which should
// read Start, or now, when the simulator starts).
func (sc *Scenario) Options(clock Clock) Options {
	return Options{
		Seed: sc.Seed, Meters: sc.Specs(), Clock: clock, Location: sc.location, Start: sc.Start,
		ReplyDelay: time.Duration(sc.ReplyDelay), ReplyPreamble: sc.ReplyPreamble,
	}
}
