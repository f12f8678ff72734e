package iec102

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Conn is the byte stream to the other station: a net.Conn (TCP to a meter, to a
// serial gateway, or an accepted master connection), a serial port, or net.Pipe in
// tests. SetDeadline bounds both reads and writes; a call past the deadline fails with
// an error wrapping os.ErrDeadlineExceeded.
type Conn interface {
	io.Reader
	io.Writer
	SetDeadline(t time.Time) error
}

// ReadFrame returns the next frame from c, reading through d, which keeps the octets
// that arrive after the frame for the next call: use one Decoder per connection.
//
// A malformed candidate frame is returned as its error (wrapping ErrFrame) with the
// Decoder already past it: a master may retransmit at once instead of waiting for the
// timeout, an outstation calls ReadFrame again. Junk without a start octet is skipped
// silently (see Decoder.Discarded).
//
// When the deadline passes with octets buffered that never completed a frame (a junk
// 68H promising a long frame), ReadFrame drops them one by one looking for a frame
// behind them before it gives up. The timeout error wraps both ErrTimeout and the
// connection's error. Other read errors (io.EOF on a closed connection) are returned
// as they are.
func ReadFrame(c Conn, d *Decoder, deadline time.Time) (Frame, error) {
	if f, err := d.Next(); !errors.Is(err, ErrShortFrame) {
		return f, err
	}
	if err := c.SetDeadline(deadline); err != nil {
		return Frame{}, fmt.Errorf("iec102: set deadline: %w", err)
	}
	for {
		_, rerr := d.readFrom(c)
		// Decode what arrived even when the read also failed.
		if f, err := d.Next(); !errors.Is(err, ErrShortFrame) {
			return f, err
		}
		if rerr == nil {
			continue
		}
		if errors.Is(rerr, os.ErrDeadlineExceeded) {
			for d.Buffered() > 0 {
				d.Skip()
				if f, err := d.Next(); err == nil {
					return f, nil
				}
			}
			return Frame{}, fmt.Errorf("%w: %w", ErrTimeout, rerr)
		}
		return Frame{}, rerr
	}
}

// WriteFrame encodes f and writes it to c before the deadline.
func WriteFrame(c Conn, f Frame, deadline time.Time) error {
	var buf [MaxFrameLen]byte
	b, err := f.Append(buf[:0])
	if err != nil {
		return err
	}
	if err := c.SetDeadline(deadline); err != nil {
		return fmt.Errorf("iec102: set deadline: %w", err)
	}
	if _, err := c.Write(b); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("%w: write: %w", ErrTimeout, err)
		}
		return err
	}
	return nil
}
