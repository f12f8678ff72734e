package metersim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/simonvetter/modbus"

	"gridmeter/internal/modbusmap"
)

// MaxModbusUnits is the most meters ServeModbusTCP serves: unit ids 1 to 247, the
// unicast addresses of a Modbus serial line (MODBUS over Serial Line V1.02 §2.2).
const MaxModbusUnits = 247

// ModbusUnit returns the Modbus unit id of the i-th meter (of Meters()): i+1.
func ModbusUnit(i int) uint8 { return uint8(i + 1) }

// MeterByUnit returns the meter a Modbus unit id addresses.
func (s *Simulator) MeterByUnit(unit uint8) (*Meter, bool) {
	if unit == 0 || int(unit) > len(s.meters) {
		return nil, false
	}
	return s.meters[unit-1], true
}

// ServeModbusTCP serves the simulator's meters over Modbus TCP at addr ("host:port"; port
// 0 picks a free one) until ctx is done, and returns the address it listens on. Every
// connection is a TCP gateway onto one bus of all the meters: the i-th meter is unit
// i+1 (see ModbusUnit) and answers reads of holding (03) and input registers (04) with
// its sample at the clock's now, encoded through m.
//
// Answers: a unit no meter has gets exception 0B (gateway target device failed to
// respond), as a gateway answers for a silent serial unit: the library's server always
// replies, so silence is not an option. A read touching a register m does not map gets
// exception 02 (illegal data address); reserved registers between mapped values are not
// readable either, so a reading plan for the simulator needs max_gap 0. Writes, coils
// and discrete inputs get exception 01 (illegal function). Options.ReplyDelay delays
// every answer.
func (s *Simulator) ServeModbusTCP(ctx context.Context, addr string, m modbusmap.Map) (net.Addr, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("metersim: %w", err)
	}
	if len(s.meters) > MaxModbusUnits {
		return nil, fmt.Errorf("metersim: %d meters, Modbus has unit ids for %d", len(s.meters), MaxModbusUnits)
	}
	h := &modbusHandler{sim: s, m: m.Clone(), ctx: ctx, log: s.log.With("modbus_map", m.Name)}
	srv, err := modbusmap.StartServer(ctx, addr, h, modbusmap.ServerOptions{Logger: s.log})
	if err != nil {
		return nil, fmt.Errorf("metersim: %w", err)
	}
	s.log.Info("modbus tcp listening", "addr", srv.Addr().String(), "meters", len(s.meters), "map", m.Name)
	return srv.Addr(), nil
}

// modbusHandler answers the library server's requests. It is called concurrently, one
// goroutine per connection; the meters are safe for concurrent use.
type modbusHandler struct {
	sim *Simulator
	m   modbusmap.Map
	ctx context.Context // the server's: ends reply delays at shutdown
	log *slog.Logger
}

func (h *modbusHandler) HandleCoils(req *modbus.CoilsRequest) ([]bool, error) {
	return nil, h.refuse(req.UnitId, modbus.ErrIllegalFunction)
}

func (h *modbusHandler) HandleDiscreteInputs(req *modbus.DiscreteInputsRequest) ([]bool, error) {
	return nil, h.refuse(req.UnitId, modbus.ErrIllegalFunction)
}

func (h *modbusHandler) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	if req.IsWrite {
		return nil, h.refuse(req.UnitId, modbus.ErrIllegalFunction)
	}
	return h.read(req.UnitId, modbusmap.Holding, req.Addr, req.Quantity)
}

func (h *modbusHandler) HandleInputRegisters(req *modbus.InputRegistersRequest) ([]uint16, error) {
	return h.read(req.UnitId, modbusmap.Input, req.Addr, req.Quantity)
}

// refuse returns err for a known unit and the gateway's 0B for an unknown one, after the
// reply delay.
func (h *modbusHandler) refuse(unit uint8, err error) error {
	if _, ok := h.sim.MeterByUnit(unit); !ok {
		err = modbus.ErrGWTargetFailedToRespond
	}
	h.delay()
	return err
}

func (h *modbusHandler) read(unit uint8, table modbusmap.Table, addr, count uint16) ([]uint16, error) {
	m, ok := h.sim.MeterByUnit(unit)
	if !ok {
		h.log.Debug("modbus: no such unit", "unit", unit)
		h.delay()
		return nil, modbus.ErrGWTargetFailedToRespond
	}
	words, err := h.m.EncodeRange(table, addr, count, m.Sample(h.sim.clock.Now()).Values())
	h.delay()
	switch {
	case errors.Is(err, modbusmap.ErrUnmapped):
		h.log.Debug("modbus: unmapped registers", "unit", unit, "table", string(table), "addr", addr, "count", count)
		return nil, modbus.ErrIllegalDataAddress
	case err != nil:
		// The map cannot carry the model's value (e.g. a u16 for a signed power).
		h.log.Warn("modbus: encode", "unit", unit, "err", err)
		return nil, modbus.ErrServerDeviceFailure
	}
	return words, nil
}

func (h *modbusHandler) delay() {
	if d := h.sim.opts.ReplyDelay; d > 0 {
		sleep(h.ctx, d)
	}
}
