package modbusmap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// RTUTransport is the serial line an RTUReader talks over: a serialbus.Port, or a
// serialbus.Link when the line is shared with other protocols. It must keep Modbus RTU's
// silence of 3.5 characters before each frame (serialbus.Settings.ModbusGap), which
// delimits frames on the line. SetDeadline bounds reads and writes; a read past it
// fails with an error wrapping os.ErrDeadlineExceeded.
type RTUTransport interface {
	io.Reader
	io.Writer
	SetDeadline(t time.Time) error
}

// RTUReaderOptions configure an RTUReader.
type RTUReaderOptions struct {
	// Timeout bounds each attempt, from sending the request to the end of the reply (0:
	// DefaultTimeout). The longest reply (255 bytes) takes 0.29 s at 9600 8E1.
	Timeout time.Duration
	// Retries is the number of further attempts after a timeout or a damaged reply
	// (never after an exception or a transport error).
	Retries int
}

// rtuDrain is how long an RTUReader listens for stale bytes before a request that
// follows a failed one: a late reply must not be taken for the next one's.
const rtuDrain = 50 * time.Millisecond

// RTUReader reads meters over Modbus RTU on a serial line it does not own, framing RTU
// itself (github.com/simonvetter/modbus opens its serial port itself, so it cannot
// share a bus with DL/T 645). Its reads take turns; it is safe for concurrent use.
// Holding the bus while a read runs, when the line is shared, is the caller's business
// (serialbus.Link.Do).
type RTUReader struct {
	t    RTUTransport
	m    Map
	plan []Request
	opts RTUReaderOptions

	mu    sync.Mutex // one read at a time; guards the fields below
	rbuf  []byte
	wbuf  []byte
	dirty bool // the line may hold stale bytes: drain before the next request

	dlMu sync.Mutex // orders deadline changes between a request and its ctx watcher
}

// NewRTUReader returns a reader of meters with register map m over t. It validates m.
func NewRTUReader(t RTUTransport, m Map, opts RTUReaderOptions) (*RTUReader, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	opts.Retries = max(opts.Retries, 0)
	return &RTUReader{
		t: t, m: m.Clone(), plan: m.Plan(), opts: opts,
		rbuf:  make([]byte, 0, 2*MaxRTUFrameLen),
		wbuf:  make([]byte, 0, MaxRTUFrameLen),
		dirty: true,
	}, nil
}

// Plan returns the reads one ReadInstant makes.
func (r *RTUReader) Plan() []Request { return append([]Request(nil), r.plan...) }

// ReadInstant reads every channel of the map from the unit (1 to 247). Errors name the
// unit and the request and wrap ErrTimeout, ErrProtocol, ErrConnection (the transport
// failed), an Exception or ErrValue. Cancelling ctx interrupts a pending read.
func (r *RTUReader) ReadInstant(ctx context.Context, unit uint8) (map[string]int64, error) {
	if unit == 0 || unit > 247 {
		return nil, fmt.Errorf("modbus rtu unit %d: want 1 to 247", unit)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	blocks := make([]Block, 0, len(r.plan))
	for _, q := range r.plan {
		words, err := r.exchange(ctx, unit, q)
		if err != nil {
			return nil, fmt.Errorf("modbus rtu unit %d: read %s: %w", unit, q, err)
		}
		blocks = append(blocks, Block{Table: q.Table, Start: q.Start, Words: words})
	}
	values, err := r.m.Decode(blocks)
	if err != nil {
		return nil, fmt.Errorf("modbus rtu unit %d: %w", unit, err)
	}
	return values, nil
}

// exchange reads q from unit, retrying as the options say. r.mu is held.
func (r *RTUReader) exchange(ctx context.Context, unit uint8, q Request) ([]uint16, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// A watcher moves the deadline into the past when ctx is done, so that a blocked
	// read returns; it has finished when exchange returns.
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(done)
		r.dlMu.Lock()
		defer r.dlMu.Unlock()
		_ = r.t.SetDeadline(time.Unix(1, 0))
	})
	var words []uint16
	var err error
	for attempt := 0; attempt <= r.opts.Retries; attempt++ {
		words, err = r.attempt(ctx, unit, q)
		r.dirty = err != nil
		if err == nil || !(errors.Is(err, ErrTimeout) || errors.Is(err, ErrProtocol)) {
			break
		}
	}
	if !stop() {
		<-done
		if err != nil {
			return nil, ctx.Err()
		}
	}
	return words, err
}

// setDeadline sets the transport's deadline unless ctx is done (the watcher's past
// deadline must stay).
func (r *RTUReader) setDeadline(ctx context.Context, t time.Time) error {
	r.dlMu.Lock()
	defer r.dlMu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	return r.t.SetDeadline(t)
}

func (r *RTUReader) attempt(ctx context.Context, unit uint8, q Request) ([]uint16, error) {
	if err := r.drain(ctx); err != nil {
		return nil, err
	}
	var err error
	if r.wbuf, err = NewRTUReadRequest(unit, q).AppendEncode(r.wbuf[:0]); err != nil {
		return nil, err
	}
	if err := r.setDeadline(ctx, time.Now().Add(r.opts.Timeout)); err != nil {
		return nil, err
	}
	if _, err := r.t.Write(r.wbuf); err != nil {
		return nil, r.ioError(ctx, "send", err)
	}
	if err := r.setDeadline(ctx, time.Now().Add(r.opts.Timeout)); err != nil {
		return nil, err
	}
	fn := readFunction(q.Table)
	for {
		var damaged error
		for len(r.rbuf) > 0 {
			f, n, err := DecodeRTUResponse(r.rbuf)
			if errors.Is(err, ErrRTUShort) {
				// Noise that looks like the start of a long frame must not hold up a
				// reply that has arrived behind it.
				if f, ok := r.lookahead(unit, fn); ok {
					return f.ReadResponse(unit, q)
				}
				break
			}
			if err == nil && f.Unit == unit && f.Function&^exceptionBit == fn {
				words, err := f.ReadResponse(unit, q) // before f.Data, in rbuf, moves
				r.consume(n)
				return words, err
			}
			if errors.Is(err, ErrRTUCRC) && damaged == nil && r.rbuf[0] == unit && r.rbuf[1]&^exceptionBit == fn {
				damaged = err
			}
			r.consume(n)
			// Line noise (resynchronise byte by byte), or a frame that is not the reply.
		}
		if damaged != nil {
			// A frame of this unit and function that fails its CRC, and nothing good
			// after it, is almost surely the reply damaged on the line: fail the attempt
			// now (and retry) rather than wait for a reply that will not come.
			return nil, fmt.Errorf("%w: %w", ErrProtocol, damaged)
		}
		if len(r.rbuf) == cap(r.rbuf) {
			r.consume(1) // an impossible candidate: skip a byte
		}
		n, err := r.t.Read(r.rbuf[len(r.rbuf):cap(r.rbuf)])
		r.rbuf = r.rbuf[:len(r.rbuf)+n]
		if err != nil && n == 0 {
			return nil, r.ioError(ctx, "receive", err)
		}
	}
}

// lookahead looks past an incomplete candidate at the head of rbuf for a complete reply
// of unit to function fn, and consumes up to its end if there is one.
func (r *RTUReader) lookahead(unit, fn uint8) (RTUFrame, bool) {
	for off := 1; off+4 <= len(r.rbuf); off++ {
		if r.rbuf[off] != unit {
			continue
		}
		f, n, err := DecodeRTUResponse(r.rbuf[off:])
		if err == nil && f.Function&^exceptionBit == fn {
			f.Data = append([]byte(nil), f.Data...) // rbuf moves on
			r.consume(off + n)
			return f, true
		}
	}
	return RTUFrame{}, false
}

func (r *RTUReader) consume(n int) { r.rbuf = r.rbuf[:copy(r.rbuf, r.rbuf[n:])] }

// drain discards stale input if the line may hold some.
func (r *RTUReader) drain(ctx context.Context) error {
	r.rbuf = r.rbuf[:0]
	if !r.dirty {
		return nil
	}
	if err := r.setDeadline(ctx, time.Now().Add(rtuDrain)); err != nil {
		return err
	}
	for {
		_, err := r.t.Read(r.rbuf[:cap(r.rbuf)])
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return ctx.Err()
			}
			return r.ioError(ctx, "receive", err)
		}
	}
}

// ioError classifies a transport error: the context's error if it is done, ErrTimeout
// for a deadline, ErrConnection otherwise.
func (r *RTUReader) ioError(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: no reply within %v", ErrTimeout, r.opts.Timeout)
	}
	return fmt.Errorf("%w: %s: %w", ErrConnection, op, err)
}
