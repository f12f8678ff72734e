package terminal

import (
	"context"
	"errors"
	"maps"
	"net"
	"strings"
	"testing"
	"time"

	"gridmeter/internal/acquisition"
	"gridmeter/internal/config"
	"gridmeter/internal/dlt645"
	"gridmeter/internal/metersim"
)

// TestDLTBusReadsMeterMemory reads a simulated meter's settlements, load profile and
// status words through the bus adapter over TCP, and compares with the model.
func TestDLTBusReadsMeterMemory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cst := metersim.ChinaStandardTime
	clock := metersim.NewManualClock(time.Date(2024, 3, 31, 12, 0, 0, 0, cst))
	const addr = "000000000001"
	sim, err := metersim.New(metersim.Options{Seed: 5, Clock: clock, Start: time.Date(2024, 2, 20, 0, 0, 0, 0, cst),
		Meters: []metersim.MeterSpec{{Address: addr, Customer: metersim.Commercial}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { sim.ServeDLT645(ctx, ln); close(served) }()
	defer func() { cancel(); <-served }()
	b, err := newDLTBus(BusConfig{Name: "bus1", DLT645TCP: ln.Addr().String(), ResponseTimeout: config.Duration(500 * time.Millisecond)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	m := sim.Meters()[0]

	// 20 s after the meter's clock passed 1 April 00:00, its settlement may still be moving
	// its records: not read.
	off := m.Clock(clock.Now()).Sub(clock.Now())
	clock.Set(time.Date(2024, 4, 1, 0, 0, 20, 0, cst).Add(-off))
	_, _, err = b.ReadSettlement(ctx, addr, 1)
	if err == nil || !strings.Contains(err.Error(), "under way") || !strings.Contains(err.Error(), "meter "+addr) ||
		errors.Is(err, acquisition.ErrNoRecord) {
		t.Fatalf("settlement read during the settlement: %v", err)
	}
	b.mu.Lock()
	kept := b.client != nil
	b.mu.Unlock()
	if !kept {
		t.Fatal("the gateway connection was dropped for a meter's settlement under way")
	}

	clock.Set(time.Date(2024, 4, 2, 9, 7, 0, 0, cst))
	now := clock.Now()
	for n := 1; n <= 2; n++ {
		at, vals, err := b.ReadSettlement(ctx, addr, n)
		want, _ := m.Settlement(now, n)
		if err != nil || !at.Equal(want.Time) || at.Location() != time.UTC {
			t.Fatalf("settlement %d at %v, %v; the meter's of %v", n, at, err, want.Time)
		}
		if vals["e_imp"] != want.Forward[0] || vals["e_imp_t4"] != want.Forward[4] || vals["e_exp"] != want.Reverse[0] {
			t.Fatalf("settlement %d values %v; the meter's %+v", n, vals, want)
		}
	}
	if at, _, _ := b.ReadSettlement(ctx, addr, 1); !at.Equal(time.Date(2024, 4, 1, 0, 0, 0, 0, cst)) {
		t.Fatalf("latest settlement at %v, want 1 April 00:00 CST", at)
	}
	if _, _, err := b.ReadSettlement(ctx, addr, 3); !errors.Is(err, acquisition.ErrNoRecord) || !strings.Contains(err.Error(), "bus bus1") {
		t.Fatalf("settlement beyond the meter's: %v, want acquisition.ErrNoRecord naming the bus", err)
	}

	all := m.LoadProfile(now)
	from := all[len(all)-8].Time.UTC()
	recs, err := b.ReadLoadProfile(ctx, addr, from, 10)
	if err != nil || len(recs) != 8 {
		t.Fatalf("load profile from %v: %d records, %v; want the latest 8", from, len(recs), err)
	}
	for i, r := range recs {
		want := all[len(all)-8+i]
		if !r.Time.Equal(want.Time) || !maps.Equal(r.Values, want.Values()) {
			t.Fatalf("load record %d: %v %v; the meter's %v %v", i, r.Time, r.Values, want.Time, want.Values())
		}
	}
	if _, err := b.ReadLoadProfile(ctx, addr, now.Add(time.Hour), 4); !errors.Is(err, acquisition.ErrNoRecord) {
		t.Fatalf("load profile from the future: %v, want acquisition.ErrNoRecord", err)
	}

	st, err := b.ReadStatus(ctx, addr)
	s := m.Sample(now)
	if err != nil || !maps.Equal(st, map[string]int64{"status1": s.Status1, "status3": s.Status3}) {
		t.Fatalf("status words %v, %v; the meter's %d, %d", st, err, s.Status1, s.Status3)
	}
	if _, err := b.ReadStatus(ctx, "000000000009"); !errors.Is(err, dlt645.ErrTimeout) || !strings.Contains(err.Error(), "000000000009") {
		t.Fatalf("status of a meter not on the bus: %v", err)
	}
}
