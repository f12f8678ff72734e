package metersim

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"gridmeter/internal/dlt645"
)

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestManyMeters runs three thousand meters in one process for two simulated hours and
// reads some of them over TCP: the memory per meter stays small and every read is served.
func TestManyMeters(t *testing.T) {
	const n = 3000
	specs, err := GenerateMeters(n, "100000000000")
	if err != nil {
		t.Fatal(err)
	}
	clock := NewManualClock(t0)
	before := heapInUse()
	sim, err := New(Options{Seed: 1, Meters: specs, Clock: clock, Start: t0})
	if err != nil {
		t.Fatal(err)
	}
	at := t0.Add(2 * time.Hour)
	for _, m := range sim.Meters() {
		m.Sample(at)
	}
	perMeter := (heapInUse() - before) / n
	t.Logf("%d meters, 2 h in: %d bytes per meter", n, perMeter)
	if perMeter > 8<<10 {
		t.Errorf("%d bytes per meter", perMeter)
	}

	clock.Set(at)
	ctx := context.Background()
	c := dial(t, serveSim(t, sim), dlt645.Options{})
	for i := 0; i < n; i += n / 50 {
		m := sim.Meters()[i]
		got, err := c.ReadValues(ctx, m.Address(), dlt645.DIForwardActiveBlock)
		if err != nil || got["e_imp"] != m.Sample(at).EImp {
			t.Fatalf("%s: %v, %v", m.Address(), got, err)
		}
		if recs, err := c.ReadLoadProfile(ctx, m.Address(), dlt645.LoadProfileRequest{Count: 4, From: at.Add(-time.Hour)}, ChinaStandardTime); err != nil || len(recs) != 4 {
			t.Fatalf("%s: load profile %d, %v", m.Address(), len(recs), err)
		}
	}
	runtime.KeepAlive(sim)
}

// BenchmarkAdvanceDay measures the model's clockwork: one simulated day of one meter
// (8640 steps, 96 load profile records, a daily freeze) per op.
func BenchmarkAdvanceDay(b *testing.B) {
	m, err := NewMeter(testSpecs[1], 1, t0, nil)
	if err != nil {
		b.Fatal(err)
	}
	at := t0
	b.ReportAllocs()
	for b.Loop() {
		at = at.Add(24 * time.Hour)
		m.Sample(at)
	}
}

// BenchmarkMeterMemoryFull reports the memory of a meter whose memory is full: 62 daily
// freezes, 12 settlements, 3 days of load profile, 10 power-downs (70 days run).
func BenchmarkMeterMemoryFull(b *testing.B) {
	const n = 20
	for b.Loop() {
		before := heapInUse()
		meters := make([]*Meter, n)
		for i := range meters {
			spec := MeterSpec{Address: fmt.Sprintf("%012d", i+1), Customer: CustomerType(i % 3)}
			for d := range 12 {
				start := t0.Add(time.Duration(d*5*24+3) * time.Hour)
				spec.Outages = append(spec.Outages, Outage{Start: start, End: start.Add(time.Hour)})
			}
			m, err := NewMeter(spec, 1, t0, nil)
			if err != nil {
				b.Fatal(err)
			}
			m.Sample(t0.AddDate(0, 0, 400))
			meters[i] = m
		}
		b.ReportMetric(float64(heapInUse()-before)/n, "bytes/meter")
		runtime.KeepAlive(meters)
	}
}

// BenchmarkServeManyMeters serves reads of random meters of a bus of five thousand, a
// day into their lives, over loopback TCP.
func BenchmarkServeManyMeters(b *testing.B) {
	const n = 5000
	specs, _ := GenerateMeters(n, "100000000000")
	clock := NewManualClock(t0.Add(24 * time.Hour))
	before := heapInUse()
	sim, err := New(Options{Seed: 1, Meters: specs, Clock: clock, Start: t0})
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range sim.Meters() {
		m.Sample(clock.Now())
	}
	perMeter := float64(heapInUse()-before) / n
	ctx := context.Background()
	c, err := dlt645.DialTCP(ctx, serveSim(b, sim), dlt645.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	meters := sim.Meters()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i = (i + 7919) % n
		if _, err := c.ReadValues(ctx, meters[i].Address(), dlt645.DIForwardActiveBlock); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(perMeter, "bytes/meter")
}
