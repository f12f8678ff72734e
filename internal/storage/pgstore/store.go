package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
	"gridmeter/internal/storage/batchplan"
)

// defaultCopyThreshold is the batch size from which StoreBatch goes through COPY. Measured
// here (BenchmarkStoreBatch and batches of 50 to 5,000 readings), the single unnest INSERT is
// as fast or faster up to thousands of readings, the staging table costing more than COPY
// saves; COPY's gain is to stream a large batch instead of building it into one message.
const defaultCopyThreshold = 2048

// commitTimeout bounds the commit, which is not cancelled with the caller's context (see
// storeBatch).
const commitTimeout = 30 * time.Second

// maxAttempts bounds the retries of a StoreBatch transaction after a deadlock or
// serialization failure.
const maxAttempts = 3

// Store is a storage.Store on a PostgreSQL database.
type Store struct {
	pool          *pgxpool.Pool
	now           func() time.Time
	copyThreshold int
	hypertable    bool
}

var _ storage.Store = (*Store)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	schema        string
	now           func() time.Time
	copyThreshold int
	maxConns      int32
}

// WithSchema keeps every table in the named schema, creating it if needed; the pool's
// connections get it as their search_path. Without it the tables go to the connection's
// current schema (normally public).
func WithSchema(name string) Option { return func(o *options) { o.schema = name } }

// WithClock sets the clock used for arrival times (received_at, conflict At, LastSeen).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithCopyThreshold makes batches of at least n distinct readings go through COPY and a
// staging table (default 2,048); 1 sends every batch that way.
func WithCopyThreshold(n int) Option { return func(o *options) { o.copyThreshold = max(n, 1) } }

// WithMaxConns sets the pool size (default: pgxpool's, the greater of 4 and the CPU count,
// unless the DSN sets pool_max_conns).
func WithMaxConns(n int32) Option { return func(o *options) { o.maxConns = n } }

// Open connects to the database named by dsn (a libpq URL or key=value string; pgxpool
// options such as pool_max_conns are accepted) and brings the schema up to date.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{now: time.Now, copyThreshold: defaultCopyThreshold}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The DSN may hold a password: name neither it nor the parse error's echo of it.
		return nil, errors.New("pgstore: open: cannot parse the DSN")
	}
	where := fmt.Sprintf("%s@%s:%d/%s", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	if o.schema != "" {
		if len(o.schema) > 63 {
			return nil, fmt.Errorf("pgstore: open %s: schema name %q longer than 63 bytes", where, o.schema)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{o.schema}.Sanitize()
		where += " schema " + o.schema
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: open %s: connect: %w", where, err)
	}
	s := &Store{pool: pool, now: o.now, copyThreshold: o.copyThreshold}
	if err := migrate(ctx, pool, o.schema, s.nowMilli()); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: open %s: migrate: %w", where, err)
	}
	if s.hypertable, err = isHypertable(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: open %s: look for a hypertable: %w", where, err)
	}
	return s, nil
}

// Hypertable reports whether readings is a TimescaleDB hypertable.
func (s *Store) Hypertable() bool { return s.hypertable }

// Close closes the pool, waiting for connections in use to be released.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

func (s *Store) nowMilli() int64 { return s.now().UnixMilli() }

// StoreBatch implements storage.ReadingWriter.
func (s *Store) StoreBatch(ctx context.Context, b storage.Batch) (storage.BatchResult, error) {
	fail := func(err error) (storage.BatchResult, error) {
		return storage.BatchResult{}, fmt.Errorf("pgstore: store batch from terminal %s (seq %d..%d): %w", b.Terminal, b.FirstSeq, b.LastSeq, err)
	}
	p, err := batchplan.New(b)
	if err != nil {
		return fail(err)
	}
	now := s.nowMilli()
	for attempt := 1; ; attempt++ {
		res, err := s.storeBatch(ctx, b, p, now)
		if err == nil {
			return res, nil
		}
		if attempt < maxAttempts && retryable(err) && ctx.Err() == nil {
			continue
		}
		if attempt > 1 {
			err = fmt.Errorf("attempt %d: %w", attempt, err)
		}
		return fail(err)
	}
}

// retryable reports whether a transaction failed only because of concurrent ones.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001") // deadlock_detected, serialization_failure
}

func (s *Store) storeBatch(ctx context.Context, b storage.Batch, p batchplan.Plan, now int64) (res storage.BatchResult, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
			defer cancel()
			_ = tx.Rollback(rctx) // if it fails, the pool discards the connection
		}
	}()

	// Lock the terminal first, then create the batch's meters, in id order.
	var prevSeq int64
	var first pgx.Batch
	first.Queue(`INSERT INTO terminals (id) VALUES ($1) ON CONFLICT (id) DO NOTHING`, b.Terminal)
	first.Queue(`SELECT last_seq FROM terminals WHERE id = $1 FOR UPDATE`, b.Terminal).QueryRow(func(row pgx.Row) error {
		return row.Scan(&prevSeq)
	})
	queueMeters(&first, p.Meters)
	if err := tx.SendBatch(ctx, &first).Close(); err != nil {
		return res, fmt.Errorf("lock terminal, create meters: %w", err)
	}
	gap := batchplan.Gap(prevSeq, b.FirstSeq)

	inserted, err := s.insertReadings(ctx, tx, p.Unique, now)
	if err != nil {
		return res, err
	}
	out, err := p.Judge(inserted, lookup(ctx, tx, false), lookup(ctx, tx, true))
	if err != nil {
		return res, err
	}
	res = out.Result
	res.Gap = gap

	var last pgx.Batch
	queueCompletions(&last, out.Completions)
	if len(out.Conflicts) > 0 {
		queueConflicts(&last, b.Terminal, out.Conflicts, now)
	}
	last.Queue(`UPDATE terminals SET
	last_seen = GREATEST(last_seen, $2),
	last_seq  = GREATEST(last_seq, $3),
	seq_gaps  = seq_gaps + $4,
	batches   = batches + 1,
	readings  = readings + $5,
	conflicts = conflicts + $6
WHERE id = $1`, b.Terminal, now, int64(b.LastSeq), int64(res.Gap), res.Inserted, res.Conflicts)
	if err := tx.SendBatch(ctx, &last).Close(); err != nil {
		return res, fmt.Errorf("complete readings, record conflicts, update terminal: %w", err)
	}
	if err := commit(ctx, tx); err != nil {
		return res, err
	}
	return res, nil
}

// commit commits tx. Once the COMMIT is sent, cancelling it could leave it done on the
// server yet reported as failed; a cancelled caller is therefore turned away before it,
// not during it.
func commit(ctx context.Context, tx pgx.Tx) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("before commit: %w", err)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if err := tx.Commit(cctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// rollback rolls tx back even when ctx is cancelled (within commitTimeout); after a commit
// it does nothing. If it fails, the pool discards the connection.
func rollback(ctx context.Context, tx pgx.Tx) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	_ = tx.Rollback(rctx)
}

// queueMeters queues the creation of the meters not yet known, from their ids, in id
// order (the plan's order), so that concurrent transactions take the locks in one order.
func queueMeters(bt *pgx.Batch, ms []meterdata.Meter) {
	if len(ms) == 0 {
		return
	}
	ids, terms, buses, addrs := make([]string, len(ms)), make([]string, len(ms)), make([]string, len(ms)), make([]string, len(ms))
	for i, m := range ms {
		ids[i], terms[i], buses[i], addrs[i] = string(m.ID), m.Terminal, m.Bus, m.Address
	}
	bt.Queue(`INSERT INTO meters (id, terminal, bus, address)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) ON CONFLICT (id) DO NOTHING`, ids, terms, buses, addrs)
}

// StoreReadings implements storage.ReadingWriter.
func (s *Store) StoreReadings(ctx context.Context, source string, rs []meterdata.Reading) (storage.BatchResult, error) {
	fail := func(err error) (storage.BatchResult, error) {
		return storage.BatchResult{}, fmt.Errorf("pgstore: store %d readings from %.140q: %w", len(rs), source, err)
	}
	p, err := batchplan.NewReadings(source, rs)
	if err != nil {
		return fail(err)
	}
	if len(rs) == 0 {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		return storage.BatchResult{}, nil
	}
	now := s.nowMilli()
	for attempt := 1; ; attempt++ {
		res, err := s.storeReadings(ctx, source, p, now)
		if err == nil {
			return res, nil
		}
		if attempt < maxAttempts && retryable(err) && ctx.Err() == nil {
			continue
		}
		if attempt > 1 {
			err = fmt.Errorf("attempt %d: %w", attempt, err)
		}
		return fail(err)
	}
}

func (s *Store) storeReadings(ctx context.Context, source string, p batchplan.Plan, now int64) (res storage.BatchResult, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
			defer cancel()
			_ = tx.Rollback(rctx)
		}
	}()
	var first pgx.Batch
	queueMeters(&first, p.Meters)
	if err := tx.SendBatch(ctx, &first).Close(); err != nil {
		return res, fmt.Errorf("create meters: %w", err)
	}
	inserted, err := s.insertReadings(ctx, tx, p.Unique, now)
	if err != nil {
		return res, err
	}
	out, err := p.JudgeWith(batchplan.Covers, inserted, lookup(ctx, tx, false), lookup(ctx, tx, true))
	if err != nil {
		return res, err
	}
	res = out.Result
	if len(out.Completions) > 0 || len(out.Conflicts) > 0 {
		var last pgx.Batch
		queueCompletions(&last, out.Completions)
		if len(out.Conflicts) > 0 {
			queueConflicts(&last, source, out.Conflicts, now)
		}
		if err := tx.SendBatch(ctx, &last).Close(); err != nil {
			return res, fmt.Errorf("complete readings, record conflicts: %w", err)
		}
	}
	if err := commit(ctx, tx); err != nil {
		return res, err
	}
	return res, nil
}

// insertReadings inserts the rows whose key is free, in the order given (key order), and
// returns the keys it inserted.
func (s *Store) insertReadings(ctx context.Context, tx pgx.Tx, rows []batchplan.Row, now int64) (map[meterdata.Key]struct{}, error) {
	inserted := make(map[meterdata.Key]struct{}, len(rows))
	if len(rows) == 0 {
		return inserted, nil
	}
	var rs pgx.Rows
	var err error
	if len(rows) >= s.copyThreshold {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE gridmeter_staging (
	ord int NOT NULL, meter_id text NOT NULL, kind text NOT NULL, ts bigint NOT NULL, quality smallint NOT NULL, vals text NOT NULL
) ON COMMIT DROP`); err != nil {
			return nil, fmt.Errorf("create staging table: %w", err)
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"gridmeter_staging"},
			[]string{"ord", "meter_id", "kind", "ts", "quality", "vals"},
			pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
				w := rows[i]
				return []any{int32(i), string(w.Key.Meter), string(w.Key.Kind), w.Key.Time, int16(w.Reading.Quality), w.Vals}, nil
			}))
		if err != nil {
			return nil, fmt.Errorf("copy %d readings to the staging table: %w", len(rows), err)
		}
		rs, err = tx.Query(ctx, `INSERT INTO readings (meter_id, kind, ts, quality, vals, received_at)
SELECT meter_id, kind, ts, quality, vals::jsonb, $1 FROM gridmeter_staging ORDER BY ord
ON CONFLICT (meter_id, kind, ts) DO NOTHING RETURNING meter_id, kind, ts`, now)
	} else {
		meters, kinds, tss, quals, vals := make([]string, len(rows)), make([]string, len(rows)), make([]int64, len(rows)), make([]int16, len(rows)), make([]string, len(rows))
		for i, w := range rows {
			meters[i], kinds[i], tss[i], quals[i], vals[i] = string(w.Key.Meter), string(w.Key.Kind), w.Key.Time, int16(w.Reading.Quality), w.Vals
		}
		rs, err = tx.Query(ctx, `INSERT INTO readings (meter_id, kind, ts, quality, vals, received_at)
SELECT m, k, t, q, v::jsonb, $6 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::smallint[], $5::text[]) AS u(m, k, t, q, v)
ON CONFLICT (meter_id, kind, ts) DO NOTHING RETURNING meter_id, kind, ts`, meters, kinds, tss, quals, vals, now)
	}
	if err == nil {
		var k meterdata.Key
		var meter, kind string
		_, err = pgx.ForEachRow(rs, []any{&meter, &kind, &k.Time}, func() error {
			k.Meter, k.Kind = meterdata.MeterID(meter), meterdata.Kind(kind)
			inserted[k] = struct{}{}
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("insert readings: %s: %w", batchplan.Culprit(rows), err)
	}
	return inserted, nil
}

// lookup returns a batchplan.Lookup reading the stored readings in tx; with lock, it
// locks their rows (FOR UPDATE, in key order, so that concurrent transactions take the
// locks in one order) and reads their latest committed version.
func lookup(ctx context.Context, tx pgx.Tx, lock bool) batchplan.Lookup {
	return func(keys []meterdata.Key, into map[meterdata.Key]meterdata.Reading) error {
		return lookupReadings(ctx, tx, keys, into, lock)
	}
}

// lookupReadings reads the stored readings under keys into into, locking them if lock.
func lookupReadings(ctx context.Context, tx pgx.Tx, keys []meterdata.Key, into map[meterdata.Key]meterdata.Reading, lock bool) error {
	if len(keys) == 0 {
		return nil
	}
	meters, kinds, tss := make([]string, len(keys)), make([]string, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		meters[i], kinds[i], tss[i] = string(k.Meter), string(k.Kind), k.Time
	}
	q := `SELECT r.meter_id, r.kind, r.ts, r.quality, r.vals::text
FROM unnest($1::text[], $2::text[], $3::bigint[]) AS k(meter_id, kind, ts) JOIN readings r USING (meter_id, kind, ts)`
	if lock {
		// The rows are locked as they leave the sort, hence in key order.
		q += ` ORDER BY r.meter_id, r.kind, r.ts FOR UPDATE OF r`
	}
	rs, err := tx.Query(ctx, q, meters, kinds, tss)
	if err == nil {
		err = forEachReading(rs, func(r meterdata.Reading) { into[r.Key()] = r })
	}
	if err != nil {
		what := "look up"
		if lock {
			what = "lock"
		}
		return fmt.Errorf("%s %d stored readings from meter %s kind %s: %w", what, len(keys), keys[0].Meter, keys[0].Kind, err)
	}
	return nil
}

// queueCompletions queues the update of completed readings over their stored rows, which
// the transaction inserted or locked (values and quality; received_at stays the first
// arrival's), checking that every one was there.
func queueCompletions(bt *pgx.Batch, rows []batchplan.Row) {
	n := len(rows)
	if n == 0 {
		return
	}
	meters, kinds, tss, quals, vals := make([]string, n), make([]string, n), make([]int64, n), make([]int16, n), make([]string, n)
	for i, w := range rows {
		meters[i], kinds[i], tss[i], quals[i], vals[i] = string(w.Key.Meter), string(w.Key.Kind), w.Key.Time, int16(w.Reading.Quality), w.Vals
	}
	bt.Queue(`UPDATE readings r SET quality = u.q, vals = u.v::jsonb
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::smallint[], $5::text[]) AS u(m, k, t, q, v)
WHERE r.meter_id = u.m AND r.kind = u.k AND r.ts = u.t`, meters, kinds, tss, quals, vals).Exec(func(ct pgconn.CommandTag) error {
		if ct.RowsAffected() != int64(n) {
			return fmt.Errorf("complete readings: %s: %d rows updated, want %d", batchplan.Culprit(rows), ct.RowsAffected(), n)
		}
		return nil
	})
}

func queueConflicts(bt *pgx.Batch, terminal string, cs []batchplan.Conflict, now int64) {
	n := len(cs)
	meters, kinds, tss := make([]string, n), make([]string, n), make([]int64, n)
	sq, sv, rq, rv := make([]int16, n), make([]string, n), make([]int16, n), make([]string, n)
	for i, c := range cs {
		k := c.Received.Key
		meters[i], kinds[i], tss[i] = string(k.Meter), string(k.Kind), k.Time
		sq[i], sv[i], rq[i], rv[i] = int16(c.Stored.Quality), c.StoredVals, int16(c.Received.Reading.Quality), c.Received.Vals
	}
	bt.Queue(`INSERT INTO conflicts (meter_id, kind, ts, terminal, stored_quality, stored_vals, received_quality, received_vals, received_at)
SELECT m, k, t, $8, sq, sv::jsonb, rq, rv::jsonb, $9
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::smallint[], $5::text[], $6::smallint[], $7::text[]) AS u(m, k, t, sq, sv, rq, rv)`,
		meters, kinds, tss, sq, sv, rq, rv, terminal, now)
}

// forEachReading scans rows of meter_id, kind, ts, quality, vals::text.
func forEachReading(rs pgx.Rows, fn func(meterdata.Reading)) error {
	var meter, kind, vals string
	var ts int64
	var quality int16
	_, err := pgx.ForEachRow(rs, []any{&meter, &kind, &ts, &quality, &vals}, func() error {
		r, err := batchplan.DecodeReading(meter, kind, ts, meterdata.Quality(quality), vals)
		if err != nil {
			return err
		}
		fn(r)
		return nil
	})
	return err
}

// kinds returns the kinds a query selects: k, or every known kind for "" (an = ANY list
// lets PostgreSQL range-scan the primary key per kind).
func kinds(k meterdata.Kind) []string {
	if k != "" {
		return []string{string(k)}
	}
	out := make([]string, len(meterdata.Kinds))
	for i, k := range meterdata.Kinds {
		out[i] = string(k)
	}
	return out
}

// Readings implements storage.ReadingReader.
func (s *Store) Readings(ctx context.Context, q storage.ReadingQuery) ([]meterdata.Reading, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = storage.DefaultLimit
	}
	from, to := batchplan.TimeBounds(q)
	// With one kind the primary key's order is the wanted order.
	order := `ts`
	if q.Kind == "" {
		order = `ts, kind`
	}
	rs, err := s.pool.Query(ctx, `SELECT meter_id, kind, ts, quality, vals::text FROM readings
WHERE meter_id = $1 AND kind = ANY($2) AND ts >= $3 AND ts < $4 ORDER BY `+order+` LIMIT $5`,
		string(q.Meter), kinds(q.Kind), from, to, limit)
	var out []meterdata.Reading
	if err == nil {
		err = forEachReading(rs, func(r meterdata.Reading) { out = append(out, r) })
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: readings of meter %s kind %q: %w", q.Meter, q.Kind, err)
	}
	return out, nil
}

// LatestReading implements storage.ReadingReader.
func (s *Store) LatestReading(ctx context.Context, meter meterdata.MeterID, kind meterdata.Kind) (meterdata.Reading, error) {
	rs, err := s.pool.Query(ctx, `SELECT meter_id, kind, ts, quality, vals::text FROM readings
WHERE meter_id = $1 AND kind = ANY($2) ORDER BY ts DESC, kind DESC LIMIT 1`, string(meter), kinds(kind))
	var out []meterdata.Reading
	if err == nil {
		err = forEachReading(rs, func(r meterdata.Reading) { out = append(out, r) })
	}
	switch {
	case err != nil:
		return meterdata.Reading{}, fmt.Errorf("pgstore: latest reading of meter %s kind %q: %w", meter, kind, err)
	case len(out) == 0:
		return meterdata.Reading{}, fmt.Errorf("pgstore: latest reading of meter %s kind %q: %w", meter, kind, storage.ErrNotFound)
	}
	return out[0], nil
}

// CountReadings implements storage.ReadingReader.
func (s *Store) CountReadings(ctx context.Context, meter meterdata.MeterID) (int, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM readings WHERE meter_id = $1`, string(meter)).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: count readings of meter %s: %w", meter, err)
	}
	return int(n), nil
}

// Conflicts implements storage.ConflictReader.
func (s *Store) Conflicts(ctx context.Context, meter meterdata.MeterID, limit int) ([]storage.Conflict, error) {
	if limit <= 0 {
		limit = storage.DefaultLimit
	}
	const cols = `SELECT meter_id, kind, ts, stored_quality, stored_vals::text, received_quality, received_vals::text, received_at FROM conflicts`
	var rs pgx.Rows
	var err error
	if meter == "" {
		rs, err = s.pool.Query(ctx, cols+` ORDER BY id DESC LIMIT $1`, limit)
	} else {
		rs, err = s.pool.Query(ctx, cols+` WHERE meter_id = $1 ORDER BY id DESC LIMIT $2`, string(meter), limit)
	}
	var out []storage.Conflict
	if err == nil {
		var m, kind, sVals, rVals string
		var ts, at int64
		var sQ, rQ int16
		_, err = pgx.ForEachRow(rs, []any{&m, &kind, &ts, &sQ, &sVals, &rQ, &rVals, &at}, func() error {
			c, err := batchplan.DecodeConflict(m, kind, ts, meterdata.Quality(sQ), sVals, meterdata.Quality(rQ), rVals, at)
			if err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: conflicts of meter %q: %w", meter, err)
	}
	return out, nil
}

// UpsertMeters implements storage.MeterStore.
func (s *Store) UpsertMeters(ctx context.Context, ms []meterdata.Meter) error {
	for _, m := range ms {
		if err := m.Validate(); err != nil {
			return fmt.Errorf("pgstore: upsert meters: %w", err)
		}
	}
	if len(ms) == 0 {
		return nil
	}
	// In id order, as StoreBatch creates meters, so the two cannot deadlock; stable, so that
	// of two descriptors with one id the later still wins.
	sorted := slices.Clone(ms)
	slices.SortStableFunc(sorted, func(a, b meterdata.Meter) int { return strings.Compare(string(a.ID), string(b.ID)) })
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var bt pgx.Batch
		for _, m := range sorted {
			bt.Queue(`INSERT INTO meters (id, terminal, bus, address, protocol, description) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO UPDATE SET terminal = EXCLUDED.terminal, bus = EXCLUDED.bus, address = EXCLUDED.address,
	protocol = EXCLUDED.protocol, description = EXCLUDED.description`,
				string(m.ID), m.Terminal, m.Bus, m.Address, m.Protocol, m.Description)
		}
		return tx.SendBatch(ctx, &bt).Close()
	})
	if err != nil {
		return fmt.Errorf("pgstore: upsert %d meters from %s: %w", len(ms), ms[0].ID, err)
	}
	return nil
}

const meterCols = `SELECT id, terminal, bus, address, protocol, description FROM meters`

func scanMeter(row pgx.CollectableRow) (meterdata.Meter, error) {
	var m meterdata.Meter
	var id string
	err := row.Scan(&id, &m.Terminal, &m.Bus, &m.Address, &m.Protocol, &m.Description)
	m.ID = meterdata.MeterID(id)
	return m, err
}

// Meters implements storage.MeterStore.
func (s *Store) Meters(ctx context.Context) ([]meterdata.Meter, error) {
	return queryAll(ctx, s, "meters", scanMeter, meterCols+` ORDER BY id`)
}

// Meter implements storage.MeterStore.
func (s *Store) Meter(ctx context.Context, id meterdata.MeterID) (meterdata.Meter, error) {
	return queryOne(ctx, s, "meter "+string(id), scanMeter, meterCols+` WHERE id = $1`, string(id))
}

// queryAll runs a query and scans every row; what names it in errors.
func queryAll[T any](ctx context.Context, s *Store, what string, scan pgx.RowToFunc[T], sql string, args ...any) ([]T, error) {
	rs, err := s.pool.Query(ctx, sql, args...)
	var out []T
	if err == nil {
		out, err = pgx.CollectRows(rs, scan)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: %s: %w", what, err)
	}
	return out, nil
}

// queryOne runs a query that selects one row by key; no row is storage.ErrNotFound.
func queryOne[T any](ctx context.Context, s *Store, what string, scan pgx.RowToFunc[T], sql string, args ...any) (T, error) {
	rs, err := s.pool.Query(ctx, sql, args...)
	var v T
	if err == nil {
		v, err = pgx.CollectExactlyOneRow(rs, scan)
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		var zero T
		return zero, fmt.Errorf("pgstore: %s: %w", what, storage.ErrNotFound)
	case err != nil:
		var zero T
		return zero, fmt.Errorf("pgstore: %s: %w", what, err)
	}
	return v, nil
}

// UpdateTerminalStatus implements storage.TerminalStore.
func (s *Store) UpdateTerminalStatus(ctx context.Context, st storage.TerminalStatus) error {
	if err := meterdata.ValidateTerminalID(st.ID); err != nil {
		return fmt.Errorf("pgstore: update terminal status: %w", err)
	}
	at := st.At.UnixMilli()
	if st.At.IsZero() {
		at = s.nowMilli()
	}
	if _, err := s.pool.Exec(ctx, `
INSERT INTO terminals AS t (id, state, software, status_at, last_seen) VALUES ($1, $2, $3, $4, $4)
ON CONFLICT (id) DO UPDATE SET
	state     = CASE WHEN t.status_at IS NULL OR EXCLUDED.status_at >= t.status_at THEN EXCLUDED.state ELSE t.state END,
	software  = CASE WHEN t.status_at IS NULL OR EXCLUDED.status_at >= t.status_at THEN EXCLUDED.software ELSE t.software END,
	status_at = GREATEST(t.status_at, EXCLUDED.status_at),
	last_seen = GREATEST(t.last_seen, EXCLUDED.last_seen)`,
		st.ID, st.State, st.Software, at); err != nil {
		return fmt.Errorf("pgstore: update status of terminal %s: %w", st.ID, err)
	}
	return nil
}

const terminalCols = `SELECT id, state, software, last_seen, last_seq, seq_gaps, batches, readings, conflicts FROM terminals`

func scanTerminal(row pgx.CollectableRow) (storage.Terminal, error) {
	var t storage.Terminal
	var lastSeen *int64
	var seq, gaps, batches, readings, conflicts int64
	if err := row.Scan(&t.ID, &t.State, &t.Software, &lastSeen, &seq, &gaps, &batches, &readings, &conflicts); err != nil {
		return storage.Terminal{}, err
	}
	if lastSeen != nil {
		t.LastSeen = batchplan.FromMilli(*lastSeen)
	}
	t.LastSeq, t.SeqGaps, t.Batches, t.Readings, t.Conflicts =
		uint64(seq), uint64(gaps), uint64(batches), uint64(readings), uint64(conflicts)
	return t, nil
}

// Terminals implements storage.TerminalStore.
func (s *Store) Terminals(ctx context.Context) ([]storage.Terminal, error) {
	return queryAll(ctx, s, "terminals", scanTerminal, terminalCols+` ORDER BY id`)
}

// Terminal implements storage.TerminalStore.
func (s *Store) Terminal(ctx context.Context, id string) (storage.Terminal, error) {
	return queryOne(ctx, s, "terminal "+id, scanTerminal, terminalCols+` WHERE id = $1`, id)
}
