package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
)

// migration is one schema version. Migrations are append-only: a released one is never
// edited, a change is a new version.
type migration struct {
	version     int
	description string
	sql         string
}

// migrations lists every schema version in order. The ts and at CHECK bounds are
// meterdata.EarliestTime (2000-01-01) and meterdata.LatestTime (2100-01-01) in Unix ms.
var migrations = []migration{
	{
		version:     1,
		description: "meters, readings, conflicts, terminals",
		sql: `
CREATE TABLE meters (
	id          TEXT NOT NULL PRIMARY KEY,
	terminal    TEXT NOT NULL,
	bus         TEXT NOT NULL,
	address     TEXT NOT NULL,
	protocol    TEXT NOT NULL DEFAULT '',
	description TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE readings (
	meter_id    TEXT    NOT NULL,
	kind        TEXT    NOT NULL CHECK (length(kind) BETWEEN 1 AND 32),
	ts          INTEGER NOT NULL CHECK (ts >= 946684800000 AND ts < 4102444800000),
	quality     INTEGER NOT NULL CHECK (quality BETWEEN 0 AND 7),
	vals        TEXT    NOT NULL,
	received_at INTEGER NOT NULL,
	PRIMARY KEY (meter_id, kind, ts)
) STRICT, WITHOUT ROWID;

CREATE TABLE conflicts (
	id               INTEGER PRIMARY KEY,
	meter_id         TEXT    NOT NULL,
	kind             TEXT    NOT NULL,
	ts               INTEGER NOT NULL,
	terminal         TEXT    NOT NULL,
	stored_quality   INTEGER NOT NULL,
	stored_vals      TEXT    NOT NULL,
	received_quality INTEGER NOT NULL CHECK (received_quality BETWEEN 0 AND 7),
	received_vals    TEXT    NOT NULL,
	received_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX conflicts_meter ON conflicts (meter_id, id);

CREATE TABLE terminals (
	id        TEXT    NOT NULL PRIMARY KEY,
	state     TEXT    NOT NULL DEFAULT '',
	software  TEXT    NOT NULL DEFAULT '',
	status_at INTEGER,
	last_seen INTEGER,
	last_seq  INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
	seq_gaps  INTEGER NOT NULL DEFAULT 0,
	batches   INTEGER NOT NULL DEFAULT 0,
	readings  INTEGER NOT NULL DEFAULT 0,
	conflicts INTEGER NOT NULL DEFAULT 0
) STRICT;
`,
	},
	{
		version:     2,
		description: "events",
		sql: `
CREATE TABLE events (
	id       INTEGER PRIMARY KEY,
	at       INTEGER NOT NULL CHECK (at >= 946684800000 AND at < 4102444800000),
	kind     TEXT    NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
	severity TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'alarm')),
	terminal TEXT    NOT NULL DEFAULT '',
	meter_id TEXT    NOT NULL DEFAULT '',
	message  TEXT    NOT NULL DEFAULT '',
	data     TEXT
) STRICT;

CREATE INDEX events_at ON events (at);
CREATE INDEX events_terminal ON events (terminal, at);
CREATE INDEX events_meter ON events (meter_id, at);
CREATE INDEX events_kind ON events (kind, at);
`,
	},
	{
		version:     3,
		description: "commands, plans, terminal event marks",
		sql: `
CREATE TABLE commands (
	id        TEXT    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
	terminal  TEXT    NOT NULL,
	meter_id  TEXT    NOT NULL,
	action    TEXT    NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
	params    TEXT,
	issued_by TEXT    NOT NULL,
	issued    INTEGER NOT NULL CHECK (issued >= 946684800000 AND issued < 4102444800000),
	expires   INTEGER NOT NULL CHECK (expires > issued AND expires < 4102444800000),
	state     TEXT    NOT NULL CHECK (state IN ('pending', 'accepted', 'succeeded', 'failed', 'rejected', 'expired')),
	reason    TEXT    NOT NULL DEFAULT '',
	result    TEXT,
	updated   INTEGER NOT NULL
) STRICT;

CREATE INDEX commands_issued ON commands (issued, id);
CREATE INDEX commands_terminal ON commands (terminal, issued, id);
CREATE INDEX commands_meter ON commands (meter_id, issued, id);
CREATE INDEX commands_open ON commands (issued, id) WHERE state IN ('pending', 'accepted');

CREATE TABLE plans (
	terminal   TEXT    NOT NULL,
	version    INTEGER NOT NULL CHECK (version >= 1),
	body       BLOB    NOT NULL CHECK (length(body) BETWEEN 1 AND 1048576),
	created    INTEGER NOT NULL,
	created_by TEXT    NOT NULL,
	PRIMARY KEY (terminal, version)
) STRICT;

CREATE TABLE plan_status (
	terminal        TEXT    NOT NULL PRIMARY KEY,
	latest_version  INTEGER NOT NULL DEFAULT 0 CHECK (latest_version >= 0),
	applied_version INTEGER NOT NULL DEFAULT 0 CHECK (applied_version >= 0),
	report_version  INTEGER NOT NULL DEFAULT 0 CHECK (report_version >= 0),
	report_state    TEXT    NOT NULL DEFAULT '' CHECK (report_state IN ('', 'applied', 'rejected')),
	report_error    TEXT    NOT NULL DEFAULT '',
	reported_at     INTEGER
) STRICT;

CREATE TABLE terminal_event_marks (
	terminal TEXT    NOT NULL PRIMARY KEY,
	last_seq INTEGER NOT NULL CHECK (last_seq >= 0)
) STRICT;
`,
	},
}

// SchemaVersion is the schema version this build creates and understands.
var SchemaVersion = migrations[len(migrations)-1].version

// migrate applies the missing migrations in one write transaction on the writer pool.
func migrate(ctx context.Context, db *sql.DB, now int64) (err error) {
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see the DSN): one migrator at a time
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
	version     INTEGER NOT NULL PRIMARY KEY,
	description TEXT    NOT NULL,
	applied_at  INTEGER NOT NULL
) STRICT`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&have); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if have > SchemaVersion {
		return fmt.Errorf("database schema version %d is newer than this build's %d", have, SchemaVersion)
	}
	for _, m := range migrations {
		if m.version <= have {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.description, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)`,
			m.version, m.description, now); err != nil {
			return fmt.Errorf("record migration %d: %w", m.version, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
