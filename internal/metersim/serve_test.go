package metersim

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"gridmeter/internal/dlt645"
)

// startSim serves a new simulator on a loopback listener until the test ends.
func startSim(t *testing.T, opts Options) (*Simulator, string) {
	t.Helper()
	sim, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return sim, serveSim(t, sim)
}

// serveSim serves sim over DL/T 645 on a loopback listener until the test or benchmark
// ends, and returns the address.
func serveSim(tb testing.TB, sim *Simulator) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- sim.ServeDLT645(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			tb.Errorf("ServeDLT645: %v", err)
		}
	})
	return ln.Addr().String()
}

func dial(t *testing.T, addr string, opts dlt645.Options) *dlt645.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := dlt645.DialTCP(ctx, addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestServeEveryDI reads every identifier of the catalogue from several meters over a
// real TCP connection and compares with the model: equal to the last digit, because the
// model's samples are already at the resolution of the data formats.
func TestServeEveryDI(t *testing.T) {
	specs, err := GenerateMeters(5, "000000000001")
	if err != nil {
		t.Fatal(err)
	}
	clock := NewManualClock(t0.Add(36*time.Hour + 12*time.Minute + 7*time.Second))
	for _, preamble := range []bool{false, true} {
		sim, addr := startSim(t, Options{Seed: 1, Meters: specs, Clock: clock, Start: t0, ReplyPreamble: preamble})
		c := dial(t, addr, dlt645.Options{Preamble: preamble})
		ctx := context.Background()
		for _, m := range sim.Meters() {
			want := m.Sample(clock.Now()).Values()
			for _, e := range dlt645.Catalogue() {
				if len(e.Channels) == 0 || e.Series > 0 {
					continue // history (freezes, settlements) is checked by TestServeHistory
				}
				got, err := c.ReadValues(ctx, m.Address(), e.DI)
				if err != nil {
					t.Errorf("%s: %v", e.DI, err)
					continue
				}
				if len(got) != len(e.Channels) {
					t.Errorf("%s %s: %d values, want %d", m.Address(), e.DI, len(got), len(e.Channels))
				}
				for ch, v := range got {
					if v != want[ch] {
						t.Errorf("%s %s %s: read %d, model %d", m.Address(), e.DI, ch, v, want[ch])
					}
				}
			}
			got, err := c.ReadClock(ctx, m.Address(), ChinaStandardTime)
			if err != nil {
				t.Errorf("%s: clock: %v", m.Address(), err)
			} else if w := m.Clock(clock.Now()).Truncate(time.Second); !got.Equal(w) {
				t.Errorf("%s: clock %v, model %v", m.Address(), got, w)
			}
		}
	}
}

func TestServeAbnormalAndSilence(t *testing.T) {
	specs, _ := GenerateMeters(2, "1")
	_, addr := startSim(t, Options{Seed: 1, Meters: specs, Clock: NewManualClock(t0)})
	c := dial(t, addr, dlt645.Options{Timeout: 200 * time.Millisecond})
	ctx := context.Background()
	m1 := dlt645.MustParseAddress("000000000001")

	_, err := c.Read(ctx, m1, 0x05060101) // daily frozen: no midnight since the start yet
	var ab *dlt645.AbnormalError
	if !errors.As(err, &ab) || ab.Code != dlt645.ErrCodeNoData || ab.Address != m1 {
		t.Errorf("unknown DI: err = %v, want abnormal reply 02H from %s", err, m1)
	}
	_, err = c.Read(ctx, dlt645.MustParseAddress("000000000003"), dlt645.DIForwardActiveTotal)
	if !errors.Is(err, dlt645.ErrTimeout) {
		t.Errorf("unknown address: err = %v, want ErrTimeout (silence)", err)
	}
	// The client still works after the silence.
	if _, err := c.ReadValues(ctx, m1, dlt645.DIFrequency); err != nil {
		t.Errorf("after a timeout: %v", err)
	}
}

func TestServeReadAddressAndTimeSync(t *testing.T) {
	clock := NewManualClock(t0.Add(10 * time.Hour))
	ctx := context.Background()

	one := []MeterSpec{{Address: "201900001234", Customer: Commercial}}
	_, addr := startSim(t, Options{Seed: 1, Meters: one, Clock: clock})
	c := dial(t, addr, dlt645.Options{})
	got, err := c.ReadAddress(ctx)
	if err != nil || got.String() != "201900001234" {
		t.Errorf("ReadAddress = %v, %v", got, err)
	}

	specs, _ := GenerateMeters(3, "000000000100")
	sim, addr := startSim(t, Options{Seed: 1, Meters: specs, Clock: clock})
	c = dial(t, addr, dlt645.Options{})
	if got, err := c.ReadAddress(ctx); err != nil || got.String() != "000000000100" {
		t.Errorf("ReadAddress on a bus of 3 = %v, %v, want the first meter", got, err)
	}

	// Every meter's clock is a few seconds off; a broadcast sets them all.
	set := clock.Now().Add(90 * time.Minute).In(ChinaStandardTime).Truncate(time.Second)
	if err := c.BroadcastTimeSync(ctx, set); err != nil {
		t.Fatal(err)
	}
	for _, m := range sim.Meters() {
		got, err := c.ReadClock(ctx, m.Address(), ChinaStandardTime)
		if err != nil || !got.Equal(set) {
			t.Errorf("%s after time sync: %v, %v, want %v", m.Address(), got, err, set)
		}
	}
}

// TestServeRawBytes talks to the server byte by byte: wake-up bytes, line noise, two
// requests in one write, a corrupt request, a request cut in two writes.
func TestServeRawBytes(t *testing.T) {
	specs, _ := GenerateMeters(1, "123456789012")
	_, addr := startSim(t, Options{Seed: 1, Meters: specs, Clock: NewManualClock(t0)})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	meter := dlt645.MustParseAddress("123456789012")
	req := func(di dlt645.DI) []byte {
		b, _ := dlt645.NewReadRequest(meter, di).Encode()
		return b
	}
	corrupt := req(dlt645.DIVoltageA)
	corrupt[len(corrupt)-2]++

	var out []byte
	out = append(out, 0x00, 0x13, 0xFE, 0xFE, 0xFE, 0xFE)
	out = append(out, req(dlt645.DIForwardActiveTotal)...)
	out = append(out, req(dlt645.DIFrequency)...)
	out = append(out, corrupt...)
	out = append(out, 0x68, 0x01, 0x02)
	out = append(out, req(dlt645.DIVoltageBlock)[:5]...)
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(req(dlt645.DIVoltageBlock)[5:]); err != nil {
		t.Fatal(err)
	}

	want := []dlt645.DI{dlt645.DIForwardActiveTotal, dlt645.DIFrequency, dlt645.DIVoltageBlock}
	var buf []byte
	tmp := make([]byte, 512)
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	for len(want) > 0 {
		f, n, err := dlt645.Decode(buf)
		if err == nil {
			buf = buf[n:]
			di, _ := f.DI()
			if f.Control != dlt645.FuncRead.Reply() || f.Address != meter || di != want[0] {
				t.Fatalf("reply %v, want a read reply for %s", f, want[0])
			}
			want = want[1:]
			continue
		}
		if !errors.Is(err, dlt645.ErrShortFrame) {
			t.Fatalf("server sent a malformed frame: %v", err)
		}
		k, err := conn.Read(tmp)
		if err != nil {
			t.Fatalf("waiting for %v: %v", want, err)
		}
		buf = append(buf, tmp[:k]...)
	}
}

func TestServeConcurrentConnections(t *testing.T) {
	specs, _ := GenerateMeters(4, "1")
	sim, addr := startSim(t, Options{Seed: 9, Meters: specs, Clock: NewVirtualClock(t0, 60)})
	var wg sync.WaitGroup
	for i := range 3 {
		c := dial(t, addr, dlt645.Options{})
		wg.Go(func() {
			for j := range 20 {
				m := sim.Meters()[(i+j)%len(specs)]
				if _, err := c.ReadValues(context.Background(), m.Address(), dlt645.DIActivePowerBlock); err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestServeStops(t *testing.T) {
	specs, _ := GenerateMeters(1, "1")
	sim, err := New(Options{Seed: 1, Meters: specs, Clock: NewManualClock(t0)})
	if err != nil {
		t.Fatal(err)
	}

	// Cancelling the context closes the listener and open connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- sim.ServeDLT645(ctx, ln) }()
	c := dial(t, ln.Addr().String(), dlt645.Options{Timeout: 5 * time.Second})
	m := dlt645.MustParseAddress("000000000001")
	if _, err := c.Read(context.Background(), m, dlt645.DIForwardActiveTotal); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("ServeDLT645 after cancel = %v, want nil", err)
	}
	if _, err := c.Read(context.Background(), m, dlt645.DIForwardActiveTotal); err == nil || errors.Is(err, dlt645.ErrTimeout) {
		t.Errorf("read after the server stopped: err = %v, want a closed connection", err)
	}

	// Closing the listener stops it too.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { errc <- sim.ServeDLT645(context.Background(), ln2) }()
	c2 := dial(t, ln2.Addr().String(), dlt645.Options{Timeout: 5 * time.Second})
	if _, err := c2.Read(context.Background(), m, dlt645.DIForwardActiveTotal); err != nil {
		t.Fatal(err)
	}
	ln2.Close()
	if err := <-errc; err != nil {
		t.Errorf("ServeDLT645 after close = %v, want nil", err)
	}
	if _, err := c2.Read(context.Background(), m, dlt645.DIForwardActiveTotal); err == nil {
		t.Error("connection still served after the listener closed")
	}
}

func TestReadDLT645(t *testing.T) {
	m := newTestMeter(t, testSpecs[0], 1)
	at := t0.Add(time.Hour)
	v, err := m.ReadDLT645(at, dlt645.DIForwardActiveTotal)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := dlt645.DecodeValues(dlt645.DIForwardActiveTotal, v)
	if got["e_imp"] != m.Sample(at).EImp {
		t.Errorf("e_imp %d, model %d", got["e_imp"], m.Sample(at).EImp)
	}
	if _, err := m.ReadDLT645(at, 0x01010000); !errors.Is(err, dlt645.ErrUnknownDI) {
		t.Errorf("unknown DI: %v", err)
	}
	d, _ := m.ReadDLT645(at, dlt645.DIDate)
	if !bytes.Equal(d, []byte{0x01, 0x11, 0x03, 0x24}) { // Monday 2024-03-11
		t.Errorf("date % X", d)
	}
}

// BenchmarkServeRead measures one read round trip over loopback TCP: client encode,
// server decode, model sample, reply encode, client decode, value mapping.
func BenchmarkServeRead(b *testing.B) {
	specs, _ := GenerateMeters(1, "1")
	sim, err := New(Options{Seed: 1, Meters: specs, Clock: NewManualClock(t0)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	c, err := dlt645.DialTCP(ctx, serveSim(b, sim), dlt645.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	m := sim.Meters()[0].Address()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ReadValues(ctx, m, dlt645.DIActivePowerBlock); err != nil {
			b.Fatal(err)
		}
	}
}
