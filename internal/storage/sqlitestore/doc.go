// Package sqlitestore is the embedded SQLite implementation of storage.Store, the head-end's
// default backend, built on modernc.org/sqlite (pure Go, no cgo).
//
// # Connections and concurrency
//
// A Store holds two connection pools on one database file. The writer pool has exactly one
// connection, so writes are serialised in process; every write transaction starts with
// BEGIN IMMEDIATE (taking SQLite's write lock at once instead of upgrading a read lock, which
// could fail with SQLITE_BUSY mid-transaction) and a busy timeout covers another process
// holding the lock. The reader pool has several query_only connections; in WAL mode readers
// never block the writer nor each other. All methods are safe for concurrent use.
//
// # Durability
//
// The database runs in WAL mode with synchronous=FULL: the WAL is fsynced at every commit,
// so when StoreBatch returns nil the batch survives a power cut, not only a process crash
// (synchronous=NORMAL in WAL mode would only survive the latter); likewise StoreReadings. The
// price is one fsync per batch, which is why the head-end stores whole batches in one
// transaction.
//
// Open needs a file path: ":memory:" is refused because each connection would get its own
// empty in-memory database. Tests use a file under t.TempDir().
//
// # Schema
//
// Migrations are kept in this package (migrations.go), applied in order inside one
// BEGIN IMMEDIATE transaction at Open and recorded in schema_version, so opening is
// idempotent and two processes opening the same file at once do not race. A database whose
// version is newer than this build knows is refused. Version 1:
//
//	meters(id PK, terminal, bus, address, protocol, description)
//	readings(meter_id, kind, ts, quality, vals, received_at, PRIMARY KEY(meter_id, kind, ts))
//	conflicts(id PK, meter_id, kind, ts, terminal, stored_quality, stored_vals,
//	          received_quality, received_vals, received_at)
//	terminals(id PK, state, software, status_at, last_seen, last_seq, seq_gaps,
//	          batches, readings, conflicts)
//
// Version 2 adds the event log (storage.EventStore), indexed for its filters, newest first:
//
//	events(id INTEGER PK, at, kind, severity, terminal, meter_id, message, data NULL)
//	       -- indexes (at), (terminal, at), (meter_id, at), (kind, at), each ending in id
//
// terminal and meter_id are empty strings when the event concerns none; data, the
// canonical JSON object of the figures, is NULL when there are none. Events are never
// deleted, so ids (rowids, given in the order of a call's VALUES) only grow.
//
// Version 3 adds commands (storage.CommandStore), plans (storage.PlanStore) and the marks
// of terminals' event sequence numbers (storage.TerminalEventWriter):
//
//	commands(id PK, terminal, meter_id, action, params NULL, issued_by, issued, expires,
//	         state, reason, result NULL, updated)
//	         -- indexes (issued, id), (terminal, issued, id), (meter_id, issued, id), and
//	         -- (issued, id) WHERE state IN ('pending', 'accepted') for open commands
//	plans(terminal, version, body BLOB, created, created_by, PRIMARY KEY(terminal, version))
//	plan_status(terminal PK, latest_version, applied_version, report_version, report_state,
//	            report_error, reported_at NULL)
//	terminal_event_marks(terminal PK, last_seq)
//
// params and result are JSON objects (result canonical, as vals), NULL when empty. An
// UpdateCommand is one UPDATE … WHERE the state allows the move … RETURNING, so the check
// and the move are one step. plan_status holds a terminal's newest version and its last
// report: PutPlan raises latest_version and inserts the plan in one transaction, build
// called between the two. A terminal's events appended by AppendTerminalEvents go to the
// events table like any other; terminal_event_marks keeps the highest sequence number
// stored, raised in the same transaction.
//
// Every time (ts, received_at, status_at, last_seen, at, issued, …) is an INTEGER of Unix milliseconds, UTC.
// vals is the canonical JSON object of the reading's values (meterdata.EncodeValues),
// e.g. {"e_imp":123456,"u_a":230100}: one wide row per reading, values together. Tables are
// STRICT; readings is WITHOUT ROWID so the primary key is the table. CHECK constraints refuse
// an implausible ts (outside meterdata.EarliestTime..LatestTime), unknown quality bits and an
// empty kind, so a bad reading aborts its batch in the database itself. The conflict log
// keeps both the stored and the received values, so it stays meaningful on its own.
//
// A completion (a reading bringing a strict superset of the stored values) updates vals and
// quality of the stored row in the same transaction; received_at stays the first arrival's.
// The one writer connection makes the read-back of stored readings current until commit,
// so no row lock is needed (see pgstore for the case of concurrent writers).
package sqlitestore
