package metersim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/simonvetter/modbus"

	"gridmeter/internal/modbusmap"
	"gridmeter/internal/serialbus"
)

func startRTU(t *testing.T, sim *Simulator, m modbusmap.Map, line serialbus.Settings) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	path, err := sim.ServeModbusRTUPTY(ctx, m, PTYOptions{Line: line})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRTUReaderOverPTY reads every channel of several meters over Modbus RTU on a pty
// bus at 19200 8E1, the client being modbusmap.RTUReader on serialbus.
func TestRTUReaderOverPTY(t *testing.T) {
	specs, err := GenerateMeters(4, "000000000001")
	if err != nil {
		t.Fatal(err)
	}
	clock := NewManualClock(t0.Add(60*time.Hour + 5*time.Minute + 3*time.Second))
	sim, err := New(Options{Seed: 2, Meters: specs, Clock: clock, Start: t0})
	if err != nil {
		t.Fatal(err)
	}
	line := serialbus.Settings{Baud: 19200}
	path := startRTU(t, sim, integerMap(), line)
	port, err := serialbus.Open(path, serialbus.Options{Settings: line, Gap: line.ModbusGap()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { port.Close() })
	r, err := modbusmap.NewRTUReader(port, integerMap(), modbusmap.RTUReaderOptions{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, m := range sim.Meters() {
		got, err := r.ReadInstant(ctx, ModbusUnit(i))
		if err != nil {
			t.Fatal(err)
		}
		want := m.Sample(clock.Now()).Values()
		for ch, v := range want {
			if got[ch] != v {
				t.Errorf("unit %d %s: read %d, model %d", ModbusUnit(i), ch, got[ch], v)
			}
		}
	}
	// A unit no meter has is silent, as on a real line; the reader works on afterwards.
	if _, err := r.ReadInstant(ctx, 99); !errors.Is(err, modbusmap.ErrTimeout) {
		t.Errorf("unit 99: err = %v, want ErrTimeout", err)
	}
	if _, err := r.ReadInstant(ctx, 1); err != nil {
		t.Errorf("after the silence: %v", err)
	}
}

// TestRTUBusLink: on a port shared through serialbus.Bus, RTU reads go through their
// link, inside Do.
func TestRTUBusLink(t *testing.T) {
	specs, _ := GenerateMeters(2, "1")
	clock := NewManualClock(t0.Add(3 * time.Hour))
	sim, err := New(Options{Seed: 2, Meters: specs, Clock: clock, Start: t0})
	if err != nil {
		t.Fatal(err)
	}
	line := serialbus.Settings{Baud: 38400}
	path := startRTU(t, sim, integerMap(), line)
	port, err := serialbus.Open(path, serialbus.Options{Settings: line})
	if err != nil {
		t.Fatal(err)
	}
	bus := serialbus.NewBus(port)
	t.Cleanup(func() { bus.Close() })
	link := bus.Link(line.ModbusGap())
	r, err := modbusmap.NewRTUReader(link, integerMap(), modbusmap.RTUReaderOptions{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := r.ReadInstant(ctx, 1); !errors.Is(err, serialbus.ErrNotHeld) {
		t.Errorf("outside Do: err = %v, want ErrNotHeld", err)
	}
	var got map[string]int64
	err = link.Do(ctx, func() error {
		var err error
		got, err = r.ReadInstant(ctx, 2)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := sim.Meters()[1].Sample(clock.Now()).Values(); got["p"] != want["p"] {
		t.Errorf("p = %d, model %d", got["p"], want["p"])
	}
}

// TestRTULibraryClient: github.com/simonvetter/modbus's RTU client, which opens the
// serial port itself by URL, works with the pty's device path.
func TestRTULibraryClient(t *testing.T) {
	specs, _ := GenerateMeters(3, "1")
	clock := NewManualClock(t0.Add(7 * time.Hour))
	sim, err := New(Options{Seed: 3, Meters: specs, Clock: clock, Start: t0})
	if err != nil {
		t.Fatal(err)
	}
	path := startRTU(t, sim, integerMap(), serialbus.Settings{Baud: 9600})
	c, err := modbus.NewClient(&modbus.ClientConfiguration{
		URL: "rtu://" + path, Speed: 9600, DataBits: 8, Parity: modbus.PARITY_EVEN, StopBits: 1,
		Timeout: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Open(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Input registers 0…26 of unit 3 are the instant channels of integerMap.
	if err := c.SetUnitId(3); err != nil {
		t.Fatal(err)
	}
	words, err := c.ReadRegisters(0, 27, modbus.INPUT_REGISTER)
	if err != nil {
		t.Fatal(err)
	}
	want, err := integerMap().EncodeRange(modbusmap.Input, 0, 27, sim.Meters()[2].Sample(clock.Now()).Values())
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if words[i] != want[i] {
			t.Errorf("register %d = %#04x, want %#04x", i, words[i], want[i])
		}
	}
	// Unmapped registers: exception 02; a write: exception 01; no such unit: silence.
	if _, err := c.ReadRegisters(0x50, 1, modbus.INPUT_REGISTER); !errors.Is(err, modbus.ErrIllegalDataAddress) {
		t.Errorf("unmapped: err = %v, want illegal data address", err)
	}
	if err := c.WriteRegister(0, 1); !errors.Is(err, modbus.ErrIllegalFunction) {
		t.Errorf("write: err = %v, want illegal function", err)
	}
	if err := c.SetUnitId(42); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadRegisters(0, 1, modbus.INPUT_REGISTER); !errors.Is(err, modbus.ErrRequestTimedOut) {
		t.Errorf("unit 42: err = %v, want a timeout", err)
	}
}
