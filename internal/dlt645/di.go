package dlt645

import (
	"fmt"
	"strconv"
)

// DI is a data identifier (数据标识) DI3 DI2 DI1 DI0 held as the number 0xDI3DI2DI1DI0, so
// that DI(0x00010000) is printed "00010000" like the tables of the standard. On the wire
// it is sent DI0 first, each byte +33H like the rest of the data field.
//
// DI3 is the class: 00 energy, 01 demand, 02 variables, 03 events, 04 parameters,
// 05 frozen data, 06 load profile. FFH in DI2…DI0 asks for a whole block (数据块).
type DI uint32

// DISize is the size of a data identifier on the wire.
const DISize = 4

// ParseDI parses eight hex digits DI3 DI2 DI1 DI0, e.g. "0201FF00".
func ParseDI(s string) (DI, error) {
	if len(s) != 8 {
		return 0, fmt.Errorf("dlt645: data identifier %q: want 8 hex digits", s)
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("dlt645: data identifier %q: want 8 hex digits", s)
	}
	return DI(v), nil
}

// String prints the eight hex digits DI3 DI2 DI1 DI0.
func (d DI) String() string {
	const hex = "0123456789ABCDEF"
	var b [8]byte
	for i := 0; i < 8; i++ {
		b[i] = hex[(d>>(28-4*i))&0x0F]
	}
	return string(b[:])
}

// Class returns DI3.
func (d DI) Class() byte { return byte(d >> 24) }

// IsBlock reports whether d names a block: FFH in DI2, DI1 or DI0.
func (d DI) IsBlock() bool {
	return byte(d>>16) == 0xFF || byte(d>>8) == 0xFF || byte(d) == 0xFF
}

// AppendWire appends the identifier in wire order DI0 DI1 DI2 DI3, without the +33H
// offset (Frame.Encode applies it to the whole data field).
func (d DI) AppendWire(dst []byte) []byte {
	return append(dst, byte(d), byte(d>>8), byte(d>>16), byte(d>>24))
}

// DIFromWire reads an identifier from the first four bytes of a data field (offset
// already removed). It reports ErrData if b is shorter than four bytes.
func DIFromWire(b []byte) (DI, error) {
	if len(b) < DISize {
		return 0, fmt.Errorf("%w: %d bytes, want a 4-byte data identifier", ErrData, len(b))
	}
	return DI(b[0]) | DI(b[1])<<8 | DI(b[2])<<16 | DI(b[3])<<24, nil
}
