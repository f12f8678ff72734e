package dlt645

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// Transport is the byte stream to one bus: a transparent TCP gateway (net.Conn), a serial
// port, or net.Pipe in tests. SetDeadline bounds both reads and writes; a read past the
// deadline fails with an error wrapping os.ErrDeadlineExceeded.
type Transport interface {
	io.Reader
	io.Writer
	SetDeadline(t time.Time) error
}

// Defaults used when Options leave a field zero.
const (
	// DefaultTimeout is the response timeout of one attempt, from the end of the
	// request to the end of the reply: the meter's reply delay (tens to a few hundred
	// milliseconds) plus the reply's transmission, which for a frame of 40 bytes takes
	// 0.2 s at 2400 bit/s 8E1 but for the longest frame (212 bytes) 1.9 s at 1200
	// bit/s: raise Timeout for long replies on slow buses.
	DefaultTimeout = 2 * time.Second

	// DefaultDrain is how long the client listens for stale bytes before its first
	// request and before a request that follows a failed one: long enough to catch a
	// late reply already on its way through a gateway, short beside the timeout the
	// failure has already cost.
	DefaultDrain = 50 * time.Millisecond
)

// maxFollowUps bounds the follow-up frames of one read (SEQ is one byte).
const maxFollowUps = 255

// Options tune a Client. The zero value is usable.
type Options struct {
	// Timeout is the response timeout of one attempt; 0 means DefaultTimeout.
	Timeout time.Duration
	// Retries is the number of further attempts after a timeout or a corrupt reply
	// (never after an abnormal reply, a transport error or a cancelled context).
	Retries int
	// Preamble sends FE FE FE FE before every command, which meters asleep on a
	// serial bus need to wake their receiver. Transparent TCP gateways do not care.
	Preamble bool
	// Drain is how long to listen for stale bytes and discard them before a request,
	// when the line may hold some: before the first request and after a failed one (a
	// reply arriving after its timeout must not be taken for the next one's). 0 means
	// DefaultDrain; a negative value disables draining (replies are still matched to
	// their request by address, function and identifier).
	Drain time.Duration
}

// Client is the master side of one bus. Its methods are safe for concurrent use; they
// take turns, because the bus is half-duplex and replies are matched to one request at a
// time. Every method honours its context: cancellation interrupts a pending read.
type Client struct {
	rw   Transport
	opts Options
	sem  chan struct{} // one request at a time; a channel so waiting honours ctx

	dlMu sync.Mutex // orders deadline changes between a request and its ctx watcher

	// While a request holds sem: its buffers, from bufferPool.
	bufs  *buffers
	rbuf  []byte // received bytes not yet decoded
	wbuf  []byte // encoded request
	dirty bool   // the line may hold stale bytes: drain before the next request
}

// buffers are a client's receive and send buffers. A client holds them only while a
// request runs (nothing is kept between requests: drain empties rbuf first): a terminal
// with a thousand single-meter TCP buses has a thousand clients but only tcp_concurrency
// of them busy at once.
type buffers struct {
	r [2 * MaxFrameLen]byte
	w [PreambleLen + MaxFrameLen]byte
}

// bufferPool holds the buffers of idle clients. A cache, not state: what it holds is
// overwritten before it is read.
var bufferPool = sync.Pool{New: func() any { return new(buffers) }}

// NewClient returns a client talking over rw. The client does not own rw until Close.
func NewClient(rw Transport, opts Options) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Drain == 0 {
		opts.Drain = DefaultDrain
	}
	if opts.Retries < 0 {
		opts.Retries = 0
	}
	return &Client{
		rw:    rw,
		opts:  opts,
		sem:   make(chan struct{}, 1),
		dirty: true,
	}
}

// DialTCP connects to a transparent TCP gateway (a serial server passing bytes to an
// RS-485 bus unchanged) at addr, "host:port", and returns a client on it.
func DialTCP(ctx context.Context, addr string, opts Options) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dlt645: dial %s: %w", addr, err)
	}
	return NewClient(conn, opts), nil
}

// Close closes the transport if it is an io.Closer.
func (c *Client) Close() error {
	if cl, ok := c.rw.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// Read reads one data identifier (读数据, 11H) from the meter at addr and returns the
// value bytes after the identifier, +33H offset removed, follow-up frames (B1H, read with
// 12H) concatenated. An abnormal reply is returned as an *AbnormalError.
func (c *Client) Read(ctx context.Context, addr Address, di DI) ([]byte, error) {
	v, err := c.read(ctx, addr, di)
	if err != nil {
		return nil, fmt.Errorf("meter %s: read %s: %w", addr, di, err)
	}
	return v, nil
}

// ReadValues reads di and decodes it with the Catalogue into meterdata channel values
// in their integer units (see Entry.Decode).
func (c *Client) ReadValues(ctx context.Context, addr Address, di DI) (map[string]int64, error) {
	e, ok := lookup(di)
	if !ok {
		return nil, fmt.Errorf("meter %s: read %s: %w", addr, di, ErrUnknownDI)
	}
	if len(e.Channels) == 0 {
		return nil, fmt.Errorf("meter %s: read %s: %w", addr, di, ErrNoValues)
	}
	v, err := c.read(ctx, addr, di)
	if err == nil {
		var m map[string]int64
		if m, err = e.Decode(v); err == nil {
			return m, nil
		}
	}
	return nil, fmt.Errorf("meter %s: read %s: %w", addr, di, err)
}

// ReadClock reads the meter's date (04000101) and time (04000102) and returns the
// instant they name in loc, the meter's time zone. If the time read is in the first ten
// seconds of a day the date is read again, in case midnight passed between the reads.
func (c *Client) ReadClock(ctx context.Context, addr Address, loc *time.Location) (time.Time, error) {
	date, err := c.read(ctx, addr, DIDate)
	if err != nil {
		return time.Time{}, fmt.Errorf("meter %s: read %s: %w", addr, DIDate, err)
	}
	clock, err := c.read(ctx, addr, DITime)
	if err != nil {
		return time.Time{}, fmt.Errorf("meter %s: read %s: %w", addr, DITime, err)
	}
	if len(clock) == 3 && clock[2] == 0 && clock[1] == 0 && clock[0] < 0x10 {
		if date, err = c.read(ctx, addr, DIDate); err != nil {
			return time.Time{}, fmt.Errorf("meter %s: read %s: %w", addr, DIDate, err)
		}
	}
	t, err := DecodeDateTime(date, clock, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("meter %s: clock: %w", addr, err)
	}
	return t, nil
}

// ReadAddress asks the only meter on the bus for its address (读通信地址, 13H, sent to
// AAAAAAAAAAAA). With several meters on a bus their replies collide.
func (c *Client) ReadAddress(ctx context.Context) (Address, error) {
	if err := c.acquire(ctx); err != nil {
		return Address{}, fmt.Errorf("read address: %w", err)
	}
	defer c.release()
	req := NewReadAddressRequest()
	rep, err := c.exchange(ctx, req, func(f Frame) bool {
		return f.Control.IsReply() && f.Control.Function() == FuncReadAddress
	})
	if err == nil {
		if ab := rep.Abnormal(); ab != nil {
			err = ab
		} else if len(rep.Data) != len(Address{}) {
			err = fmt.Errorf("%w: address reply of %d bytes, want 6", ErrData, len(rep.Data))
		}
	}
	if err != nil {
		return Address{}, fmt.Errorf("read address: %w", err)
	}
	var a Address
	copy(a[:], rep.Data)
	return a, nil
}

// BroadcastTimeSync sets the clock of every meter on the bus (广播校时, 08H to
// 999999999999) to the wall-clock reading of t in t's location: pass t.In(siteZone).
// Meters do not answer a broadcast, so success means only that the frame was sent.
func (c *Client) BroadcastTimeSync(ctx context.Context, t time.Time) error {
	req, err := NewTimeSyncRequest(t)
	if err != nil {
		return fmt.Errorf("broadcast time sync: %w", err)
	}
	if err := c.acquire(ctx); err != nil {
		return fmt.Errorf("broadcast time sync: %w", err)
	}
	defer c.release()
	err = c.withContext(ctx, func() error { return c.send(ctx, req) })
	if err != nil {
		return fmt.Errorf("broadcast time sync: %w", err)
	}
	return nil
}

func (c *Client) read(ctx context.Context, addr Address, di DI) ([]byte, error) {
	return c.readWith(ctx, addr, di, nil)
}

// readWith reads di with request data params after the identifier (the block count and
// time of a load profile read), following up frames as the meter says.
func (c *Client) readWith(ctx context.Context, addr Address, di DI, params []byte) ([]byte, error) {
	if err := c.acquire(ctx); err != nil {
		return nil, err
	}
	defer c.release()

	fromMeter := func(fn Function) func(Frame) bool {
		return func(f Frame) bool {
			if !f.Control.IsReply() || f.Control.Function() != fn || !addr.Matches(f.Address) {
				return false
			}
			if f.Control.IsAbnormal() {
				return true
			}
			got, err := f.DI()
			return err == nil && got == di
		}
	}
	req := NewReadRequest(addr, di)
	req.Data = append(req.Data, params...)
	rep, err := c.exchange(ctx, req, fromMeter(FuncRead))
	if err != nil {
		return nil, err
	}
	if ab := rep.Abnormal(); ab != nil {
		return nil, ab
	}
	value := append([]byte(nil), rep.Data[DISize:]...)

	// Read follow-up data (读后续数据): while the reply has D5 set, ask for frame SEQ
	// 1, 2, … with 12H; each reply 92H/B2H carries DI, data and SEQ last.
	meter := addr
	if addr.IsWildcard() {
		meter = rep.Address
	}
	for seq := 1; rep.Control.HasFollowUp(); seq++ {
		if seq > maxFollowUps {
			return nil, fmt.Errorf("%w: more than %d follow-up frames", ErrData, maxFollowUps)
		}
		accept := fromMeter(FuncReadFollowUp)
		req := NewReadFollowUpRequest(meter, di, byte(seq))
		rep, err = c.exchange(ctx, req, func(f Frame) bool {
			return accept(f) && (f.Control.IsAbnormal() || (len(f.Data) > DISize && f.Data[len(f.Data)-1] == byte(seq)))
		})
		if err != nil {
			return nil, fmt.Errorf("follow-up frame %d: %w", seq, err)
		}
		if ab := rep.Abnormal(); ab != nil {
			return nil, fmt.Errorf("follow-up frame %d: %w", seq, ab)
		}
		value = append(value, rep.Data[DISize:len(rep.Data)-1]...)
	}
	return value, nil
}

// acquire takes the client's turn and the buffers for a request.
func (c *Client) acquire(ctx context.Context) error {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	c.bufs = bufferPool.Get().(*buffers)
	c.rbuf, c.wbuf = c.bufs.r[:0], c.bufs.w[:0]
	return nil
}

// release gives the buffers back and ends the client's turn. Replies have been copied
// out of rbuf by then (Decode copies a frame's data).
func (c *Client) release() {
	bufferPool.Put(c.bufs)
	c.bufs, c.rbuf, c.wbuf = nil, nil, nil
	<-c.sem
}

// exchange sends req and waits for the first reply accept takes, retrying on timeouts
// and corrupt replies as Options say. The caller holds the semaphore.
func (c *Client) exchange(ctx context.Context, req Frame, accept func(Frame) bool) (Frame, error) {
	var rep Frame
	err := c.withContext(ctx, func() error {
		var err error
		for attempt := 0; attempt <= c.opts.Retries; attempt++ {
			rep, err = c.attempt(ctx, req, accept)
			if err == nil || !(errors.Is(err, ErrTimeout) || errors.Is(err, ErrFrame)) {
				return err
			}
		}
		return err
	})
	return rep, err
}

// withContext runs op with a watcher that, when ctx is cancelled, moves the transport's
// deadline into the past so that a blocked read or write returns at once. The watcher
// has finished when withContext returns, so it cannot disturb the next request.
func (c *Client) withContext(ctx context.Context, op func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(done)
		c.dlMu.Lock()
		defer c.dlMu.Unlock()
		_ = c.rw.SetDeadline(time.Unix(1, 0))
	})
	err := op()
	if !stop() {
		<-done // the watcher ran: ctx is done
		if err != nil {
			return ctx.Err()
		}
	}
	return err
}

// setDeadline sets the transport deadline unless ctx is already done, in which case the
// watcher's past deadline must stay.
func (c *Client) setDeadline(ctx context.Context, t time.Time) error {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && dl.Before(t) {
		t = dl
	}
	return c.rw.SetDeadline(t)
}

// attempt is one request/reply cycle: drain stale input, send, read until a reply is
// accepted, the deadline passes or the transport fails.
func (c *Client) attempt(ctx context.Context, req Frame, accept func(Frame) bool) (Frame, error) {
	f, err := c.attempt1(ctx, req, accept)
	c.dirty = err != nil
	return f, err
}

func (c *Client) attempt1(ctx context.Context, req Frame, accept func(Frame) bool) (Frame, error) {
	if err := c.drain(ctx); err != nil {
		return Frame{}, err
	}
	if err := c.send(ctx, req); err != nil {
		return Frame{}, err
	}
	if err := c.setDeadline(ctx, time.Now().Add(c.opts.Timeout)); err != nil {
		return Frame{}, err
	}
	var lastErr error // a malformed candidate seen while waiting, reported on timeout
	for {
		var damaged error
		for len(c.rbuf) > 0 {
			f, n, err := Decode(c.rbuf)
			c.consume(n)
			if err == nil {
				if accept(f) {
					return f, nil
				}
				continue // an echo of our request, a stale reply, another master's traffic
			}
			if errors.Is(err, ErrShortFrame) {
				if f, ok := c.lookahead(accept); ok {
					return f, nil
				}
				break
			}
			// Junk that looked like a start byte, or a damaged frame: keep scanning
			// what has arrived, the reply may follow in the same burst.
			if errors.Is(err, ErrChecksum) && damaged == nil {
				damaged = err
			}
			lastErr = err
		}
		if damaged != nil {
			// A complete frame with a bad checksum and nothing good after it is almost
			// surely the reply, damaged on the line: fail the attempt now (and retry)
			// rather than wait for a reply that will not come.
			return Frame{}, damaged
		}
		if err := c.fill(); err != nil {
			if isTimeout(err) {
				if ctxErr := ctxDone(ctx); ctxErr != nil {
					return Frame{}, ctxErr
				}
				if lastErr != nil {
					return Frame{}, fmt.Errorf("no valid reply within %v: %w", c.opts.Timeout, lastErr)
				}
				return Frame{}, fmt.Errorf("%w within %v", ErrTimeout, c.opts.Timeout)
			}
			return Frame{}, fmt.Errorf("dlt645: receive: %w", err)
		}
	}
}

// lookahead looks past an incomplete candidate at the head of rbuf for a complete reply
// that accept takes. A junk 68H whose would-be length field is large would otherwise
// hold a reply that has fully arrived until the deadline.
func (c *Client) lookahead(accept func(Frame) bool) (Frame, bool) {
	for off := 1; off < len(c.rbuf); off++ {
		if c.rbuf[off] != startByte {
			continue
		}
		if f, n, err := Decode(c.rbuf[off:]); err == nil && accept(f) {
			c.consume(off + n)
			return f, true
		}
	}
	return Frame{}, false
}

// ctxDone is ctx.Err(), also when the deadline has passed but the context's own timer
// has not fired yet.
func ctxDone(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// send writes req, preceded by wake-up bytes if configured.
func (c *Client) send(ctx context.Context, req Frame) error {
	c.wbuf = c.wbuf[:0]
	if c.opts.Preamble {
		c.wbuf = append(c.wbuf, preambleByte, preambleByte, preambleByte, preambleByte)
	}
	var err error
	if c.wbuf, err = req.AppendEncode(c.wbuf); err != nil {
		return err
	}
	if err := c.setDeadline(ctx, time.Now().Add(c.opts.Timeout)); err != nil {
		return err
	}
	if _, err := c.rw.Write(c.wbuf); err != nil {
		if ctxErr := ctxDone(ctx); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("dlt645: send: %w", err)
	}
	return nil
}

// drain discards undecoded bytes and, if the line may hold stale bytes, whatever
// arrives within the drain window: a late reply to an earlier, timed-out request must
// not be taken for the reply to this one. After a successful exchange the line is
// quiet, and waiting would only slow a fast link down.
func (c *Client) drain(ctx context.Context) error {
	c.rbuf = c.rbuf[:0]
	if c.opts.Drain < 0 || !c.dirty {
		return nil
	}
	if err := c.setDeadline(ctx, time.Now().Add(c.opts.Drain)); err != nil {
		return err
	}
	for {
		if err := c.fill(); err != nil {
			c.rbuf = c.rbuf[:0]
			if isTimeout(err) {
				return ctxDone(ctx)
			}
			return fmt.Errorf("dlt645: receive: %w", err)
		}
		c.rbuf = c.rbuf[:0]
	}
}

// fill reads once from the transport into rbuf.
func (c *Client) fill() error {
	if len(c.rbuf) == cap(c.rbuf) {
		// Decode never leaves more than one frame's worth undecided; a full buffer is
		// junk (no start byte is kept beyond MaxFrameLen).
		c.consume(len(c.rbuf) - MaxFrameLen)
	}
	n, err := c.rw.Read(c.rbuf[len(c.rbuf):cap(c.rbuf)])
	c.rbuf = c.rbuf[:len(c.rbuf)+n]
	if n > 0 {
		return nil // decode these first; a persistent error comes back on the next read
	}
	return err
}

func (c *Client) consume(n int) {
	if n <= 0 {
		return
	}
	m := copy(c.rbuf, c.rbuf[n:])
	c.rbuf = c.rbuf[:m]
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
