package modbusmap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/simonvetter/modbus"
)

// ServerOptions configure StartServer.
type ServerOptions struct {
	// IdleTimeout closes a client connection idle this long (0: the library's 2 minutes).
	IdleTimeout time.Duration
	// MaxClients bounds concurrent connections (0: 32); more are refused.
	MaxClients uint
	// Logger receives the library's messages at debug level; nil discards them.
	Logger *slog.Logger
}

// Server is a running Modbus TCP server (see StartServer).
type Server struct {
	addr net.Addr
	srv  *modbus.ModbusServer
	once sync.Once
	err  error
	done chan struct{}
}

// StartServer serves Modbus TCP with github.com/simonvetter/modbus's server at addr
// ("host:port"), answering through h, until ctx is done or Close is called. The library
// binds its own listener and does not say which port it got, so for port 0 StartServer
// picks a free port first (listening on it briefly) and retries if another process takes
// it in between. h is called concurrently, from one goroutine per client connection.
func StartServer(ctx context.Context, addr string, h modbus.RequestHandler, opts ServerOptions) (*Server, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("modbus server %q: %w", addr, err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	maxClients := opts.MaxClients
	if maxClients == 0 {
		maxClients = 32
	}
	for attempt := 0; ; attempt++ {
		bind := addr
		if port == "0" {
			if bind, err = freePort(host); err != nil {
				return nil, fmt.Errorf("modbus server %s: %w", addr, err)
			}
		}
		srv, err := modbus.NewServer(&modbus.ServerConfiguration{
			URL:        "tcp://" + bind,
			Timeout:    opts.IdleTimeout,
			MaxClients: maxClients,
			Logger:     slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		}, h)
		if err != nil {
			return nil, fmt.Errorf("modbus server %s: %w", bind, err)
		}
		err = srv.Start()
		if err == nil {
			s := &Server{srv: srv, done: make(chan struct{})}
			s.addr, err = net.ResolveTCPAddr("tcp", bind)
			if err != nil {
				srv.Stop()
				return nil, fmt.Errorf("modbus server %s: %w", bind, err)
			}
			context.AfterFunc(ctx, func() { s.Close() })
			return s, nil
		}
		if port != "0" || !errors.Is(err, syscall.EADDRINUSE) || attempt == 4 {
			return nil, fmt.Errorf("modbus server %s: %w", bind, err)
		}
	}
}

// freePort returns host:port with a port the system just handed out as free.
func freePort(host string) (string, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.addr }

// Close stops the server: it closes the listener and every client connection before it
// returns (the library's connection goroutines then end on their own). It is safe to
// call more than once and concurrently.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.err = s.srv.Stop()
		close(s.done)
	})
	return s.err
}

// Done is closed once the server has stopped.
func (s *Server) Done() <-chan struct{} { return s.done }
