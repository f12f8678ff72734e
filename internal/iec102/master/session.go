package master

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gridmeter/internal/iec102"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// catchUpPeriods is the size of a load-profile answer from which a session asks again for
// the rest of its range: an outstation bounds the periods one range read answers, and a
// long outage is caught up in one session. Smaller answers are taken as complete, so a
// session in steady state reads the profile once.
const catchUpPeriods = 24

// maxCatchUpRounds bounds the load-profile reads of one point in one session.
const maxCatchUpRounds = 16

// PollOnce runs one session with the target: link start-up; then per measuring point
// authentication, the clock (first point only), current totals, the hourly load profile
// and the daily values since the newest stored reading of the meter, end of session;
// then it stores every reading read in one StoreReadings call under the source
// "iec102/<target name>", even if some step failed. The target need not be one of the
// poller's (PollOnce takes no slot of the concurrency bound). The returned error is
// Result.Err.
func (p *Poller) PollOnce(ctx context.Context, t Target) (Result, error) {
	res := Result{Target: t.Name, Start: p.opt.Now()}
	if err := t.Validate(); err != nil {
		res.Err = err
		return res, err
	}
	t = t.withDefaults()
	sctx, cancel := context.WithTimeout(ctx, t.SessionTimeout)
	rs, linkOK, err := p.session(sctx, t, &res)
	cancel()
	res.Failed = !linkOK
	if len(rs) > 0 {
		res.Readings = len(rs)
		// The session's deadline does not bound storing what it read.
		stored, serr := p.store.StoreReadings(ctx, "iec102/"+t.Name, rs)
		res.Stored = stored
		if serr != nil {
			err = errors.Join(err, fmt.Errorf("store %d readings: %w", len(rs), serr))
			res.Failed = true
		}
	}
	if err != nil {
		err = fmt.Errorf("iec102 master: target %s (%s): %w", t.Name, t.Addr, err)
	}
	res.Err = err
	res.Duration = p.opt.Now().Sub(res.Start)
	log := p.log.With("target", t.Name, "addr", t.Addr, "duration", res.Duration, "readings", res.Readings,
		"inserted", res.Stored.Inserted, "duplicates", res.Stored.Duplicates, "conflicts", res.Stored.Conflicts)
	switch {
	case res.Failed:
		log.Warn("IEC 102 session failed", "err", err)
	case err != nil:
		log.Warn("IEC 102 session: requests refused", "err", err)
	default:
		log.Debug("IEC 102 session done")
	}
	if p.opt.OnResult != nil {
		p.opt.OnResult(res)
	}
	return res, err
}

// session runs the protocol part of PollOnce and returns the readings read; linkOK is
// false when the session could not run to its end.
func (p *Poller) session(ctx context.Context, t Target, res *Result) (rs []meterdata.Reading, linkOK bool, err error) {
	dctx, cancel := context.WithTimeout(ctx, t.Timeout)
	conn, err := p.opt.Dial(dctx, t.Addr)
	cancel()
	if err != nil {
		return nil, false, fmt.Errorf("dial: %w", err)
	}
	c := NewClient(conn, t.LinkAddress, ClientOptions{Timeout: t.Timeout, Retries: t.Retries, Location: t.Location})
	defer c.Close()
	if err := c.StartLink(ctx); err != nil {
		return nil, false, err
	}
	var errs []error
	for i, pt := range t.Points {
		got, ok, err := p.pollPoint(ctx, c, t, pt, i == 0, res)
		rs = append(rs, got...)
		res.Points = append(res.Points, PointResult{Address: pt.Address, Meter: pt.Meter, Readings: len(got), Err: err})
		if err != nil {
			errs = append(errs, fmt.Errorf("measuring point %d: %w", pt.Address, err))
		}
		if !ok {
			return rs, false, errors.Join(errs...) // the other points cannot be read either
		}
	}
	return rs, true, errors.Join(errs...)
}

// resume returns where reading a meter's kind resumes: just after its newest stored
// reading, or Backfill ago if none is stored.
func (p *Poller) resume(ctx context.Context, t Target, meter meterdata.MeterID, kind meterdata.Kind, now time.Time) (time.Time, bool, error) {
	r, err := p.store.LatestReading(ctx, meter, kind)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return now.Add(-t.Backfill), false, nil
	case err != nil:
		return time.Time{}, false, fmt.Errorf("newest stored %s reading: %w", kind, err)
	}
	return r.Time, true, nil
}

// pollPoint runs the session of one measuring point. Where the profile and the daily
// values resume is decided before anything of the session is stored. A refused step
// (a negative confirmation) does not stop the others; a link failure stops the point and
// reports linkOK false.
func (p *Poller) pollPoint(ctx context.Context, c *Client, t Target, pt Point, first bool, res *Result) (rs []meterdata.Reading, linkOK bool, err error) {
	now := p.opt.Now()
	profileFrom, profileAfter, err := p.resume(ctx, t, pt.Meter, meterdata.KindInstant, now)
	if err != nil {
		return nil, false, err
	}
	dailyFrom, dailyAfter, err := p.resume(ctx, t, pt.Meter, meterdata.KindDailyFrozen, now)
	if err != nil {
		return nil, false, err
	}
	if err := c.Authenticate(ctx, pt.Address, pt.Password); err != nil {
		return nil, errors.Is(err, iec102.ErrNegative), err
	}
	var errs []error
	linkOK = true
	step := func(name string, run bool, f func() error) {
		if !run || !linkOK {
			return
		}
		if err := f(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			linkOK = errors.Is(err, iec102.ErrNegative)
		}
	}
	step("clock", first && t.Reads&ReadClock != 0, func() error { return p.checkClock(ctx, c, t, pt, res) })
	step("current totals", t.Reads&ReadCurrent != 0, func() error {
		ct, err := c.CurrentTotals(ctx, pt.Address)
		if err == nil {
			if r, ok := currentReading(pt.Meter, ct, t); ok {
				rs = append(rs, r)
			}
		}
		return err
	})
	step("load profile", t.Reads&ReadProfile != 0, func() error {
		got, err := p.readProfile(ctx, c, t, pt, profileFrom, profileAfter, now)
		rs = append(rs, got...)
		return err
	})
	step("daily values", t.Reads&ReadDaily != 0, func() error {
		from := dailyFrom
		if dailyAfter {
			from = from.Truncate(time.Minute).Add(time.Minute)
		}
		if from.After(now) {
			return nil
		}
		its, err := c.ReadTotals(ctx, pt.Address, iec102.RecordDaily1, iec102.ObjectActiveImport, iec102.ObjectActiveExport, from, now)
		rs = append(rs, totalsReadings(pt.Meter, meterdata.KindDailyFrozen, its, t)...)
		return err
	})
	if linkOK {
		step("end of session", true, func() error { return c.EndSession(ctx, pt.Address) })
	}
	return rs, linkOK, errors.Join(errs...)
}

// checkClock reads the outstation's clock, records a drift event beyond MaxDrift and
// corrects the clock if the target asks for it. A refusal of either request is recorded
// in the result, not returned: the readings do not depend on it.
func (p *Poller) checkClock(ctx context.Context, c *Client, t Target, pt Point, res *Result) error {
	clk, err := c.Clock(ctx, pt.Address)
	if err != nil {
		if errors.Is(err, iec102.ErrNegative) {
			res.ClockErr = err
			return nil
		}
		return err
	}
	res.Clock = &clk
	if clk.Drift.Abs() <= p.opt.MaxDrift {
		return nil
	}
	res.DriftEvent = true
	p.log.Warn("IEC 102 outstation clock drift", "target", t.Name, "drift", clk.Drift, "outstation", clk.Time,
		"max", p.opt.MaxDrift, "correct", t.CorrectClock)
	if !t.CorrectClock {
		return nil
	}
	if err := c.SetClock(ctx, pt.Address, p.opt.Now()); err != nil {
		res.ClockErr = err
		if errors.Is(err, iec102.ErrNegative) {
			return nil
		}
		return fmt.Errorf("set clock: %w", err)
	}
	res.ClockSet = true
	p.log.Info("IEC 102 outstation clock set", "target", t.Name, "drift", clk.Drift)
	return nil
}

// readProfile reads the hourly load profile from the first hour boundary after the
// newest stored instant reading (or from Backfill ago) to the last hour boundary before
// now, catching up in several reads when the outstation answers in parts.
func (p *Poller) readProfile(ctx context.Context, c *Client, t Target, pt Point, since time.Time, after bool, now time.Time) ([]meterdata.Reading, error) {
	from := floorHour(since, t.Location)
	if after || !from.Equal(since) {
		from = from.Add(time.Hour)
	}
	to := floorHour(now, t.Location)
	var rs []meterdata.Reading
	for round := 0; round < maxCatchUpRounds && !from.After(to); round++ {
		its, err := c.ReadTotals(ctx, pt.Address, iec102.RecordHourly, iec102.ObjectActiveImport, iec102.ObjectActiveExport, from, to)
		got := totalsReadings(pt.Meter, meterdata.KindInstant, its, t)
		rs = append(rs, got...)
		if err != nil || len(its) < catchUpPeriods || len(got) == 0 {
			return rs, err
		}
		next := got[len(got)-1].Time.Add(time.Hour)
		if !next.After(from) {
			return rs, nil // no progress: an outstation answering outside the range
		}
		from = next
	}
	return rs, nil
}

// floorHour returns the last whole hour of wall clock in loc at or before t.
func floorHour(t time.Time, loc *time.Location) time.Time {
	lt := t.In(loc)
	return t.Add(-(time.Duration(lt.Minute())*time.Minute + time.Duration(lt.Second())*time.Second + time.Duration(lt.Nanosecond())))
}

// totalsReadings turns integrated totals into readings of kind: time = the period's end
// (its Ta), e_imp from object 1 and e_exp from object 2 in Wh. Periods whose Ta is
// invalid and totals with IV are left out; CA or CY mark the reading suspect. Readings
// of a range read are backfilled: read after the fact from the outstation's memory.
func totalsReadings(meter meterdata.MeterID, kind meterdata.Kind, its []iec102.IntegratedTotals, t Target) []meterdata.Reading {
	var out []meterdata.Reading
	for _, it := range its {
		if it.End.Invalid {
			continue
		}
		at, err := it.End.Time(t.Location)
		if err != nil {
			continue
		}
		vals := map[string]int64{}
		q := meterdata.QualityBackfilled
		for _, tot := range it.Totals {
			ch := ""
			switch tot.Address {
			case iec102.ObjectActiveImport:
				ch = "e_imp"
			case iec102.ObjectActiveExport:
				ch = "e_exp"
			}
			if ch == "" || tot.Quality.Invalid() {
				continue
			}
			vals[ch] = int64(tot.Value) * t.WhPerCount
			if tot.Quality&(iec102.QualityCA|iec102.QualityCY) != 0 {
				q |= meterdata.QualitySuspect
			}
		}
		r := meterdata.Reading{Meter: meter, Kind: kind, Time: at.UTC(), Values: vals, Quality: q}
		if len(vals) > 0 && r.Validate() == nil {
			out = append(out, r)
		}
	}
	return out
}

// currentReading turns the current totals (group 192) into an instant reading at their
// time tag, unless the tag is invalid (a register missing or unusable at the outstation).
func currentReading(meter meterdata.MeterID, ct iec102.InstantTotals, t Target) (meterdata.Reading, bool) {
	if ct.Time.Invalid {
		return meterdata.Reading{}, false
	}
	at, err := ct.Time.Time(t.Location)
	if err != nil {
		return meterdata.Reading{}, false
	}
	r := meterdata.Reading{Meter: meter, Kind: meterdata.KindInstant, Time: at.UTC(), Values: map[string]int64{
		"e_imp": int64(ct.ActiveImport) * t.WhPerCount,
		"e_exp": int64(ct.ActiveExport) * t.WhPerCount,
	}}
	return r, r.Validate() == nil
}
