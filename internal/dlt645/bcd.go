package dlt645

import "fmt"

// Values in the data field are packed BCD, two digits a byte, least significant byte
// first (data format, 数据格式). A format such as XXX.XXX has an implied decimal point: the
// bytes carry the integer 123456 for 123.456. Signed formats use the top bit of the most
// significant byte as the sign (1 = negative), leaving that byte's high digit 0…7.
//
// These helpers work on the value bytes with the +33H offset already removed.

// maxBCDBytes keeps every decoded value inside int64: 9 bytes are 18 digits < 2^63.
const maxBCDBytes = 9

// DecodeBCD decodes little-endian packed BCD. It reports ErrBCD for a nibble above 9 and
// ErrRange for more than 9 bytes.
func DecodeBCD(b []byte) (uint64, error) {
	if len(b) > maxBCDBytes {
		return 0, fmt.Errorf("%w: %d BCD bytes, at most %d", ErrRange, len(b), maxBCDBytes)
	}
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		hi, lo := b[i]>>4, b[i]&0x0F
		if hi > 9 || lo > 9 {
			return 0, fmt.Errorf("%w: byte %02XH", ErrBCD, b[i])
		}
		v = v*100 + uint64(hi)*10 + uint64(lo)
	}
	return v, nil
}

// DecodeSignedBCD decodes little-endian packed BCD whose most significant bit is the
// sign. A negative zero decodes as 0.
func DecodeSignedBCD(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if len(b) > maxBCDBytes {
		return 0, fmt.Errorf("%w: %d BCD bytes, at most %d", ErrRange, len(b), maxBCDBytes)
	}
	top := len(b) - 1
	neg := b[top]&0x80 != 0
	var v uint64
	for i := top; i >= 0; i-- {
		c := b[i]
		if i == top {
			c &= 0x7F
		}
		hi, lo := c>>4, c&0x0F
		if hi > 9 || lo > 9 {
			return 0, fmt.Errorf("%w: byte %02XH", ErrBCD, b[i])
		}
		v = v*100 + uint64(hi)*10 + uint64(lo)
	}
	if neg {
		return -int64(v), nil
	}
	return int64(v), nil
}

// AppendBCD appends v as n bytes of little-endian packed BCD. It reports ErrRange if v
// needs more than 2n digits or n is not 1…9.
func AppendBCD(dst []byte, v uint64, n int) ([]byte, error) {
	if n < 1 || n > maxBCDBytes {
		return dst, fmt.Errorf("%w: %d BCD bytes, want 1 to %d", ErrRange, n, maxBCDBytes)
	}
	if v >= pow100(n) {
		return dst, fmt.Errorf("%w: %d does not fit %d BCD digits", ErrRange, v, 2*n)
	}
	for i := 0; i < n; i++ {
		d := v % 100
		v /= 100
		dst = append(dst, byte(d/10)<<4|byte(d%10))
	}
	return dst, nil
}

// AppendSignedBCD appends v as n bytes of little-endian packed BCD with the sign in the
// most significant bit. The magnitude must fit 2n digits with the top digit at most 7.
func AppendSignedBCD(dst []byte, v int64, n int) ([]byte, error) {
	if n < 1 || n > maxBCDBytes {
		return dst, fmt.Errorf("%w: %d BCD bytes, want 1 to %d", ErrRange, n, maxBCDBytes)
	}
	mag := uint64(v)
	if v < 0 {
		mag = uint64(-v) // -MinInt64 wraps to itself, which is then out of range below
	}
	if limit := 8 * pow100(n) / 10; mag >= limit {
		return dst, fmt.Errorf("%w: %d does not fit %d signed BCD digits", ErrRange, v, 2*n)
	}
	start := len(dst)
	dst, _ = AppendBCD(dst, mag, n)
	if v < 0 {
		dst[start+n-1] |= 0x80
	}
	return dst, nil
}

func pow100(n int) uint64 {
	p := uint64(1)
	for i := 0; i < n; i++ {
		p *= 100
	}
	return p
}
