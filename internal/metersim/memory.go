package metersim

import (
	"time"

	"gridmeter/internal/dlt645"
)

// memory is what a meter keeps, newest last in each ring. Records are compact (registers
// in their 10 Wh steps, times in minutes of the meter's clock) so that thousands of
// meters fit one process: a full meter holds 62 daily and 12 settlement records of 44
// bytes, 10 power-down records of 16 bytes and ProfileDays × 96 load profile records of
// 24 bytes (about 6.9 KB for the default 3 days), allocated as they fill.
type memory struct {
	daily          ring[frozenRecord]  // 日冻结, 62 deep
	settle         ring[frozenRecord]  // 结算日, 12 deep
	instant        ring[frozenRecord]  // 瞬时冻结, 3 deep
	profile        ring[profileRecord] // 负荷记录, ProfileDays × 96 deep
	powerDowns     ring[eventRecord]   // 掉电, 10 deep
	powerDownCount int
}

// newMemory returns an empty memory with the depths of DL/T 645-2007 meters.
func newMemory(profileSize int) memory {
	return memory{
		daily:      ring[frozenRecord]{size: dlt645.MaxDailyFrozen},
		settle:     ring[frozenRecord]{size: dlt645.MaxSettlements},
		instant:    ring[frozenRecord]{size: dlt645.MaxInstantFrozen},
		profile:    ring[profileRecord]{size: profileSize},
		powerDowns: ring[eventRecord]{size: dlt645.MaxPowerDownRecords},
	}
}

// frozenNow is a freeze of the registers as they stand, at the given instant.
func (m *Meter) frozenNow(at time.Time) frozenRecord {
	imp, impRates := registers(m.imp)
	exp, expRates := registers(m.exp)
	r := frozenRecord{minute: uint32(at.Unix() / 60)}
	r.imp[0], r.exp[0] = uint32(imp/10), uint32(exp/10)
	for i := range 4 {
		r.imp[i+1], r.exp[i+1] = uint32(impRates[i]/10), uint32(expRates[i]/10)
	}
	return r
}

// frozenRecord is a freeze: its time (the nominal freeze instant, Unix minutes) and the
// registers, total then rates 1…4, in 10 Wh.
type frozenRecord struct {
	minute   uint32
	imp, exp [5]uint32
}

// profileRecord is a 15-minute load profile record: the meter-clock instant (Unix
// minutes), the meter clock's offset then (to find the true instant and recompute the
// instantaneous values, which the load model gives exactly), the energy registers in
// 10 Wh, and whether the relay was open.
type profileRecord struct {
	minute    uint32
	imp, exp  uint32
	relayOpen bool
	offMs     int64
}

// eventRecord is a power-down event: start and end by the meter's clock, Unix ms; end 0
// while it lasts.
type eventRecord struct {
	start, end int64
}

func (mem *memory) powerDown(meterMs int64) {
	mem.powerDownCount++
	mem.powerDowns.push(eventRecord{start: meterMs})
}

func (mem *memory) powerUp(meterMs int64) {
	if last := mem.powerDowns.last(); last != nil && last.end == 0 {
		last.end = meterMs
	}
}

// ring keeps the last size values pushed.
type ring[T any] struct {
	buf  []T
	next int // index of the oldest value once full
	size int
}

func (r *ring[T]) push(v T) {
	if r.size == 0 {
		return
	}
	if len(r.buf) < r.size {
		if len(r.buf) == cap(r.buf) { // grow, but never past size
			buf := make([]T, len(r.buf), min(r.size, 2*len(r.buf)+4))
			copy(buf, r.buf)
			r.buf = buf
		}
		r.buf = append(r.buf, v)
		return
	}
	r.buf[r.next] = v
	r.next = (r.next + 1) % r.size
}

func (r *ring[T]) len() int { return len(r.buf) }

// nth returns the n-th most recent value, n = 1 the newest.
func (r *ring[T]) nth(n int) (T, bool) {
	var zero T
	if n < 1 || n > len(r.buf) {
		return zero, false
	}
	return r.buf[(r.next+len(r.buf)-n)%len(r.buf)], true
}

// at returns the i-th oldest value, i = 0 the oldest.
func (r *ring[T]) at(i int) T { return r.buf[(r.next+i)%len(r.buf)] }

func (r *ring[T]) last() *T {
	if len(r.buf) == 0 {
		return nil
	}
	return &r.buf[(r.next+len(r.buf)-1)%len(r.buf)]
}

// DailyFrozen returns the n-th previous daily freeze as the meter keeps it (n = 1 the
// latest), after running the meter to t, or false if it has none.
func (m *Meter) DailyFrozen(t time.Time, n int) (dlt645.FrozenRecord, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(t.UnixMilli())
	r, ok := m.mem.daily.nth(n)
	return r.record(m.loc), ok
}

// Settlement returns the n-th previous settlement record, its Time the settlement
// instant, or false if it has none.
func (m *Meter) Settlement(t time.Time, n int) (dlt645.FrozenRecord, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(t.UnixMilli())
	r, ok := m.mem.settle.nth(n)
	return r.record(m.loc), ok
}

// LoadProfile returns the load profile records the meter holds at t, oldest first.
func (m *Meter) LoadProfile(t time.Time) []dlt645.LoadRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(t.UnixMilli())
	out := make([]dlt645.LoadRecord, m.mem.profile.len())
	for i := range out {
		out[i] = m.loadRecord(m.mem.profile.at(i))
	}
	return out
}

// PowerDowns returns the power-down count and the records the meter holds at t, the
// latest first.
func (m *Meter) PowerDowns(t time.Time) (int, []dlt645.PowerDownEvent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(t.UnixMilli())
	out := make([]dlt645.PowerDownEvent, m.mem.powerDowns.len())
	for i := range out {
		e, _ := m.mem.powerDowns.nth(i + 1)
		out[i] = e.event(m.loc)
	}
	return m.mem.powerDownCount, out
}

func (r frozenRecord) record(loc *time.Location) dlt645.FrozenRecord {
	out := dlt645.FrozenRecord{
		Time:    time.Unix(int64(r.minute)*60, 0).In(loc),
		Forward: make([]int64, 5),
		Reverse: make([]int64, 5),
	}
	for i := range 5 {
		out.Forward[i] = int64(r.imp[i]) * 10
		out.Reverse[i] = int64(r.exp[i]) * 10
	}
	return out
}

func (e eventRecord) event(loc *time.Location) dlt645.PowerDownEvent {
	out := dlt645.PowerDownEvent{Start: time.UnixMilli(e.start).In(loc).Truncate(time.Second)}
	if e.end != 0 {
		out.End = time.UnixMilli(e.end).In(loc).Truncate(time.Second)
	}
	return out
}

// loadRecord rebuilds a load profile record: the registers as booked, the instantaneous
// values recomputed at the record's true instant with the relay as it was.
func (m *Meter) loadRecord(p profileRecord) dlt645.LoadRecord {
	meterMs := int64(p.minute) * 60000
	s := m.instant(meterMs-p.offMs, true, p.relayOpen)
	q := phaseReactive(s)
	pf := s.PF
	return dlt645.LoadRecord{
		Time:          time.UnixMilli(meterMs).In(m.loc),
		Classes:       simLoadClasses,
		Voltage:       s.U,
		Current:       s.I,
		Frequency:     s.F,
		ActivePower:   [4]int64{s.P, s.PPhase[0], s.PPhase[1], s.PPhase[2]},
		ReactivePower: [4]int64{s.Q, q[0], q[1], q[2]},
		PowerFactor:   [4]int64{pf, pf, pf, pf},
		ForwardActive: int64(p.imp) * 10,
		ReverseActive: int64(p.exp) * 10,
		// Combined reactive energy is not simulated: sent as 0.
	}
}

// simLoadClasses are the load record classes the simulator records: voltage, current
// and frequency; power; power factor; energy. Four-quadrant reactive energy and demand
// are not simulated and their classes are left empty (separator only).
const simLoadClasses = dlt645.LoadVoltageCurrent | dlt645.LoadPower | dlt645.LoadPowerFactor | dlt645.LoadEnergy
