package journal

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
)

// CompactResult says what one Compact deleted.
type CompactResult struct {
	Expired   int // acknowledged entries older than KeepAcked
	Evicted   int // acknowledged entries deleted early to respect MaxEntries
	Dropped   int // UNACKNOWLEDGED entries deleted to respect MaxEntries: data lost to the head-end
	Remaining int // entries left
}

// Compact deletes the acknowledged entries appended more than KeepAcked ago, then enforces
// MaxEntries: while over the bound it deletes the oldest (lowest Seq) acknowledged entries,
// then, if still over, the oldest unacknowledged ones, which are counted in
// CompactResult.Dropped and Stats.Dropped. It runs in one transaction. The caller runs it
// periodically (e.g. every minute): between two runs the journal can exceed MaxEntries by
// what was appended in between.
func (j *Journal) Compact(ctx context.Context) (CompactResult, error) {
	cutoff := j.opt.Now().Add(-j.opt.KeepAcked).UnixMilli()
	var res CompactResult
	err := j.write(ctx, "compact", func(ctx context.Context, tx *sql.Tx) error {
		res = CompactResult{}
		if _, err := tx.ExecContext(ctx, `DELETE FROM event WHERE t < ? AND id <= (SELECT value FROM meta WHERE name = 'events_acked')`,
			j.opt.Now().Add(-KeepEvents).UnixMilli()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM command WHERE state != ? AND updated < ?",
			CommandAccepted, j.opt.Now().Add(-KeepEvents).UnixMilli()); err != nil {
			return err
		}
		r, err := tx.ExecContext(ctx, "DELETE FROM entry WHERE acked = 1 AND appended < ?", cutoff)
		if err != nil {
			return err
		}
		n, err := r.RowsAffected()
		if err != nil {
			return err
		}
		res.Expired = int(n)

		var count int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM entry").Scan(&count); err != nil {
			return err
		}
		if over := count - j.opt.MaxEntries; over > 0 {
			if res.Evicted, err = deleteOldest(ctx, tx, 1, over); err != nil {
				return err
			}
			over -= res.Evicted
			if over > 0 {
				if res.Dropped, err = deleteOldest(ctx, tx, 0, over); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, "UPDATE meta SET value = value + ? WHERE name = 'dropped'", res.Dropped); err != nil {
					return err
				}
			}
			count -= res.Evicted + res.Dropped
		}
		res.Remaining = count
		return nil
	})
	if err != nil {
		return CompactResult{}, err
	}
	return res, nil
}

// deleteOldest deletes up to n entries with the given acked flag, lowest Seq first.
func deleteOldest(ctx context.Context, tx *sql.Tx, acked, n int) (int, error) {
	r, err := tx.ExecContext(ctx, `DELETE FROM entry WHERE seq IN
		(SELECT seq FROM entry WHERE acked = ? ORDER BY seq LIMIT ?)`, acked, n)
	if err != nil {
		return 0, err
	}
	d, err := r.RowsAffected()
	return int(d), err
}

// Stats is a snapshot of the journal's counters, for metrics.
type Stats struct {
	Entries   int    // stored entries, acknowledged or not
	Unacked   int    // stored entries not yet acknowledged
	LastSeq   uint64 // highest sequence number ever assigned (0 if none)
	LastAcked uint64 // highest sequence number ever acknowledged (0 if none)
	Dropped   uint64 // unacknowledged entries ever deleted by the MaxEntries bound: lost data
	Bytes     int64  // size of the database file plus its WAL
}

// Stats returns the journal's counters. Counting is linear in the number of entries (a scan
// of the smallest index), a few milliseconds per 100,000 entries.
func (j *Journal) Stats(ctx context.Context) (Stats, error) {
	if j.closed.Load() {
		return Stats{}, ErrClosed
	}
	var s Stats
	var lastSeq, lastAcked, dropped int64
	err := j.db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM entry),
		(SELECT count(*) FROM entry WHERE acked = 0),
		(SELECT value FROM meta WHERE name = 'last_seq'),
		(SELECT value FROM meta WHERE name = 'last_acked'),
		(SELECT value FROM meta WHERE name = 'dropped')`).Scan(&s.Entries, &s.Unacked, &lastSeq, &lastAcked, &dropped)
	if err != nil {
		return Stats{}, j.wrap("stats", err)
	}
	s.LastSeq, s.LastAcked, s.Dropped = uint64(lastSeq), uint64(lastAcked), uint64(dropped)
	for _, p := range []string{j.path, j.path + "-wal"} {
		// os.Stat, never os.Open: closing another descriptor of the database file would drop
		// SQLite's POSIX locks on it.
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Stats{}, j.wrap("stats", err)
		}
		s.Bytes += fi.Size()
	}
	return s, nil
}
