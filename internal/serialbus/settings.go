package serialbus

import (
	"fmt"
	"time"
)

// Parity is the parity bit of a character: even, odd or none.
type Parity byte

// Parities, named by the letter of the usual "8E1" notation.
const (
	ParityEven Parity = 'E'
	ParityOdd  Parity = 'O'
	ParityNone Parity = 'N'
)

// Defaults of Settings fields left zero: 9600 bit/s, 8E1. Even parity is the default of
// both DL/T 645 (8E1 at 1200…9600 bit/s) and Modbus RTU (MODBUS over Serial Line V1.02
// §2.5.1: "the default parity mode must be even parity").
const (
	DefaultBaud     = 9600
	DefaultDataBits = 8
	DefaultParity   = ParityEven
	DefaultStopBits = 1
)

// DefaultDLT645Gap is the silence a DL/T 645 link leaves on the bus before each request,
// counted from the last byte sent or received. DL/T 645-2007 sets no master-side gap
// that we could confirm; it bounds the meter's reply delay (应答延时, 20 ms to 500 ms,
// as commonly summarised — not checked against the printed text). Waiting as long as a
// meter would before it answers gives slow meters time to turn their RS-485 transceiver
// back to receive; a bus of meters known to be quick can use less (down to the 3.5
// characters of ModbusGap).
const DefaultDLT645Gap = 20 * time.Millisecond

// Settings are the speed and character format of a serial line. Zero fields take the
// defaults above, so the zero value is 9600 bit/s 8E1.
type Settings struct {
	Baud     int    // bit/s
	DataBits int    // 5…8
	Parity   Parity // ParityEven, ParityOdd or ParityNone
	StopBits int    // 1 or 2
}

// WithDefaults returns s with zero fields set to the defaults.
func (s Settings) WithDefaults() Settings {
	if s.Baud == 0 {
		s.Baud = DefaultBaud
	}
	if s.DataBits == 0 {
		s.DataBits = DefaultDataBits
	}
	if s.Parity == 0 {
		s.Parity = DefaultParity
	}
	if s.StopBits == 0 {
		s.StopBits = DefaultStopBits
	}
	return s
}

// Validate reports the first field (after defaults) a serial port cannot take.
func (s Settings) Validate() error {
	s = s.WithDefaults()
	switch {
	case s.Baud < 0 || s.Baud > 4_000_000:
		return fmt.Errorf("serialbus: baud %d: want 1 to 4000000", s.Baud)
	case s.DataBits < 5 || s.DataBits > 8:
		return fmt.Errorf("serialbus: data bits %d: want 5 to 8", s.DataBits)
	case s.Parity != ParityEven && s.Parity != ParityOdd && s.Parity != ParityNone:
		return fmt.Errorf("serialbus: parity %q: want E, O or N", rune(s.Parity))
	case s.StopBits != 1 && s.StopBits != 2:
		return fmt.Errorf("serialbus: stop bits %d: want 1 or 2", s.StopBits)
	}
	return nil
}

// String prints the settings as "9600 8E1".
func (s Settings) String() string {
	s = s.WithDefaults()
	return fmt.Sprintf("%d %d%c%d", s.Baud, s.DataBits, rune(s.Parity), s.StopBits)
}

// FrameBits is the number of bit times one character takes on the wire: a start bit,
// the data bits, the parity bit if any and the stop bits (11 for 8E1, 10 for 8N1).
func (s Settings) FrameBits() int {
	s = s.WithDefaults()
	n := 1 + s.DataBits + s.StopBits
	if s.Parity != ParityNone {
		n++
	}
	return n
}

// CharTime is how long one character takes on the wire: FrameBits / Baud (1.146 ms
// at 9600 8E1).
func (s Settings) CharTime() time.Duration { return s.WireTime(1) }

// WireTime is how long n characters sent back to back take on the wire, rounded to the
// nanosecond as a whole (not n × a rounded CharTime).
func (s Settings) WireTime(n int) time.Duration {
	s = s.WithDefaults()
	return time.Duration(int64(n) * int64(s.FrameBits()) * int64(time.Second) / int64(s.Baud))
}

// ModbusGap is the silence that delimits Modbus RTU frames, t3.5 (MODBUS over Serial
// Line V1.02 §2.5.1.1): 3.5 character times, or a fixed 1.750 ms when the baud rate is
// greater than 19200 bit/s.
func (s Settings) ModbusGap() time.Duration {
	s = s.WithDefaults()
	if s.Baud > 19200 {
		return 1750 * time.Microsecond
	}
	return s.WireTime(7) / 2
}
