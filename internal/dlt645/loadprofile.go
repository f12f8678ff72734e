package dlt645

import (
	"fmt"
	"time"
)

// Load profile records (负荷记录, DL/T 645-2007 Annex A, DI3 = 06).
//
// This package implements the form the base standard defines, read with 11H:
//
//	06 00 00 01  given-time record blocks (给定时间记录块): request data
//	             DI + NN (number of blocks, BCD) + mm hh DD MM YY (given time)
//	06 00 00 02  latest record block (最近一个记录块): request data DI (+ NN, ignored)
//
// The reply carries the DI and NN record blocks, the first at or after the given time,
// oldest first, continued in follow-up frames (后续帧) when longer than one frame. Each
// record block holds every data class the meter records (负荷记录模式字, 04000901):
//
//	A0 A0           start code; E0 E0 marks a block the meter itself flags incorrect
//	LL              bytes from the time to the last separator, binary
//	mm hh DD MM YY  record time (负荷记录存储时间)
//	class 1 [17] AA voltage A, B, C (XXX.X V ×3), current A, B, C (XXX.XXX A ×3), frequency (XX.XX Hz)
//	class 2 [24] AA active power total, A, B, C (XX.XXXX kW ×4), reactive power total, A, B, C (XX.XXXX kvar ×4)
//	class 3 [8]  AA power factor total, A, B, C (X.XXX ×4)
//	class 4 [16] AA forward active, reverse active, combined reactive 1, 2 total energy (XXXXXX.XX ×4)
//	class 5 [16] AA reactive energy of quadrants I…IV (XXXXXX.XX kvarh ×4)
//	class 6 [6]  AA active and reactive demand (XX.XXXX ×2)
//	CS              sum mod 256 of the bytes from the first A0 to the last separator
//	E5              end code
//
// A class the meter does not record is left out, its separator AA kept. Why this form and
// not the per-quantity curves 0610xxxx of the State Grid smart-meter specifications
// (Q/GDW 1364-2013): it is the one in DL/T 645-2007 itself, every multi-function meter
// that keeps a load profile answers it, one request returns every quantity of an
// interval, and its layout was confirmed against three independent public decoders. The
// 0610xxxx curves differ between specification editions and were not checked. The record
// layout is "moderate confidence": the sources agree on it, the printed standard was not
// at hand. What is less sure is marked in LoadProfileRequest.

// LoadClasses is the set of data classes a record carries, bit i for class i+1, as in the
// load record mode word (负荷记录模式字).
type LoadClasses uint8

// Load record data classes.
const (
	LoadVoltageCurrent LoadClasses = 1 << iota // class 1: voltage, current, frequency
	LoadPower                                  // class 2: active and reactive power
	LoadPowerFactor                            // class 3: power factors
	LoadEnergy                                 // class 4: active and combined reactive total energy
	LoadQuadrantEnergy                         // class 5: four-quadrant reactive energy
	LoadDemand                                 // class 6: current demand
)

// LoadClassesAll is every class.
const LoadClassesAll = LoadVoltageCurrent | LoadPower | LoadPowerFactor | LoadEnergy | LoadQuadrantEnergy | LoadDemand

// loadClassSize is the size of each class's data, class 1 first.
var loadClassSize = [6]int{17, 24, 8, 16, 16, 6}

const (
	loadSeparator = 0xAA
	loadEnd       = 0xE5
	loadStart     = 0xA0
	loadStartBad  = 0xE0
)

// LoadRecord is one load profile record block, values in meterdata units. Fields of a
// class the record does not carry are zero.
type LoadRecord struct {
	Time    time.Time   // record time, in the meter's time zone
	Invalid bool        // start code E0 E0: the meter flags the block incorrect; nothing else is decoded
	Classes LoadClasses // the classes present

	Voltage   [3]int64 // class 1: phases A, B, C, mV
	Current   [3]int64 // class 1: phases A, B, C, mA (signed)
	Frequency int64    // class 1: mHz

	ActivePower   [4]int64 // class 2: total, A, B, C, mW (signed)
	ReactivePower [4]int64 // class 2: total, A, B, C, mvar (signed)

	PowerFactor [4]int64 // class 3: total, A, B, C, thousandths (signed)

	ForwardActive    int64    // class 4: Wh
	ReverseActive    int64    // class 4: Wh
	CombinedReactive [2]int64 // class 4: combined reactive 1 and 2, varh (signed)

	QuadrantReactive [4]int64 // class 5: quadrants I…IV, varh

	ActiveDemand   int64 // class 6: mW (signed)
	ReactiveDemand int64 // class 6: mvar (signed)
}

// Values returns the record's values that have a meterdata channel: voltages, currents
// and frequency (class 1), total and phase active power and total reactive power (class
// 2), total power factor (class 3), forward and reverse active energy (class 4).
func (r LoadRecord) Values() map[string]int64 {
	out := make(map[string]int64, 16)
	if r.Invalid {
		return out
	}
	if r.Classes&LoadVoltageCurrent != 0 {
		out["u_a"], out["u_b"], out["u_c"] = r.Voltage[0], r.Voltage[1], r.Voltage[2]
		out["i_a"], out["i_b"], out["i_c"] = r.Current[0], r.Current[1], r.Current[2]
		out["f"] = r.Frequency
	}
	if r.Classes&LoadPower != 0 {
		out["p"], out["p_a"], out["p_b"], out["p_c"] = r.ActivePower[0], r.ActivePower[1], r.ActivePower[2], r.ActivePower[3]
		out["q"] = r.ReactivePower[0]
	}
	if r.Classes&LoadPowerFactor != 0 {
		out["pf"] = r.PowerFactor[0]
	}
	if r.Classes&LoadEnergy != 0 {
		out["e_imp"], out["e_exp"] = r.ForwardActive, r.ReverseActive
	}
	return out
}

// loadField is one value of a class: its format, the scale to the record's unit, and
// where it lives in the record.
type loadField struct {
	format Format
	scale  int64
	ptr    func(*LoadRecord) *int64
}

var loadFields = [6][]loadField{
	{
		{formatVoltage, 100, func(r *LoadRecord) *int64 { return &r.Voltage[0] }},
		{formatVoltage, 100, func(r *LoadRecord) *int64 { return &r.Voltage[1] }},
		{formatVoltage, 100, func(r *LoadRecord) *int64 { return &r.Voltage[2] }},
		{formatCurrent, 1, func(r *LoadRecord) *int64 { return &r.Current[0] }},
		{formatCurrent, 1, func(r *LoadRecord) *int64 { return &r.Current[1] }},
		{formatCurrent, 1, func(r *LoadRecord) *int64 { return &r.Current[2] }},
		{formatFrequency, 10, func(r *LoadRecord) *int64 { return &r.Frequency }},
	},
	{
		{formatPower, 100, func(r *LoadRecord) *int64 { return &r.ActivePower[0] }},
		{formatPower, 100, func(r *LoadRecord) *int64 { return &r.ActivePower[1] }},
		{formatPower, 100, func(r *LoadRecord) *int64 { return &r.ActivePower[2] }},
		{formatPower, 100, func(r *LoadRecord) *int64 { return &r.ActivePower[3] }},
		{formatReactive, 100, func(r *LoadRecord) *int64 { return &r.ReactivePower[0] }},
		{formatReactive, 100, func(r *LoadRecord) *int64 { return &r.ReactivePower[1] }},
		{formatReactive, 100, func(r *LoadRecord) *int64 { return &r.ReactivePower[2] }},
		{formatReactive, 100, func(r *LoadRecord) *int64 { return &r.ReactivePower[3] }},
	},
	{
		{formatPowerFactor, 1, func(r *LoadRecord) *int64 { return &r.PowerFactor[0] }},
		{formatPowerFactor, 1, func(r *LoadRecord) *int64 { return &r.PowerFactor[1] }},
		{formatPowerFactor, 1, func(r *LoadRecord) *int64 { return &r.PowerFactor[2] }},
		{formatPowerFactor, 1, func(r *LoadRecord) *int64 { return &r.PowerFactor[3] }},
	},
	{
		{formatEnergy, 10, func(r *LoadRecord) *int64 { return &r.ForwardActive }},
		{formatEnergy, 10, func(r *LoadRecord) *int64 { return &r.ReverseActive }},
		{formatSignedEnergy, 10, func(r *LoadRecord) *int64 { return &r.CombinedReactive[0] }},
		{formatSignedEnergy, 10, func(r *LoadRecord) *int64 { return &r.CombinedReactive[1] }},
	},
	{
		{formatEnergy, 10, func(r *LoadRecord) *int64 { return &r.QuadrantReactive[0] }},
		{formatEnergy, 10, func(r *LoadRecord) *int64 { return &r.QuadrantReactive[1] }},
		{formatEnergy, 10, func(r *LoadRecord) *int64 { return &r.QuadrantReactive[2] }},
		{formatEnergy, 10, func(r *LoadRecord) *int64 { return &r.QuadrantReactive[3] }},
	},
	{
		{formatPower, 100, func(r *LoadRecord) *int64 { return &r.ActiveDemand }},
		{formatReactive, 100, func(r *LoadRecord) *int64 { return &r.ReactiveDemand }},
	},
}

// formatSignedEnergy is XXXXXX.XX with a sign bit, for combined reactive energy.
var formatSignedEnergy = Format{Encoding: EncodingSignedBCD, Size: 4, Decimals: 2, Unit: "kvarh"}

// DecodeLoadRecords decodes the value bytes of a load profile reply (after the data
// identifier, follow-up frames concatenated): zero or more record blocks, in the meter's
// time zone loc. It reports ErrData for anything malformed, naming the block.
func DecodeLoadRecords(b []byte, loc *time.Location) ([]LoadRecord, error) {
	var out []LoadRecord
	for i := 0; len(b) > 0; i++ {
		r, n, err := decodeLoadRecord(b, loc)
		if err != nil {
			return nil, fmt.Errorf("load record %d: %w", i, err)
		}
		out = append(out, r)
		b = b[n:]
	}
	return out, nil
}

func decodeLoadRecord(b []byte, loc *time.Location) (LoadRecord, int, error) {
	if len(b) < 3 {
		return LoadRecord{}, 0, fmt.Errorf("%w: %d bytes, want at least a start code and length", ErrData, len(b))
	}
	var r LoadRecord
	switch {
	case b[0] == loadStart && b[1] == loadStart:
	case b[0] == loadStartBad && b[1] == loadStartBad:
		r.Invalid = true
	default:
		return LoadRecord{}, 0, fmt.Errorf("%w: start code %02X %02X, want A0 A0 or E0 E0", ErrData, b[0], b[1])
	}
	l := int(b[2])
	total := l + 5
	if len(b) < total {
		return LoadRecord{}, 0, fmt.Errorf("%w: length %d needs %d bytes, have %d", ErrData, l, total, len(b))
	}
	var cs byte
	for _, c := range b[:3+l] {
		cs += c
	}
	if b[3+l] != cs {
		return LoadRecord{}, 0, fmt.Errorf("%w: record checksum %02XH, computed %02XH", ErrData, b[3+l], cs)
	}
	if b[4+l] != loadEnd {
		return LoadRecord{}, 0, fmt.Errorf("%w: end code %02XH, want E5H", ErrData, b[4+l])
	}
	if r.Invalid {
		return r, total, nil
	}
	body := b[3 : 3+l]
	if len(body) < 5 {
		return LoadRecord{}, 0, fmt.Errorf("%w: record of %d bytes has no time", ErrData, len(body))
	}
	t, err := DecodeMinuteTime(body[:5], loc)
	if err != nil {
		return LoadRecord{}, 0, fmt.Errorf("%w: record time: %v", ErrData, err)
	}
	r.Time = t
	pos := 5
	for c, size := range loadClassSize {
		if pos >= len(body) {
			return LoadRecord{}, 0, fmt.Errorf("%w: record ends before class %d", ErrData, c+1)
		}
		if body[pos] == loadSeparator {
			pos++ // class not recorded (BCD data never begins with AAH)
			continue
		}
		if pos+size >= len(body) || body[pos+size] != loadSeparator {
			return LoadRecord{}, 0, fmt.Errorf("%w: class %d: no separator AAH after %d bytes", ErrData, c+1, size)
		}
		data := body[pos : pos+size]
		for _, f := range loadFields[c] {
			v, err := f.format.DecodeRaw(data[:f.format.Size])
			if err != nil {
				return LoadRecord{}, 0, fmt.Errorf("class %d: %w", c+1, err)
			}
			*f.ptr(&r) = v * f.scale
			data = data[f.format.Size:]
		}
		r.Classes |= 1 << c
		pos += size + 1
	}
	if pos != len(body) {
		return LoadRecord{}, 0, fmt.Errorf("%w: %d bytes after the last class", ErrData, len(body)-pos)
	}
	return r, total, nil
}

// AppendLoadRecord appends r as one record block with the classes in r.Classes. Values
// are rounded to the formats' last digits. An Invalid record is written as E0 E0 with its
// time (or zeros) and no class.
func AppendLoadRecord(dst []byte, r LoadRecord) ([]byte, error) {
	start := len(dst)
	if r.Invalid {
		dst = append(dst, loadStartBad, loadStartBad, 0)
	} else {
		dst = append(dst, loadStart, loadStart, 0)
	}
	var err error
	if r.Time.IsZero() {
		if !r.Invalid {
			return dst[:start], fmt.Errorf("%w: load record without a time", ErrRange)
		}
		dst = append(dst, 0, 0, 0, 0, 0)
	} else if dst, err = AppendMinuteTime(dst, r.Time); err != nil {
		return dst[:start], err
	}
	for c := range loadClassSize {
		if !r.Invalid && r.Classes&(1<<c) != 0 {
			for _, f := range loadFields[c] {
				if dst, err = f.format.AppendRaw(dst, divRound(*f.ptr(&r), f.scale)); err != nil {
					return dst[:start], fmt.Errorf("load record class %d: %w", c+1, err)
				}
			}
		}
		dst = append(dst, loadSeparator)
	}
	dst[start+2] = byte(len(dst) - start - 3)
	var cs byte
	for _, c := range dst[start:] {
		cs += c
	}
	return append(dst, cs, loadEnd), nil
}

// LoadRecordSize is the size of one record block carrying the given classes.
func LoadRecordSize(classes LoadClasses) int {
	n := 3 + 5 + 6 + 2
	for c, size := range loadClassSize {
		if classes&(1<<c) != 0 {
			n += size
		}
	}
	return n
}

// LoadProfileRequest is the request data of a given-time load profile read (06000001)
// after the identifier: NN, the number of record blocks wanted, then the given time
// mm hh DD MM YY. Sources disagree on two details, and this package follows the layout of
// a terminal implementation (count first, BCD) over a summary that puts the time first:
// both read the same for counts 1…9.
type LoadProfileRequest struct {
	Count int       // record blocks wanted, 1…99
	From  time.Time // the given time: the first block returned is at or after it
}

// Append appends NN and the given time.
func (q LoadProfileRequest) Append(dst []byte) ([]byte, error) {
	if q.Count < 1 || q.Count > 99 {
		return dst, fmt.Errorf("%w: %d load profile blocks, want 1…99", ErrRange, q.Count)
	}
	return AppendMinuteTime(append(dst, bcd2(q.Count)), q.From)
}

// DecodeLoadProfileRequest decodes the request data after the identifier.
func DecodeLoadProfileRequest(b []byte, loc *time.Location) (LoadProfileRequest, error) {
	if len(b) != 6 {
		return LoadProfileRequest{}, fmt.Errorf("%w: load profile request of %d bytes, want NN + 5-byte time", ErrData, len(b))
	}
	n, err := DecodeBCD(b[:1])
	if err != nil {
		return LoadProfileRequest{}, err
	}
	if n == 0 {
		return LoadProfileRequest{}, fmt.Errorf("%w: load profile request for 0 blocks", ErrData)
	}
	t, err := DecodeMinuteTime(b[1:], loc)
	if err != nil {
		return LoadProfileRequest{}, fmt.Errorf("%w: given time: %v", ErrData, err)
	}
	return LoadProfileRequest{Count: int(n), From: t}, nil
}

// NewLoadProfileRequest builds the read (11H) of NN load profile blocks from a given time
// (06000001).
func NewLoadProfileRequest(addr Address, q LoadProfileRequest) (Frame, error) {
	data, err := q.Append(DILoadProfileAtTime.AppendWire(make([]byte, 0, DISize+6)))
	if err != nil {
		return Frame{}, err
	}
	return Frame{Address: addr, Control: FuncRead.Request(), Data: data}, nil
}
