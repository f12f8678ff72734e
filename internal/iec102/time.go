package iec102

import (
	"fmt"
	"strings"
	"time"
)

// Time tag sizes on the wire.
const (
	TimeALen = 5
	TimeBLen = 7
)

// TimeA is "time information a" (Ta), the 5-octet time tag of IEC 60870-5-102 (called
// CP40 in some libraries):
//
//	octet 1  IV(7) TIS(6) minute(5…0)
//	octet 2  SU(7) RES1(6…5) hour(4…0)
//	octet 3  day of week(7…5, 1 = Monday … 7 = Sunday, 0 = unused) day of month(4…0)
//	octet 4  PTI(7…6) ETI(5…4) month(3…0)
//	octet 5  RES2(7) year(6…0)
//
// Every bit is kept, so decoding and re-encoding reproduces the octets, reserved bits
// included. The fields hold the raw values; Time checks them and builds a time.Time.
// The zero value is the all-zero tag that some meters send for "no time".
type TimeA struct {
	Year    int  // two-digit year 0–99 (7 bits); the REE profile counts from 2000
	Month   int  // 1–12 (4 bits)
	Day     int  // day of month 1–31 (5 bits)
	Weekday int  // 1 Monday … 7 Sunday, 0 unused (3 bits); meters send 0 or wrong values: informative only
	Hour    int  // 0–23 (5 bits)
	Minute  int  // 0–59 (6 bits)
	Summer  bool // SU: summer (daylight-saving) time
	Invalid bool // IV: the time is invalid
	TIS     bool // tariff information switch
	ETI     int  // energy tariff information (2 bits)
	PTI     int  // power tariff information (2 bits)
	Res1    int  // reserved bits 6…5 of octet 2, kept for byte-exact re-encoding
	Res2    bool // reserved bit 7 of octet 5, kept for byte-exact re-encoding
}

// TimeB is "time information b" (Tb), the 7-octet time tag: a little-endian 16-bit word
// with the milliseconds in bits 9…0 and the seconds in bits 15…10, followed by a TimeA.
//
// This is the IEC 60870-5-102 layout used by iec870ree (validated against Spanish
// meters), the EnergyICT ZIV driver and a C outstation. Some masters (daiiniel's C#
// library, the GEN C++ client) write the first word as IEC 101 CP56Time2a
// milliseconds-in-minute (0–59999) instead; CP56Reading reinterprets a decoded tag that
// way for such peers. Encoding is always 10+6.
type TimeB struct {
	TimeA
	Second      int // 0–59 (6 bits)
	Millisecond int // 0–999 (10 bits)
}

// TimeAOf returns the tag for t's wall clock in t's location, with SU set when t is in
// daylight-saving time and the day of week filled in. It reports ErrRange for years
// outside 2000–2127. Seconds are truncated.
func TimeAOf(t time.Time) (TimeA, error) {
	if t.Year() < 2000 || t.Year() > 2127 {
		return TimeA{}, fmt.Errorf("%w: year %d outside 2000–2127", ErrRange, t.Year())
	}
	wd := int(t.Weekday())
	if wd == 0 {
		wd = 7
	}
	return TimeA{
		Year: t.Year() - 2000, Month: int(t.Month()), Day: t.Day(), Weekday: wd,
		Hour: t.Hour(), Minute: t.Minute(), Summer: t.IsDST(),
	}, nil
}

// TimeBOf returns the tag for t's wall clock in t's location, milliseconds truncated.
func TimeBOf(t time.Time) (TimeB, error) {
	a, err := TimeAOf(t)
	if err != nil {
		return TimeB{}, err
	}
	return TimeB{TimeA: a, Second: t.Second(), Millisecond: t.Nanosecond() / 1e6}, nil
}

// DecodeTimeA decodes a Ta from the first 5 octets of b.
func DecodeTimeA(b []byte) (TimeA, error) {
	if len(b) < TimeALen {
		return TimeA{}, fmt.Errorf("%w: time tag a needs %d octets, have %d", ErrASDU, TimeALen, len(b))
	}
	return decodeTimeA(b), nil
}

func decodeTimeA(b []byte) TimeA {
	return TimeA{
		Minute:  int(b[0] & 0x3F),
		TIS:     b[0]&0x40 != 0,
		Invalid: b[0]&0x80 != 0,
		Hour:    int(b[1] & 0x1F),
		Res1:    int(b[1]>>5) & 0x03,
		Summer:  b[1]&0x80 != 0,
		Day:     int(b[2] & 0x1F),
		Weekday: int(b[2] >> 5),
		Month:   int(b[3] & 0x0F),
		ETI:     int(b[3]>>4) & 0x03,
		PTI:     int(b[3] >> 6),
		Year:    int(b[4] & 0x7F),
		Res2:    b[4]&0x80 != 0,
	}
}

// Append appends the 5 octets. It reports ErrRange for a field wider than its bits.
func (t TimeA) Append(dst []byte) ([]byte, error) {
	if err := t.checkBits(); err != nil {
		return dst, err
	}
	return t.appendUnchecked(dst), nil
}

func (t TimeA) appendUnchecked(dst []byte) []byte {
	b0 := byte(t.Minute) | bit(t.TIS, 0x40) | bit(t.Invalid, 0x80)
	b1 := byte(t.Hour) | byte(t.Res1)<<5 | bit(t.Summer, 0x80)
	b2 := byte(t.Day) | byte(t.Weekday)<<5
	b3 := byte(t.Month) | byte(t.ETI)<<4 | byte(t.PTI)<<6
	b4 := byte(t.Year) | bit(t.Res2, 0x80)
	return append(dst, b0, b1, b2, b3, b4)
}

func bit(v bool, m byte) byte {
	if v {
		return m
	}
	return 0
}

func (t TimeA) checkBits() error {
	for _, f := range [...]struct {
		name string
		v    int
		max  int
	}{
		{"year", t.Year, 127}, {"month", t.Month, 15}, {"day", t.Day, 31}, {"weekday", t.Weekday, 7},
		{"hour", t.Hour, 31}, {"minute", t.Minute, 63}, {"ETI", t.ETI, 3}, {"PTI", t.PTI, 3}, {"RES1", t.Res1, 3},
	} {
		if f.v < 0 || f.v > f.max {
			return fmt.Errorf("%w: time tag %s %d outside 0–%d", ErrRange, f.name, f.v, f.max)
		}
	}
	return nil
}

// IsZero reports whether every field is zero: the all-zero tag meters send for "no
// time". (iec870ree maps its day and month 0 to 1, reading 2000-01-01 00:00; Time
// reports ErrTime instead.)
func (t TimeA) IsZero() bool { return t == TimeA{} }

// Time returns the instant the tag names in loc, the time zone the meter keeps its
// clock in (REE: Europe/Madrid local legal time). Year is taken as 2000 + Year. In the
// repeated hour at the end of daylight-saving time, SU picks the summer or the winter
// instance; elsewhere SU is ignored, as are the day of week, IV and the tariff bits
// (check Invalid yourself). A wall clock inside the spring-forward gap, which no meter
// should send, is normalised as time.Date does. It reports ErrTime for a minute, hour,
// day or month out of range or a day the month does not have.
func (t TimeA) Time(loc *time.Location) (time.Time, error) {
	return civil(loc, t, 0, 0)
}

// Time returns the instant the tag names in loc; see TimeA.Time. It also reports
// ErrTime for a second above 59 or a millisecond above 999.
func (t TimeB) Time(loc *time.Location) (time.Time, error) {
	if t.Second < 0 || t.Second > 59 || t.Millisecond < 0 || t.Millisecond > 999 {
		return time.Time{}, fmt.Errorf("%w: second %d, millisecond %d", ErrTime, t.Second, t.Millisecond)
	}
	return civil(loc, t.TimeA, t.Second, t.Millisecond)
}

func civil(loc *time.Location, t TimeA, sec, ms int) (time.Time, error) {
	if t.Month < 1 || t.Month > 12 || t.Day < 1 || t.Hour > 23 || t.Minute > 59 || t.Year < 0 ||
		t.Hour < 0 || t.Minute < 0 {
		return time.Time{}, fmt.Errorf("%w: %s", ErrTime, t)
	}
	y, mo := 2000+t.Year, time.Month(t.Month)
	tt := time.Date(y, mo, t.Day, t.Hour, t.Minute, sec, ms*1e6, loc)
	if tt.Day() != t.Day {
		return time.Time{}, fmt.Errorf("%w: %s: no day %d in %s %d", ErrTime, t, t.Day, mo, y)
	}
	if tt.IsDST() != t.Summer {
		// The repeated hour: the same wall clock exists an hour earlier or later with
		// the other offset. DST shifts by one hour in every zone that REE meters use.
		for _, alt := range [2]time.Time{tt.Add(-time.Hour), tt.Add(time.Hour)} {
			if alt.IsDST() == t.Summer && alt.Hour() == tt.Hour() && alt.Minute() == tt.Minute() && alt.Day() == tt.Day() {
				return alt, nil
			}
		}
	}
	return tt, nil
}

// String prints the tag as "2018-07-01 01:00" followed by the flags set (SU, IV, TIS,
// ETI/PTI, reserved bits) and the day of week when non-zero, e.g.
// "2018-07-01 01:00 SU dow 7". Out-of-range fields print as they are.
func (t TimeA) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%04d-%02d-%02d %02d:%02d", 2000+t.Year, t.Month, t.Day, t.Hour, t.Minute)
	t.flags(&b)
	return b.String()
}

func (t TimeA) flags(b *strings.Builder) {
	if t.Summer {
		b.WriteString(" SU")
	}
	if t.Invalid {
		b.WriteString(" IV")
	}
	if t.TIS {
		b.WriteString(" TIS")
	}
	if t.ETI != 0 || t.PTI != 0 {
		fmt.Fprintf(b, " ETI %d PTI %d", t.ETI, t.PTI)
	}
	if t.Res1 != 0 || t.Res2 {
		fmt.Fprintf(b, " RES %d/%t", t.Res1, t.Res2)
	}
	if t.Weekday != 0 {
		fmt.Fprintf(b, " dow %d", t.Weekday)
	}
}

// DecodeTimeB decodes a Tb from the first 7 octets of b.
func DecodeTimeB(b []byte) (TimeB, error) {
	if len(b) < TimeBLen {
		return TimeB{}, fmt.Errorf("%w: time tag b needs %d octets, have %d", ErrASDU, TimeBLen, len(b))
	}
	return decodeTimeB(b), nil
}

func decodeTimeB(b []byte) TimeB {
	w := int(b[0]) | int(b[1])<<8
	return TimeB{TimeA: decodeTimeA(b[2:]), Second: w >> 10, Millisecond: w & 0x3FF}
}

// Append appends the 7 octets. It reports ErrRange for a field wider than its bits
// (second above 63, millisecond above 1023, or a TimeA field).
func (t TimeB) Append(dst []byte) ([]byte, error) {
	if t.Second < 0 || t.Second > 63 || t.Millisecond < 0 || t.Millisecond > 1023 {
		return dst, fmt.Errorf("%w: time tag b second %d, millisecond %d", ErrRange, t.Second, t.Millisecond)
	}
	if err := t.checkBits(); err != nil {
		return dst, err
	}
	return t.appendUnchecked(dst), nil
}

func (t TimeB) appendUnchecked(dst []byte) []byte {
	w := t.Second<<10 | t.Millisecond
	dst = append(dst, byte(w), byte(w>>8))
	return t.TimeA.appendUnchecked(dst)
}

// CP56Reading reinterprets the first two octets as IEC 101 CP56Time2a does
// (milliseconds in the minute, 0–59999), for peers that encode Tb that way (see TimeB).
// It returns the second and millisecond that reading gives.
func (t TimeB) CP56Reading() (second, millisecond int) {
	w := t.Second<<10 | t.Millisecond
	return w / 1000, w % 1000
}

// String prints the tag as "2010-02-07 11:16:10.522" followed by the flags as for TimeA.
func (t TimeB) String() string {
	var b strings.Builder
	a := t.TimeA
	fmt.Fprintf(&b, "%04d-%02d-%02d %02d:%02d:%02d.%03d", 2000+a.Year, a.Month, a.Day, a.Hour, a.Minute, t.Second, t.Millisecond)
	a.flags(&b)
	return b.String()
}
