package acquisition

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"gridmeter/internal/meterdata"
)

func TestClassifyCounter(t *testing.T) {
	tests := []struct {
		name      string
		prev, cur int64
		wrap      int64
		wantFault counterFault
	}{
		{"increase", 1000, 1500, RegisterWrap, faultNone},
		{"unchanged", 1000, 1000, RegisterWrap, faultNone},
		{"bogus zero", 123456, 0, RegisterWrap, faultZero},
		{"rollover", RegisterWrap - 200, 300, RegisterWrap, faultRollover},
		{"exchange", 50_000_000, 1200, RegisterWrap, faultExchange},
		{"decrease near the wrap without a wrap known", RegisterWrap - 200, 300, 0, faultExchange},
		{"small decrease", 1000, 990, RegisterWrap, faultExchange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classifyCounter(tt.prev, tt.cur, tt.wrap); got != tt.wantFault {
				t.Fatalf("classifyCounter(%d, %d) = %q, want %q", tt.prev, tt.cur, got, tt.wantFault)
			}
		})
	}
}

// registerMeter returns the import registers of a scripted sequence, one per read.
type registerMeter struct {
	mu   sync.Mutex
	seq  []int64
	next int
}

func (m *registerMeter) ReadInstant(ctx context.Context, addr string) (map[string]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.seq[min(m.next, len(m.seq)-1)]
	m.next++
	return map[string]int64{"e_imp": v, "p": 1000}, nil
}

func TestCounterFaultsAreFlaggedNotSpikes(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, dir)
		defer j.Close()
		ms := meters(t, "bus1", "000000000001")
		rd := &registerMeter{seq: []int64{RegisterWrap - 300, RegisterWrap - 100, 0, 50, 80, 5_000, 10, 40}}
		run := func(d time.Duration) *Scheduler {
			return runFor(t, []Bus{{Name: "bus1", Reader: rd, Meters: ms, RegisterWrap: RegisterWrap}}, j, Options{Interval: 10 * time.Second}, d)
		}
		s1 := run(35 * time.Second) // reads 4: wrap-300, wrap-100, 0 (bogus zero), 50 (rollover after wrap-100)
		s2 := run(42 * time.Second) // a restart inside the last slot (skipped): slots 40-70 s, ending between slots; : baseline from the journal (50); reads 80, 5000, 10 (exchange), 40
		es, err := j.Pending(context.Background(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		want := []bool{false, false, true, true, false, false, true, false}
		if len(es) != len(want) {
			t.Fatalf("%d readings journaled, want %d", len(es), len(want))
		}
		for i, e := range es {
			if got := e.Reading.Quality&meterdata.QualitySuspect != 0; got != want[i] {
				t.Errorf("reading %d (e_imp %d): suspect %v, want %v", i, e.Reading.Values["e_imp"], got, want[i])
			}
		}
		if s1.Stats().CounterFaults != 2 || s2.Stats().CounterFaults != 1 {
			t.Fatalf("counter faults %d and %d, want 2 and 1", s1.Stats().CounterFaults, s2.Stats().CounterFaults)
		}
		if st, _ := s2.Meter(ms[0].ID); st.LastCounterFault != "" {
			t.Fatalf("last fault %q after a plausible reading", st.LastCounterFault)
		}
	})
}
