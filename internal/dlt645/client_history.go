package dlt645

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
)

// Client methods for the meter's memory and typed values. Every error names the meter
// and what was read; an abnormal reply "no data requested" (02H) to a history identifier
// also matches ErrNoRecord, as the meter has no record at that position.

// ReadRaw reads an identifier of an integer format from the catalogue and returns every
// value in units of the format's last digit, including those meterdata has no channel
// for: the reverse rates of 0002FF00, the pulse constants, status words 2 and 4…7, the
// power-down count.
func (c *Client) ReadRaw(ctx context.Context, addr Address, di DI) ([]int64, error) {
	e, ok := lookup(di)
	if !ok {
		return nil, fmt.Errorf("meter %s: read %s: %w", addr, di, ErrUnknownDI)
	}
	v, err := c.read(ctx, addr, di)
	if err == nil {
		var raw []int64
		if raw, err = e.DecodeRaw(v); err == nil {
			return raw, nil
		}
	}
	return nil, fmt.Errorf("meter %s: read %s: %w", addr, di, err)
}

// ReadStatusWord3 reads run status word 3 (04000503): the relay state to confirm a
// control command by.
func (c *Client) ReadStatusWord3(ctx context.Context, addr Address) (StatusWord3, error) {
	v, err := c.read(ctx, addr, DIStatusWord3)
	if err == nil {
		var s StatusWord3
		if s, err = DecodeStatusWord3(v); err == nil {
			return s, nil
		}
	}
	return 0, fmt.Errorf("meter %s: read %s: %w", addr, DIStatusWord3, err)
}

// ReadDailyFrozen reads the n-th previous daily freeze (1 ≤ n ≤ MaxDailyFrozen): its
// time (050600nn), forward (050601nn) and reverse (050602nn) energy, in the meter's time
// zone loc. Reverse is nil for a meter that answers 050602nn with "no data requested".
//
// A freeze at midnight moves every record one place down. The freeze time is read before
// and after the values; if it changed, the reads are repeated (twice at most), so the
// values returned always belong to the time returned.
func (c *Client) ReadDailyFrozen(ctx context.Context, addr Address, n int, loc *time.Location) (FrozenRecord, error) {
	if err := checkN("daily freeze", n, MaxDailyFrozen); err != nil {
		return FrozenRecord{}, fmt.Errorf("meter %s: %w", addr, err)
	}
	return c.readFrozen(ctx, addr, DIDailyFrozenTimeN(n), DIDailyFrozenForwardN(n), DIDailyFrozenReverseN(n), loc)
}

// ReadInstantFrozen reads the n-th previous instant freeze (1 ≤ n ≤ MaxInstantFrozen),
// made by a freeze command 99999999, like ReadDailyFrozen.
func (c *Client) ReadInstantFrozen(ctx context.Context, addr Address, n int, loc *time.Location) (FrozenRecord, error) {
	if err := checkN("instant freeze", n, MaxInstantFrozen); err != nil {
		return FrozenRecord{}, fmt.Errorf("meter %s: %w", addr, err)
	}
	return c.readFrozen(ctx, addr, DIInstantFrozenTimeN(n), DIInstantFrozenForwardN(n), DIInstantFrozenReverseN(n), loc)
}

func (c *Client) readFrozen(ctx context.Context, addr Address, timeDI, fwdDI, revDI DI, loc *time.Location) (FrozenRecord, error) {
	fail := func(di DI, err error) (FrozenRecord, error) {
		return FrozenRecord{}, fmt.Errorf("meter %s: read %s: %w", addr, di, noRecord(err))
	}
	before, err := c.read(ctx, addr, timeDI)
	if err != nil {
		return fail(timeDI, err)
	}
	for attempt := 0; ; attempt++ {
		fwd, err := c.read(ctx, addr, fwdDI)
		if err != nil {
			return fail(fwdDI, err)
		}
		rev, err := c.read(ctx, addr, revDI)
		var ab *AbnormalError
		if errors.As(err, &ab) && ab.Has(ErrCodeNoData) {
			rev, err = nil, nil // the meter keeps no reverse energy
		}
		if err != nil {
			return fail(revDI, err)
		}
		after, err := c.read(ctx, addr, timeDI)
		if err != nil {
			return fail(timeDI, err)
		}
		if bytes.Equal(before, after) {
			r, err := DecodeFrozen(before, fwd, rev, loc)
			if err != nil {
				return FrozenRecord{}, fmt.Errorf("meter %s: frozen record %s: %w", addr, timeDI, err)
			}
			return r, nil
		}
		if attempt == 2 {
			return FrozenRecord{}, fmt.Errorf("meter %s: frozen record %s moved during three reads: %w", addr, timeDI, ErrData)
		}
		before = after
	}
}

// ReadSettlement reads the values of the n-th previous settlement day (1 ≤ n ≤
// MaxSettlements): forward active energy, total and rates (0001FFnn), and reverse active
// total energy (000200nn; nil for a meter without). The standard keeps no timestamp with
// them: the returned Time is zero; compute it with SettlementDay.Previous from the
// meter's clock (ReadClock) and settlement day (ReadSettlementDay).
func (c *Client) ReadSettlement(ctx context.Context, addr Address, n int) (FrozenRecord, error) {
	if err := checkN("settlement", n, MaxSettlements); err != nil {
		return FrozenRecord{}, fmt.Errorf("meter %s: %w", addr, err)
	}
	var r FrozenRecord
	di := DISettlementForwardBlockN(n)
	v, err := c.read(ctx, addr, di)
	if err == nil {
		r.Forward, err = decodeEnergyBlock(v)
	}
	if err != nil {
		return FrozenRecord{}, fmt.Errorf("meter %s: read %s: %w", addr, di, noRecord(err))
	}
	di = DISettlementReverseTotalN(n)
	v, err = c.read(ctx, addr, di)
	var ab *AbnormalError
	switch {
	case errors.As(err, &ab) && ab.Has(ErrCodeNoData):
	case err != nil:
		return FrozenRecord{}, fmt.Errorf("meter %s: read %s: %w", addr, di, err)
	default:
		if r.Reverse, err = decodeEnergyBlock(v); err != nil || len(r.Reverse) != 1 {
			return FrozenRecord{}, fmt.Errorf("meter %s: read %s: %w", addr, di, errors.Join(ErrData, err))
		}
	}
	return r, nil
}

// ReadSettlementDay reads the first settlement day of the month (04000B01, DDhh).
func (c *Client) ReadSettlementDay(ctx context.Context, addr Address) (SettlementDay, error) {
	v, err := c.read(ctx, addr, DISettlementDay1)
	if err == nil {
		var d SettlementDay
		if d, err = DecodeSettlementDay(v); err == nil {
			return d, nil
		}
	}
	return SettlementDay{}, fmt.Errorf("meter %s: read %s: %w", addr, DISettlementDay1, err)
}

// ReadPowerDownCount reads the number of power-down events (03110000).
func (c *Client) ReadPowerDownCount(ctx context.Context, addr Address) (int, error) {
	raw, err := c.ReadRaw(ctx, addr, DIPowerDownCount)
	if err != nil {
		return 0, err
	}
	return int(raw[0]), nil
}

// ReadPowerDownEvent reads the n-th previous power-down event (031100nn, 1 ≤ n ≤
// MaxPowerDownRecords), times in the meter's zone loc.
func (c *Client) ReadPowerDownEvent(ctx context.Context, addr Address, n int, loc *time.Location) (PowerDownEvent, error) {
	if err := checkN("power-down record", n, MaxPowerDownRecords); err != nil {
		return PowerDownEvent{}, fmt.Errorf("meter %s: %w", addr, err)
	}
	di := DIPowerDownRecordN(n)
	v, err := c.read(ctx, addr, di)
	if err == nil {
		var e PowerDownEvent
		if e, err = DecodePowerDownEvent(v, loc); err == nil {
			return e, nil
		}
	}
	return PowerDownEvent{}, fmt.Errorf("meter %s: read %s: %w", addr, di, noRecord(err))
}

// ReadLoadProfile reads q.Count load profile record blocks from q.From on (06000001),
// following up frames as needed, times in the meter's zone loc. A meter returns fewer
// blocks than asked when it has no more; none at all is an abnormal reply that also
// matches ErrNoRecord. q.From is sent in its own location: pass it in the meter's zone.
func (c *Client) ReadLoadProfile(ctx context.Context, addr Address, q LoadProfileRequest, loc *time.Location) ([]LoadRecord, error) {
	params, err := q.Append(nil)
	if err != nil {
		return nil, fmt.Errorf("meter %s: read %s: %w", addr, DILoadProfileAtTime, err)
	}
	v, err := c.readWith(ctx, addr, DILoadProfileAtTime, params)
	if err == nil {
		var recs []LoadRecord
		if recs, err = DecodeLoadRecords(v, loc); err == nil {
			if len(recs) > q.Count {
				err = fmt.Errorf("%w: %d load records, asked for %d", ErrData, len(recs), q.Count)
			} else {
				return recs, nil
			}
		}
	}
	return nil, fmt.Errorf("meter %s: read %s: %w", addr, DILoadProfileAtTime, noRecord(err))
}

// noRecord adds ErrNoRecord to an abnormal reply "no data requested".
func noRecord(err error) error {
	var ab *AbnormalError
	if errors.As(err, &ab) && ab.Has(ErrCodeNoData) {
		return fmt.Errorf("%w: %w", ErrNoRecord, err)
	}
	return err
}

// Write writes value, already in di's data format, with a write command (14H). The
// meter answers 94H, or D4H with the error information word (04H: wrong password or not
// authorised), returned as an *AbnormalError.
func (c *Client) Write(ctx context.Context, addr Address, cred Credentials, di DI, value []byte) error {
	req, err := NewWriteRequest(addr, WriteRequest{DI: di, Credentials: cred, Value: value})
	if err == nil {
		_, err = c.command(ctx, req)
	}
	if err != nil {
		return fmt.Errorf("meter %s: write %s: %w", addr, di, err)
	}
	return nil
}

// WriteSettlementDay sets the first settlement day of the month (04000B01).
func (c *Client) WriteSettlementDay(ctx context.Context, addr Address, cred Credentials, d SettlementDay) error {
	v, err := d.Append(nil)
	if err != nil {
		return fmt.Errorf("meter %s: write %s: %w", addr, DISettlementDay1, err)
	}
	return c.Write(ctx, addr, cred, DISettlementDay1, v)
}

// Freeze sends a freeze command (16H). To one meter it waits for the reply 96H; to the
// broadcast address 999999999999 it only sends, as no meter answers a broadcast.
// InstantFreeze makes every meter freeze now; the record is read with ReadInstantFrozen.
func (c *Client) Freeze(ctx context.Context, addr Address, s FreezeSchedule) error {
	req, err := NewFreezeRequest(addr, s)
	if err != nil {
		return fmt.Errorf("meter %s: freeze: %w", addr, err)
	}
	if addr.IsBroadcast() {
		err = c.broadcast(ctx, req)
	} else {
		_, err = c.command(ctx, req)
	}
	if err != nil {
		return fmt.Errorf("meter %s: freeze: %w", addr, err)
	}
	return nil
}

// Control sends a relay, alarm or keep-on command (1CH) built by sec and checks the reply
// with it. Accepted is a nil error; a refusal is an *AbnormalError (DCH with 04H: wrong
// password or not authorised, e.g. a meter that requires ESAM-protected control). The
// relay's state afterwards is read with ReadStatusWord3: a close-allowed command leaves
// the relay open until the customer presses the meter's button.
func (c *Client) Control(ctx context.Context, addr Address, sec SecurityProvider, cmd ControlCommand) error {
	if addr.IsBroadcast() || addr.IsWildcard() {
		return fmt.Errorf("meter %s: control %s: %w: control is sent to one meter", addr, cmd.Action, ErrRange)
	}
	data, err := sec.ControlData(ctx, addr, cmd)
	if err == nil {
		var rep Frame
		if rep, err = c.command(ctx, NewControlRequest(addr, data)); err == nil {
			err = sec.CheckControlReply(ctx, addr, rep.Data)
		}
	}
	if err != nil {
		return fmt.Errorf("meter %s: control %s: %w", addr, cmd.Action, err)
	}
	return nil
}

// command sends a command to one meter and waits for its normal or abnormal reply to the
// same function; an abnormal reply is returned as an *AbnormalError.
func (c *Client) command(ctx context.Context, req Frame) (Frame, error) {
	if err := c.acquire(ctx); err != nil {
		return Frame{}, err
	}
	defer c.release()
	fn := req.Control.Function()
	rep, err := c.exchange(ctx, req, func(f Frame) bool {
		return f.Control.IsReply() && f.Control.Function() == fn && req.Address.Matches(f.Address)
	})
	if err != nil {
		return Frame{}, err
	}
	if ab := rep.Abnormal(); ab != nil {
		return Frame{}, ab
	}
	return rep, nil
}

// broadcast sends a frame no meter answers.
func (c *Client) broadcast(ctx context.Context, req Frame) error {
	if err := c.acquire(ctx); err != nil {
		return err
	}
	defer c.release()
	return c.withContext(ctx, func() error { return c.send(ctx, req) })
}
