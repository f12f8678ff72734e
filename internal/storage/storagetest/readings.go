package storagetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// The StoreReadings cases: the path without terminal sequence numbers (IEC 102).

const source = "iec102/T1"

func storeReadings(t *testing.T, s storage.Store, src string, rs ...meterdata.Reading) storage.BatchResult {
	t.Helper()
	res, err := s.StoreReadings(t.Context(), src, rs)
	if err != nil {
		t.Fatalf("StoreReadings(%q, %d readings): %v", src, len(rs), err)
	}
	return res
}

// energies returns r with only its energy registers, as the IEC 102 path carries it.
func energies(r meterdata.Reading) meterdata.Reading {
	r.Values = map[string]int64{"e_imp": r.Values["e_imp"]}
	r.Quality = meterdata.QualityBackfilled
	return r
}

func wantNoTerminal(t *testing.T, s storage.Store, id string) {
	t.Helper()
	if term, err := s.Terminal(t.Context(), id); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Terminal(%s) = %+v, %v; want ErrNotFound: StoreReadings keeps no terminal", id, term, err)
	}
}

// testStoreReadings: inserts, duplicates, conflicts and meters, without terminal bookkeeping.
func testStoreReadings(t *testing.T, s storage.Store) {
	m1, m2 := meter(t, "T1", 1), meter(t, "T1", 2)
	rs := append(series(m1, meterdata.KindInstant, 0, 3), reading(m2, meterdata.KindDailyFrozen, 0))
	wantResult(t, storeReadings(t, s, source, rs...), storage.BatchResult{Inserted: 4})
	wantResult(t, storeReadings(t, s, source, rs...), storage.BatchResult{Duplicates: 4})
	wantReadings(t, readings(t, s, storage.ReadingQuery{Meter: m1}), rs[:3])
	wantReadings(t, readings(t, s, storage.ReadingQuery{Meter: m2}), rs[3:])
	wantNoTerminal(t, s, "T1")
	if ms, err := s.Meters(t.Context()); err != nil || len(ms) != 2 || ms[0].ID != m1 || ms[1].ID != m2 {
		t.Errorf("Meters = %+v, %v; want %s and %s created from their ids", ms, err, m1, m2)
	}

	// A subset of the stored channels with the same values: a duplicate.
	wantResult(t, storeReadings(t, s, source, energies(rs[0])), storage.BatchResult{Duplicates: 1})

	// A subset with another value, a channel the stored reading lacks: conflicts, logged
	// under the source each time they arrive; the stored reading is kept.
	changed := energies(rs[1])
	changed.Values["e_imp"]++
	extra := energies(rs[2])
	extra.Values["e_exp"] = 5
	before := time.Now()
	wantResult(t, storeReadings(t, s, source, changed, extra), storage.BatchResult{Conflicts: 2})
	wantResult(t, storeReadings(t, s, source, changed), storage.BatchResult{Conflicts: 1})
	after := time.Now()
	cs, err := s.Conflicts(t.Context(), m1, 0)
	if err != nil || len(cs) != 3 {
		t.Fatalf("Conflicts = %d, %v; want 3", len(cs), err)
	}
	for i, want := range []meterdata.Reading{changed, extra, changed} {
		c := cs[len(cs)-1-i] // newest first
		stored := rs[1]
		if want.Time.Equal(rs[2].Time) {
			stored = rs[2]
		}
		if !sameReading(c.Received, want) || !sameReading(c.Stored, stored) {
			t.Errorf("conflict %d = stored %s received %s; want received %s", i, show(c.Stored), show(c.Received), show(want))
		}
		if !within(c.At, before, after) {
			t.Errorf("conflict %d At = %v, want within [%v, %v]", i, c.At, before, after)
		}
	}
	wantReadings(t, readings(t, s, storage.ReadingQuery{Meter: m1}), rs[:3])
	wantNoTerminal(t, s, "T1")

	// Repeats inside one call: the first occurrence is inserted, the others judged
	// against it by the subset rule.
	r := reading(m1, meterdata.KindInstant, 10)
	clash := energies(r)
	clash.Values["e_imp"] = -1
	wantResult(t, storeReadings(t, s, source, r, energies(r), clash), storage.BatchResult{Inserted: 1, Duplicates: 1, Conflicts: 1})

	wantResult(t, storeReadings(t, s, source), storage.BatchResult{})
}

// testBothPaths: a reading that arrives by MQTT (StoreBatch) and by IEC 102
// (StoreReadings) is stored once, whichever comes first, as the contract states it.
func testBothPaths(t *testing.T, s storage.Store) {
	m := meter(t, "T1", 1)
	full := series(m, meterdata.KindInstant, 0, 4)

	t.Run("batch first, then the same readings", func(t *testing.T) {
		wantResult(t, store(t, s, batch("T1", 1, full[:2]...)), storage.BatchResult{Inserted: 2})
		wantResult(t, storeReadings(t, s, source, full[:2]...), storage.BatchResult{Duplicates: 2})
		wantCount(t, s, m, 2)
		wantCounters(t, s, "T1", counters{LastSeq: 2, Batches: 1, Readings: 2})
	})
	t.Run("batch first, then the energy registers only", func(t *testing.T) {
		wantResult(t, storeReadings(t, s, source, energies(full[0]), energies(full[1])), storage.BatchResult{Duplicates: 2})
		wantCount(t, s, m, 2)
		wantReadings(t, readings(t, s, storage.ReadingQuery{Meter: m}), full[:2])
	})
	t.Run("readings first, then the same in a batch", func(t *testing.T) {
		wantResult(t, storeReadings(t, s, source, full[2]), storage.BatchResult{Inserted: 1})
		wantResult(t, store(t, s, batch("T1", 3, full[2])), storage.BatchResult{Duplicates: 1})
		wantCount(t, s, m, 3)
	})
	t.Run("energy registers first, then the whole reading in a batch", func(t *testing.T) {
		// Stored once (one row); the batch's reading carries more channels, the stored
		// ones with the same values: it completes the stored reading, which keeps its
		// quality (backfilled: the first stored wins, as for a duplicate).
		wantResult(t, storeReadings(t, s, source, energies(full[3])), storage.BatchResult{Inserted: 1})
		wantResult(t, store(t, s, batch("T1", 4, full[3])), storage.BatchResult{Completed: 1})
		wantCount(t, s, m, 4)
		got := readings(t, s, storage.ReadingQuery{Meter: m, From: full[3].Time})
		want := full[3]
		want.Quality = energies(full[3]).Quality
		wantReadings(t, got, []meterdata.Reading{want})
		// Both paths again: duplicates.
		wantResult(t, store(t, s, batch("T1", 4, full[3])), storage.BatchResult{Duplicates: 1})
		wantResult(t, storeReadings(t, s, source, energies(full[3])), storage.BatchResult{Duplicates: 1})
	})
	wantCounters(t, s, "T1", counters{LastSeq: 4, Batches: 4, Readings: 2})
}

// testBadReadings: a malformed reading or source refuses the whole call, a cancelled
// context stores nothing, and the store stays usable.
func testBadReadings(t *testing.T, s storage.Store) {
	known, fresh := meter(t, "T1", 1), meter(t, "T1", 2)
	wantResult(t, storeReadings(t, s, source, series(known, meterdata.KindInstant, 0, 3)...), storage.BatchResult{Inserted: 3})
	good := append(series(known, meterdata.KindInstant, 0, 600), series(fresh, meterdata.KindDailyFrozen, 0, 10)...)
	clash := reading(known, meterdata.KindInstant, 1)
	clash.Values = map[string]int64{"p": 0}
	good = append(good, clash)
	bad := func(f func(r *meterdata.Reading)) meterdata.Reading {
		r := reading(fresh, meterdata.KindInstant, 5000)
		f(&r)
		return r
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		source string
		last   meterdata.Reading
		want   error
	}{
		{"time before 2000", t.Context(), source, bad(func(r *meterdata.Reading) { r.Time = time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC) }), nil},
		{"unknown quality bits", t.Context(), source, bad(func(r *meterdata.Reading) { r.Quality = 0x40 }), nil},
		{"unknown kind", t.Context(), source, bad(func(r *meterdata.Reading) { r.Kind = "hourly" }), nil},
		{"no values", t.Context(), source, bad(func(r *meterdata.Reading) { r.Values = nil }), nil},
		{"malformed meter id", t.Context(), source, bad(func(r *meterdata.Reading) { r.Meter = "T1.rs485-1" }), nil},
		{"empty source", t.Context(), "", reading(fresh, meterdata.KindInstant, 0), nil},
		{"source too long", t.Context(), strings.Repeat("x", 129), reading(fresh, meterdata.KindInstant, 0), nil},
		{"context cancelled", cancelled, source, reading(fresh, meterdata.KindInstant, 0), context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := append(append([]meterdata.Reading(nil), good...), tc.last)
			res, err := s.StoreReadings(tc.ctx, tc.source, rs)
			if err == nil {
				t.Fatalf("StoreReadings = %+v, nil; want an error", res)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("StoreReadings error = %v, want %v", err, tc.want)
			}
			wantCount(t, s, known, 3)
			wantCount(t, s, fresh, 0)
			if _, err := s.Meter(t.Context(), fresh); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Meter(%s) error = %v, want ErrNotFound: a meter created by a failed call", fresh, err)
			}
			if cs, err := s.Conflicts(t.Context(), "", 0); err != nil || len(cs) != 0 {
				t.Errorf("Conflicts = %d, %v; want none", len(cs), err)
			}
		})
	}
	if _, err := s.StoreReadings(t.Context(), "", nil); err == nil {
		t.Error("StoreReadings with an empty source and no readings: want an error")
	}
	wantResult(t, storeReadings(t, s, source, good...), storage.BatchResult{Inserted: 607, Duplicates: 3, Conflicts: 1})
	wantNoTerminal(t, s, "T1")
}
