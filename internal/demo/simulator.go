package demo

import (
	"context"
	"fmt"
	"net"
	"time"

	"gridmeter/internal/metersim"
	"gridmeter/internal/modbusmap"
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
	if d.opt.ModbusMetersPerTerminal > 0 {
		// Modbus meters: another set of simulated meters behind one Modbus TCP gateway,
		// unit i+1 = meter i, read through the built-in SDM630 register map.
		specs, err := metersim.GenerateMeters(d.opt.Terminals*d.opt.ModbusMetersPerTerminal, "000000009001")
		if err != nil {
			cancel()
			return fmt.Errorf("demo: modbus simulator: %w", err)
		}
		msim, err := metersim.New(metersim.Options{Seed: d.opt.Seed + 1, Meters: specs, Start: d.Credentials.SimEpoch})
		if err != nil {
			cancel()
			return fmt.Errorf("demo: modbus simulator: %w", err)
		}
		for _, m := range msim.Meters() {
			m.Sample(now)
		}
		addr, err := msim.ServeModbusTCP(ctx, "127.0.0.1:0", modbusmap.SDM630())
		if err != nil {
			cancel()
			return fmt.Errorf("demo: modbus simulator: %w", err)
		}
		d.ModbusAddr = addr.String()
	}
	d.simDone = make(chan struct{})
	go func() {
		defer close(d.simDone)
		if err := sim.ServeDLT645(ctx, ln); err != nil && ctx.Err() == nil {
			d.log.Error("simulator stopped", "err", err)
		}
	}()
	return nil
}
