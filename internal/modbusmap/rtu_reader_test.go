package modbusmap

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// rtuTestMap is one request: input registers 0…2, a voltage and a power.
var rtuTestMap = Map{Name: "rtu-test", Registers: []Register{
	{Channel: "u_a", Table: Input, Address: 0, Type: U16, Scale: Scale{Num: 100, Den: 1}},
	{Channel: "p", Table: Input, Address: 1, Type: S32, Scale: Scale{Num: 1, Den: 1}},
}}

// fakeUnit answers requests on conn with answer's bytes, until conn closes.
func fakeUnit(t *testing.T, answer func(req RTUFrame) []byte) net.Conn {
	t.Helper()
	client, unit := net.Pipe()
	t.Cleanup(func() { client.Close(); unit.Close() })
	go func() {
		var buf []byte
		tmp := make([]byte, 256)
		for {
			n, err := unit.Read(tmp)
			if err != nil {
				return
			}
			buf = append(buf, tmp[:n]...)
			for {
				f, k, err := DecodeRTURequest(buf)
				if errors.Is(err, ErrRTUShort) {
					break
				}
				buf = buf[k:]
				if err != nil {
					continue
				}
				if out := answer(f); len(out) > 0 {
					if _, err := unit.Write(out); err != nil {
						return
					}
				}
			}
		}
	}()
	return client
}

func mustEncode(f RTUFrame) []byte {
	b, err := f.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

// goodAnswer answers a read of input 0+3 with 230.00 V and -1500 mW.
func goodAnswer(req RTUFrame) []byte {
	return mustEncode(NewRTUReadResponse(req.Unit, Input, []uint16{23000, 0xFFFF, 0xFA24}))
}

func TestRTUReader(t *testing.T) {
	calls := 0
	tests := []struct {
		name    string
		answer  func(RTUFrame) []byte
		retries int
		want    error
	}{
		{"good", goodAnswer, 0, nil},
		{"noise before the reply", func(req RTUFrame) []byte {
			// 01 03 FA looks like the start of a 255-byte frame.
			return append([]byte{0x00, 0x01, 0x03, 0xFA}, goodAnswer(req)...)
		}, 0, nil},
		{"another unit's frame first", func(req RTUFrame) []byte {
			return append(mustEncode(NewRTUReadResponse(req.Unit+1, Input, []uint16{1, 2, 3})), goodAnswer(req)...)
		}, 0, nil},
		{"exception", func(req RTUFrame) []byte {
			return mustEncode(NewRTUException(req.Unit, req.Function, ExceptionIllegalDataAddress))
		}, 1, ExceptionIllegalDataAddress},
		{"silence", func(RTUFrame) []byte { return nil }, 1, ErrTimeout},
		{"bad CRC", func(req RTUFrame) []byte {
			b := goodAnswer(req)
			b[len(b)-1] ^= 0xFF
			return b
		}, 0, ErrProtocol},
		{"bad CRC, then good on retry", func(req RTUFrame) []byte {
			calls++
			b := goodAnswer(req)
			if calls == 1 {
				b[len(b)-1] ^= 0xFF
			}
			return b
		}, 1, nil},
		{"wrong count", func(req RTUFrame) []byte {
			return mustEncode(NewRTUReadResponse(req.Unit, Input, []uint16{1, 2}))
		}, 0, ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := fakeUnit(t, tt.answer)
			r, err := NewRTUReader(conn, rtuTestMap, RTUReaderOptions{Timeout: 100 * time.Millisecond, Retries: tt.retries})
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.ReadInstant(context.Background(), 7)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil && (got["u_a"] != 2300000 || got["p"] != -1500) {
				t.Errorf("values %v, want u_a 2300000, p -1500", got)
			}
		})
	}
}

func TestRTUReaderCancel(t *testing.T) {
	conn := fakeUnit(t, func(RTUFrame) []byte { return nil })
	r, err := NewRTUReader(conn, rtuTestMap, RTUReaderOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	if _, err := r.ReadInstant(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if got := time.Since(start); got > 2*time.Second {
		t.Errorf("cancelled read returned after %v", got)
	}
	if _, err := r.ReadInstant(context.Background(), 0); err == nil {
		t.Error("unit 0: no error")
	}
}
