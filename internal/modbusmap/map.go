package modbusmap

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gridmeter/internal/meterdata"
)

// MaxRegistersPerRequest is the most registers one read may ask for (§6.3, §6.4: 1 to
// 125, so that the reply fits the 253-byte PDU).
const MaxRegistersPerRequest = 125

// Map is a meter's register map: which registers carry which meterdata channel, and how
// many registers the meter lets one request read. A Map is plain data; call Validate
// before use ([Load] and the built-in maps do). A valid Map is safe for concurrent use.
type Map struct {
	// Name identifies the map in logs and errors, e.g. "eastron-sdm630".
	Name string `yaml:"name"`
	// MaxGap is how many unmapped registers a request may read to join two runs of
	// mapped registers into one request (0: never read an unmapped register). Only
	// devices that answer reads of their reserved registers allow more than 0.
	MaxGap int `yaml:"max_gap,omitempty"`
	// MaxRegisters bounds the registers of one request (0: 125, the protocol maximum).
	MaxRegisters int `yaml:"max_registers,omitempty"`
	// Registers lists the values, at most one per channel.
	Registers []Register `yaml:"registers"`
}

// Register is one channel's value in the register space: Words registers from Address
// in Table, holding a Type in WordOrder and ByteOrder, times Scale in the channel's unit.
type Register struct {
	// Channel is the meterdata channel the value feeds, e.g. "u_a".
	Channel string `yaml:"channel"`
	// Table is the register table: holding (read with 03) or input (04).
	Table Table `yaml:"table"`
	// Address is the protocol address of the first register, from 0 (§4.4).
	Address uint16 `yaml:"address"`
	// Words is the number of registers; 0 means the type's (1, 2 or 4). Given, it must
	// match the type.
	Words int `yaml:"words,omitempty"`
	// Type is the value's data type.
	Type DataType `yaml:"type"`
	// WordOrder of a multi-register value; empty means HighWordFirst.
	WordOrder WordOrder `yaml:"word_order,omitempty"`
	// ByteOrder within each register; empty means BigEndian, as §4.2 sends registers.
	ByteOrder ByteOrder `yaml:"byte_order,omitempty"`
	// Scale turns the register value into the channel unit: channel = value × Scale.
	// The zero Scale means 1.
	Scale Scale `yaml:"scale,omitempty"`
	// Counter marks an energy register (a Wh channel): it must not be negative, and an
	// integer register scaled down is truncated, as a meter's display truncates, rather
	// than rounded, so the reading never runs ahead of the meter.
	Counter bool `yaml:"counter,omitempty"`
}

// Table is a Modbus register table (§4.3 "primary tables").
type Table string

// Register tables.
const (
	Holding Table = "holding" // holding registers, function 03
	Input   Table = "input"   // input registers, function 04
)

func (t Table) valid() bool { return t == Holding || t == Input }

// DataType is how a value is stored in its registers.
type DataType string

// Data types: unsigned and two's-complement integers of 16, 32 and 64 bits, and IEEE 754
// binary32 and binary64.
const (
	U16     DataType = "u16"
	S16     DataType = "s16"
	U32     DataType = "u32"
	S32     DataType = "s32"
	U64     DataType = "u64"
	S64     DataType = "s64"
	Float32 DataType = "float32"
	Float64 DataType = "float64"
)

// DataTypes lists every data type.
var DataTypes = []DataType{U16, S16, U32, S32, U64, S64, Float32, Float64}

// Words returns the number of registers the type takes, 0 for an unknown type.
func (t DataType) Words() int {
	switch t {
	case U16, S16:
		return 1
	case U32, S32, Float32:
		return 2
	case U64, S64, Float64:
		return 4
	}
	return 0
}

func (t DataType) isFloat() bool { return t == Float32 || t == Float64 }

// WordOrder is the order of the registers of a multi-register value.
type WordOrder string

// Word orders.
const (
	// HighWordFirst: the most significant register first, at the lowest address ("ABCD",
	// big-endian throughout; most meters, e.g. Eastron).
	HighWordFirst WordOrder = "high_first"
	// LowWordFirst: the least significant register first ("CDAB"; e.g. Carlo Gavazzi).
	LowWordFirst WordOrder = "low_first"
)

// ByteOrder is the order of the two bytes within each register.
type ByteOrder string

// Byte orders.
const (
	BigEndian    ByteOrder = "big"    // high byte first, as §4.2 prescribes
	LittleEndian ByteOrder = "little" // bytes swapped ("BADC" or, with LowWordFirst, "DCBA")
)

// words returns the register count, defaulting to the type's.
func (r Register) words() int {
	if r.Words != 0 {
		return r.Words
	}
	return r.Type.Words()
}

// end returns the address of the last register (as int: a valid map never passes 0xFFFF).
func (r Register) end() int { return int(r.Address) + r.words() - 1 }

func (r Register) scale() Scale { return r.Scale.norm() }

// String names the entry as errors do: "u_a (input 0x0000 float32)".
func (r Register) String() string {
	return fmt.Sprintf("%s (%s %s)", r.Channel, r.where(), r.Type)
}

func (r Register) where() string { return fmt.Sprintf("%s %#04x", r.Table, r.Address) }

func (r Register) span() string {
	return fmt.Sprintf("%s %#04x-%#04x", r.Table, r.Address, r.end())
}

func label(i int, r Register) string { return fmt.Sprintf("registers[%d] (%s)", i, r.Channel) }

func (m Map) maxRegisters() int { return cmp.Or(m.MaxRegisters, MaxRegistersPerRequest) }

// tableOrder sorts holding before input registers.
func tableOrder(a, b Table) int { return strings.Compare(string(a), string(b)) }

// Validate reports the first problem of the map, naming the field: an unknown channel or
// one mapped twice, a bad table, type, word count, order or scale, a value running past
// register 0xFFFF, two values sharing a register, or limits outside the protocol's.
func (m Map) Validate() error {
	var errs []error
	if len(m.Name) > 64 {
		errs = append(errs, fmt.Errorf("name: %d bytes, at most 64", len(m.Name)))
	}
	if m.MaxRegisters < 0 || m.MaxRegisters > MaxRegistersPerRequest {
		errs = append(errs, fmt.Errorf("max_registers %d: want 1 to %d (0: %d)", m.MaxRegisters, MaxRegistersPerRequest, MaxRegistersPerRequest))
	}
	if m.MaxGap < 0 || m.MaxGap >= m.maxRegisters() {
		errs = append(errs, fmt.Errorf("max_gap %d: want 0 to %d", m.MaxGap, m.maxRegisters()-1))
	}
	if len(m.Registers) == 0 {
		errs = append(errs, errors.New("registers: none"))
	}
	seen := make(map[string]int, len(m.Registers))
	for i, r := range m.Registers {
		if err := r.validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", label(i, r), err))
			continue
		}
		if r.words() > m.maxRegisters() {
			errs = append(errs, fmt.Errorf("%s: %d words, more than max_registers %d", label(i, r), r.words(), m.maxRegisters()))
		}
		if j, dup := seen[r.Channel]; dup {
			errs = append(errs, fmt.Errorf("%s: channel also mapped by registers[%d]", label(i, r), j))
		}
		seen[r.Channel] = i
	}
	if len(errs) > 0 {
		return fmt.Errorf("modbus map %q: %w", m.Name, errors.Join(errs...))
	}
	// Overlaps, once every entry is known to be well formed.
	idx := make([]int, len(m.Registers))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		ra, rb := m.Registers[a], m.Registers[b]
		return cmp.Or(tableOrder(ra.Table, rb.Table), cmp.Compare(ra.Address, rb.Address))
	})
	for k := 1; k < len(idx); k++ {
		p, q := m.Registers[idx[k-1]], m.Registers[idx[k]]
		if p.Table == q.Table && int(q.Address) <= p.end() {
			errs = append(errs, fmt.Errorf("%s: %s overlaps %s: %s", label(idx[k], q), q.span(), label(idx[k-1], p), p.span()))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("modbus map %q: %w", m.Name, errors.Join(errs...))
	}
	return nil
}

// validate checks one entry on its own; the caller adds the entry's index and channel.
func (r Register) validate() error {
	ch, ok := meterdata.LookupChannel(r.Channel)
	if !ok {
		return fmt.Errorf("channel %q: not a meterdata channel", r.Channel)
	}
	if !r.Table.valid() {
		return fmt.Errorf("table %q: want %s or %s", r.Table, Holding, Input)
	}
	if r.Type.Words() == 0 {
		return fmt.Errorf("type %q: want one of %s", r.Type, dataTypeList())
	}
	switch r.Words {
	case 0:
	case 1, 2, 4:
		if r.Words != r.Type.Words() {
			return fmt.Errorf("words %d: type %s takes %d", r.Words, r.Type, r.Type.Words())
		}
	default:
		return fmt.Errorf("words %d: want 1, 2 or 4", r.Words)
	}
	if r.WordOrder != "" && r.WordOrder != HighWordFirst && r.WordOrder != LowWordFirst {
		return fmt.Errorf("word_order %q: want %s or %s", r.WordOrder, HighWordFirst, LowWordFirst)
	}
	if r.ByteOrder != "" && r.ByteOrder != BigEndian && r.ByteOrder != LittleEndian {
		return fmt.Errorf("byte_order %q: want %s or %s", r.ByteOrder, BigEndian, LittleEndian)
	}
	if r.end() > 0xFFFF {
		return fmt.Errorf("address %#04x: %d words run past register 0xffff", r.Address, r.words())
	}
	if err := r.Scale.validate(); err != nil {
		return fmt.Errorf("scale %s: %w", r.Scale, err)
	}
	if r.Counter {
		if ch.Unit != "Wh" {
			return fmt.Errorf("counter: channel %s is in %s, not an energy register (Wh)", r.Channel, ch.Unit)
		}
		if r.scale().Num < 0 {
			return fmt.Errorf("scale %s: a counter's scale must be positive", r.Scale)
		}
	}
	return nil
}

func dataTypeList() string {
	s := make([]string, len(DataTypes))
	for i, t := range DataTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// Channels returns the map's channel names in map order.
func (m Map) Channels() []string {
	out := make([]string, len(m.Registers))
	for i, r := range m.Registers {
		out[i] = r.Channel
	}
	return out
}

// Clone returns a deep copy of the map.
func (m Map) Clone() Map {
	m.Registers = slices.Clone(m.Registers)
	return m
}
