package outstation_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"gridmeter/internal/iec102"
	"gridmeter/internal/iec102/outstation"
	"gridmeter/internal/iec102/outstation/outstationtest"
	"gridmeter/internal/meterdata"
)

var day0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// journal15 returns instant readings of meter1 every 15 minutes for n slots from day0,
// e_imp growing by 100 Wh per slot, e_exp by 1.
func journal15(n int) []meterdata.Reading {
	rs := make([]meterdata.Reading, n)
	for i := range rs {
		rs[i] = meterdata.Reading{Meter: meter1, Kind: meterdata.KindInstant, Time: day0.Add(time.Duration(i) * 15 * time.Minute),
			Values: map[string]int64{"e_imp": 1_000_000 + 100*int64(i), "e_exp": int64(i), "u_a": 230_100, "i_a": -5_123,
				"p": -1_234_567, "p_a": 400_000, "q": 300_000, "pf": -987}}
	}
	return rs
}

func testConfig() outstation.Config {
	return outstation.Config{
		LinkAddress: 1,
		Points: []outstation.Point{{Address: 1, Password: 1, Meter: meter1},
			{Address: 7, Password: 77, Meter: "T1.bus1.000000000007"}},
		Now:    func() time.Time { return day0.Add(24 * time.Hour) },
		Logger: slog.New(slog.DiscardHandler),
	}
}

// session starts a link, logs in to point 1 and returns the raw master.
func session(t *testing.T, cfg outstation.Config, src outstation.Source) *raw {
	t.Helper()
	_, addr := outstationtest.Start(t, cfg, src)
	r := dialRaw(t, addr)
	r.start()
	if as := r.login(1, 1); len(as) != 1 || as[0].COT.Cause != iec102.CauseActivationCon || as[0].COT.Negative {
		t.Fatalf("login = %v", as)
	}
	return r
}

func ta(t time.Time) iec102.TimeA {
	a, err := iec102.TimeAOf(t)
	if err != nil {
		panic(err)
	}
	return a
}

func totalsReq(tp iec102.TypeID, rad iec102.RecordAddress, first, last uint8, from, to time.Time) iec102.ASDU {
	return iec102.NewRequest(tp, 1, rad, iec102.TotalsRequest{First: first, Last: last, From: ta(from), To: ta(to)})
}

// wantRange checks the framing of a range read (COT 7 mirror first, COT 10 mirror last,
// both with the request's objects) and returns the data ASDUs between.
func wantRange(t *testing.T, req iec102.ASDU, as []iec102.ASDU) []iec102.ASDU {
	t.Helper()
	if len(as) < 2 {
		t.Fatalf("got %d answers %v, want at least the two mirrors", len(as), as)
	}
	first, last := as[0], as[len(as)-1]
	reqDUI := dui(req)
	for _, m := range []struct {
		a     iec102.ASDU
		cause iec102.Cause
	}{{first, iec102.CauseActivationCon}, {last, iec102.CauseActivationTerm}} {
		want := req.Mirror(iec102.COT{Cause: m.cause}, true)
		gb, _ := m.a.Encode()
		wb, _ := want.Encode()
		if string(gb) != string(wb) {
			t.Errorf("mirror % X, want % X (request %s)", gb, wb, reqDUI)
		}
	}
	return as[1 : len(as)-1]
}

func totalsOf(t *testing.T, as []iec102.ASDU, tp iec102.TypeID) []iec102.IntegratedTotals {
	t.Helper()
	var out []iec102.IntegratedTotals
	for _, a := range as {
		if a.Type != tp || a.COT != (iec102.COT{Cause: iec102.CauseRequest}) {
			t.Errorf("data ASDU %s, want %s COT 5", a.DUI, tp)
		}
		out = append(out, a.Info.(iec102.IntegratedTotals))
	}
	return out
}

func TestLoadProfile(t *testing.T) {
	rs := journal15(4*6 + 1) // 00:00 .. 06:00
	// 02:00 is missing; 03:00 is suspect, 04:00 has no e_exp.
	rs = append(rs[:8], rs[9:]...)
	rs[11].Quality = meterdata.QualitySuspect // 03:00
	delete(rs[15].Values, "e_exp")            // 04:00
	r := session(t, testConfig(), outstationtest.NewMemorySource(rs...))

	t.Run("hourly registers", func(t *testing.T) {
		req := totalsReq(iec102.TypeReadOperationalTotals, iec102.RecordHourly, 1, 3, day0.Add(time.Hour), day0.Add(5*time.Hour))
		its := totalsOf(t, wantRange(t, req, r.request(req)), iec102.TypeOperationalTotals)
		want := []string{
			"2026-03-01 01:00 dow 7: 1:1000400 ok, 2:4 ok, 3:0 IV",
			// 02:00 has no journal entry: no period.
			"2026-03-01 03:00 dow 7: 1:0 IV, 2:0 IV, 3:0 IV",
			"2026-03-01 04:00 dow 7: 1:1001600 ok, 2:0 IV, 3:0 IV",
			"2026-03-01 05:00 dow 7: 1:1002000 ok, 2:20 ok, 3:0 IV",
		}
		wantTotals(t, its, want)
	})
	t.Run("hourly increments", func(t *testing.T) {
		req := totalsReq(iec102.TypeReadPeriodicOperationalTotals, iec102.RecordHourly, 1, 2, day0.Add(time.Hour), day0.Add(6*time.Hour))
		its := totalsOf(t, wantRange(t, req, r.request(req)), iec102.TypePeriodicOperationalTotals)
		wantTotals(t, its, []string{
			"2026-03-01 01:00 dow 7: 1:400 ok, 2:4 ok",
			"2026-03-01 03:00 dow 7: 1:0 IV, 2:0 IV", // suspect, and no 02:00 entry
			"2026-03-01 04:00 dow 7: 1:0 IV, 2:0 IV", // 03:00 unusable; e_exp missing
			"2026-03-01 05:00 dow 7: 1:400 ok, 2:0 IV",
			"2026-03-01 06:00 dow 7: 1:400 ok, 2:4 ok",
		})
	})
	t.Run("quarter-hourly", func(t *testing.T) {
		req := totalsReq(iec102.TypeReadOperationalTotals, iec102.RecordQuarterHourly, 1, 1, day0.Add(45*time.Minute), day0.Add(75*time.Minute))
		its := totalsOf(t, wantRange(t, req, r.request(req)), iec102.TypeOperationalTotals)
		wantTotals(t, its, []string{"2026-03-01 00:45 dow 7: 1:1000300 ok", "2026-03-01 01:00 dow 7: 1:1000400 ok", "2026-03-01 01:15 dow 7: 1:1000500 ok"})
	})
	t.Run("empty range still framed", func(t *testing.T) {
		req := totalsReq(iec102.TypeReadOperationalTotals, iec102.RecordHourly, 1, 8, day0.Add(48*time.Hour), day0.Add(50*time.Hour))
		if data := wantRange(t, req, r.request(req)); len(data) != 0 {
			t.Errorf("data = %v, want none", data)
		}
	})
}

func wantTotals(t *testing.T, its []iec102.IntegratedTotals, want []string) {
	t.Helper()
	var got []string
	for _, it := range its {
		s := it.End.String() + ":"
		for i, tot := range it.Totals {
			if i > 0 {
				s += ","
			}
			s += fmt.Sprintf(" %d:%d %s", tot.Address, tot.Value, tot.Quality)
		}
		got = append(got, s)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("periods:\n got  %q\n want %q", got, want)
	}
}

func TestDailyAndBilling(t *testing.T) {
	var rs []meterdata.Reading
	for d := range 4 {
		rs = append(rs, meterdata.Reading{Meter: meter1, Kind: meterdata.KindDailyFrozen, Time: day0.AddDate(0, 0, d),
			Values: map[string]int64{"e_imp": 5_000_000 + 10_000*int64(d), "e_exp": 7_000}})
	}
	for m := range 3 {
		v := map[string]int64{"e_imp": 9_000_000 + 1_500_000*int64(m)}
		if m == 2 {
			v["e_imp_t1"], v["e_imp_t3"] = 1_000_000, 2_000_000
		}
		rs = append(rs, meterdata.Reading{Meter: meter1, Kind: meterdata.KindMonthly, Time: day0.AddDate(0, m, 0), Values: v})
	}
	// A daily value frozen at a time that is not a whole minute: its Ta is invalid.
	rs = append(rs, meterdata.Reading{Meter: meter1, Kind: meterdata.KindDailyFrozen, Time: day0.AddDate(0, 0, 5).Add(30 * time.Second),
		Values: map[string]int64{"e_imp": 5_100_000, "e_exp": 7_000}})
	cfg := testConfig()
	cfg.WhPerCount = 1000 // kWh, as REE masters expect
	r := session(t, cfg, outstationtest.NewMemorySource(rs...))

	t.Run("daily registers in kWh", func(t *testing.T) {
		req := totalsReq(iec102.TypeReadOperationalTotals, iec102.RecordDaily1, 1, 2, day0.AddDate(0, 0, 1), day0.AddDate(0, 0, 6))
		wantTotals(t, totalsOf(t, wantRange(t, req, r.request(req)), iec102.TypeOperationalTotals), []string{
			"2026-03-02 00:00 dow 1: 1:5010 ok, 2:7 ok",
			"2026-03-03 00:00 dow 2: 1:5020 ok, 2:7 ok",
			"2026-03-04 00:00 dow 3: 1:5030 ok, 2:7 ok",
			"2026-03-06 00:00 IV dow 5: 1:5100 ok, 2:7 ok",
		})
	})
	t.Run("daily increments", func(t *testing.T) {
		req := totalsReq(iec102.TypeReadPeriodicOperationalTotals, iec102.RecordDaily1, 1, 1, day0.AddDate(0, 0, 1), day0.AddDate(0, 0, 3))
		wantTotals(t, totalsOf(t, wantRange(t, req, r.request(req)), iec102.TypePeriodicOperationalTotals), []string{
			"2026-03-02 00:00 dow 1: 1:10 ok", "2026-03-03 00:00 dow 2: 1:10 ok", "2026-03-04 00:00 dow 3: 1:10 ok"})
	})
	t.Run("billing", func(t *testing.T) {
		req := iec102.NewRequest(iec102.TypeReadStoredBilling, 1, iec102.RecordBilling1,
			iec102.TimeRange{From: ta(day0), To: ta(day0.AddDate(0, 3, 0))})
		data := wantRange(t, req, r.request(req))
		var got []string
		for _, a := range data {
			if a.Type != iec102.TypeStoredBilling || a.Count != 1 {
				t.Errorf("billing ASDU %s, want M_TA_VM_2 with one record", a.DUI)
			}
			rec := a.Info.(iec102.BillingRecords)[0]
			got = append(got, fmt.Sprintf("%d %d+%d %s %s..%s", rec.Address, rec.Active.Absolute, rec.Active.Incremental, rec.Active.Quality, rec.Start, rec.End))
			if rec.Inductive.Quality != iec102.QualityIV || rec.MaxDemand.Quality != iec102.QualityIV {
				t.Errorf("record %d: reactive and demand not acquired, want IV: %+v", rec.Address, rec)
			}
		}
		want := []string{
			"20 9000+0 AL 2000-00-00 00:00..2026-03-01 00:00 dow 7",
			"20 10500+1500 ok 2026-03-01 00:00 dow 7..2026-04-01 00:00 dow 3",
			"20 12000+1500 ok 2026-04-01 00:00 dow 3..2026-05-01 00:00 dow 5",
			"21 1000+0 AL 2026-04-01 00:00 dow 3..2026-05-01 00:00 dow 5",
			"23 2000+0 AL 2026-04-01 00:00 dow 3..2026-05-01 00:00 dow 5",
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("billing:\n got  %q\n want %q", got, want)
		}
	})
}

func TestInstantValues(t *testing.T) {
	rs := journal15(3)
	rs[2].Time = rs[2].Time.Add(20 * time.Second) // 00:30:20: not a whole minute
	cfg := testConfig()
	cfg.Now = func() time.Time { return day0.Add(20 * time.Minute) }
	r := session(t, cfg, outstationtest.NewMemorySource(rs...))
	as := r.request(iec102.NewRequest(iec102.TypeReadInstantValues, 1, 0, iec102.InstantRequest{192, 193, 194}))
	if len(as) != 1 || as[0].Type != iec102.TypeInstantValues || as[0].COT.Cause != iec102.CauseRequest {
		t.Fatalf("answers %v, want one R_IN_VA_2 COT 5", as)
	}
	v := as[0].Info.(iec102.InstantValues)
	tot := v[0].(iec102.InstantTotals)
	if tot.ActiveImport != 1_000_100 || tot.ActiveExport != 1 || tot.Time != ta(day0.Add(15*time.Minute)) {
		t.Errorf("group 192 = %+v, want the 00:15 registers", tot)
	}
	pw := v[1].(iec102.InstantPowers)
	if pw.Total != (iec102.PowerReading{Active: 1234, Reactive: 300, PowerFactor: 987, Flags: 0x01}) ||
		pw.Phases[0] != (iec102.PowerReading{Active: 400}) || pw.Phases[1].Flags != 0x20 {
		t.Errorf("group 193 = %+v", pw)
	}
	ph := v[2].(iec102.InstantPhases)
	if ph.Phases[0] != (iec102.PhaseReading{Current: 51, Voltage: 2301}) || ph.Phases[1].Flags != 0x02 {
		t.Errorf("group 194 = %+v", ph)
	}

	// Later the newest entry is 00:30:20: its tag is marked invalid.
	cfg.Now = func() time.Time { return day0.Add(time.Hour) }
	r = session(t, cfg, outstationtest.NewMemorySource(rs...))
	as = r.request(iec102.NewRequest(iec102.TypeReadInstantValues, 1, 0, iec102.InstantRequest{192}))
	if tot := as[0].Info.(iec102.InstantValues)[0].(iec102.InstantTotals); !tot.Time.Invalid || tot.ActiveImport != 1_000_200 {
		t.Errorf("group 192 = %+v, want 00:30 IV", tot)
	}
}

type events []outstation.Event

func (e events) Events(_ context.Context, m meterdata.MeterID, rad iec102.RecordAddress, from, to time.Time, limit int) ([]outstation.Event, error) {
	var out []outstation.Event
	for _, ev := range e {
		if m == meter1 && ev.Record == rad && !ev.Time.Before(from) && !ev.Time.After(to) && len(out) < limit {
			out = append(out, ev)
		}
	}
	return out, nil
}

func TestEvents(t *testing.T) {
	var evs events
	for i := range 25 {
		evs = append(evs, outstation.Event{Time: day0.Add(time.Duration(i) * time.Minute).Add(1500 * time.Millisecond),
			Record: iec102.RecordEventsPower, Address: 3, Code: uint8(i), On: i%2 == 0})
	}
	cfg := testConfig()
	cfg.Events = evs
	r := session(t, cfg, outstationtest.NewMemorySource())
	req := iec102.NewRequest(iec102.TypeReadSinglePointRange, 1, iec102.RecordEventsPower, iec102.TimeRange{From: ta(day0), To: ta(day0.Add(time.Hour))})
	data := wantRange(t, req, r.request(req))
	if len(data) != 2 || data[0].Count != 20 || data[1].Count != 5 {
		t.Fatalf("data = %v, want 20 + 5 events", data)
	}
	sp := data[1].Info.(iec102.SinglePoints)[4]
	if sp.Address != 3 || sp.Code != 24 || !sp.Value || sp.Time.String() != "2026-03-01 00:24:01.500 dow 7" {
		t.Errorf("last event %+v %s", sp, sp.Time)
	}
}

// TestRefusals: every negative answer is the mirror of the request without objects and
// with the cause the package documents.
func TestRefusals(t *testing.T) {
	src := outstationtest.NewMemorySource(journal15(4)...)
	cfg := testConfig()
	tests := []struct {
		name  string
		login bool
		req   iec102.ASDU
		want  iec102.COT
	}{
		{"wrong password", false, iec102.NewRequest(iec102.TypeStartSession, 1, 0, iec102.Password(2)), iec102.COT{Cause: 7, Negative: true}},
		{"unknown point", false, iec102.NewRequest(iec102.TypeStartSession, 2, 0, iec102.Password(1)), iec102.COT{Cause: 16}},
		{"no session", false, iec102.NewRequest(iec102.TypeReadTime, 1, 0, nil), iec102.COT{Cause: 14}},
		{"other point without its session", true, iec102.NewRequest(iec102.TypeReadTime, 7, 0, nil), iec102.COT{Cause: 14}},
		{"type not served", true, iec102.NewRequest(iec102.TypeReadContractedPowers, 1, 134, nil), iec102.COT{Cause: 14}},
		{"type without codec", true, iec102.ASDU{DUI: iec102.DUI{Type: iec102.TypeReadTariffConfiguration, COT: iec102.COT{Cause: 5}, CommonAddress: 1}}, iec102.COT{Cause: 14}},
		{"monitor type", true, iec102.NewASDU(iec102.TypeSystemTime, iec102.COT{Cause: 5}, 1, 0, nil), iec102.COT{Cause: 14}},
		{"set clock without SetClock", true, iec102.NewRequest(iec102.TypeSetTime, 1, 0, iec102.TimeB{TimeA: ta(day0)}), iec102.COT{Cause: 14}},
		{"events without a source", true, iec102.NewRequest(iec102.TypeReadSinglePointRange, 1, 52, iec102.TimeRange{From: ta(day0), To: ta(day0)}), iec102.COT{Cause: 14}},
		{"record not served", true, totalsReq(iec102.TypeReadOperationalTotals, 13, 1, 8, day0, day0), iec102.COT{Cause: 16}},
		{"objects beyond 8", true, totalsReq(iec102.TypeReadOperationalTotals, 11, 1, 9, day0, day0), iec102.COT{Cause: 17}},
		{"objects reversed", true, totalsReq(iec102.TypeReadOperationalTotals, 11, 2, 1, day0, day0), iec102.COT{Cause: 17}},
		{"invalid time tag", true, iec102.NewRequest(iec102.TypeReadOperationalTotals, 1, 11, iec102.TotalsRequest{First: 1, Last: 2, From: iec102.TimeA{Year: 26, Month: 2, Day: 30}, To: ta(day0)}), iec102.COT{Cause: 18}},
		{"billing of contract II", true, iec102.NewRequest(iec102.TypeReadStoredBilling, 1, 135, iec102.TimeRange{From: ta(day0), To: ta(day0)}), iec102.COT{Cause: 16}},
		{"instant group unknown", true, iec102.NewRequest(iec102.TypeReadInstantValues, 1, 0, iec102.InstantRequest{192, 195}), iec102.COT{Cause: 17}},
		{"instant values of a meter without readings", false, iec102.NewRequest(iec102.TypeReadInstantValues, 7, 0, iec102.InstantRequest{192}), iec102.COT{Cause: 13}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := outstationtest.Start(t, cfg, src)
			r := dialRaw(t, addr)
			r.start()
			if tc.login {
				r.login(1, 1)
			}
			if tc.want.Cause == 13 {
				r.login(7, 77)
			}
			as := r.request(tc.req)
			want := tc.req.Mirror(tc.want, false)
			if len(as) != 1 || as[0].DUI != want.DUI || as[0].Info != nil {
				t.Fatalf("answers %v, want %s", as, want)
			}
		})
	}
}

// TestSessionLifecycle: end of session closes the point's session; a repeated poll gets
// the same answer; a frame for another link address and a corrupt frame get none.
func TestSessionLifecycle(t *testing.T) {
	r := session(t, testConfig(), outstationtest.NewMemorySource(journal15(2)...))
	if as := r.request(iec102.NewRequest(iec102.TypeEndSession, 1, 0, nil)); len(as) != 1 || as[0].COT != (iec102.COT{Cause: 7}) {
		t.Fatalf("end session = %v", as)
	}
	if as := r.request(iec102.NewRequest(iec102.TypeReadTime, 1, 0, nil)); len(as) != 1 || as[0].COT.Cause != 14 {
		t.Fatalf("read time after the end of session = %v, want COT 14", as)
	}
	r.login(1, 1)

	// The answer to a poll is lost: the repeated poll (same FCB) gets it again.
	b, _ := iec102.NewRequest(iec102.TypeReadTime, 1, 0, nil).Encode()
	f, _ := r.p.UserData(b)
	r.transact(f)
	poll, _ := r.p.PollClass2()
	pb, _ := poll.Encode()
	r.write(pb)
	first := r.recv()
	r.write(pb)
	if again := r.recv(); !again.Equal(first) || first.Format != iec102.FormatVariable {
		t.Errorf("repeated poll answered %s, first %s", again, first)
	}
	r.p.Answer(first)

	// Another link address, then a corrupt frame: no answer; the next frame is answered.
	other := iec102.NewFixed(iec102.PrimaryControl(iec102.LinkStatusRequest, false), 2)
	ob, _ := other.Encode()
	r.write(ob)
	r.write([]byte{0x10, 0x49, 0x01, 0x00, 0x00, 0x16}) // bad checksum
	r.exchange("10 49 01 00 4A 16", "10 0B 01 00 0C 16")
}

func TestSetClock(t *testing.T) {
	var got atomic.Value
	cfg := testConfig()
	cfg.Location = madrid
	cfg.SetClock = func(_ context.Context, at time.Time) error {
		if at.Year() == 2030 {
			return errors.New("refused")
		}
		got.Store(at)
		return nil
	}
	r := session(t, cfg, outstationtest.NewMemorySource())
	at := time.Date(2026, 7, 1, 12, 0, 5, 250e6, madrid)
	tb, _ := iec102.TimeBOf(at)
	req := iec102.NewRequest(iec102.TypeSetTime, 1, 0, tb)
	as := r.request(req)
	if len(as) != 1 || as[0].COT != (iec102.COT{Cause: 7}) || as[0].Info != tb {
		t.Fatalf("set time = %v, want the COT 7 mirror with the time", as)
	}
	if v, _ := got.Load().(time.Time); !v.Equal(at) {
		t.Errorf("SetClock(%v), want %v", v, at)
	}
	tb.Year = 30
	if as := r.request(iec102.NewRequest(iec102.TypeSetTime, 1, 0, tb)); len(as) != 1 || as[0].COT != (iec102.COT{Cause: 7, Negative: true}) {
		t.Fatalf("refused set time = %v, want COT 7 P/N", as)
	}
}

func TestJournalFailure(t *testing.T) {
	src := outstationtest.NewMemorySource(journal15(8)...)
	r := session(t, testConfig(), src)
	src.Err = errors.New("disk on fire")
	req := totalsReq(iec102.TypeReadOperationalTotals, iec102.RecordHourly, 1, 2, day0, day0.Add(time.Hour))
	if as := r.request(req); len(as) != 1 || as[0].COT.Cause != iec102.CauseRecordNotAvailable {
		t.Fatalf("answers %v, want a refusal with COT 13, never an empty answer", as)
	}
}

func TestMaxPeriods(t *testing.T) {
	cfg := testConfig()
	cfg.MaxPeriods = 3
	r := session(t, cfg, outstationtest.NewMemorySource(journal15(4*10)...))
	req := totalsReq(iec102.TypeReadPeriodicOperationalTotals, iec102.RecordHourly, 1, 1, day0.Add(time.Hour), day0.Add(9*time.Hour))
	wantTotals(t, totalsOf(t, wantRange(t, req, r.request(req)), iec102.TypePeriodicOperationalTotals), []string{
		"2026-03-01 01:00 dow 7: 1:400 ok", "2026-03-01 02:00 dow 7: 1:400 ok", "2026-03-01 03:00 dow 7: 1:400 ok"})
}

func TestAllowList(t *testing.T) {
	cfg := testConfig()
	cfg.AllowedMasters = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.2/32")}
	srv, addr := outstationtest.Start(t, cfg, outstationtest.NewMemorySource())
	r := dialRaw(t, addr) // from 127.0.0.1
	r.write([]byte{0x10, 0x49, 0x01, 0x00, 0x4A, 0x16})
	r.wantEOF()

	// From an allowed address.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Skipf("cannot dial from 127.0.0.2: %v", err)
	}
	defer conn.Close()
	ok := &raw{t: t, conn: conn, p: iec102.NewPrimary(1, 0)}
	ok.exchange("10 49 01 00 4A 16", "10 0B 01 00 0C 16")
	if st := srv.Stats(); st.Refused != 1 || st.Accepted != 1 {
		t.Errorf("stats = %+v, want 1 refused, 1 accepted", st)
	}
}

func TestMaxConnsAndIdle(t *testing.T) {
	cfg := testConfig()
	cfg.MaxConns = 1
	cfg.IdleTimeout = 200 * time.Millisecond
	srv, addr := outstationtest.Start(t, cfg, outstationtest.NewMemorySource())
	first := dialRaw(t, addr)
	first.exchange("10 49 01 00 4A 16", "10 0B 01 00 0C 16")
	second := dialRaw(t, addr)
	second.wantEOF() // over the bound
	first.wantEOF()  // idle
	if st := srv.Stats(); st.Rejected != 1 {
		t.Errorf("stats = %+v, want 1 rejected", st)
	}
}

func TestWrongPasswordsHangUp(t *testing.T) {
	cfg := testConfig()
	cfg.MaxAuthFailures = 2
	srv, addr := outstationtest.Start(t, cfg, outstationtest.NewMemorySource())
	r := dialRaw(t, addr)
	r.start()
	if as := r.login(1, 9); len(as) != 1 || !as[0].COT.Negative {
		t.Fatalf("first wrong password = %v", as)
	}
	b, _ := iec102.NewRequest(iec102.TypeStartSession, 1, 0, iec102.Password(8)).Encode()
	f, _ := r.p.UserData(b)
	r.transact(f)
	poll, _ := r.p.PollClass2()
	if a := r.transact(poll); a.Func != iec102.UserData {
		t.Fatalf("second refusal not delivered: %s", a.Func)
	}
	r.wantEOF()
	if st := srv.Stats(); st.AuthFailures != 2 {
		t.Errorf("stats = %+v, want 2 auth failures", st)
	}
}

func TestServeStopsWithContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.AllowedMasters = outstationtest.Loopback
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- outstation.Serve(ctx, ln, cfg, outstationtest.NewMemorySource()) }()
	r := dialRaw(t, ln.Addr().String())
	r.exchange("10 49 01 00 4A 16", "10 0B 01 00 0C 16")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve = %v, want nil after cancel", err)
	}
	r.wantEOF()
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("listener still accepting after Serve returned")
	}
}

func TestConfigValidate(t *testing.T) {
	good := testConfig()
	good.AllowedMasters = outstationtest.Loopback
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for name, f := range map[string]func(c *outstation.Config){
		"no points":        func(c *outstation.Config) { c.Points = nil },
		"point twice":      func(c *outstation.Config) { c.Points = append(c.Points, c.Points[0]) },
		"bad meter":        func(c *outstation.Config) { c.Points = []outstation.Point{{Address: 1, Meter: "x"}} },
		"no masters":       func(c *outstation.Config) { c.AllowedMasters = nil },
		"broadcast link":   func(c *outstation.Config) { c.LinkAddress = 0xFFFF },
		"negative timeout": func(c *outstation.Config) { c.IdleTimeout = -1 },
		"invalid prefix":   func(c *outstation.Config) { c.AllowedMasters = []netip.Prefix{{}} },
	} {
		c := good
		c.Points = append([]outstation.Point(nil), good.Points...)
		f(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate = nil, want an error", name)
		}
	}
}
