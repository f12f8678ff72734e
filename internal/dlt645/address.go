package dlt645

import (
	"fmt"
	"strings"
)

// Address is a meter's communication address (通信地址): 12 BCD digits in six bytes, in
// wire order, low byte first (address field A0…A5, 地址域). Meter 123456789012 is
// Address{0x12, 0x90, 0x78, 0x56, 0x34, 0x12}.
//
// A byte AAH is a wildcard (通配): it matches any value in that position, and an all-AAH
// address reaches whichever meter listens (used to read an unknown meter's address with
// read address 13H). 999999999999 is the broadcast address (广播地址), used by broadcast
// time sync 08H; meters never answer it.
type Address [6]byte

// WildcardAddress is AAAAAAAAAAAA.
var WildcardAddress = Address{0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA}

// BroadcastAddress is 999999999999.
var BroadcastAddress = Address{0x99, 0x99, 0x99, 0x99, 0x99, 0x99}

// ParseAddress parses an address as printed on the meter, most significant digit first.
// It accepts 1 to 12 decimal digits (shorter ones are left-padded with zeros, as
// meterdata addresses may be), or 12 characters where any two-digit pair, aligned on a
// byte, may be "AA" (case-insensitive) for a wildcard byte.
func ParseAddress(s string) (Address, error) {
	var a Address
	if len(s) == 0 || len(s) > 12 {
		return a, fmt.Errorf("dlt645: address %q: want 1 to 12 digits", s)
	}
	padded := strings.Repeat("0", 12-len(s)) + s
	for i := 0; i < 6; i++ {
		// Pair i from the left is byte A(5-i).
		hi, lo := padded[2*i], padded[2*i+1]
		switch {
		case (hi == 'A' || hi == 'a') && (lo == 'A' || lo == 'a') && len(s) == 12:
			a[5-i] = 0xAA
		case isDigit(hi) && isDigit(lo):
			a[5-i] = (hi-'0')<<4 | (lo - '0')
		default:
			return Address{}, fmt.Errorf("dlt645: address %q: want decimal digits or AA wildcard pairs", s)
		}
	}
	return a, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// MustParseAddress is ParseAddress for constants in tests and examples; it panics on error.
func MustParseAddress(s string) Address {
	a, err := ParseAddress(s)
	if err != nil {
		panic(err)
	}
	return a
}

// String prints the 12 digits most significant first, as on the nameplate. A byte that
// is not BCD prints as two hex digits (AAH as "AA").
func (a Address) String() string {
	const hex = "0123456789ABCDEF"
	var b [12]byte
	for i := 0; i < 6; i++ {
		v := a[5-i]
		b[2*i] = hex[v>>4]
		b[2*i+1] = hex[v&0x0F]
	}
	return string(b[:])
}

// IsBroadcast reports whether a is 999999999999.
func (a Address) IsBroadcast() bool { return a == BroadcastAddress }

// IsWildcard reports whether any byte of a is the wildcard AAH.
func (a Address) IsWildcard() bool {
	for _, b := range a {
		if b == 0xAA {
			return true
		}
	}
	return false
}

// Valid reports whether a is 12 BCD digits (no wildcard byte).
func (a Address) Valid() bool {
	for _, b := range a {
		if b>>4 > 9 || b&0x0F > 9 {
			return false
		}
	}
	return true
}

// Matches reports whether a request sent to a reaches the meter whose own address is
// meter: every byte equal, or AAH (wildcard) in a. The broadcast address is not a match:
// broadcast frames are handled apart because no meter answers them.
func (a Address) Matches(meter Address) bool {
	for i := range a {
		if a[i] != 0xAA && a[i] != meter[i] {
			return false
		}
	}
	return true
}
