package iec102

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecodeFrame feeds arbitrary bytes to DecodeFrame, seeded with every golden row.
// DecodeFrame must not panic or modify its input, must keep n within the input and
// make progress on errors, and every frame it returns must encode to the bytes it was
// decoded from and decode again to the same frame.
func FuzzDecodeFrame(f *testing.F) {
	for _, tc := range golden {
		f.Add(unhex(f, tc.raw))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		fr, n, err := DecodeFrame(b)
		if !bytes.Equal(b, orig) {
			t.Fatal("DecodeFrame modified its input")
		}
		if n < 0 || n > len(b) {
			t.Fatalf("n = %d outside 0…%d", n, len(b))
		}
		if err != nil {
			if errors.Is(err, ErrShortFrame) {
				return
			}
			if !errors.Is(err, ErrFrame) {
				t.Fatalf("error %v is neither ErrShortFrame nor ErrFrame", err)
			}
			if n == 0 {
				t.Fatal("malformed frame with n = 0: a reader would loop forever")
			}
			return
		}
		enc, err := fr.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded frame: %v", err)
		}
		if !bytes.HasSuffix(b[:n], enc) || len(enc) != fr.Len() {
			t.Fatalf("Encode = % X, not the bytes decoded % X", enc, b[:n])
		}
		again, n2, err := DecodeFrame(enc)
		if err != nil || n2 != len(enc) || !again.Equal(fr) {
			t.Fatalf("decode(encode(f)) = %v, %d, %v; want %v", again, n2, err, fr)
		}
	})
}

// FuzzDecodeASDU feeds arbitrary bytes to DecodeASDU, seeded with the ASDU of every
// golden row. It must not panic; errors must wrap ErrASDU or ErrUnknownType; and every
// ASDU it returns (with Raw objects for unknown types) must encode to exactly the input,
// every bit kept, and decode again to an equal value.
func FuzzDecodeASDU(f *testing.F) {
	for i := range golden {
		if b, ok := goldenASDU(f, i); ok {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeASDU(b)
		switch {
		case err == nil, errors.Is(err, ErrUnknownType):
		case errors.Is(err, ErrASDU):
			return
		default:
			t.Fatalf("error %v is neither ErrASDU nor ErrUnknownType", err)
		}
		enc, err := a.Encode()
		if err != nil {
			t.Fatalf("Encode of %v: %v", a, err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("Encode = % X\nwant     % X", enc, b)
		}
		again, err := DecodeASDU(enc)
		if err != nil && !errors.Is(err, ErrUnknownType) {
			t.Fatalf("decode(encode(a)): %v", err)
		}
		if !reflect.DeepEqual(again, a) {
			t.Fatalf("decode(encode(a)) = %v\nwant               %v", again, a)
		}
	})
}
