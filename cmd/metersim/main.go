// Command metersim simulates a bus of DL/T 645-2007 electricity meters behind a
// transparent TCP gateway, for the demo, tests and benchmarks.
//
//	metersim -listen 127.0.0.1:0 -meters 5 -first-address 000000000001 -seed 1
//	metersim -scenario scenario.example.json -speed 3600
//
// A scenario file (JSON, see metersim.Scenario and scenario.example.json) describes the
// meters, their outages and faults, the start instant and the speed; -seed and -speed
// given on the command line override the file's. Without a scenario the meters are
// generated from -meters and -first-address and start now.
//
// When ready it prints one line to stdout,
//
//	metersim: dlt645 listening on 127.0.0.1:40123 with 5 meters
//
// logs to stderr, and stops cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"gridmeter/internal/metersim"
	"gridmeter/internal/modbusmap"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "metersim:", err)
		os.Exit(1)
	}
}

// run parses args, serves until ctx is done and returns nil on a clean stop.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("metersim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "DL/T 645 TCP listen address (a transparent gateway onto one bus of all meters)")
	meters := fs.Int("meters", 5, "number of meters on the bus (without -scenario)")
	first := fs.String("first-address", "000000000001", "address of the first meter; the others follow consecutively (without -scenario)")
	seed := fs.Int64("seed", 1, "seed of the simulated load and noise")
	speed := fs.Float64("speed", 1, "simulated seconds per real second (1: real time)")
	scenario := fs.String("scenario", "", "JSON scenario file: meters, outages, faults, start and speed")
	modbusListen := fs.String("modbus-listen", "", "also serve the meters over Modbus TCP on this address (unit i+1 = meter i; empty: off)")
	modbusMap := fs.String("modbus-map", "eastron-sdm630", "Modbus register map: a built-in name or a YAML file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *speed <= 0 {
		return fmt.Errorf("-speed %v: want a positive number", *speed)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	var opts metersim.Options
	if *scenario != "" {
		if set["meters"] || set["first-address"] {
			return errors.New("-meters and -first-address do not combine with -scenario: list the meters in the file")
		}
		sc, err := loadScenario(*scenario)
		if err != nil {
			return err
		}
		if set["seed"] {
			sc.Seed = *seed
		}
		rate := sc.Speed
		if set["speed"] || rate == 0 {
			rate = *speed
		}
		start := sc.Start
		if start.IsZero() {
			start = time.Now()
		}
		opts = sc.Options(clockFor(start, rate, !sc.Start.IsZero()))
		opts.Start = start
	} else {
		specs, err := metersim.GenerateMeters(*meters, *first)
		if err != nil {
			return err
		}
		opts = metersim.Options{Seed: *seed, Meters: specs, Clock: clockFor(time.Now(), *speed, false)}
	}
	opts.Logger = log
	sim, err := metersim.New(opts)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *listen)
	if err != nil {
		return err
	}
	if *modbusListen != "" {
		m, err := modbusmap.Builtin(*modbusMap)
		if err != nil {
			if m, err = modbusmap.LoadFile(*modbusMap); err != nil {
				ln.Close()
				return fmt.Errorf("-modbus-map %q: not a built-in map %v and not loadable: %w", *modbusMap, modbusmap.BuiltinNames(), err)
			}
		}
		addr, err := sim.ServeModbusTCP(ctx, *modbusListen, m)
		if err != nil {
			ln.Close()
			return err
		}
		fmt.Fprintf(stdout, "metersim: modbus tcp listening on %s with %d meters (units 1-%d, map %s)\n", addr, len(opts.Meters), len(opts.Meters), m.Name)
	}
	fmt.Fprintf(stdout, "metersim: dlt645 listening on %s with %d meters\n", ln.Addr(), len(opts.Meters))
	err = sim.ServeDLT645(ctx, ln)
	log.Info("stopped")
	return err
}

// clockFor returns the wall clock, or a virtual one when the simulation runs faster or
// from another start.
func clockFor(start time.Time, speed float64, virtualStart bool) metersim.Clock {
	if speed == 1 && !virtualStart {
		return metersim.RealClock{}
	}
	return metersim.NewVirtualClock(start, speed)
}

func loadScenario(path string) (*metersim.Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc, err := metersim.LoadScenario(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sc, nil
}
