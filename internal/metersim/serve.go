package metersim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"gridmeter/internal/dlt645"
)

// ServeDLT645 accepts connections on ln until ctx is done or ln is closed. Every
// connection is a transparent gateway onto one RS-485 bus carrying all the simulator's
// meters: request frames are decoded (wake-up bytes and line noise are skipped), the
// addressed meter answers, and no one answers a broadcast or an address no meter has.
//
// ServeDLT645 closes ln and every connection when ctx is done, waits for its goroutines
// and returns nil; it returns nil too when ln is closed by the caller, and the accept
// error otherwise.
func (s *Simulator) ServeDLT645(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	var wg sync.WaitGroup
	defer func() {
		cancel() // closes the connections, whatever ended the accept loop
		wg.Wait()
	}()
	s.log.Info("dlt645 listening", "addr", ln.Addr().String(), "meters", len(s.meters))
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("metersim: accept: %w", err)
		}
		wg.Go(func() { s.serveConn(ctx, conn) })
	}
}

// serveConn runs one connection: read, decode, answer, until the peer hangs up or ctx
// is done. Replies go out one at a time, in request order, like a half-duplex bus.
func (s *Simulator) serveConn(ctx context.Context, conn net.Conn) {
	log := s.log.With("remote", conn.RemoteAddr().String())
	log.Debug("connection opened")
	defer log.Debug("connection closed")
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()

	buf := make([]byte, 0, 2*dlt645.MaxFrameLen)
	tmp := make([]byte, 512)
	var out []byte
	for {
		n, err := conn.Read(tmp)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
				log.Debug("read failed", "err", err)
			}
			return
		}
		buf = append(buf, tmp[:n]...)
		for len(buf) > 0 {
			f, k, err := dlt645.Decode(buf)
			buf = buf[:copy(buf, buf[k:])]
			if errors.Is(err, dlt645.ErrShortFrame) {
				break
			}
			if err != nil {
				log.Debug("discarding malformed bytes", "err", err)
				continue
			}
			reply, ok := s.handle(f, log)
			if !ok {
				continue
			}
			if s.opts.ReplyDelay > 0 && !sleep(ctx, s.opts.ReplyDelay) {
				return
			}
			out = out[:0]
			if s.opts.ReplyPreamble {
				out = append(out, 0xFE, 0xFE, 0xFE, 0xFE)
			}
			if out, err = reply.AppendEncode(out); err != nil {
				log.Error("encode reply", "frame", reply.String(), "err", err)
				continue
			}
			if _, err := conn.Write(out); err != nil {
				log.Debug("write failed", "err", err)
				return
			}
		}
	}
}

// handle answers one request frame as the bus would: the reply, or ok false for silence.
func (s *Simulator) handle(req dlt645.Frame, log *slog.Logger) (reply dlt645.Frame, ok bool) {
	if req.Control.IsReply() {
		return reply, false // another device's reply on the bus
	}
	now := s.clock.Now()
	fn := req.Control.Function()

	if req.Address.IsBroadcast() {
		// Broadcast time sync (广播校时) sets every meter's clock; no broadcast is answered.
		if fn == dlt645.FuncBroadcastTime {
			if err := s.setClocks(now, req.Data, s.meters); err != nil {
				log.Debug("bad time sync", "err", err)
			}
		}
		return reply, false
	}

	m := s.find(req.Address)
	if m == nil {
		return reply, false // nobody on the bus has this address
	}
	switch fn {
	case dlt645.FuncRead:
		di, err := req.DI()
		if err != nil {
			return dlt645.NewAbnormalReply(m.addr, fn, dlt645.ErrCodeOther), true
		}
		value, err := m.ReadDLT645(now, di)
		if err != nil {
			log.Debug("no such data", "meter", m.addr.String(), "di", di.String())
			return dlt645.NewAbnormalReply(m.addr, fn, dlt645.ErrCodeNoData), true
		}
		return dlt645.NewReadReply(m.addr, di, value, false), true
	case dlt645.FuncReadAddress:
		return dlt645.NewReadAddressReply(m.addr), true
	case dlt645.FuncReadFollowUp:
		// Every simulated reply fits one frame, so there is never follow-up data.
		return dlt645.NewAbnormalReply(m.addr, fn, dlt645.ErrCodeNoData), true
	case dlt645.FuncBroadcastTime:
		// A time sync sent to one address sets that meter only, and is not answered.
		if err := s.setClocks(now, req.Data, []*Meter{m}); err != nil {
			log.Debug("bad time sync", "err", err)
		}
		return reply, false
	default:
		log.Info("function not simulated", "meter", m.addr.String(), "function", fn.String())
		return dlt645.NewAbnormalReply(m.addr, fn, dlt645.ErrCodeOther), true
	}
}

// find returns the first meter the address reaches (wildcard bytes match anything), so a
// read address 13H to AAAAAAAAAAAA is answered by the first meter.
func (s *Simulator) find(addr dlt645.Address) *Meter {
	if m, ok := s.byAddr[addr]; ok {
		return m
	}
	if !addr.IsWildcard() {
		return nil
	}
	for _, m := range s.meters {
		if addr.Matches(m.addr) {
			return m
		}
	}
	return nil
}

func (s *Simulator) setClocks(now time.Time, data []byte, meters []*Meter) error {
	t, err := dlt645.DecodeTimeSync(data, s.loc)
	if err != nil {
		return err
	}
	for _, m := range meters {
		m.SetClock(now, t)
	}
	s.log.Info("time sync", "meters", len(meters), "time", t.Format(time.DateTime))
	return nil
}

// sleep waits d or until ctx is done, reporting whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
