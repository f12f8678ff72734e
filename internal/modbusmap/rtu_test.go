package modbusmap

import (
	"bytes"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
)

func hexBytes(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// rtuCases is the golden table of RTU frames: raw bytes ↔ decoded frame, requests and
// responses, malformed frames included. The well-formed frames are the examples of the
// MODBUS Application Protocol V1.1b3 §6 (unit 11H) with the CRCs other tools print
// for them (01 03 00 00 00 0A C5 CD, 01 83 02 C0 F1).
var rtuCases = []struct {
	name     string
	raw      string
	response bool
	frame    RTUFrame
	n        int
	err      error
}{
	{name: "read holding registers", raw: "01 03 00 00 00 0A C5 CD",
		frame: RTUFrame{Unit: 1, Function: 0x03, Data: hexBytes("0000000A")}, n: 8},
	{name: "read holding registers, §6.3", raw: "11 03 00 6B 00 03 76 87",
		frame: RTUFrame{Unit: 0x11, Function: 0x03, Data: hexBytes("006B0003")}, n: 8},
	{name: "read input register, §6.4", raw: "11 04 00 08 00 01 B2 98",
		frame: RTUFrame{Unit: 0x11, Function: 0x04, Data: hexBytes("00080001")}, n: 8},
	{name: "write single register, §6.6", raw: "11 06 00 01 00 03 9A 9B",
		frame: RTUFrame{Unit: 0x11, Function: 0x06, Data: hexBytes("00010003")}, n: 8},
	{name: "write multiple registers, §6.12", raw: "11 10 00 01 00 02 04 00 0A 01 02 C6 F0",
		frame: RTUFrame{Unit: 0x11, Function: 0x10, Data: hexBytes("00010002 04 000A 0102")}, n: 13},
	{name: "followed by the next frame", raw: "01 03 00 00 00 0A C5 CD 01 03",
		frame: RTUFrame{Unit: 1, Function: 0x03, Data: hexBytes("0000000A")}, n: 8},

	{name: "read holding response, §6.3", raw: "11 03 06 02 2B 00 00 00 64 C8 BA", response: true,
		frame: RTUFrame{Unit: 0x11, Function: 0x03, Data: hexBytes("06 022B 0000 0064")}, n: 11},
	{name: "read input response, §6.4", raw: "11 04 02 00 0A F8 F4", response: true,
		frame: RTUFrame{Unit: 0x11, Function: 0x04, Data: hexBytes("02 000A")}, n: 7},
	{name: "write single register response", raw: "11 06 00 01 00 03 9A 9B", response: true,
		frame: RTUFrame{Unit: 0x11, Function: 0x06, Data: hexBytes("00010003")}, n: 8},
	{name: "exception illegal data address", raw: "01 83 02 C0 F1", response: true,
		frame: RTUFrame{Unit: 1, Function: 0x83, Data: []byte{0x02}}, n: 5},
	{name: "exception gateway target", raw: "11 84 0B 03 02", response: true,
		frame: RTUFrame{Unit: 0x11, Function: 0x84, Data: []byte{0x0B}}, n: 5},

	{name: "empty", raw: "", err: ErrRTUShort},
	{name: "one byte", raw: "01", err: ErrRTUShort},
	{name: "short request", raw: "01 03 00 00 00 0A C5", err: ErrRTUShort},
	{name: "short write multiple", raw: "11 10 00 01 00", err: ErrRTUShort},
	{name: "short response", raw: "11 03 06 02 2B", response: true, err: ErrRTUShort},
	{name: "bad CRC", raw: "01 03 00 00 00 0A C5 CE", n: 1, err: ErrRTUCRC},
	{name: "bad CRC response", raw: "01 83 02 C0 F0", response: true, n: 1, err: ErrRTUCRC},
	{name: "unknown function", raw: "01 2B 0E 01 00 70 77", n: 1, err: ErrRTUFrame},
	{name: "unknown exception function", raw: "01 AB 01 00 00", response: true, n: 1, err: ErrRTUFrame},
	{name: "odd register byte count", raw: "01 03 03 00 00 00 00 00", response: true, n: 1, err: ErrRTUFrame},
	{name: "longer than 256 bytes", raw: "01 10 00 00 00 7D FF", n: 1, err: ErrRTUFrame},
}

func TestRTUDecode(t *testing.T) {
	for _, tc := range rtuCases {
		t.Run(tc.name, func(t *testing.T) {
			decode := DecodeRTURequest
			if tc.response {
				decode = DecodeRTUResponse
			}
			f, n, err := decode(hexBytes(tc.raw))
			if !errors.Is(err, tc.err) || n != tc.n {
				t.Fatalf("decode = %d, %v; want %d, %v", n, err, tc.n, tc.err)
			}
			if err == nil && (f.Unit != tc.frame.Unit || f.Function != tc.frame.Function || !bytes.Equal(f.Data, tc.frame.Data)) {
				t.Errorf("decoded %v, want %v", f, tc.frame)
			}
		})
	}
}

func TestRTUEncode(t *testing.T) {
	for _, tc := range rtuCases {
		if tc.err != nil {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.frame.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if want := hexBytes(tc.raw)[:tc.n]; !bytes.Equal(got, want) {
				t.Errorf("encoded % X, want % X", got, want)
			}
		})
	}
	if _, err := (RTUFrame{Unit: 1, Function: 0x10, Data: make([]byte, 253)}).Encode(); !errors.Is(err, ErrRTUFrame) {
		t.Errorf("257-byte frame: err = %v, want ErrRTUFrame", err)
	}
}

func TestCRC16(t *testing.T) {
	// The check value of CRC-16/MODBUS.
	if got := CRC16([]byte("123456789")); got != 0x4B37 {
		t.Errorf("CRC16(123456789) = %04X, want 4B37", got)
	}
}

func TestRTUReadHelpers(t *testing.T) {
	q := Request{Table: Input, Start: 0x0008, Count: 1}
	req := NewRTUReadRequest(0x11, q)
	raw, _ := req.Encode()
	if want := hexBytes("11 04 00 08 00 01 B2 98"); !bytes.Equal(raw, want) {
		t.Errorf("request % X, want % X", raw, want)
	}
	if got, err := req.ReadRequest(); err != nil || got != q {
		t.Errorf("ReadRequest = %v, %v, want %v", got, err, q)
	}
	resp := NewRTUReadResponse(0x11, Input, []uint16{0x000A})
	raw, _ = resp.Encode()
	if want := hexBytes("11 04 02 00 0A F8 F4"); !bytes.Equal(raw, want) {
		t.Errorf("response % X, want % X", raw, want)
	}
	if words, err := resp.ReadResponse(0x11, q); err != nil || !slices.Equal(words, []uint16{0x000A}) {
		t.Errorf("ReadResponse = %v, %v", words, err)
	}

	tests := []struct {
		name string
		f    RTUFrame
		want error
	}{
		{"exception", NewRTUException(0x11, 0x04, ExceptionGatewayTargetFailed), ExceptionGatewayTargetFailed},
		{"other unit", NewRTUReadResponse(0x12, Input, []uint16{1}), ErrProtocol},
		{"other function", NewRTUReadResponse(0x11, Holding, []uint16{1}), ErrProtocol},
		{"wrong count", NewRTUReadResponse(0x11, Input, []uint16{1, 2}), ErrProtocol},
	}
	for _, tt := range tests {
		if _, err := tt.f.ReadResponse(0x11, q); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	for _, count := range []uint16{0, 126} {
		f := NewRTUReadRequest(1, Request{Table: Holding, Count: count})
		if _, err := f.ReadRequest(); !errors.Is(err, ExceptionIllegalDataValue) {
			t.Errorf("count %d: err = %v, want ExceptionIllegalDataValue", count, err)
		}
	}
	if _, err := (RTUFrame{Unit: 1, Function: 0x06, Data: hexBytes("00010003")}).ReadRequest(); !errors.Is(err, ExceptionIllegalFunction) {
		t.Errorf("write as read: err = %v, want ExceptionIllegalFunction", err)
	}
}

// FuzzRTUDecode decodes arbitrary bytes as a request and as a response: no panic, n as
// documented (0 for a short frame, 1 for junk), and a frame that decodes encodes to the
// bytes it came from and decodes to itself again. Seeded with the golden table.
func FuzzRTUDecode(f *testing.F) {
	for _, tc := range rtuCases {
		f.Add(hexBytes(tc.raw))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, decode := range []func([]byte) (RTUFrame, int, error){DecodeRTURequest, DecodeRTUResponse} {
			fr, n, err := decode(b)
			switch {
			case errors.Is(err, ErrRTUShort):
				if n != 0 {
					t.Fatalf("short frame consumed %d bytes", n)
				}
				continue
			case err != nil:
				if n != 1 {
					t.Fatalf("%v consumed %d bytes", err, n)
				}
				continue
			}
			if n > len(b) || n < 4 {
				t.Fatalf("consumed %d of %d bytes", n, len(b))
			}
			raw, err := fr.Encode()
			if err != nil {
				t.Fatalf("encode %v: %v", fr, err)
			}
			if !bytes.Equal(raw, b[:n]) {
				t.Fatalf("re-encoded % X, decoded from % X", raw, b[:n])
			}
			again, m, err := decode(raw)
			if err != nil || m != n || again.Unit != fr.Unit || again.Function != fr.Function || !bytes.Equal(again.Data, fr.Data) {
				t.Fatalf("decode(encode) = %v, %d, %v; want %v", again, m, err, fr)
			}
		}
	})
}

// rtuBenchFrame is a read reply of 27 registers, the instant block of a meter.
var rtuBenchFrame = NewRTUReadResponse(1, Input, make([]uint16, 27))

func BenchmarkRTUEncode(b *testing.B) {
	buf := make([]byte, 0, MaxRTUFrameLen)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = rtuBenchFrame.AppendEncode(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkRTUDecode(b *testing.B) {
	raw, _ := rtuBenchFrame.Encode()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeRTUResponse(raw); err != nil {
			b.Fatal(err)
		}
	}
}
