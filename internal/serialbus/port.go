package serialbus

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.bug.st/serial"
)

// pollSlice bounds one blocking read of the serial port. go.bug.st/serial has a read
// timeout, fixed when a read starts, but no deadline another goroutine can move; reads
// therefore wait in slices and look at the deadline between them. A deadline moved
// earlier during a read (a cancelled context) takes effect within one slice; bytes that
// arrive end a slice at once.
const pollSlice = 10 * time.Millisecond

// Options configure a Port.
type Options struct {
	// Settings are the line's speed and character format (zero fields: 9600 8E1).
	Settings
	// Gap is the silence Write leaves on the line before it sends, counted from the end
	// of the last byte sent or received: DefaultDLT645Gap for DL/T 645, ModbusGap for
	// Modbus RTU. Zero sends at once. Links of a Bus have their own gap.
	Gap time.Duration
}

// Port is a serial port opened through go.bug.st/serial, with the byte-stream shape a
// protocol client takes (dlt645.Transport): Read, Write and SetDeadline, plus Close.
//
// A Port is safe for concurrent use: reads take turns, and so do writes; SetDeadline and
// Close may be called at any time. Taking turns by whole exchanges is the client's
// business, or a Bus's.
type Port struct {
	path string
	set  Settings
	gap  time.Duration
	sp   serial.Port
	dl   deadline

	rmu         sync.Mutex    // one read at a time; guards readTimeout
	readTimeout time.Duration // what sp.SetReadTimeout was last given

	wmu sync.Mutex // one write at a time

	mu       sync.Mutex
	lineFree time.Time // end of the last byte sent (estimated) or received

	closed atomic.Bool
}

// Open opens the serial port at path (e.g. /dev/ttyS1, /dev/ttyUSB0, a pty's slave) in
// raw mode with opts' settings, RTS/CTS flow control off.
func Open(path string, opts Options) (*Port, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	set := opts.WithDefaults()
	mode := &serial.Mode{BaudRate: set.Baud, DataBits: set.DataBits, StopBits: serial.OneStopBit}
	switch set.Parity {
	case ParityEven:
		mode.Parity = serial.EvenParity
	case ParityOdd:
		mode.Parity = serial.OddParity
	default:
		mode.Parity = serial.NoParity
	}
	if set.StopBits == 2 {
		mode.StopBits = serial.TwoStopBits
	}
	sp, err := serial.Open(path, mode)
	if err != nil {
		return nil, fmt.Errorf("serialbus: open %s (%s): %w", path, set, err)
	}
	p := &Port{path: path, set: set, gap: max(opts.Gap, 0), sp: sp, readTimeout: serial.NoTimeout}
	return p, nil
}

// Path returns the device path the port was opened with.
func (p *Port) Path() string { return p.path }

// Settings returns the line settings, defaults filled in.
func (p *Port) Settings() Settings { return p.set }

// SetDeadline sets the deadline of Read and Write; the zero time means none. A Read
// waiting past the deadline fails with an error wrapping os.ErrDeadlineExceeded: exactly
// at the deadline if it was set before the Read began, within 10 ms if it was moved
// during the Read. Write fails the same way if the deadline has passed before it could
// send (while it keeps the gap); a write the kernel has accepted is not bounded (the
// kernel's buffer holds far more than one frame, so it does not block on a serial line
// without flow control).
func (p *Port) SetDeadline(t time.Time) error {
	p.dl.set(t)
	return nil
}

// Read reads what has arrived, waiting for at least one byte until the deadline.
func (p *Port) Read(b []byte) (int, error) { return p.read(b, &p.dl) }

// Write sends b after the port's gap.
func (p *Port) Write(b []byte) (int, error) { return p.write(b, &p.dl, p.gap) }

// Close closes the port; a blocked Read returns at once.
func (p *Port) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return nil
	}
	if err := p.sp.Close(); err != nil {
		return fmt.Errorf("serialbus: close %s: %w", p.path, err)
	}
	return nil
}

// LineFree returns the instant the line was last busy until: the end of the last byte
// received, or the estimated end of transmission of the last bytes written (the kernel
// sends them after Write returns, at CharTime per byte).
func (p *Port) LineFree() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lineFree
}

func (p *Port) read(b []byte, dl *deadline) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	p.rmu.Lock()
	defer p.rmu.Unlock()
	for {
		if p.closed.Load() {
			return 0, p.errorf("read", os.ErrClosed)
		}
		wait := pollSlice
		if t, ok := dl.get(); ok {
			left := time.Until(t)
			if left <= 0 {
				return 0, p.errorf("read", os.ErrDeadlineExceeded)
			}
			wait = min(wait, left)
		}
		if wait != p.readTimeout {
			if err := p.sp.SetReadTimeout(wait); err != nil {
				return 0, p.errorf("read", err)
			}
			p.readTimeout = wait
		}
		n, err := p.sp.Read(b)
		if n > 0 {
			p.busy(time.Now())
			return n, nil // a persistent error comes back on the next read
		}
		if err != nil {
			return 0, p.errorf("read", p.portError(err))
		}
		// The slice ended without a byte: look at the deadline again.
	}
}

func (p *Port) write(b []byte, dl *deadline, gap time.Duration) (int, error) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.closed.Load() {
		return 0, p.errorf("write", os.ErrClosed)
	}
	// Keep the gap: sleep until the line has been quiet for gap, in slices, so that a
	// deadline moved into the past (a cancelled context) ends the wait.
	for {
		now := time.Now()
		if t, ok := dl.get(); ok && !now.Before(t) {
			return 0, p.errorf("write", os.ErrDeadlineExceeded)
		}
		wait := p.LineFree().Add(gap).Sub(now)
		if wait <= 0 {
			break
		}
		time.Sleep(min(wait, pollSlice))
	}
	n, err := p.sp.Write(b)
	if n > 0 {
		p.mu.Lock()
		p.lineFree = later(p.lineFree, time.Now()).Add(p.set.WireTime(n))
		p.mu.Unlock()
	}
	if err != nil {
		return n, p.errorf("write", p.portError(err))
	}
	return n, nil
}

// busy notes bytes received at t.
func (p *Port) busy(t time.Time) {
	p.mu.Lock()
	p.lineFree = later(p.lineFree, t)
	p.mu.Unlock()
}

// portError turns the library's "port closed" into os.ErrClosed.
func (p *Port) portError(err error) error {
	var pe *serial.PortError
	if p.closed.Load() || (errors.As(err, &pe) && pe.Code() == serial.PortClosed) {
		return os.ErrClosed
	}
	return err
}

func (p *Port) errorf(op string, err error) error {
	return fmt.Errorf("serialbus %s: %s: %w", p.path, op, err)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// deadline is a deadline set from any goroutine and read by the one doing I/O.
type deadline struct{ t atomic.Pointer[time.Time] }

func (d *deadline) set(t time.Time) {
	if t.IsZero() {
		d.t.Store(nil)
		return
	}
	d.t.Store(&t)
}

func (d *deadline) get() (time.Time, bool) {
	if t := d.t.Load(); t != nil {
		return *t, true
	}
	return time.Time{}, false
}
