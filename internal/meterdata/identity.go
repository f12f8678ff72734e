package meterdata

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	idPattern      = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	addressPattern = regexp.MustCompile(`^[0-9]{1,12}$`)
)

// ValidateTerminalID reports whether id is a valid terminal id ([A-Za-z0-9_-]{1,64}).
func ValidateTerminalID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("terminal id %q: want 1 to 64 characters of A-Z a-z 0-9 _ -", id)
	}
	return nil
}

// ValidateBusName reports whether name is a valid bus name (same alphabet as terminal ids).
func ValidateBusName(name string) error {
	if !idPattern.MatchString(name) {
		return fmt.Errorf("bus name %q: want 1 to 64 characters of A-Z a-z 0-9 _ -", name)
	}
	return nil
}

// ValidateAddress reports whether addr is a valid meter bus address: 1 to 12 decimal digits
// (DL/T 645 prints 12 digits; a Modbus unit id is 1 to 3).
func ValidateAddress(addr string) error {
	if !addressPattern.MatchString(addr) {
		return fmt.Errorf("meter address %q: want 1 to 12 decimal digits", addr)
	}
	return nil
}

// MeterID is the stable identity of a meter: "<terminal>.<bus>.<address>". The address is the
// meter's bus address as printed (DL/T 645: 12 decimal digits; Modbus: the unit id). Because
// terminal ids and bus names never contain a dot, the id splits back unambiguously.
type MeterID string

// NewMeterID builds and validates a meter id.
func NewMeterID(terminal, bus, address string) (MeterID, error) {
	id := MeterID(terminal + "." + bus + "." + address)
	if _, _, _, err := id.Parts(); err != nil {
		return "", err
	}
	return id, nil
}

// Parts splits and validates the id.
func (id MeterID) Parts() (terminal, bus, address string, err error) {
	p := strings.Split(string(id), ".")
	if len(p) != 3 {
		return "", "", "", fmt.Errorf("meter id %q: want <terminal>.<bus>.<address>", string(id))
	}
	if err := ValidateTerminalID(p[0]); err != nil {
		return "", "", "", fmt.Errorf("meter id %q: %w", string(id), err)
	}
	if err := ValidateBusName(p[1]); err != nil {
		return "", "", "", fmt.Errorf("meter id %q: %w", string(id), err)
	}
	if err := ValidateAddress(p[2]); err != nil {
		return "", "", "", fmt.Errorf("meter id %q: %w", string(id), err)
	}
	return p[0], p[1], p[2], nil
}

// Validate reports whether the id is well formed.
func (id MeterID) Validate() error {
	_, _, _, err := id.Parts()
	return err
}

// Terminal returns the terminal part of a valid id ("" for an invalid one).
func (id MeterID) Terminal() string {
	t, _, _, err := id.Parts()
	if err != nil {
		return ""
	}
	return t
}

// Meter describes one meter as its terminal knows it.
type Meter struct {
	ID          MeterID `json:"id"`
	Terminal    string  `json:"terminal"`
	Bus         string  `json:"bus"`
	Address     string  `json:"address"`
	Protocol    string  `json:"protocol"` // "dlt645" or "modbus"
	Description string  `json:"description,omitempty"`
}

// Validate checks the descriptor's fields and that ID matches terminal, bus and address.
func (m Meter) Validate() error {
	want, err := NewMeterID(m.Terminal, m.Bus, m.Address)
	if err != nil {
		return err
	}
	if m.ID != want {
		return fmt.Errorf("meter %q: id does not match terminal/bus/address (want %q)", string(m.ID), string(want))
	}
	switch m.Protocol {
	case ProtocolDLT645, ProtocolModbus:
	default:
		return fmt.Errorf("meter %q: protocol %q: want %q or %q", string(m.ID), m.Protocol, ProtocolDLT645, ProtocolModbus)
	}
	if len(m.Description) > 256 {
		return fmt.Errorf("meter %q: description longer than 256 bytes", string(m.ID))
	}
	return nil
}

// Meter protocols.
const (
	ProtocolDLT645 = "dlt645"
	ProtocolModbus = "modbus"
)
