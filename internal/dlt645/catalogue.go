package dlt645

import (
	"fmt"
	"slices"
	"strings"
)

// Encoding says how a data format's bytes carry a value.
type Encoding uint8

// Encodings of the data formats in the catalogue (数据格式).
const (
	EncodingBCD       Encoding = iota + 1 // unsigned packed BCD, e.g. XXXXXX.XX
	EncodingSignedBCD                     // packed BCD, sign in the most significant bit
	EncodingBits                          // binary bit field, little-endian (status words)
	EncodingDate                          // YYMMDDWW
	EncodingTime                          // hhmmss
)

// Format is the data format of one value: its encoding, size in bytes, implied decimals
// and the unit of the value as the standard states it.
type Format struct {
	Encoding Encoding
	Size     int    // bytes per value
	Decimals int    // implied decimal places (BCD encodings)
	Unit     string // unit of the decimal value, e.g. "kWh", "V"; "" for pure numbers
}

// String prints the format as the standard's tables do, e.g. "XXX.XXX A (signed)".
func (f Format) String() string {
	var s string
	switch f.Encoding {
	case EncodingDate:
		return "YYMMDDWW"
	case EncodingTime:
		return "hhmmss"
	case EncodingBits:
		return fmt.Sprintf("%d-byte bit field", f.Size)
	default:
		s = strings.Repeat("X", 2*f.Size-f.Decimals)
		if f.Decimals > 0 {
			s += "." + strings.Repeat("X", f.Decimals)
		}
	}
	if f.Unit != "" {
		s += " " + f.Unit
	}
	if f.Encoding == EncodingSignedBCD {
		s += " (signed)"
	}
	return s
}

// DecodeRaw decodes one value of the format into an integer in units of the last digit
// (10^-Decimals Unit): "123.456" A decodes as 123456. Status words decode as their bits.
// Date and time formats are not integers: use DecodeDateTime.
func (f Format) DecodeRaw(b []byte) (int64, error) {
	if len(b) != f.Size {
		return 0, fmt.Errorf("%w: %d bytes, want %d for %s", ErrData, len(b), f.Size, f)
	}
	switch f.Encoding {
	case EncodingBCD:
		v, err := DecodeBCD(b)
		return int64(v), err
	case EncodingSignedBCD:
		return DecodeSignedBCD(b)
	case EncodingBits:
		var v int64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | int64(b[i])
		}
		return v, nil
	default:
		return 0, fmt.Errorf("%w: %s is not an integer format", ErrNoValues, f)
	}
}

// AppendRaw appends v, in units of the last digit, in the format. It reports ErrRange if
// v does not fit.
func (f Format) AppendRaw(dst []byte, v int64) ([]byte, error) {
	switch f.Encoding {
	case EncodingBCD:
		if v < 0 {
			return dst, fmt.Errorf("%w: %d is negative, %s is unsigned", ErrRange, v, f)
		}
		return AppendBCD(dst, uint64(v), f.Size)
	case EncodingSignedBCD:
		return AppendSignedBCD(dst, v, f.Size)
	case EncodingBits:
		if v < 0 || (f.Size < 8 && v >= 1<<(8*f.Size)) {
			return dst, fmt.Errorf("%w: %#x does not fit %s", ErrRange, v, f)
		}
		for i := 0; i < f.Size; i++ {
			dst = append(dst, byte(v>>(8*i)))
		}
		return dst, nil
	default:
		return dst, fmt.Errorf("%w: %s is not an integer format", ErrNoValues, f)
	}
}

// Entry is one data identifier of the catalogue: what it is, its data format, and the
// meterdata channel each of its values feeds, in wire order. A block (DI with FFH) has
// several values of the same format. A channel value is the raw integer times Scale: an
// energy register "XXXXXX.XX kWh" counts 0.01 kWh, so Scale 10 turns it into Wh.
type Entry struct {
	DI       DI
	Name     string
	Format   Format
	Channels []string // meterdata channel names; none for the date and time
	Scale    int64    // channel unit per last digit of the format
}

// Size is the number of value bytes of the full entry (all values of a block).
func (e Entry) Size() int { return e.Format.Size * max(1, len(e.Channels)) }

// Decode maps the value bytes of a reply (after the data identifier) to meterdata
// channels in their integer units. A block reply may carry more values than the
// catalogue names (a meter with more than four rates): the extra values are ignored; it
// may carry fewer (a single-phase meter answering a three-phase block): only those
// present are returned. A single identifier must carry exactly one value.
func (e Entry) Decode(value []byte) (map[string]int64, error) {
	if len(e.Channels) == 0 {
		return nil, fmt.Errorf("%w: %s (%s)", ErrNoValues, e.DI, e.Name)
	}
	size := e.Format.Size
	n := len(value) / size
	switch {
	case len(value)%size != 0 || n == 0:
		return nil, fmt.Errorf("%w: %s (%s): %d value bytes, want a multiple of %d", ErrData, e.DI, e.Name, len(value), size)
	case !e.DI.IsBlock() && n != 1:
		return nil, fmt.Errorf("%w: %s (%s): %d value bytes, want %d", ErrData, e.DI, e.Name, len(value), size)
	}
	n = min(n, len(e.Channels))
	out := make(map[string]int64, n)
	for i := 0; i < n; i++ {
		raw, err := e.Format.DecodeRaw(value[i*size : (i+1)*size])
		if err != nil {
			return nil, fmt.Errorf("%s (%s) value %d: %w", e.DI, e.Name, i, err)
		}
		out[e.Channels[i]] = raw * e.Scale
	}
	return out, nil
}

// AppendEncode appends the entry's value bytes for the channel values given (the meter
// side: what a simulator sends after the data identifier). Values are rounded to the
// nearest last digit of the format, halves away from zero. It reports an error naming a
// missing channel, and ErrRange for a value the format cannot hold.
func (e Entry) AppendEncode(dst []byte, values map[string]int64) ([]byte, error) {
	if len(e.Channels) == 0 {
		return dst, fmt.Errorf("%w: %s (%s)", ErrNoValues, e.DI, e.Name)
	}
	for _, ch := range e.Channels {
		v, ok := values[ch]
		if !ok {
			return dst, fmt.Errorf("dlt645: encode %s (%s): no value for channel %q", e.DI, e.Name, ch)
		}
		var err error
		dst, err = e.Format.AppendRaw(dst, divRound(v, e.Scale))
		if err != nil {
			return dst, fmt.Errorf("encode %s (%s) channel %s: %w", e.DI, e.Name, ch, err)
		}
	}
	return dst, nil
}

func divRound(v, d int64) int64 {
	if d <= 1 {
		return v
	}
	if v < 0 {
		return -((-v + d/2) / d)
	}
	return (v + d/2) / d
}

// Data identifiers of the catalogue (DL/T 645-2007 Annex A, data identifier tables).
const (
	DIForwardActiveTotal DI = 0x00010000 // 正向有功总电能
	DIForwardActiveBlock DI = 0x0001FF00 // 正向有功电能数据块: total, rates 1…4
	DIReverseActiveTotal DI = 0x00020000 // 反向有功总电能

	DIVoltageA     DI = 0x02010100 // A相电压
	DIVoltageB     DI = 0x02010200
	DIVoltageC     DI = 0x02010300
	DIVoltageBlock DI = 0x0201FF00 // 电压数据块: A, B, C

	DICurrentA     DI = 0x02020100 // A相电流
	DICurrentB     DI = 0x02020200
	DICurrentC     DI = 0x02020300
	DICurrentBlock DI = 0x0202FF00 // 电流数据块: A, B, C

	DIActivePowerTotal DI = 0x02030000 // 瞬时总有功功率
	DIActivePowerA     DI = 0x02030100
	DIActivePowerB     DI = 0x02030200
	DIActivePowerC     DI = 0x02030300
	DIActivePowerBlock DI = 0x0203FF00 // 瞬时有功功率数据块: total, A, B, C

	DIReactivePowerTotal DI = 0x02040000 // 瞬时总无功功率
	DIPowerFactorTotal   DI = 0x02060000 // 总功率因数
	DIFrequency          DI = 0x02800002 // 电网频率

	DIDate        DI = 0x04000101 // 日期及星期 YYMMDDWW
	DITime        DI = 0x04000102 // 时间 hhmmss
	DIStatusWord1 DI = 0x04000501 // 电表运行状态字1
	DIStatusWord3 DI = 0x04000503 // 电表运行状态字3 (relay state in bit 4)
)

// Data formats of the catalogue.
var (
	formatEnergy      = Format{Encoding: EncodingBCD, Size: 4, Decimals: 2, Unit: "kWh"}        // XXXXXX.XX
	formatVoltage     = Format{Encoding: EncodingBCD, Size: 2, Decimals: 1, Unit: "V"}          // XXX.X
	formatCurrent     = Format{Encoding: EncodingSignedBCD, Size: 3, Decimals: 3, Unit: "A"}    // XXX.XXX
	formatPower       = Format{Encoding: EncodingSignedBCD, Size: 3, Decimals: 4, Unit: "kW"}   // XX.XXXX
	formatReactive    = Format{Encoding: EncodingSignedBCD, Size: 3, Decimals: 4, Unit: "kvar"} // XX.XXXX
	formatPowerFactor = Format{Encoding: EncodingSignedBCD, Size: 2, Decimals: 3}               // X.XXX
	formatFrequency   = Format{Encoding: EncodingBCD, Size: 2, Decimals: 2, Unit: "Hz"}         // XX.XX
	formatDate        = Format{Encoding: EncodingDate, Size: 4}                                 // YYMMDDWW
	formatTime        = Format{Encoding: EncodingTime, Size: 3}                                 // hhmmss
	formatStatusWord  = Format{Encoding: EncodingBits, Size: 2}                                 // 16 bits
)

// catalogue lists the entries in DI order. Scales turn the format's last digit into the
// meterdata unit: 0.01 kWh = 10 Wh, 0.1 V = 100 mV, 0.001 A = 1 mA, 0.0001 kW = 100 mW,
// 0.0001 kvar = 100 mvar, 0.001 = 1 thousandth, 0.01 Hz = 10 mHz.
var catalogue = []Entry{
	{DIForwardActiveTotal, "forward active energy, total", formatEnergy, []string{"e_imp"}, 10},
	{DIForwardActiveBlock, "forward active energy, total and rates 1-4", formatEnergy,
		[]string{"e_imp", "e_imp_t1", "e_imp_t2", "e_imp_t3", "e_imp_t4"}, 10},
	{DIReverseActiveTotal, "reverse active energy, total", formatEnergy, []string{"e_exp"}, 10},
	{DIVoltageA, "phase A voltage", formatVoltage, []string{"u_a"}, 100},
	{DIVoltageB, "phase B voltage", formatVoltage, []string{"u_b"}, 100},
	{DIVoltageC, "phase C voltage", formatVoltage, []string{"u_c"}, 100},
	{DIVoltageBlock, "voltage, phases A-C", formatVoltage, []string{"u_a", "u_b", "u_c"}, 100},
	{DICurrentA, "phase A current", formatCurrent, []string{"i_a"}, 1},
	{DICurrentB, "phase B current", formatCurrent, []string{"i_b"}, 1},
	{DICurrentC, "phase C current", formatCurrent, []string{"i_c"}, 1},
	{DICurrentBlock, "current, phases A-C", formatCurrent, []string{"i_a", "i_b", "i_c"}, 1},
	{DIActivePowerTotal, "active power, total", formatPower, []string{"p"}, 100},
	{DIActivePowerA, "phase A active power", formatPower, []string{"p_a"}, 100},
	{DIActivePowerB, "phase B active power", formatPower, []string{"p_b"}, 100},
	{DIActivePowerC, "phase C active power", formatPower, []string{"p_c"}, 100},
	{DIActivePowerBlock, "active power, total and phases A-C", formatPower, []string{"p", "p_a", "p_b", "p_c"}, 100},
	{DIReactivePowerTotal, "reactive power, total", formatReactive, []string{"q"}, 100},
	{DIPowerFactorTotal, "power factor, total", formatPowerFactor, []string{"pf"}, 1},
	{DIFrequency, "grid frequency", formatFrequency, []string{"f"}, 10},
	{DIDate, "date and weekday", formatDate, nil, 0},
	{DITime, "time of day", formatTime, nil, 0},
	{DIStatusWord1, "run status word 1", formatStatusWord, []string{"status1"}, 1},
	{DIStatusWord3, "run status word 3", formatStatusWord, []string{"status3"}, 1},
}

var catalogueIndex = func() map[DI]int {
	m := make(map[DI]int, len(catalogue))
	for i, e := range catalogue {
		m[e.DI] = i
	}
	return m
}()

// Catalogue returns every data identifier this package knows, in DI order.
func Catalogue() []Entry {
	out := make([]Entry, len(catalogue))
	for i, e := range catalogue {
		e.Channels = slices.Clone(e.Channels)
		out[i] = e
	}
	return out
}

// Lookup returns the catalogue entry of di.
func Lookup(di DI) (Entry, bool) {
	i, ok := catalogueIndex[di]
	if !ok {
		return Entry{}, false
	}
	e := catalogue[i]
	e.Channels = slices.Clone(e.Channels)
	return e, true
}

// DecodeValues maps the value bytes of a read reply for di (after the data identifier)
// to meterdata channels in their integer units. It reports ErrUnknownDI for an
// identifier not in the catalogue and ErrNoValues for the date and time.
func DecodeValues(di DI, value []byte) (map[string]int64, error) {
	i, ok := catalogueIndex[di]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownDI, di)
	}
	return catalogue[i].Decode(value)
}
