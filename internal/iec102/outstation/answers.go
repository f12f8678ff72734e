package outstation

import (
	"log/slog"
	"math"
	"time"

	"gridmeter/internal/iec102"
	"gridmeter/internal/journal"
	"gridmeter/internal/meterdata"
)

// answerer builds the answers to one request of an open session.
type answerer struct {
	s   *session
	req iec102.ASDU
	pt  Point
	log *slog.Logger
}

func (a *answerer) cfg() *Config { return &a.s.srv.cfg }

func (a *answerer) refuse(c iec102.Cause) []iec102.ASDU { return a.s.refuse(a.req, c) }

// failed answers a request the journal could not serve: refused with cause 13, so that
// the master sees a failure, never an empty answer.
func (a *answerer) failed(err error) []iec102.ASDU {
	a.log.Error("IEC 102 request failed: journal", "err", err)
	return a.refuse(iec102.CauseRecordNotAvailable)
}

func (a *answerer) data(t iec102.TypeID, info iec102.Info) iec102.ASDU {
	return iec102.NewASDU(t, iec102.COT{Cause: iec102.CauseRequest}, a.req.CommonAddress, a.req.Record, info)
}

// rangeAnswer frames the data ASDUs of a range read: the COT 7 mirror first, the COT 10
// mirror last (REE multi-answer reads; iec870ree consumes the first answer as the
// confirmation and stops at COT 10).
func (a *answerer) rangeAnswer(data []iec102.ASDU) []iec102.ASDU {
	out := make([]iec102.ASDU, 0, len(data)+2)
	out = append(out, a.req.Mirror(iec102.COT{Cause: iec102.CauseActivationCon}, true))
	out = append(out, data...)
	return append(out, a.req.Mirror(iec102.COT{Cause: iec102.CauseActivationTerm}, true))
}

// tag returns the Ta of t in the configured zone, with IV set when t is not a whole
// minute: a Ta cannot name it, and a master must not key a reading by it.
func (a *answerer) tag(t time.Time) (iec102.TimeA, bool) {
	lt := t.In(a.cfg().Location)
	ta, err := iec102.TimeAOf(lt)
	if err != nil {
		return iec102.TimeA{}, false
	}
	if lt.Second() != 0 || lt.Nanosecond() != 0 {
		ta.Invalid = true
	}
	return ta, true
}

// clock answers C_TI_NA_2 with the terminal's time.
func (a *answerer) clock() []iec102.ASDU {
	tb, err := iec102.TimeBOf(a.cfg().Now().In(a.cfg().Location))
	if err != nil {
		return a.failed(err)
	}
	return []iec102.ASDU{a.data(iec102.TypeSystemTime, tb)}
}

// setClock answers C_CS_TA_2.
func (a *answerer) setClock() []iec102.ASDU {
	tb, ok := a.req.Info.(iec102.TimeB)
	if a.cfg().SetClock == nil || !ok {
		return a.refuse(iec102.CauseTypeNotAvailable)
	}
	t, err := tb.Time(a.cfg().Location)
	if err == nil {
		err = a.cfg().SetClock(a.s.ctx, t)
	}
	if err != nil {
		a.log.Warn("IEC 102 set clock refused", "err", err)
		a.s.srv.stats.refusals.Add(1)
		return []iec102.ASDU{a.req.Mirror(iec102.COT{Cause: iec102.CauseActivationCon, Negative: true}, false)}
	}
	a.log.Info("IEC 102 clock set by the master", "time", t)
	return []iec102.ASDU{a.req.Mirror(iec102.COT{Cause: iec102.CauseActivationCon}, true)}
}

// The journal channels of the integrated totals' information objects 1 and 2.
var objectChannels = [...]string{iec102.ObjectActiveImport: "e_imp", iec102.ObjectActiveExport: "e_exp"}

// unusable reports the journal qualities IEC 102 cannot carry: such an entry is sent
// invalid.
func unusable(q meterdata.Quality) bool {
	return q&(meterdata.QualityEstimated|meterdata.QualitySuspect) != 0
}

// counter returns the channel of e divided by unit as a 4-octet counter, and whether it
// is valid.
func counter(e *journal.Entry, channel string, unit int64) (uint32, bool) {
	if e == nil || channel == "" || unusable(e.Reading.Quality) {
		return 0, false
	}
	v, ok := e.Reading.Values[channel]
	if !ok || v < 0 || v/unit > math.MaxUint32 {
		return 0, false
	}
	return uint32(v / unit), true
}

// totals answers C_CI_NT_2 (registers, M_IT_TG_2) and C_CI_NU_2 (increments, M_IT_TK_2).
func (a *answerer) totals() []iec102.ASDU {
	tr, ok := a.req.Info.(iec102.TotalsRequest)
	if !ok {
		return a.refuse(iec102.CauseTypeNotAvailable)
	}
	var kind meterdata.Kind
	var period time.Duration // 0: every entry is a period
	switch a.req.Record {
	case iec102.RecordHourly:
		kind, period = meterdata.KindInstant, time.Hour
	case iec102.RecordQuarterHourly:
		kind, period = meterdata.KindInstant, 15*time.Minute
	case iec102.RecordDaily1:
		kind = meterdata.KindDailyFrozen
	default:
		return a.refuse(iec102.CauseAddressUnknown)
	}
	if tr.First < 1 || tr.Last > 8 || tr.First > tr.Last {
		return a.refuse(iec102.CauseObjectNotAvailable)
	}
	from, to, ok := a.times(tr.From, tr.To)
	if !ok {
		return a.refuse(iec102.CausePeriodNotAvailable)
	}
	increments := a.req.Type == iec102.TypeReadPeriodicOperationalTotals
	scanFrom := from
	if increments && period > 0 {
		scanFrom = from.Add(-period) // the entry before the first period
	}
	es, err := a.collect(kind, period, scanFrom, to)
	if err != nil {
		return a.failed(err)
	}
	var prev *journal.Entry
	if increments && period == 0 {
		e, ok, err := a.s.srv.src.Latest(a.s.ctx, a.pt.Meter, kind, from.Add(-time.Millisecond))
		if err != nil {
			return a.failed(err)
		}
		if ok {
			prev = &e
		}
	}
	unit := a.cfg().WhPerCount
	data := make([]iec102.ASDU, 0, len(es))
	for i := range es {
		e := &es[i]
		if e.Reading.Time.Before(from) {
			prev = e
			continue
		}
		if increments && period > 0 && (prev == nil || !prev.Reading.Time.Equal(e.Reading.Time.Add(-period))) {
			prev = nil // no entry exactly one period earlier
		}
		end, ok := a.tag(e.Reading.Time)
		if !ok {
			continue
		}
		it := iec102.IntegratedTotals{End: end, Totals: make([]iec102.IntegratedTotal, 0, int(tr.Last-tr.First)+1)}
		for ioa := int(tr.First); ioa <= int(tr.Last); ioa++ {
			var ch string
			if ioa < len(objectChannels) {
				ch = objectChannels[ioa]
			}
			v, valid := counter(e, ch, unit)
			if increments {
				p, pvalid := counter(prev, ch, unit)
				if valid = valid && pvalid && p <= v; valid {
					v -= p
				} else {
					v = 0
				}
			}
			q := iec102.Quality(0)
			if !valid {
				q = iec102.QualityIV
			}
			it.Totals = append(it.Totals, iec102.IntegratedTotal{Address: uint8(ioa), Value: v, Quality: q})
		}
		data = append(data, a.data(a.req.Type.Answer(), it))
		prev = e
		if len(data) == a.cfg().MaxPeriods {
			break
		}
	}
	return a.rangeAnswer(data)
}

// times converts a request's inclusive time range.
func (a *answerer) times(from, to iec102.TimeA) (time.Time, time.Time, bool) {
	f, err := from.Time(a.cfg().Location)
	if err != nil {
		return time.Time{}, time.Time{}, false
	}
	t, err := to.Time(a.cfg().Location)
	if err != nil {
		return time.Time{}, time.Time{}, false
	}
	return f, t, true
}

// pageSize is how many journal entries one query fetches.
const pageSize = 1000

// collect returns the entries of the point's meter and kind with from <= time <= to that
// begin a period (time a whole multiple of period in the configured zone; every entry
// for period 0), oldest first, at most MaxPeriods + 1 (one more than the periods a
// range answers, for the entry before them).
func (a *answerer) collect(kind meterdata.Kind, period time.Duration, from, to time.Time) ([]journal.Entry, error) {
	limit := a.cfg().MaxPeriods + 1
	var out []journal.Entry
	end := to.Add(time.Millisecond) // inclusive
	for from.Before(end) && len(out) < limit {
		es, err := a.s.srv.src.Readings(a.s.ctx, a.pt.Meter, kind, from, end, pageSize)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if period == 0 || onBoundary(e.Reading.Time, period, a.cfg().Location) {
				out = append(out, e)
				if len(out) == limit {
					break
				}
			}
		}
		if len(es) < pageSize {
			break
		}
		from = es[len(es)-1].Reading.Time.Add(time.Millisecond)
	}
	return out, nil
}

// onBoundary reports whether t is a whole multiple of period (at most an hour) into its
// hour of wall clock in loc.
func onBoundary(t time.Time, period time.Duration, loc *time.Location) bool {
	lt := t.In(loc)
	into := time.Duration(lt.Minute())*time.Minute + time.Duration(lt.Second())*time.Second + time.Duration(lt.Nanosecond())
	return into%period == 0
}

// Billing record information objects: all tariffs, then tariff periods 1–4.
var billingChannels = [...]struct {
	object  uint8
	channel string
}{
	{iec102.ObjectBillingTotal, "e_imp"},
	{iec102.ObjectBillingTotal + 1, "e_imp_t1"},
	{iec102.ObjectBillingTotal + 2, "e_imp_t2"},
	{iec102.ObjectBillingTotal + 3, "e_imp_t3"},
	{iec102.ObjectBillingTotal + 4, "e_imp_t4"},
}

// billing answers C_TA_VM_2 for contract I from the monthly entries, one record per ASDU.
func (a *answerer) billing() []iec102.ASDU {
	tr, ok := a.req.Info.(iec102.TimeRange)
	if !ok {
		return a.refuse(iec102.CauseTypeNotAvailable)
	}
	if a.req.Record != iec102.RecordBilling1 {
		return a.refuse(iec102.CauseAddressUnknown)
	}
	from, to, ok := a.times(tr.From, tr.To)
	if !ok {
		return a.refuse(iec102.CausePeriodNotAvailable)
	}
	es, err := a.collect(meterdata.KindMonthly, 0, from, to)
	if err != nil {
		return a.failed(err)
	}
	var prev *journal.Entry
	if e, ok, err := a.s.srv.src.Latest(a.s.ctx, a.pt.Meter, meterdata.KindMonthly, from.Add(-time.Millisecond)); err != nil {
		return a.failed(err)
	} else if ok {
		prev = &e
	}
	unit := a.cfg().WhPerCount
	invalid := iec102.EnergyTotals{Quality: iec102.QualityIV}
	unknown := iec102.Counter{Quality: iec102.QualityIV}
	var data []iec102.ASDU
	for i := range es {
		e := &es[i]
		end, ok := a.tag(e.Reading.Time)
		if !ok {
			continue
		}
		var start iec102.TimeA
		if prev != nil {
			start, _ = a.tag(prev.Reading.Time)
		}
		for _, bc := range billingChannels {
			if _, has := e.Reading.Values[bc.channel]; !has && bc.object != iec102.ObjectBillingTotal {
				continue
			}
			active := iec102.EnergyTotals{Quality: iec102.QualityIV}
			if v, valid := counter(e, bc.channel, unit); valid {
				active = iec102.EnergyTotals{Absolute: v}
				if p, pvalid := counter(prev, bc.channel, unit); pvalid && p <= v {
					active.Incremental = v - p
				} else {
					active.Quality = iec102.QualityAL // the increment is unknown
				}
			}
			rec := iec102.BillingRecord{
				Address: bc.object, Active: active, Inductive: invalid, Capacitive: invalid,
				Reserve7: unknown, Reserve8: unknown, MaxDemand: unknown, Excess: unknown,
				Start: start, End: end,
			}
			data = append(data, a.data(iec102.TypeStoredBilling, iec102.BillingRecords{rec}))
		}
		prev = e
		if len(data) >= a.cfg().MaxPeriods {
			break
		}
	}
	return a.rangeAnswer(data)
}

// eventsPerASDU is how many single points one M_SP_TA_2 carries (9 octets each; REE
// meters send up to 20).
const eventsPerASDU = 20

// events answers C_SP_NB_2 from Config.Events.
func (a *answerer) events() []iec102.ASDU {
	tr, ok := a.req.Info.(iec102.TimeRange)
	if a.cfg().Events == nil || !ok {
		return a.refuse(iec102.CauseTypeNotAvailable)
	}
	switch r := a.req.Record; {
	case r >= iec102.RecordEventsPower && r <= iec102.RecordEventsErrors:
	case r >= iec102.RecordEventsIntrusion && r <= iec102.RecordEventsContract1+2:
	default:
		return a.refuse(iec102.CauseAddressUnknown)
	}
	from, to, ok := a.times(tr.From, tr.To)
	if !ok {
		return a.refuse(iec102.CausePeriodNotAvailable)
	}
	evs, err := a.cfg().Events.Events(a.s.ctx, a.pt.Meter, a.req.Record, from, to, a.cfg().MaxPeriods*eventsPerASDU)
	if err != nil {
		return a.failed(err)
	}
	var data []iec102.ASDU
	var sp iec102.SinglePoints
	flush := func() {
		if len(sp) > 0 {
			data = append(data, a.data(iec102.TypeSinglePoint, sp))
			sp = nil
		}
	}
	for _, ev := range evs {
		tb, err := iec102.TimeBOf(ev.Time.In(a.cfg().Location))
		if err != nil || ev.Code > 127 {
			a.log.Warn("IEC 102 event not sendable: skipped", "time", ev.Time, "code", ev.Code, "err", err)
			continue
		}
		sp = append(sp, iec102.SinglePoint{Address: ev.Address, Value: ev.On, Code: ev.Code, Time: tb})
		if len(sp) == eventsPerASDU {
			flush()
		}
	}
	flush()
	return a.rangeAnswer(data)
}

// instant answers P_IN_VA_2 from the newest instant entry.
func (a *answerer) instant() []iec102.ASDU {
	groups, ok := a.req.Info.(iec102.InstantRequest)
	if !ok || len(groups) == 0 {
		return a.refuse(iec102.CauseObjectNotAvailable)
	}
	for _, g := range groups {
		if g < iec102.GroupInstantTotals || g > iec102.GroupInstantVoltAmp {
			return a.refuse(iec102.CauseObjectNotAvailable)
		}
	}
	e, ok, err := a.s.srv.src.Latest(a.s.ctx, a.pt.Meter, meterdata.KindInstant, a.cfg().Now())
	if err != nil {
		return a.failed(err)
	}
	if !ok {
		return a.refuse(iec102.CauseRecordNotAvailable)
	}
	ta, ok := a.tag(e.Reading.Time)
	if !ok {
		return a.refuse(iec102.CauseRecordNotAvailable)
	}
	vals := make(iec102.InstantValues, 0, len(groups))
	for _, g := range groups {
		switch g {
		case iec102.GroupInstantTotals:
			vals = append(vals, a.instantTotals(&e, ta))
		case iec102.GroupInstantPowers:
			vals = append(vals, a.instantPowers(&e, ta))
		case iec102.GroupInstantVoltAmp:
			vals = append(vals, instantPhases(&e, ta))
		}
	}
	return []iec102.ASDU{a.data(iec102.TypeInstantValues, vals)}
}

// instantTotals is group 192. It has no qualifier: IV in the time tag says that A+ or A−
// is missing or invalid.
func (a *answerer) instantTotals(e *journal.Entry, ta iec102.TimeA) iec102.InstantTotals {
	imp, ok1 := counter(e, "e_imp", a.cfg().WhPerCount)
	exp, ok2 := counter(e, "e_exp", a.cfg().WhPerCount)
	if !ok1 || !ok2 {
		ta.Invalid = true
	}
	return iec102.InstantTotals{ActiveImport: imp, ActiveExport: exp, Time: ta}
}

// Flag bits of group 193 and 194 (iec870ree's reading).
const (
	powerExporting     = 0x01
	powerReactiveMinus = 0x02
	powerInvalid       = 0x20
	phaseInvalid       = 0x02
)

// scaled returns |v| / div as an unsigned value of bits bits, and false if v is missing,
// the entry unusable or the value too large.
func scaled(e *journal.Entry, channel string, div int64, bits uint) (uint32, bool, bool) {
	v, ok := e.Reading.Values[channel]
	if !ok || unusable(e.Reading.Quality) {
		return 0, false, false
	}
	neg := v < 0
	if neg {
		v = -v
	}
	v /= div
	if v < 0 || v >= 1<<bits {
		return 0, neg, false
	}
	return uint32(v), neg, true
}

// instantPowers is group 193: p (mW) and q (mvar) scaled to W and var per WhPerCount,
// |pf| in thousandths; phases carry p_a…p_c only.
func (a *answerer) instantPowers(e *journal.Entry, ta iec102.TimeA) iec102.InstantPowers {
	div := 1000 * a.cfg().WhPerCount
	power := func(pch, qch, pfch string) iec102.PowerReading {
		var r iec102.PowerReading
		p, neg, ok := scaled(e, pch, div, 24)
		if !ok {
			return iec102.PowerReading{Flags: powerInvalid}
		}
		r.Active = p
		if neg {
			r.Flags |= powerExporting
		}
		if qch != "" {
			if q, qneg, ok := scaled(e, qch, div, 24); ok {
				r.Reactive = q
				if qneg {
					r.Flags |= powerReactiveMinus
				}
			}
		}
		if pfch != "" {
			if pf, _, ok := scaled(e, pfch, 1, 10); ok {
				r.PowerFactor = uint16(pf)
			}
		}
		return r
	}
	return iec102.InstantPowers{
		Total:  power("p", "q", "pf"),
		Phases: [3]iec102.PowerReading{power("p_a", "", ""), power("p_b", "", ""), power("p_c", "", "")},
		Time:   ta,
	}
}

// instantPhases is group 194: i (mA) in 0.1 A, u (mV) in 0.1 V.
func instantPhases(e *journal.Entry, ta iec102.TimeA) iec102.InstantPhases {
	g := iec102.InstantPhases{Time: ta}
	for k, ph := range [3]string{"a", "b", "c"} {
		i, _, iok := scaled(e, "i_"+ph, 100, 24)
		u, _, uok := scaled(e, "u_"+ph, 100, 30)
		g.Phases[k] = iec102.PhaseReading{Current: i, Voltage: u}
		if !iok || !uok {
			g.Phases[k].Flags = phaseInvalid
		}
	}
	return g
}
