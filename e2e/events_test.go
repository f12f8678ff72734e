package e2e

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"gridmeter/internal/config"
	"gridmeter/internal/iec102"
	"gridmeter/internal/iec102/master"
	"gridmeter/internal/metersim"
	"gridmeter/internal/terminal"
)

// TestOutstationServesEvents: the terminal journals a meter's own power-down records and
// its loss of a silent meter, and an IEC 102 master reads both event logs (REE record
// addresses 52 supply, 129 communications) from the terminal's outstation.
func TestOutstationServesEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	now := time.Now()
	specs, _ := metersim.GenerateMeters(1, "000000006001")
	sim, err := metersim.New(metersim.Options{Seed: 4, Meters: specs, Start: now.Add(-48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	outStart, outEnd := now.Add(-30*time.Hour).Truncate(time.Second), now.Add(-29*time.Hour).Truncate(time.Second)
	if err := sim.Meters()[0].AddOutage(metersim.Outage{Start: outStart, End: outEnd}); err != nil {
		t.Fatal(err)
	}
	simLn, _ := net.Listen("tcp", "127.0.0.1:0")
	go sim.ServeDLT645(ctx, simLn)
	ocLn, _ := net.Listen("tcp", "127.0.0.1:0")
	ocAddr := ocLn.Addr().String()
	ocLn.Close()

	cfg := terminal.Defaults()
	cfg.ID, cfg.JournalPath = "V1", filepath.Join(t.TempDir(), "V1.journal")
	cfg.MQTT = terminal.MQTTConfig{URL: "mqtt://127.0.0.1:1", Password: "x"} // no broker needed here
	cfg.Acquisition.InstantInterval = config.Duration(time.Second)
	cfg.Buses = []terminal.BusConfig{{Name: "bus1", DLT645TCP: simLn.Addr().String(), ResponseTimeout: config.Duration(300 * time.Millisecond),
		Meters: []terminal.MeterConfig{{Address: "000000006001"}, {Address: "000000006099"}}}} // 6099 never answers
	cfg.IEC102 = &terminal.IEC102Config{Listen: ocAddr, LinkAddress: 1, AllowedMasters: []string{"127.0.0.1/32"},
		Points: []terminal.IEC102Point{{Address: 1, Password: "1", Meter: "bus1.000000006001"}, {Address: 2, Password: "1", Meter: "bus1.000000006099"}}}
	term, err := terminal.New(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	tctx, tcancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { term.Run(tctx); close(done) }()
	defer func() { tcancel(); <-done }()

	read := func(point uint16, rad iec102.RecordAddress) iec102.SinglePoints {
		c, err := master.Dial(ctx, ocAddr, 1, master.ClientOptions{Timeout: 2 * time.Second})
		if err != nil {
			return nil
		}
		defer c.Close()
		if c.StartLink(ctx) != nil || c.Authenticate(ctx, point, 1) != nil {
			return nil
		}
		sp, err := c.ReadEvents(ctx, point, rad, now.Add(-72*time.Hour), now.Add(time.Hour))
		if err != nil {
			return nil
		}
		c.EndSession(ctx, point)
		return sp
	}
	var supply, comms iec102.SinglePoints
	waitUntil(t, ctx, 30*time.Second, "both event logs over IEC 102", func() bool {
		supply, comms = read(1, 52), read(2, 129)
		return len(supply) >= 2 && len(comms) >= 1
	})
	if !supply[0].Value || supply[1].Value || supply[0].Code != 1 {
		t.Fatalf("supply events %+v: want power lost (on) then restored (off), code 1", supply)
	}
	// The record is in the meter's own clock, which the simulator starts up to 30 s off
	// (as real meters drift until a time sync).
	if got, _ := supply[0].Time.Time(time.UTC); got.Sub(outStart).Abs() > 30*time.Second {
		t.Errorf("power lost at %s, the outage began at %s", got, outStart)
	}
	if !comms[0].Value || comms[0].Code != 1 {
		t.Fatalf("communications events %+v: want the silent meter's loss (on), code 1", comms)
	}
}
