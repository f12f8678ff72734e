package journal

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gridmeter/internal/meterdata"
)

var (
	meterA = meterdata.MeterID("T1.bus1.000000000001")
	meterB = meterdata.MeterID("T1.bus1.000000000002")
	t0     = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
)

// channels15 are the channels of a typical instant reading.
var channels15 = []string{"u_a", "u_b", "u_c", "i_a", "i_b", "i_c", "p", "p_a", "p_b", "p_c", "q", "pf", "f", "e_imp", "e_exp"}

// reading builds a valid instant reading of meter m at t0 + i minutes with 15 values
// derived from v.
func reading(m meterdata.MeterID, i int, v int64) meterdata.Reading {
	vals := make(map[string]int64, len(channels15))
	for k, c := range channels15 {
		vals[c] = v*100 + int64(k)
	}
	return meterdata.Reading{
		Meter:  m,
		Kind:   meterdata.KindInstant,
		Time:   t0.Add(time.Duration(i) * time.Minute),
		Values: vals,
	}
}

// clock is an injectable clock the tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func openTemp(t *testing.T, opt Options) (*Journal, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := Open(context.Background(), path, opt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j, path
}

func mustAppend(t *testing.T, j *Journal, rs ...meterdata.Reading) ([]Entry, int) {
	t.Helper()
	got, skipped, err := j.Append(context.Background(), rs)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return got, skipped
}

func mustStats(t *testing.T, j *Journal) Stats {
	t.Helper()
	s, err := j.Stats(context.Background())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return s
}

func seqs(es []Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

func seqRange(first, last uint64) []uint64 {
	var out []uint64
	for s := first; s <= last; s++ {
		out = append(out, s)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: t0.Add(time.Hour)}
	j, _ := openTemp(t, Options{Now: clk.Now, KeepAcked: time.Hour})

	in := []meterdata.Reading{reading(meterA, 0, 1), reading(meterA, 1, 2), reading(meterB, 0, 3)}
	in[1].Quality = meterdata.QualityBackfilled
	in[2].Kind = meterdata.KindDailyFrozen
	// A non-UTC time with sub-millisecond digits is stored normalised.
	in[2].Time = in[2].Time.In(time.FixedZone("CST", 8*3600)).Add(123456 * time.Nanosecond)

	got, skipped := mustAppend(t, j, in...)
	if skipped != 0 || !reflect.DeepEqual(seqs(got), []uint64{1, 2, 3}) {
		t.Fatalf("Append: seqs %v skipped %d, want [1 2 3] and 0", seqs(got), skipped)
	}
	pend, err := j.Pending(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pend) != 3 {
		t.Fatalf("Pending: %d entries, want 3", len(pend))
	}
	for i, e := range pend {
		want := in[i].Normalize()
		if e.Seq != uint64(i+1) || !reflect.DeepEqual(e.Reading, want) || !e.Appended.Equal(clk.Now()) {
			t.Errorf("Pending[%d] = %+v, want seq %d reading %+v appended %v", i, e, i+1, want, clk.Now())
		}
		if !reflect.DeepEqual(e, got[i]) {
			t.Errorf("Pending[%d] = %+v, Append returned %+v", i, e, got[i])
		}
	}

	if n, err := j.Ack(ctx, 1, 2); err != nil || n != 2 {
		t.Fatalf("Ack(1,2) = %d, %v; want 2", n, err)
	}
	if n, err := j.Ack(ctx, 1, 2); err != nil || n != 0 {
		t.Fatalf("Ack(1,2) again = %d, %v; want 0 (idempotent)", n, err)
	}
	if n, err := j.Ack(ctx, 100, 200); err != nil || n != 0 {
		t.Fatalf("Ack(100,200) = %d, %v; want 0 (unknown seqs)", n, err)
	}
	if _, err := j.Ack(ctx, 3, 2); err == nil {
		t.Fatal("Ack(3,2): want an error for first > last")
	}
	pend, _ = j.Pending(ctx, 0, 10)
	if !reflect.DeepEqual(seqs(pend), []uint64{3}) {
		t.Fatalf("Pending after ack: %v, want [3]", seqs(pend))
	}
	s := mustStats(t, j)
	if s.Entries != 3 || s.Unacked != 1 || s.LastSeq != 3 || s.LastAcked != 2 || s.Dropped != 0 || s.Bytes <= 0 {
		t.Fatalf("Stats = %+v", s)
	}

	// Not yet old enough: nothing expires.
	if res, err := j.Compact(ctx); err != nil || res != (CompactResult{Remaining: 3}) {
		t.Fatalf("Compact = %+v, %v; want nothing deleted", res, err)
	}
	clk.Advance(time.Hour + time.Millisecond)
	if res, err := j.Compact(ctx); err != nil || res != (CompactResult{Expired: 2, Remaining: 1}) {
		t.Fatalf("Compact = %+v, %v; want 2 expired", res, err)
	}
	s = mustStats(t, j)
	if s.Entries != 1 || s.Unacked != 1 || s.LastSeq != 3 || s.LastAcked != 2 {
		t.Fatalf("Stats after compact = %+v", s)
	}
	// Unacknowledged entries never expire.
	clk.Advance(1000 * time.Hour)
	if res, err := j.Compact(ctx); err != nil || res != (CompactResult{Remaining: 1}) {
		t.Fatalf("Compact = %+v, %v; want nothing deleted", res, err)
	}
}

func TestSeqNeverReused(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: t0}
	path := filepath.Join(t.TempDir(), "journal.db")
	opt := Options{Now: clk.Now, KeepAcked: time.Millisecond}
	j, err := Open(ctx, path, opt)
	if err != nil {
		t.Fatal(err)
	}
	var rs []meterdata.Reading
	for i := range 10 {
		rs = append(rs, reading(meterA, i, int64(i)))
	}
	mustAppend(t, j, rs...)
	// Delete everything, the tail included.
	if _, err := j.Ack(ctx, 1, 10); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if res, err := j.Compact(ctx); err != nil || res.Expired != 10 || res.Remaining != 0 {
		t.Fatalf("Compact = %+v, %v; want 10 expired", res, err)
	}
	got, _ := mustAppend(t, j, reading(meterA, 100, 1))
	if !reflect.DeepEqual(seqs(got), []uint64{11}) {
		t.Fatalf("seq after deleting the tail = %v, want [11]", seqs(got))
	}
	if _, err := j.Ack(ctx, 11, 11); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if _, err := j.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := j.Append(ctx, []meterdata.Reading{reading(meterA, 101, 1)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v, want ErrClosed", err)
	}

	j, err = Open(ctx, path, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if s := mustStats(t, j); s.Entries != 0 || s.LastSeq != 11 || s.LastAcked != 11 {
		t.Fatalf("Stats after reopen = %+v, want empty with LastSeq 11", s)
	}
	got, _ = mustAppend(t, j, reading(meterA, 102, 1), reading(meterA, 103, 1))
	if !reflect.DeepEqual(seqs(got), []uint64{12, 13}) {
		t.Fatalf("seqs after reopen = %v, want [12 13]", seqs(got))
	}
}

func TestDuplicatesSkipped(t *testing.T) {
	ctx := context.Background()
	j, _ := openTemp(t, Options{})
	mustAppend(t, j, reading(meterA, 0, 1), reading(meterA, 1, 1))

	// Same key with other values and quality: still a duplicate, the first value wins.
	dup := reading(meterA, 1, 99)
	dup.Quality = meterdata.QualitySuspect
	got, skipped := mustAppend(t, j, dup, reading(meterA, 2, 1), reading(meterA, 2, 1), reading(meterB, 1, 1))
	if skipped != 2 || !reflect.DeepEqual(seqs(got), []uint64{3, 4}) {
		t.Fatalf("Append = seqs %v skipped %d, want [3 4] and 2", seqs(got), skipped)
	}
	if got[0].Reading.Meter != meterA || got[1].Reading.Meter != meterB {
		t.Fatalf("Append returned %+v", got)
	}
	got, skipped = mustAppend(t, j, reading(meterA, 0, 1))
	if skipped != 1 || len(got) != 0 {
		t.Fatalf("all-duplicate Append = %v, %d; want none, 1", seqs(got), skipped)
	}
	pend, _ := j.Pending(ctx, 0, 100)
	if !reflect.DeepEqual(seqs(pend), []uint64{1, 2, 3, 4}) {
		t.Fatalf("Pending = %v", seqs(pend))
	}
	if pend[1].Reading.Values["u_a"] != 100 || pend[1].Reading.Quality != 0 {
		t.Fatalf("duplicate overwrote the stored reading: %+v", pend[1].Reading)
	}
	if s := mustStats(t, j); s.LastSeq != 4 {
		t.Fatalf("LastSeq = %d, want 4 (skipped readings take no seq)", s.LastSeq)
	}
}

func TestInvalidBatchRefused(t *testing.T) {
	ctx := context.Background()
	j, _ := openTemp(t, Options{})
	bad := reading(meterB, 1, 1)
	bad.Values["volts"] = 1
	cases := []struct {
		name string
		r    meterdata.Reading
		want []string
	}{
		{"unknown channel", bad, []string{"reading 2 of 3", string(meterB), "instant", `unknown channel "volts"`}},
		{"bad kind", func() meterdata.Reading { r := reading(meterB, 1, 1); r.Kind = "hourly"; return r }(),
			[]string{"reading 2 of 3", string(meterB), `kind "hourly"`}},
		{"bad meter", func() meterdata.Reading { r := reading(meterB, 1, 1); r.Meter = "T1.bus1"; return r }(),
			[]string{"reading 2 of 3", `"T1.bus1"`, "instant"}},
		{"no values", func() meterdata.Reading { r := reading(meterB, 1, 1); r.Values = nil; return r }(),
			[]string{"reading 2 of 3", string(meterB), "instant", "no values"}},
		{"time out of range", func() meterdata.Reading { r := reading(meterB, 1, 1); r.Time = time.Time{}; return r }(),
			[]string{"reading 2 of 3", string(meterB), "instant", "outside"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, skipped, err := j.Append(ctx, []meterdata.Reading{reading(meterA, 0, 1), tc.r, reading(meterA, 2, 1)})
			if err == nil {
				t.Fatal("Append: want an error")
			}
			if !errors.Is(err, ErrInvalidReading) {
				t.Errorf("error %v does not match ErrInvalidReading", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if got != nil || skipped != 0 {
				t.Errorf("Append returned %v, %d with the error", got, skipped)
			}
			if s := mustStats(t, j); s.Entries != 0 || s.LastSeq != 0 {
				t.Errorf("Stats = %+v: part of the batch was appended", s)
			}
			if ok, _ := j.Has(ctx, reading(meterA, 0, 1).Key()); ok {
				t.Error("Has: the valid first reading of the refused batch was appended")
			}
		})
	}
}

func TestHasLastTimeSurviveCompaction(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: t0}
	j, _ := openTemp(t, Options{Now: clk.Now, KeepAcked: time.Minute})

	if _, ok, err := j.LastTime(ctx, meterA, meterdata.KindInstant); err != nil || ok {
		t.Fatalf("LastTime of an empty journal = %v, %v; want false", ok, err)
	}
	// Appended out of time order (a backfill): LastTime is the newest time, not the last appended.
	mustAppend(t, j, reading(meterA, 5, 1), reading(meterA, 3, 1))
	mustAppend(t, j, reading(meterA, 4, 1))
	daily := reading(meterA, 60, 1)
	daily.Kind = meterdata.KindDailyFrozen
	mustAppend(t, j, daily)

	want := t0.Add(5 * time.Minute)
	if got, ok, err := j.LastTime(ctx, meterA, meterdata.KindInstant); err != nil || !ok || !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("LastTime = %v, %v, %v; want %v UTC", got, ok, err, want)
	}
	if got, ok, _ := j.LastTime(ctx, meterA, meterdata.KindDailyFrozen); !ok || !got.Equal(daily.Time) {
		t.Fatalf("LastTime(daily) = %v, %v; want %v", got, ok, daily.Time)
	}
	if _, ok, _ := j.LastTime(ctx, meterB, meterdata.KindInstant); ok {
		t.Fatal("LastTime(meterB) = true, want false")
	}
	k := reading(meterA, 3, 1).Key()
	if ok, err := j.Has(ctx, k); err != nil || !ok {
		t.Fatalf("Has = %v, %v; want true", ok, err)
	}
	if ok, _ := j.Has(ctx, reading(meterA, 6, 1).Key()); ok {
		t.Fatal("Has(not journaled) = true")
	}

	if _, err := j.Ack(ctx, 1, 4); err != nil {
		t.Fatal(err)
	}
	// Acknowledged but not compacted yet: still there.
	if ok, _ := j.Has(ctx, k); !ok {
		t.Fatal("Has(acked) = false, want true")
	}
	clk.Advance(time.Hour)
	if res, err := j.Compact(ctx); err != nil || res.Expired != 4 {
		t.Fatalf("Compact = %+v, %v", res, err)
	}
	if ok, _ := j.Has(ctx, k); ok {
		t.Fatal("Has(compacted) = true, want false")
	}
	if got, ok, _ := j.LastTime(ctx, meterA, meterdata.KindInstant); !ok || !got.Equal(want) {
		t.Fatalf("LastTime after compaction = %v, %v; want %v", got, ok, want)
	}
	if got, ok, _ := j.LastTime(ctx, meterA, meterdata.KindDailyFrozen); !ok || !got.Equal(daily.Time) {
		t.Fatalf("LastTime(daily) after compaction = %v, %v", got, ok)
	}
}

func TestMaxEntriesDropPolicy(t *testing.T) {
	ctx := context.Background()
	j, _ := openTemp(t, Options{MaxEntries: 10})
	var rs []meterdata.Reading
	for i := range 15 {
		rs = append(rs, reading(meterA, i, int64(i)))
	}
	mustAppend(t, j, rs...)
	// Acknowledge 3 entries, not the oldest: acknowledged entries go first whatever their age.
	if _, err := j.Ack(ctx, 4, 6); err != nil {
		t.Fatal(err)
	}
	res, err := j.Compact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (CompactResult{Evicted: 3, Dropped: 2, Remaining: 10}); res != want {
		t.Fatalf("Compact = %+v, want %+v", res, want)
	}
	pend, _ := j.Pending(ctx, 0, 100)
	if want := append([]uint64{3}, seqRange(7, 15)...); !reflect.DeepEqual(seqs(pend), want) {
		t.Fatalf("Pending = %v, want %v (oldest unacked dropped)", seqs(pend), want)
	}
	s := mustStats(t, j)
	if s.Entries != 10 || s.Unacked != 10 || s.Dropped != 2 || s.LastAcked != 6 {
		t.Fatalf("Stats = %+v", s)
	}

	// Within the bound: nothing more happens; over again: Dropped accumulates.
	if res, _ := j.Compact(ctx); res != (CompactResult{Remaining: 10}) {
		t.Fatalf("Compact within the bound = %+v", res)
	}
	mustAppend(t, j, reading(meterA, 100, 1))
	if res, _ := j.Compact(ctx); res != (CompactResult{Dropped: 1, Remaining: 10}) {
		t.Fatalf("Compact = %+v, want 1 dropped", res)
	}
	if s := mustStats(t, j); s.Dropped != 3 {
		t.Fatalf("Stats.Dropped = %d, want 3", s.Dropped)
	}
}

func TestPendingCursor(t *testing.T) {
	ctx := context.Background()
	j, _ := openTemp(t, Options{})
	for i := range 10 {
		mustAppend(t, j, reading(meterA, i, int64(i)))
	}
	cases := []struct {
		after uint64
		limit int
		want  []uint64
	}{
		{0, 4, []uint64{1, 2, 3, 4}},
		{4, 4, []uint64{5, 6, 7, 8}},
		{8, 4, []uint64{9, 10}},
		{10, 4, nil},
		{1 << 63, 4, nil},
		{^uint64(0), 4, nil},
	}
	for _, tc := range cases {
		got, err := j.Pending(ctx, tc.after, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(seqs(got), tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("Pending(%d, %d) = %v, want %v", tc.after, tc.limit, seqs(got), tc.want)
		}
	}
	if _, err := j.Pending(ctx, 0, 0); err == nil {
		t.Error("Pending(limit 0): want an error")
	}
	// Acknowledged entries in the middle are skipped; order stays by seq.
	if _, err := j.Ack(ctx, 2, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Ack(ctx, 6, ^uint64(0)-1); err != nil {
		t.Fatal(err)
	}
	got, _ := j.Pending(ctx, 0, 100)
	if want := []uint64{1, 4, 5}; !reflect.DeepEqual(seqs(got), want) {
		t.Errorf("Pending after acks = %v, want %v", seqs(got), want)
	}
	if s := mustStats(t, j); s.LastAcked != 10 {
		t.Errorf("LastAcked = %d, want 10 (not the requested upper bound)", s.LastAcked)
	}
}

func TestConcurrentAppend(t *testing.T) {
	ctx := context.Background()
	j, _ := openTemp(t, Options{})
	const workers, batches = 6, 20
	var (
		mu  sync.Mutex
		all []uint64
		wg  sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			m := meterdata.MeterID(fmt.Sprintf("T1.bus%d.%d", w, w+1))
			for b := range batches {
				n := 1 + b%3
				var rs []meterdata.Reading
				for i := range n {
					rs = append(rs, reading(m, b*10+i, int64(b)))
				}
				got, skipped, err := j.Append(ctx, rs)
				if err != nil || skipped != 0 || len(got) != n {
					t.Errorf("Append: %d appended, %d skipped, %v", len(got), skipped, err)
					return
				}
				// Seqs of one batch are contiguous and increasing.
				for i := 1; i < len(got); i++ {
					if got[i].Seq != got[i-1].Seq+1 {
						t.Errorf("batch seqs not contiguous: %v", seqs(got))
					}
				}
				// Readers run concurrently with the writers.
				if _, err := j.Has(ctx, rs[0].Key()); err != nil {
					t.Error(err)
				}
				if _, err := j.Stats(ctx); err != nil {
					t.Error(err)
				}
				mu.Lock()
				all = append(all, seqs(got)...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(all)
	total := uint64(len(all))
	if want := seqRange(1, total); !reflect.DeepEqual(all, want) {
		t.Fatalf("seqs are not the contiguous set 1..%d: %v", total, all)
	}
	pend, _ := j.Pending(ctx, 0, 1000)
	if !reflect.DeepEqual(seqs(pend), all) {
		t.Fatalf("Pending = %v", seqs(pend))
	}
}

func TestOpenOptionsAndForeignFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		path string
		opt  Options
	}{
		{"negative MaxEntries", filepath.Join(dir, "a.db"), Options{MaxEntries: -1}},
		{"negative KeepAcked", filepath.Join(dir, "a.db"), Options{KeepAcked: -time.Second}},
		{"query in path", filepath.Join(dir, "a.db?mode=ro"), Options{}},
		{"memory", ":memory:", Options{}},
		{"missing directory", filepath.Join(dir, "nope", "a.db"), Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if j, err := Open(ctx, tc.path, tc.opt); err == nil {
				j.Close()
				t.Fatal("Open: want an error")
			}
		})
	}

	t.Run("other sqlite database", func(t *testing.T) {
		j, path := openTemp(t, Options{})
		if _, err := j.db.ExecContext(ctx, "PRAGMA application_id = 42"); err != nil {
			t.Fatal(err)
		}
		j.Close()
		_, err := Open(ctx, path, Options{})
		if err == nil || !strings.Contains(err.Error(), "not a gridmeter journal") {
			t.Fatalf("Open = %v, want a refusal", err)
		}
		if errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open = %v: a foreign file is not corrupt", err)
		}
	})
}

// TestDurabilitySettings pins the settings the durability argument of doc.go rests on.
func TestDurabilitySettings(t *testing.T) {
	j, _ := openTemp(t, Options{})
	for _, tc := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"application_id", fmt.Sprint(applicationID)},
		{"user_version", fmt.Sprint(schemaVersion)},
	} {
		var got string
		if err := j.db.QueryRowContext(context.Background(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
		}
	}
}
