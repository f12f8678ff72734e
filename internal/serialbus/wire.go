package serialbus

import (
	"io"
	"os"
	"sync"
	"time"
)

// wire is the far end of an emulated serial line: it takes the time the bytes would take
// on the wire, at the line's speed and character format, over a byte stream that has no
// speed of its own (a pty master, a pipe).
//
// The line is half-duplex and shared by both directions: a character occupies it for
// CharTime, and characters queue behind whatever is on it already. Bytes written are
// handed to the stream one by one, each when its stop bit ends (start + (i+1) ×
// CharTime), on an absolute schedule so that timer lateness does not add up. Bytes read
// are returned when their transmission would have ended: from the moment they were
// read, or from the end of what was on the line then. Waits end on the runtime's timers,
// which wake up to a millisecond late, except for their last two milliseconds, which
// fine sleeps (a blocking nanosleep for a pty: tens of microseconds late): a byte is
// handed over late by that much, never early.
type wire struct {
	rw   io.ReadWriter
	set  Settings
	fine func(time.Duration) // sleeps the last moments of a wait
	done chan struct{}       // closed when the line is closed: ends every wait

	rmu sync.Mutex // one reader at a time
	wmu sync.Mutex // one writer at a time

	mu   sync.Mutex
	free time.Time // when the last character on the line ends
}

func newWire(rw io.ReadWriter, set Settings) *wire {
	return &wire{rw: rw, set: set.WithDefaults(), fine: time.Sleep, done: make(chan struct{})}
}

// Read reads what the stream has and returns it once it has crossed the wire.
func (w *wire) Read(b []byte) (int, error) {
	w.rmu.Lock()
	defer w.rmu.Unlock()
	n, err := w.rw.Read(b)
	if n > 0 {
		start := w.occupy(time.Now(), n)
		if !w.sleepUntil(start.Add(w.set.WireTime(n))) {
			return 0, os.ErrClosed
		}
	}
	return n, err
}

// Write sends b at the line's speed and returns when its last byte has been handed to
// the stream.
func (w *wire) Write(b []byte) (int, error) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	start := w.occupy(time.Now(), len(b))
	sent := 0
	for sent < len(b) {
		if !w.sleepUntil(start.Add(w.set.WireTime(sent + 1))) {
			return sent, os.ErrClosed
		}
		// Everything due by now goes in one write: after a late wake-up, the bytes whose
		// time has passed are already "received".
		k := min(max(w.charsIn(time.Since(start)), sent+1), len(b))
		n, err := w.rw.Write(b[sent:k])
		sent += n
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// occupy books n characters on the line from now or from the end of what is on it, and
// returns when they start.
func (w *wire) occupy(now time.Time, n int) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	start := later(w.free, now)
	w.free = start.Add(w.set.WireTime(n))
	return start
}

// charsIn is how many whole characters the line carries in d.
func (w *wire) charsIn(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(int64(d) * int64(w.set.Baud) / (int64(w.set.FrameBits()) * int64(time.Second)))
}

// coarse is how much of a wait is left to the runtime's timers: all but its last
// moments, which fine sleeps.
const coarse = 2 * time.Millisecond

// sleepUntil waits until t, or reports false if the line is closed first.
func (w *wire) sleepUntil(t time.Time) bool {
	if d := time.Until(t) - coarse; d > 0 {
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-w.done:
			timer.Stop()
			return false
		}
	}
	if d := time.Until(t); d > 0 {
		w.fine(d)
	}
	select {
	case <-w.done:
		return false
	default:
		return true
	}
}
