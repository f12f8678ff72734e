package acquisition

import (
	"context"
	"fmt"
	"time"

	"gridmeter/internal/meterdata"
)

// RegisterWrap is where a DL/T 645 energy register (XXXXXX.XX kWh) rolls over, in Wh.
const RegisterWrap = 1_000_000_000

// counterFault says why a cumulative register reading is not a plain increase.
type counterFault string

const (
	faultNone     counterFault = ""
	faultZero     counterFault = "bogus zero"     // reads 0 after a positive value
	faultRollover counterFault = "rollover"       // wrapped past RegisterWrap
	faultExchange counterFault = "meter exchange" // restarted low: a new meter, or a cleared one
)

// classifyCounter judges a register's new value against its previous one. Near the wrap, a
// small new value is a rollover (the reading is right, but a difference across it needs
// the wrap added); any other decrease is an exchange; zero after a positive value is a
// bogus read. Each is flagged suspect so that nobody turns it into a spike.
func classifyCounter(prev, cur int64, wrap int64) counterFault {
	switch {
	case cur >= prev:
		return faultNone
	case cur == 0:
		return faultZero
	case wrap > 0 && prev > wrap-wrap/100 && cur < wrap/100:
		return faultRollover
	default:
		return faultExchange
	}
}

// lastImport returns the previous import register of a meter: from memory, or on the
// first reading after a (re)start from the journal's newest instant reading.
func (s *Scheduler) lastImport(ctx context.Context, id meterdata.MeterID) (int64, bool) {
	s.mu.Lock()
	st := s.meters[id]
	v, ok := st.lastImport, st.haveImport
	s.mu.Unlock()
	if ok {
		return v, true
	}
	e, found, err := s.j.Latest(ctx, id, meterdata.KindInstant, time.Now().Add(time.Hour))
	if err != nil || !found {
		return 0, false
	}
	v, ok = e.Reading.Values["e_imp"]
	return v, ok
}

// checkCounters flags the reading suspect when its import register is implausible, and
// remembers the register for the next reading. It returns the fault and the previous value
// for the log.
func (s *Scheduler) checkCounters(ctx context.Context, r *meterdata.Reading, wrap int64) (counterFault, int64) {
	cur, ok := r.Values["e_imp"]
	if !ok {
		return faultNone, 0
	}
	fault := faultNone
	prev, have := s.lastImport(ctx, r.Meter)
	if have {
		fault = classifyCounter(prev, cur, wrap)
	}
	if fault != faultNone {
		r.Quality |= meterdata.QualitySuspect
		s.counterFaults.Add(1)
	}
	s.mu.Lock()
	st := s.meters[r.Meter]
	if fault != faultZero { // a bogus zero is not the new baseline
		st.lastImport, st.haveImport = cur, true
	}
	st.LastCounterFault = string(fault)
	s.mu.Unlock()
	return fault, prev
}

func (f counterFault) describe(prev int64) string {
	return fmt.Sprintf("%s (previous import register %d Wh)", string(f), prev)
}
