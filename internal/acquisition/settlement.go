package acquisition

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"gridmeter/internal/journal"
	"gridmeter/internal/meterdata"
)

// The passes after a bus's cycle besides the daily freezes: settlement values (this file),
// the load-profile backfill of missed instant slots (loadprofile.go) and the run status
// words (status.go). Each reads through a small interface that a bus implements if its
// meters keep what it reads; memoryPasses runs those due, on the bus's goroutine.

// MemoryOptions configure the settlement, load-profile and status passes. The zero value
// disables all three.
type MemoryOptions struct {
	// SettlementInterval is how often each meter's settlement values (KindMonthly) are
	// checked for a new settlement; 0 disables. A meter whose newest journaled settlement
	// is less than 27 days old is not read: with one settlement day a month, the next
	// cannot have come yet (the shortest month has 28 days).
	SettlementInterval time.Duration
	// FirstSettlements is how many settlements back to read for a meter with none
	// journaled yet, 1 to MaxSettlements. Default 1 (the latest).
	FirstSettlements int
	// LoadProfileDepth is how far back instant slots the terminal missed (terminal, bus or
	// meter down) are recovered from the meters' load profiles; 0 disables. Slots older
	// are counted lost.
	LoadProfileDepth time.Duration
	// LoadProfilePeriod is the meters' load-profile record period (DL/T 645 parameter
	// 04000A02, commonly 15 min, the simulator's), whole minutes. Default 15 min. The
	// backfill runs only when Options.Interval is a whole multiple of it: then every slot
	// has a record of its own.
	LoadProfilePeriod time.Duration
	// StatusInterval is how often run status words 1 and 3 are read (KindStatus, keyed by
	// the start of the status interval); 0 disables.
	StatusInterval time.Duration
}

// MaxSettlements is how many settlements back a DL/T 645 meter keeps (0001FF01…0C).
const MaxSettlements = 12

// settlementMinGap is the shortest time between two monthly settlements (28 days, less an
// hour of daylight saving), less a day of margin for a meter clock running ahead.
const settlementMinGap = 27 * 24 * time.Hour

// normalize fills in defaults and names the first bad field.
func (o MemoryOptions) normalize() (MemoryOptions, error) {
	if o.FirstSettlements == 0 {
		o.FirstSettlements = 1
	}
	if o.LoadProfilePeriod == 0 {
		o.LoadProfilePeriod = 15 * time.Minute
	}
	switch {
	case o.SettlementInterval < 0 || (o.SettlementInterval > 0 && o.SettlementInterval < time.Second):
		return o, fmt.Errorf("acquisition: settlement interval %s: want 0 (off) or at least 1s", o.SettlementInterval)
	case o.FirstSettlements < 1 || o.FirstSettlements > MaxSettlements:
		return o, fmt.Errorf("acquisition: first settlements %d: want 1 to %d", o.FirstSettlements, MaxSettlements)
	case o.LoadProfileDepth < 0:
		return o, fmt.Errorf("acquisition: load profile depth %s: want 0 (off) or more", o.LoadProfileDepth)
	case o.LoadProfilePeriod < time.Minute || o.LoadProfilePeriod%time.Minute != 0:
		return o, fmt.Errorf("acquisition: load profile period %s: want whole minutes", o.LoadProfilePeriod)
	case o.StatusInterval < 0 || (o.StatusInterval > 0 && o.StatusInterval < time.Second):
		return o, fmt.Errorf("acquisition: status interval %s: want 0 (off) or at least 1s", o.StatusInterval)
	}
	return o, nil
}

// memoryCounters count what the settlement, load-profile and status passes did; embedded
// in Scheduler.
type memoryCounters struct {
	settlements, settlementGaps    atomic.Uint64
	profileBackfilled, profileGaps atomic.Uint64
	statuses                       atomic.Uint64
	profileOffLogged               atomic.Bool
}

// memoryRun is one bus's state of the passes, owned by the bus's goroutine.
type memoryRun struct {
	opt MemoryOptions
	c   *memoryCounters

	settlements SettlementReader  // nil: the bus has none, or the pass is off
	profiles    LoadProfileReader // nil: the bus has none, or the pass is off
	statuses    StatusReader      // nil: the bus has none, or the pass is off

	lastSettlement time.Time // wall-clock start of the last settlement pass
	lastStatus     time.Time // status slot of the last status pass

	// profileDone holds per meter the newest slot up to which every instant slot is
	// journaled, recovered or counted lost. Both maps are nil while profiles is.
	profileDone map[meterdata.MeterID]time.Time
	// profileSaved is what the journal keeps of profileDone (written after each pass).
	profileSaved map[meterdata.MeterID]time.Time
}

// newMemoryRun prepares the passes of a bus, before its first cycle: it finds the readers
// the bus implements and, for the load-profile backfill, each meter's newest journaled
// instant slot (the journal's LastTime, which survives compaction): the slots after it
// that the first cycles do not read are the outage to recover. A meter with none starts
// from the current slot.
func (s *Scheduler) newMemoryRun(ctx context.Context, b Bus, opt MemoryOptions, c *memoryCounters) *memoryRun {
	r := &memoryRun{c: c}
	var err error
	if r.opt, err = opt.normalize(); err != nil {
		s.log.Error("settlement, load profile and status passes off", "bus", b.Name, "err", err)
		return r
	}
	if r.opt.SettlementInterval > 0 {
		r.settlements, _ = b.Reader.(SettlementReader)
	}
	if r.opt.StatusInterval > 0 {
		r.statuses, _ = b.Reader.(StatusReader)
	}
	if lr, ok := b.Reader.(LoadProfileReader); ok && r.opt.LoadProfileDepth > 0 {
		if s.opt.Interval%r.opt.LoadProfilePeriod != 0 {
			if !c.profileOffLogged.Swap(true) { // once, not once per bus
				s.log.Info("load-profile backfill off: the instant interval is not a multiple of the load-profile period",
					"interval", s.opt.Interval, "load_profile_period", r.opt.LoadProfilePeriod)
			}
		} else {
			r.profiles = lr
			r.profileDone = make(map[meterdata.MeterID]time.Time, len(b.Meters))
			r.profileSaved = make(map[meterdata.MeterID]time.Time, len(b.Meters))
			start := time.Now().Truncate(s.opt.Interval).Add(-s.opt.Interval)
			for _, m := range b.Meters {
				last, have, err := s.j.LastTime(ctx, m.ID, meterdata.KindInstant)
				if err != nil {
					s.log.Error("journal lookup failed", "meter", m.ID, "err", err)
				}
				if !have {
					last = start
				}
				// A backfill an earlier run left unfinished (or a kill before its first
				// pass) starts from where that run stood.
				if saved, ok := s.savedProfileDone(ctx, m.ID); ok && saved.Before(last) {
					last = saved
				}
				r.profileDone[m.ID] = last
			}
		}
	}
	return r
}

// memoryPasses runs the passes due after the cycle of slot: the status words once per
// status slot, the settlement values every SettlementInterval, the load-profile backfill
// after every cycle (it costs one journal lookup per meter when nothing was missed).
func (s *Scheduler) memoryPasses(ctx context.Context, b Bus, slot time.Time, r *memoryRun) {
	if r.statuses != nil && ctx.Err() == nil {
		if ss := slot.Truncate(r.opt.StatusInterval); !ss.Equal(r.lastStatus) {
			r.lastStatus = ss
			s.statusPass(ctx, b, r.statuses, ss, r)
		}
	}
	if r.settlements != nil && ctx.Err() == nil && (r.lastSettlement.IsZero() || time.Since(r.lastSettlement) >= r.opt.SettlementInterval) {
		r.lastSettlement = time.Now()
		s.settlementPass(ctx, b, r.settlements, r)
	}
	if r.profiles != nil && ctx.Err() == nil {
		s.loadProfilePass(ctx, b, r.profiles, slot, r)
	}
}

// meterSilent reports whether the meter's last instant read failed: the passes leave it
// alone until it answers again rather than wait for its timeouts once more.
func (s *Scheduler) meterSilent(id meterdata.MeterID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.meters[id]
	return st != nil && st.silent
}

// SettlementReader reads a meter's settlement values (结算日, "previous month"): n = 1 is
// the latest settlement, up to MaxSettlements. at is the settlement instant (any zone);
// values are meterdata channels (e_imp, e_imp_t1…t4, e_exp). The error wraps ErrNoRecord
// when the meter keeps no settlement at n. A bus whose meters keep none does not
// implement it.
type SettlementReader interface {
	ReadSettlement(ctx context.Context, address string, n int) (at time.Time, values map[string]int64, err error)
}

// settlementPass reads, for every meter of the bus, the settlements newer than the newest
// journaled one, walking back from the latest (n = 1) until it meets what the journal has,
// the meter's memory ends, or MaxSettlements; for a meter with none journaled, the
// FirstSettlements latest. They are journaled oldest first, as KindMonthly keyed by the
// settlement instant. A settlement read later than two check intervals after its instant
// is flagged backfilled. If the walk reaches MaxSettlements without meeting the journal,
// the settlements before are beyond the meter's memory: a gap, logged and counted, never
// invented, and journaled as a gap event. A failed read journals nothing of the meter (a
// newer settlement journaled alone would hide the older ones for good): all is read again
// at the next pass.
func (s *Scheduler) settlementPass(ctx context.Context, b Bus, sr SettlementReader, r *memoryRun) {
	for _, m := range b.Meters {
		s.runJobs(ctx, b)
		if ctx.Err() != nil {
			return
		}
		if s.meterSilent(m.ID) {
			continue
		}
		last, have, err := s.j.LastTime(ctx, m.ID, meterdata.KindMonthly)
		if err != nil {
			s.log.Error("journal lookup failed", "meter", m.ID, "err", err)
			continue
		}
		if have && time.Since(last) < settlementMinGap {
			continue // no new settlement yet
		}
		depth := MaxSettlements
		if !have {
			depth = r.opt.FirstSettlements
		}
		got, met, err := readBack(ctx, depth, last, have, func(n int) (time.Time, map[string]int64, error) {
			return sr.ReadSettlement(ctx, m.Address, n)
		})
		if err != nil {
			if ctx.Err() == nil {
				s.failed(m.ID, fmt.Errorf("settlement values: %w", err))
			}
			continue
		}
		if !met {
			r.c.settlementGaps.Add(1)
			from := got[0].Time
			s.log.Warn("settlement values older than the meter's memory are lost: gap", "meter", m.ID,
				"journaled_until", last, "meter_memory_from", from)
			s.gapEvent(ctx, m.ID, journal.CodeGapSettlement, last, from,
				fmt.Sprintf("settlement values after %s and before %s are older than the meter's memory: lost",
					last.Format(time.DateOnly), from.Format(time.DateOnly)))
		}
		if len(got) == 0 {
			continue
		}
		for i := range got {
			got[i].Meter, got[i].Kind = m.ID, meterdata.KindMonthly
			if time.Since(got[i].Time) > 2*r.opt.SettlementInterval {
				got[i].Quality = meterdata.QualityBackfilled
			}
		}
		added, _, err := s.j.Append(ctx, got)
		if err != nil {
			s.log.Error("journal append failed: settlement values not kept", "meter", m.ID, "err", err)
			continue
		}
		r.c.settlements.Add(uint64(len(added)))
		if s.opt.OnAppended != nil {
			s.opt.OnAppended()
		}
	}
}

// readBack reads records n = 1 (the latest) … depth from a meter's memory until one is not
// newer than last (when have), and returns those newer, oldest first, without meter or
// kind. met is false when depth was reached without meeting last nor the end of the
// meter's memory: the records between are lost. An error other than ErrNoRecord names n.
func readBack(ctx context.Context, depth int, last time.Time, have bool, read func(n int) (time.Time, map[string]int64, error)) (got []meterdata.Reading, met bool, err error) {
	met = !have // a first read has nothing to meet
	for n := 1; n <= depth; n++ {
		at, vals, err := read(n)
		if errors.Is(err, ErrNoRecord) {
			met = true // the meter's memory ends here
			break
		}
		if err != nil {
			return nil, false, fmt.Errorf("%d back: %w", n, err)
		}
		at = at.UTC()
		if have && !at.After(last) {
			met = true
			break
		}
		if len(got) > 0 && !at.Before(got[len(got)-1].Time) {
			return nil, false, fmt.Errorf("%d back: time %s not before the newer record's %s", n,
				at.Format(time.RFC3339), got[len(got)-1].Time.Format(time.RFC3339))
		}
		got = append(got, meterdata.Reading{Time: at, Values: vals})
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
	}
	slices.Reverse(got) // oldest first, so sequence numbers follow time
	return got, met, nil
}
