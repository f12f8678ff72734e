package terminal

import (
	"context"
	"fmt"
	"maps"
	"time"

	"gridmeter/internal/acquisition"
	"gridmeter/internal/dlt645"
)

// The DL/T 645 bus's readers of the meters' settlement values, load profile and status
// words, for the acquisition passes.
var (
	_ acquisition.SettlementReader  = (*dltBus)(nil)
	_ acquisition.LoadProfileReader = (*dltBus)(nil)
	_ acquisition.StatusReader      = (*dltBus)(nil)
)

// settleMargin is how long around its settlement instant a meter's settlement values are
// not trusted to belong to the instant computed from its clock: the meter may still be
// moving its records down when asked.
const settleMargin = time.Minute

// ReadSettlement reads the n-th previous settlement of a meter (0001FFnn, 000200nn). The
// standard keeps no time with them: the instant is computed from the meter's settlement
// day (04000B01) and clock (SettlementDay.Previous, in the bus's meter time zone) and
// returned in UTC. So the values are those of that instant, no settlement may fall
// between the clock read and the end of the value reads (the terminal's elapsed time
// added to the meter's clock reading), nor within settleMargin before: if one may, the
// values are not returned and the pass reads them again next time. A meter whose
// settlement day is not set (9999) keeps no settlement the terminal can time: that is
// acquisition.ErrNoRecord, like a position beyond the settlements it keeps.
//
// Settlements made before a change of the settlement day are timed with the new day,
// and a meter with a second or third settlement day (04000B02, 04000B03) is not
// supported: its settlements are not a month apart.
func (b *dltBus) ReadSettlement(ctx context.Context, address string, n int) (time.Time, map[string]int64, error) {
	var at, busy time.Time
	var vals map[string]int64
	err := b.withClient(ctx, address, func(c *dlt645.Client, addr dlt645.Address) error {
		day, err := c.ReadSettlementDay(ctx, addr)
		if err != nil {
			return err
		}
		start := time.Now()
		clock, err := c.ReadClock(ctx, addr, b.loc)
		if err != nil {
			return err
		}
		rec, err := c.ReadSettlement(ctx, addr, n)
		if err != nil {
			return err
		}
		if p := day.Previous(clock.Add(time.Since(start)), 1); p.After(clock.Add(-settleMargin)) {
			busy = p
			return nil
		}
		at, vals = day.Previous(clock, n), rec.Values()
		return nil
	})
	if err == nil && !busy.IsZero() {
		err = fmt.Errorf("bus %s: meter %s: settlement of %s under way while reading %s: read again later",
			b.cfg.Name, address, busy.Format(time.DateTime), dlt645.DISettlementForwardBlockN(n))
	}
	if err != nil {
		return time.Time{}, nil, err
	}
	return at.UTC(), vals, nil
}

// ReadLoadProfile reads up to count load profile records from the first at or after from
// (06000001, given-time record blocks; from is sent in the meter time zone, to the
// minute). A record the meter flags invalid (E0 E0) is returned with a zero time and no
// values.
func (b *dltBus) ReadLoadProfile(ctx context.Context, address string, from time.Time, count int) ([]acquisition.LoadRecord, error) {
	var out []acquisition.LoadRecord
	err := b.withClient(ctx, address, func(c *dlt645.Client, addr dlt645.Address) error {
		recs, err := c.ReadLoadProfile(ctx, addr, dlt645.LoadProfileRequest{Count: count, From: from.In(b.loc)}, b.loc)
		if err != nil {
			return err
		}
		out = make([]acquisition.LoadRecord, len(recs))
		for i, r := range recs {
			out[i] = acquisition.LoadRecord{Time: r.Time, Values: r.Values()}
		}
		return nil
	})
	return out, err
}

// ReadStatus reads run status words 1 (04000501) and 3 (04000503) as status1 and status3.
func (b *dltBus) ReadStatus(ctx context.Context, address string) (map[string]int64, error) {
	out := make(map[string]int64, 2)
	err := b.withClient(ctx, address, func(c *dlt645.Client, addr dlt645.Address) error {
		for _, di := range []dlt645.DI{dlt645.DIStatusWord1, dlt645.DIStatusWord3} {
			vs, err := c.ReadValues(ctx, addr, di)
			if err != nil {
				return err
			}
			maps.Copy(out, vs)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
