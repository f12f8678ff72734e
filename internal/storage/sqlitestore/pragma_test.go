package sqlitestore

import (
	"path/filepath"
	"testing"
)

// TestConnectionSettings checks the settings the durability and concurrency claims of the
// package comment rest on.
func TestConnectionSettings(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "head-end.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tests := []struct {
		pool  string
		query string
		want  string
	}{
		{"writer", "PRAGMA journal_mode", "wal"},
		{"writer", "PRAGMA synchronous", "2"}, // FULL
		{"writer", "PRAGMA busy_timeout", "10000"},
		{"writer", "PRAGMA query_only", "0"},
		{"reader", "PRAGMA journal_mode", "wal"},
		{"reader", "PRAGMA busy_timeout", "10000"},
		{"reader", "PRAGMA query_only", "1"},
	}
	for _, tc := range tests {
		t.Run(tc.pool+"/"+tc.query, func(t *testing.T) {
			db := s.w
			if tc.pool == "reader" {
				db = s.r
			}
			var got string
			if err := db.QueryRowContext(t.Context(), tc.query).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("%s on the %s = %q, want %q", tc.query, tc.pool, got, tc.want)
			}
		})
	}
	if _, err := s.r.ExecContext(t.Context(), `DELETE FROM readings`); err == nil {
		t.Error("a reader connection could write")
	}
	if got := s.w.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer pool allows %d connections, want 1", got)
	}
}
