package metersim

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"gridmeter/internal/dlt645"
)

// Step is the step of the load model: power is constant within each 10-second step
// (aligned on Unix time, hence on every local hour). The energy registers add exactly
// power × time, in µJ (mW × ms), so they do not depend on how often the meter is asked:
// a relay operation or an outage in the middle of a step cuts the step's energy there.
const Step = 10 * time.Second

const stepMs = int64(Step / time.Millisecond)

// maxPowerW keeps active power inside the XX.XXXX kW data format (±79.9999 kW).
const maxPowerW = 79000

// registerWrap is where a XXXXXX.XX kWh register rolls over: 1 000 000 kWh, in Wh.
const registerWrap = 1_000_000_000

const (
	uJPerWh     = 3_600_000_000          // µJ per Wh
	uJPer10Wh   = 10 * uJPerWh           // one step of a XXXXXX.XX kWh register
	wrapUJ      = registerWrap * uJPerWh // 1 000 000 kWh in µJ
	profileMs   = int64(15 * time.Minute / time.Millisecond)
	maxProfDays = 31
)

// Defaults of MeterSpec fields left zero.
const (
	DefaultProfileDays = 3           // load profile depth: 3 days of 15-minute records
	DefaultCloseDelay  = time.Minute // close allowed → the customer presses the button
)

// DefaultSettlement is the settlement instant when MeterSpec.Settlement is zero: the
// 1st of the month, 00:00.
var DefaultSettlement = dlt645.SettlementDay{Day: 1, Hour: 0}

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

	// StartImportWh sets the forward active total register at the start, in Wh (0: a
	// seeded plausible value). A value just below 999 999.99 kWh makes the register roll
	// over to 0 soon after: the rollover fault.
	StartImportWh int64
	// Password is the password of level 02 that control and write commands must carry
	// (the six digits as printed: 0x123456 for "123456"; default 000000).
	Password uint32
	// EncryptedControl makes the meter refuse every plain control and write command with
	// 04H (unauthorised), like a State Grid meter that accepts only ESAM-protected
	// (level 98H) commands, which the simulator does not implement.
	EncryptedControl bool
	// CloseDelay is how long after a close-allowed command (合闸允许) the customer
	// presses the button that closes the relay (0: DefaultCloseDelay).
	CloseDelay time.Duration
	// Settlement is the monthly settlement instant (0: DefaultSettlement, the 1st 00:00);
	// the master may change it with a write of 04000B01.
	Settlement dlt645.SettlementDay
	// ProfileDays is the depth of the 15-minute load profile (0: DefaultProfileDays;
	// at most 31).
	ProfileDays int
	// Outages are the supply interruptions: the meter is silent from Start to End and
	// consumes nothing; on return it writes a power-down record.
	Outages []Outage
	// Faults are the communication and register faults to inject.
	Faults Faults
}

// Meter is the model of one meter. It is safe for concurrent use. Its answers depend
// only on its seed, its spec, the commands it receives and the instants it is asked
// about, never on the wall clock; the energy registers never run backwards, so asking
// about an instant before the latest one asked returns the registers of the latest.
//
// Everything the meter keeps — registers, freezes, load profile, relay, events — moves
// when the meter is asked about a later instant: Sample, a read or a command at t first
// runs the meter's clockwork up to t. The records are therefore the same whether the
// meter was asked every second or once a month.
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

	closeDelay int64 // ms
	outages    []outage

	mu       sync.Mutex
	at       int64    // registers hold everything before this instant, Unix ms
	imp      [4]int64 // forward active energy per rate, µJ (each below wrapUJ)
	exp      [4]int64 // reverse active energy per rate, µJ
	offMs    int64    // meter clock minus true time, ms
	settle   dlt645.SettlementDay
	password uint32

	stepK    int64 // step whose power is cached
	stepP    int64 // its power, mW
	stepRate int   // its rate index 0…3

	nextB      int64 // true instant of the next 15-minute boundary of the meter's clock, ms
	lastDay    int   // meter-local date of the last daily freeze, yyyymmdd
	lastSettle int   // month index of the last settlement
	outIdx     int   // first outage not yet over
	inOutage   bool
	relay      relayState
	faults     Faults
	exchanged  bool
	requests   uint64 // requests addressed to the meter, for seeded fault decisions

	mem memory
}

// NewMeter returns the model of one meter whose registers start at start. seed is the
// simulator's seed (meters with different addresses get different noise from it); loc is
// the meter's time zone, which places the load shape, the time-of-use rates, the daily
// freeze and the settlement; its UTC offset must be a whole number of quarter hours.
func NewMeter(spec MeterSpec, seed int64, start time.Time, loc *time.Location) (*Meter, error) {
	addr, err := dlt645.ParseAddress(spec.Address)
	if err != nil {
		return nil, fmt.Errorf("metersim: meter %q: %w", spec.Address, err)
	}
	if len(spec.Address) != 12 || !addr.Valid() || addr.IsBroadcast() {
		return nil, fmt.Errorf("metersim: meter %q: want 12 decimal digits, not the broadcast address", spec.Address)
	}
	if err := spec.validate(); err != nil {
		return nil, fmt.Errorf("metersim: meter %s: %w", spec.Address, err)
	}
	if loc == nil {
		loc = ChinaStandardTime
	}
	if _, off := start.In(loc).Zone(); off%900 != 0 {
		return nil, fmt.Errorf("metersim: meter %s: time zone %s is UTC%+ds, not a whole number of quarter hours", spec.Address, loc, off)
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
		settle:   spec.Settlement,
		password: spec.Password,
		faults:   spec.Faults,
		stepK:    math.MinInt64,
	}
	if m.settle == (dlt645.SettlementDay{}) {
		m.settle = DefaultSettlement
	}
	m.closeDelay = int64(spec.CloseDelay / time.Millisecond)
	if m.closeDelay == 0 {
		m.closeDelay = int64(DefaultCloseDelay / time.Millisecond)
	}
	days := spec.ProfileDays
	if days == 0 {
		days = DefaultProfileDays
	}
	m.mem = newMemory(days * 96)

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
	m.offMs = time.Duration(param(m.seed, 8, -30, 30) * float64(time.Second)).Truncate(time.Second).Milliseconds()

	// Initial registers: a total in the type's range (or as given) split over the rates.
	totalWh := spec.StartImportWh
	if totalWh == 0 {
		totalWh = int64(param(m.seed, 9, m.prof.initLo, m.prof.initHi) * 1000)
	}
	m.imp = m.splitRates(totalWh)
	if spec.ExportPeakW > 0 {
		m.exp[RateFlat-1] = int64(param(m.seed, 13, 100, 2000)*1000) * uJPerWh
	}

	m.at = start.UnixMilli()
	for _, o := range spec.Outages {
		if end := o.End.UnixMilli(); end > m.at {
			m.outages = append(m.outages, outage{max(o.Start.UnixMilli(), m.at), end})
		}
	}
	sort.Slice(m.outages, func(i, j int) bool { return m.outages[i].start < m.outages[j].start })
	m.resetKeys()
	return m, nil
}

// splitRates shares a register value over the four rates like a year of use would.
func (m *Meter) splitRates(totalWh int64) [4]int64 {
	share := [4]float64{0.10, 0.30, 0.35, 0.25}
	var r [4]int64
	left := totalWh
	for i := 0; i < 3; i++ {
		r[i] = int64(float64(totalWh) * share[i] * param(m.seed, int64(10+i), 0.8, 1.2))
		left -= r[i]
	}
	r[3] = left
	for i := range r {
		r[i] *= uJPerWh
	}
	return r
}

// resetKeys starts the daily, settlement and load profile clockwork from the present
// meter time: the next records are at the next boundaries.
func (m *Meter) resetKeys() {
	lt := time.UnixMilli(m.at + m.offMs).In(m.loc)
	m.lastDay = dateKey(lt)
	m.lastSettle = m.settleKey(lt)
	m.nextB = (floorDiv(m.at+m.offMs, profileMs)+1)*profileMs - m.offMs
}

func (s MeterSpec) validate() error {
	switch {
	case !s.Customer.valid():
		return fmt.Errorf("unknown customer type %d", s.Customer)
	case s.PeakW < 0 || s.PeakW > maxPowerW || s.ExportPeakW < 0 || s.ExportPeakW > maxPowerW:
		return fmt.Errorf("peak powers must be 0…%d W", maxPowerW)
	case s.StartImportWh < 0 || s.StartImportWh >= registerWrap:
		return fmt.Errorf("start register %d Wh outside 0…999999990", s.StartImportWh)
	case s.Password>>24 != 0:
		return fmt.Errorf("password %#x wider than 6 digits", s.Password)
	case s.CloseDelay < 0:
		return errors.New("negative close delay")
	case s.ProfileDays < 0 || s.ProfileDays > maxProfDays:
		return fmt.Errorf("load profile of %d days, want 0…%d", s.ProfileDays, maxProfDays)
	case s.Settlement != (dlt645.SettlementDay{}) && s.Settlement.Validate() != nil:
		return s.Settlement.Validate()
	}
	for _, o := range s.Outages {
		if !o.End.After(o.Start) {
			return fmt.Errorf("outage %v…%v does not end after it starts", o.Start, o.End)
		}
	}
	return s.Faults.validate()
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
	U        [3]int64 // phase voltages, mV (0.1 V steps); 0 during an outage
	I        [3]int64 // phase currents, mA, signed like the phase's power
	P        int64    // total active power, mW (0.1 W steps), + import, − export
	PPhase   [3]int64 // phase active power, mW; they add up to P
	Q        int64    // total reactive power, mvar (0.1 var steps)
	PF       int64    // total power factor, thousandths, signed like P (1000 without load)
	F        int64    // grid frequency, mHz (10 mHz steps); 0 during an outage
	EImp     int64    // forward active energy, total, Wh (10 Wh steps, rolls over at 1 000 000 kWh)
	EImpRate [4]int64 // forward active energy per rate 1…4, Wh
	EExp     int64    // reverse active energy, total, Wh
	EExpRate [4]int64 // reverse active energy per rate 1…4, Wh
	Status1  int64    // run status word 1: bit 4 active power reverse
	Status3  int64    // run status word 3: bit 4 relay open, bit 6 trip commanded, bit 12 keep-on
	Powered  bool     // false during an outage: the meter is silent
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
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sample(t)
}

// sample is Sample with m.mu held.
func (m *Meter) sample(t time.Time) Sample {
	m.advance(t.UnixMilli())
	s := m.instant(t.UnixMilli(), !m.inOutage, m.relay.open)
	s.Time = t
	s.EImp, s.EImpRate = registers(m.imp)
	s.EExp, s.EExpRate = registers(m.exp)
	s.Status3 = int64(m.relay.status3())
	return s
}

// registers shows per-rate energies in µJ as XXXXXX.XX kWh registers do: whole 10 Wh,
// rolling over at 1 000 000 kWh; the total is the register of their sum.
func registers(r [4]int64) (total int64, rates [4]int64) {
	var q, rem int64
	for i, v := range r {
		rates[i] = v / uJPer10Wh % (registerWrap / 10) * 10
		q += v / uJPer10Wh
		rem += v % uJPer10Wh
	}
	q += rem / uJPer10Wh
	return q % (registerWrap / 10) * 10, rates
}

// instant computes the instantaneous values at tms (Unix ms): the load model's power if
// the meter is powered and its relay closed, no load otherwise. It depends on nothing
// but the meter's constants and its arguments.
func (m *Meter) instant(tms int64, powered, relayOpen bool) Sample {
	var s Sample
	s.Powered = powered
	k := floorDiv(tms, stepMs)
	if !powered {
		s.PF = 1000
		return s
	}
	var p int64
	if !relayOpen {
		lt := time.UnixMilli(k*stepMs + stepMs/2).In(m.loc)
		p = m.powerMW(k, lt)
	}
	s.P = p
	noLoad := relayOpen
	ks := k * stepMs / 1000 // step start, Unix seconds

	// Phases: shares wander a little around the meter's own split; C takes the rest so
	// the phases add up to the total exactly.
	var w [3]float64
	var sum float64
	for i := range w {
		w[i] = m.phaseW[i] * (1 + 0.05*smooth(m.seed, streamPhase+uint64(i), ks, 600))
		sum += w[i]
	}
	s.PPhase[0] = roundTo(float64(p)*w[0]/sum, 100)
	s.PPhase[1] = roundTo(float64(p)*w[1]/sum, 100)
	s.PPhase[2] = p - s.PPhase[0] - s.PPhase[1]

	// Power factor: the meter's own, wandering slowly; signed like the active power.
	pf := clamp(m.pfBase+0.01*smooth(m.seed, streamPF, ks, 1800), 0.90, 0.99)
	pfMilli := int64(math.Round(pf * 1000))
	pf = float64(pfMilli) / 1000
	s.PF = pfMilli
	if p < 0 {
		s.PF = -pfMilli
	}
	if noLoad {
		s.PF = 1000 // the relay is open: no current, unity by convention
	}
	// Reactive power of an inductive load: Q = |P| tan φ.
	s.Q = roundTo(math.Abs(float64(p))*math.Tan(math.Acos(pf)), 100)

	for i := range s.U {
		// Nominal voltage, slow drift of ±1.5 %, a little flicker, and a drop under load.
		u := m.voltage[i] * (1 + 0.015*smooth(m.seed, streamVoltage+uint64(i), ks, 900) +
			0.002*white(m.seed, streamVoltageWhite+uint64(i), k))
		u -= 3 * math.Abs(float64(s.PPhase[i])) / 1000 / (m.peakW / 3)
		s.U[i] = roundTo(u*1000, 100)
		// I = P / (U · PF), in mA: mW / V / PF.
		s.I[i] = int64(math.Round(float64(s.PPhase[i]) / (float64(s.U[i]) / 1000) / pf))
	}

	// Grid frequency: one value for every meter of the simulator, within ±0.05 Hz.
	f := 50 + 0.04*smooth(m.gridSeed, streamFrequency, ks, 120) +
		0.01*white(m.gridSeed, streamFrequency, k)
	s.F = roundTo(clamp(f, 49.95, 50.05)*1000, 10)

	if p < 0 {
		s.Status1 |= 1 << 4
	}
	return s
}

// phaseReactive splits a sample's reactive power over the phases like its active power.
func phaseReactive(s Sample) [3]int64 {
	var q [3]int64
	pf := float64(abs64(s.PF)) / 1000
	if s.P == 0 || pf >= 1 {
		return q
	}
	for i := range q {
		q[i] = roundTo(math.Abs(float64(s.PPhase[i]))*math.Tan(math.Acos(pf)), 100)
	}
	return q
}

// advance runs the meter from m.at to t (Unix ms): integrates the registers and books
// every freeze, load profile record, relay operation, outage and exchange due on the
// way, in time order. Asking about the past changes nothing.
func (m *Meter) advance(t int64) {
	for {
		m.due()
		if m.at >= t {
			return
		}
		end := min(t, (floorDiv(m.at, stepMs)+1)*stepMs, m.nextB, m.nextEvent())
		m.integrate(end)
	}
}

// present runs the meter to t and returns the meter's present: t, or the latest instant
// it was asked about if that is later. Commands act at the present, never in the past.
func (m *Meter) present(t time.Time) time.Time {
	m.advance(t.UnixMilli())
	if t.UnixMilli() < m.at {
		return time.UnixMilli(m.at)
	}
	return t
}

// nextEvent is the next instant after m.at at which an outage, a relay closing or an
// exchange changes the meter, or MaxInt64.
func (m *Meter) nextEvent() int64 {
	next := int64(math.MaxInt64)
	if m.outIdx < len(m.outages) {
		o := m.outages[m.outIdx]
		if m.inOutage {
			next = o.end
		} else {
			next = o.start
		}
	}
	if m.relay.closeAt > 0 {
		next = min(next, m.relay.closeAt)
	}
	if !m.exchanged && !m.faults.ExchangeAt.IsZero() {
		next = min(next, m.faults.ExchangeAt.UnixMilli())
	}
	return max(next, m.at)
}

// due books everything due at m.at.
func (m *Meter) due() {
	if !m.exchanged && !m.faults.ExchangeAt.IsZero() && m.at >= m.faults.ExchangeAt.UnixMilli() {
		m.exchange()
	}
	for m.outIdx < len(m.outages) {
		o := m.outages[m.outIdx]
		switch {
		case !m.inOutage && m.at >= o.start && m.at < o.end:
			m.inOutage = true
			m.mem.powerDown(m.at + m.offMs)
		case m.inOutage && m.at >= o.end:
			m.inOutage = false
			m.mem.powerUp(m.at + m.offMs)
			m.outIdx++
			continue
		case !m.inOutage && m.at >= o.end:
			m.outIdx++ // an outage added for a time already passed
			continue
		}
		break
	}
	if m.relay.closeAt > 0 && m.at >= m.relay.closeAt {
		m.relay.open, m.relay.closeAt = false, 0
	}
	for m.at >= m.nextB {
		m.boundary()
		m.nextB += profileMs
	}
}

// integrate books the energy from m.at to end, both within one step.
func (m *Meter) integrate(end int64) {
	k := floorDiv(m.at, stepMs)
	if k != m.stepK {
		lt := time.UnixMilli(k*stepMs + stepMs/2).In(m.loc)
		m.stepK, m.stepP, m.stepRate = k, m.powerMW(k, lt), touRate[lt.Hour()]-1
	}
	if !m.inOutage && !m.relay.open {
		e := m.stepP * (end - m.at) // mW × ms = µJ
		if e >= 0 {
			m.imp[m.stepRate] = (m.imp[m.stepRate] + e) % wrapUJ
		} else {
			m.exp[m.stepRate] = (m.exp[m.stepRate] - e) % wrapUJ
		}
	}
	m.at = end
}

// boundary books the records of the 15-minute boundary of the meter's clock at m.nextB:
// the load profile record (not while the supply is off), and the daily freeze and the
// settlement when the meter's date or settlement month has moved on. Freezes are made
// during an outage too, as meters make up missed freezes on power-up.
func (m *Meter) boundary() {
	meterMs := m.nextB + m.offMs
	lt := time.UnixMilli(meterMs).In(m.loc)
	minute := uint32(meterMs / 60000)
	if last := m.mem.profile.last(); !m.inOutage && (last == nil || last.minute < minute) {
		imp, _ := registers(m.imp)
		exp, _ := registers(m.exp)
		m.mem.profile.push(profileRecord{
			minute: minute, offMs: m.offMs,
			imp: uint32(imp / 10), exp: uint32(exp / 10), relayOpen: m.relay.open,
		})
	}
	if d := dateKey(lt); d > m.lastDay {
		m.lastDay = d
		m.mem.daily.push(m.frozenNow(time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, m.loc)))
	}
	if k := m.settleKey(lt); k > m.lastSettle {
		m.lastSettle = k
		m.mem.settle.push(m.frozenNow(time.Date(k/12, time.Month(k%12+1), m.settle.Day, m.settle.Hour, 0, 0, 0, m.loc)))
	}
}

func dateKey(t time.Time) int { return t.Year()*10000 + int(t.Month())*100 + t.Day() }

// settleKey numbers the month of the latest settlement instant at or before lt.
func (m *Meter) settleKey(lt time.Time) int {
	k := lt.Year()*12 + int(lt.Month()) - 1
	if lt.Day() < m.settle.Day || lt.Day() == m.settle.Day && lt.Hour() < m.settle.Hour {
		k--
	}
	return k
}

// exchange replaces the meter by a new one with the same address: registers restart at
// Faults.ExchangeStartWh, the memory is empty, the relay closed.
func (m *Meter) exchange() {
	m.exchanged = true
	m.imp = m.splitRates(m.faults.ExchangeStartWh)
	m.exp = [4]int64{}
	m.mem = newMemory(m.mem.profile.size)
	m.relay = relayState{}
	m.resetKeys()
}

// powerMW is the active power during step k, in mW at the 0.1 W resolution of the
// XX.XXXX kW format. lt is the local time in the middle of the step.
func (m *Meter) powerMW(k int64, lt time.Time) int64 {
	ts := k * stepMs / 1000
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
	return m.clock(t)
}

func (m *Meter) clock(t time.Time) time.Time {
	return t.Add(time.Duration(m.offMs) * time.Millisecond).In(m.loc)
}

// SetClock sets the meter's clock so that at true time t it reads meterTime (to the
// millisecond). The meter runs up to t by its old clock first; a clock set back does not
// repeat records, a clock set forward past midnight makes the day's freeze at once.
func (m *Meter) SetClock(t, meterTime time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.setClock(t, meterTime)
}

func (m *Meter) setClock(t, meterTime time.Time) {
	m.advance(t.UnixMilli())
	m.offMs = meterTime.Sub(t).Round(time.Millisecond).Milliseconds()
	m.nextB = (floorDiv(m.at+m.offMs, profileMs)+1)*profileMs - m.offMs
}

// Powered reports whether the meter has supply at t (it answers nothing during an
// outage).
func (m *Meter) Powered(t time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(t.UnixMilli())
	return !m.inOutage
}

// AddOutage schedules a supply interruption. It must not start before the latest instant
// the meter was asked about, nor overlap another outage.
func (m *Meter) AddOutage(o Outage) error {
	if !o.End.After(o.Start) {
		return fmt.Errorf("metersim: meter %s: outage does not end after it starts", m.addr)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	start, end := o.Start.UnixMilli(), o.End.UnixMilli()
	if start < m.at {
		return fmt.Errorf("metersim: meter %s: outage starts %v, before the meter's present %v", m.addr,
			o.Start, time.UnixMilli(m.at))
	}
	for _, x := range m.outages {
		if start < x.end && x.start < end {
			return fmt.Errorf("metersim: meter %s: outage overlaps another", m.addr)
		}
	}
	m.outages = append(m.outages, outage{start, end})
	sort.Slice(m.outages[m.outIdx:], func(i, j int) bool {
		return m.outages[m.outIdx+i].start < m.outages[m.outIdx+j].start
	})
	return nil
}

// SetFaults replaces the meter's faults. An ExchangeAt already past (and not yet done)
// exchanges the meter at the next instant it is asked about.
func (m *Meter) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("metersim: meter %s: %w", m.addr, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !f.ExchangeAt.Equal(m.faults.ExchangeAt) {
		m.exchanged = false // a new exchange
	}
	m.faults = f
	return nil
}

// Faults returns the meter's faults.
func (m *Meter) Faults() Faults {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.faults
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
