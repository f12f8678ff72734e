package terminal

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"gridmeter/internal/dlt645"
)

// relayChecks is how often, and how far apart, the relay's state is read back after a
// control command: a meter switches its contacts within a second or two.
const (
	relayChecks     = 5
	relayCheckPause = 500 * time.Millisecond
)

// Relay opens or closes a meter's relay (control 1CH: trip, or direct close) and reads run
// status word 3 back until it shows the relay in the wanted state. It returns the last
// status word read; an error if the meter refused the command or the relay did not move.
func (b *dltBus) Relay(ctx context.Context, address string, open bool, validUntil time.Time) (int64, error) {
	action := dlt645.ActionClose
	if open {
		action = dlt645.ActionTrip
	}
	var status dlt645.StatusWord3
	err := b.withClient(ctx, address, func(c *dlt645.Client, addr dlt645.Address) error {
		if err := c.Control(ctx, addr, b.security(), dlt645.ControlCommand{Action: action, ValidUntil: validUntil.In(b.loc)}); err != nil {
			return err
		}
		for i := 0; i < relayChecks; i++ {
			s, err := c.ReadStatusWord3(ctx, addr)
			if err != nil {
				return fmt.Errorf("relay state read-back: %w", err)
			}
			status = s
			if s.RelayOpen() == open {
				return nil
			}
			select {
			case <-time.After(relayCheckPause):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		want := "closed"
		if open {
			want = "open"
		}
		return fmt.Errorf("meter %s accepted %s but status word 3 (%04X) does not show the relay %s", addr, action, uint16(status), want)
	})
	return int64(status), err
}

// TimeSync sets the clocks of the bus's meters to now with a broadcast time sync (08H) and
// reads the given meter's clock before and after: it returns the drift before, and an
// error if the meter's clock is still off by more than 2 s after.
func (b *dltBus) TimeSync(ctx context.Context, address string) (driftBefore time.Duration, err error) {
	err = b.withClient(ctx, address, func(c *dlt645.Client, addr dlt645.Address) error {
		before, err := c.ReadClock(ctx, addr, b.loc)
		if err != nil {
			return fmt.Errorf("clock before: %w", err)
		}
		driftBefore = before.Sub(time.Now())
		if err := c.BroadcastTimeSync(ctx, time.Now().In(b.loc)); err != nil {
			return err
		}
		after, err := c.ReadClock(ctx, addr, b.loc)
		if err != nil {
			return fmt.Errorf("clock after: %w", err)
		}
		if d := after.Sub(time.Now()); d > 2*time.Second || d < -2*time.Second {
			return fmt.Errorf("meter %s: clock still off by %s after the broadcast time sync (meters may refuse large corrections)", addr, d.Round(time.Second))
		}
		return nil
	})
	return driftBefore, err
}

// Freeze makes the meter freeze its registers now (16H with 99999999).
func (b *dltBus) Freeze(ctx context.Context, address string) error {
	return b.withClient(ctx, address, func(c *dlt645.Client, addr dlt645.Address) error {
		return c.Freeze(ctx, addr, dlt645.InstantFreeze)
	})
}

// SetParam writes one of the meter parameters a set_param command may change.
func (b *dltBus) SetParam(ctx context.Context, address, name, value string) error {
	switch name {
	case "settlement_day":
		d, err := parseSettlementDay(value)
		if err != nil {
			return err
		}
		return b.withClient(ctx, address, func(c *dlt645.Client, addr dlt645.Address) error {
			if err := c.WriteSettlementDay(ctx, addr, b.credentials(), d); err != nil {
				return err
			}
			got, err := c.ReadSettlementDay(ctx, addr)
			if err != nil {
				return fmt.Errorf("read-back: %w", err)
			}
			if got != d {
				return fmt.Errorf("meter %s: settlement day reads back %02d%02d, wrote %s", addr, got.Day, got.Hour, value)
			}
			return nil
		})
	}
	return fmt.Errorf("parameter %q: not supported", name)
}

// parseSettlementDay parses DDhh.
func parseSettlementDay(v string) (dlt645.SettlementDay, error) {
	if len(v) != 4 {
		return dlt645.SettlementDay{}, fmt.Errorf("settlement_day %q: want DDhh, e.g. 0100", v)
	}
	dd, err1 := strconv.Atoi(v[:2])
	hh, err2 := strconv.Atoi(v[2:])
	d := dlt645.SettlementDay{Day: dd, Hour: hh}
	if err1 != nil || err2 != nil || d.Validate() != nil {
		return dlt645.SettlementDay{}, fmt.Errorf("settlement_day %q: want DDhh with day 01-28 and hour 00-23", v)
	}
	return d, nil
}

func (b *dltBus) credentials() dlt645.Credentials {
	return dlt645.Credentials{Level: 0x02, Password: b.cfg.password(), Operator: b.cfg.operator()}
}

func (b *dltBus) security() dlt645.SecurityProvider {
	return dlt645.PlainSecurity{Credentials: b.credentials()}
}
