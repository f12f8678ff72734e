package iec102

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// FT1.2 frame formats (IEC 60870-5-1, format class FT1.2; REE profile: 2-octet link
// address, little-endian):
//
//	fixed length     10 C A_lo A_hi CS 16
//	variable length  68 L L 68 C A_lo A_hi ASDU… CS 16     L = 3 + len(ASDU)
//	single character E5
//
// CS is the modulo-256 sum of the octets from C to the last octet before CS.
const (
	startFixed    = 0x10
	startVariable = 0x68
	endByte       = 0x16
	singleChar    = 0xE5

	fixedLen       = 6 // 10 C A A CS 16
	variableHeader = 4 // 68 L L 68
	addressLen     = 2

	// MaxASDULen is the longest ASDU one variable frame carries: L ≤ 255 covers C, the
	// 2-octet address and the ASDU.
	MaxASDULen = 255 - 1 - addressLen

	// MaxInfoLen is the most octets of information objects after the 6-octet data unit
	// identifier.
	MaxInfoLen = MaxASDULen - duiLen

	// MaxFrameLen is the longest FT1.2 frame: a variable frame with L = 255.
	MaxFrameLen = 255 + 6
)

// Format is the FT1.2 frame format.
type Format uint8

// Frame formats.
const (
	FormatFixed      Format = iota // 10 C A A CS 16: link services without user data
	FormatVariable                 // 68 L L 68 C A A ASDU CS 16
	FormatSingleChar               // E5: stands for an Ack or a NoData (secondary only)
)

func (f Format) String() string {
	switch f {
	case FormatFixed:
		return "fixed"
	case FormatVariable:
		return "variable"
	case FormatSingleChar:
		return "E5"
	}
	return fmt.Sprintf("format %d", uint8(f))
}

// Frame is one FT1.2 frame. For FormatSingleChar, Control and Address are zero and mean
// nothing; for FormatFixed, ASDU is empty.
type Frame struct {
	Format  Format
	Control Control
	Address uint16 // link address ("dirección de enlace" in REE)
	ASDU    []byte // user data of a variable frame, undecoded (see DecodeASDU)
}

// SingleChar is the E5 single control character.
var SingleChar = Frame{Format: FormatSingleChar}

// NewFixed returns a fixed-length frame.
func NewFixed(c Control, addr uint16) Frame {
	return Frame{Format: FormatFixed, Control: c, Address: addr}
}

// NewVariable returns a variable-length frame carrying asdu (not copied).
func NewVariable(c Control, addr uint16, asdu []byte) Frame {
	return Frame{Format: FormatVariable, Control: c, Address: addr, ASDU: asdu}
}

// Len returns the frame's length on the wire.
func (f Frame) Len() int {
	switch f.Format {
	case FormatSingleChar:
		return 1
	case FormatVariable:
		return variableHeader + 1 + addressLen + len(f.ASDU) + 2
	}
	return fixedLen
}

// Encode returns the frame on the wire.
func (f Frame) Encode() ([]byte, error) {
	return f.Append(make([]byte, 0, f.Len()))
}

// Append appends the frame on the wire to dst. It reports ErrLength for an ASDU longer
// than MaxASDULen and ErrFrame for a fixed or single-character frame with an ASDU or an
// unknown Format. With a dst of sufficient capacity it does not allocate.
func (f Frame) Append(dst []byte) ([]byte, error) {
	switch f.Format {
	case FormatSingleChar:
		if len(f.ASDU) > 0 {
			return dst, fmt.Errorf("%w: E5 frame with user data", ErrFrame)
		}
		return append(dst, singleChar), nil
	case FormatFixed:
		if len(f.ASDU) > 0 {
			return dst, fmt.Errorf("%w: fixed frame with %d octets of user data", ErrFrame, len(f.ASDU))
		}
		dst = append(dst, startFixed, byte(f.Control), byte(f.Address), byte(f.Address>>8))
		return append(dst, checksum(dst[len(dst)-3:]), endByte), nil
	case FormatVariable:
		if len(f.ASDU) > MaxASDULen {
			return dst, fmt.Errorf("%w: ASDU of %d octets, at most %d", ErrLength, len(f.ASDU), MaxASDULen)
		}
		l := byte(1 + addressLen + len(f.ASDU))
		dst = append(dst, startVariable, l, l, startVariable, byte(f.Control), byte(f.Address), byte(f.Address>>8))
		dst = append(dst, f.ASDU...)
		return append(dst, checksum(dst[len(dst)-int(l):]), endByte), nil
	}
	return dst, fmt.Errorf("%w: unknown format %d", ErrFrame, uint8(f.Format))
}

// checksum is the FT1.2 check sum: the arithmetic sum modulo 256 of the octets.
func checksum(b []byte) byte {
	var cs byte
	for _, c := range b {
		cs += c
	}
	return cs
}

// Checksum returns the FT1.2 check sum of b: the sum of its octets modulo 256.
func Checksum(b []byte) byte { return checksum(b) }

// isStart reports whether c can begin a frame.
func isStart(c byte) bool { return c == startFixed || c == startVariable || c == singleChar }

// DecodeFrame finds and decodes the first frame in b, skipping octets before a start
// octet (10H, 68H or E5H). It never modifies b; the returned Frame.ASDU aliases b.
//
// n is the number of octets of b the caller should drop before decoding again:
//
//   - nil error: the frame was complete and valid; n covers everything up to and
//     including its last octet.
//   - ErrShortFrame: b holds no complete frame yet; n covers only octets that cannot
//     begin a frame (junk). Keep b[n:], read more, decode again.
//   - an error wrapping ErrFrame (ErrLength, ErrChecksum, no second 68H, no end 16H):
//     the candidate at the first start octet is not a frame; n drops that start octet
//     only, so decoding again resynchronises on the next start octet, which may begin a
//     good frame hidden behind junk.
//
// The receiver checks are those of IEC 60870-5-1 FT1.2: start octet, both length octets
// equal and ≥ 3, second start octet, complete length, checksum, end octet. The length
// octets and the second 68H are checked as soon as they are in b, so junk that merely
// contains 68H is rejected without waiting for L more octets.
func DecodeFrame(b []byte) (Frame, int, error) {
	i := 0
	for i < len(b) && !isStart(b[i]) {
		i++
	}
	if i == len(b) {
		return Frame{}, i, ErrShortFrame
	}
	h := b[i:]
	switch h[0] {
	case singleChar:
		return SingleChar, i + 1, nil
	case startFixed:
		if len(h) < fixedLen {
			return Frame{}, i, ErrShortFrame
		}
		if h[5] != endByte {
			return Frame{}, i + 1, fmt.Errorf("%w: fixed frame ends with %02X, not 16", ErrFrame, h[5])
		}
		if cs := checksum(h[1:4]); cs != h[4] {
			return Frame{}, i + 1, fmt.Errorf("%w: fixed frame CS %02X, computed %02X", ErrChecksum, h[4], cs)
		}
		return Frame{Format: FormatFixed, Control: Control(h[1]), Address: binary.LittleEndian.Uint16(h[2:4])}, i + fixedLen, nil
	}
	// Variable frame.
	if len(h) < 3 {
		return Frame{}, i, ErrShortFrame
	}
	l := int(h[1])
	if h[2] != h[1] {
		return Frame{}, i + 1, fmt.Errorf("%w: L=%d but L'=%d", ErrLength, h[1], h[2])
	}
	if l < 1+addressLen {
		return Frame{}, i + 1, fmt.Errorf("%w: L=%d, at least %d", ErrLength, l, 1+addressLen)
	}
	if len(h) < variableHeader {
		return Frame{}, i, ErrShortFrame
	}
	if h[3] != startVariable {
		return Frame{}, i + 1, fmt.Errorf("%w: fourth octet %02X, not the second start octet 68", ErrFrame, h[3])
	}
	total := l + 6
	if len(h) < total {
		return Frame{}, i, ErrShortFrame
	}
	// The end octet is checked before the checksum: when L is wrong, "no end octet where
	// L says" names the fault better than a checksum mismatch would.
	if h[total-1] != endByte {
		return Frame{}, i + 1, fmt.Errorf("%w: L=%d but octet %d is %02X, not the end octet 16", ErrFrame, l, total-1, h[total-1])
	}
	body := h[variableHeader : variableHeader+l]
	if cs := checksum(body); cs != h[total-2] {
		return Frame{}, i + 1, fmt.Errorf("%w: variable frame CS %02X, computed %02X", ErrChecksum, h[total-2], cs)
	}
	return Frame{
		Format:  FormatVariable,
		Control: Control(body[0]),
		Address: binary.LittleEndian.Uint16(body[1:3]),
		ASDU:    body[3:l:l],
	}, i + total, nil
}

// Equal reports whether two frames are the same (a nil and an empty ASDU are equal).
func (f Frame) Equal(g Frame) bool {
	return f.Format == g.Format && f.Control == g.Control && f.Address == g.Address && bytes.Equal(f.ASDU, g.ASDU)
}

// String prints the frame for logs, e.g. "fixed 49 (PRM request link status) A=1" or
// "variable 08 (user data) A=1 [B7 01 07 01 00 00 01 00 00 00]".
func (f Frame) String() string {
	switch f.Format {
	case FormatSingleChar:
		return "E5"
	case FormatVariable:
		return fmt.Sprintf("variable %s A=%d [% X]", f.Control, f.Address, f.ASDU)
	}
	return fmt.Sprintf("%s %s A=%d", f.Format, f.Control, f.Address)
}

// DecodeASDU decodes the frame's user data; see the package function DecodeASDU.
func (f Frame) DecodeASDU() (ASDU, error) { return DecodeASDU(f.ASDU) }
