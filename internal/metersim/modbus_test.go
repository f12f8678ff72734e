package metersim

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/simonvetter/modbus"

	"gridmeter/internal/modbusmap"
)

// startModbus serves a simulator over Modbus TCP until the test ends and returns its
// tcp:// url.
func startModbus(t *testing.T, opts Options, m modbusmap.Map) (*Simulator, string) {
	t.Helper()
	sim, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	addr, err := sim.ServeModbusTCP(ctx, "127.0.0.1:0", m)
	if err != nil {
		t.Fatal(err)
	}
	return sim, "tcp://" + addr.String()
}

func reader(t *testing.T, url string, m modbusmap.Map) *modbusmap.Reader {
	t.Helper()
	r, err := modbusmap.NewReader(url, m, modbusmap.ReaderOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// viaFloat32 is what a channel value becomes on its way through a float32 register in
// units of 1/1000 of the channel unit (V for mV, kWh for Wh): computed here with the
// standard library alone, independently of the map's codec.
func viaFloat32(v int64) int64 {
	return int64(math.Round(float64(float32(float64(v)/1000)) * 1000))
}

// TestServeModbusSDM630 reads every meter through the Eastron SDM630 map at several
// instants (night, midday with solar export) and compares with the model as float32
// registers carry it.
func TestServeModbusSDM630(t *testing.T) {
	specs, err := GenerateMeters(7, "000000000001") // meter 5 (unit 5) exports at midday
	if err != nil {
		t.Fatal(err)
	}
	clock := NewManualClock(t0.Add(36*time.Hour + 12*time.Minute + 7*time.Second))
	sim, url := startModbus(t, Options{Seed: 1, Meters: specs, Clock: clock, Start: t0}, modbusmap.SDM630())
	r := reader(t, url, modbusmap.SDM630())
	sawExport := false
	for _, at := range []time.Duration{3 * time.Hour, 12*time.Hour + 30*time.Minute, 19 * time.Hour} {
		clock.Set(t0.Add(48*time.Hour + at))
		for i, m := range sim.Meters() {
			got, err := r.ReadInstant(context.Background(), ModbusUnit(i))
			if err != nil {
				t.Fatalf("unit %d: %v", ModbusUnit(i), err)
			}
			model := m.Sample(clock.Now()).Values()
			if len(got) != len(modbusmap.SDM630().Registers) {
				t.Errorf("unit %d: %d channels, want %d", ModbusUnit(i), len(got), len(modbusmap.SDM630().Registers))
			}
			for ch, v := range got {
				if want := viaFloat32(model[ch]); v != want {
					t.Errorf("%s unit %d %s: read %d, model %d (%d through float32)", at, ModbusUnit(i), ch, v, model[ch], want)
				}
			}
			sawExport = sawExport || got["p"] < 0
		}
	}
	if !sawExport {
		t.Error("no meter exported: the test does not cover negative values")
	}
}

// integerMap carries every channel at the resolution of the model (the DL/T 645
// formats), in every integer type, word order and byte order, so values read equal the
// model's exactly.
func integerMap() modbusmap.Map {
	r := func(ch string, table modbusmap.Table, addr uint16, typ modbusmap.DataType, wo modbusmap.WordOrder,
		bo modbusmap.ByteOrder, scale int64) modbusmap.Register {
		return modbusmap.Register{Channel: ch, Table: table, Address: addr, Type: typ, WordOrder: wo, ByteOrder: bo,
			Scale: modbusmap.Scale{Num: scale, Den: 1}, Counter: ch[0] == 'e'}
	}
	in, hold := modbusmap.Input, modbusmap.Holding
	hi, lo := modbusmap.HighWordFirst, modbusmap.LowWordFirst
	be, le := modbusmap.BigEndian, modbusmap.LittleEndian
	return modbusmap.Map{Name: "integer", Registers: []modbusmap.Register{
		r("u_a", in, 0, modbusmap.U16, hi, be, 100), r("u_b", in, 1, modbusmap.U16, hi, le, 100), r("u_c", in, 2, modbusmap.U16, hi, be, 100),
		r("i_a", in, 3, modbusmap.S32, hi, be, 1), r("i_b", in, 5, modbusmap.S32, lo, be, 1), r("i_c", in, 7, modbusmap.S32, lo, le, 1),
		r("p", in, 9, modbusmap.S32, lo, be, 100), r("p_a", in, 11, modbusmap.S64, hi, be, 100),
		r("p_b", in, 15, modbusmap.S64, lo, le, 100), r("p_c", in, 19, modbusmap.S32, hi, le, 100),
		r("q", in, 21, modbusmap.S32, hi, be, 100), r("pf", in, 23, modbusmap.S16, hi, be, 1), r("f", in, 24, modbusmap.U16, hi, be, 10),
		r("status1", in, 25, modbusmap.U16, hi, be, 1), r("status3", in, 26, modbusmap.U16, hi, be, 1),
		r("e_imp", hold, 0x100, modbusmap.U64, hi, be, 1), r("e_imp_t1", hold, 0x104, modbusmap.U64, lo, be, 1),
		r("e_imp_t2", hold, 0x108, modbusmap.U32, hi, be, 10), r("e_imp_t3", hold, 0x10A, modbusmap.U32, lo, le, 10),
		r("e_imp_t4", hold, 0x10C, modbusmap.Float64, hi, be, 1), r("e_exp", hold, 0x200, modbusmap.U32, hi, be, 10),
	}}
}

func TestServeModbusExact(t *testing.T) {
	specs, err := GenerateMeters(5, "000000000001")
	if err != nil {
		t.Fatal(err)
	}
	clock := NewManualClock(t0.Add(60*time.Hour + 5*time.Minute + 3*time.Second))
	sim, url := startModbus(t, Options{Seed: 2, Meters: specs, Clock: clock, Start: t0}, integerMap())
	r := reader(t, url, integerMap())
	if got := len(r.Plan()); got != 3 {
		t.Errorf("plan of %d requests, want 3: %v", got, r.Plan())
	}
	for i, m := range sim.Meters() {
		got, err := r.ReadInstant(context.Background(), ModbusUnit(i))
		if err != nil {
			t.Fatal(err)
		}
		want := m.Sample(clock.Now()).Values()
		if len(got) != len(want) {
			t.Errorf("unit %d: %d channels, want %d", ModbusUnit(i), len(got), len(want))
		}
		for ch, v := range want {
			if got[ch] != v {
				t.Errorf("unit %d %s: read %d, model %d", ModbusUnit(i), ch, got[ch], v)
			}
		}
	}
}

// TestServeModbusExceptions checks the answers to what no meter can answer, with the
// library's client alone.
func TestServeModbusExceptions(t *testing.T) {
	specs, err := GenerateMeters(3, "000000000001")
	if err != nil {
		t.Fatal(err)
	}
	_, url := startModbus(t, Options{Seed: 1, Meters: specs, Clock: NewManualClock(t0.Add(time.Hour)), Start: t0}, modbusmap.SDM630())
	c, err := modbus.NewClient(&modbus.ClientConfiguration{URL: url, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Open(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	read := func(unit uint8, typ modbus.RegType, addr, n uint16) error {
		c.SetUnitId(unit)
		_, err := c.ReadRegisters(addr, n, typ)
		return err
	}
	cases := []struct {
		name string
		do   func() error
		want error
	}{
		{"unit 0", func() error { return read(0, modbus.INPUT_REGISTER, 0, 2) }, modbus.ErrGWTargetFailedToRespond},
		{"unit past the meters", func() error { return read(4, modbus.INPUT_REGISTER, 0, 2) }, modbus.ErrGWTargetFailedToRespond},
		{"unit 247", func() error { return read(247, modbus.INPUT_REGISTER, 0, 2) }, modbus.ErrGWTargetFailedToRespond},
		{"write to an unknown unit", func() error { c.SetUnitId(9); return c.WriteRegister(0, 1) }, modbus.ErrGWTargetFailedToRespond},
		{"reserved register", func() error { return read(1, modbus.INPUT_REGISTER, 0x0012, 2) }, modbus.ErrIllegalDataAddress},
		{"across a gap", func() error { return read(1, modbus.INPUT_REGISTER, 0x0010, 4) }, modbus.ErrIllegalDataAddress},
		{"past the last value", func() error { return read(2, modbus.INPUT_REGISTER, 0x004A, 3) }, modbus.ErrIllegalDataAddress},
		{"far away", func() error { return read(3, modbus.INPUT_REGISTER, 0xFF00, 125) }, modbus.ErrIllegalDataAddress},
		{"holding registers", func() error { return read(1, modbus.HOLDING_REGISTER, 0, 2) }, modbus.ErrIllegalDataAddress},
		{"write", func() error { c.SetUnitId(1); return c.WriteRegister(0, 1) }, modbus.ErrIllegalFunction},
		{"coils", func() error { c.SetUnitId(1); _, err := c.ReadCoils(0, 1); return err }, modbus.ErrIllegalFunction},
		{"discrete inputs", func() error { c.SetUnitId(2); _, err := c.ReadDiscreteInputs(0, 1); return err }, modbus.ErrIllegalFunction},
		{"half a value", func() error { return read(1, modbus.INPUT_REGISTER, 0x0001, 1) }, nil},
		{"all of a run", func() error { return read(3, modbus.INPUT_REGISTER, 0x0046, 6) }, nil},
	}
	for _, tc := range cases {
		if err := tc.do(); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestServeModbusRefuses(t *testing.T) {
	specs, err := GenerateMeters(MaxModbusUnits+1, "000000000001")
	if err != nil {
		t.Fatal(err)
	}
	sim, err := New(Options{Seed: 1, Meters: specs, Start: t0})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.ServeModbusTCP(context.Background(), "127.0.0.1:0", modbusmap.SDM630()); err == nil {
		t.Error("served 248 meters")
	}
	sim, err = New(Options{Seed: 1, Meters: specs[:1], Start: t0})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.ServeModbusTCP(context.Background(), "127.0.0.1:0", modbusmap.Map{Name: "empty"}); err == nil {
		t.Error("served an invalid map")
	}
}

// TestServeModbusConcurrent reads all meters from several connections at once.
func TestServeModbusConcurrent(t *testing.T) {
	specs, err := GenerateMeters(10, "000000000001")
	if err != nil {
		t.Fatal(err)
	}
	clock := NewManualClock(t0.Add(10 * time.Hour))
	sim, url := startModbus(t, Options{Seed: 3, Meters: specs, Clock: clock, Start: t0}, integerMap())
	var wg sync.WaitGroup
	for range 4 {
		r := reader(t, url, integerMap())
		wg.Go(func() {
			for i, m := range sim.Meters() {
				got, err := r.ReadInstant(context.Background(), ModbusUnit(i))
				if err != nil {
					t.Error(err)
					return
				}
				if want := m.Sample(clock.Now()).Values(); got["e_imp"] != want["e_imp"] || got["u_a"] != want["u_a"] {
					t.Errorf("unit %d: read %v, model %v", ModbusUnit(i), got, want)
				}
			}
		})
	}
	wg.Wait()
}

// TestServeModbusReplyDelay: a meter slower than the reader's timeout times out.
func TestServeModbusReplyDelay(t *testing.T) {
	specs, err := GenerateMeters(1, "000000000001")
	if err != nil {
		t.Fatal(err)
	}
	_, url := startModbus(t, Options{Seed: 1, Meters: specs, Start: t0, ReplyDelay: 300 * time.Millisecond}, modbusmap.SDM630())
	r, err := modbusmap.NewReader(url, modbusmap.SDM630(), modbusmap.ReaderOptions{Timeout: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.ReadInstant(context.Background(), 1); !errors.Is(err, modbusmap.ErrTimeout) {
		t.Errorf("got %v, want ErrTimeout", err)
	}
}
