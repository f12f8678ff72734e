package terminal

import (
	"context"
	"fmt"

	"gridmeter/internal/modbusmap"
)

// modbusBus reads Modbus meters over Modbus TCP through a register map; the reader
// re-dials by itself after connection failures.
type modbusBus struct {
	name string
	rd   *modbusmap.Reader
}

func newModbusBus(cfg BusConfig) (*modbusBus, error) {
	m, err := cfg.modbusMap()
	if err != nil {
		return nil, err
	}
	rd, err := modbusmap.NewReader("tcp://"+cfg.ModbusTCP, m, modbusmap.ReaderOptions{Timeout: cfg.ResponseTimeout.D()})
	if err != nil {
		return nil, fmt.Errorf("bus %s: %w", cfg.Name, err)
	}
	return &modbusBus{name: cfg.Name, rd: rd}, nil
}

// ReadInstant reads one meter, addressed by its unit id.
func (b *modbusBus) ReadInstant(ctx context.Context, address string) (map[string]int64, error) {
	unit, err := modbusmap.ParseUnitID(address)
	if err != nil {
		return nil, fmt.Errorf("bus %s: meter %s: %w", b.name, address, err)
	}
	vs, err := b.rd.ReadInstant(ctx, unit)
	if err != nil {
		return nil, fmt.Errorf("bus %s: %w", b.name, err)
	}
	return vs, nil
}

// Close closes the Modbus connection.
func (b *modbusBus) Close() { b.rd.Close() }

// Probe reads the meter's current values once.
func (b *modbusBus) Probe(ctx context.Context, address string) (string, error) {
	vs, err := b.ReadInstant(ctx, address)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("answers (%d values)", len(vs)), nil
}
