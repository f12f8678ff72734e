package metersim

import (
	"context"
	"fmt"
	"net"
	"time"

	"gridmeter/internal/serialbus"
)

// PTYOptions configure a simulated serial bus on a pseudo-terminal.
type PTYOptions struct {
	// Line is the bus's speed and character format (zero fields: 9600 8E1). The client
	// may open the device with any settings — a pty ignores them — but the simulator
	// paces the bus at these.
	Line serialbus.Settings
}

// ServeDLT645PTY serves the simulator's meters on a new pseudo-terminal, a serial bus
// of all of them, until ctx is done, and returns the path of the device a client opens
// as its serial port (with serialbus.Open, or any serial library). The bus behaves like
// the TCP gateway of ServeDLT645 — the addressed meter answers, nobody answers a
// broadcast or an unknown address, Options.ReplyDelay, ReplyPreamble and Faults apply —
// with baud-rate-true timing: a request is taken when its last byte would have arrived
// at the line's speed, and every reply byte is sent when its stop bit would end (see
// serialbus.PTY). Closing and reopening the device is allowed; one client at a time.
func (s *Simulator) ServeDLT645PTY(ctx context.Context, opts PTYOptions) (string, error) {
	pty, err := serialbus.OpenPTY(opts.Line)
	if err != nil {
		return "", fmt.Errorf("metersim: %w", err)
	}
	s.log.Info("dlt645 serial bus", "device", pty.Path(), "line", pty.Settings().String(), "meters", len(s.meters))
	go func() {
		// serveConn closes the conn, hence the pty, when ctx is done.
		s.serveConn(ctx, ptyConn{pty})
	}()
	return pty.Path(), nil
}

// ptyConn gives a PTY the net.Conn shape serveConn takes.
type ptyConn struct{ *serialbus.PTY }

func (c ptyConn) LocalAddr() net.Addr              { return ptyAddr(c.Path()) }
func (c ptyConn) RemoteAddr() net.Addr             { return ptyAddr(c.Path()) }
func (c ptyConn) SetDeadline(time.Time) error      { return nil }
func (c ptyConn) SetReadDeadline(time.Time) error  { return nil }
func (c ptyConn) SetWriteDeadline(time.Time) error { return nil }

// ptyAddr names a pty bus by its device path.
type ptyAddr string

func (a ptyAddr) Network() string { return "pty" }
func (a ptyAddr) String() string  { return string(a) }
