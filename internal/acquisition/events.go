package acquisition

import (
	"context"
	"errors"
	"time"

	"gridmeter/internal/journal"
	"gridmeter/internal/meterdata"
)

// PowerDownReader reads a meter's own power-down records: how many it has recorded so far,
// and the n-th latest (1 = the newest) with its start and end (end zero while it lasts).
type PowerDownReader interface {
	PowerDownCount(ctx context.Context, address string) (int, error)
	PowerDown(ctx context.Context, address string, n int) (start, end time.Time, err error)
}

// MaxPowerDownRecords is how many power-down records a DL/T 645 meter keeps.
const MaxPowerDownRecords = 10

// commEvent records that the terminal lost (silent) or regained a meter, on the transition.
func (s *Scheduler) commEvent(ctx context.Context, id meterdata.MeterID, silent bool) {
	s.mu.Lock()
	st := s.meters[id]
	changed := st.silent != silent
	st.silent = silent
	s.mu.Unlock()
	if !changed {
		return
	}
	e := journal.Event{Meter: id, Time: time.Now().UTC(), Log: journal.LogCommunications, Code: journal.CodeMeterSilent, On: silent}
	if _, err := s.j.AppendEvents(ctx, []journal.Event{e}); err != nil && ctx.Err() == nil {
		s.log.Error("journal event append failed", "meter", id, "err", err)
	}
}

// powerDowns reads the power-down records the meter made since the last pass (all it keeps
// on the first pass after a start: the journal skips those it has) and journals each as a
// supply event: lost at its start, restored at its end.
func (s *Scheduler) powerDowns(ctx context.Context, m meterdata.Meter, pr PowerDownReader) {
	count, err := pr.PowerDownCount(ctx, m.Address)
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, ErrNoRecord) {
			s.log.Warn("power-down count not read", "meter", m.ID, "err", err)
		}
		return
	}
	s.mu.Lock()
	st := s.meters[m.ID]
	known, first := st.powerDowns, !st.havePowerDowns
	s.mu.Unlock()
	n := count - known
	if first || n < 0 { // after a start, or the meter was cleared: read what it keeps
		n = count
	}
	n = min(n, MaxPowerDownRecords)
	var es []journal.Event
	for i := 1; i <= n; i++ {
		start, end, err := pr.PowerDown(ctx, m.Address, i)
		if errors.Is(err, ErrNoRecord) {
			break
		}
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("power-down record not read", "meter", m.ID, "n", i, "err", err)
			}
			return // retried at the next pass: the count is not advanced
		}
		es = append(es, journal.Event{Meter: m.ID, Time: start.UTC(), Log: journal.LogSupply, Code: journal.CodePowerDown, On: true})
		if !end.IsZero() {
			es = append(es, journal.Event{Meter: m.ID, Time: end.UTC(), Log: journal.LogSupply, Code: journal.CodePowerDown, On: false})
		}
	}
	if len(es) > 0 {
		added, err := s.j.AppendEvents(ctx, es)
		if err != nil {
			s.log.Error("journal event append failed", "meter", m.ID, "err", err)
			return
		}
		s.powerDownEvents.Add(uint64(added))
	}
	s.mu.Lock()
	st.powerDowns, st.havePowerDowns = count, true
	s.mu.Unlock()
}
