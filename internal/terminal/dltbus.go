package terminal

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"gridmeter/internal/acquisition"
	"gridmeter/internal/dlt645"
	"gridmeter/internal/serialbus"
)

// instantDIs are read, in this order, for one instant reading: the blocks keep the number
// of request/reply turns on a slow bus low (8 turns for 21 channels).
var instantDIs = []dlt645.DI{
	dlt645.DIVoltageBlock,
	dlt645.DICurrentBlock,
	dlt645.DIActivePowerBlock,
	dlt645.DIReactivePowerTotal,
	dlt645.DIPowerFactorTotal,
	dlt645.DIFrequency,
	dlt645.DIForwardActiveBlock,
	dlt645.DIReverseActiveTotal,
}

// dltBus is a DL/T 645 bus behind a transparent TCP gateway. It dials on first use and
// again after a transport failure; a meter that does not answer is that meter's problem
// and keeps the connection.
type dltBus struct {
	cfg BusConfig
	loc *time.Location // the meters' clock zone

	mu     sync.Mutex
	client *dlt645.Client
}

// newDLTBus prepares the bus; zones (may be nil) shares the meters' time zones between buses.
func newDLTBus(cfg BusConfig, zones map[string]*time.Location) (*dltBus, error) {
	loc, err := cfg.location(zones)
	if err != nil {
		return nil, err
	}
	return &dltBus{cfg: cfg, loc: loc}, nil
}

func (b *dltBus) conn(ctx context.Context) (*dlt645.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.client != nil {
		return b.client, nil
	}
	opts := dlt645.Options{Timeout: b.cfg.ResponseTimeout.D(), Retries: b.cfg.Retries}
	var c *dlt645.Client
	if sc := b.cfg.DLT645Serial; sc != nil {
		so, err := sc.options() // validated with the configuration
		if err != nil {
			return nil, fmt.Errorf("bus %s: %w", b.cfg.Name, err)
		}
		port, err := serialbus.Open(sc.Device, so)
		if err != nil {
			return nil, fmt.Errorf("bus %s: open %s: %w", b.cfg.Name, sc.Device, err)
		}
		opts.Preamble = true // meters asleep on RS-485 wake on FE FE FE FE
		c = dlt645.NewClient(port, opts)
	} else {
		var err error
		if c, err = dlt645.DialTCP(ctx, b.cfg.DLT645TCP, opts); err != nil {
			return nil, fmt.Errorf("bus %s: %w", b.cfg.Name, err)
		}
	}
	b.client = c
	return c, nil
}

func (b *dltBus) drop(c *dlt645.Client) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.client == c {
		b.client.Close()
		b.client = nil
	}
}

// Close closes the gateway connection.
func (b *dltBus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.client != nil {
		b.client.Close()
		b.client = nil
	}
}

// ReadInstant reads the current values of one meter.
func (b *dltBus) ReadInstant(ctx context.Context, address string) (map[string]int64, error) {
	addr, err := dlt645.ParseAddress(address)
	if err != nil {
		return nil, err
	}
	c, err := b.conn(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, 24)
	for _, di := range instantDIs {
		vs, err := c.ReadValues(ctx, addr, di)
		if err != nil {
			if !meterFault(err) && ctx.Err() == nil {
				b.drop(c) // the gateway connection itself failed: dial again next time
			}
			return nil, fmt.Errorf("bus %s: %w", b.cfg.Name, err) // err names the meter and DI
		}
		maps.Copy(out, vs)
	}
	return out, nil
}

// Probe reads the meter's clock and reports its drift against the terminal's.
func (b *dltBus) Probe(ctx context.Context, address string) (string, error) {
	addr, err := dlt645.ParseAddress(address)
	if err != nil {
		return "", err
	}
	c, err := b.conn(ctx)
	if err != nil {
		return "", err
	}
	mt, err := c.ReadClock(ctx, addr, b.loc)
	if err != nil {
		if !meterFault(err) && ctx.Err() == nil {
			b.drop(c)
		}
		return "", err
	}
	return fmt.Sprintf("answers; meter clock drift %+ds", int(mt.Sub(time.Now()).Round(time.Second)/time.Second)), nil
}

// ReadDailyFrozen reads the n-th latest daily freeze of a meter (time and energy registers).
func (b *dltBus) ReadDailyFrozen(ctx context.Context, address string, n int) (time.Time, map[string]int64, error) {
	addr, err := dlt645.ParseAddress(address)
	if err != nil {
		return time.Time{}, nil, err
	}
	c, err := b.conn(ctx)
	if err != nil {
		return time.Time{}, nil, err
	}
	rec, err := c.ReadDailyFrozen(ctx, addr, n, b.loc)
	switch {
	case errors.Is(err, dlt645.ErrNoRecord):
		return time.Time{}, nil, fmt.Errorf("bus %s: %w: %w", b.cfg.Name, acquisition.ErrNoRecord, err)
	case err != nil:
		if !meterFault(err) && ctx.Err() == nil {
			b.drop(c)
		}
		return time.Time{}, nil, fmt.Errorf("bus %s: %w", b.cfg.Name, err)
	}
	return rec.Time, rec.Values(), nil
}

// PowerDownCount reads how many power-down events the meter has recorded (03110000).
func (b *dltBus) PowerDownCount(ctx context.Context, address string) (int, error) {
	var n int
	err := b.withClient(ctx, address, func(c *dlt645.Client, addr dlt645.Address) (err error) {
		n, err = c.ReadPowerDownCount(ctx, addr)
		return err
	})
	return n, err
}

// PowerDown reads the n-th latest power-down record (031100nn): start and end.
func (b *dltBus) PowerDown(ctx context.Context, address string, n int) (start, end time.Time, err error) {
	err = b.withClient(ctx, address, func(c *dlt645.Client, addr dlt645.Address) error {
		e, err := c.ReadPowerDownEvent(ctx, addr, n, b.loc)
		start, end = e.Start, e.End
		return err
	})
	return start, end, err
}

// withClient runs f with the bus's client, mapping "no record" to acquisition.ErrNoRecord
// and dropping the connection after a transport failure.
func (b *dltBus) withClient(ctx context.Context, address string, f func(*dlt645.Client, dlt645.Address) error) error {
	addr, err := dlt645.ParseAddress(address)
	if err != nil {
		return err
	}
	c, err := b.conn(ctx)
	if err != nil {
		return err
	}
	err = f(c, addr)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, dlt645.ErrNoRecord):
		return fmt.Errorf("bus %s: %w: %w", b.cfg.Name, acquisition.ErrNoRecord, err)
	default:
		if !meterFault(err) && ctx.Err() == nil {
			b.drop(c)
		}
		return fmt.Errorf("bus %s: %w", b.cfg.Name, err)
	}
}

// meterFault reports whether err is the meter's doing (silent, refusing, garbled reply),
// which leaves the gateway connection usable, rather than the connection's.
func meterFault(err error) bool {
	for _, e := range []error{dlt645.ErrTimeout, dlt645.ErrAbnormal, dlt645.ErrFrame, dlt645.ErrData} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
