package master_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"gridmeter/internal/iec102"
	"gridmeter/internal/iec102/master"
	"gridmeter/internal/iec102/outstation"
	"gridmeter/internal/iec102/outstation/outstationtest"
	"gridmeter/internal/meterdata"
)

type eventLog []outstation.Event

func (e eventLog) Events(_ context.Context, _ meterdata.MeterID, rad iec102.RecordAddress, from, to time.Time, limit int) ([]outstation.Event, error) {
	var out []outstation.Event
	for _, ev := range e {
		if ev.Record == rad && !ev.Time.Before(from) && !ev.Time.After(to) && len(out) < limit {
			out = append(out, ev)
		}
	}
	return out, nil
}

// TestClient runs every request the outstation serves over a real TCP session.
func TestClient(t *testing.T) {
	day := time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC)
	now := day.Add(6*time.Hour + 7*time.Minute)
	src := outstationtest.NewMemorySource(instants(meter1, day, 4*6+1)...)
	src.Add(dailies(meter1, day.AddDate(0, 0, -3), 4)...)
	src.Add(meterdata.Reading{Meter: meter1, Kind: meterdata.KindMonthly, Time: day.AddDate(0, 0, -9), Values: map[string]int64{"e_imp": 11_000_000}})
	var clockSet atomic.Value
	_, addr := outstationtest.Start(t, outstation.Config{
		LinkAddress: 3,
		Points:      []outstation.Point{{Address: 1, Password: 1, Meter: meter1}, {Address: 2, Password: 2, Meter: meter2}},
		Identity:    iec102.ProductInfo{Manufacturer: 66, Product: 48304838},
		Events:      eventLog{{Time: day.Add(time.Hour), Record: iec102.RecordEventsPower, Address: 3, Code: 1, On: true}},
		SetClock:    func(_ context.Context, t time.Time) error { clockSet.Store(t); return nil },
		Now:         func() time.Time { return now },
	}, src)

	ctx := t.Context()
	c, err := master.Dial(ctx, addr, 3, master.ClientOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartLink(ctx); err != nil {
		t.Fatalf("StartLink: %v", err)
	}

	t.Run("refusals", func(t *testing.T) {
		var ne *iec102.NegativeError
		if _, err := c.Identity(ctx, 1); !errors.As(err, &ne) || ne.Cause() != iec102.CauseTypeNotAvailable {
			t.Errorf("Identity without a session: %v, want a COT 14 refusal", err)
		}
		if err := c.Authenticate(ctx, 1, 2); !errors.As(err, &ne) || ne.Cause() != iec102.CauseActivationCon || !ne.DUI.COT.Negative {
			t.Errorf("wrong password: %v, want COT 7 P/N", err)
		}
		if err := c.Authenticate(ctx, 9, 1); !errors.As(err, &ne) || ne.Cause() != iec102.CauseAddressUnknown {
			t.Errorf("unknown point: %v, want COT 16", err)
		}
	})
	if err := c.Authenticate(ctx, 1, 1); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	t.Run("identity", func(t *testing.T) {
		pi, err := c.Identity(ctx, 1)
		if err != nil || pi != (iec102.ProductInfo{SpecDate: 0x24, Manufacturer: 66, Product: 48304838}) {
			t.Errorf("Identity = %+v, %v", pi, err)
		}
	})
	t.Run("clock", func(t *testing.T) {
		clk, err := c.Clock(ctx, 1)
		if err != nil || !clk.Time.Equal(now) {
			t.Fatalf("Clock = %+v, %v; want %v", clk, err, now)
		}
		if want := time.Until(now); (clk.Drift - want).Abs() > time.Second {
			t.Errorf("Drift = %v, want about %v", clk.Drift, want)
		}
		set := time.Date(2026, 5, 10, 6, 8, 9, 0, time.UTC)
		if err := c.SetClock(ctx, 1, set); err != nil {
			t.Fatalf("SetClock: %v", err)
		}
		if got, _ := clockSet.Load().(time.Time); !got.Equal(set) {
			t.Errorf("outstation clock set to %v, want %v", got, set)
		}
	})
	t.Run("current totals", func(t *testing.T) {
		ct, err := c.CurrentTotals(ctx, 1)
		if err != nil || ct.ActiveImport != 12_345_678+250*24 || ct.ActiveExport != 4_321+24 || ct.Time.String() != "2026-05-10 06:00 dow 7" {
			t.Errorf("CurrentTotals = %+v, %v", ct, err)
		}
		v, err := c.InstantValues(ctx, 1, 193, 194)
		if err != nil || len(v) != 2 || v[0].(iec102.InstantPowers).Total.Active != 3456 || v[1].(iec102.InstantPhases).Phases[2].Voltage != 2310 {
			t.Errorf("InstantValues = %+v, %v", v, err)
		}
	})
	t.Run("load profile", func(t *testing.T) {
		its, err := c.ReadTotals(ctx, 1, iec102.RecordHourly, 1, 8, day.Add(time.Hour), day.Add(4*time.Hour))
		if err != nil || len(its) != 4 {
			t.Fatalf("ReadTotals = %d periods, %v; want 4", len(its), err)
		}
		if it := its[3]; it.End.String() != "2026-05-10 04:00 dow 7" || it.Totals[0].Value != 12_345_678+250*16 || len(it.Totals) != 8 {
			t.Errorf("period 4 = %v", it)
		}
		inc, err := c.ReadIncrements(ctx, 1, iec102.RecordHourly, 1, 2, day.Add(time.Hour), day.Add(2*time.Hour))
		if err != nil || len(inc) != 2 || inc[1].Totals[0].Value != 1000 || inc[1].Totals[1].Value != 4 {
			t.Errorf("ReadIncrements = %v, %v", inc, err)
		}
	})
	t.Run("daily values", func(t *testing.T) {
		its, err := c.ReadTotals(ctx, 1, iec102.RecordDaily1, 1, 2, day.AddDate(0, 0, -2), day)
		if err != nil || len(its) != 3 || its[2].Totals[0].Value != 12_072_000 {
			t.Errorf("daily = %v, %v", its, err)
		}
	})
	t.Run("billing", func(t *testing.T) {
		recs, err := c.ReadBilling(ctx, 1, iec102.RecordBilling1, day.AddDate(0, -1, 0), day)
		if err != nil || len(recs) != 1 || recs[0].Active.Absolute != 11_000_000 {
			t.Errorf("billing = %+v, %v", recs, err)
		}
	})
	t.Run("events", func(t *testing.T) {
		evs, err := c.ReadEvents(ctx, 1, iec102.RecordEventsPower, day, day.Add(2*time.Hour))
		if err != nil || len(evs) != 1 || evs[0].Code != 1 || !evs[0].Value {
			t.Errorf("events = %+v, %v", evs, err)
		}
	})
	if err := c.EndSession(ctx, 1); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	if _, err := c.CurrentTotals(ctx, 1); !errors.Is(err, iec102.ErrNegative) {
		t.Errorf("read after the end of session: %v, want a refusal", err)
	}
}

// TestClientCancel: cancelling a call closes the link and returns the context's error.
func TestClientCancel(t *testing.T) {
	n := newPipeNet()
	n.silent("mute:1")
	conn, _ := n.Dial(t.Context(), "mute:1")
	c := master.NewClient(conn, 1, master.ClientOptions{Timeout: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(10*time.Millisecond, cancel)
	if err := c.StartLink(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("StartLink = %v, want context.Canceled", err)
	}
}
