package storagetest

import (
	"testing"
	"time"

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// CheckClock checks that s takes arrival times (Terminal.LastSeen after a batch,
// Conflict.At, Plan.Created) and the time of an event, a command report or a plan report
// given without one from its clock, cut to the millisecond and in UTC. s must be new and empty, with a clock that always returns at; how
// a backend sets its clock is its own option.
func CheckClock(t *testing.T, s storage.Store, at time.Time) {
	t.Helper()
	m, _ := meterdata.NewMeterID("T1", "bus1", "1")
	r := meterdata.Reading{Meter: m, Kind: meterdata.KindInstant, Time: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)}
	for i, v := range []int64{1, 2} {
		r.Values = map[string]int64{"p": v}
		if _, err := s.StoreBatch(t.Context(), storage.Batch{Terminal: "T1", FirstSeq: uint64(i + 1), LastSeq: uint64(i + 1), Readings: []meterdata.Reading{r}}); err != nil {
			t.Fatal(err)
		}
	}
	want := at.UTC().Truncate(time.Millisecond)
	term, err := s.Terminal(t.Context(), "T1")
	if err != nil || !term.LastSeen.Equal(want) {
		t.Errorf("LastSeen = %v, %v; want %v", term.LastSeen, err, want)
	}
	cs, err := s.Conflicts(t.Context(), m, 0)
	if err != nil || len(cs) != 1 || !cs[0].At.Equal(want) {
		t.Errorf("Conflicts = %+v, %v; want one at %v", cs, err, want)
	}
	if err := s.AppendEvents(t.Context(), []storage.Event{{Kind: "terminal_online", Severity: storage.SeverityInfo, Terminal: "T1"}}); err != nil {
		t.Fatal(err)
	}
	es, err := s.Events(t.Context(), storage.EventQuery{})
	if err != nil || len(es) != 1 || !es[0].At.Equal(want) || es[0].At.Location() != time.UTC {
		t.Errorf("Events = %+v, %v; want one at %v (UTC)", es, err, want)
	}
	if _, err := s.AppendTerminalEvents(t.Context(), "T1", []storage.TerminalEvent{{Seq: 1, Event: storage.Event{Kind: "meter_fault", Severity: storage.SeverityAlarm}}}); err != nil {
		t.Fatal(err)
	}
	es, err = s.Events(t.Context(), storage.EventQuery{Kind: "meter_fault"})
	if err != nil || len(es) != 1 || !es[0].At.Equal(want) || es[0].At.Location() != time.UTC {
		t.Errorf("terminal events = %+v, %v; want one at %v (UTC)", es, err, want)
	}

	c := storage.Command{ID: "c1", Terminal: "T1", Meter: m, Action: "read_now", IssuedBy: "op", Issued: r.Time, Expires: r.Time.Add(time.Hour)}
	if err := s.CreateCommand(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.UpdateCommand(t.Context(), storage.CommandUpdate{ID: "c1", State: storage.CommandAccepted}); err != nil ||
		!got.Updated.Equal(want) || got.Updated.Location() != time.UTC {
		t.Errorf("UpdateCommand = %+v, %v; want Updated %v (UTC)", got, err, want)
	}

	p, err := s.PutPlan(t.Context(), "T1", "admin", func(int64) ([]byte, error) { return []byte("{}"), nil })
	if err != nil || !p.Created.Equal(want) || p.Created.Location() != time.UTC {
		t.Errorf("PutPlan = %+v, %v; want Created %v (UTC)", p, err, want)
	}
	if err := s.ReportPlan(t.Context(), "T1", 1, storage.PlanApplied, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Plan(t.Context(), "T1"); err != nil || !p.Created.Equal(want) || !p.ReportedAt.Equal(want) || p.ReportedAt.Location() != time.UTC {
		t.Errorf("Plan = %+v, %v; want Created and ReportedAt %v (UTC)", p, err, want)
	}
}
