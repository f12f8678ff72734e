package dlt645

import (
	"fmt"
	"strings"
)

// StatusWord3 is run status word 3 (电表运行状态字3, 04000503), the word to read back
// after a control command. Bits 0…7 are those of DL/T 645-2007; bits 8…15 are assigned
// by the State Grid smart-meter specifications (Q/GDW 1364/1365-2013 family) and were not
// checked against the printed text ("moderate confidence"); other meters leave them 0.
//
//	bit 0      current time-slot table (0 first set, 1 second set)
//	bits 1…2   supply (00 main, 01 auxiliary, 10 battery)
//	bit 3      programming allowed
//	bit 4      relay state (继电器状态): 1 open (load off)
//	bit 5      current time-zone table (0 first, 1 second)
//	bit 6      relay command state (继电器命令状态): 1 trip commanded
//	bit 7      pre-trip alarm (预跳闸报警)
//	bits 8…9   meter type (00 not prepaid, 01 energy prepaid, 10 money prepaid)  [Q/GDW]
//	bit 12     keep-on (保电) in force                                             [Q/GDW]
//	bit 13     identity authenticated (身份认证)                                    [Q/GDW]
type StatusWord3 uint16

// Status word 3 bits.
const (
	Status3RelayOpen        StatusWord3 = 1 << 4
	Status3RelayCommandOpen StatusWord3 = 1 << 6
	Status3PreTripAlarm     StatusWord3 = 1 << 7
	Status3ProgramAllowed   StatusWord3 = 1 << 3
	Status3KeepOn           StatusWord3 = 1 << 12
	Status3Authenticated    StatusWord3 = 1 << 13
)

// DecodeStatusWord3 decodes the 2-byte word, low byte first.
func DecodeStatusWord3(b []byte) (StatusWord3, error) {
	if len(b) != 2 {
		return 0, fmt.Errorf("%w: status word of %d bytes, want 2", ErrData, len(b))
	}
	return StatusWord3(b[0]) | StatusWord3(b[1])<<8, nil
}

// Append appends the word, low byte first.
func (s StatusWord3) Append(dst []byte) []byte { return append(dst, byte(s), byte(s>>8)) }

// RelayOpen reports whether the relay is open: the load is off.
func (s StatusWord3) RelayOpen() bool { return s&Status3RelayOpen != 0 }

// RelayCommandOpen reports whether the last relay command was a trip (the relay may
// still be closed, or already open).
func (s StatusWord3) RelayCommandOpen() bool { return s&Status3RelayCommandOpen != 0 }

// PreTripAlarm reports the pre-trip alarm.
func (s StatusWord3) PreTripAlarm() bool { return s&Status3PreTripAlarm != 0 }

// KeepOn reports whether keep-on (保电) is in force [Q/GDW bit].
func (s StatusWord3) KeepOn() bool { return s&Status3KeepOn != 0 }

// Supply returns bits 1…2: 0 main, 1 auxiliary, 2 battery.
func (s StatusWord3) Supply() int { return int(s>>1) & 3 }

// String lists the relay-related states, e.g. "relay open, trip commanded".
func (s StatusWord3) String() string {
	var parts []string
	if s.RelayOpen() {
		parts = append(parts, "relay open")
	} else {
		parts = append(parts, "relay closed")
	}
	if s.RelayCommandOpen() {
		parts = append(parts, "trip commanded")
	}
	if s.PreTripAlarm() {
		parts = append(parts, "pre-trip alarm")
	}
	if s.KeepOn() {
		parts = append(parts, "keep-on")
	}
	return strings.Join(parts, ", ")
}
