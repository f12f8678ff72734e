package serialbus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echo answers every frame of n bytes on pty with the same bytes, until the pty closes.
func echo(pty *PTY, n int) {
	buf := make([]byte, n)
	for {
		if _, err := io.ReadFull(pty, buf); err != nil {
			return
		}
		if _, err := pty.Write(buf); err != nil {
			return
		}
	}
}

func TestLinkNotHeld(t *testing.T) {
	_, port := openPair(t, Settings{}, 0)
	l := NewBus(port).Link(0)
	if _, err := l.Write([]byte{1}); !errors.Is(err, ErrNotHeld) {
		t.Errorf("write: err = %v, want ErrNotHeld", err)
	}
	if _, err := l.Read(make([]byte, 1)); !errors.Is(err, ErrNotHeld) {
		t.Errorf("read: err = %v, want ErrNotHeld", err)
	}
}

// TestBusArbiter: links of several protocols on one port take turns, one exchange at a
// time, and each gets its own reply.
func TestBusArbiter(t *testing.T) {
	pty, port := openPair(t, Settings{Baud: 115200}, 0)
	const frame = len("L0-0000")
	go echo(pty, frame)
	bus := NewBus(port)
	ctx := context.Background()
	var active atomic.Int32
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for k := range 4 {
		l := bus.Link(bus.Port().Settings().ModbusGap())
		wg.Go(func() {
			for i := range 10 {
				req := fmt.Appendf(nil, "L%d-%04d", k, i)
				err := l.Do(ctx, func() error {
					if n := active.Add(1); n != 1 {
						return fmt.Errorf("%d links hold the bus", n)
					}
					defer active.Add(-1)
					l.SetDeadline(time.Now().Add(2 * time.Second))
					if _, err := l.Write(req); err != nil {
						return err
					}
					got := make([]byte, frame)
					if _, err := io.ReadFull(l, got); err != nil {
						return err
					}
					if !bytes.Equal(got, req) {
						return fmt.Errorf("link %d got %q, want %q", k, got, req)
					}
					return nil
				})
				if err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

func TestBusDoWaitHonoursContext(t *testing.T) {
	_, port := openPair(t, Settings{}, 0)
	bus := NewBus(port)
	a, b := bus.Link(0), bus.Link(0)
	held, release := make(chan struct{}), make(chan struct{})
	go a.Do(context.Background(), func() error {
		close(held)
		<-release
		return nil
	})
	<-held
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	ran := false
	err := b.Do(ctx, func() error { ran = true; return nil })
	if !errors.Is(err, context.DeadlineExceeded) || ran {
		t.Errorf("Do while held = %v (ran %v), want context.DeadlineExceeded", err, ran)
	}
}

// TestLinkGap: each link keeps its own gap, from the last byte on the line whichever link
// it belonged to.
func TestLinkGap(t *testing.T) {
	pty, port := openPair(t, Settings{Baud: 115200}, 0)
	go echo(pty, 4)
	bus := NewBus(port)
	fast, slow := bus.Link(0), bus.Link(40*time.Millisecond)
	exchange := func(l *Link) time.Time {
		t.Helper()
		var sent time.Time
		err := l.Do(context.Background(), func() error {
			l.SetDeadline(time.Now().Add(time.Second))
			if _, err := l.Write([]byte("ping")); err != nil {
				return err
			}
			sent = time.Now()
			_, err := io.ReadFull(l, make([]byte, 4))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return sent
	}
	exchange(fast)
	quiet := port.LineFree()
	if sent := exchange(slow); sent.Sub(quiet) < 40*time.Millisecond {
		t.Errorf("slow link sent %v after the line was quiet, want ≥ 40ms", sent.Sub(quiet))
	}
	quiet = port.LineFree()
	if sent := exchange(fast); sent.Sub(quiet) > 20*time.Millisecond {
		t.Errorf("fast link sent %v after the line was quiet, want at once", sent.Sub(quiet))
	}
}
