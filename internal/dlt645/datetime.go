package dlt645

import (
	"fmt"
	"time"
)

// Date and time fields are BCD, least significant byte first, in the meter's local
// time; the year is two digits of 2000…2099.
//
//	date (04000101): YYMMDDWW, on the wire WW DD MM YY (WW = weekday, 0 = Sunday)
//	time (04000102): hhmmss,   on the wire ss mm hh
//	broadcast time sync (08H) data: ss mm hh DD MM YY
//	freeze time (050600nn …):       YYMMDDhhmm,   on the wire mm hh DD MM YY
//	event time (031100nn …):        YYMMDDhhmmss, on the wire ss mm hh DD MM YY
//
// A meter answers a record it has not written yet (a daily freeze of a meter installed
// yesterday, an event that never happened) with zeros in its time field; the decoders
// report ErrNoRecord for an all-zero field.

// AppendDate appends t's local date as the 4-byte date field WW DD MM YY.
func AppendDate(dst []byte, t time.Time) ([]byte, error) {
	y := t.Year()
	if y < 2000 || y > 2099 {
		return dst, fmt.Errorf("%w: year %d outside 2000…2099", ErrRange, y)
	}
	return append(dst, bcd2(int(t.Weekday())), bcd2(t.Day()), bcd2(int(t.Month())), bcd2(y-2000)), nil
}

// AppendTime appends t's local time of day as the 3-byte time field ss mm hh.
func AppendTime(dst []byte, t time.Time) []byte {
	return append(dst, bcd2(t.Second()), bcd2(t.Minute()), bcd2(t.Hour()))
}

// AppendTimeSync appends the 6-byte broadcast time sync data ss mm hh DD MM YY.
func AppendTimeSync(dst []byte, t time.Time) ([]byte, error) {
	y := t.Year()
	if y < 2000 || y > 2099 {
		return dst, fmt.Errorf("%w: year %d outside 2000…2099", ErrRange, y)
	}
	return append(AppendTime(dst, t), bcd2(t.Day()), bcd2(int(t.Month())), bcd2(y-2000)), nil
}

// DecodeDateTime combines a date field (4 bytes) and a time field (3 bytes) read from a
// meter into an instant in loc, the meter's time zone. The weekday byte is not checked
// against the date (meters get it wrong after a manual clock set). It reports ErrData
// for a wrong size, a non-BCD digit or an impossible date or time.
func DecodeDateTime(date, clock []byte, loc *time.Location) (time.Time, error) {
	if len(date) != 4 || len(clock) != 3 {
		return time.Time{}, fmt.Errorf("%w: date %d bytes, time %d bytes, want 4 and 3", ErrData, len(date), len(clock))
	}
	return decodeFields(clock[0], clock[1], clock[2], date[1], date[2], date[3], loc)
}

// DecodeTimeSync decodes broadcast time sync data ss mm hh DD MM YY into an instant in loc.
func DecodeTimeSync(b []byte, loc *time.Location) (time.Time, error) {
	if len(b) != 6 {
		return time.Time{}, fmt.Errorf("%w: time sync %d bytes, want 6", ErrData, len(b))
	}
	return decodeFields(b[0], b[1], b[2], b[3], b[4], b[5], loc)
}

func decodeFields(ss, mm, hh, dd, mo, yy byte, loc *time.Location) (time.Time, error) {
	var v [6]int
	for i, c := range [6]byte{ss, mm, hh, dd, mo, yy} {
		n, err := DecodeBCD([]byte{c})
		if err != nil {
			return time.Time{}, err
		}
		v[i] = int(n)
	}
	sec, mins, hour, day, month, year := v[0], v[1], v[2], v[3], v[4], 2000+v[5]
	t := time.Date(year, time.Month(month), day, hour, mins, sec, 0, loc)
	// time.Date normalises 31 February into March; a meter sending it is broken.
	if t.Second() != sec || t.Minute() != mins || t.Hour() != hour || t.Day() != day || int(t.Month()) != month || t.Year() != year {
		return time.Time{}, fmt.Errorf("%w: impossible date/time 20%02d-%02d-%02d %02d:%02d:%02d", ErrData, v[5], month, day, hour, mins, sec)
	}
	return t, nil
}

func bcd2(v int) byte { return byte(v/10)<<4 | byte(v%10) }

// AppendMinuteTime appends t's local time as the 5-byte field mm hh DD MM YY
// (YYMMDDhhmm); seconds are dropped.
func AppendMinuteTime(dst []byte, t time.Time) ([]byte, error) {
	y := t.Year()
	if y < 2000 || y > 2099 {
		return dst, fmt.Errorf("%w: year %d outside 2000…2099", ErrRange, y)
	}
	return append(dst, bcd2(t.Minute()), bcd2(t.Hour()), bcd2(t.Day()), bcd2(int(t.Month())), bcd2(y-2000)), nil
}

// DecodeMinuteTime decodes a 5-byte field mm hh DD MM YY into an instant in loc. It
// reports ErrNoRecord for an all-zero field and ErrData for a malformed one.
func DecodeMinuteTime(b []byte, loc *time.Location) (time.Time, error) {
	if len(b) != 5 {
		return time.Time{}, fmt.Errorf("%w: YYMMDDhhmm %d bytes, want 5", ErrData, len(b))
	}
	if allZero(b) {
		return time.Time{}, ErrNoRecord
	}
	return decodeFields(0, b[0], b[1], b[2], b[3], b[4], loc)
}

// AppendSecondTime appends t's local time as the 6-byte field ss mm hh DD MM YY
// (YYMMDDhhmmss), the layout of broadcast time sync data and of event times.
func AppendSecondTime(dst []byte, t time.Time) ([]byte, error) { return AppendTimeSync(dst, t) }

// DecodeSecondTime decodes a 6-byte field ss mm hh DD MM YY into an instant in loc. It
// reports ErrNoRecord for an all-zero field and ErrData for a malformed one.
func DecodeSecondTime(b []byte, loc *time.Location) (time.Time, error) {
	if len(b) == 6 && allZero(b) {
		return time.Time{}, ErrNoRecord
	}
	return DecodeTimeSync(b, loc)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
