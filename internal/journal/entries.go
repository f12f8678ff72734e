package journal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"gridmeter/internal/meterdata"
)

// Entry is one journaled reading.
type Entry struct {
	Seq      uint64            // per-terminal sequence number, from 1, never reused
	Reading  meterdata.Reading // normalised: time in UTC, millisecond precision
	Appended time.Time         // when Append stored it (journal clock, UTC, milliseconds)
}

type lastKey struct {
	meter meterdata.MeterID
	kind  meterdata.Kind
}

// Append makes the readings durable in one fsynced transaction and returns the appended
// ones with their sequence numbers, in order. A reading whose key (meter, kind, time) is
// already journaled, or repeats an earlier reading of the batch, is not appended and gets
// no sequence number: it is counted in skipped (the first journaled value wins, whatever
// the values of the later one). Every reading must pass meterdata.Reading.Validate; if one
// does not, the error wraps ErrInvalidReading, names the reading's position, meter and kind,
// and nothing of the batch is appended. The returned readings are normalised copies that
// share their Values maps with rs.
//
// When Append returns nil, the appended entries survive a process kill or power loss.
// ctx bounds only the wait for the journal's connection: once the transaction has begun it
// runs to its end, so an error means nothing was appended (an I/O error on the commit
// itself aside). Retrying a batch is always safe: journaled keys are skipped.
func (j *Journal) Append(ctx context.Context, rs []meterdata.Reading) (appended []Entry, skipped int, err error) {
	if len(rs) == 0 {
		if j.closed.Load() {
			return nil, 0, ErrClosed
		}
		return nil, 0, nil
	}
	norm := make([]meterdata.Reading, len(rs))
	vals := make([]string, len(rs))
	for i, r := range rs {
		if err := r.Validate(); err != nil {
			return nil, 0, fmt.Errorf("journal: append: reading %d of %d (meter %q kind %q): %w: %w",
				i+1, len(rs), string(r.Meter), string(r.Kind), ErrInvalidReading, err)
		}
		norm[i] = r.Normalize()
		if vals[i], err = meterdata.EncodeValues(r.Values); err != nil {
			return nil, 0, fmt.Errorf("journal: append: reading %d (meter %q kind %q): %w", i, r.Meter, r.Kind, err)
		}
	}
	now := j.opt.Now().UTC().Truncate(time.Millisecond)
	nowMs := now.UnixMilli()

	err = j.write(ctx, "append", func(ctx context.Context, tx *sql.Tx) error {
		appended = appended[:0]
		skipped = 0
		var last int64
		if err := tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE name = 'last_seq'").Scan(&last); err != nil {
			return err
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO entry (seq, meter, kind, t, quality, vals, appended)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (meter, kind, t) DO NOTHING`)
		if err != nil {
			return err
		}
		defer ins.Close()
		newest := map[lastKey]int64{}
		for i, r := range norm {
			t := r.Time.UnixMilli()
			res, err := ins.ExecContext(ctx, last+1, string(r.Meter), string(r.Kind), t, int64(r.Quality), vals[i], nowMs)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 0 {
				skipped++
				continue
			}
			last++
			appended = append(appended, Entry{Seq: uint64(last), Reading: r, Appended: now})
			k := lastKey{r.Meter, r.Kind}
			if old, ok := newest[k]; !ok || t > old {
				newest[k] = t
			}
		}
		if len(appended) == 0 {
			return nil
		}
		for k, t := range newest {
			if _, err := tx.ExecContext(ctx, `INSERT INTO last_time (meter, kind, t) VALUES (?, ?, ?)
				ON CONFLICT (meter, kind) DO UPDATE SET t = excluded.t WHERE excluded.t > last_time.t`,
				string(k.meter), string(k.kind), t); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, "UPDATE meta SET value = ? WHERE name = 'last_seq'", last)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return appended, skipped, nil
}

// Pending returns up to limit (> 0) unacknowledged entries with Seq > after, in Seq order.
func (j *Journal) Pending(ctx context.Context, after uint64, limit int) ([]Entry, error) {
	if j.closed.Load() {
		return nil, ErrClosed
	}
	if limit <= 0 {
		return nil, fmt.Errorf("journal: pending: limit %d: want > 0", limit)
	}
	if after >= math.MaxInt64 {
		return nil, nil
	}
	return j.query(ctx, "pending", `SELECT seq, meter, kind, t, quality, vals, appended
		FROM entry WHERE acked = 0 AND seq > ? ORDER BY seq LIMIT ?`, int64(after), limit)
}

// Entries returns up to limit (> 0) entries with Seq > after, acknowledged or not, in Seq
// order: everything the journal still holds (compaction removes acknowledged entries older
// than Options.KeepAcked). For audits and tests that compare the journal with the head-end.
func (j *Journal) Entries(ctx context.Context, after uint64, limit int) ([]Entry, error) {
	if j.closed.Load() {
		return nil, ErrClosed
	}
	if limit <= 0 {
		return nil, fmt.Errorf("journal: entries: limit %d: want > 0", limit)
	}
	if after >= math.MaxInt64 {
		return nil, nil
	}
	return j.query(ctx, "entries", `SELECT seq, meter, kind, t, quality, vals, appended
		FROM entry WHERE seq > ? ORDER BY seq LIMIT ?`, int64(after), limit)
}

// query runs a SELECT of entry rows (seq, meter, kind, t, quality, vals, appended).
func (j *Journal) query(ctx context.Context, op, query string, args ...any) ([]Entry, error) {
	rows, err := j.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, j.wrap(op, err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var (
			seq, t, quality, appended int64
			meter, kind, vals         string
		)
		if err := rows.Scan(&seq, &meter, &kind, &t, &quality, &vals, &appended); err != nil {
			return nil, j.wrap(op, err)
		}
		r := meterdata.Reading{
			Meter:   meterdata.MeterID(meter),
			Kind:    meterdata.Kind(kind),
			Time:    time.UnixMilli(t).UTC(),
			Quality: meterdata.Quality(quality),
		}
		if err := json.Unmarshal([]byte(vals), &r.Values); err != nil {
			return nil, &CorruptError{Path: j.path, Detail: fmt.Sprintf("%s: entry %d: values: %v", op, seq, err), Err: err}
		}
		out = append(out, Entry{Seq: uint64(seq), Reading: r, Appended: time.UnixMilli(appended).UTC()})
	}
	if err := rows.Err(); err != nil {
		return nil, j.wrap(op, err)
	}
	return out, nil
}

// Ack marks the entries with first <= Seq <= last acknowledged and returns how many
// changed. It is idempotent: entries already acknowledged, compacted or never appended are
// ignored. Call it only after the head-end's durable commit of those entries.
func (j *Journal) Ack(ctx context.Context, first, last uint64) (int, error) {
	if first > last {
		return 0, fmt.Errorf("journal: ack: first %d > last %d", first, last)
	}
	if first > math.MaxInt64 {
		if j.closed.Load() {
			return 0, ErrClosed
		}
		return 0, nil
	}
	last = min(last, math.MaxInt64)
	var changed int
	err := j.write(ctx, "ack", func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE entry SET acked = 1 WHERE seq BETWEEN ? AND ? AND acked = 0", int64(first), int64(last))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		changed = int(n)
		if n == 0 {
			return nil
		}
		// Every entry acknowledged earlier already raised last_acked; only this range's
		// newest existing entry can raise it now.
		_, err = tx.ExecContext(ctx, `UPDATE meta SET value = max(value, (SELECT max(seq) FROM entry WHERE seq BETWEEN ? AND ?))
			WHERE name = 'last_acked'`, int64(first), int64(last))
		return err
	})
	if err != nil {
		return 0, err
	}
	return changed, nil
}

// Has reports whether a reading with key k is in the journal, acknowledged or not. An
// entry deleted by Compact is no longer found; LastTime still knows its time.
func (j *Journal) Has(ctx context.Context, k meterdata.Key) (bool, error) {
	if j.closed.Load() {
		return false, ErrClosed
	}
	var one int
	err := j.db.QueryRowContext(ctx, "SELECT 1 FROM entry WHERE meter = ? AND kind = ? AND t = ?",
		string(k.Meter), string(k.Kind), k.Time).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, j.wrap("has", err)
	}
	return true, nil
}

// LastTime returns the newest reading time ever journaled for (meter, kind), in UTC, and
// false if none ever was. Compaction does not forget it.
func (j *Journal) LastTime(ctx context.Context, m meterdata.MeterID, k meterdata.Kind) (time.Time, bool, error) {
	if j.closed.Load() {
		return time.Time{}, false, ErrClosed
	}
	var t int64
	err := j.db.QueryRowContext(ctx, "SELECT t FROM last_time WHERE meter = ? AND kind = ?", string(m), string(k)).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, j.wrap("last time", err)
	}
	return time.UnixMilli(t).UTC(), true, nil
}
