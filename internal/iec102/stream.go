package iec102

import (
	"errors"
	"io"
)

// Decoder splits a byte stream (a TCP connection to a meter or a serial gateway) into
// frames. IEC 102 over TCP writes FT1.2 frames raw into the stream, with no length
// prefix, so one read may hold part of a frame or several frames, and field equipment
// adds junk between them: modem strings, FFH fill, vendor frames with other start
// octets. The Decoder keeps what it has not consumed yet and resynchronises on the next
// start octet after junk or a malformed frame, counting the octets it drops.
//
// Feed bytes with Write (or let ReadFrame read them), then call Next until it reports
// ErrShortFrame. A Decoder is not safe for concurrent use. The zero value is ready.
type Decoder struct {
	buf       []byte // buf[r:] is unconsumed
	r         int
	discarded uint64
}

// Write appends p to the bytes waiting to be decoded. It never fails. The Decoder does
// not bound its buffer: call Next after every Write.
func (d *Decoder) Write(p []byte) (int, error) {
	d.compact()
	d.buf = append(d.buf, p...)
	return len(p), nil
}

// Next returns the next frame. Its ASDU is a fresh copy the caller may keep.
//
// Errors: ErrShortFrame when the buffered bytes hold no complete frame (write more and
// call again); an error wrapping ErrFrame (ErrLength, ErrChecksum…) when a candidate
// frame was malformed and dropped: call Next again to continue after it. Octets skipped
// before a start octet and the start octets of malformed candidates are added to
// Discarded.
func (d *Decoder) Next() (Frame, error) {
	f, n, err := DecodeFrame(d.buf[d.r:])
	d.r += n
	switch {
	case err == nil:
		d.discarded += uint64(n - f.Len())
		if f.Format == FormatVariable {
			f.ASDU = append([]byte(nil), f.ASDU...)
		}
	default:
		d.discarded += uint64(n)
	}
	if d.r == len(d.buf) {
		d.buf, d.r = d.buf[:0], 0
	}
	return f, err
}

// Skip drops the first buffered octet and counts it as discarded. After a timeout with
// a partial candidate buffered (a junk 68H whose length octet promises more than ever
// arrives), Skip lets Next look for a frame behind it.
func (d *Decoder) Skip() {
	if d.r < len(d.buf) {
		d.r++
		d.discarded++
	}
	if d.r == len(d.buf) {
		d.buf, d.r = d.buf[:0], 0
	}
}

// Buffered returns the number of octets received but not yet consumed.
func (d *Decoder) Buffered() int { return len(d.buf) - d.r }

// Discarded returns the number of octets dropped so far as junk or as parts of
// malformed frames.
func (d *Decoder) Discarded() uint64 { return d.discarded }

// Reset drops every buffered octet (counting them as discarded), e.g. after reconnecting.
func (d *Decoder) Reset() {
	d.discarded += uint64(d.Buffered())
	d.buf, d.r = d.buf[:0], 0
}

func (d *Decoder) compact() {
	if d.r > 0 {
		n := copy(d.buf, d.buf[d.r:])
		d.buf, d.r = d.buf[:n], 0
	}
}

// readFrom performs one Read from r into the buffer's spare capacity.
func (d *Decoder) readFrom(r io.Reader) (int, error) {
	d.compact()
	if cap(d.buf)-len(d.buf) < readChunk {
		nb := make([]byte, len(d.buf), len(d.buf)+MaxFrameLen+readChunk)
		copy(nb, d.buf)
		d.buf = nb
	}
	n, err := r.Read(d.buf[len(d.buf):cap(d.buf)])
	if n < 0 {
		n = 0
		if err == nil {
			err = errors.New("iec102: negative read count")
		}
	}
	d.buf = d.buf[:len(d.buf)+n]
	return n, err
}

const readChunk = 512
