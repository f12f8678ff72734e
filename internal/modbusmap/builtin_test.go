package modbusmap

import (
	"reflect"
	"testing"
)

func TestBuiltinsValidate(t *testing.T) {
	for _, name := range BuiltinNames() {
		m, err := Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if m.Name != name {
			t.Errorf("built-in %q is named %q", name, m.Name)
		}
	}
	if _, err := Builtin("no-such-meter"); err == nil {
		t.Error("Builtin(no-such-meter) found a map")
	}
}

// TestSDM630File keeps the example file and the built-in map the same.
func TestSDM630File(t *testing.T) {
	m, err := LoadFile("testdata/sdm630.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, SDM630()) {
		t.Errorf("testdata/sdm630.good.yaml differs from SDM630():\n got %+v\nwant %+v", m, SDM630())
	}
}

// TestSDM630Plan: the map reads in four requests, one per run of adjacent values.
func TestSDM630Plan(t *testing.T) {
	got := SDM630().Plan()
	want := []Request{
		{Input, 0x0000, 18}, // voltages, currents, phase powers
		{Input, 0x0034, 2},  // total power
		{Input, 0x003C, 4},  // total var, total power factor
		{Input, 0x0046, 6},  // frequency, import and export energy
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Plan() = %v, want %v", got, want)
	}
	m := SDM630()
	m.MaxGap = 124
	if got := m.Plan(); !reflect.DeepEqual(got, []Request{{Input, 0, 76}}) {
		t.Errorf("Plan() with max_gap 124 = %v, want one request of 76", got)
	}
}

// TestSDM630Golden decodes register blocks as an SDM630 sends them (float32 words
// computed from the datasheet units) into channel values.
func TestSDM630Golden(t *testing.T) {
	blocks := []Block{
		{Input, 0x0000, []uint16{
			0x4366, 0x199A, // 230.1 V
			0x4365, 0x3333, // 229.2 V
			0x4367, 0x0000, // 231.0 V
			0x4145, 0x851F, // 12.345 A
			0xC0A0, 0x0000, // -5.0 A (exporting phase)
			0x0000, 0x0000, // 0 A
			0x4531, 0x4000, // 2836.0 W
			0xC49C, 0x4000, // -1250.0 W
			0x0000, 0x0000, // 0 W
		}},
		{Input, 0x0034, []uint16{0x44C8, 0x2000}},                 // 1601.0 W
		{Input, 0x003C, []uint16{0x4448, 0x0000, 0x3F66, 0x6666}}, // 800 var, PF 0.9
		{Input, 0x0046, []uint16{
			0x4248, 0x0A3D, // 50.01 Hz
			0x4940, 0xE4E0, // 790094.0 kWh (float32 exact, to the Wh)
			0x3F80, 0x0000, // 1.0 kWh
		}},
	}
	got, err := SDM630().Decode(blocks)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{
		"u_a": 230100, "u_b": 229200, "u_c": 231000,
		"i_a": 12345, "i_b": -5000, "i_c": 0,
		"p_a": 2836000, "p_b": -1250000, "p_c": 0, "p": 1601000,
		"q": 800000, "pf": 900, "f": 50010,
		"e_imp": 790094000, "e_exp": 1000,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode:\n got %v\nwant %v", got, want)
	}
	// The same values encode back to the same blocks.
	for _, b := range blocks {
		words, err := SDM630().EncodeRange(b.Table, b.Start, uint16(len(b.Words)), want)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(words, b.Words) {
			t.Errorf("EncodeRange(%s %#04x) = %04x, want %04x", b.Table, b.Start, words, b.Words)
		}
	}
}
