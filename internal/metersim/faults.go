package metersim

import (
	"errors"
	"fmt"
	"time"

	"gridmeter/internal/dlt645"
)

// Outage is a supply interruption of one meter: from Start to End the meter has no
// supply, answers nothing and consumes nothing; its clock runs on and its daily and
// settlement freezes are made up (with the registers as they stood), but it writes no
// load profile record. When the supply returns it writes a power-down event record
// (03110000 counts it, 03110001 holds its start and end by the meter's clock).
type Outage struct {
	Start, End time.Time
}

type outage struct{ start, end int64 } // Unix ms

// Faults are what can go wrong with one meter, to test how a master copes.
//
// The communication faults hit a request addressed to the meter (not broadcasts) with
// probability Probability, decided by a hash of the simulator's seed, the meter and the
// request's number, so a run repeats exactly when the requests do. A hit request gets
// every communication fault configured: no answer at all, or the reply replaced by an
// abnormal reply, sent Late, with a bad checksum, after garbage bytes.
//
// The register fault is a meter exchange (换表): at ExchangeAt the meter is replaced by
// a new one with the same address whose registers start at ExchangeStartWh and whose
// memory (freezes, settlements, load profile, events) is empty. The other register
// fault, rollover at 999 999.99 kWh, is set with MeterSpec.StartImportWh just below it.
type Faults struct {
	NoAnswer    bool             // the meter stays silent
	Late        time.Duration    // the reply comes this much later (real time, not simulated)
	BadChecksum bool             // the reply's checksum is wrong
	Garbage     int              // bytes of line noise before the reply (at most 64)
	Abnormal    dlt645.ErrorCode // the reply is an abnormal reply with this error code (0: none)
	Probability float64          // share of requests hit, 0…1; 0 means every request

	ExchangeAt      time.Time // meter exchange; zero for none
	ExchangeStartWh int64     // the new meter's forward active total register, Wh
}

// hasComm reports whether any communication fault is configured.
func (f Faults) hasComm() bool {
	return f.NoAnswer || f.Late > 0 || f.BadChecksum || f.Garbage > 0 || f.Abnormal != 0
}

func (f Faults) validate() error {
	switch {
	case f.Late < 0:
		return errors.New("faults: negative late")
	case f.Garbage < 0 || f.Garbage > 64:
		return fmt.Errorf("faults: %d garbage bytes, want 0…64", f.Garbage)
	case f.Probability < 0 || f.Probability > 1:
		return fmt.Errorf("faults: probability %v outside 0…1", f.Probability)
	case f.ExchangeStartWh < 0 || f.ExchangeStartWh >= registerWrap:
		return fmt.Errorf("faults: exchange start register %d Wh outside 0…999999990", f.ExchangeStartWh)
	}
	return nil
}

// commFault is the decision for one request.
type commFault struct {
	silent   bool
	abnormal dlt645.ErrorCode
	late     time.Duration
	badCS    bool
	garbage  []byte
}

// commFault decides the communication faults of the next request to the meter.
func (m *Meter) commFault() commFault {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.faults
	n := m.requests
	m.requests++
	if !f.hasComm() {
		return commFault{}
	}
	if f.Probability > 0 && f.Probability < 1 {
		u := float64(hash(m.seed, streamFault, int64(n))>>11) / (1 << 53)
		if u >= f.Probability {
			return commFault{}
		}
	}
	c := commFault{silent: f.NoAnswer, abnormal: f.Abnormal, late: f.Late, badCS: f.BadChecksum}
	for i := range f.Garbage {
		c.garbage = append(c.garbage, byte(hash(m.seed, streamGarbage, int64(n)*64+int64(i))))
	}
	return c
}
