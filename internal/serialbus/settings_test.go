package serialbus

import (
	"testing"
	"time"
)

func TestSettings(t *testing.T) {
	tests := []struct {
		set       Settings
		str       string
		bits      int
		char      time.Duration
		modbusGap time.Duration
	}{
		{Settings{}, "9600 8E1", 11, 1145833 * time.Nanosecond, 4010416 * time.Nanosecond},
		{Settings{Baud: 2400}, "2400 8E1", 11, 4583333 * time.Nanosecond, 16041666 * time.Nanosecond},
		{Settings{Baud: 9600, Parity: ParityNone}, "9600 8N1", 10, 1041666 * time.Nanosecond, 3645833 * time.Nanosecond},
		{Settings{Baud: 9600, Parity: ParityNone, StopBits: 2}, "9600 8N2", 11, 1145833 * time.Nanosecond, 4010416 * time.Nanosecond},
		{Settings{Baud: 1200, DataBits: 7, Parity: ParityOdd}, "1200 7O1", 10, 8333333 * time.Nanosecond, 29166666 * time.Nanosecond},
		{Settings{Baud: 19200}, "19200 8E1", 11, 572916 * time.Nanosecond, 2005208 * time.Nanosecond},
		// Above 19200 bit/s t3.5 is a fixed 1.75 ms (MODBUS over Serial Line §2.5.1.1).
		{Settings{Baud: 38400}, "38400 8E1", 11, 286458 * time.Nanosecond, 1750 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.str, func(t *testing.T) {
			if err := tt.set.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := tt.set.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			if got := tt.set.FrameBits(); got != tt.bits {
				t.Errorf("FrameBits() = %d, want %d", got, tt.bits)
			}
			if got := tt.set.CharTime(); got != tt.char {
				t.Errorf("CharTime() = %v, want %v", got, tt.char)
			}
			if got := tt.set.ModbusGap(); got != tt.modbusGap {
				t.Errorf("ModbusGap() = %v, want %v", got, tt.modbusGap)
			}
		})
	}
	// WireTime rounds the whole, not each character: 96 characters of 11 bits at 9600
	// bit/s take exactly 110 ms.
	if got, want := (Settings{}).WireTime(96), 110*time.Millisecond; got != want {
		t.Errorf("WireTime(96) = %v, want %v", got, want)
	}
}

func TestSettingsValidate(t *testing.T) {
	for _, s := range []Settings{
		{Baud: -1},
		{DataBits: 9},
		{DataBits: 4},
		{Parity: 'X'},
		{StopBits: 3},
	} {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}
