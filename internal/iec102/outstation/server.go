package outstation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"gridmeter/internal/iec102"
)

// maxAcceptFailures is how many failed Accepts in a row Serve survives.
const maxAcceptFailures = 100

// Server is an outstation: the configuration, the journal it answers from and its
// counters. It is safe for concurrent use; one Server may serve several listeners.
type Server struct {
	cfg    Config
	src    Source
	points map[uint16]Point
	log    *slog.Logger

	conns atomic.Int64 // connections being served
	stats struct {
		accepted, refused, rejected, authFailures, requests, refusals atomic.Uint64
	}
}

// New validates cfg and returns a server answering from src.
func New(cfg Config, src Source) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if src == nil {
		return nil, errors.New("outstation: no source")
	}
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, src: src, points: make(map[uint16]Point, len(cfg.Points)),
		log: cfg.Logger.With("component", "iec102-outstation", "link", cfg.LinkAddress)}
	for _, p := range cfg.Points {
		s.points[p.Address] = p
	}
	return s, nil
}

// Serve is New followed by Server.Serve.
func Serve(ctx context.Context, ln net.Listener, cfg Config, src Source) error {
	s, err := New(cfg, src)
	if err != nil {
		ln.Close()
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve accepts connections on ln until ctx is cancelled or ln fails, serving each in its
// own goroutine. It closes ln, and every connection it accepted, before it returns; it
// returns nil after ctx was cancelled, else the listener's error.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer ln.Close()
	s.log.Info("IEC 102 outstation listening", "addr", ln.Addr().String())
	var delay time.Duration
	failures := 0
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			if errors.Is(err, net.ErrClosed) || failures > maxAcceptFailures {
				return fmt.Errorf("outstation: accept: %w", err)
			}
			// Out of descriptors and the like: wait a little and try again, as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("IEC 102 accept failed: retrying", "err", err, "in", delay)
			select {
			case <-time.After(delay):
				continue
			case <-ctx.Done():
				return nil
			}
		}
		delay, failures = 0, 0
		if !s.admit(conn) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.conns.Add(-1)
			s.serveConn(ctx, conn)
		}()
	}
}

// admit applies the allow-list and the connection bound; a connection it refuses is
// closed without a byte sent.
func (s *Server) admit(conn net.Conn) bool {
	remote := remoteAddr(conn)
	if !remote.IsValid() || !s.cfg.allowed(remote) {
		s.stats.refused.Add(1)
		s.log.Warn("IEC 102 master refused: address not allowed", "remote", conn.RemoteAddr().String())
		conn.Close()
		return false
	}
	if s.conns.Add(1) > int64(s.cfg.MaxConns) {
		s.conns.Add(-1)
		s.stats.rejected.Add(1)
		s.log.Warn("IEC 102 master refused: too many connections", "remote", conn.RemoteAddr().String(), "max", s.cfg.MaxConns)
		conn.Close()
		return false
	}
	s.stats.accepted.Add(1)
	return true
}

// remoteAddr returns the IP address of the connection's peer, if it has one.
func remoteAddr(conn net.Conn) netip.Addr {
	switch a := conn.RemoteAddr().(type) {
	case *net.TCPAddr:
		return a.AddrPort().Addr()
	case nil:
		return netip.Addr{}
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Addr{}
		}
		return ap.Addr()
	}
}

// serveConn runs one link until the master leaves, the link idles out, the session
// asks to hang up or ctx is cancelled.
func (s *Server) serveConn(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	remote := conn.RemoteAddr().String()
	log := s.log.With("remote", remote)
	log.Debug("IEC 102 master connected")

	sess := newSession(ctx, s, log)
	sec := iec102.NewSecondary(s.cfg.LinkAddress)
	var dec iec102.Decoder
	for {
		f, err := iec102.ReadFrame(conn, &dec, time.Now().Add(s.cfg.IdleTimeout))
		switch {
		case err == nil:
		case errors.Is(err, iec102.ErrFrame):
			continue // discarded silently: the master repeats (IEC 60870-5-1, FT1.2 receiver checks)
		case errors.Is(err, iec102.ErrTimeout):
			log.Info("IEC 102 link idle: closing", "idle", s.cfg.IdleTimeout)
			return
		default:
			log.Debug("IEC 102 master gone", "err", err)
			return
		}
		reply, ok := sec.Handle(f, sess)
		if !ok {
			continue
		}
		if err := iec102.WriteFrame(conn, reply, time.Now().Add(s.cfg.WriteTimeout)); err != nil {
			log.Debug("IEC 102 write failed", "err", err)
			return
		}
		if sess.hangup && len(sess.queue) == 0 {
			log.Warn("IEC 102 link closed after repeated wrong passwords", "failures", sess.failures)
			return
		}
	}
}

// Stats are the outstation's counters since New.
type Stats struct {
	Accepted     uint64 // connections served
	Refused      uint64 // connections closed: address not in AllowedMasters
	Rejected     uint64 // connections closed: MaxConns reached
	Open         int64  // connections being served now
	AuthFailures uint64 // wrong passwords
	Requests     uint64 // ASDUs received (new user data)
	Refusals     uint64 // requests answered with a negative confirmation
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Accepted: s.stats.accepted.Load(), Refused: s.stats.refused.Load(), Rejected: s.stats.rejected.Load(),
		Open: s.conns.Load(), AuthFailures: s.stats.authFailures.Load(), Requests: s.stats.requests.Load(),
		Refusals: s.stats.refusals.Load(),
	}
}
