package journal

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

func TestEventsRoundTripAndDedupe(t *testing.T) {
	ctx := context.Background()
	j, err := Open(ctx, filepath.Join(t.TempDir(), "j"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	t0 := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	es := []Event{
		{Meter: "T1.bus1.1", Time: t0, Log: LogSupply, Code: CodePowerDown, On: true},
		{Meter: "T1.bus1.1", Time: t0.Add(time.Hour), Log: LogSupply, Code: CodePowerDown, On: false},
		{Meter: "T1.bus1.1", Time: t0.Add(time.Minute), Log: LogCommunications, Code: CodeMeterSilent, On: true},
		{Meter: "T1.bus1.2", Time: t0, Log: LogSupply, Code: CodePowerDown, On: true},
	}
	if n, err := j.AppendEvents(ctx, es); err != nil || n != 4 {
		t.Fatalf("append: %d, %v", n, err)
	}
	if n, err := j.AppendEvents(ctx, es[:2]); err != nil || n != 0 {
		t.Fatalf("re-reading the same records added %d (%v), want 0", n, err)
	}
	got, err := j.Events(ctx, "T1.bus1.1", LogSupply, t0, t0.Add(time.Hour), 10)
	if err != nil || len(got) != 2 || !got[0].On || got[1].On || !got[1].Time.Equal(t0.Add(time.Hour)) {
		t.Fatalf("supply events %+v, %v", got, err)
	}
	if got, _ := j.Events(ctx, "T1.bus1.1", LogCommunications, t0, t0.Add(time.Hour), 10); len(got) != 1 {
		t.Fatalf("communications events %+v", got)
	}
	if _, err := j.AppendEvents(ctx, []Event{{Meter: "bad", Time: t0}}); err == nil {
		t.Fatal("event with a malformed meter id accepted")
	}
}

// TestUpgradeFromVersion1 opens a version-1 journal (entries, no event log): it gains the
// event log, the command table and settings, and keeps its entries and sequence.
func TestUpgradeFromVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "j")
	j, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, j, reading("T1.bus1.1", 0, 1), reading("T1.bus1.1", 1, 2), reading("T1.bus1.1", 2, 3))
	j.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DROP TABLE event; DROP TABLE command; DROP TABLE setting; DELETE FROM meta WHERE name = 'events_acked'; PRAGMA user_version = 1"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	j, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("opening a version-1 journal: %v", err)
	}
	defer j.Close()
	if st, _ := j.Stats(ctx); st.Entries != 3 || st.LastSeq != 3 {
		t.Fatalf("after the upgrade: %+v", st)
	}
	if n, err := j.AppendEvents(ctx, []Event{{Meter: "T1.bus1.1", Time: time.Now(), Log: LogSupply, Code: 1, On: true}}); err != nil || n != 1 {
		t.Fatalf("event log after the upgrade: %d, %v", n, err)
	}
}

// TestEventUpload walks the event upload: events wait above the acknowledged mark, the mark
// only moves forward and never past the last event, and compaction keeps unsent events.
func TestEventUpload(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	j, err := Open(ctx, filepath.Join(t.TempDir(), "j"), Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	old := now.Add(-KeepEvents - time.Hour)
	es := []Event{
		{Meter: "T1.bus1.1", Time: old, Log: LogSupply, Code: CodePowerDown, On: true},
		{Meter: "T1.bus1.1", Time: now, Log: LogAcquisition, Code: CodeGapDailyFrozen, On: true,
			Detail: "daily frozen values older than the meter's memory", Data: map[string]int64{"from_ms": 1, "to_ms": 2}},
	}
	if n, err := j.AppendEvents(ctx, es); err != nil || n != 2 {
		t.Fatalf("append: %d, %v", n, err)
	}
	// The old event is not acknowledged: compaction must keep it.
	if _, err := j.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := j.EventsToSend(ctx, 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("to send: %+v, %v", got, err)
	}
	if got[1].Detail != es[1].Detail || got[1].Data["to_ms"] != 2 || got[0].ID >= got[1].ID {
		t.Fatalf("events read back: %+v", got)
	}
	if err := j.AckEvents(ctx, got[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := j.AckEvents(ctx, got[0].ID-1); err != nil { // never backwards
		t.Fatal(err)
	}
	if rest, _ := j.EventsToSend(ctx, 10); len(rest) != 1 || rest[0].ID != got[1].ID {
		t.Fatalf("after ack of the first: %+v", rest)
	}
	if err := j.AckEvents(ctx, got[1].ID+100); err != nil { // clamped to the last event
		t.Fatal(err)
	}
	if _, err := j.AppendEvents(ctx, []Event{{Meter: "T1.bus1.1", Time: now, Log: LogCommunications, Code: CodeMeterSilent, On: true}}); err != nil {
		t.Fatal(err)
	}
	if rest, _ := j.EventsToSend(ctx, 10); len(rest) != 1 || rest[0].Log != LogCommunications {
		t.Fatalf("a new event after an over-long ack: %+v", rest)
	}
	// Acknowledged and old: compaction deletes it now.
	if _, err := j.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if ev, _ := j.Events(ctx, "T1.bus1.1", LogSupply, old.Add(-time.Hour), now, 10); len(ev) != 0 {
		t.Fatalf("acknowledged old event kept: %+v", ev)
	}
}

// TestCommands keeps a command across a reopen: accepted once, final once.
func TestCommands(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "j")
	j, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	issued := time.Now().UTC().Truncate(time.Millisecond)
	c := Command{ID: "c1", Meter: "T1.bus1.1", Action: "relay_open", Issued: issued, Expires: issued.Add(time.Hour)}
	if _, added, err := j.AddCommand(ctx, c); err != nil || !added {
		t.Fatalf("add: %v %v", added, err)
	}
	if k, added, err := j.AddCommand(ctx, c); err != nil || added || k.State != CommandAccepted {
		t.Fatalf("add again: %+v %v %v", k, added, err)
	}
	j.Close()
	if j, err = Open(ctx, path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	open, err := j.OpenCommands(ctx)
	if err != nil || len(open) != 1 || open[0].ID != "c1" || !open[0].Expires.Equal(c.Expires) || open[0].Params != nil {
		t.Fatalf("open after reopen: %+v %v", open, err)
	}
	k, err := j.FinishCommand(ctx, "c1", CommandSucceeded, "", map[string]int64{"status3": 16})
	if err != nil || k.State != CommandSucceeded || k.Values["status3"] != 16 {
		t.Fatalf("finish: %+v %v", k, err)
	}
	if k, _ = j.FinishCommand(ctx, "c1", CommandFailed, "late", nil); k.State != CommandSucceeded {
		t.Fatalf("a second final state replaced the first: %+v", k)
	}
	if _, err := j.FinishCommand(ctx, "c1", CommandAccepted, "", nil); err == nil {
		t.Fatal("accepted taken as a final state")
	}
	if open, _ := j.OpenCommands(ctx); len(open) != 0 {
		t.Fatalf("open after finish: %+v", open)
	}
	if _, ok, _ := j.Command(ctx, "nope"); ok {
		t.Fatal("unknown command found")
	}
	if err := j.SetSetting(ctx, "plan", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if err := j.SetSetting(ctx, "plan", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := j.Setting(ctx, "plan"); err != nil || !ok || string(v) != "v2" {
		t.Fatalf("setting: %q %v %v", v, ok, err)
	}
	if err := j.SetSettings(ctx, map[string][]byte{"a": []byte("1"), "plan": []byte("v3")}); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := j.Setting(ctx, "plan"); string(v) != "v3" {
		t.Fatalf("settings: plan %q", v)
	}
	if v, _, _ := j.Setting(ctx, "a"); string(v) != "1" {
		t.Fatalf("settings: a %q", v)
	}
}
