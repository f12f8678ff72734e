package acquisition

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"gridmeter/internal/journal"
	"gridmeter/internal/meterdata"
)

// LoadRecord is one record of a meter's load profile.
type LoadRecord struct {
	Time   time.Time        // the record's time by the meter's clock (any zone); zero if the meter flags the record invalid
	Values map[string]int64 // the meterdata channels the record carries; none if invalid
}

// LoadProfileReader reads a meter's load profile (DL/T 645 负荷记录, 06000001): up to count
// (1…99) records from the first at or after from, oldest first. A meter returns fewer
// when it has no more; the error wraps ErrNoRecord when it has none at or after from. A
// bus whose meters keep no load profile does not implement it.
type LoadProfileReader interface {
	ReadLoadProfile(ctx context.Context, address string, from time.Time, count int) ([]LoadRecord, error)
}

const (
	// loadProfileBatch is how many records one request asks for: a day at 15 min, 7 to
	// 10 KB on the bus (40 to 50 follow-up frames), depending on the classes recorded.
	loadProfileBatch = 96
	// loadProfileBatchesPerPass bounds the requests for one meter after one cycle, so a
	// long outage is recovered over a few cycles rather than in one that overruns many.
	loadProfileBatchesPerPass = 4
)

// slotRun is a run of consecutive instant slots, from and to included.
type slotRun struct{ from, to time.Time }

// loadProfilePass recovers, for every meter of the bus that answers, the instant slots
// missed since the last pass (the terminal, the bus or the meter was down, or a cycle
// skipped the slot) from the meter's load profile.
//
// The slots missed are those after the meter's profileDone up to the slot before this
// cycle's that the journal has no instant reading for (found with Latest, one lookup per
// reading journaled since profileDone, so slots journaled are never read again). Each
// record whose time is one of them is journaled as a KindInstant reading keyed at that
// slot, with the channels the record carries, flagged backfilled. The rule that makes a
// record stand for a slot: its time by the meter's clock is exactly the slot's start;
// with Options.Interval a whole multiple of the record period (newMemoryRun checks)
// every slot has one. A record is never shifted to a slot nor interpolated. Slots are
// the cycle's (aligned on UTC), so a meter zone offset that is not a multiple of the
// interval (UTC+5:30 with hourly slots) leaves no record on a slot. The readings skip
// the energy-register plausibility check of live readings: they are older than the
// register baseline it keeps.
//
// Slots missed that the meter did not keep (it was off, its memory does not reach back
// so far, it flags the record invalid) and those older than LoadProfileDepth are lost:
// counted, logged with the meter and the range, and journaled as gap events. After a failed read, or
// loadProfileBatchesPerPass requests, the rest is left to the next pass. profileDone is
// kept in the journal after every pass (settings profile_done/<meter>), and taken back
// at start when it is older than the meter's newest instant reading: a backfill cut short
// by a restart, a kill or a new plan resumes where it stood.
func (s *Scheduler) loadProfilePass(ctx context.Context, b Bus, lr LoadProfileReader, slot time.Time, r *memoryRun) {
	top := slot.Add(-s.opt.Interval)
	for _, m := range b.Meters {
		s.runJobs(ctx, b)
		if ctx.Err() != nil {
			return
		}
		if s.meterSilent(m.ID) {
			continue
		}
		done, ok := r.profileDone[m.ID]
		if !ok {
			done = top
		}
		if !done.Before(top) {
			continue
		}
		runs, err := s.missedSlots(ctx, m.ID, done, top)
		if err != nil {
			s.log.Error("journal lookup failed", "meter", m.ID, "err", err)
			continue
		}
		r.profileDone[m.ID] = s.backfill(ctx, b, m, lr, runs, slot, top, r)
	}
	s.saveProfileDone(ctx, b, r)
}

// settingsJournal is the journal's small key-value store, where the load-profile backfill
// keeps its position per meter (the journal in production; a journal without it keeps
// the position in memory only).
type settingsJournal interface {
	Setting(ctx context.Context, name string) ([]byte, bool, error)
	SetSettings(ctx context.Context, values map[string][]byte) error
}

const profileDoneSetting = "profile_done/" // + meter id: Unix ms, 8 bytes big-endian

// savedProfileDone returns the backfill position a previous run kept for a meter.
func (s *Scheduler) savedProfileDone(ctx context.Context, id meterdata.MeterID) (time.Time, bool) {
	sj, ok := s.j.(settingsJournal)
	if !ok {
		return time.Time{}, false
	}
	v, ok, err := sj.Setting(ctx, profileDoneSetting+string(id))
	if err != nil || !ok || len(v) != 8 {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(v))).UTC(), true
}

// saveProfileDone keeps the bus's backfill positions in the journal, in one transaction per
// pass, so that a restart (or a kill before the first pass after an outage) resumes the
// backfill instead of starting from the newest live reading and forgetting the outage.
func (s *Scheduler) saveProfileDone(ctx context.Context, b Bus, r *memoryRun) {
	sj, ok := s.j.(settingsJournal)
	if !ok || ctx.Err() != nil {
		return
	}
	vals := make(map[string][]byte, len(b.Meters))
	for _, m := range b.Meters {
		if t, ok := r.profileDone[m.ID]; ok && !t.Equal(r.profileSaved[m.ID]) {
			vals[profileDoneSetting+string(m.ID)] = binary.BigEndian.AppendUint64(nil, uint64(t.UnixMilli()))
		}
	}
	if len(vals) == 0 {
		return
	}
	if err := sj.SetSettings(ctx, vals); err != nil {
		if ctx.Err() == nil {
			s.log.Error("load-profile backfill position not kept", "bus", b.Name, "err", err)
		}
		return
	}
	for _, m := range b.Meters {
		r.profileSaved[m.ID] = r.profileDone[m.ID]
	}
}

// missedSlots returns the runs of slots in (after, top] without an instant reading in the
// journal, oldest first. It walks back from top with Latest: each lookup finds the
// newest reading at or before the cursor, and the slots between it and the cursor are
// missing.
func (s *Scheduler) missedSlots(ctx context.Context, id meterdata.MeterID, after, top time.Time) ([]slotRun, error) {
	var runs []slotRun
	for cursor := top; cursor.After(after); {
		e, found, err := s.j.Latest(ctx, id, meterdata.KindInstant, cursor)
		if err != nil {
			return nil, err
		}
		if !found || !e.Reading.Time.After(after) {
			runs = append(runs, slotRun{s.slotAfter(after), cursor})
			break
		}
		if t := e.Reading.Time; t.Before(cursor) {
			runs = append(runs, slotRun{s.slotAfter(t), cursor})
		}
		cursor = s.slotBefore(e.Reading.Time)
	}
	slices.Reverse(runs)
	return runs, nil
}

// backfill reads the records of the runs of missed slots and journals them; it returns
// the slot up to which every slot is now journaled or counted lost. Commands waiting for
// the bus run between two requests.
func (s *Scheduler) backfill(ctx context.Context, b Bus, m meterdata.Meter, lr LoadProfileReader, runs []slotRun, slot, top time.Time, r *memoryRun) time.Time {
	iv, period := s.opt.Interval, r.opt.LoadProfilePeriod
	window := slot.Add(-r.opt.LoadProfileDepth) // slots before are not read
	var recovered int
	var first, last time.Time
	done := func(upTo time.Time) time.Time {
		if recovered > 0 {
			s.log.Info("instant readings recovered from the meter's load profile", "meter", m.ID,
				"readings", recovered, "from", first, "to", last)
		}
		return upTo
	}
	batches := 0
	for _, run := range runs {
		if run.from.Before(window) {
			end := s.slotBefore(window)
			if run.to.Before(end) {
				end = run.to
			}
			s.lostSlots(ctx, r, m.ID, run.from, end, "older than the load-profile depth")
			run.from = end.Add(iv)
		}
		for next := run.from; !next.After(run.to); {
			if batches > 0 {
				s.runJobs(ctx, b)
			}
			if batches == loadProfileBatchesPerPass || ctx.Err() != nil {
				return done(s.slotBefore(next))
			}
			batches++
			n := min(loadProfileBatch, int(run.to.Sub(next)/period)+1)
			recs, err := lr.ReadLoadProfile(ctx, m.Address, next, n)
			if err != nil && !errors.Is(err, ErrNoRecord) {
				if ctx.Err() == nil {
					s.failed(m.ID, fmt.Errorf("load profile: %d records from %s: %w", n, next.Format(time.RFC3339), err))
				}
				return done(s.slotBefore(next))
			}
			var got []meterdata.Reading
			var newest time.Time
			for _, rec := range recs {
				t := rec.Time.UTC()
				if t.After(newest) {
					newest = t
				}
				if t.Before(next) || t.After(run.to) || !t.Equal(t.Truncate(iv)) || len(rec.Values) == 0 ||
					(len(got) > 0 && !t.After(got[len(got)-1].Time)) {
					continue // not a missed slot, flagged invalid, or out of order
				}
				got = append(got, meterdata.Reading{Meter: m.ID, Kind: meterdata.KindInstant, Time: t,
					Values: rec.Values, Quality: meterdata.QualityBackfilled})
			}
			// The records answer for the slots of [next, covered]: up to the newest one if
			// the meter may have more (it sent all n asked for), else to the end of the run.
			covered := run.to
			if len(recs) == n {
				c := newest
				if c.Before(next) { // none valid, or not from next on: step over them
					c = next.Add(time.Duration(n-1) * period)
				}
				if c.Before(run.to) {
					covered = c
				}
			}
			if len(got) > 0 {
				if _, _, err := s.j.Append(ctx, got); err != nil {
					s.log.Error("journal append failed: load-profile readings not kept", "meter", m.ID, "err", err)
					return done(s.slotBefore(next))
				}
				r.c.profileBackfilled.Add(uint64(len(got)))
				if recovered == 0 {
					first = got[0].Time
				}
				recovered += len(got)
				last = got[len(got)-1].Time
				if s.opt.OnAppended != nil {
					s.opt.OnAppended()
				}
			}
			// The slots of [next, covered] without a record are lost.
			var gap time.Time
			k := 0
			for t := s.slotAfter(next.Add(-time.Nanosecond)); !t.After(covered); t = t.Add(iv) {
				if k < len(got) && got[k].Time.Equal(t) {
					k++
					if !gap.IsZero() {
						s.lostSlots(ctx, r, m.ID, gap, t.Add(-iv), "not kept in the meter's load profile")
						gap = time.Time{}
					}
				} else if gap.IsZero() {
					gap = t
				}
			}
			if !gap.IsZero() {
				s.lostSlots(ctx, r, m.ID, gap, covered.Truncate(iv), "not kept in the meter's load profile")
			}
			next = s.slotAfter(covered)
		}
	}
	return done(top)
}

// lostSlots counts, logs and journals as a gap event the slots from…to (included).
func (s *Scheduler) lostSlots(ctx context.Context, r *memoryRun, id meterdata.MeterID, from, to time.Time, why string) {
	if to.Before(from) {
		return
	}
	iv := s.opt.Interval
	n := uint64(to.Sub(from)/iv) + 1
	r.c.profileGaps.Add(n)
	s.log.Warn("instant readings missed and not recoverable: gap", "meter", id, "from", from, "to", to,
		"slots", n, "reason", why)
	s.gapEvent(ctx, id, journal.CodeGapLoadProfile, from.Add(-iv), to.Add(iv),
		fmt.Sprintf("instant readings of the %d slots %s to %s are lost: %s", n,
			from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), why))
}

// slotAfter returns the first slot after t; slotBefore the last slot before t.
func (s *Scheduler) slotAfter(t time.Time) time.Time {
	return t.Truncate(s.opt.Interval).Add(s.opt.Interval)
}

func (s *Scheduler) slotBefore(t time.Time) time.Time {
	return t.Add(-time.Nanosecond).Truncate(s.opt.Interval)
}
