package modbusmap

import (
	"fmt"
	"math"
	"math/bits"
)

// Decode turns the register words of one value, in address order as the library returns
// them (each register high byte first, §4.2), into the channel value in its meterdata
// unit. It reports ErrValue, naming the register, for the wrong number of words, a float
// that is not finite, a value outside int64 once scaled, and a negative counter.
//
// Integer values are scaled exactly: the result is value × Num / Den rounded half away
// from zero, or truncated for a counter. Float values are scaled in float64 and rounded
// to the nearest unit (a float register already approximates the meter's decimal value:
// truncating 1234.57 kWh, float32 1234.5699…, would read 1234569 Wh).
func (r Register) Decode(words []uint16) (int64, error) {
	n := r.words()
	if len(words) != n {
		return 0, fmt.Errorf("%s: %d words, want %d: %w", r, len(words), n, ErrValue)
	}
	raw := r.assemble(words)
	sc := r.scale()
	if r.Type.isFloat() {
		f := math.Float64frombits(raw)
		if r.Type == Float32 {
			f = float64(math.Float32frombits(uint32(raw)))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%s: %v: %w", r, f, ErrValue)
		}
		v := math.Round(f * float64(sc.Num) / float64(sc.Den))
		// 2^63 is exact in float64; anything at or beyond it does not fit.
		if v >= 1<<63 || v < -(1<<63) {
			return 0, fmt.Errorf("%s: %g × %s is outside int64: %w", r, f, sc, ErrValue)
		}
		if r.Counter && v < 0 {
			return 0, fmt.Errorf("%s: counter is negative (%g): %w", r, f, ErrValue)
		}
		return int64(v), nil
	}
	var v int64
	switch r.Type {
	case U16, U32:
		v = int64(raw)
	case S16:
		v = int64(int16(raw))
	case S32:
		v = int64(int32(raw))
	case S64:
		v = int64(raw)
	case U64:
		if raw > math.MaxInt64 {
			return 0, fmt.Errorf("%s: %d is outside int64: %w", r, raw, ErrValue)
		}
		v = int64(raw)
	}
	if r.Counter && v < 0 {
		return 0, fmt.Errorf("%s: counter is negative (%d): %w", r, v, ErrValue)
	}
	out, ok := scaleInt(v, sc.Num, sc.Den, r.Counter)
	if !ok {
		return 0, fmt.Errorf("%s: %d × %s is outside int64: %w", r, v, sc, ErrValue)
	}
	return out, nil
}

// Encode returns the register words holding channel value v, as a meter with this map
// sends them: the inverse of Decode, v / Scale rounded as Decode rounds (half away from
// zero; counters truncated). It reports ErrRange if the type cannot hold the value.
func (r Register) Encode(v int64) ([]uint16, error) {
	return r.AppendEncode(make([]uint16, 0, r.words()), v)
}

// AppendEncode appends the words of Encode(v) to dst.
func (r Register) AppendEncode(dst []uint16, v int64) ([]uint16, error) {
	sc := r.scale()
	if r.Counter && v < 0 {
		return dst, fmt.Errorf("%s: counter value %d is negative: %w", r, v, ErrRange)
	}
	var raw uint64
	if r.Type.isFloat() {
		f := float64(v) * float64(sc.Den) / float64(sc.Num)
		if r.Type == Float32 {
			if math.Abs(f) > math.MaxFloat32 {
				return dst, fmt.Errorf("%s: %d does not fit: %w", r, v, ErrRange)
			}
			raw = uint64(math.Float32bits(float32(f)))
		} else {
			raw = math.Float64bits(f)
		}
		return r.split(dst, raw), nil
	}
	// The inverse of Num/Den is Den/Num; keep the divisor positive.
	num, den := sc.Den, sc.Num
	if den < 0 {
		num, den = -num, -den
	}
	x, ok := scaleInt(v, num, den, r.Counter)
	if !ok {
		return dst, fmt.Errorf("%s: %d / %s is outside int64: %w", r, v, sc, ErrRange)
	}
	lo, hi := typeRange(r.Type)
	if x < lo || (hi >= 0 && x > hi) {
		return dst, fmt.Errorf("%s: %d (register value %d) does not fit %s: %w", r, v, x, r.Type, ErrRange)
	}
	switch r.Type {
	case U16, S16:
		raw = uint64(uint16(x))
	case U32, S32:
		raw = uint64(uint32(x))
	default:
		raw = uint64(x)
	}
	return r.split(dst, raw), nil
}

// typeRange returns the int64 range of an integer type; hi is -1 when it is MaxInt64.
func typeRange(t DataType) (lo, hi int64) {
	switch t {
	case U16:
		return 0, math.MaxUint16
	case S16:
		return math.MinInt16, math.MaxInt16
	case U32:
		return 0, math.MaxUint32
	case S32:
		return math.MinInt32, math.MaxInt32
	case U64:
		return 0, -1
	}
	return math.MinInt64, -1
}

// assemble puts the words of a value together into its bits, most significant first.
func (r Register) assemble(words []uint16) uint64 {
	var raw uint64
	for i, w := range words {
		if r.ByteOrder == LittleEndian {
			w = bits.ReverseBytes16(w)
		}
		if r.WordOrder == LowWordFirst {
			raw |= uint64(w) << (16 * i)
		} else {
			raw = raw<<16 | uint64(w)
		}
	}
	return raw
}

// split is the inverse of assemble: it appends the value's words in address order.
func (r Register) split(dst []uint16, raw uint64) []uint16 {
	n := r.words()
	for i := range n {
		shift := 16 * (n - 1 - i)
		if r.WordOrder == LowWordFirst {
			shift = 16 * i
		}
		w := uint16(raw >> shift)
		if r.ByteOrder == LittleEndian {
			w = bits.ReverseBytes16(w)
		}
		dst = append(dst, w)
	}
	return dst
}

// scaleInt returns v × num / den (den > 0) rounded half away from zero, or toward zero
// if trunc, in 128-bit intermediate arithmetic; ok is false if the result is outside int64.
func scaleInt(v, num, den int64, trunc bool) (int64, bool) {
	neg := (v < 0) != (num < 0)
	hi, lo := bits.Mul64(absU(v), absU(num))
	d := uint64(den)
	if hi >= d {
		return 0, false // the quotient needs more than 64 bits
	}
	q, rem := bits.Div64(hi, lo, d)
	if !trunc && rem >= d-rem {
		q++ // rem ≥ d/2: round the magnitude up
		if q == 0 {
			return 0, false
		}
	}
	if neg {
		if q > 1<<63 {
			return 0, false
		}
		return int64(-q), true // q = 2^63 wraps to MinInt64, as wanted
	}
	if q > math.MaxInt64 {
		return 0, false
	}
	return int64(q), true
}

// absU returns |v| as uint64; |MinInt64| = 2^63 is representable.
func absU(v int64) uint64 {
	if v < 0 {
		return -uint64(v)
	}
	return uint64(v)
}

// Block is a run of registers as one read returned them: Words[i] is register Start+i of
// Table.
type Block struct {
	Table Table
	Start uint16
	Words []uint16
}

// Decode turns the blocks a reading plan returned into channel values, every register of
// the map being decoded from the block that holds it. It reports the first value that
// does not decode (ErrValue) and an error naming any register no block holds.
func (m Map) Decode(blocks []Block) (map[string]int64, error) {
	out := make(map[string]int64, len(m.Registers))
	for i, r := range m.Registers {
		words, ok := find(blocks, r)
		if !ok {
			return nil, fmt.Errorf("modbus map %q: %s: %s not in the registers read", m.Name, label(i, r), r.span())
		}
		v, err := r.Decode(words)
		if err != nil {
			return nil, fmt.Errorf("modbus map %q: %w", m.Name, err)
		}
		out[r.Channel] = v
	}
	return out, nil
}

// find returns the words of r from the first block holding all of them.
func find(blocks []Block, r Register) ([]uint16, bool) {
	for _, b := range blocks {
		off := int(r.Address) - int(b.Start)
		if b.Table == r.Table && off >= 0 && off+r.words() <= len(b.Words) {
			return b.Words[off : off+r.words()], true
		}
	}
	return nil, false
}

// EncodeRange answers a read of count registers of table from start as a meter with this
// map would, from channel values in meterdata units (the simulator's side). Every
// register of the range must belong to a mapped value, else it reports ErrUnmapped (a
// meter answers exception 02, illegal data address); a read may take part of a value.
// It reports an error naming the channel for a missing value and ErrRange for a value the
// register cannot hold. The map must be valid.
func (m Map) EncodeRange(table Table, start, count uint16, values map[string]int64) ([]uint16, error) {
	end := int(start) + int(count) // exclusive
	out := make([]uint16, count)
	covered := 0
	var buf [4]uint16
	for _, r := range m.Registers {
		if r.Table != table || r.end() < int(start) || int(r.Address) >= end {
			continue
		}
		v, ok := values[r.Channel]
		if !ok {
			return nil, fmt.Errorf("modbus map %q: no value for channel %s", m.Name, r.Channel)
		}
		words, err := r.AppendEncode(buf[:0], v)
		if err != nil {
			return nil, fmt.Errorf("modbus map %q: %w", m.Name, err)
		}
		for i, w := range words {
			if a := int(r.Address) + i; a >= int(start) && a < end {
				out[a-int(start)] = w
				covered++
			}
		}
	}
	if covered != int(count) {
		return nil, fmt.Errorf("modbus map %q: %s %#04x+%d: %d of %d registers: %w", m.Name, table, start, count, covered, count, ErrUnmapped)
	}
	return out, nil
}
