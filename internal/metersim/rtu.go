package metersim

import (
	"context"
	"errors"
	"fmt"

	"github.com/simonvetter/modbus"

	"gridmeter/internal/modbusmap"
	"gridmeter/internal/serialbus"
)

// ServeModbusRTUPTY serves the simulator's meters over Modbus RTU on a new
// pseudo-terminal, a serial bus of all of them, until ctx is done, and returns the path
// of the device a client opens as its serial port (serialbus with modbusmap.RTUReader,
// or github.com/simonvetter/modbus with the URL "rtu://" + path). Timing is
// baud-rate-true, as for ServeDLT645PTY.
//
// The i-th meter is unit i+1 (see ModbusUnit) and answers reads of holding (03) and
// input registers (04) through m as ServeModbusTCP does: exception 02 for registers m
// does not map, 03 for a quantity outside 1…125, 01 for every other function.
// Options.ReplyDelay delays every answer. As on a real serial line, a unit no meter has
// and the broadcast address 0 get no answer at all, and frames with a bad CRC are
// ignored.
func (s *Simulator) ServeModbusRTUPTY(ctx context.Context, m modbusmap.Map, opts PTYOptions) (string, error) {
	if err := m.Validate(); err != nil {
		return "", fmt.Errorf("metersim: %w", err)
	}
	if len(s.meters) > MaxModbusUnits {
		return "", fmt.Errorf("metersim: %d meters, Modbus has unit ids for %d", len(s.meters), MaxModbusUnits)
	}
	pty, err := serialbus.OpenPTY(opts.Line)
	if err != nil {
		return "", fmt.Errorf("metersim: %w", err)
	}
	h := &modbusHandler{sim: s, m: m.Clone(), ctx: ctx, log: s.log.With("modbus_map", m.Name, "device", pty.Path())}
	s.log.Info("modbus rtu serial bus", "device", pty.Path(), "line", pty.Settings().String(), "meters", len(s.meters), "map", m.Name)
	go h.serveRTU(ctx, pty)
	return pty.Path(), nil
}

// serveRTU answers the requests on one RTU bus until ctx is done or the pty fails.
// Frames are found by function code and length and checked by CRC, as
// modbusmap.DecodeRTURequest does; bytes that start no valid frame are skipped one by
// one, and a valid request further on is not held up by junk in front of it that looks
// like the start of a long frame.
func (h *modbusHandler) serveRTU(ctx context.Context, pty *serialbus.PTY) {
	stop := context.AfterFunc(ctx, func() { pty.Close() })
	defer stop()
	defer pty.Close()

	buf := make([]byte, 0, 2*modbusmap.MaxRTUFrameLen)
	tmp := make([]byte, modbusmap.MaxRTUFrameLen)
	var out []byte
	for {
		n, err := pty.Read(tmp)
		if err != nil {
			if ctx.Err() == nil {
				h.log.Debug("modbus rtu: read failed", "err", err)
			}
			return
		}
		buf = append(buf, tmp[:n]...)
		for len(buf) > 0 {
			f, k, err := modbusmap.DecodeRTURequest(buf)
			if errors.Is(err, modbusmap.ErrRTUShort) {
				if k = nextRequest(buf); k == 0 {
					break
				}
				buf = buf[:copy(buf, buf[k:])]
				continue
			}
			if err != nil {
				buf = buf[:copy(buf, buf[k:])]
				continue
			}
			reply, ok := h.rtu(f)
			buf = buf[:copy(buf, buf[k:])] // after h.rtu: f.Data is in buf
			if !ok {
				continue
			}
			if out, err = reply.AppendEncode(out[:0]); err != nil {
				h.log.Error("modbus rtu: encode reply", "frame", reply.String(), "err", err)
				continue
			}
			if _, err := pty.Write(out); err != nil {
				h.log.Debug("modbus rtu: write failed", "err", err)
				return
			}
		}
		if len(buf) >= modbusmap.MaxRTUFrameLen {
			buf = buf[:copy(buf, buf[1:])] // cannot be the start of a frame
		}
	}
}

// nextRequest returns the offset of the first complete, valid request after the start
// of b, or 0 if there is none.
func nextRequest(b []byte) int {
	for off := 1; off+4 <= len(b); off++ {
		if _, _, err := modbusmap.DecodeRTURequest(b[off:]); err == nil {
			return off
		}
	}
	return 0
}

// rtu answers one request frame, or reports false for silence.
func (h *modbusHandler) rtu(req modbusmap.RTUFrame) (modbusmap.RTUFrame, bool) {
	if _, ok := h.sim.MeterByUnit(req.Unit); !ok {
		h.log.Debug("modbus rtu: no such unit", "unit", req.Unit)
		return modbusmap.RTUFrame{}, false // unit 0 (broadcast) included: reads are not broadcast
	}
	q, err := req.ReadRequest()
	var words []uint16
	if err == nil {
		words, err = h.read(req.Unit, q.Table, q.Start, q.Count)
	} else {
		h.delay()
	}
	if err != nil {
		return modbusmap.NewRTUException(req.Unit, req.Function, rtuException(err)), true
	}
	return modbusmap.NewRTUReadResponse(req.Unit, q.Table, words), true
}

// rtuException maps the errors of ReadRequest and modbusHandler.read to the exception
// code that answers them.
func rtuException(err error) modbusmap.Exception {
	var exc modbusmap.Exception
	switch {
	case errors.As(err, &exc):
		return exc
	case errors.Is(err, modbus.ErrIllegalDataAddress):
		return modbusmap.ExceptionIllegalDataAddress
	case errors.Is(err, modbus.ErrIllegalFunction):
		return modbusmap.ExceptionIllegalFunction
	}
	return modbusmap.ExceptionServerDeviceFailure
}
