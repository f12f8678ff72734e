package dlt645

import "testing"

var benchReply = NewReadReply(addr1, DIActivePowerBlock, []byte{
	0x45, 0x23, 0x01, 0x15, 0x41, 0x00, 0x15, 0x41, 0x00, 0x15, 0x41, 0x00}, false)

func BenchmarkEncode(b *testing.B) {
	buf := make([]byte, 0, MaxFrameLen)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = benchReply.AppendEncode(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkEncodeAlloc(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = benchReply.EncodeWithPreamble()
	}
}

func BenchmarkDecode(b *testing.B) {
	raw, _ := benchReply.EncodeWithPreamble()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeValues(b *testing.B) {
	f, _, _ := Decode(mustEnc(benchReply))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeValues(DIActivePowerBlock, f.Data[DISize:]); err != nil {
			b.Fatal(err)
		}
	}
}
