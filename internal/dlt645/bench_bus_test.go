package dlt645_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gridmeter/internal/dlt645"
	"gridmeter/internal/metersim"
	"gridmeter/internal/serialbus"
)

// cycleDIs are the instant identifiers a terminal reads from every meter in one cycle:
// voltages, currents, active powers (blocks), reactive power, power factor and
// frequency (totals), forward energy (block of total and rates) and reverse energy
// (total).
var cycleDIs = []dlt645.DI{
	dlt645.DIVoltageBlock,       // 0201FF00
	dlt645.DICurrentBlock,       // 0202FF00
	dlt645.DIActivePowerBlock,   // 0203FF00
	dlt645.DIReactivePowerTotal, // 02040000
	dlt645.DIPowerFactorTotal,   // 02060000
	dlt645.DIFrequency,          // 02800002
	dlt645.DIForwardActiveBlock, // 0001FF00
	dlt645.DIReverseActiveTotal, // 00020000
}

// benchStart is when the simulated meters start; the benchmarks read them a day later
// on a manual clock, so every cycle reads the same values.
var benchStart = time.Date(2024, 3, 11, 0, 0, 0, 0, metersim.ChinaStandardTime)

// envInt reads a positive integer from the environment, or returns def.
func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

func newBenchSim(b *testing.B, n int) (*metersim.Simulator, *metersim.ManualClock) {
	b.Helper()
	specs, err := metersim.GenerateMeters(n, "000000000001")
	if err != nil {
		b.Fatal(err)
	}
	clock := metersim.NewManualClock(benchStart.Add(24*time.Hour + 3*time.Hour))
	// ReplyDelay 0: the meters answer at once, so that the cycle's time is the wire's
	// and ours, not the meters'.
	sim, err := metersim.New(metersim.Options{Seed: 1, Meters: specs, Clock: clock, Start: benchStart})
	if err != nil {
		b.Fatal(err)
	}
	return sim, clock
}

// BenchmarkBusCycle reads cycleDIs from every meter of one simulated 9600 bit/s 8E1
// RS-485 bus (a pty paced at the line's speed by metersim) through serialbus, one
// exchange after the other, and compares the cycle's time with the wire time of its
// frames: requests with their FE FE FE FE wake-up preamble, replies without (the
// simulated meters send none), bytes × 11 bits / 9600 bit/s, no reply delay (the
// meters answer at once), no inter-frame gap. The sub-benchmarks differ in the gap the
// client leaves before each request: none, and the 3.5 characters (4.01 ms) of Modbus
// RTU's t3.5, the least a bus shared with Modbus needs.
//
// GRIDMETER_BUS_METERS sets the number of meters (default 255, one cycle ≈ 100 s);
// fewer give the same ratio sooner.
func BenchmarkBusCycle(b *testing.B) {
	n := envInt(b, "GRIDMETER_BUS_METERS", 255)
	line := serialbus.Settings{Baud: 9600} // 8E1
	for _, gap := range []struct {
		name string
		d    time.Duration
	}{{"gap=0", 0}, {"gap=t3.5", line.ModbusGap()}} {
		b.Run(fmt.Sprintf("meters=%d/%s", n, gap.name), func(b *testing.B) {
			benchBusCycle(b, n, line, gap.d)
		})
	}
}

func benchBusCycle(b *testing.B, n int, line serialbus.Settings, gap time.Duration) {
	sim, clock := newBenchSim(b, n)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path, err := sim.ServeDLT645PTY(ctx, metersim.PTYOptions{Line: line})
	if err != nil {
		b.Fatal(err)
	}
	port, err := serialbus.Open(path, serialbus.Options{Settings: line, Gap: gap})
	if err != nil {
		b.Fatal(err)
	}
	defer port.Close()
	c := dlt645.NewClient(port, dlt645.Options{Preamble: true, Timeout: time.Second})

	// The theory: the frames of one cycle, encoded as the client and the meters do.
	var reqBytes, replyBytes int
	for _, m := range sim.Meters() {
		for _, di := range cycleDIs {
			req, err := dlt645.NewReadRequest(m.Address(), di).EncodeWithPreamble()
			if err != nil {
				b.Fatal(err)
			}
			value, err := m.ReadDLT645(clock.Now(), di)
			if err != nil {
				b.Fatal(err)
			}
			reply, err := dlt645.NewReadReply(m.Address(), di, value, false).Encode()
			if err != nil {
				b.Fatal(err)
			}
			reqBytes += len(req)
			replyBytes += len(reply)
		}
	}
	frames := line.WireTime(reqBytes + replyBytes)
	gaps := time.Duration(n*len(cycleDIs)) * gap

	// The client's first request listens 50 ms for stale bytes: not part of a cycle.
	if _, err := c.ReadValues(ctx, sim.Meters()[0].Address(), dlt645.DIFrequency); err != nil {
		b.Fatal(err)
	}
	meters := sim.Meters()
	for b.Loop() {
		for _, m := range meters {
			for _, di := range cycleDIs {
				if _, err := c.ReadValues(ctx, m.Address(), di); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	cycle := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(cycle.Seconds(), "s/cycle")
	b.ReportMetric(frames.Seconds(), "wire-s/cycle")
	b.ReportMetric(cycle.Seconds()/frames.Seconds(), "cycle/wire")
	b.ReportMetric(cycle.Seconds()/(frames+gaps).Seconds(), "cycle/(wire+gaps)")
	b.ReportMetric(float64(reqBytes+replyBytes)/float64(n), "bytes/meter")
}

// BenchmarkTCPReads reads meters over loopback TCP from one process, as a terminal reads
// several gateways: conns connections to the simulator (metersim.ServeDLT645, reply delay
// 0), one dlt645.Client each, all reading at once. A read is one ReadValues of one
// identifier; each connection walks its share of 255 meters through cycleDIs, so the
// reads are the mix of a cycle. Client and simulator share the process (and its two
// cores, here), so allocs/op and B/op count both ends of a read.
func BenchmarkTCPReads(b *testing.B) {
	for _, conns := range []int{1, 8, 32, 128} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			benchTCPReads(b, 255, conns)
		})
	}
}

func benchTCPReads(b *testing.B, n, conns int) {
	sim, _ := newBenchSim(b, n)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := serveTCP(b, ctx, sim)
	clients := make([]*dlt645.Client, conns)
	for i := range clients {
		c, err := dlt645.DialTCP(ctx, addr, dlt645.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
	}
	// A client's first request listens 50 ms for stale bytes: not part of the figure.
	meters := sim.Meters()
	var wg sync.WaitGroup
	errc := make(chan error, conns)
	for _, c := range clients {
		wg.Go(func() {
			if _, err := c.ReadValues(ctx, meters[0].Address(), dlt645.DIFrequency); err != nil {
				errc <- err
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errc:
		b.Fatal(err)
	default:
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	for k, c := range clients {
		wg.Go(func() {
			for i := 0; next.Add(1) <= int64(b.N); i++ {
				m := meters[(k+conns*(i/len(cycleDIs)))%n]
				if _, err := c.ReadValues(ctx, m.Address(), cycleDIs[i%len(cycleDIs)]); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errc)
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}

// serveTCP serves sim on a loopback listener until ctx is done.
func serveTCP(b *testing.B, ctx context.Context, sim *metersim.Simulator) string {
	b.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := sim.ServeDLT645(ctx, ln); err != nil {
			b.Error(err)
		}
	}()
	b.Cleanup(func() { <-done })
	return ln.Addr().String()
}
