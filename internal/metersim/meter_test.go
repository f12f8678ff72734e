package metersim

import (
	"math"
	"testing"
	"time"
)

// t0 is a Monday, 00:00 China Standard Time.
var t0 = time.Date(2024, 3, 11, 0, 0, 0, 0, ChinaStandardTime)

func newTestMeter(t *testing.T, spec MeterSpec, seed int64) *Meter {
	t.Helper()
	m, err := NewMeter(spec, seed, t0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var testSpecs = []MeterSpec{
	{Address: "000000000001", Customer: Residential},
	{Address: "000000000002", Customer: Commercial},
	{Address: "000000000003", Customer: Industrial},
	{Address: "000000000004", Customer: Residential, ExportPeakW: 4000},
}

// TestPlausible samples a week every 5 minutes and checks every value's range and the
// physics tying them together.
func TestPlausible(t *testing.T) {
	for _, spec := range testSpecs {
		t.Run(spec.Customer.String()+"/"+spec.Address, func(t *testing.T) {
			m := newTestMeter(t, spec, 1)
			for at := t0; at.Before(t0.Add(7 * 24 * time.Hour)); at = at.Add(5 * time.Minute) {
				s := m.Sample(at)
				for i := range 3 {
					if s.U[i] < 205_000 || s.U[i] > 235_000 {
						t.Fatalf("%v: u[%d] = %d mV", at, i, s.U[i])
					}
				}
				if s.F < 49_950 || s.F > 50_050 {
					t.Fatalf("%v: f = %d mHz", at, s.F)
				}
				if pf := abs(s.PF); pf < 900 || pf > 990 {
					t.Fatalf("%v: pf = %d", at, s.PF)
				}
				if s.PF < 0 != (s.P < 0) {
					t.Fatalf("%v: pf %d signed unlike p %d", at, s.PF, s.P)
				}
				if abs(s.P) > 79_999_900 {
					t.Fatalf("%v: p = %d mW outside XX.XXXX kW", at, s.P)
				}
				if spec.ExportPeakW == 0 && s.P <= 0 {
					t.Fatalf("%v: p = %d mW for a meter without export", at, s.P)
				}
				if sum := s.PPhase[0] + s.PPhase[1] + s.PPhase[2]; sum != s.P {
					t.Fatalf("%v: phases add to %d, p = %d", at, sum, s.P)
				}
				pf := float64(abs(s.PF)) / 1000
				for i := range 3 {
					// I = P / (U · PF), within rounding of the 0.1 V and 1 mA steps.
					want := float64(s.PPhase[i]) / (float64(s.U[i]) / 1000) / pf
					if math.Abs(float64(s.I[i])-want) > 1+math.Abs(want)*1e-3 {
						t.Fatalf("%v: i[%d] = %d mA, P/(U·PF) = %.1f", at, i, s.I[i], want)
					}
				}
				// Q = |P| tan(acos PF), within the 0.1 var step and the PF's rounding.
				wantQ := math.Abs(float64(s.P)) * math.Tan(math.Acos(pf))
				if math.Abs(float64(s.Q)-wantQ) > 100 {
					t.Fatalf("%v: q = %d mvar, want %.0f", at, s.Q, wantQ)
				}
				if s.Status3 != 0 || (s.Status1&(1<<4) != 0) != (s.P < 0) {
					t.Fatalf("%v: status words %#x %#x with p %d", at, s.Status1, s.Status3, s.P)
				}
			}
		})
	}
}

// TestLoadShape checks the daily shapes have their character: residential evenings above
// nights, commercial working hours above weekends.
func TestLoadShape(t *testing.T) {
	mean := func(m *Meter, day int, fromHour, toHour int) float64 {
		var sum, n float64
		for h := fromHour; h < toHour; h++ {
			for min := 0; min < 60; min += 10 {
				at := t0.AddDate(0, 0, day).Add(time.Duration(h)*time.Hour + time.Duration(min)*time.Minute)
				sum += float64(m.Sample(at).P)
				n++
			}
		}
		return sum / n
	}
	res := newTestMeter(t, testSpecs[0], 1)
	if night, evening := mean(res, 0, 1, 5), mean(res, 0, 19, 22); evening < 3*night {
		t.Errorf("residential: evening %.0f mW not well above night %.0f mW", evening, night)
	}
	com := newTestMeter(t, testSpecs[1], 1)
	if weekday, sunday := mean(com, 1, 9, 17), mean(com, 6, 9, 17); sunday > 0.8*weekday {
		t.Errorf("commercial: Sunday %.0f mW not below Tuesday %.0f mW", sunday, weekday)
	}
	pv := newTestMeter(t, testSpecs[3], 1)
	if noon := mean(pv, 0, 11, 13); noon >= 0 {
		t.Errorf("export meter: midday mean %.0f mW, want export (negative)", noon)
	}
}

// TestEnergyIntegratesPower samples every 10-second step of six hours and checks that the
// registers rose by the integral of the power reported, per rate, within the 10 Wh
// resolution of the register.
func TestEnergyIntegratesPower(t *testing.T) {
	for _, spec := range testSpecs {
		t.Run(spec.Customer.String()+"/"+spec.Address, func(t *testing.T) {
			m := newTestMeter(t, spec, 7)
			from := t0.Add(7 * time.Hour) // across the valley/flat/peak boundaries
			to := from.Add(6 * time.Hour)
			before := m.Sample(from)
			var imp [4]int64 // mJ
			var exp int64
			for at := from; at.Before(to); at = at.Add(Step) {
				s := m.Sample(at)
				e := s.P * int64(Step/time.Second)
				if e >= 0 {
					imp[RateAt(at)-1] += e
				} else {
					exp -= e
				}
			}
			after := m.Sample(to)
			var total int64
			for r := range 4 {
				total += imp[r]
				checkWh(t, "rate "+string(rune('1'+r)), after.EImpRate[r]-before.EImpRate[r], imp[r])
			}
			checkWh(t, "total", after.EImp-before.EImp, total)
			checkWh(t, "export", after.EExp-before.EExp, exp)
			if total == 0 {
				t.Error("no energy in six hours")
			}
		})
	}
}

func checkWh(t *testing.T, what string, gotWh, wantMJ int64) {
	t.Helper()
	want := float64(wantMJ) / 3_600_000
	if math.Abs(float64(gotWh)-want) > 10 {
		t.Errorf("%s: register rose %d Wh, integral of power %.1f Wh", what, gotWh, want)
	}
}

// TestEnergyMonotonic samples at irregular instants over three days, including some
// before earlier ones: no register ever decreases.
func TestEnergyMonotonic(t *testing.T) {
	for _, spec := range testSpecs {
		m := newTestMeter(t, spec, 3)
		prev := m.Sample(t0)
		at := t0
		for i := range 2000 {
			at = at.Add(time.Duration(i%17+1) * 7 * time.Second * 11)
			q := at
			if i%5 == 0 {
				q = at.Add(-time.Hour) // asking about the past
			}
			s := m.Sample(q)
			if s.EImp < prev.EImp || s.EExp < prev.EExp {
				t.Fatalf("%s at %v: e_imp %d → %d, e_exp %d → %d", spec.Address, q, prev.EImp, s.EImp, prev.EExp, s.EExp)
			}
			for r := range 4 {
				if s.EImpRate[r] < prev.EImpRate[r] {
					t.Fatalf("%s at %v: rate %d decreased", spec.Address, q, r+1)
				}
			}
			prev = s
		}
		if prev.EImp <= m.Sample(t0).EImp-1 {
			t.Errorf("%s: no energy in three days", spec.Address)
		}
	}
}

// TestDeterministic checks that the same seed gives the same answers whatever the order
// and density of the questions before, and another seed or address different ones.
func TestDeterministic(t *testing.T) {
	spec := testSpecs[1]
	end := t0.Add(49*time.Hour + 17*time.Minute + 3*time.Second)

	a := newTestMeter(t, spec, 42)
	for at := t0; at.Before(end); at = at.Add(time.Minute) {
		a.Sample(at)
	}
	b := newTestMeter(t, spec, 42) // asked only at the end
	if sa, sb := a.Sample(end), b.Sample(end); sa != sb {
		t.Errorf("same seed, different history:\n%+v\n%+v", sa, sb)
	}

	c := newTestMeter(t, spec, 43)
	if sa, sc := a.Sample(end), c.Sample(end); sa.P == sc.P && sa.EImp == sc.EImp {
		t.Errorf("seeds 42 and 43 agree: %+v", sa)
	}
	other := spec
	other.Address = "000000000009"
	d := newTestMeter(t, other, 42)
	if sa, sd := a.Sample(end), d.Sample(end); sa.P == sd.P {
		t.Errorf("two addresses with one seed agree on power %d", sa.P)
	}
	if sa, sd := a.Sample(end), d.Sample(end); sa.F != sd.F {
		t.Errorf("frequency differs between meters of one grid: %d, %d", sa.F, sd.F)
	}
}

func TestMeterClock(t *testing.T) {
	m := newTestMeter(t, testSpecs[0], 1)
	at := t0.Add(5 * time.Hour)
	off := m.Clock(at).Sub(at)
	if off < -30*time.Second || off > 30*time.Second {
		t.Errorf("clock off by %v", off)
	}
	m.SetClock(at, at.Add(2*time.Second))
	if got := m.Clock(at.Add(time.Hour)); !got.Equal(at.Add(time.Hour + 2*time.Second)) {
		t.Errorf("after sync: %v", got)
	}
}

func TestNewMeterErrors(t *testing.T) {
	for _, spec := range []MeterSpec{
		{Address: "12345"},
		{Address: "AAAAAAAAAAAA"},
		{Address: "999999999999"},
		{Address: "000000000001", Customer: 7},
		{Address: "000000000001", PeakW: 90000},
	} {
		if _, err := NewMeter(spec, 1, t0, nil); err == nil {
			t.Errorf("NewMeter(%+v) accepted", spec)
		}
	}
}

func TestGenerateMeters(t *testing.T) {
	specs, err := GenerateMeters(12, "000000000099")
	if err != nil {
		t.Fatal(err)
	}
	if specs[0].Address != "000000000099" || specs[11].Address != "000000000110" {
		t.Errorf("addresses %s…%s", specs[0].Address, specs[11].Address)
	}
	seen := map[CustomerType]int{}
	exporters := 0
	for _, s := range specs {
		seen[s.Customer]++
		if s.ExportPeakW > 0 {
			exporters++
		}
	}
	if seen[Residential] == 0 || seen[Commercial] == 0 || seen[Industrial] == 0 || exporters == 0 {
		t.Errorf("mix %v, %d exporters", seen, exporters)
	}
	if _, err := New(Options{Meters: specs, Clock: NewManualClock(t0)}); err != nil {
		t.Errorf("New with generated meters: %v", err)
	}
	for _, tc := range []struct {
		n     int
		first string
	}{{0, "1"}, {2, "999999999998"}, {1, "x"}, {1, "1234567890123"}} {
		if _, err := GenerateMeters(tc.n, tc.first); err == nil {
			t.Errorf("GenerateMeters(%d, %q) accepted", tc.n, tc.first)
		}
	}
	if _, err := New(Options{Meters: []MeterSpec{specs[0], specs[0]}}); err == nil {
		t.Error("duplicate addresses accepted")
	}
}

func TestVirtualClock(t *testing.T) {
	c := NewVirtualClock(t0, 3600)
	a := c.Now()
	time.Sleep(10 * time.Millisecond)
	if d := c.Now().Sub(a); d < 30*time.Second {
		t.Errorf("10 ms real at 3600× advanced %v", d)
	}
	mc := NewManualClock(t0)
	mc.Advance(time.Hour)
	if !mc.Now().Equal(t0.Add(time.Hour)) {
		t.Error("ManualClock.Advance")
	}
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func BenchmarkSample(b *testing.B) {
	m, err := NewMeter(testSpecs[2], 1, t0, nil)
	if err != nil {
		b.Fatal(err)
	}
	at := t0
	b.ReportAllocs()
	for b.Loop() {
		at = at.Add(Step) // one integration step per sample, as a live meter at 10 s polls
		m.Sample(at)
	}
}
