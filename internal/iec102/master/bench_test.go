package master_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"gridmeter/internal/iec102/master"
	"gridmeter/internal/iec102/outstation"
	"gridmeter/internal/iec102/outstation/outstationtest"
	"gridmeter/internal/meterdata"
)

// BenchmarkSessions1000 runs one master against 1,000 outstations, each the real
// outstation package on its own loopback listener with an in-memory journal: per
// iteration one full session with every outstation (status of link, reset, C_AC_NA_2,
// current totals, C_FS_NA_2, storing the reading), at most Concurrency at once. It
// reports the wall time of the 1,000 sessions and the time per session.
//
// File descriptors: 1,000 listening sockets plus two per session running (master and
// outstation ends on the same process): about 1,000 + 2 × Concurrency.
func BenchmarkSessions1000(b *testing.B) {
	const n = 1000
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		b.Logf("RLIMIT_NOFILE soft %d, hard %d", lim.Cur, lim.Max)
	}
	now := time.Now().Truncate(15 * time.Minute)
	targets := make([]master.Target, n)
	for i := range n {
		m := meterdata.MeterID(fmt.Sprintf("T%04d.bus1.1", i))
		_, addr := outstationtest.Start(b, outstation.Config{LinkAddress: 1,
			Points: []outstation.Point{{Address: 1, Password: 1, Meter: m}}, Logger: quiet},
			outstationtest.NewMemorySource(instants(m, now, 1)...))
		targets[i] = master.Target{Name: fmt.Sprintf("T%04d", i), Addr: addr, LinkAddress: 1,
			Points: []master.Point{{Address: 1, Password: 1, Meter: m}}, Reads: master.ReadCurrent}
	}
	for _, conc := range []int{16, 64, 256} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			st := newMemStore()
			p, err := master.NewPoller(st, targets, master.Options{Concurrency: conc, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			var wall time.Duration
			for b.Loop() {
				start := time.Now()
				results := p.PollAll(context.Background())
				wall += time.Since(start)
				for _, r := range results {
					if r.Err != nil || r.Readings != 1 {
						b.Fatalf("%s: %d readings, %v", r.Target, r.Readings, r.Err)
					}
				}
			}
			b.ReportMetric(wall.Seconds()/float64(b.N), "s/1000sessions")
			b.ReportMetric(float64(wall.Nanoseconds())/float64(b.N*n), "ns/session")
		})
	}
}

// BenchmarkSessionPipe is one session over net.Pipe, without sockets: the cost of the
// protocol work of both sides (frames, ASDUs, link state, journal queries, store call).
func BenchmarkSessionPipe(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := newPipeNet()
	// MaxConns: sessions follow each other faster than the scheduler runs the outstation
	// goroutines that see the previous pipes closed (the master and the new session's
	// outstation goroutine hand the processor to each other); they finish a little later.
	srv, err := outstation.New(outstation.Config{LinkAddress: 1, Points: []outstation.Point{{Address: 1, Password: 1, Meter: meter1}},
		AllowedMasters: outstationtest.Loopback, MaxConns: 1 << 20, Logger: quiet}, outstationtest.NewMemorySource(instants(meter1, time.Now().Truncate(time.Hour), 1)...))
	if err != nil {
		b.Fatal(err)
	}
	n.serve(ctx, "pipe:1", srv, nil)
	p, _ := master.NewPoller(newMemStore(), nil, master.Options{Dial: n.Dial, Logger: quiet})
	target := master.Target{Name: "pipe", Addr: "pipe:1", LinkAddress: 1, Points: []master.Point{{Address: 1, Password: 1, Meter: meter1}}, Reads: master.ReadCurrent}
	b.ReportAllocs()
	for b.Loop() {
		if res, err := p.PollOnce(ctx, target); err != nil || res.Readings != 1 {
			b.Fatalf("%d readings, %v; outstation %+v", res.Readings, err, srv.Stats())
		}
	}
}
