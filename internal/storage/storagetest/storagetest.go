package storagetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"sort"
	"sync"
	"testing"
	"time"

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// Run runs the contract suite. open must return a new, empty store and arrange for it to be
// closed (and its data removed) when the test ends, for example with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"Duplicates", testDuplicates},
		{"Conflicts", testConflicts},
		{"ConflictLog", testConflictLog},
		{"RepeatsInsideBatch", testRepeatsInsideBatch},
		{"Sequence", testSequence},
		{"BadBatch", testBadBatch},
		{"Atomicity", testAtomicity},
		{"CancelMidway", testCancelMidway},
		{"ReadingsQuery", testReadingsQuery},
		{"LatestReading", testLatestReading},
		{"Meters", testMeters},
		{"Terminals", testTerminals},
		{"TimePrecision", testTimePrecision},
		{"ValuesAndQuality", testValuesAndQuality},
		{"LargeBatch", testLargeBatch},
		{"Concurrency", testConcurrency},
		{"StoreReadings", testStoreReadings},
		{"StoreReadingsBothPaths", testBothPaths},
		{"StoreReadingsRefused", testBadReadings},
		{"Completion", testCompletion},
		{"CompletionInsideCall", testCompletionInsideCall},
		{"CompletionAtomicity", testCompletionAtomicity},
		{"CompletionConcurrency", testCompletionConcurrency},
		{"Events", testEvents},
		{"EventsQuery", testEventsQuery},
		{"EventsRefused", testEventsRefused},
		{"EventsConcurrency", testEventsConcurrency},
		{"TerminalEvents", testTerminalEvents},
		{"TerminalEventsRefused", testTerminalEventsRefused},
		{"TerminalEventsConcurrency", testTerminalEventsConcurrency},
		{"Commands", testCommands},
		{"CommandsRefused", testCommandsRefused},
		{"CommandStates", testCommandStates},
		{"CommandsQuery", testCommandsQuery},
		{"CommandsConcurrency", testCommandsConcurrency},
		{"Plans", testPlans},
		{"PlanReports", testPlanReports},
		{"PlansConcurrency", testPlansConcurrency},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// base is the time of the suite's first reading.
var base = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

const slot = 15 * time.Minute

// meter returns the id "<terminal>.rs485-1.<address>" for a small address number.
func meter(t *testing.T, terminal string, address int) meterdata.MeterID {
	t.Helper()
	id, err := meterdata.NewMeterID(terminal, "rs485-1", fmt.Sprintf("%012d", address))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// reading returns a valid reading of meter m, kind k, in slot i after base, whose values are
// a function of (m, k, i): storing it twice is a duplicate, never a conflict.
func reading(m meterdata.MeterID, k meterdata.Kind, i int) meterdata.Reading {
	seed := int64(len(m))*1_000_003 + int64(len(k))*7 + int64(i)
	return meterdata.Reading{
		Meter: m,
		Kind:  k,
		Time:  base.Add(time.Duration(i) * slot),
		Values: map[string]int64{
			"u_a":   230_000 + seed%1000,
			"i_a":   -(5_000 + seed%100),
			"p":     1_150_000 + seed,
			"e_imp": 10_000_000 + 100*int64(i),
		},
	}
}

// series returns n readings of meter m and kind k in slots from, from+1, ...
func series(m meterdata.MeterID, k meterdata.Kind, from, n int) []meterdata.Reading {
	out := make([]meterdata.Reading, n)
	for i := range out {
		out[i] = reading(m, k, from+i)
	}
	return out
}

// batch builds a batch of rs numbered from first.
func batch(terminal string, first uint64, rs ...meterdata.Reading) storage.Batch {
	last := first
	if len(rs) > 0 {
		last = first + uint64(len(rs)) - 1
	}
	return storage.Batch{Terminal: terminal, FirstSeq: first, LastSeq: last, Readings: rs}
}

func store(t *testing.T, s storage.Store, b storage.Batch) storage.BatchResult {
	t.Helper()
	res, err := s.StoreBatch(t.Context(), b)
	if err != nil {
		t.Fatalf("StoreBatch(terminal %s, seq %d..%d, %d readings): %v", b.Terminal, b.FirstSeq, b.LastSeq, len(b.Readings), err)
	}
	return res
}

func wantResult(t *testing.T, got, want storage.BatchResult) {
	t.Helper()
	if got != want {
		t.Errorf("BatchResult = %+v, want %+v", got, want)
	}
}

func count(t *testing.T, s storage.Store, m meterdata.MeterID) int {
	t.Helper()
	n, err := s.CountReadings(t.Context(), m)
	if err != nil {
		t.Fatalf("CountReadings(%s): %v", m, err)
	}
	return n
}

func wantCount(t *testing.T, s storage.Store, m meterdata.MeterID, want int) {
	t.Helper()
	if got := count(t, s, m); got != want {
		t.Errorf("CountReadings(%s) = %d, want %d", m, got, want)
	}
}

func readings(t *testing.T, s storage.Store, q storage.ReadingQuery) []meterdata.Reading {
	t.Helper()
	rs, err := s.Readings(t.Context(), q)
	if err != nil {
		t.Fatalf("Readings(%+v): %v", q, err)
	}
	return rs
}

func terminal(t *testing.T, s storage.Store, id string) storage.Terminal {
	t.Helper()
	term, err := s.Terminal(t.Context(), id)
	if err != nil {
		t.Fatalf("Terminal(%s): %v", id, err)
	}
	return term
}

// counters is the sequence bookkeeping part of a Terminal.
type counters struct{ LastSeq, SeqGaps, Batches, Readings, Conflicts uint64 }

func countersOf(term storage.Terminal) counters {
	return counters{term.LastSeq, term.SeqGaps, term.Batches, term.Readings, term.Conflicts}
}

// sameTerminal compares terminals, LastSeen as an instant that must be in UTC (or zero).
func sameTerminal(got, want storage.Terminal) bool {
	if !got.LastSeen.IsZero() && got.LastSeen.Location() != time.UTC {
		return false
	}
	g, w := got, want
	g.LastSeen, w.LastSeen = time.Time{}, time.Time{}
	return g == w && got.LastSeen.Equal(want.LastSeen)
}

func wantCounters(t *testing.T, s storage.Store, id string, want counters) {
	t.Helper()
	if got := countersOf(terminal(t, s, id)); got != want {
		t.Errorf("terminal %s counters = %+v, want %+v", id, got, want)
	}
}

// sameReading reports whether a stored reading is r as stored: same key and values, time in
// UTC at millisecond precision.
func sameReading(got, want meterdata.Reading) bool {
	want = want.Normalize()
	return got.Meter == want.Meter && got.Kind == want.Kind && got.Time.Equal(want.Time) &&
		got.Time.Location() == time.UTC && got.Quality == want.Quality && maps.Equal(got.Values, want.Values)
}

func wantReadings(t *testing.T, got, want []meterdata.Reading) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d readings, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if !sameReading(got[i], want[i]) {
			t.Errorf("reading %d = %s, want %s", i, show(got[i]), show(want[i]))
		}
	}
}

func show(r meterdata.Reading) string {
	return fmt.Sprintf("{%s %s %s q=%d %v}", r.Meter, r.Kind, r.Time.Format(time.RFC3339Nano), r.Quality, r.Values)
}

// sorted returns rs ordered as Readings returns them: by time, then kind.
func sorted(rs []meterdata.Reading) []meterdata.Reading {
	out := append([]meterdata.Reading(nil), rs...)
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}

// within reports whether got lies in [from, to] once both ends are cut to the millisecond.
func within(got, from, to time.Time) bool {
	return !got.Before(from.Truncate(time.Millisecond)) && !got.After(to)
}

func testDuplicates(t *testing.T, s storage.Store) {
	m1, m2 := meter(t, "T1", 1), meter(t, "T1", 2)
	var rs []meterdata.Reading
	rs = append(rs, series(m1, meterdata.KindInstant, 0, 4)...)
	rs = append(rs, series(m2, meterdata.KindInstant, 0, 4)...)
	rs = append(rs, reading(m1, meterdata.KindDailyFrozen, 0))
	b := batch("T1", 1, rs...)

	wantResult(t, store(t, s, b), storage.BatchResult{Inserted: 9})
	wantResult(t, store(t, s, b), storage.BatchResult{Duplicates: 9})

	// Same values with other quality flags: still a duplicate, and the first stored wins.
	again := make([]meterdata.Reading, len(rs))
	for i, r := range rs {
		r.Quality = meterdata.QualityBackfilled
		again[i] = r
	}
	wantResult(t, store(t, s, batch("T1", 1, again...)), storage.BatchResult{Duplicates: 9})

	wantCount(t, s, m1, 5)
	wantCount(t, s, m2, 4)
	wantReadings(t, readings(t, s, storage.ReadingQuery{Meter: m1}), sorted(append(series(m1, meterdata.KindInstant, 0, 4), reading(m1, meterdata.KindDailyFrozen, 0))))
	wantReadings(t, readings(t, s, storage.ReadingQuery{Meter: m2}), series(m2, meterdata.KindInstant, 0, 4))
	wantCounters(t, s, "T1", counters{LastSeq: 9, Batches: 3, Readings: 9})
	if cs, err := s.Conflicts(t.Context(), "", 0); err != nil || len(cs) != 0 {
		t.Errorf("Conflicts = %v, %v; want none", cs, err)
	}
}

func testConflicts(t *testing.T, s storage.Store) {
	m := meter(t, "T1", 1)
	orig := reading(m, meterdata.KindInstant, 0)
	store(t, s, batch("T1", 1, orig))

	changed := func(f func(v map[string]int64)) meterdata.Reading {
		r := orig
		r.Values = maps.Clone(orig.Values)
		f(r.Values)
		return r
	}
	tests := []struct {
		name     string
		received meterdata.Reading
		// completes: not a conflict but a completion (a strict superset of the stored
		// values), which replaces the stored reading with the union; so it comes last.
		completes bool
	}{
		{name: "value changed", received: changed(func(v map[string]int64) { v["p"]++ })},
		{name: "channel missing", received: changed(func(v map[string]int64) { delete(v, "u_a") })},
		{name: "sign flipped", received: changed(func(v map[string]int64) { v["i_a"] = -v["i_a"] })},
		{name: "other quality too", received: func() meterdata.Reading {
			r := changed(func(v map[string]int64) { v["e_imp"] = 0 })
			r.Quality = meterdata.QualitySuspect
			return r
		}()},
		{name: "channel added", received: changed(func(v map[string]int64) { v["f"] = 50_000 }), completes: true},
	}
	conflicts := uint64(0)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now()
			res := store(t, s, batch("T1", uint64(2+i), tc.received))
			after := time.Now()
			if tc.completes {
				wantResult(t, res, storage.BatchResult{Completed: 1})
				wantCount(t, s, m, 1)
				latest, err := s.LatestReading(t.Context(), m, meterdata.KindInstant)
				if err != nil {
					t.Fatalf("LatestReading: %v", err)
				}
				if !sameReading(latest, tc.received) {
					t.Errorf("stored reading = %s, want it completed to %s", show(latest), show(tc.received))
				}
				cs, err := s.Conflicts(t.Context(), m, 0)
				if err != nil || uint64(len(cs)) != conflicts {
					t.Errorf("Conflicts = %d, %v; want %d: a completion is not logged", len(cs), err, conflicts)
				}
				return
			}
			wantResult(t, res, storage.BatchResult{Conflicts: 1})
			conflicts++

			wantCount(t, s, m, 1)
			latest, err := s.LatestReading(t.Context(), m, meterdata.KindInstant)
			if err != nil {
				t.Fatalf("LatestReading: %v", err)
			}
			if !sameReading(latest, orig) {
				t.Errorf("stored reading = %s, want the original %s", show(latest), show(orig))
			}
			cs, err := s.Conflicts(t.Context(), m, 1)
			if err != nil {
				t.Fatalf("Conflicts: %v", err)
			}
			if len(cs) != 1 {
				t.Fatalf("Conflicts(%s, 1) returned %d, want 1", m, len(cs))
			}
			c := cs[0]
			if !sameReading(c.Stored, orig) {
				t.Errorf("conflict Stored = %s, want %s", show(c.Stored), show(orig))
			}
			if !sameReading(c.Received, tc.received) {
				t.Errorf("conflict Received = %s, want %s", show(c.Received), show(tc.received))
			}
			if !within(c.At, before, after) || c.At.Location() != time.UTC {
				t.Errorf("conflict At = %v, want UTC within [%v, %v]", c.At, before, after)
			}
		})
	}
	n := uint64(len(tests))
	wantCounters(t, s, "T1", counters{LastSeq: 1 + n, Batches: 1 + n, Readings: 1, Conflicts: n - 1})
}

func testConflictLog(t *testing.T, s storage.Store) {
	m1, m2 := meter(t, "T1", 1), meter(t, "T1", 2)
	store(t, s, batch("T1", 1, reading(m1, meterdata.KindInstant, 0), reading(m2, meterdata.KindInstant, 0)))
	conflicting := func(m meterdata.MeterID, v int64) meterdata.Reading {
		r := reading(m, meterdata.KindInstant, 0)
		r.Values = map[string]int64{"p": v}
		return r
	}
	// Arrivals in order: m1 p=1, m2 p=2, m1 p=3, then m1 p=1 again (a resent conflict is logged again).
	for i, r := range []meterdata.Reading{conflicting(m1, 1), conflicting(m2, 2), conflicting(m1, 3), conflicting(m1, 1)} {
		wantResult(t, store(t, s, batch("T1", uint64(2+i), r)), storage.BatchResult{Conflicts: 1})
	}
	tests := []struct {
		meter meterdata.MeterID
		limit int
		want  []int64 // received p, newest first
	}{
		{"", 0, []int64{1, 3, 2, 1}},
		{"", 2, []int64{1, 3}},
		{m1, 0, []int64{1, 3, 1}},
		{m1, 2, []int64{1, 3}},
		{m2, 5, []int64{2}},
		{meter(t, "T1", 3), 5, nil},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/limit=%d", tc.meter, tc.limit), func(t *testing.T) {
			cs, err := s.Conflicts(t.Context(), tc.meter, tc.limit)
			if err != nil {
				t.Fatalf("Conflicts: %v", err)
			}
			var got []int64
			for _, c := range cs {
				got = append(got, c.Received.Values["p"])
				if tc.meter != "" && c.Received.Meter != tc.meter {
					t.Errorf("conflict of meter %s listed for %s", c.Received.Meter, tc.meter)
				}
				if !sameReading(c.Stored, reading(c.Received.Meter, meterdata.KindInstant, 0)) {
					t.Errorf("conflict Stored = %s, want the first reading", show(c.Stored))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("received p values = %v, want %v", got, tc.want)
			}
		})
	}
	wantCounters(t, s, "T1", counters{LastSeq: 5, Batches: 5, Readings: 2, Conflicts: 4})
}

func testRepeatsInsideBatch(t *testing.T, s storage.Store) {
	m := meter(t, "T1", 1)
	other := func(i int) meterdata.Reading {
		r := reading(m, meterdata.KindInstant, i)
		r.Values = map[string]int64{"p": -1}
		return r
	}
	tests := []struct {
		name  string
		rs    []meterdata.Reading
		want  storage.BatchResult
		first meterdata.Reading // what must be stored under the repeated key afterwards
	}{
		{"same values twice", []meterdata.Reading{reading(m, meterdata.KindInstant, 0), reading(m, meterdata.KindInstant, 0)},
			storage.BatchResult{Inserted: 1, Duplicates: 1}, reading(m, meterdata.KindInstant, 0)},
		{"other values second", []meterdata.Reading{reading(m, meterdata.KindInstant, 1), other(1)},
			storage.BatchResult{Inserted: 1, Conflicts: 1}, reading(m, meterdata.KindInstant, 1)},
		{"three times, stored before", []meterdata.Reading{reading(m, meterdata.KindInstant, 0), other(0), reading(m, meterdata.KindInstant, 0)},
			storage.BatchResult{Duplicates: 2, Conflicts: 1}, reading(m, meterdata.KindInstant, 0)},
	}
	seq := uint64(1)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := batch("T1", seq, tc.rs...)
			seq = b.LastSeq + 1
			wantResult(t, store(t, s, b), tc.want)
			got, err := s.Readings(t.Context(), storage.ReadingQuery{Meter: m, From: tc.first.Time, To: tc.first.Time.Add(time.Millisecond)})
			if err != nil {
				t.Fatal(err)
			}
			wantReadings(t, got, []meterdata.Reading{tc.first})
		})
	}
	wantCount(t, s, m, 2)
}

func testSequence(t *testing.T, s storage.Store) {
	m := meter(t, "T1", 1)
	slotN := 0
	next := func(n int) []meterdata.Reading { // n new readings
		rs := series(m, meterdata.KindInstant, slotN, n)
		slotN += n
		return rs
	}
	first10 := next(10)
	steps := []struct {
		name        string
		first, last uint64
		rs          []meterdata.Reading
		want        storage.BatchResult
		after       counters
	}{
		{"first batch from 1", 1, 10, first10, storage.BatchResult{Inserted: 10},
			counters{LastSeq: 10, Batches: 1, Readings: 10}},
		{"contiguous", 11, 15, next(5), storage.BatchResult{Inserted: 5},
			counters{LastSeq: 15, Batches: 2, Readings: 15}},
		{"gap of 4", 20, 22, next(3), storage.BatchResult{Inserted: 3, Gap: 4},
			counters{LastSeq: 22, SeqGaps: 4, Batches: 3, Readings: 18}},
		{"older batch resent", 1, 10, first10, storage.BatchResult{Duplicates: 10},
			counters{LastSeq: 22, SeqGaps: 4, Batches: 4, Readings: 18}},
		{"missing batch arrives late", 16, 19, next(4), storage.BatchResult{Inserted: 4},
			counters{LastSeq: 22, SeqGaps: 4, Batches: 5, Readings: 22}},
		{"overlapping the last", 21, 25, next(5), storage.BatchResult{Inserted: 5},
			counters{LastSeq: 25, SeqGaps: 4, Batches: 6, Readings: 27}},
		{"sequence numbers without readings", 26, 30, nil, storage.BatchResult{},
			counters{LastSeq: 30, Batches: 7, SeqGaps: 4, Readings: 27}},
		{"gap of 1", 32, 32, next(1), storage.BatchResult{Inserted: 1, Gap: 1},
			counters{LastSeq: 32, SeqGaps: 5, Batches: 8, Readings: 28}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			res := store(t, s, storage.Batch{Terminal: "T1", FirstSeq: st.first, LastSeq: st.last, Readings: st.rs})
			wantResult(t, res, st.want)
			wantCounters(t, s, "T1", st.after)
		})
	}

	t.Run("new terminal starting late", func(t *testing.T) {
		res := store(t, s, batch("T2", 5, reading(meter(t, "T2", 1), meterdata.KindInstant, 0)))
		wantResult(t, res, storage.BatchResult{Inserted: 1, Gap: 4})
		wantCounters(t, s, "T2", counters{LastSeq: 5, SeqGaps: 4, Batches: 1, Readings: 1})
		wantCounters(t, s, "T1", steps[len(steps)-1].after)
	})
}

func testBadBatch(t *testing.T, s storage.Store) {
	m := meter(t, "T1", 1)
	r := reading(m, meterdata.KindInstant, 0)
	tests := []struct {
		name string
		b    storage.Batch
	}{
		{"first seq 0", storage.Batch{Terminal: "T1", FirstSeq: 0, LastSeq: 0, Readings: []meterdata.Reading{r}}},
		{"last before first", storage.Batch{Terminal: "T1", FirstSeq: 5, LastSeq: 4, Readings: []meterdata.Reading{r}}},
		{"last seq beyond int64", storage.Batch{Terminal: "T1", FirstSeq: 1, LastSeq: math.MaxUint64, Readings: []meterdata.Reading{r}}},
		{"empty terminal id", storage.Batch{Terminal: "", FirstSeq: 1, LastSeq: 1, Readings: []meterdata.Reading{r}}},
		{"terminal id with a dot", storage.Batch{Terminal: "T.1", FirstSeq: 1, LastSeq: 1, Readings: []meterdata.Reading{r}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if res, err := s.StoreBatch(t.Context(), tc.b); err == nil {
				t.Errorf("StoreBatch(%+v) = %+v, nil; want an error", tc.b, res)
			}
			wantCount(t, s, m, 0)
			if _, err := s.Terminal(t.Context(), tc.b.Terminal); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Terminal(%q) error = %v, want ErrNotFound", tc.b.Terminal, err)
			}
		})
	}
}

func testAtomicity(t *testing.T, s storage.Store) {
	known, fresh := meter(t, "T1", 1), meter(t, "T1", 2)
	prior := store(t, s, batch("T1", 1, series(known, meterdata.KindInstant, 0, 3)...))
	wantResult(t, prior, storage.BatchResult{Inserted: 3})
	before := terminal(t, s, "T1")
	// Good readings first: more than one insert statement's worth, new and duplicate ones,
	// a conflict, and a meter not known before.
	good := series(known, meterdata.KindInstant, 0, 700)
	good = append(good, series(fresh, meterdata.KindDailyFrozen, 0, 10)...)
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
		name string
		ctx  context.Context
		last meterdata.Reading
		want error // nil: any error
	}{
		{"time before 2000", t.Context(), bad(func(r *meterdata.Reading) { r.Time = time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC) }), nil},
		{"time from 2100", t.Context(), bad(func(r *meterdata.Reading) { r.Time = meterdata.LatestTime }), nil},
		{"unknown quality bits", t.Context(), bad(func(r *meterdata.Reading) { r.Quality = 0x40 }), nil},
		{"unknown kind", t.Context(), bad(func(r *meterdata.Reading) { r.Kind = "hourly" }), nil},
		{"no values", t.Context(), bad(func(r *meterdata.Reading) { r.Values = nil }), nil},
		{"malformed meter id", t.Context(), bad(func(r *meterdata.Reading) { r.Meter = "T1.rs485-1" }), nil},
		{"context cancelled", cancelled, reading(fresh, meterdata.KindInstant, 0), context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := append(append([]meterdata.Reading(nil), good...), tc.last)
			res, err := s.StoreBatch(tc.ctx, batch("T1", 4, rs...))
			if err == nil {
				t.Fatalf("StoreBatch = %+v, nil; want an error", res)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("StoreBatch error = %v, want %v", err, tc.want)
			}
			t.Logf("StoreBatch error: %v", err)
			wantCount(t, s, known, 3)
			wantCount(t, s, fresh, 0)
			if _, err := s.Meter(t.Context(), fresh); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Meter(%s) error = %v, want ErrNotFound: a meter created by a failed batch", fresh, err)
			}
			if after := terminal(t, s, "T1"); !sameTerminal(after, before) {
				t.Errorf("terminal after failed batch = %+v, want unchanged %+v", after, before)
			}
			if cs, err := s.Conflicts(t.Context(), "", 0); err != nil || len(cs) != 0 {
				t.Errorf("Conflicts = %d, %v; want none", len(cs), err)
			}
		})
	}
	// The store still works after the failures.
	wantResult(t, store(t, s, batch("T1", 4, good...)), storage.BatchResult{Inserted: 707, Duplicates: 3, Conflicts: 1})
}

// testCancelMidway cancels StoreBatch after various delays: whatever the moment, the batch
// must be stored entirely (nil error) or not at all (error), and the store must stay usable.
func testCancelMidway(t *testing.T, s storage.Store) {
	delays := []time.Duration{0, 100 * time.Microsecond, 500 * time.Microsecond, time.Millisecond,
		2 * time.Millisecond, 4 * time.Millisecond, 8 * time.Millisecond, 16 * time.Millisecond, 32 * time.Millisecond, time.Second}
	outcomes := map[bool]int{}
	for i, d := range delays {
		t.Run(d.String(), func(t *testing.T) {
			term := fmt.Sprintf("C%d", i)
			ms := []meterdata.MeterID{meter(t, term, 1), meter(t, term, 2)}
			var rs []meterdata.Reading
			for _, m := range ms {
				rs = append(rs, series(m, meterdata.KindInstant, 0, 1000)...)
			}
			b := batch(term, 1, rs...)
			ctx, cancel := context.WithCancel(t.Context())
			timer := time.AfterFunc(d, cancel)
			res, err := s.StoreBatch(ctx, b)
			timer.Stop()
			cancel()
			outcomes[err == nil]++
			if err == nil {
				wantResult(t, res, storage.BatchResult{Inserted: len(rs)})
				for _, m := range ms {
					wantCount(t, s, m, 1000)
				}
				wantCounters(t, s, term, counters{LastSeq: b.LastSeq, Batches: 1, Readings: uint64(len(rs))})
				return
			}
			t.Logf("cancelled after %v: %v", d, err)
			for _, m := range ms {
				wantCount(t, s, m, 0)
				if _, err := s.Meter(t.Context(), m); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("Meter(%s) after a cancelled batch: error = %v, want ErrNotFound", m, err)
				}
			}
			if _, err := s.Terminal(t.Context(), term); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Terminal(%s) after a cancelled batch: error = %v, want ErrNotFound", term, err)
			}
			// The store is still usable, and the batch goes in whole.
			wantResult(t, store(t, s, b), storage.BatchResult{Inserted: len(rs)})
		})
	}
	t.Logf("batches committed: %d, cancelled: %d", outcomes[true], outcomes[false])
}

func testReadingsQuery(t *testing.T, s storage.Store) {
	m, other := meter(t, "T1", 1), meter(t, "T1", 2)
	inst := series(m, meterdata.KindInstant, 0, 8) // slots 0..7
	daily := []meterdata.Reading{reading(m, meterdata.KindDailyFrozen, 0), reading(m, meterdata.KindDailyFrozen, 4)}
	status := []meterdata.Reading{reading(m, meterdata.KindStatus, 4)}
	all := append(append(append([]meterdata.Reading(nil), inst...), daily...), status...)
	// Stored out of order, with another meter's readings in between.
	mixed := append(append([]meterdata.Reading(nil), all[5:]...), series(other, meterdata.KindInstant, 0, 8)...)
	mixed = append(mixed, all[:5]...)
	store(t, s, batch("T1", 1, mixed...))

	at := func(i int) time.Time { return base.Add(time.Duration(i) * slot) }
	tests := []struct {
		name string
		q    storage.ReadingQuery
		want []meterdata.Reading
	}{
		{"everything", storage.ReadingQuery{Meter: m}, sorted(all)},
		{"one kind", storage.ReadingQuery{Meter: m, Kind: meterdata.KindDailyFrozen}, daily},
		{"kind with nothing", storage.ReadingQuery{Meter: m, Kind: meterdata.KindMonthly}, nil},
		{"from inclusive, to exclusive", storage.ReadingQuery{Meter: m, Kind: meterdata.KindInstant, From: at(2), To: at(5)}, inst[2:5]},
		{"to just after", storage.ReadingQuery{Meter: m, Kind: meterdata.KindInstant, From: at(2), To: at(5).Add(time.Millisecond)}, inst[2:6]},
		{"from just after", storage.ReadingQuery{Meter: m, Kind: meterdata.KindInstant, From: at(2).Add(time.Millisecond), To: at(5)}, inst[3:5]},
		{"from a microsecond after", storage.ReadingQuery{Meter: m, Kind: meterdata.KindInstant, From: at(2).Add(time.Microsecond), To: at(4)}, inst[3:4]},
		{"to a microsecond after", storage.ReadingQuery{Meter: m, Kind: meterdata.KindInstant, From: at(2), To: at(4).Add(time.Microsecond)}, inst[2:5]},
		{"empty range", storage.ReadingQuery{Meter: m, From: at(3), To: at(3)}, nil},
		{"reversed range", storage.ReadingQuery{Meter: m, From: at(5), To: at(3)}, nil},
		{"all kinds, time then kind", storage.ReadingQuery{Meter: m, From: at(4), To: at(5)},
			[]meterdata.Reading{daily[1], inst[4], status[0]}},
		{"open start", storage.ReadingQuery{Meter: m, Kind: meterdata.KindInstant, To: at(2)}, inst[:2]},
		{"open end", storage.ReadingQuery{Meter: m, Kind: meterdata.KindInstant, From: at(6)}, inst[6:]},
		{"limit oldest first", storage.ReadingQuery{Meter: m, Kind: meterdata.KindInstant, Limit: 3}, inst[:3]},
		{"limit over kinds", storage.ReadingQuery{Meter: m, From: at(4), Limit: 2}, []meterdata.Reading{daily[1], inst[4]}},
		{"limit above count", storage.ReadingQuery{Meter: m, Kind: meterdata.KindInstant, Limit: 100}, inst},
		{"range in another zone", storage.ReadingQuery{Meter: m, Kind: meterdata.KindInstant,
			From: at(1).In(time.FixedZone("UTC+8", 8*3600)), To: at(3).In(time.FixedZone("UTC-5", -5*3600))}, inst[1:3]},
		{"unknown meter", storage.ReadingQuery{Meter: meter(t, "T9", 9)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantReadings(t, readings(t, s, tc.q), tc.want)
		})
	}
}

func testLatestReading(t *testing.T, s storage.Store) {
	m := meter(t, "T1", 1)
	if _, err := s.LatestReading(t.Context(), m, meterdata.KindInstant); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("LatestReading on an empty store: error = %v, want ErrNotFound", err)
	}
	store(t, s, batch("T1", 1, reading(m, meterdata.KindInstant, 7), reading(m, meterdata.KindInstant, 3),
		reading(m, meterdata.KindDailyFrozen, 2), reading(m, meterdata.KindStatus, 9), reading(m, meterdata.KindInstant, 5)))
	tests := []struct {
		kind    meterdata.Kind
		want    meterdata.Reading
		missing bool
	}{
		{kind: meterdata.KindInstant, want: reading(m, meterdata.KindInstant, 7)},
		{kind: meterdata.KindDailyFrozen, want: reading(m, meterdata.KindDailyFrozen, 2)},
		{kind: meterdata.KindMonthly, missing: true},
		{kind: "", want: reading(m, meterdata.KindStatus, 9)},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			got, err := s.LatestReading(t.Context(), m, tc.kind)
			if tc.missing {
				if !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("LatestReading(%s, %s) = %s, %v; want ErrNotFound", m, tc.kind, show(got), err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LatestReading: %v", err)
			}
			if !sameReading(got, tc.want) {
				t.Errorf("LatestReading(%s, %s) = %s, want %s", m, tc.kind, show(got), show(tc.want))
			}
		})
	}
	if _, err := s.LatestReading(t.Context(), meter(t, "T1", 2), meterdata.KindInstant); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("LatestReading of an unknown meter: error = %v, want ErrNotFound", err)
	}
}

func testMeters(t *testing.T, s storage.Store) {
	ctx := t.Context()
	if _, err := s.Meter(ctx, meter(t, "T1", 1)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Meter on an empty store: error = %v, want ErrNotFound", err)
	}
	if ms, err := s.Meters(ctx); err != nil || len(ms) != 0 {
		t.Errorf("Meters on an empty store = %v, %v; want none", ms, err)
	}

	// Auto-created from the ids of a batch, in any order.
	m2, m1 := meter(t, "T1", 2), meter(t, "T1", 1)
	store(t, s, batch("T1", 1, reading(m2, meterdata.KindInstant, 0), reading(m1, meterdata.KindInstant, 0)))
	auto := func(id meterdata.MeterID) meterdata.Meter {
		term, bus, addr, err := id.Parts()
		if err != nil {
			t.Fatal(err)
		}
		return meterdata.Meter{ID: id, Terminal: term, Bus: bus, Address: addr}
	}
	wantMeters := func(t *testing.T, want ...meterdata.Meter) {
		t.Helper()
		got, err := s.Meters(ctx)
		if err != nil {
			t.Fatalf("Meters: %v", err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Meters = %+v, want %+v", got, want)
		}
		for _, w := range want {
			m, err := s.Meter(ctx, w.ID)
			if err != nil || m != w {
				t.Errorf("Meter(%s) = %+v, %v; want %+v", w.ID, m, err, w)
			}
		}
	}
	wantMeters(t, auto(m1), auto(m2))

	described := auto(m1)
	described.Protocol, described.Description = meterdata.ProtocolDLT645, "feeder 3, 电表 #1"
	updated := described
	updated.Protocol, updated.Description = meterdata.ProtocolModbus, ""
	m3 := meterdata.Meter{ID: meter(t, "T2", 3), Terminal: "T2", Bus: "rs485-1", Address: fmt.Sprintf("%012d", 3), Protocol: meterdata.ProtocolModbus}
	steps := []struct {
		name string
		do   func(t *testing.T)
		want []meterdata.Meter
	}{
		{"describe one, add one", func(t *testing.T) {
			if err := s.UpsertMeters(ctx, []meterdata.Meter{m3, described}); err != nil {
				t.Fatalf("UpsertMeters: %v", err)
			}
		}, []meterdata.Meter{described, auto(m2), m3}},
		{"readings do not undo a description", func(t *testing.T) {
			store(t, s, batch("T1", 2, reading(m1, meterdata.KindInstant, 1), reading(m3.ID, meterdata.KindInstant, 1)))
		}, []meterdata.Meter{described, auto(m2), m3}},
		{"update", func(t *testing.T) {
			if err := s.UpsertMeters(ctx, []meterdata.Meter{updated}); err != nil {
				t.Fatalf("UpsertMeters: %v", err)
			}
		}, []meterdata.Meter{updated, auto(m2), m3}},
		{"invalid descriptor refuses the whole call", func(t *testing.T) {
			bad := auto(m2)
			bad.Protocol = "iec102"
			good := auto(m2)
			good.Protocol = meterdata.ProtocolDLT645
			if err := s.UpsertMeters(ctx, []meterdata.Meter{good, bad}); err == nil {
				t.Error("UpsertMeters with protocol iec102: want an error")
			}
		}, []meterdata.Meter{updated, auto(m2), m3}},
		{"empty list", func(t *testing.T) {
			if err := s.UpsertMeters(ctx, nil); err != nil {
				t.Errorf("UpsertMeters(nil): %v", err)
			}
		}, []meterdata.Meter{updated, auto(m2), m3}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do(t)
			wantMeters(t, st.want...)
		})
	}
	if _, err := s.Meter(ctx, meter(t, "T1", 9)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Meter(unknown) error = %v, want ErrNotFound", err)
	}
}

func testTerminals(t *testing.T, s storage.Store) {
	ctx := t.Context()
	if _, err := s.Terminal(ctx, "T1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Terminal(T1) on an empty store: error = %v, want ErrNotFound", err)
	}
	if ts, err := s.Terminals(ctx); err != nil || len(ts) != 0 {
		t.Errorf("Terminals on an empty store = %v, %v; want none", ts, err)
	}
	if err := s.UpdateTerminalStatus(ctx, storage.TerminalStatus{ID: "", State: "online"}); err == nil {
		t.Error("UpdateTerminalStatus with an empty id: want an error")
	}

	t0 := time.Date(2025, 3, 1, 8, 0, 0, 0, time.FixedZone("UTC+8", 8*3600)) // 00:00 UTC
	steps := []struct {
		name string
		st   storage.TerminalStatus
		want storage.Terminal
	}{
		{"first status creates", storage.TerminalStatus{ID: "T2", State: "online", Software: "1.0.0", At: t0},
			storage.Terminal{ID: "T2", State: "online", Software: "1.0.0", LastSeen: t0.UTC()}},
		{"newer status", storage.TerminalStatus{ID: "T2", State: "offline", Software: "1.0.0", At: t0.Add(time.Minute + 1500*time.Microsecond)},
			storage.Terminal{ID: "T2", State: "offline", Software: "1.0.0", LastSeen: t0.Add(time.Minute + time.Millisecond).UTC()}},
		{"same time again", storage.TerminalStatus{ID: "T2", State: "online", Software: "1.1.0", At: t0.Add(time.Minute + time.Millisecond)},
			storage.Terminal{ID: "T2", State: "online", Software: "1.1.0", LastSeen: t0.Add(time.Minute + time.Millisecond).UTC()}},
		{"older status arriving late", storage.TerminalStatus{ID: "T2", State: "offline", Software: "0.9.0", At: t0},
			storage.Terminal{ID: "T2", State: "online", Software: "1.1.0", LastSeen: t0.Add(time.Minute + time.Millisecond).UTC()}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := s.UpdateTerminalStatus(ctx, st.st); err != nil {
				t.Fatalf("UpdateTerminalStatus: %v", err)
			}
			got := terminal(t, s, st.st.ID)
			if !sameTerminal(got, st.want) {
				t.Errorf("Terminal = %+v, want %+v (UTC)", got, st.want)
			}
		})
	}

	t.Run("batch creates and bumps LastSeen", func(t *testing.T) {
		before := time.Now()
		store(t, s, batch("T1", 3, reading(meter(t, "T1", 1), meterdata.KindInstant, 0)))
		after := time.Now()
		got := terminal(t, s, "T1")
		if got.State != "" || got.Software != "" {
			t.Errorf("terminal created by a batch: state %q software %q, want empty", got.State, got.Software)
		}
		if !within(got.LastSeen, before, after) || got.LastSeen.Location() != time.UTC {
			t.Errorf("LastSeen = %v, want UTC within [%v, %v]", got.LastSeen, before, after)
		}
		if err := s.UpdateTerminalStatus(ctx, storage.TerminalStatus{ID: "T1", State: "online", Software: "2.0", At: before.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		got2 := terminal(t, s, "T1")
		if got2.State != "online" || got2.Software != "2.0" || !got2.LastSeen.Equal(got.LastSeen) {
			t.Errorf("after first status, older than the batch: %+v; want online, 2.0, LastSeen unchanged %v", got2, got.LastSeen)
		}
		if countersOf(got2) != (counters{LastSeq: 3, SeqGaps: 2, Batches: 1, Readings: 1}) {
			t.Errorf("status changed counters: %+v", got2)
		}
	})

	ts, err := s.Terminals(ctx)
	if err != nil {
		t.Fatalf("Terminals: %v", err)
	}
	if len(ts) != 2 || ts[0].ID != "T1" || ts[1].ID != "T2" {
		t.Errorf("Terminals = %+v, want T1 then T2", ts)
	}
	if _, err := s.Terminal(ctx, "T3"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Terminal(T3) error = %v, want ErrNotFound", err)
	}
}

func testTimePrecision(t *testing.T, s storage.Store) {
	m := meter(t, "T1", 1)
	zones := []*time.Location{time.UTC, time.FixedZone("CST", 8*3600), time.FixedZone("NST", -(3*3600 + 1800))}
	tests := []struct {
		name string
		at   time.Time
	}{
		{"whole second UTC", time.Date(2025, 6, 1, 12, 0, 0, 0, zones[0])},
		{"milliseconds UTC", time.Date(2025, 6, 1, 12, 0, 1, 123_000_000, zones[0])},
		{"milliseconds UTC+8", time.Date(2025, 6, 1, 20, 0, 2, 456_000_000, zones[1])},
		{"milliseconds UTC-3:30", time.Date(2025, 6, 1, 8, 30, 3, 789_000_000, zones[2])},
		{"sub-millisecond cut", time.Date(2025, 6, 1, 12, 0, 4, 999_999_999, zones[1])},
		{"earliest accepted", meterdata.EarliestTime},
		{"last millisecond accepted", meterdata.LatestTime.Add(-time.Millisecond)},
		{"leap day", time.Date(2024, 2, 29, 23, 59, 59, 999_000_000, zones[0])},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := reading(m, meterdata.KindInstant, 0)
			r.Time = tc.at
			wantResult(t, store(t, s, batch("T1", uint64(i+1), r)), storage.BatchResult{Inserted: 1})
			want := tc.at.UTC().Truncate(time.Millisecond)
			got := readings(t, s, storage.ReadingQuery{Meter: m, From: want, To: want.Add(time.Millisecond)})
			if len(got) != 1 {
				t.Fatalf("got %d readings at %v, want 1", len(got), want)
			}
			if !got[0].Time.Equal(want) || got[0].Time.Location() != time.UTC || got[0].Time.Nanosecond()%int(time.Millisecond) != 0 {
				t.Errorf("time = %v (%s), want %v UTC", got[0].Time, got[0].Time.Location(), want)
			}
			// The same instant written in another zone is the same key.
			r.Time = tc.at.In(zones[(i+1)%len(zones)])
			wantResult(t, store(t, s, batch("T1", uint64(i+1), r)), storage.BatchResult{Duplicates: 1})
		})
	}
	wantCount(t, s, m, len(tests))
}

func testValuesAndQuality(t *testing.T, s storage.Store) {
	m := meter(t, "T1", 1)
	full := map[string]int64{}
	for i, c := range meterdata.Channels {
		full[c.Name] = int64(i*1_000_003) - 7_000_000
	}
	tests := []struct {
		name    string
		values  map[string]int64
		quality meterdata.Quality
	}{
		{"one channel", map[string]int64{"e_imp": 1}, 0},
		{"zero", map[string]int64{"p": 0}, 0},
		{"negative", map[string]int64{"p": -1_234_567, "i_a": -1, "pf": -999}, 0},
		{"int64 extremes", map[string]int64{"e_imp": math.MaxInt64, "p": math.MinInt64, "q": math.MaxInt64 - 1, "i_a": math.MinInt64 + 1}, 0},
		{"beyond float64 precision", map[string]int64{"e_imp": 1<<53 + 1, "e_exp": -(1<<53 + 1)}, 0},
		{"every channel", full, 0},
		{"estimated", map[string]int64{"p": 1}, meterdata.QualityEstimated},
		{"backfilled", map[string]int64{"p": 2}, meterdata.QualityBackfilled},
		{"suspect", map[string]int64{"p": 3}, meterdata.QualitySuspect},
		{"all flags", map[string]int64{"p": 4}, meterdata.QualityEstimated | meterdata.QualityBackfilled | meterdata.QualitySuspect},
	}
	var want []meterdata.Reading
	for i, tc := range tests {
		want = append(want, meterdata.Reading{Meter: m, Kind: meterdata.KindMonthly, Time: base.Add(time.Duration(i) * time.Hour),
			Values: tc.values, Quality: tc.quality})
	}
	wantResult(t, store(t, s, batch("T1", 1, want...)), storage.BatchResult{Inserted: len(tests)})
	got := readings(t, s, storage.ReadingQuery{Meter: m, Kind: meterdata.KindMonthly})
	if len(got) != len(tests) {
		t.Fatalf("got %d readings, want %d", len(got), len(tests))
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !maps.Equal(got[i].Values, tc.values) {
				t.Errorf("values = %v, want %v", got[i].Values, tc.values)
			}
			if got[i].Quality != tc.quality {
				t.Errorf("quality = %v, want %v", got[i].Quality.Strings(), tc.quality.Strings())
			}
		})
	}
	// Stored again, every one is a duplicate: values compare equal after the round trip.
	wantResult(t, store(t, s, batch("T1", 1, want...)), storage.BatchResult{Duplicates: len(tests)})
}

func testLargeBatch(t *testing.T, s storage.Store) {
	var rs []meterdata.Reading
	meters := make([]meterdata.MeterID, 25)
	for i := range meters {
		meters[i] = meter(t, "T1", i+1)
		rs = append(rs, series(meters[i], meterdata.KindInstant, 0, 100)...)
	}
	wantResult(t, store(t, s, batch("T1", 1, rs...)), storage.BatchResult{Inserted: 2500})
	// Resent with 2,500 more and one changed value.
	more := append([]meterdata.Reading(nil), rs...)
	more[1234].Values = map[string]int64{"p": 42}
	for _, m := range meters {
		more = append(more, series(m, meterdata.KindInstant, 100, 100)...)
	}
	wantResult(t, store(t, s, batch("T1", 1, more...)), storage.BatchResult{Inserted: 2500, Duplicates: 2499, Conflicts: 1})
	for _, m := range meters {
		wantCount(t, s, m, 200)
	}
	wantCounters(t, s, "T1", counters{LastSeq: 5000, Batches: 2, Readings: 5000, Conflicts: 1})
	wantReadings(t, readings(t, s, storage.ReadingQuery{Meter: meters[7]}), series(meters[7], meterdata.KindInstant, 0, 200))
}

func testConcurrency(t *testing.T, s storage.Store) {
	const (
		workers   = 6
		batches   = 8
		batchSize = 40
		stride    = 25 // consecutive batches of a worker overlap by 15 slots
		offset    = 60 // workers overlap each other
	)
	meters := []meterdata.MeterID{meter(t, "T1", 1), meter(t, "T1", 2), meter(t, "T2", 1)}
	terminals := []string{"T1", "T2"}
	type key struct {
		m meterdata.MeterID
		i int
	}
	unique := map[key]bool{}
	perTerminal := map[string]uint64{}
	plans := make([][]storage.Batch, workers)
	for w := range workers {
		term := terminals[w%len(terminals)]
		for j := range batches {
			from := w*offset + j*stride
			var rs []meterdata.Reading
			for i := from; i < from+batchSize; i++ {
				m := meters[i%len(meters)]
				rs = append(rs, reading(m, meterdata.KindInstant, i))
				unique[key{m, i}] = true
			}
			plans[w] = append(plans[w], batch(term, uint64(1+w*1000+j*batchSize), rs...))
			perTerminal[term]++
		}
	}
	// Everything that was unique, plus one re-run of worker 0's batches from another goroutine.
	plans = append(plans, plans[0])
	perTerminal[terminals[0]] += batches

	var (
		mu    sync.Mutex
		total storage.BatchResult
		wg    sync.WaitGroup
		errs  = make(chan error, len(plans)*batches)
	)
	start := make(chan struct{})
	for _, p := range plans {
		wg.Go(func() {
			<-start
			for _, b := range p {
				res, err := s.StoreBatch(t.Context(), b)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				total.Inserted += res.Inserted
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
		t.Errorf("concurrent StoreBatch: %v", err)
	}

	sent := len(plans) * batches * batchSize
	if total.Inserted != len(unique) || total.Duplicates != sent-len(unique) || total.Conflicts != 0 {
		t.Errorf("summed results = %+v, want %d inserted, %d duplicates, 0 conflicts", total, len(unique), sent-len(unique))
	}
	stored := 0
	for _, m := range meters {
		n := count(t, s, m)
		stored += n
		rs := readings(t, s, storage.ReadingQuery{Meter: m, Kind: meterdata.KindInstant})
		if len(rs) != n {
			t.Errorf("meter %s: Readings returned %d, CountReadings %d", m, len(rs), n)
		}
		for i := 1; i < len(rs); i++ {
			if !rs[i].Time.After(rs[i-1].Time) {
				t.Errorf("meter %s: readings %d and %d not in strictly increasing time", m, i-1, i)
			}
		}
	}
	if stored != len(unique) {
		t.Errorf("stored %d readings, want %d", stored, len(unique))
	}
	ts, err := s.Terminals(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var sumReadings uint64
	for _, term := range ts {
		if term.Batches != perTerminal[term.ID] {
			t.Errorf("terminal %s: Batches = %d, want %d", term.ID, term.Batches, perTerminal[term.ID])
		}
		sumReadings += term.Readings
	}
	if sumReadings != uint64(len(unique)) {
		t.Errorf("terminals' Readings sum to %d, want %d", sumReadings, len(unique))
	}
}
