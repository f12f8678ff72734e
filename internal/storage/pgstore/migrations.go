package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migration is one schema version. Migrations are append-only: a released one is never
// edited, a change is a new version. after, if set, runs after sql in the same transaction.
type migration struct {
	version     int
	description string
	sql         string
	after       func(ctx context.Context, tx pgx.Tx) error
}

// migrations lists every schema version in order. The ts and at CHECK bounds are
// meterdata.EarliestTime (2000-01-01) and meterdata.LatestTime (2100-01-01) in Unix ms.
var migrations = []migration{
	{
		version:     1,
		description: "meters, readings, conflicts, terminals",
		sql: `
CREATE TABLE meters (
	id          text COLLATE "C" NOT NULL PRIMARY KEY,
	terminal    text NOT NULL,
	bus         text NOT NULL,
	address     text NOT NULL,
	protocol    text NOT NULL DEFAULT '',
	description text NOT NULL DEFAULT ''
);

CREATE TABLE readings (
	meter_id    text COLLATE "C" NOT NULL,
	kind        text COLLATE "C" NOT NULL CHECK (length(kind) BETWEEN 1 AND 32),
	ts          bigint   NOT NULL CHECK (ts >= 946684800000 AND ts < 4102444800000),
	quality     smallint NOT NULL CHECK (quality BETWEEN 0 AND 7),
	vals        jsonb    NOT NULL CHECK (jsonb_typeof(vals) = 'object'),
	received_at bigint   NOT NULL,
	PRIMARY KEY (meter_id, kind, ts)
);

CREATE TABLE conflicts (
	id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	meter_id         text COLLATE "C" NOT NULL,
	kind             text COLLATE "C" NOT NULL,
	ts               bigint   NOT NULL,
	terminal         text     NOT NULL,
	stored_quality   smallint NOT NULL,
	stored_vals      jsonb    NOT NULL,
	received_quality smallint NOT NULL CHECK (received_quality BETWEEN 0 AND 7),
	received_vals    jsonb    NOT NULL,
	received_at      bigint   NOT NULL
);

CREATE INDEX conflicts_meter_idx ON conflicts (meter_id, id);

CREATE TABLE terminals (
	id        text COLLATE "C" NOT NULL PRIMARY KEY,
	state     text   NOT NULL DEFAULT '',
	software  text   NOT NULL DEFAULT '',
	status_at bigint,
	last_seen bigint,
	last_seq  bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
	seq_gaps  bigint NOT NULL DEFAULT 0,
	batches   bigint NOT NULL DEFAULT 0,
	readings  bigint NOT NULL DEFAULT 0,
	conflicts bigint NOT NULL DEFAULT 0
);
`,
		after: tryHypertable,
	},
	{
		version:     2,
		description: "events",
		sql: `
CREATE TABLE events (
	id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at       bigint NOT NULL CHECK (at >= 946684800000 AND at < 4102444800000),
	kind     text COLLATE "C" NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
	severity text NOT NULL CHECK (severity IN ('info', 'warning', 'alarm')),
	terminal text COLLATE "C" NOT NULL DEFAULT '',
	meter_id text COLLATE "C" NOT NULL DEFAULT '',
	message  text NOT NULL DEFAULT '',
	data     jsonb CHECK (jsonb_typeof(data) = 'object')
);

CREATE INDEX events_at_idx ON events (at, id);
CREATE INDEX events_terminal_idx ON events (terminal, at, id);
CREATE INDEX events_meter_idx ON events (meter_id, at, id);
CREATE INDEX events_kind_idx ON events (kind, at, id);
`,
	},
	{
		version:     3,
		description: "commands, plans, terminal event marks",
		sql: `
CREATE TABLE commands (
	id        text COLLATE "C" NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
	terminal  text COLLATE "C" NOT NULL,
	meter_id  text COLLATE "C" NOT NULL,
	action    text   NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
	params    jsonb  CHECK (jsonb_typeof(params) = 'object'),
	issued_by text   NOT NULL,
	issued    bigint NOT NULL CHECK (issued >= 946684800000 AND issued < 4102444800000),
	expires   bigint NOT NULL CHECK (expires > issued AND expires < 4102444800000),
	state     text   NOT NULL CHECK (state IN ('pending', 'accepted', 'succeeded', 'failed', 'rejected', 'expired')),
	reason    text   NOT NULL DEFAULT '',
	result    jsonb  CHECK (jsonb_typeof(result) = 'object'),
	updated   bigint NOT NULL
);

CREATE INDEX commands_issued_idx ON commands (issued, id);
CREATE INDEX commands_terminal_idx ON commands (terminal, issued, id);
CREATE INDEX commands_meter_idx ON commands (meter_id, issued, id);
CREATE INDEX commands_open_idx ON commands (issued, id) WHERE state IN ('pending', 'accepted');

CREATE TABLE plans (
	terminal   text COLLATE "C" NOT NULL,
	version    bigint NOT NULL CHECK (version >= 1),
	body       bytea  NOT NULL CHECK (length(body) BETWEEN 1 AND 1048576),
	created    bigint NOT NULL,
	created_by text   NOT NULL,
	PRIMARY KEY (terminal, version)
);

CREATE TABLE plan_status (
	terminal        text COLLATE "C" NOT NULL PRIMARY KEY,
	latest_version  bigint NOT NULL DEFAULT 0 CHECK (latest_version >= 0),
	applied_version bigint NOT NULL DEFAULT 0 CHECK (applied_version >= 0),
	report_version  bigint NOT NULL DEFAULT 0 CHECK (report_version >= 0),
	report_state    text   NOT NULL DEFAULT '' CHECK (report_state IN ('', 'applied', 'rejected')),
	report_error    text   NOT NULL DEFAULT '',
	reported_at     bigint
);

CREATE TABLE terminal_event_marks (
	terminal text COLLATE "C" NOT NULL PRIMARY KEY,
	last_seq bigint NOT NULL CHECK (last_seq >= 0)
);
`,
	},
}

// SchemaVersion is the schema version this build creates and understands.
var SchemaVersion = migrations[len(migrations)-1].version

// migrate creates the schema if one is configured and applies the missing migrations, in
// one transaction holding an advisory lock named after the schema.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string, now int64) (err error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
			defer cancel()
			_ = tx.Rollback(rctx)
		}
	}()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "gridmeter/pgstore migrate "+schema); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	if schema != "" {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("create schema %s: %w", schema, err)
		}
	}
	var current *string
	if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&current); err != nil {
		return fmt.Errorf("current schema: %w", err)
	}
	if current == nil {
		return errors.New("no existing schema in search_path to create the tables in")
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
	version     integer NOT NULL PRIMARY KEY,
	description text    NOT NULL,
	applied_at  bigint  NOT NULL
)`); err != nil {
		return fmt.Errorf("create schema_version in %s: %w", *current, err)
	}
	var have int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&have); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if have > SchemaVersion {
		return fmt.Errorf("schema %s: version %d is newer than this build's %d", *current, have, SchemaVersion)
	}
	for _, m := range migrations {
		if m.version <= have {
			continue
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.description, err)
		}
		if m.after != nil {
			if err := m.after(ctx, tx); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.version, m.description, err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version, description, applied_at) VALUES ($1, $2, $3)`,
			m.version, m.description, now); err != nil {
			return fmt.Errorf("record migration %d: %w", m.version, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// tryHypertable turns readings into a TimescaleDB hypertable when the extension is
// available and can be created; otherwise readings stays a plain table. It fails only on
// errors outside the savepoint (the availability query).
func tryHypertable(ctx context.Context, tx pgx.Tx) error {
	var available bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')`).Scan(&available); err != nil {
		return fmt.Errorf("look for timescaledb: %w", err)
	}
	if !available {
		return nil
	}
	sp, err := tx.Begin(ctx) // a savepoint: a failure below must not abort the migration
	if err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	err = func() error {
		if _, err := sp.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS timescaledb`); err != nil {
			return err
		}
		var extSchema string
		if err := sp.QueryRow(ctx, `SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'timescaledb'`).Scan(&extSchema); err != nil {
			return err
		}
		// 7 days of Unix milliseconds per chunk.
		_, err := sp.Exec(ctx, `SELECT `+pgx.Identifier{extSchema, "create_hypertable"}.Sanitize()+
			`('readings'::regclass, 'ts', chunk_time_interval => 604800000::bigint)`)
		return err
	}()
	if err != nil {
		return sp.Rollback(ctx) // plain table; Hypertable reports false
	}
	return sp.Commit(ctx)
}

// isHypertable reports whether readings (in the current schema) is a TimescaleDB hypertable.
func isHypertable(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	var yes bool
	err := pool.QueryRow(ctx, `SELECT to_regclass('_timescaledb_catalog.hypertable') IS NOT NULL`).Scan(&yes)
	if err != nil || !yes {
		return false, err
	}
	err = pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM _timescaledb_catalog.hypertable
WHERE schema_name = current_schema() AND table_name = 'readings')`).Scan(&yes)
	return yes, err
}
