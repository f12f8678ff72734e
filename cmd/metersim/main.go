// Command metersim simulates a bus of DL/T 645-2007 electricity meters behind a
// transparent TCP gateway, for the demo, tests and benchmarks.
//
//	metersim -listen 127.0.0.1:0 -meters 5 -first-address 000000000001 -seed 1
//
// When ready it prints one line to stdout,
//
//	metersim: dlt645 listening on 127.0.0.1:40123 with 5 meters
//
// logs to stderr, and stops cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
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
	meters := fs.Int("meters", 5, "number of meters on the bus")
	first := fs.String("first-address", "000000000001", "address of the first meter; the others follow consecutively")
	seed := fs.Int64("seed", 1, "seed of the simulated load and noise")
	speed := fs.Float64("speed", 1, "simulated seconds per real second (1: real time)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	specs, err := metersim.GenerateMeters(*meters, *first)
	if err != nil {
		return err
	}
	var clock metersim.Clock = metersim.RealClock{}
	if *speed != 1 {
		clock = metersim.NewVirtualClock(time.Now(), *speed)
	}
	sim, err := metersim.New(metersim.Options{Seed: *seed, Meters: specs, Clock: clock, Logger: log})
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "metersim: dlt645 listening on %s with %d meters\n", ln.Addr(), len(specs))
	err = sim.ServeDLT645(ctx, ln)
	log.Info("stopped")
	return err
}
