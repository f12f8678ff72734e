package dlt645

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestBCD(t *testing.T) {
	for _, tc := range []struct {
		name   string
		b      []byte
		signed bool
		want   int64
		err    error
	}{
		{"XXXXXX.XX 12345.67", []byte{0x67, 0x45, 0x23, 0x01}, false, 1234567, nil},
		{"XXXXXX.XX 0.04", []byte{0x04, 0x00, 0x00, 0x00}, false, 4, nil},
		{"XXXXXX.XX max", []byte{0x99, 0x99, 0x99, 0x99}, false, 99999999, nil},
		{"XXX.X 220.1", []byte{0x01, 0x22}, false, 2201, nil},
		{"XXX.XXX +5.123", []byte{0x23, 0x51, 0x00}, true, 5123, nil},
		{"XXX.XXX -5.123", []byte{0x23, 0x51, 0x80}, true, -5123, nil},
		{"XX.XXXX -1.2345", []byte{0x45, 0x23, 0x81}, true, -12345, nil},
		{"XX.XXXX max +79.9999", []byte{0x99, 0x99, 0x79}, true, 799999, nil},
		{"XX.XXXX min -79.9999", []byte{0x99, 0x99, 0xF9}, true, -799999, nil},
		{"X.XXX -0.950", []byte{0x50, 0x89}, true, -950, nil},
		{"negative zero", []byte{0x00, 0x80}, true, 0, nil},
		{"empty", nil, false, 0, nil},
		{"bad low nibble", []byte{0x0A, 0x00}, false, 0, ErrBCD},
		{"bad high nibble", []byte{0x00, 0xA0}, false, 0, ErrBCD},
		{"bad digit under the sign bit", []byte{0x00, 0xFA}, true, 0, ErrBCD},
		{"too long", make([]byte, 10), false, 0, ErrRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got int64
			var err error
			if tc.signed {
				got, err = DecodeSignedBCD(tc.b)
			} else {
				var u uint64
				u, err = DecodeBCD(tc.b)
				got = int64(u)
			}
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if tc.err == ErrBCD && !errors.Is(err, ErrData) {
					t.Errorf("ErrBCD is not an ErrData: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
			if tc.name == "negative zero" || len(tc.b) == 0 {
				return
			}
			var enc []byte
			if tc.signed {
				enc, err = AppendSignedBCD(nil, tc.want, len(tc.b))
			} else {
				enc, err = AppendBCD(nil, uint64(tc.want), len(tc.b))
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(enc, tc.b) {
				t.Errorf("encode = % X, want % X", enc, tc.b)
			}
		})
	}
}

func TestBCDRange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		v      int64
		n      int
		signed bool
	}{
		{"unsigned overflow", 100000000, 4, false},
		{"signed overflow: top digit 8", 800000, 3, true},
		{"signed overflow negative", -800000, 3, true},
		{"min int64", -1 << 63, 9, true},
		{"zero bytes", 0, 0, false},
		{"ten bytes", 0, 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.signed {
				_, err = AppendSignedBCD(nil, tc.v, tc.n)
			} else {
				_, err = AppendBCD(nil, uint64(tc.v), tc.n)
			}
			if !errors.Is(err, ErrRange) {
				t.Errorf("err = %v, want ErrRange", err)
			}
		})
	}
}

func TestDateTime(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	at := time.Date(2024, 3, 15, 12, 34, 56, 0, cst) // a Friday
	date, err := AppendDate(nil, at)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x05, 0x15, 0x03, 0x24}; !bytes.Equal(date, want) {
		t.Errorf("date = % X, want % X", date, want)
	}
	clock := AppendTime(nil, at)
	if want := []byte{0x56, 0x34, 0x12}; !bytes.Equal(clock, want) {
		t.Errorf("time = % X, want % X", clock, want)
	}
	got, err := DecodeDateTime(date, clock, cst)
	if err != nil || !got.Equal(at) {
		t.Errorf("DecodeDateTime = %v, %v, want %v", got, err, at)
	}
	sync, err := AppendTimeSync(nil, at)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeTimeSync(sync, cst); err != nil || !got.Equal(at) {
		t.Errorf("DecodeTimeSync = %v, %v", got, err)
	}

	for _, tc := range []struct {
		name        string
		date, clock []byte
	}{
		{"31 February", []byte{0x00, 0x31, 0x02, 0x24}, []byte{0, 0, 0}},
		{"month 13", []byte{0x00, 0x01, 0x13, 0x24}, []byte{0, 0, 0}},
		{"hour 24", []byte{0x00, 0x01, 0x01, 0x24}, []byte{0, 0, 0x24}},
		{"not BCD", []byte{0x00, 0x1A, 0x01, 0x24}, []byte{0, 0, 0}},
		{"short", []byte{0x00, 0x01, 0x01}, []byte{0, 0, 0}},
	} {
		if _, err := DecodeDateTime(tc.date, tc.clock, cst); !errors.Is(err, ErrData) {
			t.Errorf("%s: err = %v, want ErrData", tc.name, err)
		}
	}
	if _, err := AppendDate(nil, time.Date(1999, 12, 31, 0, 0, 0, 0, cst)); !errors.Is(err, ErrRange) {
		t.Errorf("year 1999: err = %v, want ErrRange", err)
	}
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
