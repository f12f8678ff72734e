package dlt645

import (
	"fmt"
	"time"
)

// The meter's memory (DL/T 645-2007 Annex A): daily frozen data (冻结量, DI3 = 05, DI2 =
// 06 日冻结), values of the previous settlement days (结算日, DI3 = 00, DI0 = 01…0C), event
// records (事件记录, DI3 = 03) and load profile records (负荷记录, DI3 = 06, loadprofile.go).
// In each series DI0 = nn counts back from the most recent record, nn = 01; when a new
// record is written the older ones move one place down, so a reader that needs several
// identifiers of one record must check the record did not move between its reads
// (Client.ReadDailyFrozen re-reads the freeze time for this).

// Depths of the series, the largest nn of each.
const (
	MaxDailyFrozen      = 62 // 050600nn…050602nn, nn = 01…3E
	MaxSettlements      = 12 // 000100nn, 0001FFnn, 000200nn, nn = 01…0C
	MaxPowerDownRecords = 10 // 031100nn, nn = 01…0A
	MaxInstantFrozen    = 3  // 050100nn…050102nn, nn = 01…03
)

// DIDailyFrozenTimeN returns 050600nn, the freeze time of the n-th previous daily freeze
// (1 ≤ n ≤ MaxDailyFrozen; other n give identifiers no meter has).
func DIDailyFrozenTimeN(n int) DI { return nth(DIDailyFrozenTime, n) }

// DIDailyFrozenForwardN returns 050601nn, the forward active energy block (total and
// rates) of the n-th previous daily freeze.
func DIDailyFrozenForwardN(n int) DI { return nth(DIDailyFrozenForward, n) }

// DIDailyFrozenReverseN returns 050602nn, the reverse active energy block of the n-th
// previous daily freeze.
func DIDailyFrozenReverseN(n int) DI { return nth(DIDailyFrozenReverse, n) }

// DISettlementForwardTotalN returns 000100nn, forward active total energy at the n-th
// previous settlement day (1 ≤ n ≤ MaxSettlements).
func DISettlementForwardTotalN(n int) DI { return nth(DISettlementForwardTotal, n) }

// DISettlementForwardBlockN returns 0001FFnn, forward active energy, total and rates, at
// the n-th previous settlement day.
func DISettlementForwardBlockN(n int) DI { return nth(DISettlementForwardBlock, n) }

// DISettlementReverseTotalN returns 000200nn, reverse active total energy at the n-th
// previous settlement day.
func DISettlementReverseTotalN(n int) DI { return nth(DISettlementReverseTotal, n) }

// DIPowerDownRecordN returns 031100nn, the n-th previous power-down event record
// (1 ≤ n ≤ MaxPowerDownRecords).
func DIPowerDownRecordN(n int) DI { return nth(DIPowerDownRecord, n) }

// DIInstantFrozenTimeN, DIInstantFrozenForwardN and DIInstantFrozenReverseN return
// 050100nn, 050101nn and 050102nn for the n-th previous instant freeze (1 ≤ n ≤ 3).
func DIInstantFrozenTimeN(n int) DI { return nth(DIInstantFrozenTime, n) }

// DIInstantFrozenForwardN: see DIInstantFrozenTimeN.
func DIInstantFrozenForwardN(n int) DI { return nth(DIInstantFrozenForward, n) }

// DIInstantFrozenReverseN: see DIInstantFrozenTimeN.
func DIInstantFrozenReverseN(n int) DI { return nth(DIInstantFrozenReverse, n) }

// nth replaces DI0 of the first identifier of a series by n (DI0 is binary: 3EH = 62).
func nth(first DI, n int) DI { return first&^0xFF | DI(byte(n)) }

// checkN reports ErrRange unless 1 ≤ n ≤ depth.
func checkN(what string, n, depth int) error {
	if n < 1 || n > depth {
		return fmt.Errorf("%w: %s %d, want 1…%d", ErrRange, what, n, depth)
	}
	return nil
}

// FrozenRecord is one frozen record (daily or instant freeze): the meter's freeze time
// and the energy registers it froze. Forward and Reverse hold every value the meter sent,
// total first, then rates 1, 2, …, in Wh; Reverse is nil when the meter does not keep
// reverse energy (it answered 050602nn with "no data requested").
type FrozenRecord struct {
	Time    time.Time // freeze time (冻结时间), in the meter's time zone
	Forward []int64   // forward active energy, total and rates, Wh
	Reverse []int64   // reverse active energy, total and rates, Wh; nil if not kept
}

// Values returns the record as meterdata channels: e_imp, e_imp_t1…t4 and e_exp, those
// present.
func (r FrozenRecord) Values() map[string]int64 {
	out := make(map[string]int64, len(forwardChannels)+1)
	for i, v := range r.Forward[:min(len(r.Forward), len(forwardChannels))] {
		out[forwardChannels[i]] = v
	}
	if len(r.Reverse) > 0 {
		out["e_exp"] = r.Reverse[0]
	}
	return out
}

// DecodeFrozen decodes the three value fields of a frozen record, as read with 050600nn
// (YYMMDDhhmm), 050601nn and 050602nn (energy blocks XXXXXX.XX kWh, total then rates), in
// the meter's time zone loc. reverse may be nil. It reports ErrNoRecord for an all-zero
// freeze time (no record yet at this position) and ErrData for malformed fields.
func DecodeFrozen(timeField, forward, reverse []byte, loc *time.Location) (FrozenRecord, error) {
	t, err := DecodeMinuteTime(timeField, loc)
	if err != nil {
		return FrozenRecord{}, fmt.Errorf("freeze time: %w", err)
	}
	r := FrozenRecord{Time: t}
	if r.Forward, err = decodeEnergyBlock(forward); err != nil {
		return FrozenRecord{}, fmt.Errorf("forward energy: %w", err)
	}
	if reverse != nil {
		if r.Reverse, err = decodeEnergyBlock(reverse); err != nil {
			return FrozenRecord{}, fmt.Errorf("reverse energy: %w", err)
		}
	}
	return r, nil
}

// AppendFrozen appends the three value fields of r, as a meter sends them: the freeze
// time, the forward block and the reverse block (empty if r.Reverse is nil).
func AppendFrozen(r FrozenRecord) (timeField, forward, reverse []byte, err error) {
	if timeField, err = AppendMinuteTime(nil, r.Time); err != nil {
		return nil, nil, nil, err
	}
	if forward, err = appendEnergyBlock(nil, r.Forward); err != nil {
		return nil, nil, nil, err
	}
	if r.Reverse != nil {
		if reverse, err = appendEnergyBlock(nil, r.Reverse); err != nil {
			return nil, nil, nil, err
		}
	}
	return timeField, forward, reverse, nil
}

// decodeEnergyBlock decodes 1 to 64 values XXXXXX.XX kWh into Wh.
func decodeEnergyBlock(b []byte) ([]int64, error) {
	if len(b) == 0 || len(b)%4 != 0 || len(b) > 64*4 {
		return nil, fmt.Errorf("%w: energy block of %d bytes, want 1 to 64 values of 4", ErrData, len(b))
	}
	out := make([]int64, len(b)/4)
	for i := range out {
		v, err := formatEnergy.DecodeRaw(b[4*i : 4*i+4])
		if err != nil {
			return nil, fmt.Errorf("value %d: %w", i, err)
		}
		out[i] = v * 10
	}
	return out, nil
}

// appendEnergyBlock appends Wh values as XXXXXX.XX kWh, rounded to 10 Wh.
func appendEnergyBlock(dst []byte, wh []int64) ([]byte, error) {
	if len(wh) == 0 || len(wh) > 64 {
		return dst, fmt.Errorf("%w: energy block of %d values, want 1 to 64", ErrRange, len(wh))
	}
	for _, v := range wh {
		var err error
		if dst, err = formatEnergy.AppendRaw(dst, divRound(v, 10)); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// PowerDownEvent is one power-down event record (掉电事件记录, 031100nn): when the supply
// failed and when it came back, by the meter's clock. The reference note marks the
// identifier and this 12-byte layout "moderate confidence".
type PowerDownEvent struct {
	Start time.Time // 掉电发生时刻
	End   time.Time // 掉电结束时刻; zero while the outage lasts (an all-zero field)
}

// DecodePowerDownEvent decodes a power-down record: start and end time, each
// YYMMDDhhmmss (ss mm hh DD MM YY on the wire). It reports ErrNoRecord when the start is
// all zeros (fewer events than nn) and ErrData for a malformed record.
func DecodePowerDownEvent(b []byte, loc *time.Location) (PowerDownEvent, error) {
	if len(b) != 12 {
		return PowerDownEvent{}, fmt.Errorf("%w: power-down record of %d bytes, want 12", ErrData, len(b))
	}
	var e PowerDownEvent
	var err error
	if e.Start, err = DecodeSecondTime(b[:6], loc); err != nil {
		return PowerDownEvent{}, fmt.Errorf("power-down start: %w", err)
	}
	if allZero(b[6:]) {
		return e, nil
	}
	if e.End, err = DecodeSecondTime(b[6:], loc); err != nil {
		return PowerDownEvent{}, fmt.Errorf("power-down end: %w", err)
	}
	if e.End.Before(e.Start) {
		return PowerDownEvent{}, fmt.Errorf("%w: power-down ends %s before it starts %s", ErrData,
			e.End.Format(time.DateTime), e.Start.Format(time.DateTime))
	}
	return e, nil
}

// AppendPowerDownEvent appends the 12-byte record of e; a zero End is sent as zeros.
func AppendPowerDownEvent(dst []byte, e PowerDownEvent) ([]byte, error) {
	dst, err := AppendSecondTime(dst, e.Start)
	if err != nil {
		return dst, err
	}
	if e.End.IsZero() {
		return append(dst, 0, 0, 0, 0, 0, 0), nil
	}
	return AppendSecondTime(dst, e.End)
}

// SettlementDay is the monthly settlement instant (每月第1结算日, 04000B01, DDhh): the
// meter closes the month's registers at Hour:00 on Day (1…28) of every month, and the
// values of the n-th previous settlement are read with 000100nn, 0001FFnn and 000200nn.
type SettlementDay struct {
	Day  int // 1…28
	Hour int // 0…23
}

// Validate reports whether the day is 1…28 and the hour 0…23, as the standard allows.
func (d SettlementDay) Validate() error {
	if d.Day < 1 || d.Day > 28 || d.Hour < 0 || d.Hour > 23 {
		return fmt.Errorf("%w: settlement day %d hour %d, want day 1…28 and hour 0…23", ErrRange, d.Day, d.Hour)
	}
	return nil
}

// DecodeSettlementDay decodes DDhh (hh DD on the wire). It reports ErrNoRecord for 9999
// (not set) and ErrData for anything else outside day 1…28, hour 0…23.
func DecodeSettlementDay(b []byte) (SettlementDay, error) {
	if len(b) != 2 {
		return SettlementDay{}, fmt.Errorf("%w: settlement day %d bytes, want 2", ErrData, len(b))
	}
	if b[0] == 0x99 && b[1] == 0x99 {
		return SettlementDay{}, ErrNoRecord
	}
	hh, err := DecodeBCD(b[:1])
	if err != nil {
		return SettlementDay{}, err
	}
	dd, err := DecodeBCD(b[1:])
	if err != nil {
		return SettlementDay{}, err
	}
	d := SettlementDay{Day: int(dd), Hour: int(hh)}
	if err := d.Validate(); err != nil {
		return SettlementDay{}, fmt.Errorf("%w: %v", ErrData, err)
	}
	return d, nil
}

// Append appends d as hh DD.
func (d SettlementDay) Append(dst []byte) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return dst, err
	}
	return append(dst, bcd2(d.Hour), bcd2(d.Day)), nil
}

// Previous returns the instant of the n-th most recent settlement at or before now (n ≥ 1),
// in now's location, which must be the meter's time zone: the time the values of
// 000100nn are keyed by (meterdata.KindMonthly). A settlement hour that a daylight-saving
// change skips is moved forward by time.Date's rules.
func (d SettlementDay) Previous(now time.Time, n int) time.Time {
	loc := now.Location()
	t := time.Date(now.Year(), now.Month(), d.Day, d.Hour, 0, 0, 0, loc)
	if t.After(now) {
		n++
	}
	return time.Date(now.Year(), now.Month()-time.Month(n-1), d.Day, d.Hour, 0, 0, 0, loc)
}
