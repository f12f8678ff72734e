package metersim

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"gridmeter/internal/dlt645"
)

// TestServeHistory reads the meters' memory over TCP with the dlt645 client, three weeks
// and a day into their lives, and compares with the model.
func TestServeHistory(t *testing.T) {
	outage := Outage{Start: t0.Add(50 * time.Hour), End: t0.Add(51*time.Hour + 30*time.Minute)}
	specs := []MeterSpec{
		{Address: "000000000001", Customer: Commercial, Outages: []Outage{outage}},
		{Address: "000000000002", Customer: Residential, ExportPeakW: 4000, Password: 0x123456},
		{Address: "000000000003", Customer: Industrial, EncryptedControl: true},
	}
	clock := NewManualClock(time.Date(2024, 4, 2, 9, 7, 0, 0, ChinaStandardTime))
	sim, addr := startSim(t, Options{Seed: 3, Meters: specs, Clock: clock, Start: t0})
	c := dial(t, addr, dlt645.Options{Timeout: time.Second})
	ctx := context.Background()
	cst := ChinaStandardTime

	for _, m := range sim.Meters() {
		a := m.Address()
		now := clock.Now()
		// Daily freezes, all of them, and nothing beyond.
		n := 0
		for ; ; n++ {
			want, ok := m.DailyFrozen(now, n+1)
			got, err := c.ReadDailyFrozen(ctx, a, n+1, cst)
			if !ok {
				if !errors.Is(err, dlt645.ErrNoRecord) {
					t.Errorf("%s: freeze %d: err = %v, want ErrNoRecord", a, n+1, err)
				}
				break
			}
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: freeze %d = %+v, %v; model %+v", a, n+1, got, err, want)
			}
		}
		if n < 21 || n > 23 {
			t.Errorf("%s: %d daily freezes in 22 days", a, n)
		}
		// Settlement: 1 April.
		set, err := c.ReadSettlement(ctx, a, 1)
		want, _ := m.Settlement(now, 1)
		if err != nil || !reflect.DeepEqual(set.Forward, want.Forward) || set.Reverse[0] != want.Reverse[0] {
			t.Errorf("%s: settlement %+v, %v; model %+v", a, set, err, want)
		}
		day, err := c.ReadSettlementDay(ctx, a)
		if err != nil || day != DefaultSettlement {
			t.Errorf("%s: settlement day %+v, %v", a, day, err)
		}
		meterNow, err := c.ReadClock(ctx, a, cst)
		if err != nil || !day.Previous(meterNow, 1).Equal(want.Time) {
			t.Errorf("%s: settlement instant %v from the clock %v, model %v", a, day.Previous(meterNow, 1), meterNow, want.Time)
		}
		if _, err := c.ReadSettlement(ctx, a, 2); !errors.Is(err, dlt645.ErrNoRecord) {
			t.Errorf("%s: settlement 2: %v", a, err)
		}
		// Load profile: the last two hours, 8 records in 4 frames (three follow-ups).
		all := m.LoadProfile(now)
		from := all[len(all)-8].Time
		recs, err := c.ReadLoadProfile(ctx, a, dlt645.LoadProfileRequest{Count: 10, From: from}, cst)
		if err != nil || !reflect.DeepEqual(recs, all[len(all)-8:]) {
			t.Errorf("%s: load profile %d records, %v", a, len(recs), err)
		}
		// Reverse block and pulse constant.
		raw, err := c.ReadRaw(ctx, a, dlt645.DIReverseActiveBlock)
		s := m.Sample(now)
		if err != nil || raw[0]*10 != s.EExp || raw[4]*10 != s.EExpRate[3] {
			t.Errorf("%s: reverse block %v, %v; model %d %v", a, raw, err, s.EExp, s.EExpRate)
		}
		if raw, err := c.ReadRaw(ctx, a, dlt645.DIActivePulseConstant); err != nil || raw[0] != m.pulseConstant() {
			t.Errorf("%s: pulse constant %v, %v", a, raw, err)
		}
	}

	// The first meter's outage: one power-down record, by its clock.
	m1 := sim.Meters()[0]
	if n, err := c.ReadPowerDownCount(ctx, m1.Address()); err != nil || n != 1 {
		t.Errorf("power-down count %d, %v", n, err)
	}
	e, err := c.ReadPowerDownEvent(ctx, m1.Address(), 1, cst)
	_, want := m1.PowerDowns(clock.Now())
	if err != nil || e != want[0] || !e.Start.Equal(m1.Clock(outage.Start).Truncate(time.Second)) {
		t.Errorf("power-down %+v, %v; model %+v", e, err, want)
	}
	if _, err := c.ReadPowerDownEvent(ctx, m1.Address(), 2, cst); !errors.Is(err, dlt645.ErrNoRecord) {
		t.Errorf("second power-down: %v", err)
	}
}

// TestServeControl trips, refuses, allows and closes relays over TCP, confirming with
// status word 3, as a master would.
func TestServeControl(t *testing.T) {
	specs := []MeterSpec{
		{Address: "000000000001", Customer: Commercial, Password: 0x123456, CloseDelay: 30 * time.Second},
		{Address: "000000000002", Customer: Industrial, EncryptedControl: true},
	}
	clock := NewManualClock(t0.Add(10 * time.Hour))
	sim, addr := startSim(t, Options{Seed: 3, Meters: specs, Clock: clock, Start: t0})
	c := dial(t, addr, dlt645.Options{Timeout: time.Second})
	ctx := context.Background()
	a1, a2 := sim.Meters()[0].Address(), sim.Meters()[1].Address()
	sec := dlt645.PlainSecurity{Credentials: dlt645.Credentials{Level: 2, Password: 0x123456}}
	cmd := func(a dlt645.ControlAction) dlt645.ControlCommand {
		return dlt645.ControlCommand{Action: a, ValidUntil: clock.Now().Add(time.Hour).In(ChinaStandardTime)}
	}
	status := func(a dlt645.Address) dlt645.StatusWord3 {
		t.Helper()
		s, err := c.ReadStatusWord3(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	power := func(a dlt645.Address) int64 {
		t.Helper()
		v, err := c.ReadValues(ctx, a, dlt645.DIActivePowerTotal)
		if err != nil {
			t.Fatal(err)
		}
		return v["p"]
	}

	if s := status(a1); s.RelayOpen() || power(a1) == 0 {
		t.Fatalf("before: %s, %d mW", s, power(a1))
	}
	if err := c.Control(ctx, a1, sec, cmd(dlt645.ActionTrip)); err != nil {
		t.Fatal(err)
	}
	if s := status(a1); !s.RelayOpen() || !s.RelayCommandOpen() || power(a1) != 0 {
		t.Errorf("after trip: %s, %d mW", s, power(a1))
	}
	clock.Advance(time.Minute)
	e0, _ := c.ReadValues(ctx, a1, dlt645.DIForwardActiveTotal)

	// Refusals: wrong password, expired command, an ESAM meter.
	var ab *dlt645.AbnormalError
	bad := dlt645.PlainSecurity{Credentials: dlt645.Credentials{Level: 2}}
	if err := c.Control(ctx, a1, bad, cmd(dlt645.ActionClose)); !errors.As(err, &ab) || ab.Code != dlt645.ErrCodeUnauthorized {
		t.Errorf("wrong password: %v", err)
	}
	old := dlt645.ControlCommand{Action: dlt645.ActionClose, ValidUntil: clock.Now().Add(-time.Minute)}
	if err := c.Control(ctx, a1, sec, old); !errors.As(err, &ab) || ab.Code != dlt645.ErrCodeOther {
		t.Errorf("expired: %v", err)
	}
	if err := c.Control(ctx, a2, dlt645.PlainSecurity{Credentials: dlt645.Credentials{Level: 2}}, cmd(dlt645.ActionTrip)); !errors.As(err, &ab) || ab.Code != dlt645.ErrCodeUnauthorized {
		t.Errorf("plain trip of an ESAM meter: %v", err)
	}
	if err := c.Control(ctx, a2, &fakeESAM{}, cmd(dlt645.ActionTrip)); !errors.As(err, &ab) || ab.Code != dlt645.ErrCodeUnauthorized {
		t.Errorf("level 98 trip (not simulated): %v", err)
	}

	// Close allowed: the relay closes when the customer presses the button.
	if err := c.Control(ctx, a1, sec, cmd(dlt645.ActionCloseAllowed)); err != nil {
		t.Fatal(err)
	}
	if s := status(a1); !s.RelayOpen() || s.RelayCommandOpen() {
		t.Errorf("after close allowed: %s", s)
	}
	clock.Advance(30 * time.Second)
	if s := status(a1); s.RelayOpen() || power(a1) == 0 {
		t.Errorf("after the button: %s", s)
	}
	if e1, _ := c.ReadValues(ctx, a1, dlt645.DIForwardActiveTotal); e1["e_imp"] != e0["e_imp"] {
		t.Errorf("energy counted while tripped: %d → %d", e0["e_imp"], e1["e_imp"])
	}

	// Keep-on refuses trips.
	if err := c.Control(ctx, a1, sec, cmd(dlt645.ActionKeepOn)); err != nil {
		t.Fatal(err)
	}
	if err := c.Control(ctx, a1, sec, cmd(dlt645.ActionTrip)); !errors.As(err, &ab) {
		t.Errorf("trip under keep-on: %v", err)
	}
	if s := status(a1); !s.KeepOn() || s.RelayOpen() {
		t.Errorf("keep-on: %s", s)
	}

	// Write the settlement day; a broadcast instant freeze reaches both meters.
	if err := c.WriteSettlementDay(ctx, a1, sec.Credentials, dlt645.SettlementDay{Day: 15, Hour: 0}); err != nil {
		t.Fatal(err)
	}
	if d, err := c.ReadSettlementDay(ctx, a1); err != nil || d.Day != 15 {
		t.Errorf("settlement day %+v, %v", d, err)
	}
	if err := c.Freeze(ctx, dlt645.BroadcastAddress, dlt645.InstantFreeze); err != nil {
		t.Fatal(err)
	}
	for _, a := range []dlt645.Address{a1, a2} {
		r, err := c.ReadInstantFrozen(ctx, a, 1, ChinaStandardTime)
		m, _ := sim.Meter(a)
		if err != nil || !r.Time.Equal(m.Clock(clock.Now()).Truncate(time.Minute)) {
			t.Errorf("%s: instant freeze %+v, %v", a, r, err)
		}
	}
	if err := c.Freeze(ctx, a1, dlt645.FreezeSchedule{Month: 99, Day: 99, Hour: 0, Minute: 0}); !errors.As(err, &ab) {
		t.Errorf("timed freeze: %v", err)
	}
}

// fakeESAM sends a level-98 command the simulator cannot decrypt.
type fakeESAM struct{}

func (fakeESAM) ControlData(_ context.Context, _ dlt645.Address, cmd dlt645.ControlCommand) ([]byte, error) {
	n, err := cmd.AppendN(nil)
	return append(append(dlt645.Credentials{Level: 0x98}.Append(nil), n...), 1, 2, 3, 4), err
}

func (fakeESAM) CheckControlReply(context.Context, dlt645.Address, []byte) error { return nil }

// TestServeFaults injects every communication fault and an outage, and checks what the
// client sees.
func TestServeFaults(t *testing.T) {
	mk := func(addr string, f Faults) MeterSpec {
		return MeterSpec{Address: addr, Customer: Residential, Faults: f}
	}
	specs := []MeterSpec{
		mk("000000000001", Faults{NoAnswer: true}),
		mk("000000000002", Faults{BadChecksum: true}),
		mk("000000000003", Faults{Garbage: 40}),
		mk("000000000004", Faults{Abnormal: dlt645.ErrCodeUnauthorized}),
		mk("000000000005", Faults{Late: 300 * time.Millisecond}),
		mk("000000000006", Faults{NoAnswer: true, Probability: 0.3}),
		{Address: "000000000007", Outages: []Outage{{Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)}}},
	}
	clock := NewManualClock(t0.Add(90 * time.Minute))
	sim, addr := startSim(t, Options{Seed: 3, Meters: specs, Clock: clock, Start: t0})
	ctx := context.Background()
	c := dial(t, addr, dlt645.Options{Timeout: 150 * time.Millisecond})
	read := func(i int) error {
		_, err := c.ReadValues(ctx, sim.Meters()[i].Address(), dlt645.DIForwardActiveBlock)
		return err
	}
	if err := read(0); !errors.Is(err, dlt645.ErrTimeout) {
		t.Errorf("no answer: %v", err)
	}
	if err := read(1); !errors.Is(err, dlt645.ErrChecksum) {
		t.Errorf("bad checksum: %v", err)
	}
	if err := read(2); err != nil {
		t.Errorf("garbage before the reply: %v", err)
	}
	var ab *dlt645.AbnormalError
	if err := read(3); !errors.As(err, &ab) || ab.Code != dlt645.ErrCodeUnauthorized {
		t.Errorf("abnormal: %v", err)
	}
	if err := read(4); !errors.Is(err, dlt645.ErrTimeout) {
		t.Errorf("late, 150 ms timeout: %v", err)
	}
	if err := read(6); !errors.Is(err, dlt645.ErrTimeout) {
		t.Errorf("during an outage: %v", err)
	}
	slow := dial(t, addr, dlt645.Options{Timeout: 2 * time.Second})
	start := time.Now()
	if _, err := slow.ReadValues(ctx, sim.Meters()[4].Address(), dlt645.DIFrequency); err != nil || time.Since(start) < 300*time.Millisecond {
		t.Errorf("late, 2 s timeout: %v after %v", err, time.Since(start))
	}
	clock.Advance(30 * time.Minute) // the supply is back
	if err := read(6); err != nil {
		t.Errorf("after the outage: %v", err)
	}

	// A meter hit by 30 % of requests: the same requests fail on every run.
	pattern := func() []bool {
		m, err := NewMeter(specs[5], 3, t0, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []bool
		for range 200 {
			out = append(out, m.commFault().silent)
		}
		return out
	}
	p1, p2 := pattern(), pattern()
	hits := 0
	for _, h := range p1 {
		if h {
			hits++
		}
	}
	if !reflect.DeepEqual(p1, p2) || hits < 40 || hits > 80 {
		t.Errorf("%d of 200 requests hit, or not repeatable", hits)
	}
}
