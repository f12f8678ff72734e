package e2e

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"gridmeter/internal/config"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/metersim"
	"gridmeter/internal/terminal"
)

// TestOutageBackfillsDailyFrozen is the power-outage scenario on the virtual clock: the
// terminal is down for 3 days while the meters keep running (and freezing at midnight);
// after its restart the daily frozen values of the 3 days are read back from the meters'
// memory, flagged backfilled, and stored in the head-end exactly as the meters froze them.
func TestOutageBackfillsDailyFrozen(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()

	// Meters on a manual clock, three days behind the wall clock (so the freezes after the
	// "outage" are in the past for everybody).
	clock := metersim.NewManualClock(time.Now().Add(-3 * 24 * time.Hour))
	specs, _ := metersim.GenerateMeters(2, "000000008001")
	sim, err := metersim.New(metersim.Options{Seed: 9, Meters: specs, Clock: clock, Start: clock.Now().Add(-10 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	simLn, _ := net.Listen("tcp", "127.0.0.1:0")
	go sim.ServeDLT645(ctx, simLn)

	h := startHeadEnd(t, ctx, dir, log, "O1", "os")
	defer h.Close()

	tcfg := terminal.Defaults()
	tcfg.ID, tcfg.JournalPath = "O1", filepath.Join(dir, "O1.journal")
	tcfg.MQTT = terminal.MQTTConfig{URL: h.MQTTURL(), Password: "os"}
	tcfg.Acquisition.InstantInterval = config.Duration(5 * time.Second)
	tcfg.Acquisition.DailyFrozenInterval = config.Duration(time.Hour) // checked at start
	tcfg.Buses = []terminal.BusConfig{{Name: "bus1", DLT645TCP: simLn.Addr().String(),
		Meters: []terminal.MeterConfig{{Address: "000000008001"}, {Address: "000000008002"}}}}
	ids := []meterdata.MeterID{"O1.bus1.000000008001", "O1.bus1.000000008002"}
	api := &client{t: t, base: "http://" + h.HTTPAddr().String() + "/", password: "admin"}
	frozen := func(id meterdata.MeterID) []readingView {
		var out struct{ Readings []readingView }
		q := url.Values{"kind": {"daily_frozen"}, "from": {time.Now().AddDate(0, 0, -10).UTC().Format(time.RFC3339)},
			"to": {time.Now().AddDate(0, 0, 1).UTC().Format(time.RFC3339)}}
		if api.try("/api/v1/meters/"+string(id)+"/readings?"+q.Encode(), &out) != 200 {
			return nil
		}
		return out.Readings
	}
	runTerminal := func(until func() bool, what string) {
		term, err := terminal.New(ctx, tcfg, log)
		if err != nil {
			t.Fatal(err)
		}
		tctx, tcancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { term.Run(tctx); close(done) }()
		waitUntil(t, ctx, 30*time.Second, what, until)
		tcancel()
		<-done
	}

	runTerminal(func() bool { return len(frozen(ids[0])) == 1 && len(frozen(ids[1])) == 1 }, "the latest freeze of each meter")
	clock.Advance(3 * 24 * time.Hour) // the terminal is down while the meters run 3 days on
	runTerminal(func() bool { return len(frozen(ids[0])) == 4 && len(frozen(ids[1])) == 4 }, "the 3 days' freezes read back after the outage")

	for i, id := range ids {
		got := frozen(id)
		m := sim.Meters()[i]
		for k, r := range got {
			n := len(got) - k // got is oldest first; the meter counts back from the latest
			rec, ok := m.DailyFrozen(clock.Now(), n)
			if !ok {
				t.Fatalf("meter %s keeps no freeze %d back", id, n)
			}
			if !r.Time.Equal(rec.Time.UTC()) {
				t.Errorf("meter %s freeze %d back stored at %s, the meter froze at %s", id, n, r.Time, rec.Time.UTC())
			}
			if !meterdata.SameValues(meterdata.Reading{Values: r.Values}, meterdata.Reading{Values: rec.Values()}) {
				t.Errorf("meter %s freeze %d back: stored %v, meter %v", id, n, r.Values, rec.Values())
			}
			if k > 0 && r.Time.Sub(got[k-1].Time) != 24*time.Hour {
				t.Errorf("meter %s: freezes %s and %s are not a day apart", id, got[k-1].Time, r.Time)
			}
			// The two days in the middle were read more than a day late; the newest one may
			// be fresh (within two check intervals of its freeze), so it is not asserted.
			if backfilled := len(r.Quality) == 1 && r.Quality[0] == "backfilled"; k > 0 && k < len(got)-1 && !backfilled {
				t.Errorf("meter %s freeze at %s recovered after the outage: quality %v, want [backfilled]", id, r.Time, r.Quality)
			}
		}
	}
}
