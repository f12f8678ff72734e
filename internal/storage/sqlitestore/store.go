package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
	"gridmeter/internal/storage/batchplan"
)

// chunkRows is how many rows one multi-row statement carries (6 bind variables per reading
// row, far below SQLite's 32,766 limit; larger chunks did not measure faster).
const chunkRows = 250

// busyTimeout is how long a connection waits for another process's lock.
const busyTimeout = 10 * time.Second

// Store is a storage.Store on one SQLite database file.
type Store struct {
	w   *sql.DB // writer pool: one connection
	r   *sql.DB // reader pool: query_only connections
	now func() time.Time
}

var _ storage.Store = (*Store)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	now     func() time.Time
	readers int
}

// WithClock sets the clock used for arrival times (received_at, conflict At, LastSeen).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithReaders sets the size of the reader pool (default: max(4, GOMAXPROCS)).
func WithReaders(n int) Option { return func(o *options) { o.readers = n } }

// Open opens (creating it if needed) the database file at path and brings its schema up to
// date.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{now: time.Now, readers: max(4, runtime.GOMAXPROCS(0))}
	for _, opt := range opts {
		opt(&o)
	}
	if err := checkPath(path); err != nil {
		return nil, fmt.Errorf("sqlitestore: open %q: %w", path, err)
	}
	busy := fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds())
	// The writer: WAL, fsync at every commit, BEGIN IMMEDIATE for every transaction.
	wq := url.Values{"_pragma": {busy, "journal_mode(WAL)", "synchronous(FULL)"}, "_txlock": {"immediate"}}
	w, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %q: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w, now: o.now}
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlitestore: open %q: %w", path, err)
	}
	if err := migrate(ctx, w, s.now().UnixMilli()); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlitestore: open %q: migrate: %w", path, err)
	}

	// The readers: refuse to write, so a slip cannot bypass the writer's serialisation.
	rq := url.Values{"_pragma": {busy, "query_only(1)"}}
	r, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlitestore: open %q: reader pool: %w", path, err)
	}
	r.SetMaxOpenConns(o.readers)
	r.SetMaxIdleConns(o.readers)
	if err := r.PingContext(ctx); err != nil {
		_ = w.Close()
		_ = r.Close()
		return nil, fmt.Errorf("sqlitestore: open %q: reader pool: %w", path, err)
	}
	s.r = r
	return s, nil
}

// checkPath refuses what would not be one shared database file.
func checkPath(path string) error {
	switch {
	case path == "":
		return errors.New("empty path")
	case path == ":memory:" || strings.HasPrefix(path, "file:") || strings.Contains(path, "mode=memory"):
		return errors.New("want a plain file path: an in-memory or URI database is not shared by the writer and the readers")
	case strings.Contains(path, "?"):
		return errors.New("path contains '?', which the driver takes for the start of options")
	}
	return nil
}

// Close closes both pools; the last connection to close checkpoints the WAL.
func (s *Store) Close() error {
	errR := s.r.Close()
	errW := s.w.Close()
	if err := errors.Join(errR, errW); err != nil {
		return fmt.Errorf("sqlitestore: close: %w", err)
	}
	return nil
}

// nowMilli is the store clock in Unix ms.
func (s *Store) nowMilli() int64 { return s.now().UnixMilli() }

// StoreBatch implements storage.ReadingWriter.
func (s *Store) StoreBatch(ctx context.Context, b storage.Batch) (storage.BatchResult, error) {
	res, err := s.storeBatch(ctx, b)
	if err != nil {
		return storage.BatchResult{}, fmt.Errorf("sqlitestore: store batch from terminal %s (seq %d..%d): %w", b.Terminal, b.FirstSeq, b.LastSeq, err)
	}
	return res, nil
}

func (s *Store) storeBatch(ctx context.Context, b storage.Batch) (res storage.BatchResult, err error) {
	p, err := batchplan.New(b)
	if err != nil {
		return res, err
	}
	now := s.nowMilli()

	tx, err := s.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE
	if err != nil {
		return res, fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()

	var prevSeq int64
	switch err := tx.QueryRowContext(ctx, `SELECT last_seq FROM terminals WHERE id = ?`, b.Terminal).Scan(&prevSeq); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return res, fmt.Errorf("read terminal: %w", err)
	}
	gap := batchplan.Gap(prevSeq, b.FirstSeq)

	if res, err = storePlan(ctx, tx, p, meterdata.SameValues, b.Terminal, now); err != nil {
		return res, err
	}
	res.Gap = gap

	if _, err := tx.ExecContext(ctx, `
INSERT INTO terminals (id, last_seen, last_seq, seq_gaps, batches, readings, conflicts)
VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)
ON CONFLICT (id) DO UPDATE SET
	last_seen = max(coalesce(last_seen, excluded.last_seen), excluded.last_seen),
	last_seq  = max(last_seq, excluded.last_seq),
	seq_gaps  = seq_gaps + excluded.seq_gaps,
	batches   = batches + 1,
	readings  = readings + excluded.readings,
	conflicts = conflicts + excluded.conflicts`,
		b.Terminal, now, int64(b.LastSeq), int64(res.Gap), res.Inserted, res.Conflicts); err != nil {
		return res, fmt.Errorf("update terminal: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("commit: %w", err)
	}
	return res, nil
}

// storePlan creates the plan's meters, inserts its readings, judges the others with
// same, completes the readings to complete and logs the conflicts under source, inside tx:
// the part StoreBatch and StoreReadings share.
func storePlan(ctx context.Context, tx *sql.Tx, p batchplan.Plan, same func(stored, received meterdata.Reading) bool, source string, now int64) (storage.BatchResult, error) {
	if err := insertMeters(ctx, tx, p.Meters); err != nil {
		return storage.BatchResult{}, err
	}
	inserted, err := insertReadings(ctx, tx, p.Unique, now)
	if err != nil {
		return storage.BatchResult{}, err
	}
	// The one writer connection serialises write transactions: what lookup reads stays
	// current until commit, so nothing needs locking.
	out, err := p.JudgeWith(same, inserted, func(keys []meterdata.Key, into map[meterdata.Key]meterdata.Reading) error {
		return lookupReadings(ctx, tx, keys, into)
	}, nil)
	if err != nil {
		return storage.BatchResult{}, err
	}
	if err := updateReadings(ctx, tx, out.Completions); err != nil {
		return storage.BatchResult{}, err
	}
	if err := insertConflicts(ctx, tx, source, out.Conflicts, now); err != nil {
		return storage.BatchResult{}, err
	}
	return out.Result, nil
}

// StoreReadings implements storage.ReadingWriter.
func (s *Store) StoreReadings(ctx context.Context, source string, rs []meterdata.Reading) (storage.BatchResult, error) {
	res, err := s.storeReadings(ctx, source, rs)
	if err != nil {
		return storage.BatchResult{}, fmt.Errorf("sqlitestore: store %d readings from %.140q: %w", len(rs), source, err)
	}
	return res, nil
}

func (s *Store) storeReadings(ctx context.Context, source string, rs []meterdata.Reading) (res storage.BatchResult, err error) {
	p, err := batchplan.NewReadings(source, rs)
	if err != nil {
		return res, err
	}
	if len(rs) == 0 {
		return res, ctx.Err()
	}
	now := s.nowMilli()
	tx, err := s.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE
	if err != nil {
		return res, fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if res, err = storePlan(ctx, tx, p, batchplan.Covers, source, now); err != nil {
		return res, err
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("commit: %w", err)
	}
	return res, nil
}

// insertMeters creates the meters not yet known, from their ids; described meters are left alone.
func insertMeters(ctx context.Context, tx *sql.Tx, ms []meterdata.Meter) error {
	for start := 0; start < len(ms); start += chunkRows {
		chunk := ms[start:min(start+chunkRows, len(ms))]
		var q strings.Builder
		q.WriteString(`INSERT INTO meters (id, terminal, bus, address) VALUES `)
		args := make([]any, 0, 4*len(chunk))
		for i, m := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?,?,?,?)")
			args = append(args, string(m.ID), m.Terminal, m.Bus, m.Address)
		}
		q.WriteString(` ON CONFLICT (id) DO NOTHING`)
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("create meters %s..: %w", chunk[0].ID, err)
		}
	}
	return nil
}

// insertReadings inserts the rows whose key is free and returns the keys it inserted.
func insertReadings(ctx context.Context, tx *sql.Tx, rows []batchplan.Row, now int64) (map[meterdata.Key]struct{}, error) {
	inserted := make(map[meterdata.Key]struct{}, len(rows))
	for start := 0; start < len(rows); start += chunkRows {
		chunk := rows[start:min(start+chunkRows, len(rows))]
		var q strings.Builder
		q.Grow(64 + 14*len(chunk))
		q.WriteString(`INSERT INTO readings (meter_id, kind, ts, quality, vals, received_at) VALUES `)
		args := make([]any, 0, 6*len(chunk))
		for i, w := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?,?,?,?,?,?)")
			args = append(args, string(w.Key.Meter), string(w.Key.Kind), w.Key.Time, int64(w.Reading.Quality), w.Vals, now)
		}
		// RETURNING lists only the rows actually inserted, not those DO NOTHING skipped.
		q.WriteString(` ON CONFLICT (meter_id, kind, ts) DO NOTHING RETURNING meter_id, kind, ts`)
		if err := func() error {
			rs, err := tx.QueryContext(ctx, q.String(), args...)
			if err != nil {
				return err
			}
			defer rs.Close()
			for rs.Next() {
				var k meterdata.Key
				var meter, kind string
				if err := rs.Scan(&meter, &kind, &k.Time); err != nil {
					return err
				}
				k.Meter, k.Kind = meterdata.MeterID(meter), meterdata.Kind(kind)
				inserted[k] = struct{}{}
			}
			return rs.Err()
		}(); err != nil {
			return nil, fmt.Errorf("insert readings: %s: %w", batchplan.Culprit(chunk), err)
		}
	}
	return inserted, nil
}

// lookupReadings reads the stored readings under keys into into.
func lookupReadings(ctx context.Context, tx *sql.Tx, keys []meterdata.Key, into map[meterdata.Key]meterdata.Reading) error {
	for start := 0; start < len(keys); start += chunkRows {
		chunk := keys[start:min(start+chunkRows, len(keys))]
		var q strings.Builder
		q.WriteString(`SELECT meter_id, kind, ts, quality, vals FROM readings WHERE (meter_id, kind, ts) IN (VALUES `)
		args := make([]any, 0, 3*len(chunk))
		for i, k := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?,?,?)")
			args = append(args, string(k.Meter), string(k.Kind), k.Time)
		}
		q.WriteString(`)`)
		if err := func() error {
			rs, err := tx.QueryContext(ctx, q.String(), args...)
			if err != nil {
				return err
			}
			defer rs.Close()
			for rs.Next() {
				r, err := scanReading(rs)
				if err != nil {
					return err
				}
				into[r.Key()] = r
			}
			return rs.Err()
		}(); err != nil {
			return fmt.Errorf("look up stored readings of meter %s kind %s time %d..: %w", chunk[0].Meter, chunk[0].Kind, chunk[0].Time, err)
		}
	}
	return nil
}

// updateReadings writes completed readings over their stored rows (values and quality;
// received_at stays the first arrival's).
func updateReadings(ctx context.Context, tx *sql.Tx, rows []batchplan.Row) error {
	for start := 0; start < len(rows); start += chunkRows {
		chunk := rows[start:min(start+chunkRows, len(rows))]
		var q strings.Builder
		q.WriteString(`WITH c (meter_id, kind, ts, quality, vals) AS (VALUES `)
		args := make([]any, 0, 5*len(chunk))
		for i, w := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?,?,?,?,?)")
			args = append(args, string(w.Key.Meter), string(w.Key.Kind), w.Key.Time, int64(w.Reading.Quality), w.Vals)
		}
		q.WriteString(`) UPDATE readings SET quality = c.quality, vals = c.vals FROM c
WHERE readings.meter_id = c.meter_id AND readings.kind = c.kind AND readings.ts = c.ts`)
		res, err := tx.ExecContext(ctx, q.String(), args...)
		if err != nil {
			return fmt.Errorf("complete readings: %s: %w", batchplan.Culprit(chunk), err)
		}
		if n, err := res.RowsAffected(); err != nil || n != int64(len(chunk)) {
			return fmt.Errorf("complete readings: %s: %d rows updated (%v), want %d", batchplan.Culprit(chunk), n, err, len(chunk))
		}
	}
	return nil
}

func insertConflicts(ctx context.Context, tx *sql.Tx, terminal string, cs []batchplan.Conflict, now int64) error {
	for start := 0; start < len(cs); start += chunkRows {
		chunk := cs[start:min(start+chunkRows, len(cs))]
		var q strings.Builder
		q.WriteString(`INSERT INTO conflicts (meter_id, kind, ts, terminal, stored_quality, stored_vals, received_quality, received_vals, received_at) VALUES `)
		args := make([]any, 0, 9*len(chunk))
		for i, c := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?,?,?,?,?,?,?,?,?)")
			k := c.Received.Key
			args = append(args, string(k.Meter), string(k.Kind), k.Time, terminal,
				int64(c.Stored.Quality), c.StoredVals, int64(c.Received.Reading.Quality), c.Received.Vals, now)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("record conflict %s: %w", batchplan.Describe(chunk[0].Received.Reading), err)
		}
	}
	return nil
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// collect runs a query on db and scans every row it returns with scan.
func collect[T any](ctx context.Context, db *sql.DB, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rs, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []T
	for rs.Next() {
		v, err := scan(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rs.Err()
}

// scanReading scans meter_id, kind, ts, quality, vals.
func scanReading(sc scanner) (meterdata.Reading, error) {
	var meter, kind, vals string
	var ts, quality int64
	if err := sc.Scan(&meter, &kind, &ts, &quality, &vals); err != nil {
		return meterdata.Reading{}, err
	}
	return batchplan.DecodeReading(meter, kind, ts, meterdata.Quality(quality), vals)
}

// kindFilter returns the SQL condition and arguments selecting q.Kind, or every known kind
// for "": an IN list lets SQLite range-scan the primary key per kind rather than scan the meter.
func kindFilter(k meterdata.Kind) (string, []any) {
	if k != "" {
		return "kind = ?", []any{string(k)}
	}
	args := make([]any, len(meterdata.Kinds))
	for i, k := range meterdata.Kinds {
		args[i] = string(k)
	}
	return "kind IN (" + strings.TrimSuffix(strings.Repeat("?,", len(args)), ",") + ")", args
}

// Readings implements storage.ReadingReader.
func (s *Store) Readings(ctx context.Context, q storage.ReadingQuery) ([]meterdata.Reading, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = storage.DefaultLimit
	}
	from, to := batchplan.TimeBounds(q)
	cond, args := kindFilter(q.Kind)
	args = append([]any{string(q.Meter)}, args...)
	args = append(args, from, to, limit)
	out, err := collect(ctx, s.r, scanReading, `SELECT meter_id, kind, ts, quality, vals FROM readings
WHERE meter_id = ? AND `+cond+` AND ts >= ? AND ts < ? ORDER BY ts, kind LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: readings of meter %s kind %q: %w", q.Meter, q.Kind, err)
	}
	return out, nil
}

// LatestReading implements storage.ReadingReader.
func (s *Store) LatestReading(ctx context.Context, meter meterdata.MeterID, kind meterdata.Kind) (meterdata.Reading, error) {
	cond, args := kindFilter(kind)
	args = append([]any{string(meter)}, args...)
	r, err := scanReading(s.r.QueryRowContext(ctx, `SELECT meter_id, kind, ts, quality, vals FROM readings
WHERE meter_id = ? AND `+cond+` ORDER BY ts DESC, kind DESC LIMIT 1`, args...))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return meterdata.Reading{}, fmt.Errorf("sqlitestore: latest reading of meter %s kind %q: %w", meter, kind, storage.ErrNotFound)
	case err != nil:
		return meterdata.Reading{}, fmt.Errorf("sqlitestore: latest reading of meter %s kind %q: %w", meter, kind, err)
	}
	return r, nil
}

// CountReadings implements storage.ReadingReader.
func (s *Store) CountReadings(ctx context.Context, meter meterdata.MeterID) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM readings WHERE meter_id = ?`, string(meter)).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: count readings of meter %s: %w", meter, err)
	}
	return n, nil
}

// Conflicts implements storage.ConflictReader.
func (s *Store) Conflicts(ctx context.Context, meter meterdata.MeterID, limit int) ([]storage.Conflict, error) {
	if limit <= 0 {
		limit = storage.DefaultLimit
	}
	const cols = `SELECT meter_id, kind, ts, stored_quality, stored_vals, received_quality, received_vals, received_at FROM conflicts`
	var out []storage.Conflict
	var err error
	if meter == "" {
		out, err = collect(ctx, s.r, scanConflict, cols+` ORDER BY id DESC LIMIT ?`, limit)
	} else {
		out, err = collect(ctx, s.r, scanConflict, cols+` WHERE meter_id = ? ORDER BY id DESC LIMIT ?`, string(meter), limit)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: conflicts of meter %q: %w", meter, err)
	}
	return out, nil
}

// scanConflict scans meter_id, kind, ts, stored_quality, stored_vals, received_quality,
// received_vals, received_at.
func scanConflict(sc scanner) (storage.Conflict, error) {
	var m, kind, sVals, rVals string
	var ts, sQ, rQ, at int64
	if err := sc.Scan(&m, &kind, &ts, &sQ, &sVals, &rQ, &rVals, &at); err != nil {
		return storage.Conflict{}, err
	}
	return batchplan.DecodeConflict(m, kind, ts, meterdata.Quality(sQ), sVals, meterdata.Quality(rQ), rVals, at)
}

// UpsertMeters implements storage.MeterStore.
func (s *Store) UpsertMeters(ctx context.Context, ms []meterdata.Meter) (err error) {
	for _, m := range ms {
		if err := m.Validate(); err != nil {
			return fmt.Errorf("sqlitestore: upsert meters: %w", err)
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: upsert meters: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for _, m := range ms {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meters (id, terminal, bus, address, protocol, description)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET terminal = excluded.terminal, bus = excluded.bus, address = excluded.address,
	protocol = excluded.protocol, description = excluded.description`,
			string(m.ID), m.Terminal, m.Bus, m.Address, m.Protocol, m.Description); err != nil {
			return fmt.Errorf("sqlitestore: upsert meter %s: %w", m.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: upsert meters: commit: %w", err)
	}
	return nil
}

const meterCols = `SELECT id, terminal, bus, address, protocol, description FROM meters`

func scanMeter(sc scanner) (meterdata.Meter, error) {
	var m meterdata.Meter
	var id string
	err := sc.Scan(&id, &m.Terminal, &m.Bus, &m.Address, &m.Protocol, &m.Description)
	m.ID = meterdata.MeterID(id)
	return m, err
}

// Meters implements storage.MeterStore.
func (s *Store) Meters(ctx context.Context) ([]meterdata.Meter, error) {
	out, err := collect(ctx, s.r, scanMeter, meterCols+` ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: meters: %w", err)
	}
	return out, nil
}

// Meter implements storage.MeterStore.
func (s *Store) Meter(ctx context.Context, id meterdata.MeterID) (meterdata.Meter, error) {
	m, err := scanMeter(s.r.QueryRowContext(ctx, meterCols+` WHERE id = ?`, string(id)))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return meterdata.Meter{}, fmt.Errorf("sqlitestore: meter %s: %w", id, storage.ErrNotFound)
	case err != nil:
		return meterdata.Meter{}, fmt.Errorf("sqlitestore: meter %s: %w", id, err)
	}
	return m, nil
}

// UpdateTerminalStatus implements storage.TerminalStore.
func (s *Store) UpdateTerminalStatus(ctx context.Context, st storage.TerminalStatus) error {
	if err := meterdata.ValidateTerminalID(st.ID); err != nil {
		return fmt.Errorf("sqlitestore: update terminal status: %w", err)
	}
	at := st.At.UnixMilli()
	if st.At.IsZero() {
		at = s.nowMilli()
	}
	if _, err := s.w.ExecContext(ctx, `
INSERT INTO terminals (id, state, software, status_at, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)
ON CONFLICT (id) DO UPDATE SET
	state     = CASE WHEN status_at IS NULL OR excluded.status_at >= status_at THEN excluded.state ELSE state END,
	software  = CASE WHEN status_at IS NULL OR excluded.status_at >= status_at THEN excluded.software ELSE software END,
	status_at = max(coalesce(status_at, excluded.status_at), excluded.status_at),
	last_seen = max(coalesce(last_seen, excluded.last_seen), excluded.last_seen)`,
		st.ID, st.State, st.Software, at); err != nil {
		return fmt.Errorf("sqlitestore: update status of terminal %s: %w", st.ID, err)
	}
	return nil
}

const terminalCols = `SELECT id, state, software, last_seen, last_seq, seq_gaps, batches, readings, conflicts FROM terminals`

func scanTerminal(sc scanner) (storage.Terminal, error) {
	var t storage.Terminal
	var lastSeen sql.NullInt64
	var seq, gaps, batches, readings, conflicts int64
	if err := sc.Scan(&t.ID, &t.State, &t.Software, &lastSeen, &seq, &gaps, &batches, &readings, &conflicts); err != nil {
		return storage.Terminal{}, err
	}
	if lastSeen.Valid {
		t.LastSeen = batchplan.FromMilli(lastSeen.Int64)
	}
	t.LastSeq, t.SeqGaps, t.Batches, t.Readings, t.Conflicts =
		uint64(seq), uint64(gaps), uint64(batches), uint64(readings), uint64(conflicts)
	return t, nil
}

// Terminals implements storage.TerminalStore.
func (s *Store) Terminals(ctx context.Context) ([]storage.Terminal, error) {
	out, err := collect(ctx, s.r, scanTerminal, terminalCols+` ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: terminals: %w", err)
	}
	return out, nil
}

// Terminal implements storage.TerminalStore.
func (s *Store) Terminal(ctx context.Context, id string) (storage.Terminal, error) {
	t, err := scanTerminal(s.r.QueryRowContext(ctx, terminalCols+` WHERE id = ?`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storage.Terminal{}, fmt.Errorf("sqlitestore: terminal %s: %w", id, storage.ErrNotFound)
	case err != nil:
		return storage.Terminal{}, fmt.Errorf("sqlitestore: terminal %s: %w", id, err)
	}
	return t, nil
}
