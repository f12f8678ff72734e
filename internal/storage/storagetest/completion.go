package storagetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// The completion cases: a reading arriving with a strict superset of the stored values
// completes the stored reading, by either path.

// only returns r with only the named channels of its values.
func only(r meterdata.Reading, names ...string) meterdata.Reading {
	v := make(map[string]int64, len(names))
	for _, n := range names {
		v[n] = r.Values[n]
	}
	r.Values = v
	return r
}

// withQuality returns r with quality q.
func withQuality(r meterdata.Reading, q meterdata.Quality) meterdata.Reading {
	r.Quality = q
	return r
}

// withValue returns r with channel name set to v (added if missing).
func withValue(r meterdata.Reading, name string, v int64) meterdata.Reading {
	vals := make(map[string]int64, len(r.Values)+1)
	for k, x := range r.Values {
		vals[k] = x
	}
	vals[name] = v
	r.Values = vals
	return r
}

// conflictsAt returns the conflicts logged for m's readings at time at, newest first.
func conflictsAt(t *testing.T, s storage.Store, m meterdata.MeterID, at time.Time) []storage.Conflict {
	t.Helper()
	cs, err := s.Conflicts(t.Context(), m, 0)
	if err != nil {
		t.Fatalf("Conflicts(%s): %v", m, err)
	}
	var out []storage.Conflict
	for _, c := range cs {
		if c.Received.Time.Equal(at) {
			out = append(out, c)
		}
	}
	return out
}

// storedAt returns the reading stored under m, kind instant, time at.
func storedAt(t *testing.T, s storage.Store, m meterdata.MeterID, at time.Time) []meterdata.Reading {
	t.Helper()
	return readings(t, s, storage.ReadingQuery{Meter: m, Kind: meterdata.KindInstant, From: at, To: at.Add(time.Millisecond)})
}

// testCompletion: subset first then superset completes, by either path; superset first then
// subset is a duplicate (StoreReadings) or a conflict (StoreBatch, whose rule is equality);
// any differing value or a channel missing on either side is a conflict.
func testCompletion(t *testing.T, s storage.Store) {
	m := meter(t, "T1", 1)
	type op struct {
		byReadings bool // StoreReadings, else StoreBatch
		r          meterdata.Reading
		want       storage.BatchResult
	}
	batchOp := func(r meterdata.Reading, want storage.BatchResult) op { return op{false, r, want} }
	readingsOp := func(r meterdata.Reading, want storage.BatchResult) op { return op{true, r, want} }
	r := func(i int) meterdata.Reading { return reading(m, meterdata.KindInstant, i) } // u_a, i_a, p, e_imp
	tests := []struct {
		name      string
		ops       func(i int) []op
		stored    func(i int) meterdata.Reading // what is stored afterwards
		conflicts int                           // conflicts logged for the key
	}{
		{"StoreBatch subset, then StoreBatch superset",
			func(i int) []op {
				return []op{batchOp(only(r(i), "e_imp", "p"), storage.BatchResult{Inserted: 1}), batchOp(r(i), storage.BatchResult{Completed: 1})}
			},
			r, 0},
		{"StoreBatch subset, then StoreReadings superset",
			func(i int) []op {
				return []op{batchOp(only(r(i), "e_imp"), storage.BatchResult{Inserted: 1}), readingsOp(r(i), storage.BatchResult{Completed: 1})}
			},
			r, 0},
		{"StoreReadings subset, then StoreReadings superset",
			func(i int) []op {
				return []op{readingsOp(only(r(i), "e_imp"), storage.BatchResult{Inserted: 1}), readingsOp(r(i), storage.BatchResult{Completed: 1})}
			},
			r, 0},
		{"completed step by step, then everything again",
			func(i int) []op {
				return []op{
					readingsOp(only(r(i), "e_imp"), storage.BatchResult{Inserted: 1}),
					batchOp(only(r(i), "e_imp", "p"), storage.BatchResult{Completed: 1}),
					readingsOp(only(r(i), "e_imp", "p", "u_a"), storage.BatchResult{Completed: 1}),
					batchOp(r(i), storage.BatchResult{Completed: 1}),
					batchOp(r(i), storage.BatchResult{Duplicates: 1}),
					readingsOp(r(i), storage.BatchResult{Duplicates: 1}),
					readingsOp(only(r(i), "e_imp"), storage.BatchResult{Duplicates: 1}),
				}
			},
			r, 0},
		{"superset first, then subset by StoreReadings: duplicate",
			func(i int) []op {
				return []op{batchOp(r(i), storage.BatchResult{Inserted: 1}), readingsOp(only(r(i), "e_imp", "p"), storage.BatchResult{Duplicates: 1})}
			},
			r, 0},
		{"superset first, then subset by StoreBatch: conflict",
			func(i int) []op {
				return []op{readingsOp(r(i), storage.BatchResult{Inserted: 1}), batchOp(only(r(i), "e_imp", "p"), storage.BatchResult{Conflicts: 1})}
			},
			r, 1},
		{"more channels but a differing value: conflict on both paths",
			func(i int) []op {
				more := withValue(r(i), "p", r(i).Values["p"]+1)
				return []op{
					readingsOp(only(r(i), "e_imp", "p"), storage.BatchResult{Inserted: 1}),
					batchOp(more, storage.BatchResult{Conflicts: 1}),
					readingsOp(more, storage.BatchResult{Conflicts: 1}),
				}
			},
			func(i int) meterdata.Reading { return only(r(i), "e_imp", "p") }, 2},
		{"overlapping channels, equal where common, each with its own: conflict",
			func(i int) []op {
				return []op{
					batchOp(only(r(i), "e_imp", "p"), storage.BatchResult{Inserted: 1}),
					batchOp(only(r(i), "e_imp", "u_a"), storage.BatchResult{Conflicts: 1}),
					readingsOp(only(r(i), "e_imp", "u_a", "i_a"), storage.BatchResult{Conflicts: 1}),
				}
			},
			func(i int) meterdata.Reading { return only(r(i), "e_imp", "p") }, 2},
		{"quality: stored flags kept, estimated and suspect added",
			func(i int) []op {
				return []op{
					readingsOp(withQuality(only(r(i), "e_imp"), meterdata.QualityBackfilled), storage.BatchResult{Inserted: 1}),
					batchOp(withQuality(only(r(i), "e_imp", "p"), meterdata.QualityEstimated), storage.BatchResult{Completed: 1}),
					batchOp(withQuality(r(i), meterdata.QualitySuspect), storage.BatchResult{Completed: 1}),
				}
			},
			func(i int) meterdata.Reading {
				return withQuality(r(i), meterdata.QualityBackfilled|meterdata.QualityEstimated|meterdata.QualitySuspect)
			}, 0},
		{"quality: backfilled not added",
			func(i int) []op {
				return []op{
					batchOp(only(r(i), "e_imp"), storage.BatchResult{Inserted: 1}),
					readingsOp(withQuality(r(i), meterdata.QualityBackfilled), storage.BatchResult{Completed: 1}),
				}
			},
			r, 0},
	}
	seq := uint64(0)
	var want counters
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := r(i).Time
			for j, o := range tc.ops(i) {
				var got storage.BatchResult
				if o.byReadings {
					got = storeReadings(t, s, source, o.r)
				} else {
					seq++
					got = store(t, s, batch("T1", seq, o.r))
					want.LastSeq, want.Batches = seq, want.Batches+1
					want.Readings += uint64(o.want.Inserted)
					want.Conflicts += uint64(o.want.Conflicts)
				}
				if got != o.want {
					t.Errorf("step %d (%s): BatchResult = %+v, want %+v", j, show(o.r), got, o.want)
				}
			}
			wantReadings(t, storedAt(t, s, m, at), []meterdata.Reading{tc.stored(i)})
			if cs := conflictsAt(t, s, m, at); len(cs) != tc.conflicts {
				t.Errorf("%d conflicts logged, want %d", len(cs), tc.conflicts)
			}
		})
	}
	wantCount(t, s, m, len(tests))
	wantCounters(t, s, "T1", want)
}

// testCompletionInsideCall: repeats of a key inside one call are judged against what is
// then stored, completions by the call's earlier occurrences included; the conflict log
// shows the reading as it was stored when the conflicting one arrived.
func testCompletionInsideCall(t *testing.T, s storage.Store) {
	m := meter(t, "T1", 1)
	r := func(i int) meterdata.Reading { return reading(m, meterdata.KindInstant, i) }
	clash := func(i int) meterdata.Reading { return withValue(r(i), "e_imp", -1) }

	t.Run("StoreBatch, new key", func(t *testing.T) {
		res := store(t, s, batch("T1", 1, only(r(0), "e_imp"), only(r(0), "e_imp", "p"), only(r(0), "e_imp", "p"), r(0), clash(0)))
		wantResult(t, res, storage.BatchResult{Inserted: 1, Completed: 2, Duplicates: 1, Conflicts: 1})
		wantReadings(t, storedAt(t, s, m, r(0).Time), []meterdata.Reading{r(0)})
		cs := conflictsAt(t, s, m, r(0).Time)
		if len(cs) != 1 || !sameReading(cs[0].Stored, r(0)) || !sameReading(cs[0].Received, clash(0)) {
			t.Errorf("conflicts = %+v; want one, stored %s (completed before it in the batch)", cs, show(r(0)))
		}
	})
	t.Run("StoreBatch, key stored before", func(t *testing.T) {
		wantResult(t, storeReadings(t, s, source, only(r(1), "e_imp")), storage.BatchResult{Inserted: 1})
		res := store(t, s, batch("T1", 6, only(r(1), "e_imp", "p"), r(1), r(1)))
		wantResult(t, res, storage.BatchResult{Completed: 2, Duplicates: 1})
		wantReadings(t, storedAt(t, s, m, r(1).Time), []meterdata.Reading{r(1)})
	})
	t.Run("StoreReadings", func(t *testing.T) {
		res := storeReadings(t, s, source, only(r(2), "e_imp"), r(2), only(r(2), "e_imp", "p"), clash(2))
		wantResult(t, res, storage.BatchResult{Inserted: 1, Completed: 1, Duplicates: 1, Conflicts: 1})
		wantReadings(t, storedAt(t, s, m, r(2).Time), []meterdata.Reading{r(2)})
	})
	t.Run("several keys completed in one call", func(t *testing.T) {
		var subs, fulls []meterdata.Reading
		for i := 10; i < 610; i++ { // more than one statement's worth
			subs = append(subs, only(r(i), "e_imp"))
			fulls = append(fulls, r(i))
		}
		wantResult(t, storeReadings(t, s, source, subs...), storage.BatchResult{Inserted: len(subs)})
		// Completions and new readings mixed, out of key order.
		mixed := append(append([]meterdata.Reading{r(700)}, fulls[300:]...), fulls[:300]...)
		wantResult(t, store(t, s, batch("T1", 9, mixed...)), storage.BatchResult{Inserted: 1, Completed: len(fulls)})
		wantReadings(t, readings(t, s, storage.ReadingQuery{Meter: m, From: r(10).Time, To: r(610).Time}), fulls)
	})
	wantCount(t, s, m, 3+600+1)
	wantCounters(t, s, "T1", counters{LastSeq: 9 + 600, Batches: 3, Readings: 2, Conflicts: 1})
}

// testCompletionAtomicity: a call refused or cancelled completes nothing.
func testCompletionAtomicity(t *testing.T, s storage.Store) {
	m := meter(t, "T1", 1)
	r := reading(m, meterdata.KindInstant, 0)
	sub := only(r, "e_imp")
	wantResult(t, store(t, s, batch("T1", 1, sub)), storage.BatchResult{Inserted: 1})
	bad := reading(m, meterdata.KindInstant, 1)
	bad.Quality = 0x40
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		rs   []meterdata.Reading
	}{
		{"malformed reading after it", t.Context(), []meterdata.Reading{r, bad}},
		{"context cancelled", cancelled, []meterdata.Reading{r}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if res, err := s.StoreBatch(tc.ctx, batch("T1", 2, tc.rs...)); err == nil {
				t.Errorf("StoreBatch = %+v, nil; want an error", res)
			}
			if res, err := s.StoreReadings(tc.ctx, source, tc.rs); err == nil {
				t.Errorf("StoreReadings = %+v, nil; want an error", res)
			}
			wantReadings(t, storedAt(t, s, m, r.Time), []meterdata.Reading{sub})
		})
	}
	wantResult(t, store(t, s, batch("T1", 2, r)), storage.BatchResult{Completed: 1})
	wantReadings(t, storedAt(t, s, m, r.Time), []meterdata.Reading{r})
	wantCounters(t, s, "T1", counters{LastSeq: 2, Batches: 2, Readings: 1})
}

// testCompletionConcurrency: concurrent calls completing the same stored readings. With
// one superset, exactly one call counts each key as Completed; with nested supersets by
// both paths, whatever the order, no completion undoes another: every key ends complete,
// and nothing is a conflict.
func testCompletionConcurrency(t *testing.T, s storage.Store) {
	const (
		workers = 6
		slots   = 40
		chunk   = 10 // keys per call
	)
	meters := []meterdata.MeterID{meter(t, "T1", 1), meter(t, "T1", 2), meter(t, "T2", 1)}
	keys := func(from int) []meterdata.Reading { // full readings of slots from..from+slots-1 of every meter
		var rs []meterdata.Reading
		for _, m := range meters {
			rs = append(rs, series(m, meterdata.KindInstant, from, slots)...)
		}
		return rs
	}
	// run lets every worker store its calls at once and sums the results.
	run := func(t *testing.T, calls [][]func() (storage.BatchResult, error)) storage.BatchResult {
		t.Helper()
		var (
			mu    sync.Mutex
			total storage.BatchResult
			wg    sync.WaitGroup
		)
		errs := make(chan error, len(calls))
		start := make(chan struct{})
		for _, cs := range calls {
			wg.Go(func() {
				<-start
				for _, call := range cs {
					res, err := call()
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					total.Inserted += res.Inserted
					total.Completed += res.Completed
					total.Duplicates += res.Duplicates
					total.Conflicts += res.Conflicts
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent call: %v", err)
		}
		return total
	}
	// calls splits rs into calls of chunk readings, starting at chunk offset w (each
	// worker in another order), made by call.
	calls := func(w int, rs []meterdata.Reading, call func(rs []meterdata.Reading) (storage.BatchResult, error)) []func() (storage.BatchResult, error) {
		n := len(rs) / chunk
		out := make([]func() (storage.BatchResult, error), n)
		for j := range n {
			c := (j + w*n/workers) % n
			part := rs[c*chunk : (c+1)*chunk]
			out[j] = func() (storage.BatchResult, error) { return call(part) }
		}
		return out
	}
	byBatch := func(w int) func(rs []meterdata.Reading) (storage.BatchResult, error) {
		term := fmt.Sprintf("W%d", w) // one terminal per worker: batches of one terminal run one at a time
		seq := uint64(0)
		return func(rs []meterdata.Reading) (storage.BatchResult, error) {
			seq += uint64(len(rs))
			return s.StoreBatch(t.Context(), batch(term, seq-uint64(len(rs))+1, rs...))
		}
	}
	byReadings := func(rs []meterdata.Reading) (storage.BatchResult, error) {
		return s.StoreReadings(t.Context(), source, rs)
	}
	level := func(rs []meterdata.Reading, names ...string) []meterdata.Reading {
		out := make([]meterdata.Reading, len(rs))
		for i, r := range rs {
			out[i] = only(r, names...)
		}
		return out
	}
	check := func(t *testing.T, full []meterdata.Reading) {
		t.Helper()
		for _, m := range meters {
			var want []meterdata.Reading
			for _, r := range full {
				if r.Meter == m {
					want = append(want, r)
				}
			}
			wantReadings(t, readings(t, s, storage.ReadingQuery{Meter: m, From: full[0].Time, To: full[len(full)-1].Time.Add(time.Millisecond)}), want)
		}
	}

	t.Run("one superset", func(t *testing.T) {
		full := keys(0)
		wantResult(t, storeReadings(t, s, source, level(full, "e_imp")...), storage.BatchResult{Inserted: len(full)})
		var cs [][]func() (storage.BatchResult, error)
		for w := range workers {
			if w%2 == 0 {
				cs = append(cs, calls(w, full, byBatch(w)))
			} else {
				cs = append(cs, calls(w, full, byReadings))
			}
		}
		total := run(t, cs)
		want := storage.BatchResult{Completed: len(full), Duplicates: (workers - 1) * len(full)}
		if total != want {
			t.Errorf("summed results = %+v, want %+v: exactly one completion per key", total, want)
		}
		check(t, full)
	})
	t.Run("nested supersets", func(t *testing.T) {
		full := keys(slots)
		wantResult(t, storeReadings(t, s, source, level(full, "e_imp")...), storage.BatchResult{Inserted: len(full)})
		var cs [][]func() (storage.BatchResult, error)
		for w := range workers {
			switch w % 3 {
			case 0: // a larger subset, by the subset-tolerant path
				cs = append(cs, calls(w, level(full, "e_imp", "p"), byReadings))
			case 1:
				cs = append(cs, calls(w, full, byReadings))
			case 2:
				cs = append(cs, calls(w, full, byBatch(w)))
			}
		}
		total := run(t, cs)
		sent := workers * len(full)
		if total.Inserted != 0 || total.Conflicts != 0 || total.Completed+total.Duplicates != sent ||
			total.Completed < len(full) || total.Completed > 2*len(full) {
			t.Errorf("summed results = %+v; want no insert, no conflict, %d completed or duplicates, of which %d to %d completed",
				total, sent, len(full), 2*len(full))
		}
		check(t, full)
	})
	if cs, err := s.Conflicts(t.Context(), "", 0); err != nil || len(cs) != 0 {
		t.Errorf("Conflicts = %d, %v; want none", len(cs), err)
	}
	for _, m := range meters {
		wantCount(t, s, m, 2*slots)
	}
}
