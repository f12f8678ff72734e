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
