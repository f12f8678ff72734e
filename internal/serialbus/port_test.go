package serialbus

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// openPair opens a pty line and a Port on its slave, closed when the test ends.
func openPair(t *testing.T, line Settings, gap time.Duration) (*PTY, *Port) {
	t.Helper()
	pty, err := OpenPTY(line)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pty.Close() })
	port, err := Open(pty.Path(), Options{Settings: line, Gap: gap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { port.Close() })
	return pty, port
}

func TestPortRoundTrip(t *testing.T) {
	pty, port := openPair(t, Settings{Baud: 115200}, 0)
	// Every byte value crosses unchanged: the line is raw (no CR/NL translation, no
	// flow-control characters, no echo).
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	if _, err := port.Write(all); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(all))
	if _, err := io.ReadFull(pty, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, all) {
		t.Errorf("far end read % X", got)
	}
	if _, err := pty.Write(all); err != nil {
		t.Fatal(err)
	}
	port.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(port, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, all) {
		t.Errorf("port read % X", got)
	}
}

func TestPortDeadline(t *testing.T) {
	_, port := openPair(t, Settings{}, 0)
	buf := make([]byte, 8)

	const d = 50 * time.Millisecond
	start := time.Now()
	port.SetDeadline(start.Add(d))
	_, err := port.Read(buf)
	elapsed := time.Since(start)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want os.ErrDeadlineExceeded", err)
	}
	// Not before the deadline; after it within a margin that catches an ignored deadline but
	// not a loaded machine's scheduling delay.
	if elapsed < d || elapsed > d+time.Second {
		t.Errorf("timed out after %v, want %v", elapsed, d)
	}

	// A deadline in the past fails reads and writes at once.
	port.SetDeadline(time.Unix(1, 0))
	if _, err := port.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read: err = %v, want os.ErrDeadlineExceeded", err)
	}
	if _, err := port.Write(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("write: err = %v, want os.ErrDeadlineExceeded", err)
	}
}

// TestPortDeadlineMoved: a deadline moved into the past during a read (a cancelled
// context) ends the read within one poll slice.
func TestPortDeadlineMoved(t *testing.T) {
	_, port := openPair(t, Settings{}, 0)
	port.SetDeadline(time.Time{})
	var moved time.Time
	time.AfterFunc(30*time.Millisecond, func() {
		moved = time.Now()
		port.SetDeadline(time.Unix(1, 0))
	})
	_, err := port.Read(make([]byte, 8))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want os.ErrDeadlineExceeded", err)
	}
	if late := time.Since(moved); late > pollSlice+time.Second {
		t.Errorf("read ended %v after the deadline moved", late)
	}
}

func TestPortClose(t *testing.T) {
	_, port := openPair(t, Settings{}, 0)
	time.AfterFunc(20*time.Millisecond, func() { port.Close() })
	_, err := port.Read(make([]byte, 8))
	if !errors.Is(err, os.ErrClosed) {
		t.Errorf("read: err = %v, want os.ErrClosed", err)
	}
	if _, err := port.Write([]byte{1}); !errors.Is(err, os.ErrClosed) {
		t.Errorf("write after close: err = %v, want os.ErrClosed", err)
	}
}

// TestPortGap: a write waits until the line has been quiet for the gap.
func TestPortGap(t *testing.T) {
	const gap = 30 * time.Millisecond
	pty, port := openPair(t, Settings{Baud: 9600}, gap)
	port.SetDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 32)
	if _, err := pty.Write([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(port, buf[:5]); err != nil {
		t.Fatal(err)
	}
	quiet := port.LineFree()
	if _, err := port.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(pty, buf[:7]); err != nil {
		t.Fatal(err)
	}
	// The far end has the request once it has crossed the wire, after the gap.
	if got, want := time.Since(quiet), gap+port.Settings().WireTime(7); got < want {
		t.Errorf("request arrived %v after the reply, want at least %v", got, want)
	}
}

// TestPTYReopen: the line keeps working when its client closes the port and another
// opens it.
func TestPTYReopen(t *testing.T) {
	line := Settings{Baud: 115200}
	pty, err := OpenPTY(line)
	if err != nil {
		t.Fatal(err)
	}
	defer pty.Close()
	for i := range 3 {
		port, err := Open(pty.Path(), Options{Settings: line})
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		msg := []byte{byte(i), 0x0D, 0x0A, 0x11, 0x13} // CR, NL, XON, XOFF cross unchanged
		if _, err := port.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(pty, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("open %d: far end read % X, %v; want % X", i, got, err, msg)
		}
		port.Close()
	}
}
