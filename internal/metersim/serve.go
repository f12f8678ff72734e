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
	var bus busState
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
			reply, m, ok := s.handle(&bus, f, log)
			if !ok {
				continue
			}
			var fault commFault
			if m != nil {
				fault = m.commFault()
			}
			if fault.silent {
				log.Debug("fault: no answer", "meter", m.addr.String())
				continue
			}
			if fault.abnormal != 0 {
				reply = dlt645.NewAbnormalReply(m.addr, f.Control.Function(), fault.abnormal)
			}
			if d := s.opts.ReplyDelay + fault.late; d > 0 && !sleep(ctx, d) {
				return
			}
			out = append(out[:0], fault.garbage...)
			if s.opts.ReplyPreamble {
				out = append(out, 0xFE, 0xFE, 0xFE, 0xFE)
			}
			if out, err = reply.AppendEncode(out); err != nil {
				log.Error("encode reply", "frame", reply.String(), "err", err)
				continue
			}
			if fault.badCS {
				out[len(out)-2] ^= 0x5A
			}
			if _, err := conn.Write(out); err != nil {
				log.Debug("write failed", "err", err)
				return
			}
		}
	}
}

// busState is what one connection remembers between requests: the rest of a reply that
// did not fit one frame, read with follow-up requests (12H).
type busState struct {
	addr   dlt645.Address
	di     dlt645.DI
	chunks [][]byte // chunks[i] is follow-up frame SEQ i+1
}

// Frame size limits of a read reply: L ≤ 200 with the DI (4 bytes) and, in follow-up
// replies, SEQ (1 byte).
const (
	firstChunk  = dlt645.MaxDataLen - dlt645.DISize
	followChunk = dlt645.MaxDataLen - dlt645.DISize - 1
)

// handle answers one request frame as the bus would: the reply and the meter that sends
// it, or ok false for silence.
func (s *Simulator) handle(bus *busState, req dlt645.Frame, log *slog.Logger) (reply dlt645.Frame, m *Meter, ok bool) {
	if req.Control.IsReply() {
		return reply, nil, false // another device's reply on the bus
	}
	now := s.clock.Now()
	fn := req.Control.Function()

	if req.Address.IsBroadcast() {
		// Broadcast time sync (广播校时) and freeze set every powered meter; no broadcast
		// is answered.
		switch fn {
		case dlt645.FuncBroadcastTime:
			if err := s.setClocks(now, req.Data, s.meters); err != nil {
				log.Debug("bad time sync", "err", err)
			}
		case dlt645.FuncFreeze:
			if sched, err := dlt645.DecodeFreezeSchedule(req.Data); err == nil {
				for _, m := range s.meters {
					if m.Powered(now) {
						m.Freeze(now, sched)
					}
				}
			}
		}
		return reply, nil, false
	}

	m = s.find(req.Address)
	if m == nil || !m.Powered(now) {
		return reply, nil, false // nobody on the bus has this address, or it has no supply
	}
	abnormal := func(code dlt645.ErrorCode) (dlt645.Frame, *Meter, bool) {
		return dlt645.NewAbnormalReply(m.addr, fn, code), m, true
	}
	switch fn {
	case dlt645.FuncRead:
		di, err := req.DI()
		if err != nil {
			return abnormal(dlt645.ErrCodeOther)
		}
		value, err := m.ReadDLT645With(now, di, req.Data[dlt645.DISize:])
		switch {
		case errors.Is(err, dlt645.ErrUnknownDI) || errors.Is(err, dlt645.ErrNoRecord):
			log.Debug("no such data", "meter", m.addr.String(), "di", di.String())
			return abnormal(dlt645.ErrCodeNoData)
		case err != nil:
			log.Debug("read refused", "meter", m.addr.String(), "di", di.String(), "err", err)
			return abnormal(dlt645.ErrCodeOther)
		}
		*bus = busState{}
		if len(value) <= firstChunk {
			return dlt645.NewReadReply(m.addr, di, value, false), m, true
		}
		bus.addr, bus.di = m.addr, di
		for rest := value[firstChunk:]; len(rest) > 0; {
			n := min(len(rest), followChunk)
			bus.chunks = append(bus.chunks, rest[:n])
			rest = rest[n:]
		}
		return dlt645.NewReadReply(m.addr, di, value[:firstChunk], true), m, true
	case dlt645.FuncReadFollowUp:
		di, err := req.DI()
		if err != nil || len(req.Data) != dlt645.DISize+1 || bus.addr != m.addr || bus.di != di {
			return abnormal(dlt645.ErrCodeNoData)
		}
		seq := int(req.Data[dlt645.DISize])
		if seq < 1 || seq > len(bus.chunks) {
			return abnormal(dlt645.ErrCodeNoData)
		}
		ctl := dlt645.FuncReadFollowUp.Reply()
		if seq < len(bus.chunks) {
			ctl |= dlt645.ControlFollowUp
		}
		data := append(append(di.AppendWire(nil), bus.chunks[seq-1]...), byte(seq))
		return dlt645.Frame{Address: m.addr, Control: ctl, Data: data}, m, true
	case dlt645.FuncReadAddress:
		return dlt645.NewReadAddressReply(m.addr), m, true
	case dlt645.FuncBroadcastTime:
		// A time sync sent to one address sets that meter only, and is not answered.
		if err := s.setClocks(now, req.Data, []*Meter{m}); err != nil {
			log.Debug("bad time sync", "err", err)
		}
		return reply, nil, false
	case dlt645.FuncWrite:
		w, err := dlt645.DecodeWriteRequest(req.Data)
		if err != nil {
			return abnormal(dlt645.ErrCodeOther)
		}
		if code := m.Write(now, w); code != 0 {
			return abnormal(code)
		}
		log.Info("write", "meter", m.addr.String(), "di", w.DI.String())
		return dlt645.NewCommandReply(m.addr, fn), m, true
	case dlt645.FuncFreeze:
		sched, err := dlt645.DecodeFreezeSchedule(req.Data)
		if err != nil {
			return abnormal(dlt645.ErrCodeOther)
		}
		if code := m.Freeze(now, sched); code != 0 {
			return abnormal(code)
		}
		return dlt645.NewCommandReply(m.addr, fn), m, true
	case dlt645.FuncControl:
		cred, cmd, err := dlt645.DecodeControlData(req.Data, m.loc)
		if err != nil {
			// An ESAM-protected command (level 98H) cannot be decrypted here.
			if len(req.Data) > 0 && req.Data[0] >= 0x10 {
				return abnormal(dlt645.ErrCodeUnauthorized)
			}
			return abnormal(dlt645.ErrCodeOther)
		}
		if code := m.Control(now, cred, cmd); code != 0 {
			log.Info("control refused", "meter", m.addr.String(), "action", cmd.Action.String(), "code", code.String())
			return abnormal(code)
		}
		log.Info("control", "meter", m.addr.String(), "action", cmd.Action.String())
		return dlt645.NewCommandReply(m.addr, fn), m, true
	default:
		log.Info("function not simulated", "meter", m.addr.String(), "function", fn.String())
		return abnormal(dlt645.ErrCodeOther)
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
		if m.Powered(now) {
			m.SetClock(now, t)
		}
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
