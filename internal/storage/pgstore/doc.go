// Package pgstore is the PostgreSQL implementation of storage.Store, the head-end's backend
// for scale, built on github.com/jackc/pgx/v5 (pgxpool).
//
// # Concurrency
//
// A Store is a pgxpool.Pool; all methods are safe for concurrent use, from one or several
// processes. StoreBatch runs in one READ COMMITTED transaction that first locks the batch's
// terminal row (SELECT … FOR UPDATE), so the batches of one terminal are applied one at a
// time and the sequence gap is computed against a stable LastSeq. Readings are inserted in
// key order, so transactions of different terminals that share reading keys wait for each
// other instead of deadlocking; should PostgreSQL still report a deadlock or serialization
// failure, the whole transaction is retried (up to 3 attempts). StoreReadings (the IEC 102
// path) runs the same way without a terminal row to lock: meters, then readings in key
// order, then the rows to complete locked in key order, then conflicts. AppendEvents is
// one INSERT in its own transaction and locks nothing another writer waits for. The
// command, plan and terminal event methods each lock at most one row (see Schema, version
// 3), so they cannot deadlock.
//
// # Storing a batch
//
// The readings of a batch are checked and de-duplicated in Go by package batchplan (a key
// repeated inside the batch is judged against its first occurrence), then inserted with ON
// CONFLICT DO NOTHING RETURNING the keys actually inserted:
//
//   - batches below the COPY threshold (WithCopyThreshold, default 2,048 readings) in one
//     INSERT … SELECT FROM unnest($1::text[], …): one statement, five array parameters;
//   - larger ones by COPY into a temporary staging table (ON COMMIT DROP), then INSERT …
//     SELECT … ON CONFLICT DO NOTHING from it in the same transaction, because COPY itself
//     cannot skip existing keys. Measured here, COPY is no faster than unnest below a few
//     thousand readings (the staging table costs what COPY saves); it streams a large batch
//     instead of building it into one message.
//
// The keys not inserted are then read back and compared in Go (batchplan.Plan.Judge): same
// values (StoreReadings: the received values a subset of the stored, batchplan.Covers) is
// a duplicate; a strict superset of the stored values a completion; other values a
// conflict written to the conflicts table with both the stored and the received values.
// The read-back takes no lock, as a duplicate or a conflict writes nothing to the row;
// the rows to complete are then read again under SELECT … ORDER BY key FOR UPDATE (in key
// order, as the inserts, so that concurrent transactions do not deadlock), judged again
// against their latest committed version, and updated in one UPDATE … FROM unnest: a
// completion never overwrites channels a concurrent one added, and of concurrent
// transactions bringing the same superset only the first counts it as completed. A
// completion changes vals and quality; received_at stays the first arrival's.
//
// The caller's context cancels every statement up to COMMIT, but not the COMMIT itself
// (bounded by its own 30 s timeout): cancelling a COMMIT in flight could leave it applied on
// the server and reported as failed, breaking "on error, nothing is stored".
//
// # Schema
//
// Migrations live in this package (migrations.go) and are applied at Open in one
// transaction under an advisory lock, recorded in schema_version; opening is idempotent and
// safe from several processes at once. WithSchema puts every table in a named schema
// (created if missing, and set as the connections' search_path), which is how tests isolate
// themselves. Version 1:
//
//	meters(id PK, terminal, bus, address, protocol, description)
//	readings(meter_id, kind, ts bigint, quality smallint, vals jsonb, received_at bigint,
//	         PRIMARY KEY(meter_id, kind, ts))
//	conflicts(id identity PK, meter_id, kind, ts, terminal, stored_quality, stored_vals jsonb,
//	          received_quality, received_vals jsonb, received_at)
//	terminals(id PK, state, software, status_at, last_seen, last_seq, seq_gaps, batches,
//	          readings, conflicts)
//
// Version 2 adds the event log (storage.EventStore), indexed for its filters, newest first:
//
//	events(id identity PK, at bigint, kind, severity, terminal, meter_id, message,
//	       data jsonb NULL)   -- indexes (at, id), (terminal, at, id), (meter_id, at, id), (kind, at, id)
//
// terminal and meter_id are empty strings when the event concerns none; data is NULL when
// it has no figures. AppendEvents inserts a call's events in one INSERT … SELECT FROM
// unnest … WITH ORDINALITY ORDER BY ord, so the identity follows the order given.
//
// Version 3 adds commands (storage.CommandStore), plans (storage.PlanStore) and the marks
// of terminals' event sequence numbers (storage.TerminalEventWriter):
//
//	commands(id PK, terminal, meter_id, action, params jsonb NULL, issued_by, issued bigint,
//	         expires bigint, state, reason, result jsonb NULL, updated bigint)
//	         -- indexes (issued, id), (terminal, issued, id), (meter_id, issued, id), and
//	         -- (issued, id) WHERE state IN ('pending', 'accepted') for open commands
//	plans(terminal, version, body bytea, created, created_by, PRIMARY KEY(terminal, version))
//	plan_status(terminal PK, latest_version, applied_version, report_version, report_state,
//	            report_error, reported_at NULL)
//	terminal_event_marks(terminal PK, last_seq)
//
// UpdateCommand is one UPDATE … WHERE the state allows the move … RETURNING: a concurrent
// update of the row makes it wait and test its condition again on the row as the other left
// it, so of concurrent reports exactly one takes a command to a final state. PutPlan raises
// plan_status.latest_version, which locks the terminal's row until commit (concurrent calls
// wait, each getting the next number), calls build and inserts the plan; ReportPlan locks
// the same row (FOR UPDATE). AppendTerminalEvents locks the terminal's mark row (created at
// 0 if new) before comparing sequence numbers with it, inserts the new events like
// AppendEvents and raises the mark in the same transaction.
//
// Times are bigint Unix milliseconds, UTC, as in the SQLite backend and as in
// meterdata.Key: both backends then hold identical keys and no timestamptz conversion or
// session time zone can shift one. (In SQL, to_timestamp(ts / 1000.0) shows them as
// timestamps.) vals is jsonb, so values compare semantically and can be queried in SQL
// (vals->>'e_imp'); jsonb keeps int64 values exactly. CHECK constraints refuse an
// implausible ts, unknown quality bits, an empty kind and a non-object vals, so a bad
// reading aborts its batch in the database itself; events have CHECKs on at (the same
// range), kind's length and severity.
//
// If pg_available_extensions lists timescaledb when version 1 is applied, the store tries to
// create the extension and make readings a hypertable (7-day chunks of ts); if that fails
// (for instance timescaledb not in shared_preload_libraries) it keeps the plain table, which
// is always correct. Store.Hypertable reports the outcome. Only the plain path is tested.
package pgstore
