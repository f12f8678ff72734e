// Package journal is the terminal's crash-safe local journal of readings: its outbox and
// its memory of what it has already read.
//
// The acquisition appends every reading here before anything is published. Append gives
// each new reading a per-terminal sequence number (Seq), strictly increasing from 1 and never
// reused, even after entries are deleted or the process is killed. The uplink publishes
// Pending entries in Seq order; the head-end acknowledges Seq ranges after its durable
// commit and only then does the terminal call Ack; acknowledged entries are deleted later by
// Compact. Has and LastTime answer the acquisition's break-point questions: is this
// (meter, kind, time) already journaled, and what is the newest time journaled for
// (meter, kind).
//
// # On-disk format
//
// One SQLite database file (modernc.org/sqlite, pure Go), identified by
// PRAGMA application_id = 0x676d6a31 ("gmj1") and versioned by PRAGMA user_version
// (currently 1); Open refuses a file with another application id or a newer version.
// Pragmas on the (single) connection: journal_mode=WAL, synchronous=FULL, busy_timeout=5000,
// journal_size_limit=16 MiB (the WAL is truncated to that after a checkpoint); write
// transactions are BEGIN IMMEDIATE. No auto_vacuum: pages freed by Compact are reused, so
// the file stays at its high-water size, itself bounded through MaxEntries.
//
//	meta(name TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID
//	    'last_seq'   highest Seq ever assigned: the persisted counter Append continues from,
//	                 so deleting the newest entries never lets a Seq be reused (unlike max(rowid))
//	    'last_acked' highest Seq ever acknowledged
//	    'dropped'    unacknowledged entries ever deleted by the MaxEntries bound
//	entry(seq INTEGER PRIMARY KEY,      -- the Seq (rowid alias); uint64 stored as int64, < 2^63
//	      meter TEXT, kind TEXT,        -- meterdata.MeterID, meterdata.Kind
//	      t INTEGER,                    -- reading time, Unix milliseconds UTC
//	      quality INTEGER,              -- meterdata.Quality bits
//	      vals TEXT,                    -- values as canonical JSON: {"e_imp":123,"u_a":230100}, keys
//	                                    -- sorted, no spaces, int64 in the units of meterdata.Channels
//	      appended INTEGER,             -- append time, Unix milliseconds UTC (Options.Now)
//	      acked INTEGER,                -- 0 pending, 1 acknowledged
//	      UNIQUE (meter, kind, t))      -- the exactly-once key
//	    index entry_unacked(seq) WHERE acked = 0      -- Pending, Unacked count
//	    index entry_acked(appended) WHERE acked = 1   -- Compact by age
//	last_time(meter TEXT, kind TEXT, t INTEGER, PRIMARY KEY (meter, kind)) WITHOUT ROWID
//	    newest t ever appended per (meter, kind); never deleted, so LastTime survives Compact
//
// Append assigns Seq itself from meta.last_seq inside its transaction and only to readings
// actually inserted (INSERT … ON CONFLICT DO NOTHING), so the Seqs of a journal are
// contiguous: a gap seen by the head-end means lost data, never a skipped duplicate.
//
// # Durability
//
// Each Append, Ack and Compact is one transaction. In WAL mode a commit appends the changed
// pages to the -wal file with a commit frame; with synchronous=FULL SQLite fsyncs the WAL
// before the commit returns (and fsyncs the directory when it creates a WAL file; Open
// fsyncs the directory once more after creating a new database file). So when Append
// returns nil, its commit frame is on stable storage, and a kill -9 or power loss at any
// later instant cannot lose it; a crash before that loses the whole transaction, never part
// of it. Checkpoints copy WAL pages into the database file and fsync it before the WAL is
// reused. The journal never opens the database file with os.Open while it is open itself:
// closing such a descriptor would drop SQLite's POSIX locks.
//
// Once its transaction has begun, an Append is not interrupted by its context: an error
// then means nothing was appended. After an ambiguous failure (an I/O error during the
// commit) retrying the same batch is safe, because journaled keys are skipped.
//
// # Recovery on open
//
// Opening the file makes SQLite replay the committed frames of a WAL left by a crash and
// ignore a torn tail (frames after the last valid commit frame fail their checksums).
// Open then runs PRAGMA quick_check (linear in the file size). If the file is damaged —
// quick_check reports problems, or SQLite answers SQLITE_CORRUPT or SQLITE_NOTADB, here or
// in any later call — the error is a *CorruptError, matching errors.Is(err, ErrCorrupt).
// The journal does not repair itself: the caller decides, typically by closing it, calling
// Quarantine (which renames the db, -wal and -shm files aside with a ".corrupt-<UTC time>"
// suffix, keeping them for analysis) and opening a new, empty journal at the same path.
// Entries of the old file not yet acknowledged are then lost to the head-end, which sees a
// Seq restart from 1 of that terminal; this must be reported by the caller.
//
// # Bounding
//
// Compact first deletes acknowledged entries appended more than Options.KeepAcked (default
// 24 h) ago. Then, if more than Options.MaxEntries (default 1,000,000) entries remain, it
// deletes the oldest acknowledged entries (lowest Seq first) and, only if still over, the
// oldest unacknowledged entries: those are lost to the head-end, and are counted in
// CompactResult.Dropped and in the persistent Stats.Dropped, which belongs in the
// terminal's metrics and alerts. Oldest-first keeps the newest data when the uplink is down
// longer than the journal can hold; the head-end sees the loss as a Seq gap.
package journal
