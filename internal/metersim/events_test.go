package metersim

import (
	"errors"
	"testing"
	"time"

	"gridmeter/internal/dlt645"
)

// TestRollover starts a meter 2 kWh short of 1 000 000 kWh: the total register wraps to
// a small value and keeps counting, and the daily freeze shows it.
func TestRollover(t *testing.T) {
	m := newTestMeter(t, MeterSpec{Address: "000000000003", Customer: Industrial, StartImportWh: registerWrap - 2000}, 1)
	first := m.Sample(t0)
	if first.EImp < registerWrap-2010 || first.EImp > registerWrap-1990 {
		t.Fatalf("start register %d Wh", first.EImp)
	}
	prev, wrapped := first.EImp, false
	for at := t0; at.Before(t0.Add(26 * time.Hour)); at = at.Add(time.Minute) {
		s := m.Sample(at)
		if s.EImp < prev {
			if wrapped || prev-s.EImp < registerWrap-100_000 {
				t.Fatalf("%v: register fell from %d to %d", at, prev, s.EImp)
			}
			wrapped = true
		}
		prev = s.EImp
	}
	if !wrapped {
		t.Fatal("no rollover")
	}
	r, ok := m.DailyFrozen(t0.Add(26*time.Hour), 1)
	if !ok || r.Forward[0] >= 2_000_000 {
		t.Errorf("freeze after the rollover: %+v", r)
	}
}

// TestExchange replaces a meter mid-day: the registers restart low, the memory is
// empty, the new meter freezes at its first midnight.
func TestExchange(t *testing.T) {
	exAt := t0.Add(36 * time.Hour)
	spec := MeterSpec{Address: "000000000002", Customer: Commercial,
		Faults: Faults{ExchangeAt: exAt, ExchangeStartWh: 1230}}
	m := newTestMeter(t, spec, 1)
	if _, ok := m.DailyFrozen(exAt.Add(-time.Minute), 1); !ok {
		t.Fatal("no freeze before the exchange")
	}
	before := m.Sample(exAt.Add(-time.Second))
	after := m.Sample(exAt)
	if before.EImp < 1_000_000 || after.EImp < 1200 || after.EImp > 1240 {
		t.Fatalf("registers %d → %d Wh", before.EImp, after.EImp)
	}
	if _, ok := m.DailyFrozen(exAt, 1); ok {
		t.Error("the new meter has the old meter's freezes")
	}
	if len(m.LoadProfile(exAt)) != 0 {
		t.Error("the new meter has the old meter's load profile")
	}
	r, ok := m.DailyFrozen(t0.Add(49*time.Hour), 1)
	if !ok || r.Forward[0] < 1230 || r.Forward[0] > before.EImp/10 || !r.Time.Equal(t0.Add(48*time.Hour)) {
		t.Errorf("first freeze of the new meter %+v, %v", r, ok)
	}
	if got := len(m.LoadProfile(t0.Add(49 * time.Hour))); got < 50 || got > 52 {
		t.Errorf("%d load profile records in the new meter's 13 hours", got)
	}
	// SetFaults with an exchange in the past exchanges at once.
	m2 := newTestMeter(t, MeterSpec{Address: "000000000005", Customer: Commercial}, 1)
	m2.Sample(t0.Add(time.Hour))
	if err := m2.SetFaults(Faults{ExchangeAt: t0}); err != nil {
		t.Fatal(err)
	}
	if s := m2.Sample(t0.Add(time.Hour)); s.EImp > 10 {
		t.Errorf("after a late exchange: %d Wh", s.EImp)
	}
	if err := m2.SetFaults(Faults{Probability: 2}); err == nil {
		t.Error("probability 2 accepted")
	}
}

// TestClockChanges sets a meter's clock forward over midnight (the freeze is made at
// once) and back again (no second freeze, no repeated load profile record).
func TestClockChanges(t *testing.T) {
	m := newTestMeter(t, MeterSpec{Address: "000000000001"}, 1)
	at := t0.Add(23 * time.Hour)
	m.SetClock(at, at) // exact now: 23:00 on 11 March
	latest := func(tm time.Time) time.Time {
		r, _ := m.DailyFrozen(tm, 1)
		return r.Time
	}
	if l := latest(at); l.After(t0) {
		t.Fatalf("freeze of %v before midnight", l)
	}
	m.SetClock(at, t0.Add(24*time.Hour+10*time.Minute)) // set forward past midnight
	if l := latest(at.Add(10 * time.Minute)); !l.Equal(t0.Add(24 * time.Hour)) {
		t.Fatalf("latest freeze %v after the clock jumped past midnight", l)
	}
	n := len(m.LoadProfile(at.Add(10 * time.Minute)))
	r1, _ := m.DailyFrozen(at.Add(10*time.Minute), 2)
	m.SetClock(at.Add(10*time.Minute), at) // back to 23:10 on 11 March
	later := at.Add(3 * time.Hour)         // the meter reads 02:00 on 12 March
	if l := latest(later); !l.Equal(t0.Add(24 * time.Hour)) {
		t.Errorf("latest freeze %v", l)
	}
	if r2, _ := m.DailyFrozen(later, 2); !r2.Time.Equal(r1.Time) {
		t.Errorf("a second freeze for 12 March: the one before is %v, was %v", r2.Time, r1.Time)
	}
	recs := m.LoadProfile(later)
	for i := 1; i < len(recs); i++ {
		if !recs[i].Time.After(recs[i-1].Time) {
			t.Fatalf("records out of order: %v after %v", recs[i].Time, recs[i-1].Time)
		}
	}
	if len(recs) <= n {
		t.Errorf("no records after the clock was set back (%d, %d before)", len(recs), n)
	}
}

// TestRelayCommands covers the command rules: password, validity, keep-on, close.
func TestRelayCommands(t *testing.T) {
	m := newTestMeter(t, MeterSpec{Address: "000000000001", Password: 0x123456, CloseDelay: 30 * time.Second}, 1)
	at := t0.Add(20 * time.Hour)
	cmd := func(a dlt645.ControlAction) dlt645.ControlCommand {
		return dlt645.ControlCommand{Action: a, ValidUntil: at.Add(time.Hour)}
	}
	good := dlt645.Credentials{Level: 2, Password: 0x123456}
	for _, tc := range []struct {
		name string
		cred dlt645.Credentials
		cmd  dlt645.ControlCommand
		want dlt645.ErrorCode
	}{
		{"wrong password", dlt645.Credentials{Level: 2}, cmd(dlt645.ActionTrip), dlt645.ErrCodeUnauthorized},
		{"level 04", dlt645.Credentials{Level: 4, Password: 0x123456}, cmd(dlt645.ActionTrip), dlt645.ErrCodeUnauthorized},
		{"expired", good, dlt645.ControlCommand{Action: dlt645.ActionTrip, ValidUntil: at.Add(-time.Minute)}, dlt645.ErrCodeOther},
		{"keep on", good, cmd(dlt645.ActionKeepOn), 0},
		{"trip under keep-on", good, cmd(dlt645.ActionTrip), dlt645.ErrCodeOther},
		{"keep-on release", good, cmd(dlt645.ActionKeepOnRelease), 0},
		{"trip", good, cmd(dlt645.ActionTrip), 0},
		{"alarm", good, cmd(dlt645.ActionAlarm), 0},
	} {
		if got := m.Control(at, tc.cred, tc.cmd); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	r := m.Relay(at)
	if !r.Open || !r.TripCommand || r.KeepOn || !r.Alarm {
		t.Errorf("after trip: %+v", r)
	}
	if s := m.Sample(at.Add(time.Minute)); s.P != 0 || s.Status3 != int64(dlt645.Status3RelayOpen|dlt645.Status3RelayCommandOpen) {
		t.Errorf("tripped sample %+v", s)
	}
	m.Control(at.Add(time.Minute), good, cmd(dlt645.ActionCloseAllowed))
	if r := m.Relay(at.Add(time.Minute + 29*time.Second)); !r.Open || r.TripCommand || !r.CloseAt.Equal(at.Add(90*time.Second)) {
		t.Errorf("before the button: %+v", r)
	}
	if r := m.Relay(at.Add(90 * time.Second)); r.Open {
		t.Errorf("after the button: %+v", r)
	}
	m.Control(at.Add(2*time.Minute), good, cmd(dlt645.ActionTrip))
	m.Control(at.Add(2*time.Minute), good, cmd(dlt645.ActionClose))
	if r := m.Relay(at.Add(2 * time.Minute)); r.Open {
		t.Errorf("after direct close: %+v", r)
	}
	enc := newTestMeter(t, MeterSpec{Address: "000000000002", EncryptedControl: true}, 1)
	if got := enc.Control(at, level02, cmd(dlt645.ActionTrip)); got != dlt645.ErrCodeUnauthorized {
		t.Errorf("encrypted-control meter took a plain trip: %v", got)
	}
}

func TestWriteAndInstantFreeze(t *testing.T) {
	m := newTestMeter(t, MeterSpec{Address: "000000000002", Customer: Commercial}, 1)
	at := t0.Add(30 * time.Hour) // 12 March 06:00
	v, _ := dlt645.SettlementDay{Day: 12, Hour: 8}.Append(nil)
	if code := m.Write(at, dlt645.WriteRequest{DI: dlt645.DISettlementDay1, Credentials: level02, Value: v}); code != 0 {
		t.Fatal(code)
	}
	if code := m.Write(at, dlt645.WriteRequest{DI: dlt645.DIFrequency, Credentials: level02, Value: v}); code != dlt645.ErrCodeNoData {
		t.Errorf("write of frequency: %v", code)
	}
	if code := m.Write(at, dlt645.WriteRequest{DI: dlt645.DISettlementDay1, Credentials: dlt645.Credentials{Level: 2, Password: 1}, Value: v}); code != dlt645.ErrCodeUnauthorized {
		t.Errorf("wrong password: %v", code)
	}
	b, _ := m.ReadDLT645(at, dlt645.DISettlementDay1)
	if d, err := dlt645.DecodeSettlementDay(b); err != nil || d.Day != 12 || d.Hour != 8 {
		t.Errorf("settlement day read back %+v, %v", d, err)
	}
	// The new settlement instant, 08:00 today, comes two hours later.
	r, ok := m.Settlement(at.Add(3*time.Hour), 1)
	if !ok || !r.Time.Equal(time.Date(2024, 3, 12, 8, 0, 0, 0, ChinaStandardTime)) {
		t.Errorf("settlement %+v, %v", r, ok)
	}

	if code := m.Freeze(at, dlt645.FreezeSchedule{Month: 99, Day: 99, Hour: 0, Minute: 0}); code != dlt645.ErrCodeOther {
		t.Errorf("timed freeze: %v", code)
	}
	for i := range 4 {
		if code := m.Freeze(at.Add(time.Duration(3+i)*time.Hour), dlt645.InstantFreeze); code != 0 {
			t.Fatal(code)
		}
	}
	f1, _ := m.InstantFrozen(at.Add(7*time.Hour), 1)
	f3, ok3 := m.InstantFrozen(at.Add(7*time.Hour), 3)
	_, ok4 := m.InstantFrozen(at.Add(7*time.Hour), 4)
	if !ok3 || ok4 || f1.Forward[0] <= f3.Forward[0] || !f1.Time.Equal(m.Clock(at.Add(6*time.Hour)).Truncate(time.Minute)) {
		t.Errorf("instant freezes: %+v %+v, %v %v", f1, f3, ok3, ok4)
	}

	// Time write: the meter's clock reads what was written.
	tv := dlt645.AppendTime(nil, time.Date(2024, 3, 12, 11, 22, 33, 0, ChinaStandardTime))
	if code := m.Write(at.Add(8*time.Hour), dlt645.WriteRequest{DI: dlt645.DITime, Credentials: level02, Value: tv}); code != 0 {
		t.Fatal(code)
	}
	if got := m.Clock(at.Add(8*time.Hour + time.Second)); !got.Equal(time.Date(2024, 3, 12, 11, 22, 34, 0, ChinaStandardTime)) {
		t.Errorf("clock after a time write: %v", got)
	}
	if _, err := m.ReadDLT645(at, dlt645.DIDailyFrozenTimeN(40)); !errors.Is(err, dlt645.ErrNoRecord) {
		t.Errorf("freeze 40 days back: %v", err)
	}
}

func TestAddOutage(t *testing.T) {
	m := newTestMeter(t, MeterSpec{Address: "000000000001"}, 1)
	m.Sample(t0.Add(time.Hour))
	if err := m.AddOutage(Outage{Start: t0, End: t0.Add(2 * time.Hour)}); err == nil {
		t.Error("outage in the past accepted")
	}
	o := Outage{Start: t0.Add(2 * time.Hour), End: t0.Add(3 * time.Hour)}
	if err := m.AddOutage(o); err != nil {
		t.Fatal(err)
	}
	if err := m.AddOutage(Outage{Start: t0.Add(150 * time.Minute), End: t0.Add(4 * time.Hour)}); err == nil {
		t.Error("overlapping outage accepted")
	}
	if !m.Powered(o.Start.Add(-time.Millisecond)) || m.Powered(o.Start) {
		t.Error("Powered at the outage's start")
	}
	if s := m.Sample(o.End.Add(-time.Minute)); s.Powered || s.U != [3]int64{} || s.P != 0 {
		t.Errorf("sample during the outage %+v", s)
	}
	if m.Powered(o.End.Add(-time.Millisecond)) || !m.Powered(o.End) {
		t.Error("Powered at the outage's end")
	}
	n, ev := m.PowerDowns(o.End)
	if n != 1 || len(ev) != 1 || ev[0].End.IsZero() {
		t.Errorf("power-downs %d %+v", n, ev)
	}
}
