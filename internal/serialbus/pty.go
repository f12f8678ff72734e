package serialbus

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// PTY is a pseudo-terminal pair standing in for a serial line: a program under test
// opens the slave device at Path like any serial port (with Open, or any serial
// library), and the holder of the PTY is the far end of the line — the meters of a
// simulator. A pty has no speed of its own, so PTY's Read and Write take the time the
// bytes would take on a real line of the given settings (see the package doc, "Emulated
// line"), and a client reading through it sees baud-rate-true timing.
//
// The PTY keeps a descriptor of the slave open itself, in raw mode, so that the line
// works before a client opens it and keeps working when a client closes it and another
// opens it (bytes sent while no client was there wait in the slave's input queue, as
// they would in a UART's).
//
// Reads take turns, and so do writes; Close may be called at any time.
type PTY struct {
	line   *wire
	master *os.File
	slave  *os.File
	path   string
	once   sync.Once
	err    error
}

// OpenPTY creates a pseudo-terminal pair whose line has the given settings (zero fields:
// 9600 8E1). It needs Linux (/dev/ptmx, devpts).
func OpenPTY(line Settings) (*PTY, error) {
	if err := line.Validate(); err != nil {
		return nil, err
	}
	master, slave, path, err := openPTY()
	if err != nil {
		return nil, fmt.Errorf("serialbus: open pty: %w", err)
	}
	w := newWire(master, line)
	w.fine = fineSleep
	return &PTY{line: w, master: master, slave: slave, path: path}, nil
}

// Read reads what the client has written and returns it when its transmission would have
// ended: n characters after it was written, or after the end of what was on the line
// then (the line is half-duplex).
func (p *PTY) Read(b []byte) (int, error) { return p.line.Read(b) }

// Write sends b to the client at the line's speed, each byte when its stop bit would
// end, after what is on the line already, and returns when the last byte is sent.
func (p *PTY) Write(b []byte) (int, error) { return p.line.Write(b) }

// Path returns the slave device's path, which a client opens as its serial port.
func (p *PTY) Path() string { return p.path }

// Settings returns the line settings, defaults filled in.
func (p *PTY) Settings() Settings { return p.line.set }

// Close closes both sides; a Read or Write in progress returns an error wrapping
// os.ErrClosed, and the client's next read fails.
func (p *PTY) Close() error {
	p.once.Do(func() {
		close(p.line.done)
		p.err = errors.Join(p.master.Close(), p.slave.Close())
	})
	return p.err
}
