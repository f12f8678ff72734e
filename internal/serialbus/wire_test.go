package serialbus

import (
	"errors"
	"io"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// stream is the far end's byte stream in tests: reads come from in, writes are recorded
// with the (fake) time they were made.
type stream struct {
	in     chan []byte
	mu     sync.Mutex
	writes []stamped
}

type stamped struct {
	at time.Time
	b  []byte
}

func newStream() *stream { return &stream{in: make(chan []byte, 8)} }

func (s *stream) Read(b []byte) (int, error) {
	p, ok := <-s.in
	if !ok {
		return 0, io.EOF
	}
	return copy(b, p), nil
}

func (s *stream) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, stamped{time.Now(), append([]byte(nil), b...)})
	return len(b), nil
}

// TestWirePacesWrites: every byte is handed over when its stop bit ends.
func TestWirePacesWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		line := Settings{Baud: 9600}
		s := newStream()
		w := newWire(s, line)
		frame := []byte("0123456789ABCDEFGHIJ")
		start := time.Now()
		n, err := w.Write(frame)
		if n != len(frame) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		if got, want := time.Since(start), line.WireTime(len(frame)); got != want {
			t.Errorf("Write took %v, want %v", got, want)
		}
		if len(s.writes) != len(frame) {
			t.Fatalf("%d writes, want one per byte", len(s.writes))
		}
		for i, wr := range s.writes {
			if got, want := wr.at.Sub(start), line.WireTime(i+1); got != want || len(wr.b) != 1 || wr.b[0] != frame[i] {
				t.Errorf("byte %d: %q at %v, want %q at %v", i, wr.b, got, frame[i:i+1], want)
			}
		}
	})
}

// TestWireHalfDuplex: bytes read take their own wire time, after what is on the line.
func TestWireHalfDuplex(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		line := Settings{Baud: 2400}
		s := newStream()
		w := newWire(s, line)
		start := time.Now()
		buf := make([]byte, 64)

		// A request on an idle line: back after its 16 characters.
		s.in <- make([]byte, 16)
		if n, err := w.Read(buf); n != 16 || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
		if got, want := time.Since(start), line.WireTime(16); got != want {
			t.Errorf("request read after %v, want %v", got, want)
		}

		// Bytes that arrive while a reply is on the line queue behind it.
		start = time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			w.Write(make([]byte, 20))
		}()
		time.Sleep(5 * time.Millisecond)
		s.in <- make([]byte, 16)
		if n, err := w.Read(buf); n != 16 || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
		if got, want := time.Since(start), line.WireTime(20)+line.WireTime(16); got != want {
			t.Errorf("queued read after %v, want %v", got, want)
		}
		<-done
	})
}

// TestWireClose: closing the line ends a paced write at once.
func TestWireClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWire(newStream(), Settings{Baud: 1200})
		time.AfterFunc(20*time.Millisecond, func() { close(w.done) })
		start := time.Now()
		n, err := w.Write(make([]byte, 100)) // 917 ms on the wire
		if !errors.Is(err, os.ErrClosed) || n != 2 {
			t.Errorf("Write = %d, %v, want 2 bytes and os.ErrClosed", n, err)
		}
		if got := time.Since(start); got != 20*time.Millisecond {
			t.Errorf("Write returned after %v, want 20ms", got)
		}
	})
}
