package acquisition

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"gridmeter/internal/journal"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/metersim"
)

var cst = time.FixedZone("CST", 8*3600)

// profileMeter plays a meter that answers instant reads (unless silent then) and keeps a
// load profile: a record every period from keptFrom on, up to now, except in holes (the
// meter was off); a record carries p = its Unix minute. Its records' times are in the
// meter's zone (UTC+8).
type profileMeter struct {
	period   time.Duration
	keptFrom time.Time
	holes    []slotRun
	invalid  map[int64]bool // Unix seconds of the records flagged invalid
	silent   func(now time.Time) bool

	mu        sync.Mutex
	fail      bool
	requests  []string    // "from/count" of every load-profile request
	onRequest func(n int) // called with the request's number (from 1), unlocked
}

func (p *profileMeter) ReadInstant(ctx context.Context, addr string) (map[string]int64, error) {
	if p.silent != nil && p.silent(time.Now()) {
		return nil, fmt.Errorf("meter %s: timeout, no reply", addr)
	}
	return map[string]int64{"u_a": 230000}, nil
}

func (p *profileMeter) ReadLoadProfile(ctx context.Context, addr string, from time.Time, count int) ([]LoadRecord, error) {
	p.mu.Lock()
	p.requests = append(p.requests, fmt.Sprintf("%s/%d", from.UTC().Format("02T15:04"), count))
	if f := p.onRequest; f != nil {
		n := len(p.requests)
		p.mu.Unlock()
		f(n)
		p.mu.Lock()
	}
	defer p.mu.Unlock()
	if p.fail {
		return nil, fmt.Errorf("meter %s: read 06000001: timeout", addr)
	}
	if count < 1 || count > 99 {
		return nil, fmt.Errorf("meter %s: %d records asked", addr, count)
	}
	t := from.Truncate(time.Minute) // the request's time has minutes
	if !t.Equal(t.Truncate(p.period)) {
		t = t.Truncate(p.period).Add(p.period)
	}
	if t.Before(p.keptFrom) {
		t = p.keptFrom
	}
	var out []LoadRecord
	for now := time.Now(); !t.After(now) && len(out) < count; t = t.Add(p.period) {
		switch {
		case p.inHole(t):
		case p.invalid[t.Unix()]:
			out = append(out, LoadRecord{})
		default:
			out = append(out, LoadRecord{Time: t.In(cst), Values: map[string]int64{"p": t.Unix() / 60, "e_imp": 1000}})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("meter %s: read 06000001: %w", addr, ErrNoRecord)
	}
	return out, nil
}

func (p *profileMeter) inHole(t time.Time) bool {
	for _, h := range p.holes {
		if !t.Before(h.from) && !t.After(h.to) {
			return true
		}
	}
	return false
}

func (p *profileMeter) asked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

// live journals an instant reading for slot, as a cycle would.
func live(t *testing.T, j *journal.Journal, id meterdata.MeterID, slot time.Time) {
	t.Helper()
	if _, _, err := j.Append(context.Background(), []meterdata.Reading{{Meter: id, Kind: meterdata.KindInstant, Time: slot, Values: map[string]int64{"u_a": 230000}}}); err != nil {
		t.Fatal(err)
	}
}

func backfilled(rs []meterdata.Reading) []meterdata.Reading {
	var out []meterdata.Reading
	for _, r := range rs {
		if r.Quality == meterdata.QualityBackfilled {
			out = append(out, r)
		}
	}
	return out
}

// slots returns the slots from, from+iv, … up to to, leaving out those in skip.
func slots(from, to time.Time, iv time.Duration, skip ...time.Time) []time.Time {
	var out []time.Time
next:
	for t := from; !t.After(to); t = t.Add(iv) {
		for _, s := range skip {
			if s.Equal(t) {
				continue next
			}
		}
		out = append(out, t)
	}
	return out
}

func timesOf(rs []meterdata.Reading) []time.Time {
	out := make([]time.Time, len(rs))
	for i, r := range rs {
		out[i] = r.Time
	}
	return out
}

func sameTimes(a, b []time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

const quarter = 15 * time.Minute

func TestLoadProfileBackfillsAnOutage(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		j := openJournal(t, dir)
		defer j.Close()
		ms := meters(t, "bus1", "000000000001")
		id := ms[0].ID
		t0 := time.Now() // 2000-01-01 00:00 UTC
		rd := &profileMeter{period: quarter, holes: []slotRun{{t0.Add(3 * time.Hour), t0.Add(3*time.Hour + 30*time.Minute)}}}
		for i := range 8 { // a previous run read 00:00…01:45
			live(t, j, id, t0.Add(time.Duration(i)*quarter))
		}
		time.Sleep(6*time.Hour + 30*time.Second) // the terminal was down until 06:00

		var logs strings.Builder
		b := Bus{Name: "bus1", Reader: rd, Meters: ms}
		s, r, c := newPassScheduler(t, j, b, Options{Interval: quarter, Logger: slogTo(&logs)}, MemoryOptions{LoadProfileDepth: 7 * 24 * time.Hour})
		if r.profiles == nil {
			t.Fatal("load-profile pass off")
		}
		slot := time.Now().Truncate(quarter)
		live(t, j, id, slot) // the first cycle after the restart
		s.loadProfilePass(ctx, b, rd, slot, r)

		hole := []time.Time{t0.Add(3 * time.Hour), t0.Add(3*time.Hour + quarter), t0.Add(3*time.Hour + 2*quarter)}
		want := slots(t0.Add(2*time.Hour), t0.Add(5*time.Hour+45*time.Minute), quarter, hole...)
		got := backfilled(readingsOf(t, j, id, meterdata.KindInstant))
		if !sameTimes(timesOf(got), want) {
			t.Fatalf("backfilled slots %v, want %v", timesOf(got), want)
		}
		for _, r := range got {
			if r.Values["p"] != r.Time.Unix()/60 || len(r.Values) != 2 {
				t.Fatalf("reading of %s carries %v, not its record's channels", r.Time, r.Values)
			}
		}
		if g, l := c.profileBackfilled.Load(), c.profileGaps.Load(); g != uint64(len(want)) || l != 3 {
			t.Fatalf("counters: %d backfilled, %d lost; want %d, 3", g, l, len(want))
		}
		if log := logs.String(); !strings.Contains(log, "meter="+string(id)) || !strings.Contains(log, "from=2000-01-01T03:00:00.000Z") ||
			!strings.Contains(log, "to=2000-01-01T03:30:00.000Z") || !strings.Contains(log, "slots=3") {
			t.Errorf("the gap is not logged with the meter and the range:\n%s", log)
		}
		if es := gapEvents(t, j, journal.CodeGapLoadProfile); len(es) != 1 || es[0].Meter != id ||
			es[0].Data["from_ms"] != t0.Add(2*time.Hour+45*time.Minute).UnixMilli() || es[0].Data["to_ms"] != t0.Add(3*time.Hour+45*time.Minute).UnixMilli() {
			t.Errorf("gap events %+v, want one between 02:45 and 03:45 (exclusive)", es)
		}
		if got := rd.asked(); len(got) != 1 || got[0] != "01T02:00/16" {
			t.Errorf("requests %v, want one of 16 records from 02:00", got)
		}

		// The next cycle finds nothing missed: no request.
		time.Sleep(quarter)
		live(t, j, id, slot.Add(quarter))
		s.loadProfilePass(ctx, b, rd, slot.Add(quarter), r)
		if got := rd.asked(); len(got) != 1 || c.profileBackfilled.Load() != uint64(len(want)) || c.profileGaps.Load() != 3 {
			t.Errorf("an up-to-date meter: requests %v, counters %d, %d", got, c.profileBackfilled.Load(), c.profileGaps.Load())
		}
	})
}

func TestLoadProfileDepthAndMemoryLimits(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, dir)
		defer j.Close()
		ms := meters(t, "bus1", "000000000001")
		t0 := time.Now()
		live(t, j, ms[0].ID, t0)
		// The meter keeps its load profile from 2 January 12:00 on; the terminal recovers one day.
		rd := &profileMeter{period: quarter, keptFrom: t0.Add(36 * time.Hour)}
		time.Sleep(48*time.Hour + 30*time.Second)
		var logs strings.Builder
		b := Bus{Name: "bus1", Reader: rd, Meters: ms}
		s, r, c := newPassScheduler(t, j, b, Options{Interval: quarter, Logger: slogTo(&logs)}, MemoryOptions{LoadProfileDepth: 24 * time.Hour})
		slot := time.Now().Truncate(quarter)
		live(t, j, ms[0].ID, slot)
		s.loadProfilePass(context.Background(), b, rd, slot, r)

		want := slots(t0.Add(36*time.Hour), slot.Add(-quarter), quarter)
		if got := backfilled(readingsOf(t, j, ms[0].ID, meterdata.KindInstant)); !sameTimes(timesOf(got), want) {
			t.Fatalf("backfilled %d slots %v…, want the %d the meter kept", len(got), timesOf(got)[:min(3, len(got))], len(want))
		}
		// 95 slots older than a day (1 January 00:15…23:45), 48 the meter no longer has.
		if g, l := c.profileBackfilled.Load(), c.profileGaps.Load(); g != 48 || l != 95+48 {
			t.Fatalf("counters: %d backfilled, %d lost; want 48, 143", g, l)
		}
		for _, why := range []string{"older than the load-profile depth", "not kept in the meter's load profile"} {
			if !strings.Contains(logs.String(), why) {
				t.Errorf("no gap logged %q:\n%s", why, logs.String())
			}
		}
		if es := gapEvents(t, j, journal.CodeGapLoadProfile); len(es) != 2 {
			t.Errorf("gap events %+v, want two (beyond the depth, not kept)", es)
		}
		if got := rd.asked(); len(got) != 1 || got[0] != "02T00:00/96" {
			t.Errorf("requests %v, want one from 2 January 00:00 (the depth)", got)
		}
	})
}

func TestLoadProfileSkipsJournaledSlots(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, dir)
		defer j.Close()
		ms := meters(t, "bus1", "000000000001")
		id := ms[0].ID
		t0 := time.Now()
		live(t, j, id, t0)
		rd := &profileMeter{period: quarter}
		b := Bus{Name: "bus1", Reader: rd, Meters: ms}
		s, r, c := newPassScheduler(t, j, b, Options{Interval: quarter}, MemoryOptions{LoadProfileDepth: 24 * time.Hour})
		// Cycles read the meter at 01:00 and 02:00 only; passes did not run meanwhile.
		time.Sleep(3*time.Hour + time.Second)
		live(t, j, id, t0.Add(time.Hour))
		live(t, j, id, t0.Add(2*time.Hour))
		slot := t0.Add(3 * time.Hour)
		live(t, j, id, slot)
		s.loadProfilePass(context.Background(), b, rd, slot, r)

		if got, want := rd.asked(), []string{"01T00:15/3", "01T01:15/3", "01T02:15/3"}; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("requests %v, want %v: the runs of missed slots only", got, want)
		}
		all := readingsOf(t, j, id, meterdata.KindInstant)
		if want := slots(t0, slot, quarter); !sameTimes(sortedTimes(all), want) || len(backfilled(all)) != 9 {
			t.Fatalf("journaled %v (%d backfilled), want every slot once, 9 backfilled", sortedTimes(all), len(backfilled(all)))
		}
		if c.profileGaps.Load() != 0 {
			t.Fatalf("%d slots lost, want none", c.profileGaps.Load())
		}
	})
}

func sortedTimes(rs []meterdata.Reading) []time.Time {
	ts := timesOf(rs)
	for i := 1; i < len(ts); i++ {
		for k := i; k > 0 && ts[k].Before(ts[k-1]); k-- {
			ts[k], ts[k-1] = ts[k-1], ts[k]
		}
	}
	return ts
}

func TestLoadProfileRetriesAndBoundsItsWork(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		j := openJournal(t, dir)
		defer j.Close()
		ms := meters(t, "bus1", "000000000001")
		id := ms[0].ID
		t0 := time.Now()
		live(t, j, id, t0)
		rd := &profileMeter{period: quarter, fail: true}
		b := Bus{Name: "bus1", Reader: rd, Meters: ms}
		s, r, c := newPassScheduler(t, j, b, Options{Interval: quarter}, MemoryOptions{LoadProfileDepth: 7 * 24 * time.Hour})
		time.Sleep(6*24*time.Hour + time.Second) // 6 days down: 575 slots missed
		pass := func() {
			slot := time.Now().Truncate(quarter)
			live(t, j, id, slot)
			s.loadProfilePass(ctx, b, rd, slot, r)
			time.Sleep(quarter)
		}
		pass()
		if st, _ := s.Meter(id); st.Failures != 1 || !strings.Contains(st.LastError, "load profile: 96 records from 2000-01-01T00:15:00Z") {
			t.Fatalf("a failed read: meter state %+v", st)
		}
		if c.profileBackfilled.Load() != 0 || c.profileGaps.Load() != 0 || !r.profileDone[id].Equal(t0) {
			t.Fatalf("a failed read moved on: %d backfilled, %d lost, done %s", c.profileBackfilled.Load(), c.profileGaps.Load(), r.profileDone[id])
		}
		rd.fail = false
		pass()
		if got := c.profileBackfilled.Load(); got != loadProfileBatchesPerPass*loadProfileBatch {
			t.Fatalf("%d backfilled after one cycle, want %d (the bound)", got, loadProfileBatchesPerPass*loadProfileBatch)
		}
		pass()
		if got := c.profileBackfilled.Load(); got != 575 || c.profileGaps.Load() != 0 {
			t.Fatalf("%d backfilled, %d lost after the next cycle, want 575, 0", got, c.profileGaps.Load())
		}
		if n := len(rd.asked()); n != 1+4+2 {
			t.Fatalf("%d requests, want 7 (1 failed, 4, 2)", n)
		}
		if got := len(readingsOf(t, j, id, meterdata.KindInstant)); got != 1+575+3 {
			t.Fatalf("%d instant readings, want every slot once (%d)", got, 1+575+3)
		}
	})
}

func TestLoadProfileInvalidRecordsAndNewMeters(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, dir)
		defer j.Close()
		ms := meters(t, "bus1", "000000000001", "000000000002", "000000000003")
		t0 := time.Now()
		live(t, j, ms[0].ID, t0)
		live(t, j, ms[2].ID, t0)
		rd := &profileMeter{period: quarter, invalid: map[int64]bool{t0.Add(time.Hour).Unix(): true}}
		time.Sleep(time.Hour)
		b := Bus{Name: "bus1", Reader: rd, Meters: ms}
		// Meter 2 was never read: it starts now. Meter 3 did not answer this cycle.
		s, r, c := newPassScheduler(t, j, b, Options{Interval: quarter}, MemoryOptions{LoadProfileDepth: 24 * time.Hour})
		time.Sleep(time.Hour + time.Second)
		slot := t0.Add(2 * time.Hour)
		live(t, j, ms[0].ID, slot)
		live(t, j, ms[1].ID, slot)
		s.commEvent(context.Background(), ms[2].ID, true)
		s.loadProfilePass(context.Background(), b, rd, slot, r)

		want := slots(t0.Add(quarter), slot.Add(-quarter), quarter, t0.Add(time.Hour))
		if got := backfilled(readingsOf(t, j, ms[0].ID, meterdata.KindInstant)); !sameTimes(timesOf(got), want) {
			t.Fatalf("meter 1 backfilled %v, want %v (the invalid record left out)", timesOf(got), want)
		}
		if got := backfilled(readingsOf(t, j, ms[1].ID, meterdata.KindInstant)); len(got) != 3 {
			t.Fatalf("meter 2, new at 01:00, backfilled %v, want 01:15…01:45 (01:00 invalid)", timesOf(got))
		}
		if got := backfilled(readingsOf(t, j, ms[2].ID, meterdata.KindInstant)); len(got) != 0 {
			t.Fatalf("silent meter 3 backfilled %v", timesOf(got))
		}
		if c.profileGaps.Load() != 2 {
			t.Fatalf("%d slots lost, want 2 (the invalid record of each meter)", c.profileGaps.Load())
		}
		if got := rd.asked(); len(got) != 2 {
			t.Fatalf("requests %v, want one for meter 1 and one for meter 2", got)
		}
	})
}

func TestLoadProfileNeedsIntervalMultipleOfPeriod(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, dir)
		defer j.Close()
		ms := meters(t, "bus1", "000000000001")
		rd := &profileMeter{period: quarter}
		b := Bus{Name: "bus1", Reader: rd, Meters: ms}
		var logs strings.Builder
		_, r, _ := newPassScheduler(t, j, b, Options{Interval: time.Minute, Logger: slogTo(&logs)}, MemoryOptions{LoadProfileDepth: time.Hour})
		if r.profiles != nil || !strings.Contains(logs.String(), "load-profile backfill off") {
			t.Fatalf("1-minute slots with 15-minute records: backfill on, log %q", logs.String())
		}

		// 30-minute slots: every other record stands for a slot, the others are not read into any.
		t0 := time.Now()
		live(t, j, ms[0].ID, t0)
		s, r, c := newPassScheduler(t, j, b, Options{Interval: 30 * time.Minute}, MemoryOptions{LoadProfileDepth: 24 * time.Hour})
		time.Sleep(3*time.Hour + time.Second)
		slot := t0.Add(3 * time.Hour)
		live(t, j, ms[0].ID, slot)
		s.loadProfilePass(context.Background(), b, rd, slot, r)
		want := slots(t0.Add(30*time.Minute), slot.Add(-30*time.Minute), 30*time.Minute)
		if got := backfilled(readingsOf(t, j, ms[0].ID, meterdata.KindInstant)); !sameTimes(timesOf(got), want) || c.profileGaps.Load() != 0 {
			t.Fatalf("backfilled %v, %d lost; want %v", timesOf(got), c.profileGaps.Load(), want)
		}
		if got := rd.asked(); len(got) != 1 || got[0] != "01T00:30/9" {
			t.Fatalf("requests %v, want 9 records from 00:30", got)
		}
	})
}

// TestLoadProfileLetsCommandsIn: a command for the bus runs between two load-profile
// requests of a long backfill, not after it.
func TestLoadProfileLetsCommandsIn(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, dir)
		defer j.Close()
		ms := meters(t, "bus1", "000000000001")
		t0 := time.Now()
		live(t, j, ms[0].ID, t0)
		rd := &profileMeter{period: quarter}
		b := Bus{Name: "bus1", Reader: rd, Meters: ms}
		s, r, _ := newPassScheduler(t, j, b, Options{Interval: quarter}, MemoryOptions{LoadProfileDepth: 7 * 24 * time.Hour})
		time.Sleep(3*24*time.Hour + time.Second)
		ranAt := make(chan int, 1)
		rd.onRequest = func(n int) {
			if n == 1 {
				go s.Exec(context.Background(), ms[0].ID, func(context.Context, MeterReader) error {
					ranAt <- len(rd.asked())
					return nil
				})
				synctest.Wait() // the command waits for the bus
			}
		}
		slot := time.Now().Truncate(quarter)
		live(t, j, ms[0].ID, slot)
		s.loadProfilePass(context.Background(), b, rd, slot, r)
		select {
		case n := <-ranAt:
			if n != 1 {
				t.Fatalf("the command ran after %d requests, want between the first and the second", n)
			}
		default:
			t.Fatal("the command did not run during the backfill")
		}
		if n := len(rd.asked()); n != 3 {
			t.Fatalf("%d requests for 3 days, want 3", n)
		}
	})
}

// fullMeter is a profileMeter that also has settlements and status words.
type fullMeter struct {
	profileMeter
	settle   settleMeter
	statuses int
}

func (f *fullMeter) ReadSettlement(ctx context.Context, addr string, n int) (time.Time, map[string]int64, error) {
	return f.settle.ReadSettlement(ctx, addr, n)
}

func (f *fullMeter) ReadStatus(ctx context.Context, addr string) (map[string]int64, error) {
	if f.silent != nil && f.silent(time.Now()) {
		return nil, errors.New("timeout, no reply")
	}
	f.statuses++
	return map[string]int64{"status1": 0, "status3": 1 << 4}, nil
}

// runCycles runs the bus's cycles and passes as runBus does, for d.
func runCycles(s *Scheduler, b Bus, r *memoryRun, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for ctx.Err() == nil {
		slot := time.Now().Truncate(s.opt.Interval)
		s.cycle(ctx, b, slot)
		s.memoryPasses(ctx, b, slot, r)
		t := time.NewTimer(time.Until(slot.Add(s.opt.Interval)))
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// TestMemoryPassesAfterCycles: the meter is silent from 01:00 to 03:00; when it answers
// again its missed slots are recovered, status words are read hourly when it answers and
// its settlement once.
func TestMemoryPassesAfterCycles(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, dir)
		defer j.Close()
		ms := meters(t, "bus1", "000000000001")
		t0 := time.Now()
		rd := &fullMeter{profileMeter: profileMeter{period: quarter, silent: func(now time.Time) bool {
			return !now.Before(t0.Add(time.Hour)) && now.Before(t0.Add(3*time.Hour))
		}}, settle: settleMeter{depth: MaxSettlements}}
		b := Bus{Name: "bus1", Reader: rd, Meters: ms}
		s, r, c := newPassScheduler(t, j, b, Options{Interval: quarter},
			MemoryOptions{LoadProfileDepth: 24 * time.Hour, StatusInterval: time.Hour, SettlementInterval: time.Hour})
		runCycles(s, b, r, 4*time.Hour+50*time.Minute)

		all := readingsOf(t, j, ms[0].ID, meterdata.KindInstant)
		if want := slots(t0, t0.Add(4*time.Hour+45*time.Minute), quarter); !sameTimes(sortedTimes(all), want) {
			t.Fatalf("instant slots %v, want every slot %v", sortedTimes(all), want)
		}
		if got := backfilled(all); !sameTimes(timesOf(got), slots(t0.Add(time.Hour), t0.Add(2*time.Hour+45*time.Minute), quarter)) {
			t.Fatalf("backfilled %v, want the silent 01:00…02:45", timesOf(got))
		}
		if got := timesOf(readingsOf(t, j, ms[0].ID, meterdata.KindStatus)); !sameTimes(got, []time.Time{t0, t0.Add(3 * time.Hour), t0.Add(4 * time.Hour)}) {
			t.Fatalf("status readings at %v, want 00:00, 03:00, 04:00 (silent at 01:00 and 02:00)", got)
		}
		if got := readingsOf(t, j, ms[0].ID, meterdata.KindMonthly); len(got) != 1 || rd.settle.count() != 1 {
			t.Fatalf("settlements %+v after %d reads, want the one of 1 January once", got, rd.settle.count())
		}
		if c.statuses.Load() != 3 || c.settlements.Load() != 1 || c.profileBackfilled.Load() != 8 || c.profileGaps.Load() != 0 {
			t.Fatalf("counters: %d statuses, %d settlements, %d backfilled, %d lost", c.statuses.Load(), c.settlements.Load(),
				c.profileBackfilled.Load(), c.profileGaps.Load())
		}
	})
}

// simReader reads a simulated meter in process (no wire), at the synctest clock.
type simReader struct{ m *metersim.Meter }

func (r simReader) ReadInstant(ctx context.Context, addr string) (map[string]int64, error) {
	now := time.Now()
	if !r.m.Powered(now) {
		return nil, fmt.Errorf("meter %s: timeout, no reply", addr)
	}
	return r.m.Sample(now).Values(), nil
}

func (r simReader) ReadLoadProfile(ctx context.Context, addr string, from time.Time, count int) ([]LoadRecord, error) {
	var out []LoadRecord
	for _, rec := range r.m.LoadProfile(time.Now()) {
		if !rec.Time.Before(from.Truncate(time.Minute)) && len(out) < count {
			out = append(out, LoadRecord{Time: rec.Time, Values: rec.Values()})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("meter %s: %w", addr, ErrNoRecord)
	}
	return out, nil
}

// TestLoadProfileFromSimulatedMeter: the terminal is down from 01:00 to 04:00 and the
// meter loses its supply from 02:00 to 03:00 meanwhile; the slots the meter recorded are
// recovered with its records' values, the others are counted lost.
func TestLoadProfileFromSimulatedMeter(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, dir)
		defer j.Close()
		t0 := time.Now()
		m, err := metersim.NewMeter(metersim.MeterSpec{Address: "000000000001", Customer: metersim.Commercial,
			Outages: []metersim.Outage{{Start: t0.Add(2 * time.Hour), End: t0.Add(3 * time.Hour)}}}, 7, t0, metersim.ChinaStandardTime)
		if err != nil {
			t.Fatal(err)
		}
		ms := meters(t, "bus1", "000000000001")
		b := Bus{Name: "bus1", Reader: simReader{m}, Meters: ms}
		mo := MemoryOptions{LoadProfileDepth: 24 * time.Hour}
		s, r, _ := newPassScheduler(t, j, b, Options{Interval: quarter}, mo)
		runCycles(s, b, r, 50*time.Minute)
		time.Sleep(time.Until(t0.Add(4 * time.Hour))) // the terminal is down
		s, r, c := newPassScheduler(t, j, b, Options{Interval: quarter}, mo)
		runCycles(s, b, r, 20*time.Minute)

		kept := map[int64]map[string]int64{} // by Unix second
		for _, rec := range m.LoadProfile(time.Now()) {
			kept[rec.Time.Unix()] = rec.Values()
		}
		got := map[int64]meterdata.Reading{}
		for _, rd := range backfilled(readingsOf(t, j, ms[0].ID, meterdata.KindInstant)) {
			got[rd.Time.Unix()] = rd
		}
		var lost int
		for _, slot := range slots(t0.Add(time.Hour), t0.Add(3*time.Hour+45*time.Minute), quarter) {
			want, ok := kept[slot.Unix()]
			rd, have := got[slot.Unix()]
			switch {
			case ok && !have:
				t.Errorf("slot %s kept by the meter but not recovered", slot)
			case !ok && have:
				t.Errorf("slot %s not kept by the meter but journaled %v", slot, rd.Values)
			case ok && !maps.Equal(rd.Values, want):
				t.Errorf("slot %s journaled %v, the meter's record %v", slot, rd.Values, want)
			case !ok:
				lost++
			}
		}
		if len(got) != 12-lost || lost < 3 || lost > 5 {
			t.Fatalf("%d recovered, %d lost of the 12 missed slots, want the supply outage's (about 4) lost", len(got), lost)
		}
		if c.profileBackfilled.Load() != uint64(len(got)) || c.profileGaps.Load() != uint64(lost) {
			t.Fatalf("counters %d backfilled, %d lost; want %d, %d", c.profileBackfilled.Load(), c.profileGaps.Load(), len(got), lost)
		}
	})
}

// TestLoadProfileResumesAfterARestart: the backfill position is kept in the journal, so a
// terminal killed after its first cycle back (whose live reading hides the outage from the
// journal's newest time) still recovers the outage after the next start.
func TestLoadProfileResumesAfterARestart(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		j := openJournal(t, dir)
		defer j.Close()
		ms := meters(t, "bus1", "000000000001")
		id := ms[0].ID
		t0 := time.Now()
		rd := &profileMeter{period: quarter}
		b := Bus{Name: "bus1", Reader: rd, Meters: ms}
		mo := MemoryOptions{LoadProfileDepth: 7 * 24 * time.Hour}

		// Run 1: two live slots and a pass, which keeps the position.
		s, r, _ := newPassScheduler(t, j, b, Options{Interval: quarter}, mo)
		for i := range 2 {
			live(t, j, id, t0.Add(time.Duration(i)*quarter))
		}
		time.Sleep(quarter + time.Second)
		s.loadProfilePass(ctx, b, rd, t0.Add(quarter), r)

		// Down 2 hours; run 2 journals its first live slot and is killed before its pass.
		time.Sleep(2 * time.Hour)
		live(t, j, id, time.Now().Truncate(quarter))

		// Run 3: the outage is still recovered.
		time.Sleep(quarter)
		s, r, c := newPassScheduler(t, j, b, Options{Interval: quarter}, mo)
		slot := time.Now().Truncate(quarter)
		live(t, j, id, slot)
		s.loadProfilePass(ctx, b, rd, slot, r)
		if n := c.profileBackfilled.Load(); n != 7 {
			t.Fatalf("%d slots recovered after the restart, want the 7 of the outage (00:30 to 02:00)", n)
		}
		if c.profileGaps.Load() != 0 {
			t.Fatalf("gaps %d", c.profileGaps.Load())
		}
	})
}
