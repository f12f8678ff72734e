package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrCorrupt matches (errors.Is) every *CorruptError.
var ErrCorrupt = errors.New("journal file is corrupt")

// CorruptError reports a damaged journal file: PRAGMA quick_check found problems, or SQLite
// answered SQLITE_CORRUPT or SQLITE_NOTADB. The journal cannot be trusted any more; the
// caller closes it, moves the file aside with Quarantine and opens a new journal.
type CorruptError struct {
	Path   string
	Detail string // quick_check's findings or SQLite's message
	Err    error  // the underlying SQLite error, if any
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("journal: %s is corrupt: %s", e.Path, e.Detail)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func (e *CorruptError) Unwrap() error { return e.Err }

// wrap prefixes err with the operation and turns SQLite's corruption codes into a
// *CorruptError.
func (j *Journal) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var ce *CorruptError
	if errors.As(err, &ce) {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return &CorruptError{Path: j.path, Detail: op + ": " + se.Error(), Err: err}
		}
	}
	return fmt.Errorf("journal: %s: %w", op, err)
}

// Quarantine moves a journal's files aside so a new journal can be created at path: path,
// path-wal and path-shm are renamed to the same names with ".corrupt-<UTC timestamp>"
// appended to path (e.g. "j.db.corrupt-20261124T101500Z", "j.db.corrupt-20261124T101500Z-wal").
// It returns the new path of the database file. The journal must be closed. The WAL and
// shared-memory files are moved first: a WAL left behind at path-wal would otherwise be
// replayed into the new journal created at path. The directory is fsynced afterwards.
func Quarantine(path string) (string, error) {
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("journal: quarantine: %w", err)
	}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	dest := path + ".corrupt-" + stamp
	for i := 1; exists(dest) || exists(dest+"-wal") || exists(dest+"-shm"); i++ {
		dest = path + ".corrupt-" + stamp + "-" + strconv.Itoa(i)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		err := os.Rename(path+suffix, dest+suffix)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("journal: quarantine: %w", err)
		}
	}
	if err := os.Rename(path, dest); err != nil {
		return "", fmt.Errorf("journal: quarantine: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return dest, fmt.Errorf("journal: quarantine: %w", err)
	}
	return dest, nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
