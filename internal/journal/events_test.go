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
// event log and keeps its entries and sequence.
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
	if _, err := db.Exec("DROP TABLE event; PRAGMA user_version = 1"); err != nil {
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
