package terminal

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net"
	"path/filepath"
	"testing"
	"time"

	"gridmeter/internal/config"
	"gridmeter/internal/journal"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/metersim"
)

// TestTerminalRecoversMissedSlots runs the terminal against simulated meters after a
// 3-hour outage of the terminal (its journal's newest instant readings are 3 hours old):
// the missed 15-minute slots are recovered from the meters' load profiles through the
// DL/T 645 bus, and the settlement values and status words are journaled too.
func TestTerminalRecoversMissedSlots(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	now := time.Now()
	clock := metersim.NewManualClock(now) // the meters stand at now
	specs, _ := metersim.GenerateMeters(2, "000000007001")
	sim, err := metersim.New(metersim.Options{Seed: 4, Meters: specs, Clock: clock, Start: now.Add(-35 * 24 * time.Hour)})
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

	const iv = 15 * time.Minute
	ids := []meterdata.MeterID{"T1.bus1.000000007001", "T1.bus1.000000007002"}
	last := now.Truncate(iv).Add(-3 * time.Hour) // the newest slot the terminal read before its outage
	path := filepath.Join(dir, "T1.journal")
	j, err := journal.Open(ctx, path, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, _, err := j.Append(ctx, []meterdata.Reading{{Meter: id, Kind: meterdata.KindInstant, Time: last, Values: map[string]int64{"u_a": 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()

	cfg := Defaults()
	cfg.ID, cfg.JournalPath = "T1", path
	cfg.MQTT = MQTTConfig{URL: "mqtt://127.0.0.1:1", Password: "x"} // no broker: the terminal runs on
	cfg.Acquisition.InstantInterval = config.Duration(iv)
	cfg.Acquisition.LoadProfileDepth = config.Duration(24 * time.Hour)
	cfg.Acquisition.StatusInterval = config.Duration(iv)
	cfg.Acquisition.SettlementInterval = config.Duration(time.Hour)
	cfg.Buses = []BusConfig{{Name: "bus1", DLT645TCP: ln.Addr().String(), ResponseTimeout: config.Duration(time.Second),
		Meters: []MeterConfig{{Address: "000000007001"}, {Address: "000000007002"}}}}
	term, err := New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	tctx, tcancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { term.Run(tctx); close(done) }()
	passed := func() bool {
		for _, id := range ids {
			es, _ := term.Journal().Readings(ctx, id, meterdata.KindStatus, last, now.Add(time.Hour), 10)
			if len(es) == 0 {
				return false
			}
		}
		st := term.Stats().Acquisition
		return st.ProfileBackfilled+st.ProfileGaps >= 2*11
	}
	for !passed() && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	st := term.Stats().Acquisition
	tcancel()
	<-done

	j, err = journal.Open(context.Background(), path, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for i, m := range sim.Meters() {
		kept := map[int64]map[string]int64{}
		for _, r := range m.LoadProfile(clock.Now()) {
			kept[r.Time.UnixMilli()] = r.Values()
		}
		es, err := j.Readings(context.Background(), ids[i], meterdata.KindInstant, last.Add(iv), last.Add(3*time.Hour), 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) < 10 {
			t.Fatalf("meter %s: %d of the 11 missed slots recovered", ids[i], len(es))
		}
		for _, e := range es {
			want, ok := kept[e.Reading.Time.UnixMilli()]
			if !ok || !maps.Equal(e.Reading.Values, want) || e.Reading.Quality != meterdata.QualityBackfilled {
				t.Fatalf("meter %s slot %s: %v %v, the meter's record %v", ids[i], e.Reading.Time, e.Reading.Values, e.Reading.Quality.Strings(), want)
			}
		}
		set, err := j.Readings(context.Background(), ids[i], meterdata.KindMonthly, now.AddDate(-1, 0, 0), now, 10)
		want, _ := m.Settlement(clock.Now(), 1)
		if err != nil || len(set) != 1 || !set[0].Reading.Time.Equal(want.Time) || set[0].Reading.Values["e_imp"] != want.Forward[0] {
			t.Fatalf("meter %s: settlements %+v, %v; the meter's latest %+v", ids[i], set, err, want)
		}
	}
	if st.ProfileBackfilled < 20 || st.Statuses < 2 || st.Settlements != 2 {
		t.Fatalf("stats %+v", st)
	}
}
