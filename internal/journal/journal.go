package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Defaults for Options.
const (
	DefaultMaxEntries = 1_000_000
	DefaultKeepAcked  = 24 * time.Hour
)

// applicationID marks the SQLite file as a gridmeter terminal journal ("gmj1"), so Open
// refuses some other SQLite database given by mistake instead of adding tables to it.
const applicationID = 0x676d6a31

// schemaVersion is stored in PRAGMA user_version.
const schemaVersion = 3

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("journal: closed")

// ErrInvalidReading is wrapped by the error Append returns when a reading of the batch
// fails meterdata.Reading.Validate; nothing of that batch is appended.
var ErrInvalidReading = errors.New("invalid reading")

// Options tunes a journal. The zero value is usable.
type Options struct {
	// MaxEntries bounds the stored entries, acknowledged and unacknowledged; Compact enforces
	// it. 0 means DefaultMaxEntries.
	MaxEntries int
	// KeepAcked is how long an acknowledged entry is kept after it was appended before
	// Compact deletes it. 0 means DefaultKeepAcked; use a tiny positive duration to delete
	// acknowledged entries at the next Compact.
	KeepAcked time.Duration
	// Now is the clock for append times and KeepAcked; nil means time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() (Options, error) {
	if o.MaxEntries < 0 {
		return o, fmt.Errorf("journal: MaxEntries %d: want >= 0", o.MaxEntries)
	}
	if o.KeepAcked < 0 {
		return o, fmt.Errorf("journal: KeepAcked %s: want >= 0", o.KeepAcked)
	}
	if o.MaxEntries == 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.KeepAcked == 0 {
		o.KeepAcked = DefaultKeepAcked
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// Journal is the terminal's crash-safe outbox of readings. All methods are safe for
// concurrent use; writes are serialised on one SQLite connection.
type Journal struct {
	path   string
	opt    Options
	db     *sql.DB
	closed atomic.Bool
}

// pragmas are applied by the driver to every connection it opens (there is only one).
// busy_timeout only matters if another process opens the file; journal_mode=WAL is
// persistent in the file; synchronous=FULL makes every commit fsync the WAL.
var pragmas = []string{
	"busy_timeout(5000)",
	"journal_mode(WAL)",
	"synchronous(FULL)",
	"journal_size_limit(16777216)",
}

func dsn(path string) string {
	var b strings.Builder
	b.WriteString(path)
	b.WriteString("?_txlock=immediate")
	for _, p := range pragmas {
		b.WriteString("&_pragma=")
		b.WriteString(p)
	}
	return b.String()
}

// Open opens the journal at path, creating the file and its schema if needed. It runs
// PRAGMA quick_check first: a damaged file yields an error matching ErrCorrupt (a
// *CorruptError); the caller then decides to Quarantine the file and open a new journal.
// The directory must exist. ctx bounds the opening, including the integrity check.
func Open(ctx context.Context, path string, opt Options) (*Journal, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, ":") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("journal: path %q: want a plain file path without '?'", path)
	}
	fresh := true
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		fresh = false
	}

	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("journal: open %s: %w", path, err)
	}
	// One connection: SQLite has a single writer anyway, and one connection makes every
	// method see every committed write without cross-connection locking.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	j := &Journal{path: path, opt: opt, db: db}

	if err := j.check(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := j.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if fresh {
		// SQLite fsyncs the directory when it creates a WAL file, not when it creates the
		// database file itself: make the new file's directory entry durable.
		if err := syncDir(filepath.Dir(path)); err != nil {
			db.Close()
			return nil, fmt.Errorf("journal: open %s: %w", path, err)
		}
	}
	return j, nil
}

// check runs PRAGMA quick_check (which also makes SQLite recover the WAL).
func (j *Journal) check(ctx context.Context) error {
	rows, err := j.db.QueryContext(ctx, "PRAGMA quick_check(20)")
	if err != nil {
		return j.wrap("open", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return j.wrap("open", err)
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return j.wrap("open", err)
	}
	if len(problems) > 0 {
		return &CorruptError{Path: j.path, Detail: "quick_check: " + strings.Join(problems, "; ")}
	}
	return nil
}

const schemaV1 = `
CREATE TABLE meta (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (name, value) VALUES ('last_seq', 0), ('last_acked', 0), ('dropped', 0);
CREATE TABLE entry (
	seq      INTEGER PRIMARY KEY,
	meter    TEXT    NOT NULL,
	kind     TEXT    NOT NULL,
	t        INTEGER NOT NULL,
	quality  INTEGER NOT NULL,
	vals     TEXT    NOT NULL,
	appended INTEGER NOT NULL,
	acked    INTEGER NOT NULL DEFAULT 0,
	UNIQUE (meter, kind, t)
);
CREATE INDEX entry_unacked ON entry (seq) WHERE acked = 0;
CREATE INDEX entry_acked ON entry (appended) WHERE acked = 1;
CREATE TABLE last_time (
	meter TEXT    NOT NULL,
	kind  TEXT    NOT NULL,
	t     INTEGER NOT NULL,
	PRIMARY KEY (meter, kind)
) WITHOUT ROWID;
`

// migrate creates the schema in a new file and refuses files it does not know.
func (j *Journal) migrate(ctx context.Context) error {
	return j.write(ctx, "open", func(ctx context.Context, tx *sql.Tx) error {
		var appID, version int64
		if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
			return err
		}
		switch {
		case appID == applicationID && version == schemaVersion:
			return nil
		case appID == applicationID && (version == 1 || version == 2):
			// Version 2 adds the event log, version 3 commands, settings and the event
			// upload; entries are untouched.
			steps := []string{schemaV2, schemaV3}[version-1:]
			for _, st := range steps {
				if _, err := tx.ExecContext(ctx, st); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion))
			return err
		case appID == applicationID && version > schemaVersion:
			return fmt.Errorf("schema version %d is newer than this program's %d", version, schemaVersion)
		case appID != 0 || version != 0:
			return fmt.Errorf("not a gridmeter journal (application_id %#x, user_version %d)", appID, version)
		}
		var tables int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
			return err
		}
		if tables != 0 {
			return fmt.Errorf("not a gridmeter journal (%d schema objects, no application_id)", tables)
		}
		if _, err := tx.ExecContext(ctx, schemaV1); err != nil {
			return err
		}
		for _, st := range []string{schemaV2, schemaV3} {
			if _, err := tx.ExecContext(ctx, st); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = %d", applicationID, schemaVersion))
		return err
	})
}

// Close closes the journal. The last connection's close checkpoints the WAL into the
// database file. Close is idempotent.
func (j *Journal) Close() error {
	if j.closed.Swap(true) {
		return nil
	}
	if err := j.db.Close(); err != nil {
		return fmt.Errorf("journal: close: %w", err)
	}
	return nil
}

// Path returns the journal's file path.
func (j *Journal) Path() string { return j.path }

// write runs fn in one BEGIN IMMEDIATE transaction and commits it. ctx bounds the wait for
// the connection; once the transaction has begun it runs to its end regardless of ctx (fn
// gets a context that is never cancelled), so an error means nothing was written, short of
// an I/O error during the commit itself.
func (j *Journal) write(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if j.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("journal: %s: %w", op, err)
	}
	conn, err := j.db.Conn(ctx)
	if err != nil {
		return j.wrap(op, err)
	}
	defer conn.Close()
	tctx := context.WithoutCancel(ctx)
	tx, err := conn.BeginTx(tctx, nil)
	if err != nil {
		return j.wrap(op, err)
	}
	if err := fn(tctx, tx); err != nil {
		tx.Rollback()
		return j.wrap(op, err)
	}
	if err := tx.Commit(); err != nil {
		return j.wrap(op, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
