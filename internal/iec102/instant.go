package iec102

import (
	"encoding/binary"
	"fmt"
)

// Instant values, REE "ampliación del protocolo fase 2": P_IN_VA_2 (162) asks for
// groups, R_IN_VA_2 (163) answers with one object per group: the group address, its
// values and a Ta. The reference gives the group sizes and value widths; the meaning of
// the flag bits below follows iec870ree's decoder and is not in the reference, so the
// raw bits are kept and the accessors say where they come from.

// InstantGroup is one object of R_IN_VA_2: an InstantTotals, InstantPowers or
// InstantPhases value.
type InstantGroup interface {
	// Group returns the group address: GroupInstantTotals, GroupInstantPowers or
	// GroupInstantVoltAmp.
	Group() uint8
	appendGroup(dst []byte) ([]byte, error)
}

// InstantTotals is group 192: the six energy registers (REE: kWh, kvarh) and a Ta.
// iec870ree masks each value to 27 bits and reads a validity flag from the high bits;
// the reference does not, so the full UI32 is kept.
type InstantTotals struct {
	ActiveImport, ActiveExport                     uint32
	ReactiveQ1, ReactiveQ2, ReactiveQ3, ReactiveQ4 uint32
	Time                                           TimeA
}

const instantTotalsLen = 6*4 + TimeALen

// Group returns GroupInstantTotals.
func (InstantTotals) Group() uint8 { return GroupInstantTotals }
func (g InstantTotals) appendGroup(dst []byte) ([]byte, error) {
	dst = append(dst, GroupInstantTotals)
	for _, v := range [...]uint32{g.ActiveImport, g.ActiveExport, g.ReactiveQ1, g.ReactiveQ2, g.ReactiveQ3, g.ReactiveQ4} {
		dst = binary.LittleEndian.AppendUint32(dst, v)
	}
	return g.Time.Append(dst)
}

// PowerReading is the total or one phase of group 193: 24-bit active and reactive
// power, a 10-bit power factor and 6 flag bits, 8 octets.
type PowerReading struct {
	Active      uint32 // 24 bits (REE: kW)
	Reactive    uint32 // 24 bits (REE: kvar)
	PowerFactor uint16 // 10 bits, thousandths (922 = 0.922)
	Flags       uint8  // the 6 bits above the power factor, raw
}

// Exporting reports flag bit 0: active power exported (iec870ree's reading).
func (p PowerReading) Exporting() bool { return p.Flags&0x01 != 0 }

// ReactiveQ2Q3 reports flag bit 1: reactive power in quadrant 2 or 3 (iec870ree).
func (p PowerReading) ReactiveQ2Q3() bool { return p.Flags&0x02 != 0 }

// Invalid reports flag bit 5: the reading is invalid (iec870ree).
func (p PowerReading) Invalid() bool { return p.Flags&0x20 != 0 }

// InstantPowers is group 193: the total and the three phases, and a Ta.
type InstantPowers struct {
	Total  PowerReading
	Phases [3]PowerReading
	Time   TimeA
}

const powerReadingLen = 8
const instantPowersLen = 4*powerReadingLen + TimeALen

// Group returns GroupInstantPowers.
func (InstantPowers) Group() uint8 { return GroupInstantPowers }
func (g InstantPowers) appendGroup(dst []byte) ([]byte, error) {
	dst = append(dst, GroupInstantPowers)
	for _, p := range [...]PowerReading{g.Total, g.Phases[0], g.Phases[1], g.Phases[2]} {
		if p.Active >= 1<<24 || p.Reactive >= 1<<24 || p.PowerFactor >= 1<<10 || p.Flags >= 1<<6 {
			return dst, fmt.Errorf("%w: power reading %+v does not fit 24/24/10/6 bits", ErrRange, p)
		}
		dst = append(dst, byte(p.Active), byte(p.Active>>8), byte(p.Active>>16),
			byte(p.Reactive), byte(p.Reactive>>8), byte(p.Reactive>>16))
		dst = binary.LittleEndian.AppendUint16(dst, p.PowerFactor|uint16(p.Flags)<<10)
	}
	return g.Time.Append(dst)
}

// PhaseReading is one phase of group 194: current (3 octets) and voltage (4 octets:
// 30 bits of value and 2 flag bits).
type PhaseReading struct {
	Current uint32 // 24 bits, 0.1 A
	Voltage uint32 // 30 bits, 0.1 V
	Flags   uint8  // bits 31…30 of the voltage octets, raw
}

// Invalid reports flag bit 1 (bit 31 of the voltage octets): the reading is invalid
// (iec870ree's reading).
func (p PhaseReading) Invalid() bool { return p.Flags&0x02 != 0 }

// InstantPhases is group 194: current and voltage of the three phases, and a Ta.
type InstantPhases struct {
	Phases [3]PhaseReading
	Time   TimeA
}

const phaseReadingLen = 7
const instantPhasesLen = 3*phaseReadingLen + TimeALen

// Group returns GroupInstantVoltAmp.
func (InstantPhases) Group() uint8 { return GroupInstantVoltAmp }
func (g InstantPhases) appendGroup(dst []byte) ([]byte, error) {
	dst = append(dst, GroupInstantVoltAmp)
	for _, p := range g.Phases {
		if p.Current >= 1<<24 || p.Voltage >= 1<<30 || p.Flags >= 1<<2 {
			return dst, fmt.Errorf("%w: phase reading %+v does not fit 24/30/2 bits", ErrRange, p)
		}
		dst = append(dst, byte(p.Current), byte(p.Current>>8), byte(p.Current>>16))
		dst = binary.LittleEndian.AppendUint32(dst, p.Voltage|uint32(p.Flags)<<30)
	}
	return g.Time.Append(dst)
}

// InstantValues is the information of R_IN_VA_2 (163): one object per group asked for,
// in the order sent. VSQ = number of groups.
type InstantValues []InstantGroup

// Objects returns the number of groups.
func (v InstantValues) Objects() int    { return len(v) }
func (InstantValues) kind() payloadKind { return kindInstant }
func (v InstantValues) appendInfo(dst []byte, _ TypeID) ([]byte, error) {
	var err error
	for _, g := range v {
		if g == nil {
			return dst, fmt.Errorf("%w: nil instant-value group", ErrRange)
		}
		if dst, err = g.appendGroup(dst); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func uint24(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 }

func decodeInstant(t TypeID, n int, b []byte) (Info, error) {
	v := make(InstantValues, n)
	for i := range v {
		if len(b) == 0 {
			return nil, fmt.Errorf("%w: %s: %d groups announced, %d present", ErrASDU, t, n, i)
		}
		id, o := b[0], b[1:]
		var size int
		switch id {
		case GroupInstantTotals:
			size = instantTotalsLen
		case GroupInstantPowers:
			size = instantPowersLen
		case GroupInstantVoltAmp:
			size = instantPhasesLen
		default:
			return nil, fmt.Errorf("%w: %s: instant-value group %d is not 192, 193 or 194", ErrASDU, t, id)
		}
		if len(o) < size {
			return nil, fmt.Errorf("%w: %s: group %d needs %d octets, have %d", ErrASDU, t, id, size, len(o))
		}
		switch id {
		case GroupInstantTotals:
			g := InstantTotals{}
			for k, p := range [...]*uint32{&g.ActiveImport, &g.ActiveExport, &g.ReactiveQ1, &g.ReactiveQ2, &g.ReactiveQ3, &g.ReactiveQ4} {
				*p = binary.LittleEndian.Uint32(o[4*k:])
			}
			g.Time = decodeTimeA(o[24:])
			v[i] = g
		case GroupInstantPowers:
			g := InstantPowers{}
			for k, p := range [...]*PowerReading{&g.Total, &g.Phases[0], &g.Phases[1], &g.Phases[2]} {
				r := o[k*powerReadingLen:]
				w := binary.LittleEndian.Uint16(r[6:])
				*p = PowerReading{Active: uint24(r), Reactive: uint24(r[3:]), PowerFactor: w & 0x3FF, Flags: uint8(w >> 10)}
			}
			g.Time = decodeTimeA(o[4*powerReadingLen:])
			v[i] = g
		case GroupInstantVoltAmp:
			g := InstantPhases{}
			for k := range g.Phases {
				r := o[k*phaseReadingLen:]
				w := binary.LittleEndian.Uint32(r[3:])
				g.Phases[k] = PhaseReading{Current: uint24(r), Voltage: w & (1<<30 - 1), Flags: uint8(w >> 30)}
			}
			g.Time = decodeTimeA(o[3*phaseReadingLen:])
			v[i] = g
		}
		b = o[size:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %s: %d octets after %d groups", ErrASDU, t, len(b), n)
	}
	return v, nil
}

func decodeInstantRequest(t TypeID, n int, b []byte) (Info, error) {
	if len(b) != n {
		return nil, fmt.Errorf("%w: %s with %d groups needs %d octets, have %d", ErrASDU, t, n, n, len(b))
	}
	return InstantRequest(append([]byte(nil), b...)), nil
}
