package acquisition

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"gridmeter/internal/journal"
	"gridmeter/internal/meterdata"
)

// settleMeter plays a meter's settlement memory: one settlement on the 1st of every month
// at 00:00 UTC, depth kept, the latest the last at or before now; e_imp counts months.
type settleMeter struct {
	busReader
	depth int
	mu    sync.Mutex
	reads int
	fail  bool
}

func (f *settleMeter) ReadSettlement(ctx context.Context, addr string, n int) (time.Time, map[string]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.fail {
		return time.Time{}, nil, fmt.Errorf("meter %s: read 0001FF%02X: timeout", addr, n)
	}
	if n > f.depth {
		return time.Time{}, nil, fmt.Errorf("meter %s: %w", addr, ErrNoRecord)
	}
	now := time.Now().UTC()
	at := time.Date(now.Year(), now.Month()-time.Month(n-1), 1, 0, 0, 0, 0, time.UTC)
	return at, map[string]int64{"e_imp": int64(at.Year()*12+int(at.Month())) * 1000}, nil
}

func (f *settleMeter) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// readingsOf returns the journaled readings of one meter and kind, in journal order.
func readingsOf(t *testing.T, j *journal.Journal, id meterdata.MeterID, k meterdata.Kind) []meterdata.Reading {
	t.Helper()
	es, err := j.Pending(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var out []meterdata.Reading
	for _, e := range es {
		if e.Reading.Meter == id && e.Reading.Kind == k {
			out = append(out, e.Reading)
		}
	}
	return out
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// gapEvents returns the journaled gap events of a code, in journal order.
func gapEvents(t *testing.T, j *journal.Journal, code uint8) []journal.Event {
	t.Helper()
	es, err := j.EventsToSend(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []journal.Event
	for _, e := range es {
		if e.Log == journal.LogAcquisition && e.Code == code {
			out = append(out, e)
		}
	}
	return out
}

// newPassScheduler builds a scheduler over one bus and prepares its passes.
func newPassScheduler(t *testing.T, j Journal, b Bus, opt Options, mo MemoryOptions) (*Scheduler, *memoryRun, *memoryCounters) {
	t.Helper()
	s, err := New([]Bus{b}, j, opt)
	if err != nil {
		t.Fatal(err)
	}
	c := &memoryCounters{}
	return s, s.newMemoryRun(context.Background(), b, mo, c), c
}

func TestSettlementCatchUpAfterOutage(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		j := openJournal(t, dir)
		defer j.Close()
		ms := meters(t, "bus1", "000000000001")
		rd := &settleMeter{depth: MaxSettlements}
		b := Bus{Name: "bus1", Reader: rd, Meters: ms}
		s, r, c := newPassScheduler(t, j, b, Options{Interval: time.Minute}, MemoryOptions{SettlementInterval: time.Hour})
		if r.settlements == nil {
			t.Fatal("settlement pass off for a bus that reads settlements")
		}

		time.Sleep(30 * time.Minute) // 1 January 2000, 00:30 UTC: just settled
		s.settlementPass(ctx, b, rd, r)
		got := readingsOf(t, j, ms[0].ID, meterdata.KindMonthly)
		if len(got) != 1 || !got[0].Time.Equal(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) || got[0].Quality != 0 {
			t.Fatalf("first pass journaled %+v, want the January settlement, not backfilled", got)
		}
		// Within the month nothing new can have come: the meter is not read.
		time.Sleep(24 * time.Hour)
		s.settlementPass(ctx, b, rd, r)
		if n := rd.count(); n != 1 {
			t.Fatalf("%d settlement reads, want 1: a settlement a day old is not read again", n)
		}

		// The terminal is down until 5 April: February, March and April are read back.
		time.Sleep(95 * 24 * time.Hour)
		s.settlementPass(ctx, b, rd, r)
		got = readingsOf(t, j, ms[0].ID, meterdata.KindMonthly)
		if len(got) != 4 {
			t.Fatalf("%d settlements journaled after the outage, want 4: %+v", len(got), got)
		}
		for i, want := range []time.Month{time.January, time.February, time.March, time.April} {
			if got[i].Time.Month() != want || got[i].Time.Day() != 1 {
				t.Errorf("settlement %d at %s, want 1 %s (oldest first)", i, got[i].Time, want)
			}
			if i > 0 && got[i].Quality != meterdata.QualityBackfilled {
				t.Errorf("settlement of %s read after the outage has quality %v, want backfilled", got[i].Time, got[i].Quality.Strings())
			}
			if got[i].Values["e_imp"] != int64(2000*12+int(want))*1000 {
				t.Errorf("settlement of %s values %v", got[i].Time, got[i].Values)
			}
		}
		if n := rd.count(); n != 1+4 {
			t.Errorf("%d reads, want 1 + 4 (April back to January, which the journal has)", n)
		}
		if g, w := c.settlements.Load(), uint64(4); g != w || c.settlementGaps.Load() != 0 {
			t.Errorf("counters: %d settlements, %d gaps; want %d, 0", g, c.settlementGaps.Load(), w)
		}
	})
}

func TestSettlementBeyondMemoryIsAGap(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		j := openJournal(t, dir)
		defer j.Close()
		ms := meters(t, "bus1", "000000000001", "000000000002")
		rd := &settleMeter{depth: MaxSettlements}
		b := Bus{Name: "bus1", Reader: rd, Meters: ms[:1]}
		var logs strings.Builder
		opt := Options{Interval: time.Minute, Logger: slogTo(&logs)}
		s, r, c := newPassScheduler(t, j, b, opt, MemoryOptions{SettlementInterval: time.Hour})
		time.Sleep(time.Hour)
		s.settlementPass(ctx, b, rd, r)
		time.Sleep(15 * 31 * 24 * time.Hour) // down for 15 months: the meter keeps 12
		s.settlementPass(ctx, b, rd, r)
		if got := len(readingsOf(t, j, ms[0].ID, meterdata.KindMonthly)); got != 1+MaxSettlements {
			t.Fatalf("%d settlements journaled, want 1 + the %d the meter still had", got, MaxSettlements)
		}
		if c.settlementGaps.Load() != 1 {
			t.Fatalf("gap not counted: %d", c.settlementGaps.Load())
		}
		if !strings.Contains(logs.String(), "meter="+string(ms[0].ID)) || !strings.Contains(logs.String(), "gap") {
			t.Errorf("the gap is not logged with the meter: %s", logs.String())
		}
		jan2000, may2000 := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2000, 5, 1, 0, 0, 0, 0, time.UTC)
		if es := gapEvents(t, j, journal.CodeGapSettlement); len(es) != 1 || es[0].Meter != ms[0].ID || !es[0].Time.Equal(jan2000) ||
			es[0].Data["from_ms"] != jan2000.UnixMilli() || es[0].Data["to_ms"] != may2000.UnixMilli() {
			t.Errorf("gap events %+v, want one between January and May 2000", es)
		}

		// A failing read journals nothing, not even the newer settlements, and names what it read.
		time.Sleep(62 * 24 * time.Hour)
		rd.fail = true
		s.settlementPass(ctx, b, rd, r)
		if got := len(readingsOf(t, j, ms[0].ID, meterdata.KindMonthly)); got != 1+MaxSettlements {
			t.Fatalf("a failed pass journaled something: %d", got)
		}
		if st, _ := s.Meter(ms[0].ID); st.Failures != 1 || !strings.Contains(st.LastError, "settlement values: 1 back") {
			t.Fatalf("meter state after a failed read %+v", st)
		}
		rd.fail = false
		s.settlementPass(ctx, b, rd, r)
		if got := len(readingsOf(t, j, ms[0].ID, meterdata.KindMonthly)); got != 1+MaxSettlements+2 {
			t.Fatalf("the next pass journaled %d, want the 2 missed", got-1-MaxSettlements)
		}

		// A meter seen the first time: FirstSettlements back.
		b2 := Bus{Name: "bus1", Reader: rd, Meters: ms[1:]}
		s2, r2, _ := newPassScheduler(t, j, b2, Options{Interval: time.Minute}, MemoryOptions{SettlementInterval: time.Hour, FirstSettlements: 3})
		s2.settlementPass(ctx, b2, rd, r2)
		if got := readingsOf(t, j, ms[1].ID, meterdata.KindMonthly); len(got) != 3 || !got[0].Time.Before(got[2].Time) {
			t.Fatalf("first sight journaled %+v, want 3, oldest first", got)
		}
	})
}

func TestSettlementSkipsSilentMeters(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, dir)
		defer j.Close()
		ms := meters(t, "bus1", "000000000001")
		rd := &settleMeter{depth: MaxSettlements}
		b := Bus{Name: "bus1", Reader: rd, Meters: ms}
		s, r, _ := newPassScheduler(t, j, b, Options{Interval: time.Minute}, MemoryOptions{SettlementInterval: time.Hour})
		s.commEvent(context.Background(), ms[0].ID, true) // the cycle found it silent
		s.settlementPass(context.Background(), b, rd, r)
		if n := rd.count(); n != 0 {
			t.Fatalf("a silent meter was read %d times", n)
		}
	})
}

func TestMemoryOptionsNormalize(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  MemoryOptions
		bad  string
	}{
		{"zero", MemoryOptions{}, ""},
		{"all on", MemoryOptions{SettlementInterval: time.Hour, FirstSettlements: 12, LoadProfileDepth: 168 * time.Hour, StatusInterval: 15 * time.Minute}, ""},
		{"settlement interval", MemoryOptions{SettlementInterval: time.Millisecond}, "settlement interval"},
		{"first settlements", MemoryOptions{FirstSettlements: 13}, "first settlements"},
		{"depth", MemoryOptions{LoadProfileDepth: -time.Hour}, "load profile depth"},
		{"period", MemoryOptions{LoadProfilePeriod: 90 * time.Second}, "load profile period"},
		{"status interval", MemoryOptions{StatusInterval: -time.Second}, "status interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.opt.normalize()
			if tc.bad == "" {
				if err != nil || got.FirstSettlements < 1 || got.LoadProfilePeriod != 15*time.Minute && tc.opt.LoadProfilePeriod == 0 {
					t.Fatalf("normalize = %+v, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Fatalf("normalize error %v, want one naming %q", err, tc.bad)
			}
		})
	}
}

// errJournal fails every lookup.
type errJournal struct{ Journal }

func (errJournal) LastTime(context.Context, meterdata.MeterID, meterdata.Kind) (time.Time, bool, error) {
	return time.Time{}, false, errors.New("disk I/O error")
}

func TestSettlementJournalErrorSkipsTheMeter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms := meters(t, "bus1", "000000000001")
		rd := &settleMeter{depth: MaxSettlements}
		b := Bus{Name: "bus1", Reader: rd, Meters: ms}
		s, r, _ := newPassScheduler(t, errJournal{}, b, Options{Interval: time.Minute}, MemoryOptions{SettlementInterval: time.Hour})
		s.settlementPass(context.Background(), b, rd, r)
		if n := rd.count(); n != 0 {
			t.Fatalf("read %d settlements without knowing what the journal has", n)
		}
	})
}
