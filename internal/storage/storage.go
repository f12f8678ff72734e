// Package storage is the head-end's storage contract: small role interfaces composed into
// Store, implemented by the SQLite backend (sqlitestore, the embedded default) and the
// PostgreSQL backend (pgstore, for scale). One contract suite (storagetest) runs against both.
//
// Units and time: reading values are int64 in the units of meterdata.Channels; every time is
// UTC, stored with millisecond precision. All methods are safe for concurrent use.
package storage

import (
	"context"
	"errors"
	"time"

	"gridmeter/internal/meterdata"
)

// ErrNotFound is returned when a requested meter, terminal, reading, command or plan does
// not exist.
var ErrNotFound = errors.New("not found")

// DefaultLimit is how many readings (ReadingQuery.Limit), conflicts (Conflicts' limit),
// events (EventQuery.Limit) or commands (CommandQuery.Limit) a query returns at most when
// its limit is 0 or less.
const DefaultLimit = 10000

// Batch is one reading batch as a terminal sent it, with the terminal's sequence numbers.
// StoreBatch refuses, storing nothing and creating no terminal, a batch whose Terminal fails
// meterdata.ValidateTerminalID or whose numbers break 1 <= FirstSeq <= LastSeq <= math.MaxInt64
// (the stores keep them as signed 64-bit integers).
type Batch struct {
	Terminal string
	FirstSeq uint64 // sequence number of the first reading in the batch (>= 1)
	LastSeq  uint64 // sequence number of the last reading (>= FirstSeq, <= math.MaxInt64)
	// Readings may be empty: a batch of sequence numbers that carried nothing still counts in
	// Terminal.Batches and advances LastSeq. Readings is not checked against Terminal: the
	// store takes a meter of another terminal as readily (see StoreBatch).
	Readings []meterdata.Reading
}

// BatchResult says what storing a batch did. Inserted + Completed + Duplicates + Conflicts
// is len(Batch.Readings), repeats inside the batch included.
type BatchResult struct {
	Inserted   int // readings stored for the first time
	Completed  int // readings that added channels to a stored reading of their key (see ReadingWriter)
	Duplicates int // readings whose key existed with the same values, quality aside (no-op)
	Conflicts  int // readings whose key existed with other values (logged; the stored one is kept)
	// Gap is how many sequence numbers were skipped between the terminal's LastSeq before
	// this batch and FirstSeq: FirstSeq-LastSeq-1 if FirstSeq > LastSeq+1, else 0. A new
	// terminal's LastSeq is 0, so its first batch starting at 5 has a gap of 4. A resent,
	// overlapping or late batch (one filling an earlier gap) has a gap of 0 and does not
	// reduce Terminal.SeqGaps.
	Gap uint64
}

// ReadingWriter stores readings exactly once.
//
// Readings reach the head-end by two paths under one key: MQTT (StoreBatch) carries the
// whole reading, up to every channel; IEC 60870-5-102 (StoreReadings) carries only the
// energy registers (e_imp, e_exp) of the same journal entry. Whichever path stores first,
// the key ends up with one row holding every channel either path brought: a later arrival
// that carries more channels completes the stored reading instead of conflicting with it.
type ReadingWriter interface {
	// StoreBatch stores the batch's readings and advances the terminal's sequence bookkeeping
	// in one transaction: when it returns nil, everything is durable; on error (a cancelled
	// ctx included), nothing is: no reading, completion, meter, conflict or terminal change.
	//
	// A reading's key is (meter, kind, time at the millisecond, UTC): meterdata.Key. A
	// reading whose key is stored is judged against the stored reading's values (quality
	// flags are not compared):
	//
	//   - Duplicate: the same values (meterdata.SameValues). Nothing changes.
	//   - Completion: a strict superset of the stored values, that is every stored channel
	//     present with the same value, plus at least one more channel. The stored reading
	//     is updated to the union (the arrival's values), still one row under the key. Its
	//     quality flags are the stored ones plus the arrival's QualityEstimated and
	//     QualitySuspect: those qualify values the row now holds, and an estimated value is
	//     never made silently; QualityBackfilled stays as stored (the first stored wins, as
	//     for a duplicate). Counted in Completed; nothing is logged.
	//   - Conflict: anything else (a common channel with another value, or a stored channel
	//     missing). The stored reading is kept and the arrival is appended to the conflict
	//     log, every time it arrives (a resent conflict is logged, and counted, again).
	//
	// Inside one batch only the first occurrence of a key can be inserted; each later one
	// is judged against what is then stored under the key (that first occurrence, or an
	// older reading, as completed by the batch's earlier occurrences). Of concurrent calls
	// sharing a key, exactly one counts it as Inserted; of concurrent calls bringing the
	// same superset of a stored reading, exactly one counts it as Completed (the others see
	// the completed reading: duplicates); no completion loses channels another one added.
	//
	// Meters not yet known are created from their ids (Terminal, Bus, Address; protocol and
	// description "" until UpsertMeters describes them); a known meter is left as it is. The
	// store does not check that a reading's meter belongs to b.Terminal: that is the
	// caller's check (ingest's, through message.DecodeReadingBatch); such a reading is stored
	// and counted for b.Terminal.
	//
	// The terminal is created if new (State and Software ""), and then LastSeq becomes
	// max(LastSeq, b.LastSeq), SeqGaps grows by the result's Gap, Batches by 1 (resent
	// batches too), Readings by Inserted (a completion adds no reading), Conflicts by
	// Conflicts, and LastSeen becomes the arrival time (the store's clock) unless it is
	// already later.
	//
	// The readings must be valid (meterdata.Reading.Validate). The store refuses the whole
	// batch for a malformed meter id, an unknown kind, no values, a time outside
	// meterdata.EarliestTime..LatestTime or unknown quality bits (and for a Batch breaking
	// the rules stated on Batch); it does not check channel names or their number.
	StoreBatch(ctx context.Context, b Batch) (BatchResult, error)

	// StoreReadings stores readings that came by a path without terminal sequence numbers
	// (the IEC 60870-5-102 master), under the same exactly-once key as StoreBatch and in
	// one transaction: when it returns nil, everything is durable; on error (a cancelled
	// ctx included), nothing is. The result's Gap is always 0.
	//
	// It differs from StoreBatch in two points only:
	//
	//   - No terminal bookkeeping: no terminal is created or changed (LastSeq, SeqGaps,
	//     Batches, Readings, Conflicts, LastSeen all stay as they are). source names the
	//     path in the conflict log ("iec102/<target>"); it must be 1 to 128 bytes.
	//   - A reading whose key is stored is a duplicate when every value it carries is
	//     stored under the key with the same value (the stored reading may carry more
	//     channels), not only when the values are the same. A path that carries a subset of
	//     a reading's channels thus adds nothing when the other path stored the reading
	//     first.
	//
	// Everything else is as for StoreBatch: a strict superset of the stored values
	// completes the stored reading (same union, same quality rule, counted in Completed),
	// so a whole reading stored here after its energy registers came by StoreBatch, or by
	// StoreBatch after they came here, ends as one complete row; any other difference is a
	// conflict, logged every time it arrives, the stored reading kept; repeats inside the
	// call are judged against what is then stored; meters not yet known are created from
	// their ids; the readings must be valid and a malformed one refuses the whole call. An
	// empty rs stores nothing.
	StoreReadings(ctx context.Context, source string, rs []meterdata.Reading) (BatchResult, error)
}

// ReadingQuery selects readings of one meter.
type ReadingQuery struct {
	Meter meterdata.MeterID
	Kind  meterdata.Kind // "" for every kind
	// From (inclusive) and To (exclusive) bound the reading time in any time zone, to the
	// nanosecond: a stored time t, a whole millisecond, is selected if From <= t < To. A zero
	// From or To leaves that end open; To <= From selects nothing.
	From  time.Time
	To    time.Time
	Limit int // at most this many, oldest first; 0 or less means DefaultLimit (10,000)
}

// ReadingReader reads stored readings. A meter that is not known is not an error: it has
// no readings.
type ReadingReader interface {
	// Readings returns the readings matching q in time order, then kind; none (and no
	// error) for an unknown meter.
	Readings(ctx context.Context, q ReadingQuery) ([]meterdata.Reading, error)
	// LatestReading returns the newest reading of a meter and kind; kind "" means any kind
	// (on a tie in time, the greatest kind name). ErrNotFound if there is none.
	LatestReading(ctx context.Context, meter meterdata.MeterID, kind meterdata.Kind) (meterdata.Reading, error)
	// CountReadings returns how many readings are stored for a meter (all kinds); 0, not
	// an error, for an unknown meter.
	CountReadings(ctx context.Context, meter meterdata.MeterID) (int, error)
}

// Conflict is a reading that arrived with the key of a stored reading but other values.
type Conflict struct {
	Stored   meterdata.Reading // what was stored under the key when it arrived (a later completion may add channels)
	Received meterdata.Reading // what arrived
	At       time.Time         // when it arrived (the store's clock, UTC, milliseconds)
}

// ConflictReader lists recorded conflicts.
type ConflictReader interface {
	// Conflicts returns the conflicts of a meter ("" for all), newest arrival first, at most
	// limit (0 or less means DefaultLimit). Every conflicting arrival is one entry, resent
	// ones included.
	Conflicts(ctx context.Context, meter meterdata.MeterID, limit int) ([]Conflict, error)
}

// MeterStore keeps meter descriptors.
type MeterStore interface {
	// UpsertMeters creates or updates the descriptors (matched by ID), replacing every
	// field of a known one, in one transaction. Every descriptor must pass
	// meterdata.Meter.Validate, else the whole call is refused and nothing is stored. Of
	// two descriptors with one id, the later wins; an empty list is a no-op.
	UpsertMeters(ctx context.Context, ms []meterdata.Meter) error
	// Meters returns every meter ordered by id.
	Meters(ctx context.Context) ([]meterdata.Meter, error)
	// Meter returns one meter; ErrNotFound if unknown.
	Meter(ctx context.Context, id meterdata.MeterID) (meterdata.Meter, error)
}

// Terminal is what the head-end knows of a terminal. A terminal exists once it has sent a
// status or a stored batch.
type Terminal struct {
	ID        string
	State     string    // "online", "offline", or "" if never reported; from the newest status by At
	Software  string    // software version of the newest status by At; "" if never reported
	LastSeen  time.Time // latest status At or batch arrival (UTC); never goes back; zero if never
	LastSeq   uint64    // highest reading sequence number stored
	SeqGaps   uint64    // sequence numbers found missing so far (sum of BatchResult.Gap)
	Batches   uint64    // batches stored, resent ones included
	Readings  uint64    // readings inserted (not counting duplicates)
	Conflicts uint64    // conflicts recorded, resent ones included
}

// TerminalStatus is a terminal's retained status message as received.
type TerminalStatus struct {
	ID       string // must pass meterdata.ValidateTerminalID
	State    string
	Software string
	At       time.Time // when the terminal sent it; zero means now (the store's clock)
}

// TerminalStore keeps terminals.
type TerminalStore interface {
	// UpdateTerminalStatus records a status message, creating the terminal if new. State
	// and Software are taken from the newest status by At (one with the same At as the
	// last applied replaces it); an older status arriving late changes neither, and
	// LastSeen only moves forward. The sequence counters are left alone.
	UpdateTerminalStatus(ctx context.Context, s TerminalStatus) error
	// Terminals returns every terminal ordered by id.
	Terminals(ctx context.Context) ([]Terminal, error)
	// Terminal returns one terminal; ErrNotFound if unknown.
	Terminal(ctx context.Context, id string) (Terminal, error)
}

// Event severities.
const (
	SeverityInfo    = "info"    // worth knowing: a terminal came online, a gap was backfilled
	SeverityWarning = "warning" // needs a look: clock drift, a sequence gap, a conflict
	SeverityAlarm   = "alarm"   // needs action: a meter fault, a terminal offline too long
)

// Limits on an Event (see Event.Validate).
const (
	MaxEventKind     = 64    // bytes of Event.Kind and of each Data name
	MaxEventMessage  = 1024  // bytes of Event.Message
	MaxEventFigures  = 64    // entries of Event.Data
	MaxEventsPerCall = 10000 // events in one AppendEvents call
)

// Event is something that happened in the system worth keeping for operators: a clock drift,
// a sequence gap, a conflict, a terminal going offline, a meter fault. Events are appended,
// never changed.
type Event struct {
	ID int64 // assigned by the store (ignored by AppendEvents): unique and positive
	// At is when it happened, stored as UTC at the millisecond (cut, as a reading's time). It
	// must lie in meterdata.EarliestTime..LatestTime; zero means now (the store's clock).
	At time.Time
	// Kind names what happened, a lowercase identifier of 1 to 64 bytes of a-z, 0-9 and _
	// ("clock_drift", "seq_gap", "conflict", "terminal_offline", "terminal_online",
	// "overrun", "meter_fault", ...). The set is open: the store checks only the form.
	Kind     string
	Severity string // SeverityInfo, SeverityWarning or SeverityAlarm
	// Terminal is the terminal it concerns, "" if none; else it must pass
	// meterdata.ValidateTerminalID. An event with a Meter and no Terminal gets the meter's
	// terminal, so that filtering by terminal finds the events of its meters.
	Terminal string
	Meter    meterdata.MeterID // the meter it concerns, "" if none; else a well-formed id
	Message  string            // human-readable, valid UTF-8 without NUL, at most 1,024 bytes; may be ""
	// Data holds optional figures (e.g. "drift_ms": 1500): at most 64, named like Kind.
	// Nil or empty is stored as none and read back as nil.
	Data map[string]int64
}

// EventQuery selects events. Every field is optional; the zero query selects every event
// (up to DefaultLimit).
type EventQuery struct {
	Terminal string            // "" for any; else the events whose Terminal is this
	Meter    meterdata.MeterID // "" for any; else the events whose Meter is this
	Kind     string            // "" for any; else the events whose Kind is this
	// From (inclusive) and To (exclusive) bound At, as ReadingQuery's bound a reading's
	// time: to the nanosecond, in any time zone, a zero end open, To <= From selecting
	// nothing.
	From, To time.Time
	Limit    int // at most this many, newest first; 0 or less means DefaultLimit (10,000)
}

// EventStore keeps the event log.
type EventStore interface {
	// AppendEvents appends the events in one transaction: all of them or, on error (a
	// cancelled ctx included), none. Every event must pass Event.Validate, else the whole
	// call is refused with an error wrapping ErrInvalidEvent that names the event by its
	// index; at most MaxEventsPerCall per call. An empty list is a no-op. Among the events
	// of one call, IDs grow in the order given.
	AppendEvents(ctx context.Context, es []Event) error
	// Events returns the events matching q, newest first: by At descending, then ID
	// descending (of events appended together with one At, the last given comes first).
	// Times are UTC.
	Events(ctx context.Context, q EventQuery) ([]Event, error)
}

// Store is the whole contract a backend implements.
type Store interface {
	ReadingWriter
	ReadingReader
	ConflictReader
	MeterStore
	TerminalStore
	EventStore
	TerminalEventWriter
	CommandStore
	PlanStore
	// Close releases the backend's resources.
	Close() error
}
