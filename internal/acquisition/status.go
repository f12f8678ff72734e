package acquisition

import (
	"context"
	"fmt"
	"time"

	"gridmeter/internal/meterdata"
)

// StatusReader reads a meter's run status words 1 and 3 (DL/T 645 04000501, 04000503) as
// the channels status1 and status3. A bus whose meters have none does not implement it.
type StatusReader interface {
	ReadStatus(ctx context.Context, address string) (map[string]int64, error)
}

// statusPass reads the status words of every meter of the bus that answers and has no
// status reading for slot yet, and journals them (in one batch) as KindStatus keyed by
// slot, the start of the status interval.
func (s *Scheduler) statusPass(ctx context.Context, b Bus, sr StatusReader, slot time.Time, r *memoryRun) {
	var got []meterdata.Reading
	for _, m := range b.Meters {
		s.runJobs(ctx, b)
		if ctx.Err() != nil {
			return
		}
		if s.meterSilent(m.ID) {
			continue
		}
		have, err := s.j.Has(ctx, meterdata.Key{Meter: m.ID, Kind: meterdata.KindStatus, Time: slot.UnixMilli()})
		if err != nil {
			s.log.Error("journal lookup failed", "meter", m.ID, "err", err)
			continue
		}
		if have {
			continue
		}
		vals, err := sr.ReadStatus(ctx, m.Address)
		if err != nil {
			if ctx.Err() == nil {
				s.failed(m.ID, fmt.Errorf("status words: %w", err))
			}
			continue
		}
		got = append(got, meterdata.Reading{Meter: m.ID, Kind: meterdata.KindStatus, Time: slot.UTC(), Values: vals})
	}
	if len(got) == 0 {
		return
	}
	added, _, err := s.j.Append(ctx, got)
	if err != nil {
		s.log.Error("journal append failed: status words not kept", "bus", b.Name, "readings", len(got), "err", err)
		return
	}
	r.c.statuses.Add(uint64(len(added)))
	if s.opt.OnAppended != nil {
		s.opt.OnAppended()
	}
}
