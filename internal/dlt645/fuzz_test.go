package dlt645

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode, seeded with every golden row. Decode must
// not panic, must not modify its input, must keep n within the input and make progress
// on errors, and every frame it returns must survive encode → decode unchanged.
func FuzzDecode(f *testing.F) {
	for _, tc := range golden {
		f.Add(unhex(f, tc.raw))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		fr, n, err := Decode(b)
		if !bytes.Equal(b, orig) {
			t.Fatal("Decode modified its input")
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
		if n < overhead {
			t.Fatalf("valid frame with n = %d", n)
		}
		enc, err := fr.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded frame: %v", err)
		}
		if !bytes.HasSuffix(b[:n], enc) {
			t.Fatalf("Encode = % X, not the bytes decoded % X", enc, b[:n])
		}
		again, n2, err := Decode(enc)
		if err != nil || n2 != len(enc) || !again.Equal(fr) {
			t.Fatalf("decode(encode(f)) = %v, %d, %v; want %v", again, n2, err, fr)
		}
	})
}

// FuzzBCD checks that every byte string that decodes as BCD encodes back to itself, for
// the unsigned and the signed formats.
func FuzzBCD(f *testing.F) {
	for _, s := range [][]byte{{0x67, 0x45, 0x23, 0x01}, {0x45, 0x23, 0x81}, {0x00, 0x80}, {0x99, 0x99, 0xF9}, {0x0A}, {}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if u, err := DecodeBCD(b); err == nil && len(b) > 0 {
			enc, err := AppendBCD(nil, u, len(b))
			if err != nil || !bytes.Equal(enc, b) {
				t.Fatalf("unsigned % X → %d → % X, %v", b, u, enc, err)
			}
		} else if err != nil && !errors.Is(err, ErrBCD) && !errors.Is(err, ErrRange) {
			t.Fatalf("unsigned % X: unexpected error %v", b, err)
		}
		v, err := DecodeSignedBCD(b)
		if err != nil {
			if !errors.Is(err, ErrBCD) && !errors.Is(err, ErrRange) {
				t.Fatalf("signed % X: unexpected error %v", b, err)
			}
			return
		}
		if len(b) == 0 {
			return
		}
		enc, err := AppendSignedBCD(nil, v, len(b))
		if err != nil {
			t.Fatalf("signed % X → %d: re-encode: %v", b, v, err)
		}
		want := b
		if v == 0 { // negative zero normalises to zero
			want = bytes.Clone(b)
			want[len(want)-1] &^= 0x80
		}
		if !bytes.Equal(enc, want) {
			t.Fatalf("signed % X → %d → % X", b, v, enc)
		}
	})
}
