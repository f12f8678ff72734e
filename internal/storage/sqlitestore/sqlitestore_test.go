package sqlitestore_test

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
	"gridmeter/internal/storage/sqlitestore"
	"gridmeter/internal/storage/storagetest"
)

func openAt(t testing.TB, path string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return openAt(t, filepath.Join(t.TempDir(), "head-end.db"))
	})
}

func TestOpenRefusesPath(t *testing.T) {
	tests := []struct{ name, path string }{
		{"empty", ""},
		{"memory", ":memory:"},
		{"uri", "file:head-end.db"},
		{"shared memory", "file::memory:?mode=memory&cache=shared"},
		{"question mark", filepath.Join(t.TempDir(), "a?b.db")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlitestore.Open(t.Context(), tc.path)
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open(%q): want an error", tc.path)
			}
			if !strings.Contains(err.Error(), "sqlitestore: open") {
				t.Errorf("error %q does not name the failed step", err)
			}
		})
	}
}

// storedDB makes a closed database holding one daily frozen reading (e_imp 42) of meter
// T1.bus1.1 from terminal T1 (seq 1), and returns its path and the meter.
func storedDB(t *testing.T) (string, meterdata.MeterID) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "head-end.db")
	m, err := meterdata.NewMeterID("T1", "bus1", "1")
	if err != nil {
		t.Fatal(err)
	}
	r := meterdata.Reading{Meter: m, Kind: meterdata.KindDailyFrozen, Time: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC), Values: map[string]int64{"e_imp": 42}}
	s, err := sqlitestore.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.StoreBatch(t.Context(), storage.Batch{Terminal: "T1", FirstSeq: 1, LastSeq: 1, Readings: []meterdata.Reading{r}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path, m
}

// TestReopen checks that data outlives the store and that migrating again changes nothing.
func TestReopen(t *testing.T) {
	path, m := storedDB(t)
	s := openAt(t, path)
	got, err := s.LatestReading(t.Context(), m, meterdata.KindDailyFrozen)
	if err != nil || got.Values["e_imp"] != 42 {
		t.Errorf("after reopen: LatestReading = %+v, %v; want e_imp 42", got, err)
	}
	if term, err := s.Terminal(t.Context(), "T1"); err != nil || term.LastSeq != 1 || term.Readings != 1 {
		t.Errorf("after reopen: Terminal = %+v, %v", term, err)
	}
	wantVersions(t, path)
}

// wantVersions checks that schema_version lists every version once, 1 to SchemaVersion.
func wantVersions(t *testing.T, path string) {
	t.Helper()
	versions := schemaVersions(t, path)
	if len(versions) != sqlitestore.SchemaVersion {
		t.Errorf("schema_version rows = %v, want 1 to %d", versions, sqlitestore.SchemaVersion)
		return
	}
	for i, v := range versions {
		if v != i+1 {
			t.Errorf("schema_version rows = %v, want 1 to %d", versions, sqlitestore.SchemaVersion)
			return
		}
	}
}

// addedTables lists the tables each schema version added after version 1.
var addedTables = map[int][]string{
	2: {"events"},
	3: {"commands", "plans", "plan_status", "terminal_event_marks"},
}

// TestUpgrade opens databases at older schema versions (made by removing what the later
// versions added) and checks that the missing versions are applied and work, the data kept.
func TestUpgrade(t *testing.T) {
	for from := 1; from < sqlitestore.SchemaVersion; from++ {
		t.Run(fmt.Sprintf("from version %d", from), func(t *testing.T) {
			path, m := storedDB(t)
			if from >= 2 {
				// An event stored before the upgrade must survive it.
				s, err := sqlitestore.Open(t.Context(), path)
				if err != nil {
					t.Fatal(err)
				}
				e := storage.Event{At: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Kind: "terminal_online", Severity: storage.SeverityInfo, Terminal: "T1"}
				if err := s.AppendEvents(t.Context(), []storage.Event{e}); err != nil {
					t.Fatal(err)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			for v := from + 1; v <= sqlitestore.SchemaVersion; v++ {
				for _, table := range addedTables[v] {
					if _, err := db.ExecContext(t.Context(), `DROP TABLE `+table); err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := db.ExecContext(t.Context(), `DELETE FROM schema_version WHERE version > ?`, from); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if vs := schemaVersions(t, path); len(vs) != from {
				t.Fatalf("test setup: schema_version rows = %v, want 1 to %d", vs, from)
			}

			s := openAt(t, path)
			wantVersions(t, path)
			if from >= 2 {
				if es, err := s.Events(t.Context(), storage.EventQuery{Kind: "terminal_online"}); err != nil || len(es) != 1 {
					t.Errorf("after the upgrade: Events = %+v, %v; want the one stored before", es, err)
				}
			}
			storagetest.CheckUpgraded(t, s, m)
		})
	}
}

func schemaVersions(t *testing.T, path string) []int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT version FROM schema_version ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "head-end.db")
	s, err := sqlitestore.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), `INSERT INTO schema_version VALUES (?, 'from the future', 0)`, sqlitestore.SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlitestore.Open(t.Context(), path)
	if err == nil {
		_ = s.Close()
		t.Fatal("Open of a database with a newer schema: want an error")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("error = %v, want it to say the schema is newer", err)
	}
}

func TestClock(t *testing.T) {
	at := time.Date(2030, 5, 6, 7, 8, 9, 10_500_000, time.FixedZone("x", 3600))
	s, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "head-end.db"), sqlitestore.WithClock(func() time.Time { return at }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storagetest.CheckClock(t, s, at)
	if _, err := s.Meter(t.Context(), "T9.bus1.1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Meter(unknown): %v", err)
	}
}

func BenchmarkStoreBatch(b *testing.B) {
	storagetest.BenchStoreBatch(b, openAt(b, filepath.Join(b.TempDir(), "head-end.db")))
}

func BenchmarkCommands(b *testing.B) {
	storagetest.BenchCommands(b, openAt(b, filepath.Join(b.TempDir(), "head-end.db")))
}
