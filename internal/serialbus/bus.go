package serialbus

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// ErrNotHeld is returned by a Link's Read and Write outside the link's Do: the bus may
// be in the middle of another protocol's exchange.
var ErrNotHeld = errors.New("serialbus: link used without holding the bus")

// Bus arbitrates one Port between the protocols that share it (Modbus RTU and DL/T
// 645 meters on the same RS-485 pair): one request/reply exchange at a time, whatever
// the protocol, because the line is half-duplex and a reply belongs to the master that
// asked. Each protocol talks through its own Link.
//
// Once a Port is given to a Bus, use it through Links only.
type Bus struct {
	port   *Port
	sem    chan struct{} // the bus token; a channel so that waiting honours ctx
	holder atomic.Pointer[Link]
}

// NewBus returns an arbiter over p.
func NewBus(p *Port) *Bus {
	return &Bus{port: p, sem: make(chan struct{}, 1)}
}

// Port returns the port the bus arbitrates.
func (b *Bus) Port() *Port { return b.port }

// Close closes the port.
func (b *Bus) Close() error { return b.port.Close() }

// Link returns a new view of the bus for one protocol client, which leaves gap of silence
// on the line before each of its writes (DefaultDLT645Gap, Settings.ModbusGap): the
// silence is measured from the last byte on the line, whichever link sent or received
// it.
func (b *Bus) Link(gap time.Duration) *Link {
	return &Link{bus: b, gap: max(gap, 0)}
}

// Link is one protocol's access to a shared Bus, with the Read, Write and SetDeadline
// of a dlt645.Transport. Read and Write work only inside Do, which holds the bus.
type Link struct {
	bus *Bus
	gap time.Duration
	dl  deadline
}

// Do holds the bus for l while fn runs: fn makes one or more complete exchanges through
// l (e.g. one dlt645.Client.ReadValues) and no other link can send meanwhile. Do waits
// for the bus until ctx is done, and returns fn's error.
//
//	err := dl.Do(ctx, func() error {
//		v, err = client.ReadValues(ctx, meter, dlt645.DIForwardActiveTotal)
//		return err
//	})
func (l *Link) Do(ctx context.Context, fn func() error) error {
	select {
	case l.bus.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	l.bus.holder.Store(l)
	defer func() {
		l.bus.holder.Store(nil)
		<-l.bus.sem
	}()
	return fn()
}

// Read reads from the bus; see Port.Read.
func (l *Link) Read(p []byte) (int, error) {
	if l.bus.holder.Load() != l {
		return 0, ErrNotHeld
	}
	return l.bus.port.read(p, &l.dl)
}

// Write writes to the bus after the link's gap; see Port.Write.
func (l *Link) Write(p []byte) (int, error) {
	if l.bus.holder.Load() != l {
		return 0, ErrNotHeld
	}
	return l.bus.port.write(p, &l.dl, l.gap)
}

// SetDeadline sets the deadline of the link's reads and writes (each link has its own);
// it may be called at any time, from any goroutine.
func (l *Link) SetDeadline(t time.Time) error {
	l.dl.set(t)
	return nil
}
