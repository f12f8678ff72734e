package metersim

import (
	"fmt"
	"math"
	"sync"
	"time"

	"gridmeter/internal/dlt645"
)

// Step is the integration step of the energy registers: power is constant within each
// 10-second step (aligned on Unix time, hence on every local hour), and the registers
// add exactly power × time. Instantaneous values change from one step to the next.
const Step = 10 * time.Second

const stepSeconds = int64(Step / time.Second)

// maxPowerW keeps active power inside the XX.XXXX kW data format (±79.9999 kW).
const maxPowerW = 79000

// registerWrap is where a XXXXXX.XX kWh register rolls over: 1 000 000 kWh, in Wh.
const registerWrap = 1_000_000_000

const mJPerWh = 3_600_000 // millijoules per watt-hour

// MeterSpec describes one simulated meter.
type MeterSpec struct {
	// Address is the meter's 12-digit DL/T 645 address.
	Address string
	// Customer selects the load shape and size.
	Customer CustomerType
	// PeakW overrides the customer type's typical peak active power, in W (0: typical).
	PeakW int64
	// ExportPeakW gives the meter a solar array exporting up to this many W at noon
	// (0: none). Net export runs the reverse active energy register.
	ExportPeakW int64
}

// Meter is the model of one meter. It is safe for concurrent use. Its answers depend
// only on its seed, its spec and the instants it is asked about; the energy registers
// additionally never run backwards, so asking about an instant before the latest one
// asked returns the registers of the latest.
type Meter struct {
	addr     dlt645.Address
	spec     MeterSpec
	seed     uint64 // this meter's noise
	gridSeed uint64 // the grid's noise, shared by every meter of a simulator (frequency)
	loc      *time.Location
	prof     *profile

	peakW   float64
	phaseW  [3]float64 // share of each phase
	pfBase  float64
	voltage [3]float64 // each phase's nominal voltage, V

	mu     sync.Mutex
	step   int64    // registers hold every step before this one
	impMJ  [4]int64 // forward active energy per rate, mJ
	expMJ  int64    // reverse active energy, mJ
	latest time.Time
	offset time.Duration // meter clock minus true time
}

// NewMeter returns the model of one meter whose registers start, at the 10-second step
// containing start, at seeded plausible values. seed is the simulator's seed (meters
// with different addresses get different noise from it); loc is the meter's time zone,
// which places the load shape and the time-of-use rates.
func NewMeter(spec MeterSpec, seed int64, start time.Time, loc *time.Location) (*Meter, error) {
	addr, err := dlt645.ParseAddress(spec.Address)
	if err != nil {
		return nil, fmt.Errorf("metersim: meter %q: %w", spec.Address, err)
	}
	if len(spec.Address) != 12 || !addr.Valid() || addr.IsBroadcast() {
		return nil, fmt.Errorf("metersim: meter %q: want 12 decimal digits, not the broadcast address", spec.Address)
	}
	if !spec.Customer.valid() {
		return nil, fmt.Errorf("metersim: meter %s: unknown customer type %d", spec.Address, spec.Customer)
	}
	if spec.PeakW < 0 || spec.PeakW > maxPowerW || spec.ExportPeakW < 0 || spec.ExportPeakW > maxPowerW {
		return nil, fmt.Errorf("metersim: meter %s: peak powers must be 0…%d W", spec.Address, maxPowerW)
	}
	if loc == nil {
		loc = ChinaStandardTime
	}
	var digits uint64
	for _, c := range spec.Address {
		digits = digits*10 + uint64(c-'0')
	}
	m := &Meter{
		addr:     addr,
		spec:     spec,
		seed:     mix(uint64(seed) ^ mix(digits)),
		gridSeed: mix(uint64(seed) ^ 0x6772696400000000), // "grid"
		loc:      loc,
		prof:     &profiles[spec.Customer],
	}
	m.peakW = float64(spec.PeakW)
	if m.peakW == 0 {
		m.peakW = m.prof.peakW * param(m.seed, 0, 0.8, 1.2)
	}
	var sum float64
	for i := range m.phaseW {
		m.phaseW[i] = param(m.seed, int64(1+i), 0.9, 1.1)
		sum += m.phaseW[i]
		m.voltage[i] = param(m.seed, int64(4+i), 217, 224)
	}
	for i := range m.phaseW {
		m.phaseW[i] /= sum
	}
	m.pfBase = param(m.seed, 7, m.prof.pfLo, m.prof.pfHi)
	m.offset = time.Duration(param(m.seed, 8, -30, 30) * float64(time.Second)).Truncate(time.Second)

	// Initial registers: a total in the type's range split over the four rates.
	totalMJ := int64(param(m.seed, 9, m.prof.initLo, m.prof.initHi) * 1000 * mJPerWh)
	share := [4]float64{0.10, 0.30, 0.35, 0.25}
	var left = totalMJ
	for r := 0; r < 3; r++ {
		m.impMJ[r] = int64(float64(totalMJ) * share[r] * param(m.seed, int64(10+r), 0.8, 1.2))
		left -= m.impMJ[r]
	}
	m.impMJ[3] = left
	if spec.ExportPeakW > 0 {
		m.expMJ = int64(param(m.seed, 13, 100, 2000) * 1000 * mJPerWh)
	}
	m.step = floorDiv(start.Unix(), stepSeconds)
	m.latest = time.Unix(m.step*stepSeconds, 0)
	return m, nil
}

// ChinaStandardTime is UTC+8 without daylight saving time, the default meter time zone.
var ChinaStandardTime = time.FixedZone("CST", 8*3600)

// Address returns the meter's address.
func (m *Meter) Address() dlt645.Address { return m.addr }

// Spec returns the meter's spec as given.
func (m *Meter) Spec() MeterSpec { return m.spec }

// Location returns the meter's time zone.
func (m *Meter) Location() *time.Location { return m.loc }

// Sample is everything the meter measures at one instant, in meterdata units and at the
// resolution of the DL/T 645 data formats, so that a value read over the wire equals the
// sample's exactly.
type Sample struct {
	Time     time.Time
	U        [3]int64 // phase voltages, mV (0.1 V steps)
	I        [3]int64 // phase currents, mA, signed like the phase's power
	P        int64    // total active power, mW (0.1 W steps), + import, − export
	PPhase   [3]int64 // phase active power, mW; they add up to P
	Q        int64    // total reactive power, mvar (0.1 var steps)
	PF       int64    // total power factor, thousandths, signed like P
	F        int64    // grid frequency, mHz (10 mHz steps)
	EImp     int64    // forward active energy, total, Wh (10 Wh steps, rolls over at 1 000 000 kWh)
	EImpRate [4]int64 // forward active energy per rate 1…4, Wh
	EExp     int64    // reverse active energy, total, Wh
	Status1  int64    // run status word 1: bit 4 active power reverse
	Status3  int64    // run status word 3: bit 4 relay open (always closed for now)
}

// Values returns the sample as meterdata channel values.
func (s Sample) Values() map[string]int64 {
	return map[string]int64{
		"u_a": s.U[0], "u_b": s.U[1], "u_c": s.U[2],
		"i_a": s.I[0], "i_b": s.I[1], "i_c": s.I[2],
		"p": s.P, "p_a": s.PPhase[0], "p_b": s.PPhase[1], "p_c": s.PPhase[2],
		"q": s.Q, "pf": s.PF, "f": s.F,
		"e_imp": s.EImp, "e_imp_t1": s.EImpRate[0], "e_imp_t2": s.EImpRate[1],
		"e_imp_t3": s.EImpRate[2], "e_imp_t4": s.EImpRate[3],
		"e_exp":   s.EExp,
		"status1": s.Status1, "status3": s.Status3,
	}
}

// Sample returns what the meter measures at t.
func (m *Meter) Sample(t time.Time) Sample {
	k := floorDiv(t.Unix(), stepSeconds)
	lt := time.Unix(k*stepSeconds+stepSeconds/2, 0).In(m.loc)
	p := m.powerMW(k, lt)
	s := Sample{Time: t, P: p}

	// Phases: shares wander a little around the meter's own split; C takes the rest so
	// the phases add up to the total exactly.
	var w [3]float64
	var sum float64
	for i := range w {
		w[i] = m.phaseW[i] * (1 + 0.05*smooth(m.seed, streamPhase+uint64(i), k*stepSeconds, 600))
		sum += w[i]
	}
	s.PPhase[0] = roundTo(float64(p)*w[0]/sum, 100)
	s.PPhase[1] = roundTo(float64(p)*w[1]/sum, 100)
	s.PPhase[2] = p - s.PPhase[0] - s.PPhase[1]

	// Power factor: the meter's own, wandering slowly; signed like the active power.
	pf := clamp(m.pfBase+0.01*smooth(m.seed, streamPF, k*stepSeconds, 1800), 0.90, 0.99)
	pfMilli := int64(math.Round(pf * 1000))
	pf = float64(pfMilli) / 1000
	s.PF = pfMilli
	if p < 0 {
		s.PF = -pfMilli
	}
	// Reactive power of an inductive load: Q = |P| tan φ.
	s.Q = roundTo(math.Abs(float64(p))*math.Tan(math.Acos(pf)), 100)

	for i := range s.U {
		// Nominal voltage, slow drift of ±1.5 %, a little flicker, and a drop under load.
		u := m.voltage[i] * (1 + 0.015*smooth(m.seed, streamVoltage+uint64(i), k*stepSeconds, 900) +
			0.002*white(m.seed, streamVoltageWhite+uint64(i), k))
		u -= 3 * math.Abs(float64(s.PPhase[i])) / 1000 / (m.peakW / 3)
		s.U[i] = roundTo(u*1000, 100)
		// I = P / (U · PF), in mA: mW / V / PF.
		s.I[i] = int64(math.Round(float64(s.PPhase[i]) / (float64(s.U[i]) / 1000) / pf))
	}

	// Grid frequency: one value for every meter of the simulator, within ±0.05 Hz.
	f := 50 + 0.04*smooth(m.gridSeed, streamFrequency, k*stepSeconds, 120) +
		0.01*white(m.gridSeed, streamFrequency, k)
	s.F = roundTo(clamp(f, 49.95, 50.05)*1000, 10)

	if p < 0 {
		s.Status1 |= 1 << 4
	}

	imp, exp := m.registers(t, k, p, lt)
	var total int64
	for r := range imp {
		total += imp[r]
		s.EImpRate[r] = registerWh(imp[r])
	}
	s.EImp = registerWh(total)
	s.EExp = registerWh(exp)
	return s
}

// registerWh shows an energy in mJ as a XXXXXX.XX kWh register does: whole 10 Wh,
// rolling over at 1 000 000 kWh.
func registerWh(mJ int64) int64 {
	return (mJ / mJPerWh / 10 * 10) % registerWrap
}

// registers advances the energy integral to t and returns the registers in mJ. k, p and
// lt are t's step, power and local mid-step time, already computed by the caller.
func (m *Meter) registers(t time.Time, k, p int64, lt time.Time) ([4]int64, int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t.Before(m.latest) {
		// The registers never run backwards: report them as of the latest instant.
		t = m.latest
		k = floorDiv(t.Unix(), stepSeconds)
		lt = time.Unix(k*stepSeconds+stepSeconds/2, 0).In(m.loc)
		p = m.powerMW(k, lt)
	}
	m.latest = t
	for m.step < k {
		mid := time.Unix(m.step*stepSeconds+stepSeconds/2, 0).In(m.loc)
		m.add(m.powerMW(m.step, mid)*stepSeconds, mid)
		m.step++
	}
	imp, exp := m.impMJ, m.expMJ
	if k == m.step {
		// The part of the current step up to t: P × elapsed, elapsed in ms.
		elapsed := t.Sub(time.Unix(k*stepSeconds, 0)).Milliseconds()
		e := p * elapsed / 1000
		if e >= 0 {
			imp[touRate[lt.Hour()]-1] += e
		} else {
			exp -= e
		}
	}
	return imp, exp
}

// add books one step's energy (mJ, signed) to the rate of its local time.
func (m *Meter) add(mJ int64, lt time.Time) {
	if mJ >= 0 {
		m.impMJ[touRate[lt.Hour()]-1] += mJ
	} else {
		m.expMJ -= mJ
	}
}

// powerMW is the active power during step k, in mW at the 0.1 W resolution of the
// XX.XXXX kW format. lt is the local time in the middle of the step.
func (m *Meter) powerMW(k int64, lt time.Time) int64 {
	ts := k * stepSeconds
	load := m.peakW * m.prof.at(lt) *
		(1 + 0.15*smooth(m.seed, streamLoad, ts, 900)) *
		(1 + 0.03*white(m.seed, streamLoadWhite, k))
	load = math.Max(load, 0.01*m.peakW)
	var pv float64
	if m.spec.ExportPeakW > 0 {
		clouds := 0.75 + 0.25*smooth(m.seed, streamCloud, ts, 1800)
		pv = float64(m.spec.ExportPeakW) * solar(lt) * clouds
	}
	w := clamp(load-pv, -maxPowerW, maxPowerW)
	return roundTo(w*1000, 100)
}

// Clock returns the meter's own clock reading at true time t, in its time zone: the
// clock is off by a few seconds until a time sync sets it.
func (m *Meter) Clock(t time.Time) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return t.Add(m.offset).In(m.loc)
}

// SetClock sets the meter's clock so that at true time t it reads meterTime.
func (m *Meter) SetClock(t, meterTime time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.offset = meterTime.Sub(t)
}

// ReadDLT645 returns the value bytes (after the data identifier, without the +33H
// offset) the meter sends at t for di, or an error wrapping dlt645.ErrUnknownDI for an
// identifier it does not have.
func (m *Meter) ReadDLT645(t time.Time, di dlt645.DI) ([]byte, error) {
	switch di {
	case dlt645.DIDate:
		return dlt645.AppendDate(nil, m.Clock(t))
	case dlt645.DITime:
		return dlt645.AppendTime(nil, m.Clock(t)), nil
	}
	e, ok := dlt645.Lookup(di)
	if !ok {
		return nil, fmt.Errorf("meter %s: %w: %s", m.addr, dlt645.ErrUnknownDI, di)
	}
	return e.AppendEncode(make([]byte, 0, e.Size()), m.Sample(t).Values())
}
