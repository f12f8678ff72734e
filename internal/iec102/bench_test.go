package iec102

import (
	"errors"
	"testing"
)

// The benchmark frames: F13, the longest vector (20 events, 195 octets), and S11, the
// load-profile answer every REE read is made of (8 totals, 68 octets).

func benchFrame(b *testing.B, raw string) Frame {
	b.Helper()
	f, _, err := DecodeFrame(unhex(b, raw))
	if err != nil {
		b.Fatal(err)
	}
	return f
}

func BenchmarkFrameEncode(b *testing.B) {
	for _, bc := range []struct{ name, raw string }{{"events", f13}, {"totals", s11}, {"fixed", poll2FCB0}} {
		b.Run(bc.name, func(b *testing.B) {
			f := benchFrame(b, bc.raw)
			buf := make([]byte, 0, MaxFrameLen)
			b.SetBytes(int64(f.Len()))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = f.Append(buf[:0])
			}
		})
	}
}

func BenchmarkFrameDecode(b *testing.B) {
	for _, bc := range []struct{ name, raw string }{{"events", f13}, {"totals", s11}, {"fixed", poll2FCB0}} {
		b.Run(bc.name, func(b *testing.B) {
			raw := unhex(b, bc.raw)
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := DecodeFrame(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecoderStream splits the golden stream (frames with junk between them) as a
// TCP reader would, copying each ASDU out of the decoder's buffer.
func BenchmarkDecoderStream(b *testing.B) {
	stream, frames, _ := streamFixture(b)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	var d Decoder
	for b.Loop() {
		d.Write(stream)
		n := 0
		for d.Buffered() > 0 {
			if _, err := d.Next(); err == nil {
				n++
			} else if errors.Is(err, ErrShortFrame) {
				break
			}
		}
		if n != len(frames) {
			b.Fatalf("%d frames, want %d", n, len(frames))
		}
	}
}

func BenchmarkASDUDecode(b *testing.B) {
	for _, bc := range []struct{ name, raw string }{{"events", f13}, {"totals", s11}, {"instant", f14}, {"session", acUD}} {
		b.Run(bc.name, func(b *testing.B) {
			asdu := benchFrame(b, bc.raw).ASDU
			b.SetBytes(int64(len(asdu)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeASDU(asdu); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkASDUEncode(b *testing.B) {
	a, err := DecodeASDU(benchFrame(b, s11).ASDU)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, MaxASDULen)
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = a.Append(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
