package dlt645

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"
)

// The fuzz targets of the typed decoders, seeded from the golden rows. Each checks that
// the decoder does not panic, fails only with ErrData (or ErrNoRecord where the field
// may be empty), and that whatever it accepts survives encode → decode unchanged.

// goldenValues returns the value bytes (after the DI) of the golden read replies for
// identifiers whose format has the given encoding.
func goldenValues(enc Encoding) [][]byte {
	var out [][]byte
	for _, tc := range golden {
		f := tc.frame
		if tc.err != nil || !f.Control.IsReply() || f.Control.IsAbnormal() || f.Control.Function() != FuncRead {
			continue
		}
		di, err := f.DI()
		if err != nil {
			continue
		}
		if e, ok := Lookup(di); ok && e.Format.Encoding == enc {
			out = append(out, f.Data[DISize:])
		}
	}
	return out
}

// wantDataErr fails unless err is one of the decoders' documented errors.
func wantDataErr(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrData) && !errors.Is(err, ErrNoRecord) {
		t.Fatalf("error %v is neither ErrData nor ErrNoRecord", err)
	}
}

func FuzzDecodeFrozen(f *testing.F) {
	times := goldenValues(EncodingMinuteTime)
	blocks := [][]byte{}
	for _, tc := range golden {
		if tc.err == nil && tc.frame.Control == 0x91 {
			if di, _ := tc.frame.DI(); di.Class() == 0x05 && di>>8&0xFF == 0x01 {
				blocks = append(blocks, tc.frame.Data[DISize:])
			}
		}
	}
	for _, tm := range times {
		for _, b := range blocks {
			f.Add(tm, b, b[:4])
			f.Add(tm, b, []byte(nil))
		}
	}
	f.Add(make([]byte, 5), make([]byte, 4), make([]byte, 8))
	f.Fuzz(func(t *testing.T, tm, fwd, rev []byte) {
		r, err := DecodeFrozen(tm, fwd, rev, testLoc)
		if err != nil {
			wantDataErr(t, err)
			return
		}
		if len(r.Forward) != len(fwd)/4 || (rev == nil) != (r.Reverse == nil) {
			t.Fatalf("decoded %+v from %d and %d bytes", r, len(fwd), len(rev))
		}
		tm2, fwd2, rev2, err := AppendFrozen(r)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", r, err)
		}
		if !bytes.Equal(tm2, tm) || !bytes.Equal(fwd2, fwd) || !bytes.Equal(rev2, rev) {
			t.Fatalf("re-encoded % X / % X / % X, want % X / % X / % X", tm2, fwd2, rev2, tm, fwd, rev)
		}
		r2, err := DecodeFrozen(tm2, fwd2, rev2, testLoc)
		if err != nil || !reflect.DeepEqual(r2, r) {
			t.Fatalf("decode(encode(r)) = %+v, %v; want %+v", r2, err, r)
		}
	})
}

func FuzzDecodeEventRecord(f *testing.F) {
	for _, b := range goldenValues(EncodingSecondTime) {
		f.Add(b)
	}
	f.Add(make([]byte, 12))
	f.Add(append([]byte{0x30, 0x15, 0x08, 0x12, 0x03, 0x24}, make([]byte, 6)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodePowerDownEvent(b, testLoc)
		if err != nil {
			wantDataErr(t, err)
			return
		}
		enc, err := AppendPowerDownEvent(nil, e)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", e, err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("re-encoded % X, want % X", enc, b)
		}
		if e2, err := DecodePowerDownEvent(enc, testLoc); err != nil || e2 != e {
			t.Fatalf("decode(encode(e)) = %+v, %v; want %+v", e2, err, e)
		}
	})
}

func FuzzDecodeLoadRecords(f *testing.F) {
	for _, b := range goldenValues(EncodingLoadRecord) {
		f.Add(b)
		f.Add(append(bytes.Clone(b), b...))
	}
	bad, _ := AppendLoadRecord(nil, LoadRecord{Invalid: true})
	f.Add(bad)
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := DecodeLoadRecords(b, testLoc)
		if err != nil {
			wantDataErr(t, err)
			return
		}
		var enc []byte
		for _, r := range recs {
			if enc, err = AppendLoadRecord(enc, r); err != nil {
				t.Fatalf("re-encode %+v: %v", r, err)
			}
		}
		again, err := DecodeLoadRecords(enc, testLoc)
		if err != nil || !reflect.DeepEqual(again, recs) {
			t.Fatalf("decode(encode(records)) = %+v, %v; want %+v", again, err, recs)
		}
	})
}

// FuzzDecodeCommand feeds one data field to every command decoder: control, freeze,
// write, load profile request, settlement day and status word 3.
func FuzzDecodeCommand(f *testing.F) {
	for _, tc := range golden {
		if tc.err == nil && len(tc.frame.Data) > 0 {
			f.Add(tc.frame.Data)
			if len(tc.frame.Data) > DISize {
				f.Add(tc.frame.Data[DISize:])
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if cred, cmd, err := DecodeControlData(b, testLoc); err != nil {
			wantDataErr(t, err)
		} else {
			enc, err := cmd.AppendN(cred.Append(nil))
			if err != nil || !bytes.Equal(enc, b) {
				t.Fatalf("control % X → %v %+v → % X, %v", b, cred, cmd, enc, err)
			}
		}
		if s, err := DecodeFreezeSchedule(b); err != nil {
			wantDataErr(t, err)
		} else if enc, err := s.Append(nil); err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("freeze % X → %+v → % X, %v", b, s, enc, err)
		}
		if w, err := DecodeWriteRequest(b); err != nil {
			wantDataErr(t, err)
		} else if enc, err := w.Append(nil); err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("write % X → %+v → % X, %v", b, w, enc, err)
		}
		if q, err := DecodeLoadProfileRequest(b, testLoc); err != nil {
			wantDataErr(t, err)
		} else if enc, err := q.Append(nil); err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("load profile request % X → %+v → % X, %v", b, q, enc, err)
		}
		if d, err := DecodeSettlementDay(b); err != nil {
			wantDataErr(t, err)
		} else if enc, err := d.Append(nil); err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("settlement day % X → %+v → % X, %v", b, d, enc, err)
		}
		if s, err := DecodeStatusWord3(b); err != nil {
			wantDataErr(t, err)
		} else if enc := s.Append(nil); !bytes.Equal(enc, b) {
			t.Fatalf("status word % X → %#x → % X", b, uint16(s), enc)
		}
		if tm, err := DecodeMinuteTime(b, testLoc); err == nil {
			if enc, err := AppendMinuteTime(nil, tm); err != nil || !bytes.Equal(enc, b) {
				t.Fatalf("minute time % X → %v → % X, %v", b, tm, enc, err)
			}
			if tm.Location() != testLoc || tm.Second() != 0 || tm.Before(time.Date(2000, 1, 1, 0, 0, 0, 0, testLoc)) {
				t.Fatalf("minute time %v", tm)
			}
		}
	})
}
