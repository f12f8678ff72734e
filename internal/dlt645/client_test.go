package dlt645

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeBus plays the far end of a net.Pipe: one meter, or a whole bus. For every request
// frame it decodes it records the frame and writes whatever reply returns (raw bytes,
// possibly none). Tests run inside a synctest bubble, so timeouts take no real time.
type fakeBus struct {
	far  net.Conn // the bus end of the pipe, for unsolicited writes
	mu   sync.Mutex
	reqs []Frame
}

func (b *fakeBus) requests() []Frame {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Frame(nil), b.reqs...)
}

// startBus returns a client on one end of a pipe and the bus on the other. before, if not
// nil, is written by the bus before it reads anything (unsolicited, stale bytes).
func startBus(t *testing.T, opts Options, before []byte, reply func(n int, req Frame) []byte) (*Client, *fakeBus) {
	t.Helper()
	near, far := net.Pipe()
	bus := &fakeBus{far: far}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if len(before) > 0 {
			if _, err := far.Write(before); err != nil {
				return
			}
		}
		var buf []byte
		tmp := make([]byte, 256)
		for {
			n, err := far.Read(tmp)
			if err != nil {
				return
			}
			buf = append(buf, tmp[:n]...)
			for {
				f, k, err := Decode(buf)
				buf = buf[k:]
				if errors.Is(err, ErrShortFrame) {
					break
				}
				if err != nil {
					continue
				}
				bus.mu.Lock()
				bus.reqs = append(bus.reqs, f)
				i := len(bus.reqs) - 1
				bus.mu.Unlock()
				if out := reply(i, f); len(out) > 0 {
					if _, err := far.Write(out); err != nil {
						return
					}
				}
			}
		}
	}()
	c := NewClient(near, opts)
	t.Cleanup(func() {
		c.Close()
		far.Close()
		<-done
	})
	return c, bus
}

func enc(t *testing.T, f Frame) []byte {
	t.Helper()
	b, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// energyReply answers reads of 00010000 with 12345.67 kWh.
func energyReply(t *testing.T) func(int, Frame) []byte {
	return func(_ int, req Frame) []byte {
		return enc(t, NewReadReply(req.Address, DIForwardActiveTotal, []byte{0x67, 0x45, 0x23, 0x01}, false))
	}
}

func TestClientRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, bus := startBus(t, Options{Preamble: true}, nil, energyReply(t))
		ctx := context.Background()

		v, err := c.Read(ctx, addr1, DIForwardActiveTotal)
		if err != nil {
			t.Fatal(err)
		}
		if want := []byte{0x67, 0x45, 0x23, 0x01}; !bytes.Equal(v, want) {
			t.Errorf("Read = % X, want % X", v, want)
		}
		m, err := c.ReadValues(ctx, addr1, DIForwardActiveTotal)
		if err != nil {
			t.Fatal(err)
		}
		if m["e_imp"] != 12345670 || len(m) != 1 {
			t.Errorf("ReadValues = %v, want e_imp 12345670 Wh", m)
		}
		reqs := bus.requests()
		if len(reqs) != 2 || !reqs[0].Equal(NewReadRequest(addr1, DIForwardActiveTotal)) {
			t.Errorf("requests = %v", reqs)
		}
	})
}

func TestClientAbnormal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, bus := startBus(t, Options{Retries: 3}, nil, func(_ int, req Frame) []byte {
			return enc(t, NewAbnormalReply(req.Address, FuncRead, ErrCodeNoData))
		})
		_, err := c.Read(context.Background(), addr1, 0x04000599)
		var ab *AbnormalError
		if !errors.As(err, &ab) || !ab.Has(ErrCodeNoData) || !errors.Is(err, ErrAbnormal) {
			t.Fatalf("err = %v, want an *AbnormalError with no data requested", err)
		}
		if ab.Address != addr1 || ab.Function != FuncRead {
			t.Errorf("AbnormalError = %+v", ab)
		}
		if !strings.HasPrefix(err.Error(), "meter 123456789012: read 04000599: ") {
			t.Errorf("error lacks context: %v", err)
		}
		if n := len(bus.requests()); n != 1 {
			t.Errorf("abnormal reply retried: %d requests", n)
		}
	})
}

func TestClientFollowUp(t *testing.T) {
	// 0001FF00 split over three frames: B1H (first 8 value bytes), B2H SEQ 1 (8 bytes),
	// 92H SEQ 2 (last 4 bytes): total 20.00, rates 1.00, 2.00, 3.00, 14.00 kWh.
	value := []byte{
		0x00, 0x20, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
		0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00,
		0x00, 0x14, 0x00, 0x00,
	}
	synctest.Test(t, func(t *testing.T) {
		c, bus := startBus(t, Options{}, nil, func(_ int, req Frame) []byte {
			di, _ := req.DI()
			switch req.Control.Function() {
			case FuncRead:
				return enc(t, NewReadReply(req.Address, di, value[:8], true))
			case FuncReadFollowUp:
				seq := req.Data[4]
				ctl := FuncReadFollowUp.Reply()
				part := value[16:]
				if seq == 1 {
					ctl |= ControlFollowUp
					part = value[8:16]
				}
				data := append(append(di.AppendWire(nil), part...), seq)
				return enc(t, Frame{Address: req.Address, Control: ctl, Data: data})
			}
			return nil
		})
		m, err := c.ReadValues(context.Background(), addr1, DIForwardActiveBlock)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{"e_imp": 20000, "e_imp_t1": 1000, "e_imp_t2": 2000, "e_imp_t3": 3000, "e_imp_t4": 14000}
		if !sameMap(m, want) {
			t.Errorf("ReadValues = %v, want %v", m, want)
		}
		reqs := bus.requests()
		if len(reqs) != 3 || !reqs[1].Equal(NewReadFollowUpRequest(addr1, DIForwardActiveBlock, 1)) ||
			!reqs[2].Equal(NewReadFollowUpRequest(addr1, DIForwardActiveBlock, 2)) {
			t.Errorf("requests = %v", reqs)
		}
	})
}

func TestClientTimeoutAndRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, bus := startBus(t, Options{Timeout: 500 * time.Millisecond, Retries: 2}, nil,
			func(int, Frame) []byte { return nil })
		start := time.Now()
		_, err := c.Read(context.Background(), addr1, DIForwardActiveTotal)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
		if n := len(bus.requests()); n != 3 {
			t.Errorf("%d requests, want 1 + 2 retries", n)
		}
		// Each attempt drains (the first because the line is new, the others because the
		// attempt before failed), then waits the full timeout.
		if d, want := time.Since(start), 3*(DefaultDrain+500*time.Millisecond); d != want {
			t.Errorf("took %v, want %v", d, want)
		}
	})
}

func TestClientRetryAfterCorruptReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reply := energyReply(t)
		c, bus := startBus(t, Options{Retries: 1}, nil, func(i int, req Frame) []byte {
			b := reply(i, req)
			if i == 0 {
				b[len(b)-2]++ // corrupt the checksum of the first reply
			}
			return b
		})
		if _, err := c.Read(context.Background(), addr1, DIForwardActiveTotal); err != nil {
			t.Fatalf("Read with a retry: %v", err)
		}
		if n := len(bus.requests()); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}

		c2, _ := startBus(t, Options{}, nil, func(i int, req Frame) []byte {
			b := reply(i, req)
			b[len(b)-2]++
			return b
		})
		_, err := c2.Read(context.Background(), addr1, DIForwardActiveTotal)
		if !errors.Is(err, ErrChecksum) {
			t.Errorf("err = %v, want ErrChecksum", err)
		}
	})
}

func TestClientJunkBeforeReply(t *testing.T) {
	other := MustParseAddress("000000000042")
	for _, tc := range []struct {
		name string
		junk string
	}{
		{"line noise and wake-up bytes", "00 FF 13 FE FE FE FE"},
		{"a stray start byte", "68 01 02 03 04 05 06 07 08"},
		{"a stray header claiming 200 bytes", "68 00 00 00 00 00 00 68 00 C8 01 02"},
		{"a corrupt frame", "68 12 90 78 56 34 12 68 91 00 00 16"},
		{"our own request echoed", "68 12 90 78 56 34 12 68 11 04 33 33 34 33 68 16"},
		{"another meter's reply", string(hexOf(mustEnc(NewReadReply(other, DIForwardActiveTotal, []byte{1, 0, 0, 0}, false))))},
		{"a reply for another identifier", string(hexOf(mustEnc(NewReadReply(addr1, DIFrequency, []byte{0x00, 0x50}, false))))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reply := energyReply(t)
				c, _ := startBus(t, Options{}, nil, func(i int, req Frame) []byte {
					return append(unhex(t, tc.junk), reply(i, req)...)
				})
				v, err := c.Read(context.Background(), addr1, DIForwardActiveTotal)
				if err != nil {
					t.Fatal(err)
				}
				if want := []byte{0x67, 0x45, 0x23, 0x01}; !bytes.Equal(v, want) {
					t.Errorf("Read = % X, want % X", v, want)
				}
			})
		})
	}
}

func TestClientDiscardsStaleBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A late reply to an earlier request is waiting on the line before we ask: same
		// meter, same identifier, an old value. It must not be taken for the answer.
		stale := mustEnc(NewReadReply(addr1, DIForwardActiveTotal, []byte{0x11, 0x11, 0x00, 0x00}, false))
		c, _ := startBus(t, Options{}, stale, energyReply(t))
		synctest.Wait() // the bus is blocked writing the stale reply
		v, err := c.Read(context.Background(), addr1, DIForwardActiveTotal)
		if err != nil {
			t.Fatal(err)
		}
		if want := []byte{0x67, 0x45, 0x23, 0x01}; !bytes.Equal(v, want) {
			t.Errorf("Read = % X, want the fresh % X", v, want)
		}
	})
}

func TestClientDiscardsLateReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The first request's reply comes 100 ms after the client gave up on it, with an
		// old value. The next request for the same identifier must get the fresh value.
		reply := energyReply(t)
		var late sync.WaitGroup
		var bus *fakeBus
		c, bus := startBus(t, Options{Timeout: 500 * time.Millisecond}, nil, func(i int, req Frame) []byte {
			if i == 0 {
				late.Go(func() {
					time.Sleep(600 * time.Millisecond)
					old := NewReadReply(req.Address, DIForwardActiveTotal, []byte{0x11, 0x11, 0, 0}, false)
					bus.far.Write(mustEnc(old))
				})
				return nil
			}
			return reply(i, req)
		})
		_, err := c.Read(context.Background(), addr1, DIForwardActiveTotal)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("first read: err = %v, want ErrTimeout", err)
		}
		time.Sleep(time.Second) // the late reply is now waiting on the line
		synctest.Wait()
		v, err := c.Read(context.Background(), addr1, DIForwardActiveTotal)
		if err != nil {
			t.Fatal(err)
		}
		if want := []byte{0x67, 0x45, 0x23, 0x01}; !bytes.Equal(v, want) {
			t.Errorf("Read = % X, want the fresh % X, not the late reply", v, want)
		}
		late.Wait()
	})
}

func TestClientContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := startBus(t, Options{Timeout: time.Hour}, nil, func(int, Frame) []byte { return nil })

		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(3*time.Second, cancel)
		start := time.Now()
		_, err := c.Read(ctx, addr1, DIForwardActiveTotal)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("returned after %v, want 3s", d)
		}

		ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel2()
		_, err = c.Read(ctx2, addr1, DIForwardActiveTotal)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", err)
		}

		// The client still works after cancellations.
		c2, _ := startBus(t, Options{}, nil, energyReply(t))
		ctx3, cancel3 := context.WithCancel(context.Background())
		cancel3()
		if _, err := c2.Read(ctx3, addr1, DIForwardActiveTotal); !errors.Is(err, context.Canceled) {
			t.Errorf("pre-cancelled: err = %v", err)
		}
		if _, err := c2.Read(context.Background(), addr1, DIForwardActiveTotal); err != nil {
			t.Errorf("after a cancelled read: %v", err)
		}
	})
}

func TestClientSerialises(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Each reply echoes the requested identifier; the values differ per identifier.
		c, _ := startBus(t, Options{}, nil, func(_ int, req Frame) []byte {
			di, _ := req.DI()
			v, _ := AppendBCD(nil, uint64(di&0xFF)*10+uint64(di>>8&0xFF), 2)
			return enc(t, NewReadReply(req.Address, di, v, false))
		})
		var wg sync.WaitGroup
		for _, di := range []DI{DIVoltageA, DIVoltageB, DIVoltageC, DIVoltageBlock} {
			wg.Go(func() {
				v, err := c.Read(context.Background(), addr1, di)
				if err != nil {
					t.Errorf("%s: %v", di, err)
					return
				}
				got, _ := DecodeBCD(v)
				if want := uint64(di&0xFF)*10 + uint64(di>>8&0xFF); got != want {
					t.Errorf("%s: got %d, want %d (replies crossed)", di, got, want)
				}
			})
		}
		wg.Wait()
	})
}

func TestClientReadAddressAndTimeSync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, bus := startBus(t, Options{}, nil, func(_ int, req Frame) []byte {
			if req.Control.Function() == FuncReadAddress && req.Address == WildcardAddress {
				return enc(t, NewReadAddressReply(addr1))
			}
			return nil // broadcasts get no reply
		})
		got, err := c.ReadAddress(context.Background())
		if err != nil || got != addr1 {
			t.Fatalf("ReadAddress = %v, %v", got, err)
		}

		cst := time.FixedZone("CST", 8*3600)
		at := time.Date(2024, 3, 15, 12, 34, 56, 0, cst)
		if err := c.BroadcastTimeSync(context.Background(), at); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		reqs := bus.requests()
		if len(reqs) != 2 {
			t.Fatalf("requests = %v", reqs)
		}
		sync := reqs[1]
		if sync.Address != BroadcastAddress || sync.Control != 0x08 {
			t.Errorf("time sync frame = %v", sync)
		}
		if ts, err := DecodeTimeSync(sync.Data, cst); err != nil || !ts.Equal(at) {
			t.Errorf("time sync data = %v, %v, want %v", ts, err, at)
		}
	})
}

func TestClientReadClock(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	at := time.Date(2024, 3, 15, 12, 34, 56, 0, cst)
	synctest.Test(t, func(t *testing.T) {
		c, _ := startBus(t, Options{}, nil, func(_ int, req Frame) []byte {
			di, _ := req.DI()
			var v []byte
			switch di {
			case DIDate:
				v, _ = AppendDate(nil, at)
			case DITime:
				v = AppendTime(nil, at)
			}
			return enc(t, NewReadReply(req.Address, di, v, false))
		})
		got, err := c.ReadClock(context.Background(), addr1, cst)
		if err != nil || !got.Equal(at) {
			t.Errorf("ReadClock = %v, %v, want %v", got, err, at)
		}
		if _, err := c.ReadValues(context.Background(), addr1, DIDate); !errors.Is(err, ErrNoValues) {
			t.Errorf("ReadValues(date) err = %v, want ErrNoValues", err)
		}
		if _, err := c.ReadValues(context.Background(), addr1, 0x01010000); !errors.Is(err, ErrUnknownDI) {
			t.Errorf("ReadValues(unknown) err = %v, want ErrUnknownDI", err)
		}
	})
}

func TestClientTransportClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := startBus(t, Options{Timeout: time.Hour, Retries: 5}, nil, func(int, Frame) []byte { return nil })
		time.AfterFunc(time.Second, func() { c.Close() })
		_, err := c.Read(context.Background(), addr1, DIForwardActiveTotal)
		if err == nil || errors.Is(err, ErrTimeout) {
			t.Errorf("err = %v, want a transport error", err)
		}
	})
}

func mustEnc(f Frame) []byte {
	b, err := f.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

func hexOf(b []byte) string {
	var s strings.Builder
	for i, c := range b {
		if i > 0 {
			s.WriteByte(' ')
		}
		const h = "0123456789ABCDEF"
		s.WriteByte(h[c>>4])
		s.WriteByte(h[c&0x0F])
	}
	return s.String()
}

func sameMap(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
