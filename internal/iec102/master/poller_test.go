package master_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"gridmeter/internal/iec102"
	"gridmeter/internal/iec102/master"
	"gridmeter/internal/iec102/outstation"
	"gridmeter/internal/iec102/outstation/outstationtest"
	"gridmeter/internal/journal"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
	"gridmeter/internal/storage/sqlitestore"
)

// bothPaths is a terminal with a real journal and outstation, and a head-end with a real
// SQLite store that receives the journal's readings by MQTT (simulated: StoreBatch of
// journal entries, as ingest does) and by the IEC 102 master.
type bothPaths struct {
	t      *testing.T
	j      *journal.Journal
	store  *sqlitestore.Store
	poller *master.Poller
	target master.Target
	seq    uint64
}

var day = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func newBothPaths(t *testing.T, now time.Time) *bothPaths {
	t.Helper()
	dir := t.TempDir()
	j, err := journal.Open(t.Context(), filepath.Join(dir, "journal.db"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	st, err := sqlitestore.Open(t.Context(), filepath.Join(dir, "head-end.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := func() time.Time { return now }
	_, addr := outstationtest.Start(t, outstation.Config{
		LinkAddress: 1,
		Points:      []outstation.Point{{Address: 1, Password: 1, Meter: meter1}},
		Now:         clock,
	}, j)
	target := master.Target{Name: "T1", Addr: addr, LinkAddress: 1, Points: []master.Point{{Address: 1, Password: 1, Meter: meter1}}}
	p, err := master.NewPoller(st, []master.Target{target}, master.Options{Now: clock, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return &bothPaths{t: t, j: j, store: st, poller: p, target: target}
}

// journal appends readings to the terminal's journal.
func (b *bothPaths) journal(rs ...meterdata.Reading) {
	b.t.Helper()
	if _, _, err := b.j.Append(b.t.Context(), rs); err != nil {
		b.t.Fatal(err)
	}
}

// mqtt delivers the journal's pending entries as ingest does, in one batch.
func (b *bothPaths) mqtt() storage.BatchResult {
	b.t.Helper()
	es, err := b.j.Pending(b.t.Context(), b.seq, 10_000)
	if err != nil || len(es) == 0 {
		b.t.Fatalf("Pending = %d, %v", len(es), err)
	}
	rs := make([]meterdata.Reading, len(es))
	for i, e := range es {
		rs[i] = e.Reading
	}
	res, err := b.store.StoreBatch(b.t.Context(), storage.Batch{Terminal: "T1", FirstSeq: es[0].Seq, LastSeq: es[len(es)-1].Seq, Readings: rs})
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := b.j.Ack(b.t.Context(), es[0].Seq, es[len(es)-1].Seq); err != nil {
		b.t.Fatal(err)
	}
	b.seq = es[len(es)-1].Seq
	return res
}

func (b *bothPaths) poll() master.Result {
	b.t.Helper()
	res, err := b.poller.PollOnce(b.t.Context(), b.target)
	if err != nil {
		b.t.Fatalf("PollOnce: %v", err)
	}
	return res
}

func (b *bothPaths) count() int {
	n, err := b.store.CountReadings(b.t.Context(), meter1)
	if err != nil {
		b.t.Fatal(err)
	}
	return n
}

func (b *bothPaths) conflicts() int {
	cs, err := b.store.Conflicts(b.t.Context(), meter1, 0)
	if err != nil {
		b.t.Fatal(err)
	}
	return len(cs)
}

// TestExactlyOnceMQTTFirst: the normal order. Readings the MQTT path stored are read
// again by the IEC 102 master (current totals, and a whole profile when the store looked
// empty of profile data to it); each is a duplicate: no second row, no conflict.
func TestExactlyOnceMQTTFirst(t *testing.T) {
	now := day.Add(6*time.Hour + 5*time.Minute)
	b := newBothPaths(t, now)
	b.journal(instants(meter1, day, 4*6+1)...)              // 00:00 … 06:00 every 15 min
	b.journal(dailies(meter1, day.AddDate(0, 0, -1), 2)...) // yesterday and today 00:00
	if res := b.mqtt(); res.Inserted != 27 {
		t.Fatalf("MQTT: %+v", res)
	}
	res := b.poll()
	// Nothing is newer than what MQTT stored: the current totals (06:00) are read and
	// are a duplicate; the profile and the daily values resume after the newest stored.
	if res.Readings != 1 || res.Stored != (storage.BatchResult{Duplicates: 1}) {
		t.Errorf("poll: %d readings, %+v; want the current totals as one duplicate", res.Readings, res.Stored)
	}
	if res.Clock == nil || res.Clock.Time.Sub(now).Abs() > time.Second {
		t.Errorf("clock = %+v", res.Clock)
	}

	// A master that backfills the whole day (say its store was restored from a backup
	// missing nothing but it asks anyway): every period read again is a duplicate.
	c, err := master.Dial(t.Context(), b.target.Addr, 1, master.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartLink(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := c.Authenticate(t.Context(), 1, 1); err != nil {
		t.Fatal(err)
	}
	its, err := c.ReadTotals(t.Context(), 1, iec102.RecordHourly, 1, 2, day, day.Add(6*time.Hour))
	if err != nil || len(its) != 7 {
		t.Fatalf("ReadTotals = %d, %v", len(its), err)
	}
	var again []meterdata.Reading
	for _, it := range its {
		at, _ := it.End.Time(time.UTC)
		again = append(again, meterdata.Reading{Meter: meter1, Kind: meterdata.KindInstant, Time: at, Quality: meterdata.QualityBackfilled,
			Values: map[string]int64{"e_imp": int64(it.Totals[0].Value), "e_exp": int64(it.Totals[1].Value)}})
	}
	sr, err := b.store.StoreReadings(t.Context(), "iec102/T1", again)
	if err != nil || sr != (storage.BatchResult{Duplicates: 7}) {
		t.Errorf("StoreReadings of the whole day again = %+v, %v; want 7 duplicates", sr, err)
	}
	if n := b.count(); n != 27 {
		t.Errorf("rows = %d, want 27: one per key", n)
	}
	if n := b.conflicts(); n != 0 {
		t.Errorf("conflicts = %d, want 0", n)
	}
}

// TestExactlyOnceIEC102First: the MQTT path is down; the master backfills the profile and
// the daily values from the journal; when MQTT delivers the same journal entries later,
// each key still has one row. The hour-boundary instant readings, which IEC 102 stored
// with e_imp and e_exp only, arrive by MQTT with every channel: StoreBatch logs them as
// conflicts and keeps the subset (the documented limit of exact equality).
func TestExactlyOnceIEC102First(t *testing.T) {
	now := day.Add(6*time.Hour + 5*time.Minute)
	b := newBothPaths(t, now)
	b.journal(instants(meter1, day, 4*3)...) // 00:00 … 02:45, delivered by MQTT
	b.mqtt()
	b.journal(instants(meter1, day, 4*6+1)[4*3:]...) // 03:00 … 06:00: the uplink is down
	b.journal(dailies(meter1, day, 1)...)

	res := b.poll()
	// Profile 03:00, 04:00, 05:00, 06:00; current totals 06:00 (a repeat of the profile's
	// 06:00 in the same call: duplicate); daily 00:00.
	if res.Readings != 6 || res.Stored != (storage.BatchResult{Inserted: 5, Duplicates: 1}) {
		t.Fatalf("poll: %d readings, %+v", res.Readings, res.Stored)
	}
	if again := b.poll(); again.Readings != 1 || again.Stored != (storage.BatchResult{Duplicates: 1}) {
		t.Errorf("second poll: %d readings, %+v; want only the current totals again", again.Readings, again.Stored)
	}
	got, _ := b.store.Readings(t.Context(), storage.ReadingQuery{Meter: meter1, Kind: meterdata.KindInstant, From: day.Add(3 * time.Hour)})
	var hours []string
	for _, r := range got {
		hours = append(hours, fmt.Sprintf("%s %v %v", r.Time.Format("15:04"), r.Values, r.Quality.Strings()))
	}
	want := []string{
		"03:00 map[e_exp:4333 e_imp:12348678] [backfilled]",
		"04:00 map[e_exp:4337 e_imp:12349678] [backfilled]",
		"05:00 map[e_exp:4341 e_imp:12350678] [backfilled]",
		"06:00 map[e_exp:4345 e_imp:12351678] []", // the current totals came first in the call
	}
	if fmt.Sprint(hours) != fmt.Sprint(want) {
		t.Errorf("stored by IEC 102:\n got  %q\n want %q", hours, want)
	}

	// The uplink comes back: 13 instant readings and the daily value. Each of the 4 hours
	// and the daily value carries every channel IEC 102 stored with the same values, plus
	// more: they complete the stored rows (one row per key, no conflict).
	mq := b.mqtt()
	if mq != (storage.BatchResult{Inserted: 9, Completed: 5}) {
		t.Errorf("MQTT after IEC 102 = %+v; want 9 inserted and the 4 hours and the daily value completed", mq)
	}
	if n := b.count(); n != 4*6+1+1 {
		t.Errorf("rows = %d, want %d: one per key", n, 4*6+1+1)
	}
	if n := b.conflicts(); n != 0 {
		t.Errorf("conflicts = %d, want 0: the MQTT readings complete what IEC 102 stored", n)
	}
}

func point(m meterdata.MeterID, addr uint16, pw uint32) master.Point {
	return master.Point{Address: addr, Password: pw, Meter: m}
}

// TestPollOnceRefusedPoint: a wrong password fails one point; the others are read and
// stored, and the session reports the failure.
func TestPollOnceRefusedPoint(t *testing.T) {
	now := day.Add(2*time.Hour + time.Minute)
	src := outstationtest.NewMemorySource(instants(meter1, day, 9)...)
	src.Add(instants(meter2, day, 9)...)
	_, addr := outstationtest.Start(t, outstation.Config{
		LinkAddress: 1,
		Points:      []outstation.Point{{Address: 1, Password: 1, Meter: meter1}, {Address: 2, Password: 2, Meter: meter2}},
		Now:         func() time.Time { return now },
	}, src)
	st := newMemStore()
	p, err := master.NewPoller(st, nil, master.Options{Now: func() time.Time { return now }, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.PollOnce(t.Context(), master.Target{Name: "T1", Addr: addr, LinkAddress: 1,
		Points: []master.Point{point(meter1, 1, 99), point(meter2, 2, 2)}, Reads: master.ReadCurrent | master.ReadProfile})
	var ne *iec102.NegativeError
	if !errors.As(err, &ne) || ne.Cause() != iec102.CauseActivationCon {
		t.Fatalf("PollOnce error = %v, want the refused password", err)
	}
	if len(res.Points) != 2 || res.Points[0].Err == nil || res.Points[1].Err != nil || res.Points[1].Readings != 4 || res.Failed {
		t.Errorf("points = %+v, failed %t; want point 1 refused, point 2 read, the session not failed", res.Points, res.Failed)
	}
	if got := st.times(meter2, meterdata.KindInstant); len(got) != 3 {
		t.Errorf("stored for meter 2: %v, want 00:00, 01:00, 02:00 (+ current 02:00)", got)
	}
	if got := st.times(meter1, meterdata.KindInstant); len(got) != 0 {
		t.Errorf("stored for meter 1: %v, want nothing", got)
	}
}

// TestPollOnceRefusedStep: a step the outstation refuses (no instant reading yet: current
// totals refused with COT 13) does not stop the next ones.
func TestPollOnceRefusedStep(t *testing.T) {
	now := day.Add(2 * time.Hour)
	_, addr := outstationtest.Start(t, outstation.Config{
		LinkAddress: 1,
		Points:      []outstation.Point{{Address: 1, Password: 1, Meter: meter1}},
		Now:         func() time.Time { return now },
	}, outstationtest.NewMemorySource(dailies(meter1, day.AddDate(0, 0, -2), 3)...))
	st := newMemStore()
	p, _ := master.NewPoller(st, nil, master.Options{Now: func() time.Time { return now }, Logger: quiet})
	res, err := p.PollOnce(t.Context(), master.Target{Name: "T1", Addr: addr, LinkAddress: 1, Points: []master.Point{point(meter1, 1, 1)}})
	var ne *iec102.NegativeError
	if !errors.As(err, &ne) || ne.Cause() != iec102.CauseRecordNotAvailable || res.Failed {
		t.Fatalf("PollOnce = %v, failed %t; want the refused current totals only", err, res.Failed)
	}
	if got := st.times(meter1, meterdata.KindDailyFrozen); len(got) != 3 || res.Readings != 3 {
		t.Errorf("daily values stored at %v (%d read), want 3", got, res.Readings)
	}
}

// TestClockDriftCorrected: a drift beyond MaxDrift is an event and, when asked, corrected.
func TestClockDriftCorrected(t *testing.T) {
	var mu sync.Mutex
	offset := 90 * time.Second
	_, addr := outstationtest.Start(t, outstation.Config{
		LinkAddress: 1,
		Points:      []outstation.Point{{Address: 1, Password: 1, Meter: meter1}},
		Now: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return time.Now().Add(offset)
		},
		SetClock: func(_ context.Context, t time.Time) error {
			mu.Lock()
			defer mu.Unlock()
			offset = time.Until(t)
			return nil
		},
	}, outstationtest.NewMemorySource())
	p, _ := master.NewPoller(newMemStore(), nil, master.Options{Logger: quiet, MaxDrift: 5 * time.Second})
	target := master.Target{Name: "T1", Addr: addr, LinkAddress: 1, Points: []master.Point{point(meter1, 1, 1)}, Reads: master.ReadClock, CorrectClock: true}
	res, err := p.PollOnce(t.Context(), target)
	if err != nil || res.Clock == nil || !res.DriftEvent || !res.ClockSet {
		t.Fatalf("PollOnce = %+v, %v; want a drift event and a correction", res, err)
	}
	if d := res.Clock.Drift - 90*time.Second; d.Abs() > time.Second {
		t.Errorf("drift = %v, want about 90s", res.Clock.Drift)
	}
	res, err = p.PollOnce(t.Context(), target)
	if err != nil || res.DriftEvent || res.Clock.Drift.Abs() > time.Second {
		t.Errorf("after the correction: %+v, %v; want no drift", res.Clock, err)
	}
}

// TestSilentOutstationDoesNotStallOthers: with two session slots, a silent outstation
// holds one for its (Retries+1) × Timeout while the others are polled on the other.
func TestSilentOutstationDoesNotStallOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		n := newPipeNet()
		n.silent("silent:1")
		targets := []master.Target{{Name: "silent", Addr: "silent:1", LinkAddress: 1, Points: []master.Point{point(meter1, 1, 1)},
			Timeout: time.Second, Retries: 1}}
		for i := range 6 {
			m := meterdata.MeterID(fmt.Sprintf("T%d.bus1.1", i))
			srv, err := outstation.New(outstation.Config{LinkAddress: 1, Points: []outstation.Point{{Address: 1, Password: 1, Meter: m}},
				AllowedMasters: outstationtest.Loopback, Logger: quiet}, outstationtest.NewMemorySource(instants(m, time.Now(), 1)...))
			if err != nil {
				t.Fatal(err)
			}
			addr := fmt.Sprintf("good:%d", i)
			n.serve(ctx, addr, srv, nil)
			targets = append(targets, master.Target{Name: addr, Addr: addr, LinkAddress: 1, Points: []master.Point{point(m, 1, 1)},
				Timeout: time.Second, Retries: 1, Reads: master.ReadCurrent})
		}
		p, err := master.NewPoller(newMemStore(), targets, master.Options{Concurrency: 2, Dial: n.Dial, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		results := p.PollAll(ctx)
		for _, r := range results[1:] {
			if r.Err != nil || r.Readings != 1 {
				t.Errorf("%s: %d readings, %v", r.Target, r.Readings, r.Err)
			}
			if end := r.Start.Add(r.Duration).Sub(start); end >= time.Second {
				t.Errorf("%s finished %v after the start: it waited for the silent outstation", r.Target, end)
			}
		}
		silent := results[0]
		if !silent.Failed || !errors.Is(silent.Err, iec102.ErrTimeout) || !errors.Is(silent.Err, iec102.ErrLinkDown) || silent.Duration != 2*time.Second {
			t.Errorf("silent: %v after %v; want a link timeout after 2 × 1s", silent.Err, silent.Duration)
		}
	})
}

// TestRetransmission: answers lost on the way back make the master repeat the same frame;
// the outstation repeats its answer without executing the request twice.
func TestRetransmission(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		n := newPipeNet()
		src := outstationtest.NewMemorySource(instants(meter1, time.Now(), 1)...)
		srv, err := outstation.New(outstation.Config{LinkAddress: 1, Points: []outstation.Point{{Address: 1, Password: 1, Meter: meter1}},
			AllowedMasters: outstationtest.Loopback, Logger: quiet}, src)
		if err != nil {
			t.Fatal(err)
		}
		// Lose the ACK of the login (3rd answer) and the current totals (6th).
		n.serve(ctx, "flaky:1", srv, func(c net.Conn) net.Conn { return &dropWrites{Conn: c, drop: map[int]bool{3: true, 6: true}} })
		p, _ := master.NewPoller(newMemStore(), nil, master.Options{Dial: n.Dial, Logger: quiet})
		res, err := p.PollOnce(ctx, master.Target{Name: "flaky", Addr: "flaky:1", LinkAddress: 1,
			Points: []master.Point{point(meter1, 1, 1)}, Timeout: time.Second, Reads: master.ReadCurrent})
		if err != nil || res.Readings != 1 {
			t.Fatalf("PollOnce = %d readings, %v", res.Readings, err)
		}
		if res.Duration != 2*time.Second {
			t.Errorf("duration %v, want two timeouts of 1s", res.Duration)
		}
		if st := srv.Stats(); st.Requests != 3 {
			t.Errorf("outstation handled %d requests, want 3 (login, current totals, end): repetitions are not executed again", st.Requests)
		}
	})
}

// TestRunScheduleBackoffTrigger: Run polls on aligned intervals, backs off from a failing
// target (doubling up to the interval), and polls at once on Trigger.
func TestRunScheduleBackoffTrigger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		n := newPipeNet()
		n.silent("silent:1")
		srv, _ := outstation.New(outstation.Config{LinkAddress: 1, Points: []outstation.Point{{Address: 1, Password: 1, Meter: meter1}},
			AllowedMasters: outstationtest.Loopback, Logger: quiet}, outstationtest.NewMemorySource(instants(meter1, time.Now(), 1)...))
		n.serve(ctx, "good:1", srv, nil)
		var mu sync.Mutex
		polls := map[string][]time.Duration{}
		start := time.Now()
		p, err := master.NewPoller(newMemStore(), []master.Target{
			{Name: "silent", Addr: "silent:1", LinkAddress: 1, Points: []master.Point{point(meter1, 1, 1)}, Timeout: time.Second, Retries: 1, Interval: time.Hour},
			{Name: "good", Addr: "good:1", LinkAddress: 1, Points: []master.Point{point(meter1, 1, 1)}, Timeout: time.Second, Interval: time.Hour, Reads: master.ReadCurrent},
		}, master.Options{Dial: n.Dial, RetryBase: 10 * time.Second, Logger: quiet, OnResult: func(r master.Result) {
			mu.Lock()
			defer mu.Unlock()
			polls[r.Target] = append(polls[r.Target], r.Start.Sub(start))
		}})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() { done <- p.Run(ctx) }()
		time.Sleep(30 * time.Minute)
		if err := p.Trigger("good"); err != nil {
			t.Fatal(err)
		}
		if err := p.Trigger("nobody"); err == nil {
			t.Error("Trigger of an unknown target: want an error")
		}
		time.Sleep(time.Hour)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
		s := func(d ...int) []time.Duration {
			out := make([]time.Duration, len(d))
			for i, v := range d {
				out[i] = time.Duration(v) * time.Second
			}
			return out
		}
		// Each failed session takes 2 s; then 10 s, 20 s, 40 s … (at most the hour).
		if want := s(0, 12, 34, 76, 158, 320, 642, 1284, 2566, 5128); !slices.Equal(polls["silent"], want) {
			t.Errorf("silent polled at %v, want %v", polls["silent"], want)
		}
		if want := s(0, 1800, 3600); !slices.Equal(polls["good"], want) {
			t.Errorf("good polled at %v, want %v", polls["good"], want)
		}
		st := p.Status()
		if st[0].Failures != 10 || st[1].Failures != 0 || st[1].Last.Err != nil {
			t.Errorf("status = %+v", st)
		}
	})
}

func TestTargetValidate(t *testing.T) {
	good := master.Target{Name: "T1", Addr: "127.0.0.1:20102", LinkAddress: 1, Points: []master.Point{point(meter1, 1, 1)}}
	if _, err := master.NewPoller(newMemStore(), []master.Target{good}, master.Options{}); err != nil {
		t.Fatalf("good target: %v", err)
	}
	for name, f := range map[string]func(t *master.Target){
		"no name":     func(t *master.Target) { t.Name = "" },
		"bad addr":    func(t *master.Target) { t.Addr = "nowhere" },
		"no points":   func(t *master.Target) { t.Points = nil },
		"point twice": func(t *master.Target) { t.Points = append(t.Points, t.Points[0]) },
		"bad meter":   func(t *master.Target) { t.Points = []master.Point{{Address: 1, Meter: "x"}} },
	} {
		tg := good
		tg.Points = slices.Clone(good.Points)
		f(&tg)
		if _, err := master.NewPoller(newMemStore(), []master.Target{tg}, master.Options{}); err == nil {
			t.Errorf("%s: NewPoller = nil error", name)
		}
	}
	if _, err := master.NewPoller(newMemStore(), []master.Target{good, good}, master.Options{}); err == nil {
		t.Error("duplicate names: NewPoller = nil error")
	}
	// A target nobody listens at fails fast.
	p, _ := master.NewPoller(newMemStore(), nil, master.Options{Logger: quiet})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	tg := good
	tg.Addr = addr
	if _, err := p.PollOnce(t.Context(), tg); err == nil {
		t.Error("PollOnce of a closed port: nil error")
	}
}
