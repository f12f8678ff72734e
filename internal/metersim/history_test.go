package metersim

import (
	"reflect"
	"testing"
	"time"

	"gridmeter/internal/dlt645"
)

var level02 = dlt645.Credentials{Level: 2}

// monthScenario is a month and a week of one meter's life, driven through the model at
// simulated instants (no sleeps, no server): two outages (one across midnight), a trip
// and a close-allowed, a settlement on 1 April.
type monthScenario struct {
	spec     MeterSpec
	outages  []Outage
	trip     time.Time
	allow    time.Time
	end      time.Time
	detailed [2]time.Time // every 10-second step is sampled in this window
}

func newMonthScenario(spec MeterSpec) monthScenario {
	sc := monthScenario{spec: spec}
	sc.outages = []Outage{
		{Start: t0.Add(4*24*time.Hour + 14*time.Hour + 7*time.Minute), End: t0.Add(4*24*time.Hour + 17*time.Hour + 2*time.Minute)},
		{Start: t0.Add(8*24*time.Hour + 23*time.Hour), End: t0.Add(9*24*time.Hour + 90*time.Minute)},
	}
	sc.spec.Outages = sc.outages
	sc.spec.ProfileDays = 31
	sc.spec.CloseDelay = 5 * time.Minute
	sc.trip = t0.Add(14*24*time.Hour + 10*time.Hour + 3*time.Minute + 7*time.Second)
	sc.allow = t0.Add(14*24*time.Hour + 18*time.Hour)
	sc.end = t0.Add(37 * 24 * time.Hour)
	sc.detailed = [2]time.Time{t0.Add(14 * 24 * time.Hour), t0.Add(15 * 24 * time.Hour)}
	return sc
}

// run drives the meter through the scenario, sampling at every boundary of its clock and
// at every step of the detailed window, and returns the samples by true Unix ms.
func (sc monthScenario) run(t *testing.T, m *Meter, sampleAll bool) map[int64]Sample {
	t.Helper()
	samples := map[int64]Sample{}
	off := m.Clock(t0).Sub(t0)
	command := func(at time.Time, a dlt645.ControlAction) {
		if code := m.Control(at, level02, dlt645.ControlCommand{Action: a, ValidUntil: at.Add(time.Hour)}); code != 0 {
			t.Fatalf("%v %s: refused %v", at, a, code)
		}
	}
	tripped, allowed := false, false
	for at := t0; !at.After(sc.end); {
		if !tripped && !at.Before(sc.trip) {
			command(sc.trip, dlt645.ActionTrip)
			tripped = true
		}
		if !allowed && !at.Before(sc.allow) {
			command(sc.allow, dlt645.ActionCloseAllowed)
			allowed = true
		}
		if sampleAll {
			samples[at.UnixMilli()] = m.Sample(at)
		}
		// Next: the next boundary of the meter's clock, or the next step in the window.
		next := at.Add(off).Truncate(15 * time.Minute).Add(15 * time.Minute).Add(-off)
		if !at.Before(sc.detailed[0]) && at.Before(sc.detailed[1]) {
			if s := at.Truncate(Step).Add(Step); s.Before(next) {
				next = s
			}
		}
		for _, ev := range []time.Time{sc.trip, sc.allow} {
			if ev.After(at) && ev.Before(next) {
				next = ev
			}
		}
		at = next
	}
	return samples
}

func TestMonthOfHistory(t *testing.T) {
	for _, spec := range []MeterSpec{
		{Address: "000000000002", Customer: Commercial},
		{Address: "000000000004", Customer: Residential, ExportPeakW: 4000},
	} {
		t.Run(spec.Customer.String(), func(t *testing.T) {
			sc := newMonthScenario(spec)
			m, err := NewMeter(sc.spec, 5, t0, nil)
			if err != nil {
				t.Fatal(err)
			}
			samples := sc.run(t, m, true)
			off := m.Clock(t0).Sub(t0)
			at := func(meterTime time.Time) Sample {
				t.Helper()
				s, ok := samples[meterTime.Add(-off).UnixMilli()]
				if !ok {
					t.Fatalf("no sample at meter time %v", meterTime)
				}
				return s
			}

			// Daily freezes: one per local midnight of the meter's clock after the start,
			// equal to the registers integrated to that instant, made during an outage too.
			var midnights []time.Time
			for d := t0; !d.After(sc.end.Add(off)); d = d.AddDate(0, 0, 1) {
				if d.Add(-off).After(t0) {
					midnights = append(midnights, d)
				}
			}
			for n := 1; ; n++ {
				r, ok := m.DailyFrozen(sc.end, n)
				if !ok {
					if n-1 != len(midnights) {
						t.Errorf("%d daily freezes, want %d", n-1, len(midnights))
					}
					break
				}
				want := midnights[len(midnights)-n]
				if !r.Time.Equal(want) {
					t.Fatalf("freeze %d at %v, want %v", n, r.Time, want)
				}
				checkFrozen(t, "daily "+want.Format(time.DateOnly), r, at(want))
			}

			// Settlement on 1 April 00:00 by the meter's clock.
			r, ok := m.Settlement(sc.end, 1)
			settle := time.Date(2024, 4, 1, 0, 0, 0, 0, ChinaStandardTime)
			if !ok || !r.Time.Equal(settle) {
				t.Fatalf("settlement %+v, %v", r, ok)
			}
			checkFrozen(t, "settlement", r, at(settle))
			if _, ok := m.Settlement(sc.end, 2); ok {
				t.Error("a second settlement in five weeks")
			}

			// Load profile: a record at every quarter hour of the meter's clock, except
			// while the supply was off, with the registers and power at that instant.
			recs := m.LoadProfile(sc.end)
			var prev *dlt645.LoadRecord
			gaps := 0
			for i := range recs {
				rec := &recs[i]
				s := at(rec.Time)
				if !s.Powered {
					t.Errorf("record at %v during an outage", rec.Time)
				}
				if rec.ForwardActive != s.EImp || rec.ReverseActive != s.EExp || rec.ActivePower[0] != s.P ||
					rec.Voltage != s.U || rec.Current != s.I || rec.Frequency != s.F || rec.PowerFactor[0] != s.PF {
					t.Fatalf("record %+v\nsample %+v", rec, s)
				}
				if prev != nil {
					if d := rec.Time.Sub(prev.Time); d != 15*time.Minute {
						gaps++
						for tm := prev.Time.Add(15 * time.Minute); tm.Before(rec.Time); tm = tm.Add(15 * time.Minute) {
							if at(tm).Powered {
								t.Errorf("no record at %v with the supply on", tm)
							}
						}
					}
				}
				prev = rec
			}
			wantGaps := 0
			for _, o := range sc.outages {
				if o.Start.Add(off).After(recs[0].Time) {
					wantGaps++
				}
			}
			if gaps != wantGaps || len(recs) != 31*96 || wantGaps == 0 {
				t.Errorf("%d records with %d gaps, want %d records with one gap per outage kept (%d)", len(recs), gaps, 31*96, wantGaps)
			}

			// In the sampled window, each record's energy step is the integral of the
			// power over its quarter hour (10 Wh register resolution).
			checkIntegral(t, recs, samples, off, sc.detailed, sc.trip, sc.allow, sc.allow.Add(sc.spec.CloseDelay))

			// Outages: registers flat across them; one power-down record each.
			count, events := m.PowerDowns(sc.end)
			if count != 2 || len(events) != 2 {
				t.Fatalf("power-downs %d %+v", count, events)
			}
			for i, o := range sc.outages {
				e := events[len(events)-1-i]
				if !e.Start.Equal(o.Start.Add(off)) || !e.End.Equal(o.End.Add(off)) {
					t.Errorf("event %+v, outage %v…%v (meter clock %+v)", e, o.Start, o.End, off)
				}
				before, after := m.twinSample(t, sc, o.Start), m.twinSample(t, sc, o.End)
				if before.EImp != after.EImp || before.EExp != after.EExp {
					t.Errorf("registers moved during the outage: %d → %d", before.EImp, after.EImp)
				}
			}

			// Relay: no load from the trip until five minutes after close allowed.
			for at, s := range samples {
				tm := time.UnixMilli(at)
				open := !tm.Before(sc.trip) && tm.Before(sc.allow.Add(5*time.Minute))
				if open && (s.P != 0 || s.I != [3]int64{} || s.Status3&int64(dlt645.Status3RelayOpen) == 0) {
					t.Fatalf("%v: relay should be open: %+v", tm, s)
				}
				if !open && s.Powered && (s.P == 0 || s.Status3 != 0) {
					t.Fatalf("%v: relay should be closed: %+v", tm, s)
				}
			}
			if a, b := samples[sc.trip.UnixMilli()], samples[sc.allow.Add(5*time.Minute).UnixMilli()-int64(Step/time.Millisecond)]; a.EImp != b.EImp {
				t.Errorf("registers moved while tripped: %d → %d", a.EImp, b.EImp)
			}

			// The same meter asked only at the commands and at the end keeps the same
			// memory: records do not depend on how often the meter was read.
			twin, _ := NewMeter(sc.spec, 5, t0, nil)
			sc.run(t, twin, false)
			for n := 1; n <= dlt645.MaxDailyFrozen; n++ {
				a, okA := m.DailyFrozen(sc.end, n)
				b, okB := twin.DailyFrozen(sc.end, n)
				if okA != okB || !reflect.DeepEqual(a, b) {
					t.Fatalf("daily %d differs: %+v / %+v", n, a, b)
				}
			}
			if a, b := m.LoadProfile(sc.end), twin.LoadProfile(sc.end); !reflect.DeepEqual(a, b) {
				t.Error("load profiles differ between a meter read every step and one read once")
			}
			if a, b := m.Sample(sc.end), twin.Sample(sc.end); a != b {
				t.Errorf("end samples differ:\n%+v\n%+v", a, b)
			}
		})
	}
}

// twinSample replays the scenario on a fresh meter up to at and samples it there (the
// registers of a meter never run backwards, so the past is asked of a twin).
func (m *Meter) twinSample(t *testing.T, sc monthScenario, at time.Time) Sample {
	t.Helper()
	twin, err := NewMeter(sc.spec, 5, t0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		t time.Time
		a dlt645.ControlAction
	}{{sc.trip, dlt645.ActionTrip}, {sc.allow, dlt645.ActionCloseAllowed}} {
		if c.t.Before(at) {
			twin.Control(c.t, level02, dlt645.ControlCommand{Action: c.a, ValidUntil: c.t.Add(time.Hour)})
		}
	}
	return twin.Sample(at)
}

func checkFrozen(t *testing.T, what string, r dlt645.FrozenRecord, s Sample) {
	t.Helper()
	want := []int64{s.EImp, s.EImpRate[0], s.EImpRate[1], s.EImpRate[2], s.EImpRate[3]}
	if !reflect.DeepEqual(r.Forward, want) {
		t.Errorf("%s: forward %v, registers %v", what, r.Forward, want)
	}
	want = []int64{s.EExp, s.EExpRate[0], s.EExpRate[1], s.EExpRate[2], s.EExpRate[3]}
	if !reflect.DeepEqual(r.Reverse, want) {
		t.Errorf("%s: reverse %v, registers %v", what, r.Reverse, want)
	}
}

// checkIntegral compares each load profile step inside the window with the power
// sampled at every 10-second step of its quarter hour.
func checkIntegral(t *testing.T, recs []dlt645.LoadRecord, samples map[int64]Sample, off time.Duration, window [2]time.Time, cuts ...time.Time) {
	t.Helper()
	checked := 0
	for i := 1; i < len(recs); i++ {
		from, to := recs[i-1].Time.Add(-off), recs[i].Time.Add(-off)
		if to.Sub(from) != 15*time.Minute || from.Before(window[0]) || to.After(window[1]) {
			continue
		}
		var imp, exp int64 // µJ
		for at := from; at.Before(to); {
			s, ok := samples[at.UnixMilli()]
			if !ok {
				t.Fatalf("no sample at %v", at)
			}
			next := at.Truncate(Step).Add(Step)
			if next.After(to) {
				next = to
			}
			for _, c := range cuts { // a relay operation inside the step cuts it
				if c.After(at) && c.Before(next) {
					next = c
				}
			}
			e := s.P * next.Sub(at).Milliseconds()
			if e >= 0 {
				imp += e
			} else {
				exp -= e
			}
			at = next
		}
		dImp := recs[i].ForwardActive - recs[i-1].ForwardActive
		dExp := recs[i].ReverseActive - recs[i-1].ReverseActive
		if abs(dImp*uJPerWh-imp) > 10*uJPerWh || abs(dExp*uJPerWh-exp) > 10*uJPerWh {
			t.Errorf("%v: record steps %d/%d Wh, integral %.1f/%.1f Wh", recs[i].Time, dImp, dExp,
				float64(imp)/uJPerWh, float64(exp)/uJPerWh)
		}
		checked++
	}
	if checked < 90 {
		t.Errorf("only %d quarter hours checked against the power", checked)
	}
}
