package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gridmeter/internal/dlt645"
	"gridmeter/internal/modbusmap"
)

// TestRun starts the command in-process, reads the ready line, reads a meter through it
// and stops it as a signal would.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"-listen", "127.0.0.1:0", "-meters", "3", "-first-address", "000000000007", "-seed", "2"}, pw, io.Discard)
		pw.Close()
	}()

	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the ready line: %v", err)
	}
	const prefix, suffix = "metersim: dlt645 listening on ", " with 3 meters\n"
	if !strings.HasPrefix(line, prefix) || !strings.HasSuffix(line, suffix) {
		t.Fatalf("ready line %q", line)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(line, prefix), suffix)
	go io.Copy(io.Discard, pr)

	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	defer dcancel()
	c, err := dlt645.DialTCP(dctx, addr, dlt645.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := c.ReadValues(dctx, dlt645.MustParseAddress("000000000009"), dlt645.DIForwardActiveBlock)
	if err != nil {
		t.Fatal(err)
	}
	if v["e_imp"] <= 0 {
		t.Errorf("e_imp = %d", v["e_imp"])
	}

	cancel()
	if err := <-errc; err != nil {
		t.Errorf("run = %v, want nil on a clean stop", err)
	}
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-meters", "0"},
		{"-first-address", "x"},
		{"-listen", "256.0.0.1:bad"},
		{"extra"},
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) = nil", args)
		}
	}
}

// TestRunScenario runs the example scenario much faster than real time and reads a daily
// freeze and the outage record of its meter 000000000003 through the gateway.
func TestRunScenario(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"-scenario", "scenario.example.json", "-speed", "400000"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the ready line: %v", err)
	}
	const prefix, suffix = "metersim: dlt645 listening on ", " with 22 meters\n"
	if !strings.HasPrefix(line, prefix) || !strings.HasSuffix(line, suffix) {
		t.Fatalf("ready line %q", line)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(line, prefix), suffix)
	go io.Copy(io.Discard, pr)

	dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
	defer dcancel()
	c, err := dlt645.DialTCP(dctx, addr, dlt645.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cst := time.FixedZone("UTC+08:00", 8*3600)
	meter := dlt645.MustParseAddress("000000000003")
	// 400 000× is 4.6 simulated days a second: the outage of 5/6 March is soon over.
	for {
		n, err := c.ReadPowerDownCount(dctx, meter)
		if err == nil && n == 2 {
			break
		}
		if dctx.Err() != nil {
			t.Fatalf("power-down count %d, %v", n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r, err := c.ReadDailyFrozen(dctx, meter, 1, cst)
	if err != nil || r.Time.Hour() != 0 || r.Forward[0] <= 0 || len(r.Reverse) != 5 {
		t.Errorf("daily freeze %+v, %v", r, err)
	}
	e, err := c.ReadPowerDownEvent(dctx, meter, 1, cst)
	if err != nil || e.Start.Day() != 5 || e.End.Day() != 6 {
		t.Errorf("power-down %+v, %v", e, err)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("run = %v, want nil on a clean stop", err)
	}
}

func TestRunBadScenario(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"seed": 1, "meterz": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-scenario", "missing.json"},
		{"-scenario", bad},
		{"-scenario", "scenario.example.json", "-meters", "3"},
		{"-speed", "0"},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		if err == nil {
			t.Errorf("run(%q) = nil", args)
		}
		if args[1] == bad && !strings.Contains(err.Error(), "meterz") {
			t.Errorf("unknown key not named: %v", err)
		}
	}
}

// TestRunModbus serves the meters over Modbus TCP too and reads one through the SDM630 map.
func TestRunModbus(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"-meters", "2", "-modbus-listen", "127.0.0.1:0"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "metersim: modbus tcp listening on "
	if !strings.HasPrefix(line, prefix) || !strings.Contains(line, "units 1-2, map eastron-sdm630") {
		t.Fatalf("modbus ready line %q", line)
	}
	addr := strings.Fields(strings.TrimPrefix(line, prefix))[0]
	go io.Copy(io.Discard, pr)
	rd, err := modbusmap.NewReader("tcp://"+addr, modbusmap.SDM630(), modbusmap.ReaderOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	v, err := rd.ReadInstant(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if v["u_a"] < 180000 || v["e_imp"] <= 0 {
		t.Fatalf("values %v", v)
	}
	if _, err := rd.ReadInstant(ctx, 3); err == nil {
		t.Fatal("unit 3 of 2 meters answered")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("run = %v, want nil on a clean stop", err)
	}
}
