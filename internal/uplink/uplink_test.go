package uplink

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"gridmeter/internal/journal"
	"gridmeter/internal/message"
	"gridmeter/internal/meterdata"
)

// link stands in for the broker and the head-end in these unit tests of the resend logic
// (the end-to-end tests run the real ones): it decodes each batch, lets the test decide
// whether its ack is lost, and delivers acks asynchronously.
type link struct {
	u         *Uplink
	gen       atomic.Uint64
	up        atomic.Bool
	failNext  atomic.Int32 // publishes to fail before one succeeds
	mu        sync.Mutex
	seen      map[uint64]int // seq → times published
	loseAcks  func(b message.ReadingBatch) bool
	published int
}

func newLink() *link {
	l := &link{seen: map[uint64]int{}}
	l.gen.Store(1)
	l.up.Store(true)
	return l
}

func (l *link) Generation() uint64 { return l.gen.Load() }
func (l *link) Connected() bool    { return l.up.Load() }

func (l *link) PublishBatch(ctx context.Context, topic string, p []byte) error {
	if l.failNext.Load() > 0 {
		l.failNext.Add(-1)
		return errors.New("mqtt: not connected")
	}
	if topic != message.Topic("T1", message.UpReadings) {
		return fmt.Errorf("unexpected topic %s", topic)
	}
	b, err := message.DecodeReadingBatch("T1", p)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.published++
	for _, r := range b.Readings {
		l.seen[r.Seq]++
	}
	lose := l.loseAcks != nil && l.loseAcks(b)
	l.mu.Unlock()
	if !lose {
		a, _ := message.Ack{FirstSeq: b.FirstSeq, LastSeq: b.LastSeq, Result: message.AckStored}.Encode()
		go func() {
			time.Sleep(5 * time.Millisecond)
			l.u.HandleAck(a)
		}()
	}
	return nil
}

func (l *link) timesSeen(seq uint64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[seq]
}

func fill(t *testing.T, j *journal.Journal, n int) {
	t.Helper()
	base := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	rs := make([]meterdata.Reading, n)
	for i := range rs {
		rs[i] = meterdata.Reading{Meter: "T1.bus1.000000000001", Kind: meterdata.KindInstant, Time: base.Add(time.Duration(i) * time.Minute), Values: map[string]int64{"p": int64(i)}}
	}
	if _, _, err := j.Append(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
}

func unacked(t *testing.T, j *journal.Journal) int {
	t.Helper()
	st, err := j.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Unacked
}

func run(t *testing.T, l *link, opt Options, body func(j *journal.Journal, u *Uplink)) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		j, err := journal.Open(context.Background(), filepath.Join(dir, "j.db"), journal.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		opt.Terminal = "T1"
		u := New(j, l, opt)
		l.u = u
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { u.Run(ctx); close(done) }()
		body(j, u)
		cancel()
		<-done
	})
}

func TestPublishesEverythingInOrderAndReleasesOnAck(t *testing.T) {
	l := newLink()
	run(t, l, Options{BatchSize: 100}, func(j *journal.Journal, u *Uplink) {
		fill(t, j, 1050)
		u.Wake()
		time.Sleep(5 * time.Second)
		if n := unacked(t, j); n != 0 {
			t.Fatalf("%d entries unacknowledged", n)
		}
		for seq := uint64(1); seq <= 1050; seq++ {
			if n := l.timesSeen(seq); n != 1 {
				t.Fatalf("seq %d published %d times, want once", seq, n)
			}
		}
		if st := u.Stats(); st.Published != 1050 || st.Acked != 1050 || st.Resends != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestLostAckIsRepairedByResend(t *testing.T) {
	l := newLink()
	var lost atomic.Bool
	l.loseAcks = func(b message.ReadingBatch) bool { return b.FirstSeq == 1 && !lost.Swap(true) } // lose the first ack once
	run(t, l, Options{BatchSize: 10, AckTimeout: 10 * time.Second}, func(j *journal.Journal, u *Uplink) {
		fill(t, j, 30)
		u.Wake()
		time.Sleep(5 * time.Second)
		if n := unacked(t, j); n != 10 {
			t.Fatalf("%d unacked before the ack timeout, want the 10 of the lost ack", n)
		}
		time.Sleep(10 * time.Second)
		if n := unacked(t, j); n != 0 {
			t.Fatalf("%d unacked after the resend", n)
		}
		if l.timesSeen(1) != 2 || l.timesSeen(30) != 1 {
			t.Fatalf("seq 1 sent %d times (want 2), seq 30 %d times (want 1)", l.timesSeen(1), l.timesSeen(30))
		}
		if u.Stats().Resends != 1 {
			t.Fatalf("resends %d, want 1", u.Stats().Resends)
		}
	})
}

func TestReconnectResendsUnacked(t *testing.T) {
	l := newLink()
	l.loseAcks = func(message.ReadingBatch) bool { return true } // the head-end is gone: nothing is acked
	run(t, l, Options{BatchSize: 10}, func(j *journal.Journal, u *Uplink) {
		fill(t, j, 20)
		u.Wake()
		time.Sleep(2 * time.Second)
		l.up.Store(false)
		time.Sleep(2 * time.Second)
		l.mu.Lock()
		l.loseAcks = nil
		l.mu.Unlock()
		l.gen.Add(1)
		l.up.Store(true)
		time.Sleep(2 * time.Second)
		if n := unacked(t, j); n != 0 {
			t.Fatalf("%d unacked after reconnect", n)
		}
		if l.timesSeen(1) != 2 || l.timesSeen(20) != 2 {
			t.Fatalf("after reconnect seq 1 sent %d times, seq 20 %d times; want 2 each", l.timesSeen(1), l.timesSeen(20))
		}
	})
}

func TestPublishFailureIsRetried(t *testing.T) {
	l := newLink()
	l.failNext.Store(3)
	run(t, l, Options{BatchSize: 50}, func(j *journal.Journal, u *Uplink) {
		fill(t, j, 40)
		u.Wake()
		time.Sleep(5 * time.Second)
		if n := unacked(t, j); n != 0 {
			t.Fatalf("%d unacked after publish failures", n)
		}
	})
}

func TestRejectedAckKeepsEntries(t *testing.T) {
	l := newLink()
	l.loseAcks = func(message.ReadingBatch) bool { return true }
	run(t, l, Options{BatchSize: 50}, func(j *journal.Journal, u *Uplink) {
		fill(t, j, 5)
		u.Wake()
		time.Sleep(time.Second)
		a, _ := message.Ack{FirstSeq: 1, LastSeq: 5, Result: message.AckRejected, Error: "bad"}.Encode()
		u.HandleAck(a)
		u.HandleAck([]byte(`{"v":1,"garbage":true}`))
		time.Sleep(time.Second)
		if n := unacked(t, j); n != 5 {
			t.Fatalf("a rejected batch released entries: %d unacked, want 5", n)
		}
		if st := u.Stats(); st.Rejected != 1 || st.BadAcks != 1 {
			t.Fatalf("stats %+v, want 1 rejected and 1 bad ack", st)
		}
	})
}
