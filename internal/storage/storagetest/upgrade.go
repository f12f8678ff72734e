package storagetest

import (
	"testing"
	"time"

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// CheckUpgraded checks a store just migrated from an older schema version: the daily frozen
// reading of meter m (terminal T1) at 2025-01-02 stored before, with e_imp 42, is still
// there, and every role works (events, terminal events, commands, plans). The backends'
// upgrade tests make the old database; s must hold nothing else of terminal T1's but
// events.
func CheckUpgraded(t *testing.T, s storage.Store, m meterdata.MeterID) {
	t.Helper()
	ctx := t.Context()
	at := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
	if r, err := s.LatestReading(ctx, m, meterdata.KindDailyFrozen); err != nil || r.Values["e_imp"] != 42 || !r.Time.Equal(at) {
		t.Errorf("after the upgrade: LatestReading = %+v, %v; want e_imp 42 at %v", r, err, at)
	}
	before, err := s.Events(ctx, storage.EventQuery{Terminal: "T1"})
	if err != nil {
		t.Fatalf("after the upgrade: Events: %v", err)
	}
	if err := s.AppendEvents(ctx, []storage.Event{{At: at, Kind: "seq_gap", Severity: storage.SeverityWarning, Meter: m}}); err != nil {
		t.Fatalf("after the upgrade: AppendEvents: %v", err)
	}
	if n, err := s.AppendTerminalEvents(ctx, "T1", []storage.TerminalEvent{{Seq: 1, Event: storage.Event{At: at, Kind: "meter_fault", Severity: storage.SeverityAlarm}}}); err != nil || n != 1 {
		t.Errorf("after the upgrade: AppendTerminalEvents = %d, %v; want 1", n, err)
	}
	if es, err := s.Events(ctx, storage.EventQuery{Terminal: "T1"}); err != nil || len(es) != len(before)+2 {
		t.Errorf("after the upgrade: Events = %+v, %v; want the %d appended after %d", es, err, 2, len(before))
	}
	c := storage.Command{ID: "c1", Terminal: "T1", Meter: m, Action: "read_now", IssuedBy: "op", Issued: at, Expires: at.Add(time.Hour)}
	if err := s.CreateCommand(ctx, c); err != nil {
		t.Fatalf("after the upgrade: CreateCommand: %v", err)
	}
	if got, changed, err := s.UpdateCommand(ctx, storage.CommandUpdate{ID: "c1", State: storage.CommandSucceeded, At: at.Add(time.Minute)}); err != nil || !changed || got.State != storage.CommandSucceeded {
		t.Errorf("after the upgrade: UpdateCommand = %+v, %t, %v; want it succeeded", got, changed, err)
	}
	if cs, err := s.Commands(ctx, storage.CommandQuery{Terminal: "T1"}); err != nil || len(cs) != 1 {
		t.Errorf("after the upgrade: Commands = %+v, %v; want the one created", cs, err)
	}
	if p, err := s.PutPlan(ctx, "T1", "admin", func(v int64) ([]byte, error) { return []byte(`{"interval_s":900}`), nil }); err != nil || p.Version != 1 {
		t.Errorf("after the upgrade: PutPlan = %+v, %v; want version 1", p, err)
	}
	if err := s.ReportPlan(ctx, "T1", 1, storage.PlanApplied, "", at); err != nil {
		t.Errorf("after the upgrade: ReportPlan: %v", err)
	}
	if p, err := s.Plan(ctx, "T1"); err != nil || p.AppliedVersion != 1 || string(p.Body) != `{"interval_s":900}` {
		t.Errorf("after the upgrade: Plan = %+v, %v; want version 1 applied", p, err)
	}
}
