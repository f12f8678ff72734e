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

// ErrNotFound is returned when a requested meter or terminal does not exist.
var ErrNotFound = errors.New("not found")

// Batch is one reading batch as a terminal sent it, with the terminal's sequence numbers.
type Batch struct {
	Terminal string
	FirstSeq uint64 // sequence number of the first reading in the batch (>= 1)
	LastSeq  uint64 // sequence number of the last reading (>= FirstSeq)
	Readings []meterdata.Reading
}

// BatchResult says what storing a batch did.
type BatchResult struct {
	Inserted   int    // readings stored for the first time
	Duplicates int    // readings whose key existed with the same values (no-op)
	Conflicts  int    // readings whose key existed with other values (kept in the conflict log)
	Gap        uint64 // sequence numbers skipped between the terminal's previous highest and FirstSeq
}

// ReadingWriter stores readings exactly once.
type ReadingWriter interface {
	// StoreBatch stores the batch's readings and advances the terminal's sequence bookkeeping
	// in one transaction: when it returns nil, everything is durable; on error, nothing is.
	// A reading whose key (meter, kind, time) exists with the same values is a duplicate and
	// changes nothing; with other values it is recorded as a conflict and the stored value is
	// kept. Meters not yet known are created from their ids (protocol "" until described).
	// The readings must already be valid (meterdata.Reading.Validate).
	StoreBatch(ctx context.Context, b Batch) (BatchResult, error)
}

// ReadingQuery selects readings of one meter.
type ReadingQuery struct {
	Meter meterdata.MeterID
	Kind  meterdata.Kind // "" for every kind
	From  time.Time      // inclusive
	To    time.Time      // exclusive
	Limit int            // at most this many, oldest first; 0 means the backend's default (10,000)
}

// ReadingReader reads stored readings.
type ReadingReader interface {
	// Readings returns the readings matching q in time order (then kind).
	Readings(ctx context.Context, q ReadingQuery) ([]meterdata.Reading, error)
	// LatestReading returns the newest reading of a meter and kind; ErrNotFound if none.
	LatestReading(ctx context.Context, meter meterdata.MeterID, kind meterdata.Kind) (meterdata.Reading, error)
	// CountReadings returns how many readings are stored for a meter (all kinds).
	CountReadings(ctx context.Context, meter meterdata.MeterID) (int, error)
}

// Conflict is a reading that arrived with the key of a stored reading but other values.
type Conflict struct {
	Stored   meterdata.Reading
	Received meterdata.Reading
	At       time.Time // when the conflicting reading arrived
}

// ConflictReader lists recorded conflicts.
type ConflictReader interface {
	// Conflicts returns the conflicts of a meter ("" for all), newest first, at most limit.
	Conflicts(ctx context.Context, meter meterdata.MeterID, limit int) ([]Conflict, error)
}

// MeterStore keeps meter descriptors.
type MeterStore interface {
	// UpsertMeters creates or updates the descriptors (matched by ID).
	UpsertMeters(ctx context.Context, ms []meterdata.Meter) error
	// Meters returns every meter ordered by id.
	Meters(ctx context.Context) ([]meterdata.Meter, error)
	// Meter returns one meter; ErrNotFound if unknown.
	Meter(ctx context.Context, id meterdata.MeterID) (meterdata.Meter, error)
}

// Terminal is what the head-end knows of a terminal.
type Terminal struct {
	ID        string
	State     string    // "online", "offline", or "" if never reported
	Software  string    // software version the terminal reported
	LastSeen  time.Time // last status or batch received (UTC); zero if never
	LastSeq   uint64    // highest reading sequence number stored
	SeqGaps   uint64    // sequence numbers found missing so far
	Batches   uint64    // batches stored
	Readings  uint64    // readings inserted (not counting duplicates)
	Conflicts uint64    // conflicts recorded
}

// TerminalStatus is a terminal's retained status message as received.
type TerminalStatus struct {
	ID       string
	State    string
	Software string
	At       time.Time
}

// TerminalStore keeps terminals.
type TerminalStore interface {
	// UpdateTerminalStatus records a status message (creating the terminal if new).
	UpdateTerminalStatus(ctx context.Context, s TerminalStatus) error
	// Terminals returns every terminal ordered by id.
	Terminals(ctx context.Context) ([]Terminal, error)
	// Terminal returns one terminal; ErrNotFound if unknown.
	Terminal(ctx context.Context, id string) (Terminal, error)
}

// Store is the whole contract a backend implements.
type Store interface {
	ReadingWriter
	ReadingReader
	ConflictReader
	MeterStore
	TerminalStore
	// Close releases the backend's resources.
	Close() error
}
