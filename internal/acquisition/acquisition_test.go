package acquisition

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"gridmeter/internal/journal"
	"gridmeter/internal/meterdata"
)

// busReader plays the meters of one bus: each read takes delay (virtual time) and returns
// a value derived from the read count; addresses in fail never answer.
type busReader struct {
	delay time.Duration
	fail  map[string]bool
	mu    sync.Mutex
	calls map[string]int
}

func (b *busReader) ReadInstant(ctx context.Context, addr string) (map[string]int64, error) {
	b.mu.Lock()
	if b.calls == nil {
		b.calls = map[string]int{}
	}
	b.calls[addr]++
	n := b.calls[addr]
	b.mu.Unlock()
	select {
	case <-time.After(b.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if b.fail[addr] {
		return nil, errors.New("timeout, no reply")
	}
	return map[string]int64{"p": int64(n) * 1000, "u_a": 230000}, nil
}

func (b *busReader) count(addr string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[addr]
}

func meters(t *testing.T, bus string, addrs ...string) []meterdata.Meter {
	t.Helper()
	var ms []meterdata.Meter
	for _, a := range addrs {
		id, err := meterdata.NewMeterID("T1", bus, a)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, meterdata.Meter{ID: id, Terminal: "T1", Bus: bus, Address: a, Protocol: meterdata.ProtocolDLT645})
	}
	return ms
}

// runFor runs a scheduler over the buses until d has passed (virtual time in synctest).
func runFor(t *testing.T, buses []Bus, j Journal, opt Options, d time.Duration) *Scheduler {
	t.Helper()
	s, err := New(buses, j, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	s.Run(ctx)
	return s
}

func openJournal(t *testing.T, dir string) *journal.Journal {
	t.Helper()
	j, err := journal.Open(context.Background(), filepath.Join(dir, "j.db"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// journaled returns the slot times journaled for a meter.
func journaled(t *testing.T, j *journal.Journal, id meterdata.MeterID) []time.Time {
	t.Helper()
	es, err := j.Pending(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var ts []time.Time
	for _, e := range es {
		if e.Reading.Meter == id {
			ts = append(ts, e.Reading.Time)
		}
	}
	return ts
}

func TestPollsEverySlotOnce(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, dir)
		defer j.Close()
		rd := &busReader{delay: 200 * time.Millisecond}
		ms := meters(t, "bus1", "000000000001", "000000000002", "000000000003")
		start := time.Now()
		s := runFor(t, []Bus{{Name: "bus1", Reader: rd, Meters: ms}}, j, Options{Interval: 10 * time.Second}, 35*time.Second)

		first := start.Truncate(10 * time.Second)
		for _, m := range ms {
			got := journaled(t, j, m.ID)
			if len(got) != 4 {
				t.Fatalf("meter %s: %d readings, want 4 (slots at 0, 10, 20, 30 s): %v", m.ID, len(got), got)
			}
			for i, ts := range got {
				if want := first.Add(time.Duration(i) * 10 * time.Second); !ts.Equal(want) {
					t.Errorf("meter %s reading %d at %s, want slot %s", m.ID, i, ts, want)
				}
			}
		}
		if st := s.Stats(); st.Reads != 12 || st.Failures != 0 || st.Overruns != 0 {
			t.Fatalf("stats %+v, want 12 reads, no failures, no overruns", st)
		}
	})
}

func TestRestartWithinSlotDoesNotReadAgain(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, dir)
		defer j.Close()
		ms := meters(t, "bus1", "000000000001", "000000000002")
		// The previous run journaled meter 1 for the current slot before it died.
		slot := time.Now().Truncate(time.Minute)
		if _, _, err := j.Append(context.Background(), []meterdata.Reading{{Meter: ms[0].ID, Kind: meterdata.KindInstant, Time: slot, Values: map[string]int64{"p": 1}}}); err != nil {
			t.Fatal(err)
		}
		rd := &busReader{delay: 100 * time.Millisecond}
		runFor(t, []Bus{{Name: "bus1", Reader: rd, Meters: ms}}, j, Options{Interval: time.Minute}, 30*time.Second)
		if n := rd.count("000000000001"); n != 0 {
			t.Fatalf("meter 1 read %d times in a slot it already had", n)
		}
		if n := rd.count("000000000002"); n != 1 {
			t.Fatalf("meter 2 read %d times, want 1", n)
		}
		if got := journaled(t, j, ms[0].ID); len(got) != 1 {
			t.Fatalf("meter 1 has %d readings for the slot, want 1", len(got))
		}
	})
}

func TestSilentMeterDoesNotStopTheBus(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, dir)
		defer j.Close()
		ms := meters(t, "bus1", "000000000001", "000000000002", "000000000003")
		rd := &busReader{delay: 100 * time.Millisecond, fail: map[string]bool{"000000000002": true}}
		s := runFor(t, []Bus{{Name: "bus1", Reader: rd, Meters: ms}}, j, Options{Interval: 10 * time.Second}, 25*time.Second)
		if got := len(journaled(t, j, ms[2].ID)); got != 3 {
			t.Fatalf("meter 3 behind the silent meter: %d readings, want 3", got)
		}
		if got := len(journaled(t, j, ms[1].ID)); got != 0 {
			t.Fatalf("silent meter has %d readings", got)
		}
		st, _ := s.Meter(ms[1].ID)
		if st.Failures != 3 || st.LastError == "" {
			t.Fatalf("silent meter state %+v, want 3 failures with the error", st)
		}
	})
}

func TestLateStartIsNoOverrun(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, dir)
		defer j.Close()
		// Start 9.5 s into a 10 s slot; the 2 s cycle runs into the next slot without being
		// longer than the interval.
		time.Sleep(time.Until(time.Now().Truncate(10 * time.Second).Add(9500 * time.Millisecond)))
		rd := &busReader{delay: time.Second}
		s := runFor(t, []Bus{{Name: "bus1", Reader: rd, Meters: meters(t, "bus1", "000000000001", "000000000002")}}, j,
			Options{Interval: 10 * time.Second}, 25*time.Second)
		if st := s.Stats(); st.Overruns != 0 {
			t.Fatalf("late start counted as overrun: %+v", st)
		}
	})
}

func TestOverrunNamesTheBusAndCatchesUp(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, dir)
		defer j.Close()
		slow := &busReader{delay: 4 * time.Second} // 3 meters × 4 s > 10 s interval
		fast := &busReader{delay: 100 * time.Millisecond}
		s := runFor(t, []Bus{
			{Name: "slow", Reader: slow, Meters: meters(t, "slow", "000000000001", "000000000002", "000000000003")},
			{Name: "fast", Reader: fast, Meters: meters(t, "fast", "000000000001")},
		}, j, Options{Interval: 10 * time.Second},
			55*time.Second) // ends between slots: at exactly 60 s the next slot and the deadline would tie
		if st := s.Stats(); st.Overruns == 0 {
			t.Fatalf("no overrun counted: %+v", st)
		}
		// The fast bus is not held back by the slow one: one reading per slot.
		if got := fast.count("000000000001"); got != 6 {
			t.Fatalf("fast bus meter read %d times in 55 s, want 6 (slots 0, 10, ... 50 s)", got)
		}
	})
}

// frozenMeter plays a meter's freeze memory: one freeze per day at 00:00 UTC, depth days,
// the latest at today's midnight; values count the days.
type frozenMeter struct {
	busReader
	depth int
	reads int
	fail  bool
}

func (f *frozenMeter) ReadDailyFrozen(ctx context.Context, addr string, n int) (time.Time, map[string]int64, error) {
	f.reads++
	if f.fail {
		return time.Time{}, nil, errors.New("timeout")
	}
	if n > f.depth {
		return time.Time{}, nil, fmt.Errorf("meter %s: %w", addr, ErrNoRecord)
	}
	at := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -(n - 1))
	return at, map[string]int64{"e_imp": at.Unix() / 86400}, nil
}

func frozenTimes(t *testing.T, j *journal.Journal, id meterdata.MeterID) []meterdata.Reading {
	t.Helper()
	es, err := j.Pending(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []meterdata.Reading
	for _, e := range es {
		if e.Reading.Meter == id && e.Reading.Kind == meterdata.KindDailyFrozen {
			out = append(out, e.Reading)
		}
	}
	return out
}

func TestFrozenCatchUpAfterOutage(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, dir)
		defer j.Close()
		ms := meters(t, "bus1", "000000000001")
		rd := &frozenMeter{depth: 62}
		opt := Options{Interval: time.Minute, FrozenInterval: time.Hour}
		run := func(d time.Duration) *Scheduler {
			return runFor(t, []Bus{{Name: "bus1", Reader: rd, Meters: ms}}, j, opt, d)
		}
		run(30 * time.Second) // first run: only the latest freeze
		if got := frozenTimes(t, j, ms[0].ID); len(got) != 1 {
			t.Fatalf("first run journaled %d freezes, want 1", len(got))
		}
		// The terminal is down for 3 days; the meter keeps freezing at midnight.
		time.Sleep(3 * 24 * time.Hour)
		s := run(30 * time.Second)
		got := frozenTimes(t, j, ms[0].ID)
		if len(got) != 4 {
			t.Fatalf("after a 3-day outage %d freezes journaled, want 4", len(got))
		}
		for i := 1; i < 4; i++ {
			if d := got[i].Time.Sub(got[i-1].Time); d != 24*time.Hour {
				t.Fatalf("freezes not consecutive days, oldest first: %v then %v", got[i-1].Time, got[i].Time)
			}
		}
		for _, r := range got[1:3] {
			if r.Quality != meterdata.QualityBackfilled {
				t.Errorf("freeze of %s recovered after the outage has quality %v, want backfilled", r.Time, r.Quality.Strings())
			}
		}
		if st := s.Stats(); st.Frozen != 3 || st.FrozenGaps != 0 {
			t.Fatalf("stats %+v: want 3 frozen, no gap", st)
		}
		// A second pass within the interval reads nothing new.
		before := rd.reads
		run(30 * time.Second)
		if len(frozenTimes(t, j, ms[0].ID)) != 4 || rd.reads != before+1 {
			t.Fatalf("an up-to-date meter: %d reads (want 1: the latest, already journaled)", rd.reads-before)
		}
	})
}

func TestFrozenBeyondMemoryIsAGap(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, dir)
		defer j.Close()
		ms := meters(t, "bus1", "000000000001")
		rd := &frozenMeter{depth: 5}
		opt := Options{Interval: time.Minute, FrozenInterval: time.Hour, FrozenDepth: 5}
		run := func() *Scheduler {
			return runFor(t, []Bus{{Name: "bus1", Reader: rd, Meters: ms}}, j, opt, 30*time.Second)
		}
		run()
		time.Sleep(10 * 24 * time.Hour) // down longer than the meter remembers
		s := run()
		if got := len(frozenTimes(t, j, ms[0].ID)); got != 6 {
			t.Fatalf("%d freezes journaled, want 1 + the 5 the meter still had", got)
		}
		if s.Stats().FrozenGaps != 1 {
			t.Fatalf("gap not counted: %+v", s.Stats())
		}
		// The gap is an event for the head-end, naming the range lost.
		es, err := j.EventsToSend(context.Background(), 10)
		if err != nil || len(es) != 1 || es[0].Log != journal.LogAcquisition || es[0].Code != journal.CodeGapDailyFrozen ||
			es[0].Data["to_ms"]-es[0].Data["from_ms"] != int64(6*24*time.Hour/time.Millisecond) || es[0].Detail == "" {
			t.Fatalf("gap event: %+v, %v", es, err)
		}
		// A failing read journals nothing (not even the newer freezes): retried next pass.
		time.Sleep(24 * time.Hour)
		rd.fail = true
		run()
		if got := len(frozenTimes(t, j, ms[0].ID)); got != 6 {
			t.Fatalf("a failed pass journaled something: %d", got)
		}
	})
}

// countingReader counts reads in progress across buses.
type countingReader struct {
	now, max *atomic.Int32
}

func (c countingReader) ReadInstant(ctx context.Context, addr string) (map[string]int64, error) {
	n := c.now.Add(1)
	for {
		m := c.max.Load()
		if n <= m || c.max.CompareAndSwap(m, n) {
			break
		}
	}
	defer c.now.Add(-1)
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return map[string]int64{"p": 1}, nil
}

func TestRemoteBusesAreBounded(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, dir)
		defer j.Close()
		var now, peak atomic.Int32
		var buses []Bus
		for i := 0; i < 10; i++ {
			name := fmt.Sprintf("tcp%d", i)
			buses = append(buses, Bus{Name: name, Remote: true, Reader: countingReader{&now, &peak}, Meters: meters(t, name, "000000000001")})
		}
		runFor(t, buses, j, Options{Interval: 10 * time.Second, RemoteConcurrency: 2}, 9500*time.Millisecond)
		if got := peak.Load(); got != 2 {
			t.Fatalf("%d remote buses read at once, want the bound 2", got)
		}
		for _, b := range buses {
			if got := journaled(t, j, b.Meters[0].ID); len(got) != 1 || !got[0].Equal(time.Now().Truncate(10*time.Second)) {
				t.Fatalf("bus %s: readings at %v, want one in the first slot", b.Name, got)
			}
		}
	})
}

// TestRemoteBusesParkBetweenCycles checks that Remote buses hold no goroutine between
// their cycles nor while they wait for a turn (a thousand TCP meters' stacks would
// dominate a terminal's memory), that a command for a waiting bus still runs at once,
// and that every slot is read once.
func TestRemoteBusesParkBetweenCycles(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, dir)
		defer j.Close()
		var now, peak atomic.Int32
		var buses []Bus
		for i := range 20 {
			name := fmt.Sprintf("tcp%d", i)
			buses = append(buses, Bus{Name: name, Remote: true, Reader: countingReader{&now, &peak}, Meters: meters(t, name, "000000000001")})
		}
		s, err := New(buses, j, Options{Interval: time.Minute, RemoteConcurrency: 2})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(time.Now().Truncate(time.Minute).Add(time.Minute))) // a slot boundary
		first := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()

		// 20 buses, 2 at a time, 1 s a read: the cycle takes 10 s.
		time.Sleep(4500 * time.Millisecond)
		synctest.Wait()
		if n := busGoroutines(); n != 2 {
			t.Errorf("mid-cycle: %d bus goroutines, want the 2 buses reading", n)
		}
		start := time.Now()
		err = s.Exec(context.Background(), buses[19].Meters[0].ID, func(ctx context.Context, _ MeterReader) error {
			time.Sleep(200 * time.Millisecond)
			return nil
		})
		if waited := time.Since(start); err != nil || waited != 200*time.Millisecond {
			t.Fatalf("command for a bus waiting for its turn: %v after %s, want nil after its own 200ms", err, waited)
		}

		time.Sleep(first.Add(45 * time.Second).Sub(time.Now())) // the cycle is over
		synctest.Wait()
		if n := busGoroutines(); n != 0 {
			t.Errorf("between cycles: %d bus goroutines, want none", n)
		}
		time.Sleep(first.Add(2*time.Minute + 30*time.Second).Sub(time.Now()))
		cancel()
		<-done
		if got := peak.Load(); got != 2 {
			t.Errorf("%d remote buses read at once, want the bound 2", got)
		}
		for _, b := range buses {
			got := journaled(t, j, b.Meters[0].ID)
			if len(got) != 3 {
				t.Fatalf("bus %s: readings at %v, want one in each of the 3 slots", b.Name, got)
			}
			for i, ts := range got {
				if want := first.Add(time.Duration(i) * time.Minute); !ts.Equal(want) {
					t.Errorf("bus %s reading %d at %s, want slot %s", b.Name, i, ts, want)
				}
			}
		}
	})
}

// busGoroutines counts the goroutines running a bus (runBus on their stack).
func busGoroutines() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "acquisition.(*Scheduler).runBus(")
}
