package iec102

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"testing/synctest"
	"time"
)

// pipe returns the two ends of a net.Pipe, closed at the end of the test.
func pipe(t *testing.T) (a, b net.Conn) {
	t.Helper()
	a, b = net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// writeAll writes the chunks to c in a goroutine the test owns and waits for.
func writeAll(t *testing.T, c net.Conn, chunks ...[]byte) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		for _, ch := range chunks {
			if _, err := c.Write(ch); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	t.Cleanup(func() {
		c.Close()
		if err := <-done; err != nil && !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("writer: %v", err)
		}
	})
}

func TestReadFrameSplitCoalescedJunk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		master, meter := pipe(t)
		stream := unhex(t, "FF FF 43 4F 4E 4E 45 43 54 0D 0A 10 0B 01 00 0C 16 10 00 01 00 01 16 "+
			"10 49 01 00 00 16 "+ // bad checksum
			"68 0D 0D 68 08 01 00 B7 01 07 01 00 00 01 00 00 00 CA 16")
		// Split across writes in the middle of frames; the first two frames coalesced.
		writeAll(t, meter, stream[:14], stream[14:30], stream[30:31], stream[31:])

		var d Decoder
		deadline := time.Now().Add(time.Second)
		for i, want := range []struct {
			ctl Control
			err error
		}{{0x0B, nil}, {0x00, nil}, {0, ErrChecksum}, {0x08, nil}} {
			f, err := ReadFrame(master, &d, deadline)
			if want.err != nil {
				if !errors.Is(err, want.err) {
					t.Fatalf("frame %d: err %v, want %v", i, err, want.err)
				}
				continue
			}
			if err != nil || f.Control != want.ctl || f.Address != 1 {
				t.Fatalf("frame %d: %v, %v; want control %02X", i, f, err, byte(want.ctl))
			}
		}
		// 11 junk octets, the bad frame's start octet, then the rest of the bad frame
		// (49 01 00 00 16), which holds no start octet.
		if d.Discarded() != 11+1+5 {
			t.Errorf("Discarded = %d, want 17", d.Discarded())
		}
		meter.Close()
		// net.Pipe reports the remote close from SetDeadline (TCP would from Read, io.EOF).
		if _, err := ReadFrame(master, &d, time.Now().Add(time.Second)); !errors.Is(err, io.ErrClosedPipe) {
			t.Fatalf("after the writer closed: %v, want io.ErrClosedPipe", err)
		}
	})
}

func TestReadFrameTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		master, _ := pipe(t)
		var d Decoder
		start := time.Now()
		_, err := ReadFrame(master, &d, start.Add(3*time.Second))
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("err = %v, want ErrTimeout and os.ErrDeadlineExceeded", err)
		}
		if waited := time.Since(start); waited != 3*time.Second {
			t.Errorf("returned after %v, want 3s", waited)
		}
	})
}

// A junk 68H whose length octets promise 64 octets hides the next frame until the
// deadline; then ReadFrame drops the junk and finds the frame behind it.
func TestReadFrameResyncOnTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		master, meter := pipe(t)
		writeAll(t, meter, unhex(t, "68 40 40 68 08 10 09 01 00 0A 16"))
		var d Decoder
		start := time.Now()
		f, err := ReadFrame(master, &d, start.Add(2*time.Second))
		if err != nil || f.Control.SecondaryFunc() != NoData {
			t.Fatalf("ReadFrame = %v, %v; want the no-data frame", f, err)
		}
		if time.Since(start) != 2*time.Second {
			t.Errorf("returned after %v, want the 2s deadline", time.Since(start))
		}
		if d.Discarded() != 5 {
			t.Errorf("Discarded = %d, want 5", d.Discarded())
		}
	})
}

func TestWriteFrame(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		master, meter := pipe(t)
		p := NewPrimary(1, DefaultRetries)
		done := make(chan error, 1)
		go func() { done <- WriteFrame(master, p.LinkStatus(), time.Now().Add(time.Second)) }()
		var d Decoder
		f, err := ReadFrame(meter, &d, time.Now().Add(time.Second))
		if err != nil || f.Control != 0x49 || f.Address != 1 {
			t.Fatalf("ReadFrame = %v, %v", f, err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// Nobody reads: net.Pipe is unbuffered, so the write times out.
		err = WriteFrame(master, p.LinkStatus(), time.Now().Add(time.Second))
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("unread write: %v, want ErrTimeout", err)
		}
		if err := WriteFrame(master, Frame{Format: FormatFixed, ASDU: []byte{1}}, time.Now()); !errors.Is(err, ErrFrame) {
			t.Fatalf("bad frame: %v, want ErrFrame", err)
		}
	})
}

// The Conn interface is what net.Conn provides.
var _ Conn = net.Conn(nil)
