package acquisition

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"gridmeter/internal/meterdata"
)

// exclusiveReader fails the test if two reads (or a read and a command) overlap on its bus.
type exclusiveReader struct {
	busReader
	t      *testing.T
	inUse  atomic.Int32
	reads  atomic.Int32
	during atomic.Int32 // reads completed when the last command ran
}

func (e *exclusiveReader) ReadInstant(ctx context.Context, addr string) (map[string]int64, error) {
	if e.inUse.Add(1) != 1 {
		e.t.Error("two uses of the bus at once")
	}
	defer e.inUse.Add(-1)
	defer e.reads.Add(1)
	return e.busReader.ReadInstant(ctx, addr)
}

// TestExecPreemptsPolls checks that a command runs on the meter's bus before the next
// meter's read of a cycle in progress, at once while the bus is idle, never alongside a
// read, and that Exec refuses meters it does not poll and a stopped scheduler.
func TestExecPreemptsPolls(t *testing.T) {
	for _, remote := range []bool{false, true} { // a Remote bus parks between its cycles
		t.Run(fmt.Sprintf("remote=%v", remote), func(t *testing.T) { testExecPreemptsPolls(t, remote) })
	}
}

func testExecPreemptsPolls(t *testing.T, remote bool) {
	synctest.Test(t, func(t *testing.T) {
		j := openJournal(t, t.TempDir())
		defer j.Close()
		r := &exclusiveReader{busReader: busReader{delay: time.Second}, t: t}
		ms := meters(t, "bus1", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10")
		s, err := New([]Bus{{Name: "bus1", Reader: r, Meters: ms, Remote: remote}}, j, Options{Interval: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		// Start on a slot boundary plus a little, so the cycle runs 10 s into the slot.
		time.Sleep(time.Until(time.Now().Truncate(time.Minute).Add(time.Minute + 100*time.Millisecond)))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()

		exec := func(m meterdata.MeterID) (time.Duration, error) {
			start := time.Now()
			err := s.Exec(context.Background(), m, func(ctx context.Context, rd MeterReader) error {
				if r.inUse.Add(1) != 1 {
					t.Error("command alongside a read")
				}
				defer r.inUse.Add(-1)
				r.during.Store(r.reads.Load())
				time.Sleep(200 * time.Millisecond) // the command's own exchange
				return errors.New("meter said no")
			})
			return time.Since(start), err
		}

		time.Sleep(2500 * time.Millisecond) // mid-cycle: meter 3 is being read
		waited, err := exec(ms[5].ID)
		if err == nil || err.Error() != "meter said no" {
			t.Fatalf("Exec error %v, want fn's error", err)
		}
		if got := r.during.Load(); got != 3 {
			t.Fatalf("command ran after %d reads, want 3 (right after the read in progress)", got)
		}
		if waited > 800*time.Millisecond {
			t.Fatalf("command waited %s in a cycle of 1-s reads", waited)
		}

		time.Sleep(20 * time.Second) // the cycle is over; the bus waits for its next slot
		if waited, _ = exec(ms[0].ID); waited != 200*time.Millisecond {
			t.Fatalf("command on an idle bus took %s, want its own 200ms", waited)
		}
		if err := s.Exec(context.Background(), "T1.bus1.99", nil); !errors.Is(err, ErrNotPolled) {
			t.Fatalf("unknown meter: %v", err)
		}
		cancel()
		<-done
		if err := s.Exec(context.Background(), ms[0].ID, nil); !errors.Is(err, ErrStopped) {
			t.Fatalf("stopped scheduler: %v", err)
		}
		if n := r.count("1"); n != 1 {
			t.Fatalf("meter 1 read %d times in one slot", n)
		}
	})
}
