package journal

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gridmeter/internal/meterdata"
)

// damage functions turn a closed, valid journal file into a corrupt one.
var damages = []struct {
	name   string
	damage func(t *testing.T, path string)
}{
	{"junk file", func(t *testing.T, path string) {
		junk := bytes.Repeat([]byte("this is not a database \x00\xff"), 400)
		if err := os.WriteFile(path, junk, 0o644); err != nil {
			t.Fatal(err)
		}
	}},
	{"junk pages", func(t *testing.T, path string) {
		// Keep the header page (page 1, the schema) and overwrite the b-tree pages after it.
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		const pageSize = 4096
		if len(b) < 4*pageSize {
			t.Fatalf("journal file only %d bytes", len(b))
		}
		for i := pageSize; i < len(b); i++ {
			b[i] = byte(i*7 + 13)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}},
}

func TestCorruptFile(t *testing.T) {
	ctx := context.Background()
	for _, tc := range damages {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal.db")
			j, err := Open(ctx, path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var rs []meterdata.Reading
			for i := range 200 {
				rs = append(rs, reading(meterA, i, int64(i)))
			}
			mustAppend(t, j, rs...)
			if err := j.Close(); err != nil { // checkpoints the WAL into the file
				t.Fatal(err)
			}
			tc.damage(t, path)

			_, err = Open(ctx, path, Options{})
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open(damaged) = %v, want ErrCorrupt", err)
			}
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Path != path || ce.Detail == "" {
				t.Fatalf("Open(damaged) = %#v, want a *CorruptError naming the path", err)
			}
			t.Logf("Open: %v", err)

			damaged, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			moved, err := Quarantine(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(filepath.Base(moved), "journal.db.corrupt-") {
				t.Errorf("Quarantine moved the file to %s", moved)
			}
			if kept, err := os.ReadFile(moved); err != nil || !bytes.Equal(kept, damaged) {
				t.Errorf("quarantined file differs from the damaged one (%v)", err)
			}
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s still exists after Quarantine (%v)", filepath.Base(p), err)
				}
			}

			j, err = Open(ctx, path, Options{})
			if err != nil {
				t.Fatalf("Open after Quarantine: %v", err)
			}
			defer j.Close()
			got, _ := mustAppend(t, j, reading(meterA, 0, 1))
			if len(got) != 1 || got[0].Seq != 1 {
				t.Fatalf("new journal: Append = %+v, want seq 1", got)
			}
		})
	}
}

func TestQuarantineMovesAllFiles(t *testing.T) {
	dir := t.TempDir()
	// The three files a crashed journal leaves behind (their content does not matter here).
	crashed := filepath.Join(dir, "crashed.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.WriteFile(crashed+suffix, []byte(suffix), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	moved, err := Quarantine(crashed)
	if err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if _, err := os.Stat(moved + suffix); err != nil {
			t.Errorf("quarantined %s missing: %v", suffix, err)
		}
		if _, err := os.Stat(crashed + suffix); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind: %v", crashed+suffix, err)
		}
	}
	// A second quarantine within the same second does not overwrite the first.
	if err := os.WriteFile(crashed, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	moved2, err := Quarantine(crashed)
	if err != nil || moved2 == moved {
		t.Fatalf("second Quarantine = %s, %v; first was %s", moved2, err, moved)
	}
	if _, err := Quarantine(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("Quarantine(missing file): want an error")
	}
}
