package terminal

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gridmeter/internal/config"
	"gridmeter/internal/journal"
	"gridmeter/internal/message"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/metersim"
)

func findCheck(cs []message.Check, name string) (message.Check, bool) {
	for _, c := range cs {
		if c.Name == name {
			return c, true
		}
	}
	return message.Check{}, false
}

// TestSelfCheckDegradesInsteadOfStopping: a corrupt journal is moved aside and a new one
// started; a silent meter is reported faulty while the bus and the other meter work on.
func TestSelfCheckDegradesInsteadOfStopping(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	path := filepath.Join(dir, "T1.journal")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a journal ", 512)), 0o600); err != nil {
		t.Fatal(err)
	}
	specs, _ := metersim.GenerateMeters(1, "000000000001")
	sim, err := metersim.New(metersim.Options{Seed: 1, Meters: specs})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go sim.ServeDLT645(ctx, ln)

	cfg := Defaults()
	cfg.ID, cfg.JournalPath = "T1", path
	cfg.MQTT = MQTTConfig{URL: "mqtt://127.0.0.1:1", Password: "x"} // no broker: the terminal runs on
	cfg.Acquisition.InstantInterval = config.Duration(time.Second)
	cfg.Buses = []BusConfig{{Name: "bus1", DLT645TCP: ln.Addr().String(), ResponseTimeout: config.Duration(300 * time.Millisecond),
		Meters: []MeterConfig{{Address: "000000000001"}, {Address: "000000000002"}}}} // 2 does not exist
	term, err := New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("a corrupt journal stopped the terminal: %v", err)
	}
	tctx, tcancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { term.Run(tctx); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for term.Checks() == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cs := term.Checks()
	// Acquisition goes on meanwhile: the working meter's readings reach the new journal.
	for time.Now().Before(deadline) {
		if _, have, _ := term.Journal().LastTime(ctx, "T1.bus1.000000000001", meterdata.KindInstant); have {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, have, _ := term.Journal().LastTime(ctx, "T1.bus1.000000000001", meterdata.KindInstant)
	tcancel()
	<-done
	if !have {
		t.Fatal("no reading journaled while degraded")
	}

	if c, ok := findCheck(cs, "journal"); !ok || c.OK || !strings.Contains(c.Detail, "corrupt journal moved to") {
		t.Fatalf("journal check %+v", c)
	}
	moved, _ := filepath.Glob(path + ".corrupt-*")
	if len(moved) == 0 {
		t.Fatal("the corrupt journal was not kept aside")
	}
	if c, _ := findCheck(cs, "clock"); !c.OK {
		t.Fatalf("clock check %+v", c)
	}
	if c, _ := findCheck(cs, "bus bus1"); !c.OK || c.Detail != "1 of 2 meters answered" {
		t.Fatalf("bus check %+v", c)
	}
	if c, _ := findCheck(cs, "meter T1.bus1.000000000001"); !c.OK || !strings.Contains(c.Detail, "meter clock drift") {
		t.Fatalf("meter 1 check %+v", c)
	}
	if c, _ := findCheck(cs, "meter T1.bus1.000000000002"); c.OK || !strings.Contains(c.Detail, "faulty") {
		t.Fatalf("meter 2 check %+v", c)
	}
}

func TestClockCheck(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	// The journal's newest entry was appended an hour "later" than now: the clock went back.
	j, err := journal.Open(ctx, filepath.Join(t.TempDir(), "j"), journal.Options{Now: func() time.Time { return now.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if c := checkClock(ctx, j, now); !c.OK {
		t.Fatalf("empty journal: %+v", c)
	}
	if _, _, err := j.Append(ctx, []meterdata.Reading{{Meter: "T1.b.1", Kind: meterdata.KindInstant, Time: now, Values: map[string]int64{"p": 1}}}); err != nil {
		t.Fatal(err)
	}
	if c := checkClock(ctx, j, now); c.OK || !strings.Contains(c.Detail, "behind the journal's newest entry") {
		t.Fatalf("clock set back: %+v", c)
	}
	if c := checkClock(ctx, j, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)); c.OK || !strings.Contains(c.Detail, "not set") {
		t.Fatalf("unset clock: %+v", c)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	specs, _ := metersim.GenerateMeters(1, "000000000001")
	sim, _ := metersim.New(metersim.Options{Seed: 1, Meters: specs})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go sim.ServeDLT645(ctx, ln)
	cfg := Defaults()
	cfg.ID, cfg.JournalPath, cfg.MetricsListen = "T1", filepath.Join(t.TempDir(), "j"), "127.0.0.1:0"
	cfg.MQTT = MQTTConfig{URL: "mqtt://127.0.0.1:1", Password: "x"}
	cfg.Acquisition.InstantInterval = config.Duration(time.Second)
	cfg.Buses = []BusConfig{{Name: "bus1", DLT645TCP: ln.Addr().String(), Meters: []MeterConfig{{Address: "000000000001"}}}}
	term, err := New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	tctx, tcancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { term.Run(tctx); close(done) }()
	defer func() { tcancel(); <-done }()
	var body string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if addr := term.MetricsAddr(); addr != "" {
			if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				body = string(b)
				if strings.Contains(body, "gridmeter_terminal_reads_total 1") || strings.Contains(body, "gridmeter_terminal_reads_total 2") {
					break
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{
		"gridmeter_terminal_queue_depth ", "gridmeter_terminal_journal_bytes ", "gridmeter_terminal_overruns_total 0",
		`gridmeter_terminal_meter_last_good_read_timestamp_seconds{meter="T1.bus1.000000000001"}`,
		`gridmeter_terminal_meter_failures_total{meter="T1.bus1.000000000001"} 0`, "gridmeter_terminal_mqtt_connected 0",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

// TestSerialBus: the terminal owns an RS-485 port (here the simulator's pseudo-terminal with
// 9600 8E1 timing) and reads its meters through it.
func TestSerialBus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	specs, _ := metersim.GenerateMeters(2, "000000000001")
	sim, _ := metersim.New(metersim.Options{Seed: 1, Meters: specs})
	dev, err := sim.ServeDLT645PTY(ctx, metersim.PTYOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Defaults()
	cfg.ID, cfg.JournalPath = "T1", filepath.Join(t.TempDir(), "j")
	cfg.MQTT = MQTTConfig{URL: "mqtt://127.0.0.1:1", Password: "x"}
	cfg.Acquisition.InstantInterval = config.Duration(2 * time.Second)
	cfg.Buses = []BusConfig{{Name: "rs485", DLT645Serial: &SerialConfig{Device: dev, Baud: 9600},
		Meters: []MeterConfig{{Address: "000000000001"}, {Address: "000000000002"}}}}
	term, err := New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	tctx, tcancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { term.Run(tctx); close(done) }()
	defer func() { tcancel(); <-done }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_, h1, _ := term.Journal().LastTime(ctx, "T1.rs485.000000000001", meterdata.KindInstant)
		_, h2, _ := term.Journal().LastTime(ctx, "T1.rs485.000000000002", meterdata.KindInstant)
		if h1 && h2 {
			e, _, _ := term.Journal().Latest(ctx, "T1.rs485.000000000002", meterdata.KindInstant, time.Now().Add(time.Hour))
			if e.Reading.Values["u_a"] < 180000 || len(e.Reading.Values) < 15 {
				t.Fatalf("reading over the serial line %v", e.Reading.Values)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no readings over the serial bus %s", dev)
}
