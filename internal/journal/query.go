package journal

import (
	"context"
	"fmt"
	"time"

	"gridmeter/internal/meterdata"
)

// History queries. Readings and Latest serve the terminal's own readers of its history,
// chiefly the IEC 60870-5-102 outstation (load profiles, daily values, current totals),
// from the entries the journal still holds, acknowledged or not.
//
// Depth: Compact deletes acknowledged entries appended more than Options.KeepAcked ago
// (default 24 h), and the oldest entries beyond Options.MaxEntries. So these queries reach
// back as far as KeepAcked for data the head-end already has, and as far as MaxEntries
// allows for data it does not have yet (unacknowledged entries are never expired by age).
// A terminal that must serve a longer history to a third-party master (REE masters read
// a month of load profile at a time) needs a KeepAcked of that length. LastTime, not
// these queries, is the memory that survives compaction.
//
// Both queries range-scan the index of the entry table's UNIQUE (meter, kind, t)
// constraint: their cost grows with the rows returned, not with the journal's size.

// Readings returns up to limit (> 0) entries of one meter and kind whose reading time t
// lies in [from, to), in time order, acknowledged or not. Bounds are compared to the
// millisecond: an entry time, a whole millisecond, is selected when from <= t < to; to <=
// from selects nothing. A caller paging through a long range continues from the last
// entry's time plus one millisecond.
func (j *Journal) Readings(ctx context.Context, meter meterdata.MeterID, kind meterdata.Kind, from, to time.Time, limit int) ([]Entry, error) {
	if j.closed.Load() {
		return nil, ErrClosed
	}
	if limit <= 0 {
		return nil, fmt.Errorf("journal: readings: limit %d: want > 0", limit)
	}
	lo, hi := ceilMilli(from), ceilMilli(to)
	if hi <= lo {
		return nil, nil
	}
	return j.query(ctx, "readings", `SELECT seq, meter, kind, t, quality, vals, appended
		FROM entry WHERE meter = ? AND kind = ? AND t >= ? AND t < ? ORDER BY t LIMIT ?`,
		string(meter), string(kind), lo, hi, limit)
}

// Latest returns the newest entry of one meter and kind whose reading time is at or
// before at (to the millisecond), acknowledged or not, and false if the journal holds
// none (never had one, or compaction removed it: see the depth note above).
func (j *Journal) Latest(ctx context.Context, meter meterdata.MeterID, kind meterdata.Kind, at time.Time) (Entry, bool, error) {
	if j.closed.Load() {
		return Entry{}, false, ErrClosed
	}
	es, err := j.query(ctx, "latest", `SELECT seq, meter, kind, t, quality, vals, appended
		FROM entry WHERE meter = ? AND kind = ? AND t <= ? ORDER BY t DESC LIMIT 1`,
		string(meter), string(kind), at.UnixMilli())
	if err != nil {
		return Entry{}, false, err
	}
	if len(es) == 0 {
		return Entry{}, false, nil
	}
	return es[0], true, nil
}

// ceilMilli returns t in Unix milliseconds rounded up, so that comparing whole-millisecond
// entry times with it keeps the meaning of comparing with t itself.
func ceilMilli(t time.Time) int64 {
	ms := t.UnixMilli()
	if !t.Equal(time.UnixMilli(ms)) {
		ms++
	}
	return ms
}
