package demo

import (
	"context"
	"fmt"
	"net"
	"time"

	"gridmeter/internal/metersim"
)

// startSimulator serves the given meter addresses (one slice per terminal) on one loopback
// DL/T 645 TCP gateway, like a transparent serial server in front of the buses.
func (d *Demo) startSimulator(addrs [][]string) error {
	var specs []metersim.MeterSpec
	for _, as := range addrs {
		gen, err := metersim.GenerateMeters(len(as), as[0])
		if err != nil {
			return fmt.Errorf("demo: simulator: %w", err)
		}
		specs = append(specs, gen...)
	}
	sim, err := metersim.New(metersim.Options{Seed: d.opt.Seed, Meters: specs, Start: d.Credentials.SimEpoch, ReplyDelay: 5 * time.Millisecond})
	if err != nil {
		return fmt.Errorf("demo: simulator: %w", err)
	}
	// Integrate the registers up to now before serving, so the first poll is as quick as
	// every later one.
	now := time.Now()
	for _, m := range sim.Meters() {
		m.Sample(now)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: simulator: %w", err)
	}
	d.SimAddr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	d.cancelSim = cancel
	d.simDone = make(chan struct{})
	go func() {
		defer close(d.simDone)
		if err := sim.ServeDLT645(ctx, ln); err != nil && ctx.Err() == nil {
			d.log.Error("simulator stopped", "err", err)
		}
	}()
	return nil
}
