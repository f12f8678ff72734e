package metersim

import (
	"fmt"
	"time"

	"gridmeter/internal/dlt645"
)

// The meter's side of DL/T 645-2007: what it answers to reads, writes, freezes and
// control commands. The server (serve.go) turns the results into frames.

// ReadDLT645 returns the value bytes (after the data identifier, without the +33H
// offset) the meter sends at t for di. It reports an error wrapping dlt645.ErrUnknownDI
// for an identifier it does not have and dlt645.ErrNoRecord for a record it has not
// written yet (both answered "no data requested", 02H: this simulator does not send the
// zeros some meters send for empty records).
func (m *Meter) ReadDLT645(t time.Time, di dlt645.DI) ([]byte, error) {
	return m.ReadDLT645With(t, di, nil)
}

// ReadDLT645With is ReadDLT645 for a request that carries data after the identifier:
// the block count and given time of a load profile read (06000001). The value may be
// longer than one frame; the server sends it in follow-up frames.
func (m *Meter) ReadDLT645With(t time.Time, di dlt645.DI, params []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(t.UnixMilli())
	e, ok := dlt645.Lookup(di)
	if !ok {
		return nil, fmt.Errorf("meter %s: %w: %s", m.addr, dlt645.ErrUnknownDI, di)
	}
	nn := int(di & 0xFF)
	switch {
	case di == dlt645.DIDate:
		return dlt645.AppendDate(nil, m.clock(t))
	case di == dlt645.DITime:
		return dlt645.AppendTime(nil, m.clock(t)), nil
	case di == dlt645.DIReverseActiveBlock:
		s := m.sample(t)
		return e.AppendRaw(nil, s.EExp/10, s.EExpRate[0]/10, s.EExpRate[1]/10, s.EExpRate[2]/10, s.EExpRate[3]/10)
	case di == dlt645.DIActivePulseConstant || di == dlt645.DIReactivePulseConstant:
		return e.AppendRaw(nil, m.pulseConstant())
	case di == dlt645.DIStatusWord2 || di >= dlt645.DIStatusWord4 && di <= dlt645.DIStatusWord7:
		return e.AppendRaw(nil, 0) // no phase or meter faults simulated
	case di == dlt645.DISettlementDay1:
		return m.settle.Append(nil)
	case di == dlt645.DIPowerDownCount:
		return e.AppendRaw(nil, int64(m.mem.powerDownCount))
	case e.Series > 0 && e.DI&^0xFF == dlt645.DIPowerDownRecord&^0xFF:
		r, ok := m.mem.powerDowns.nth(nn)
		if !ok {
			return nil, m.noRecord(di)
		}
		return dlt645.AppendPowerDownEvent(nil, r.event(m.loc))
	case e.Series > 0 && di.Class() == 0x05:
		return m.readFrozen(di, nn)
	case e.Series > 0 && di.Class() == 0x00:
		r, ok := m.mem.settle.nth(nn)
		if !ok {
			return nil, m.noRecord(di)
		}
		switch di &^ 0xFF {
		case dlt645.DISettlementForwardTotal &^ 0xFF:
			return e.AppendRaw(nil, int64(r.imp[0]))
		case dlt645.DISettlementReverseTotal &^ 0xFF:
			return e.AppendRaw(nil, int64(r.exp[0]))
		default:
			return e.AppendRaw(nil, raws(r.imp)...)
		}
	case di == dlt645.DILoadProfileAtTime || di == dlt645.DILoadProfileLatest:
		return m.readLoadProfile(di, params)
	}
	return e.AppendEncode(make([]byte, 0, e.Size()), m.sample(t).Values())
}

func (m *Meter) noRecord(di dlt645.DI) error {
	return fmt.Errorf("meter %s: %s: %w", m.addr, di, dlt645.ErrNoRecord)
}

func raws(v [5]uint32) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// readFrozen answers the daily (0506xxnn) and instant (0501xxnn) freeze identifiers.
func (m *Meter) readFrozen(di dlt645.DI, nn int) ([]byte, error) {
	ring := &m.mem.daily
	if di>>16 == 0x0501 {
		ring = &m.mem.instant
	}
	r, ok := ring.nth(nn)
	if !ok {
		return nil, m.noRecord(di)
	}
	e, _ := dlt645.Lookup(di)
	switch di >> 8 & 0xFF {
	case 0x00:
		return dlt645.AppendMinuteTime(nil, time.Unix(int64(r.minute)*60, 0).In(m.loc))
	case 0x01:
		return e.AppendRaw(nil, raws(r.imp)...)
	default:
		return e.AppendRaw(nil, raws(r.exp)...)
	}
}

// readLoadProfile answers 06000001 (NN blocks from a given time, oldest first) and
// 06000002 (the latest block).
func (m *Meter) readLoadProfile(di dlt645.DI, params []byte) ([]byte, error) {
	p := &m.mem.profile
	if p.len() == 0 {
		return nil, m.noRecord(di)
	}
	first, count := p.len()-1, 1
	if di == dlt645.DILoadProfileAtTime {
		q, err := dlt645.DecodeLoadProfileRequest(params, m.loc)
		if err != nil {
			return nil, fmt.Errorf("meter %s: %s: %w", m.addr, di, err)
		}
		from := uint32(q.From.Unix() / 60)
		first = p.len()
		for i := 0; i < p.len(); i++ { // a few hundred records: a scan is fine
			if p.at(i).minute >= from {
				first = i
				break
			}
		}
		if first == p.len() {
			return nil, m.noRecord(di)
		}
		count = q.Count
	}
	var out []byte
	for i := first; i < p.len() && i < first+count; i++ {
		var err error
		if out, err = dlt645.AppendLoadRecord(out, m.loadRecord(p.at(i))); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// pulseConstant is the meter's active (and reactive) pulse constant, imp/kWh: 1200 for
// a residential meter, 400 for the larger commercial and industrial ones.
func (m *Meter) pulseConstant() int64 {
	if m.spec.Customer == Residential {
		return 1200
	}
	return 400
}

// Write carries out a write command (14H) at t: the settlement day (04000B01), the date
// (04000101) and the time (04000102) are writable, with level 02 and the meter's password.
// It returns 0 when the meter accepts, else the error information word.
func (m *Meter) Write(t time.Time, w dlt645.WriteRequest) dlt645.ErrorCode {
	m.mu.Lock()
	defer m.mu.Unlock()
	t = m.present(t)
	if code := m.authorise(w.Credentials); code != 0 {
		return code
	}
	now := m.clock(t)
	switch w.DI {
	case dlt645.DISettlementDay1:
		d, err := dlt645.DecodeSettlementDay(w.Value)
		if err != nil {
			return dlt645.ErrCodeOther
		}
		// The next settlement is the first instant of the new day at or after now: the
		// month's if it is still to come.
		m.settle = d
		m.lastSettle = m.settleKey(now)
	case dlt645.DIDate:
		if len(w.Value) != 4 {
			return dlt645.ErrCodeOther
		}
		set, err := dlt645.DecodeDateTime(w.Value, dlt645.AppendTime(nil, now), m.loc)
		if err != nil {
			return dlt645.ErrCodeOther
		}
		m.setClock(t, set.Add(time.Duration(now.Nanosecond())))
	case dlt645.DITime:
		date, _ := dlt645.AppendDate(nil, now)
		set, err := dlt645.DecodeDateTime(date, w.Value, m.loc)
		if err != nil {
			return dlt645.ErrCodeOther
		}
		m.setClock(t, set)
	default:
		return dlt645.ErrCodeNoData
	}
	return 0
}

// Freeze carries out a freeze command (16H) at t: 99999999 freezes now (readable at
// 0501xxnn, three deep). The timed freeze schedules are not simulated: refused with 01H.
func (m *Meter) Freeze(t time.Time, s dlt645.FreezeSchedule) dlt645.ErrorCode {
	if !s.IsInstant() {
		return dlt645.ErrCodeOther
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t = m.present(t)
	m.mem.instant.push(m.frozenNow(m.clock(t).Truncate(time.Minute)))
	return 0
}

// InstantFrozen returns the n-th previous instant freeze, or false.
func (m *Meter) InstantFrozen(t time.Time, n int) (dlt645.FrozenRecord, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(t.UnixMilli())
	r, ok := m.mem.instant.nth(n)
	return r.record(m.loc), ok
}
