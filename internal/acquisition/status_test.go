package acquisition

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"gridmeter/internal/meterdata"
)

// statusMeter plays meters' status words: relay open (status3 bit 4) on meter 2; the
// addresses in fail do not answer.
type statusMeter struct {
	busReader
	mu    sync.Mutex
	reads map[string]int
	fail  map[string]bool
}

func (f *statusMeter) ReadStatus(ctx context.Context, addr string) (map[string]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reads == nil {
		f.reads = map[string]int{}
	}
	f.reads[addr]++
	if f.fail[addr] {
		return nil, errors.New("meter " + addr + ": read 04000501: timeout, no reply")
	}
	s3 := int64(0)
	if addr == "000000000002" {
		s3 = 1 << 4
	}
	return map[string]int64{"status1": 0, "status3": s3}, nil
}

func TestStatusPass(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		j := openJournal(t, dir)
		defer j.Close()
		ms := meters(t, "bus1", "000000000001", "000000000002", "000000000003", "000000000004")
		rd := &statusMeter{fail: map[string]bool{"000000000003": true}}
		b := Bus{Name: "bus1", Reader: rd, Meters: ms}
		s, r, c := newPassScheduler(t, j, b, Options{Interval: time.Minute}, MemoryOptions{StatusInterval: 15 * time.Minute})
		if r.statuses == nil {
			t.Fatal("status pass off")
		}
		s.commEvent(ctx, ms[3].ID, true) // meter 4 did not answer this cycle
		time.Sleep(20 * time.Minute)
		slot := time.Now().Truncate(15 * time.Minute)
		s.statusPass(ctx, b, rd, slot, r)

		for i, want := range []int64{0, 1 << 4} {
			got := readingsOf(t, j, ms[i].ID, meterdata.KindStatus)
			if len(got) != 1 || !got[0].Time.Equal(slot) || got[0].Values["status3"] != want || got[0].Values["status1"] != 0 {
				t.Fatalf("meter %d: status readings %+v, want one at %s with status3 %d", i+1, got, slot, want)
			}
		}
		if got := readingsOf(t, j, ms[2].ID, meterdata.KindStatus); len(got) != 0 {
			t.Fatalf("meter 3 failed but has %+v", got)
		}
		if st, _ := s.Meter(ms[2].ID); st.Failures != 1 || !strings.Contains(st.LastError, "status words: meter 000000000003: read 04000501") {
			t.Fatalf("meter 3 state %+v", st)
		}
		if rd.reads[ms[3].Address] != 0 {
			t.Fatal("silent meter 4 was read")
		}
		if c.statuses.Load() != 2 {
			t.Fatalf("%d statuses counted, want 2", c.statuses.Load())
		}

		// The same slot again (a restart within it): only the meter without one is read.
		s.statusPass(ctx, b, rd, slot, r)
		if rd.reads["000000000001"] != 1 || rd.reads["000000000003"] != 2 {
			t.Fatalf("reads %v: a slot journaled was read again", rd.reads)
		}
	})
}

func TestStatusSlotsFollowTheStatusInterval(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, dir)
		defer j.Close()
		ms := meters(t, "bus1", "000000000001")
		rd := &statusMeter{}
		b := Bus{Name: "bus1", Reader: rd, Meters: ms}
		s, r, _ := newPassScheduler(t, j, b, Options{Interval: time.Minute}, MemoryOptions{StatusInterval: 15 * time.Minute})
		ctx := context.Background()
		for range 40 { // 40 one-minute cycles
			s.memoryPasses(ctx, b, time.Now().Truncate(time.Minute), r)
			time.Sleep(time.Minute)
		}
		got := readingsOf(t, j, ms[0].ID, meterdata.KindStatus)
		if len(got) != 3 || rd.reads["000000000001"] != 3 {
			t.Fatalf("%d status readings after %d reads in 40 minutes, want 3 (00:00, 00:15, 00:30)", len(got), rd.reads["000000000001"])
		}
		for i, r := range got {
			if want := time.Date(2000, 1, 1, 0, 15*i, 0, 0, time.UTC); !r.Time.Equal(want) {
				t.Errorf("status reading %d at %s, want %s", i, r.Time, want)
			}
		}
	})
}
