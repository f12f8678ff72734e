package dlt645

import (
	"fmt"
	"slices"
	"strings"

	"gridmeter/internal/meterdata"
)

// Encoding says how a data format's bytes carry a value.
type Encoding uint8

// Encodings of the data formats in the catalogue (数据格式).
const (
	EncodingBCD        Encoding = iota + 1 // unsigned packed BCD, e.g. XXXXXX.XX
	EncodingSignedBCD                      // packed BCD, sign in the most significant bit
	EncodingBits                           // binary bit field, little-endian (status words)
	EncodingDate                           // YYMMDDWW
	EncodingTime                           // hhmmss
	EncodingMinuteTime                     // YYMMDDhhmm, on the wire mm hh DD MM YY (freeze times)
	EncodingSecondTime                     // YYMMDDhhmmss, on the wire ss mm hh DD MM YY (event times)
	EncodingDayHour                        // DDhh, on the wire hh DD (settlement day)
	EncodingLoadRecord                     // load profile record blocks, variable length (see LoadRecord)
)

// Format is the data format of one value: its encoding, size in bytes, implied decimals
// and the unit of the value as the standard states it. Size 0 means a variable length.
type Format struct {
	Encoding Encoding
	Size     int    // bytes per value; 0 for a variable length
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
	case EncodingMinuteTime:
		return "YYMMDDhhmm"
	case EncodingSecondTime:
		return "YYMMDDhhmmss"
	case EncodingDayHour:
		return "DDhh"
	case EncodingLoadRecord:
		return "load profile record blocks"
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
// Date and time formats are not integers: use DecodeDateTime, DecodeMinuteTime,
// DecodeSecondTime or DecodeSettlementDay.
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

// Entry is one data identifier of the catalogue: what it is, its data format, how many
// values a full reply carries, and the meterdata channel the leading values feed, in
// wire order. A block (DI with FFH, or a frozen record such as 050601nn) has several
// values of the same format. A channel value is the raw integer times Scale: an energy
// register "XXXXXX.XX kWh" counts 0.01 kWh, so Scale 10 turns it into Wh.
//
// Channels may be shorter than Count: the reverse active block 0002FF00 carries the total
// and four rates, but meterdata has a channel for the total only. An entry without
// channels (date, time, freeze and event times, pulse constants, status words 2 and 4 to
// 7, counters, load profile records) is decoded with the typed decoders of this package
// or, for integer formats, with Entry.DecodeRaw.
//
// An entry with Series n > 0 stands for n identifiers: DI0 = 01…n numbers the 1st (most
// recent) to the n-th previous record (settlement day, daily freeze, event). Its DI holds
// DI0 = 01; Lookup returns it with the DI asked for.
type Entry struct {
	DI       DI
	Name     string
	Format   Format
	Count    int            // values in a full reply; 1 for a single value
	Channels []string       // meterdata channels of the first len(Channels) values
	Scale    int64          // channel unit per last digit of the format
	Kind     meterdata.Kind // data kind the channels feed; "" for none
	Series   int            // 0, or the number of records DI0 = 01…Series numbers
}

// IsBlock reports whether a full reply carries several values.
func (e Entry) IsBlock() bool { return e.Count > 1 }

// Size is the number of value bytes AppendEncode writes: one value per channel. An entry
// with values meterdata has no channel for is longer on the wire (Count values; see
// Entry.AppendRaw); a variable-length entry has size 0.
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
	raw, err := e.decodeRaw(value, len(e.Channels))
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(raw))
	for i, v := range raw {
		out[e.Channels[i]] = v * e.Scale
	}
	return out, nil
}

// DecodeRaw decodes every value of a reply of an integer format, in units of the
// format's last digit, whether or not meterdata has a channel for it: the five values of
// the reverse active block, a pulse constant, a status word.
func (e Entry) DecodeRaw(value []byte) ([]int64, error) {
	return e.decodeRaw(value, -1)
}

// decodeRaw decodes at most limit values (all if limit < 0).
func (e Entry) decodeRaw(value []byte, limit int) ([]int64, error) {
	size := e.Format.Size
	if size == 0 {
		return nil, fmt.Errorf("%w: %s (%s) is %s", ErrNoValues, e.DI, e.Name, e.Format)
	}
	n := len(value) / size
	switch {
	case len(value)%size != 0 || n == 0:
		return nil, fmt.Errorf("%w: %s (%s): %d value bytes, want a multiple of %d", ErrData, e.DI, e.Name, len(value), size)
	case !e.IsBlock() && n != 1:
		return nil, fmt.Errorf("%w: %s (%s): %d value bytes, want %d", ErrData, e.DI, e.Name, len(value), size)
	}
	if limit >= 0 {
		n = min(n, limit)
	}
	out := make([]int64, n)
	for i := range out {
		raw, err := e.Format.DecodeRaw(value[i*size : (i+1)*size])
		if err != nil {
			return nil, fmt.Errorf("%s (%s) value %d: %w", e.DI, e.Name, i, err)
		}
		out[i] = raw
	}
	return out, nil
}

// AppendEncode appends the entry's value bytes for the channel values given (the meter
// side: what a simulator sends after the data identifier). Values are rounded to the
// nearest last digit of the format, halves away from zero. It reports an error naming a
// missing channel, and ErrRange for a value the format cannot hold. It writes one value
// per channel; values without a channel are appended with AppendRaw.
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

// AppendRaw appends the given values, in units of the format's last digit, in the
// entry's format: the meter side of DecodeRaw.
func (e Entry) AppendRaw(dst []byte, raw ...int64) ([]byte, error) {
	for i, v := range raw {
		var err error
		if dst, err = e.Format.AppendRaw(dst, v); err != nil {
			return dst, fmt.Errorf("encode %s (%s) value %d: %w", e.DI, e.Name, i, err)
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
// Identifiers ending in 01 marked "nn" are the first of a series: see the DI… functions
// in history.go for the n-th record.
const (
	DIForwardActiveTotal DI = 0x00010000 // 正向有功总电能
	DIForwardActiveBlock DI = 0x0001FF00 // 正向有功电能数据块: total, rates 1…4
	DIReverseActiveTotal DI = 0x00020000 // 反向有功总电能
	DIReverseActiveBlock DI = 0x0002FF00 // 反向有功电能数据块: total, rates 1…4

	// Settlement-day values (上n结算日), nn = 01…0C.
	DISettlementForwardTotal DI = 0x00010001 // 上1结算日正向有功总电能 (000100nn)
	DISettlementForwardBlock DI = 0x0001FF01 // 上1结算日正向有功电能数据块 (0001FFnn)
	DISettlementReverseTotal DI = 0x00020001 // 上1结算日反向有功总电能 (000200nn)

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

	// Power-down events (掉电). The reference note marks these "moderate confidence".
	DIPowerDownCount  DI = 0x03110000 // 掉电总次数
	DIPowerDownRecord DI = 0x03110001 // 上1次掉电发生时刻, 结束时刻 (031100nn, nn = 01…0A)

	DIDate                  DI = 0x04000101 // 日期及星期 YYMMDDWW
	DITime                  DI = 0x04000102 // 时间 hhmmss
	DIActivePulseConstant   DI = 0x04000409 // 电表有功常数 imp/kWh
	DIReactivePulseConstant DI = 0x0400040A // 电表无功常数 imp/kvarh
	DIStatusWord1           DI = 0x04000501 // 电表运行状态字1
	DIStatusWord2           DI = 0x04000502 // 电表运行状态字2
	DIStatusWord3           DI = 0x04000503 // 电表运行状态字3 (relay state in bit 4)
	DIStatusWord4           DI = 0x04000504 // 电表运行状态字4 (phase A faults)
	DIStatusWord5           DI = 0x04000505 // 电表运行状态字5 (phase B faults)
	DIStatusWord6           DI = 0x04000506 // 电表运行状态字6 (phase C faults)
	DIStatusWord7           DI = 0x04000507 // 电表运行状态字7 (whole-meter faults)
	DISettlementDay1        DI = 0x04000B01 // 每月第1结算日 DDhh

	// Instant freeze (瞬时冻结, after a freeze command 16H with 99999999), nn = 01…03.
	DIInstantFrozenTime    DI = 0x05010001 // 上1次瞬时冻结时间 (050100nn)
	DIInstantFrozenForward DI = 0x05010101 // 上1次瞬时冻结正向有功电能数据 (050101nn)
	DIInstantFrozenReverse DI = 0x05010201 // 上1次瞬时冻结反向有功电能数据 (050102nn)

	// Daily freeze (日冻结), nn = 01…3E: 1 to 62 days back.
	DIDailyFrozenTime    DI = 0x05060001 // 上1次日冻结时间 (050600nn)
	DIDailyFrozenForward DI = 0x05060101 // 上1次日冻结正向有功电能数据 (050601nn)
	DIDailyFrozenReverse DI = 0x05060201 // 上1次日冻结反向有功电能数据 (050602nn)

	// Load profile (负荷记录), all classes in one record: see LoadRecord.
	DILoadProfileAtTime DI = 0x06000001 // 给定时间记录块: DI + NN + mmhhDDMMYY
	DILoadProfileLatest DI = 0x06000002 // 最近一个记录块
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
	formatPulseActive = Format{Encoding: EncodingBCD, Size: 3, Unit: "imp/kWh"}                 // XXXXXX
	formatPulseReact  = Format{Encoding: EncodingBCD, Size: 3, Unit: "imp/kvarh"}               // XXXXXX
	formatCount       = Format{Encoding: EncodingBCD, Size: 3}                                  // XXXXXX
	formatMinuteTime  = Format{Encoding: EncodingMinuteTime, Size: 5}                           // YYMMDDhhmm
	formatSecondTime  = Format{Encoding: EncodingSecondTime, Size: 6}                           // YYMMDDhhmmss
	formatDayHour     = Format{Encoding: EncodingDayHour, Size: 2}                              // DDhh
	formatLoadRecord  = Format{Encoding: EncodingLoadRecord}                                    // variable

	forwardChannels = []string{"e_imp", "e_imp_t1", "e_imp_t2", "e_imp_t3", "e_imp_t4"}
	reverseChannels = []string{"e_exp"}
)

const (
	instant = meterdata.KindInstant
	status  = meterdata.KindStatus
	daily   = meterdata.KindDailyFrozen
	monthly = meterdata.KindMonthly

	energyBlockCount = 5 // total and rates 1…4, as this package names them
)

// catalogue lists the entries in DI order. Scales turn the format's last digit into the
// meterdata unit: 0.01 kWh = 10 Wh, 0.1 V = 100 mV, 0.001 A = 1 mA, 0.0001 kW = 100 mW,
// 0.0001 kvar = 100 mvar, 0.001 = 1 thousandth, 0.01 Hz = 10 mHz.
var catalogue = []Entry{
	{DI: DIForwardActiveTotal, Name: "forward active energy, total", Format: formatEnergy, Count: 1,
		Channels: []string{"e_imp"}, Scale: 10, Kind: instant},
	{DI: DISettlementForwardTotal, Name: "forward active energy, total, n-th previous settlement day", Format: formatEnergy, Count: 1,
		Channels: []string{"e_imp"}, Scale: 10, Kind: monthly, Series: MaxSettlements},
	{DI: DIForwardActiveBlock, Name: "forward active energy, total and rates 1-4", Format: formatEnergy, Count: energyBlockCount,
		Channels: forwardChannels, Scale: 10, Kind: instant},
	{DI: DISettlementForwardBlock, Name: "forward active energy, total and rates 1-4, n-th previous settlement day", Format: formatEnergy,
		Count: energyBlockCount, Channels: forwardChannels, Scale: 10, Kind: monthly, Series: MaxSettlements},
	{DI: DIReverseActiveTotal, Name: "reverse active energy, total", Format: formatEnergy, Count: 1,
		Channels: reverseChannels, Scale: 10, Kind: instant},
	{DI: DISettlementReverseTotal, Name: "reverse active energy, total, n-th previous settlement day", Format: formatEnergy, Count: 1,
		Channels: reverseChannels, Scale: 10, Kind: monthly, Series: MaxSettlements},
	{DI: DIReverseActiveBlock, Name: "reverse active energy, total and rates 1-4", Format: formatEnergy, Count: energyBlockCount,
		Channels: reverseChannels, Scale: 10, Kind: instant},
	{DI: DIVoltageA, Name: "phase A voltage", Format: formatVoltage, Count: 1, Channels: []string{"u_a"}, Scale: 100, Kind: instant},
	{DI: DIVoltageB, Name: "phase B voltage", Format: formatVoltage, Count: 1, Channels: []string{"u_b"}, Scale: 100, Kind: instant},
	{DI: DIVoltageC, Name: "phase C voltage", Format: formatVoltage, Count: 1, Channels: []string{"u_c"}, Scale: 100, Kind: instant},
	{DI: DIVoltageBlock, Name: "voltage, phases A-C", Format: formatVoltage, Count: 3,
		Channels: []string{"u_a", "u_b", "u_c"}, Scale: 100, Kind: instant},
	{DI: DICurrentA, Name: "phase A current", Format: formatCurrent, Count: 1, Channels: []string{"i_a"}, Scale: 1, Kind: instant},
	{DI: DICurrentB, Name: "phase B current", Format: formatCurrent, Count: 1, Channels: []string{"i_b"}, Scale: 1, Kind: instant},
	{DI: DICurrentC, Name: "phase C current", Format: formatCurrent, Count: 1, Channels: []string{"i_c"}, Scale: 1, Kind: instant},
	{DI: DICurrentBlock, Name: "current, phases A-C", Format: formatCurrent, Count: 3,
		Channels: []string{"i_a", "i_b", "i_c"}, Scale: 1, Kind: instant},
	{DI: DIActivePowerTotal, Name: "active power, total", Format: formatPower, Count: 1, Channels: []string{"p"}, Scale: 100, Kind: instant},
	{DI: DIActivePowerA, Name: "phase A active power", Format: formatPower, Count: 1, Channels: []string{"p_a"}, Scale: 100, Kind: instant},
	{DI: DIActivePowerB, Name: "phase B active power", Format: formatPower, Count: 1, Channels: []string{"p_b"}, Scale: 100, Kind: instant},
	{DI: DIActivePowerC, Name: "phase C active power", Format: formatPower, Count: 1, Channels: []string{"p_c"}, Scale: 100, Kind: instant},
	{DI: DIActivePowerBlock, Name: "active power, total and phases A-C", Format: formatPower, Count: 4,
		Channels: []string{"p", "p_a", "p_b", "p_c"}, Scale: 100, Kind: instant},
	{DI: DIReactivePowerTotal, Name: "reactive power, total", Format: formatReactive, Count: 1, Channels: []string{"q"}, Scale: 100, Kind: instant},
	{DI: DIPowerFactorTotal, Name: "power factor, total", Format: formatPowerFactor, Count: 1, Channels: []string{"pf"}, Scale: 1, Kind: instant},
	{DI: DIFrequency, Name: "grid frequency", Format: formatFrequency, Count: 1, Channels: []string{"f"}, Scale: 10, Kind: instant},
	{DI: DIPowerDownCount, Name: "power-down events, total count", Format: formatCount, Count: 1},
	{DI: DIPowerDownRecord, Name: "power-down event, n-th previous: start and end time", Format: formatSecondTime, Count: 2,
		Series: MaxPowerDownRecords},
	{DI: DIDate, Name: "date and weekday", Format: formatDate, Count: 1},
	{DI: DITime, Name: "time of day", Format: formatTime, Count: 1},
	{DI: DIActivePulseConstant, Name: "active pulse constant", Format: formatPulseActive, Count: 1},
	{DI: DIReactivePulseConstant, Name: "reactive pulse constant", Format: formatPulseReact, Count: 1},
	{DI: DIStatusWord1, Name: "run status word 1", Format: formatStatusWord, Count: 1, Channels: []string{"status1"}, Scale: 1, Kind: status},
	{DI: DIStatusWord2, Name: "run status word 2", Format: formatStatusWord, Count: 1},
	{DI: DIStatusWord3, Name: "run status word 3", Format: formatStatusWord, Count: 1, Channels: []string{"status3"}, Scale: 1, Kind: status},
	{DI: DIStatusWord4, Name: "run status word 4", Format: formatStatusWord, Count: 1},
	{DI: DIStatusWord5, Name: "run status word 5", Format: formatStatusWord, Count: 1},
	{DI: DIStatusWord6, Name: "run status word 6", Format: formatStatusWord, Count: 1},
	{DI: DIStatusWord7, Name: "run status word 7", Format: formatStatusWord, Count: 1},
	{DI: DISettlementDay1, Name: "first settlement day of the month", Format: formatDayHour, Count: 1},
	{DI: DIInstantFrozenTime, Name: "instant freeze time, n-th previous", Format: formatMinuteTime, Count: 1, Series: MaxInstantFrozen},
	{DI: DIInstantFrozenForward, Name: "instant freeze forward active energy, total and rates 1-4", Format: formatEnergy,
		Count: energyBlockCount, Channels: forwardChannels, Scale: 10, Series: MaxInstantFrozen},
	{DI: DIInstantFrozenReverse, Name: "instant freeze reverse active energy, total and rates 1-4", Format: formatEnergy,
		Count: energyBlockCount, Channels: reverseChannels, Scale: 10, Series: MaxInstantFrozen},
	{DI: DIDailyFrozenTime, Name: "daily freeze time, n-th previous day", Format: formatMinuteTime, Count: 1, Series: MaxDailyFrozen},
	{DI: DIDailyFrozenForward, Name: "daily frozen forward active energy, total and rates 1-4", Format: formatEnergy,
		Count: energyBlockCount, Channels: forwardChannels, Scale: 10, Kind: daily, Series: MaxDailyFrozen},
	{DI: DIDailyFrozenReverse, Name: "daily frozen reverse active energy, total and rates 1-4", Format: formatEnergy,
		Count: energyBlockCount, Channels: reverseChannels, Scale: 10, Kind: daily, Series: MaxDailyFrozen},
	{DI: DILoadProfileAtTime, Name: "load profile record blocks from a given time", Format: formatLoadRecord, Count: 1},
	{DI: DILoadProfileLatest, Name: "latest load profile record block", Format: formatLoadRecord, Count: 1},
}

var catalogueIndex = func() map[DI]int {
	m := make(map[DI]int, len(catalogue))
	for i, e := range catalogue {
		m[e.DI] = i
	}
	return m
}()

// lookup returns the catalogue entry of di, with DI set to di for a member of a series.
func lookup(di DI) (Entry, bool) {
	if i, ok := catalogueIndex[di]; ok {
		return catalogue[i], true
	}
	nn := int(di & 0xFF)
	if nn < 2 {
		return Entry{}, false
	}
	i, ok := catalogueIndex[di&^0xFF|1]
	if !ok || nn > catalogue[i].Series {
		return Entry{}, false
	}
	e := catalogue[i]
	e.DI = di
	return e, true
}

// Catalogue returns every data identifier this package knows, in DI order; a series is
// listed once, by its first identifier.
func Catalogue() []Entry {
	out := make([]Entry, len(catalogue))
	for i, e := range catalogue {
		e.Channels = slices.Clone(e.Channels)
		out[i] = e
	}
	return out
}

// Lookup returns the catalogue entry of di. For a member of a series (the n-th previous
// daily freeze 050601nn, say) the entry has DI di.
func Lookup(di DI) (Entry, bool) {
	e, ok := lookup(di)
	e.Channels = slices.Clone(e.Channels)
	return e, ok
}

// DecodeValues maps the value bytes of a read reply for di (after the data identifier)
// to meterdata channels in their integer units. It reports ErrUnknownDI for an
// identifier not in the catalogue and ErrNoValues for one that maps to no channel.
func DecodeValues(di DI, value []byte) (map[string]int64, error) {
	e, ok := lookup(di)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownDI, di)
	}
	return e.Decode(value)
}
