package modbusmap

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func u16(ch string, table Table, addr uint16) Register {
	return Register{Channel: ch, Table: table, Address: addr, Type: U16}
}

func TestValidate(t *testing.T) {
	ok := Map{Name: "ok", Registers: []Register{u16("u_a", Input, 0), u16("u_b", Holding, 0)}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid map: %v", err)
	}
	cases := []struct {
		name string
		edit func(*Map)
		want []string
	}{
		{"long name", func(m *Map) { m.Name = strings.Repeat("x", 65) }, []string{"name: 65 bytes, at most 64"}},
		{"no registers", func(m *Map) { m.Registers = nil }, []string{"registers: none"}},
		{"negative gap", func(m *Map) { m.MaxGap = -1 }, []string{"max_gap -1: want 0 to 124"}},
		{"gap beyond max_registers", func(m *Map) { m.MaxRegisters = 10; m.MaxGap = 10 }, []string{"max_gap 10: want 0 to 9"}},
		{"every bad entry is named", func(m *Map) {
			m.Registers = append(m.Registers, Register{Channel: "nope", Table: Input, Type: U16},
				Register{Channel: "f", Table: Input, Address: 9, Type: U16, Scale: Scale{Num: 2, Den: 4}})
		}, []string{`registers[2] (nope): channel "nope"`, "registers[3] (f): scale 2/4: 2/4 is not in lowest terms"}},
		{"negative denominator", func(m *Map) { m.Registers[0].Scale = Scale{Num: 1, Den: -10} }, []string{"registers[0] (u_a): scale 1/-10: denominator must be positive"}},
		{"zero numerator", func(m *Map) { m.Registers[0].Scale = Scale{Num: 0, Den: 10} }, []string{"want a nonzero factor"}},
		{"overlap across the sort", func(m *Map) {
			m.Registers = append(m.Registers, Register{Channel: "p", Table: Input, Address: 0xFFFC, Type: S64},
				Register{Channel: "q", Table: Input, Address: 0xFFFE, Type: S16})
		}, []string{"registers[3] (q): input 0xfffe-0xfffe overlaps registers[2] (p): input 0xfffc-0xffff"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := ok.Clone()
			tc.edit(&m)
			err := m.Validate()
			if err == nil {
				t.Fatal("valid")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestPlan(t *testing.T) {
	regs := []Register{
		{Channel: "e_imp", Table: Holding, Address: 200, Type: U64},
		u16("u_a", Input, 10),
		u16("u_b", Input, 11),
		u16("u_c", Input, 14),                                // gap of 2 after u_b
		{Channel: "p", Table: Input, Address: 20, Type: S32}, // gap of 5 after u_c
		u16("f", Holding, 0),
		u16("pf", Holding, 1),
		u16("status1", Input, 0), // gap of 9 before u_a
	}
	cases := []struct {
		maxGap, maxRegs int
		want            []Request
	}{
		{0, 0, []Request{{Holding, 0, 2}, {Holding, 200, 4}, {Input, 0, 1}, {Input, 10, 2}, {Input, 14, 1}, {Input, 20, 2}}},
		{2, 0, []Request{{Holding, 0, 2}, {Holding, 200, 4}, {Input, 0, 1}, {Input, 10, 5}, {Input, 20, 2}}},
		{5, 0, []Request{{Holding, 0, 2}, {Holding, 200, 4}, {Input, 0, 1}, {Input, 10, 12}}},
		{9, 0, []Request{{Holding, 0, 2}, {Holding, 200, 4}, {Input, 0, 22}}},
		{9, 12, []Request{{Holding, 0, 2}, {Holding, 200, 4}, {Input, 0, 12}, {Input, 14, 8}}},
		{124, 0, []Request{{Holding, 0, 2}, {Holding, 200, 4}, {Input, 0, 22}}}, // tables never merge
		{1, 4, []Request{{Holding, 0, 2}, {Holding, 200, 4}, {Input, 0, 1}, {Input, 10, 2}, {Input, 14, 1}, {Input, 20, 2}}},
	}
	for _, tc := range cases {
		m := Map{MaxGap: tc.maxGap, MaxRegisters: tc.maxRegs, Registers: regs}
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		if got := m.Plan(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("max_gap %d max_registers %d: Plan() = %v, want %v", tc.maxGap, tc.maxRegs, got, tc.want)
		}
	}
}

// TestPlanLimit: 100 adjacent float64 values (400 registers) take four requests of at
// most 125 registers, each ending on a value boundary. (Plan looks at tables and
// addresses only, so one channel name does for all.)
func TestPlanLimit(t *testing.T) {
	var m Map
	for i := range 100 {
		m.Registers = append(m.Registers, Register{Channel: "p", Table: Input, Address: uint16(4 * i), Type: Float64})
	}
	want := []Request{{Input, 0, 124}, {Input, 124, 124}, {Input, 248, 124}, {Input, 372, 28}}
	if got := m.Plan(); !reflect.DeepEqual(got, want) {
		t.Errorf("Plan() = %v, want %v", got, want)
	}
}

func TestMapDecodeErrors(t *testing.T) {
	m := Map{Name: "t", Registers: []Register{u16("u_a", Input, 0), {Channel: "p", Table: Input, Address: 1, Type: Float32, Scale: Pow10(3)}}}
	_, err := m.Decode([]Block{{Input, 0, []uint16{1}}})
	if err == nil || !strings.Contains(err.Error(), `modbus map "t": registers[1] (p): input 0x0001-0x0002 not in the registers read`) {
		t.Errorf("missing register: %v", err)
	}
	_, err = m.Decode([]Block{{Holding, 0, []uint16{1, 2, 3}}})
	if err == nil || !strings.Contains(err.Error(), "registers[0] (u_a)") {
		t.Errorf("wrong table: %v", err)
	}
	_, err = m.Decode([]Block{{Input, 0, []uint16{1, 0x7FC0, 0}}})
	if !errors.Is(err, ErrValue) || !strings.Contains(err.Error(), "p (input 0x0001 float32): NaN") {
		t.Errorf("NaN: %v", err)
	}
	got, err := m.Decode([]Block{{Input, 0, []uint16{7}}, {Input, 1, []uint16{0x3F80, 0}}})
	if err != nil || !reflect.DeepEqual(got, map[string]int64{"u_a": 7, "p": 1000}) {
		t.Errorf("two blocks: %v, %v", got, err)
	}
}

func TestEncodeRange(t *testing.T) {
	m, err := LoadFile("testdata/integer.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]int64{
		"u_a": 230100, "u_b": 229900, "u_c": 231000, "i_a": 12345, "i_b": -678, "i_c": 0,
		"p": -1234500, "p_a": 100, "p_b": -200, "p_c": 300, "q": -5600, "pf": -987, "f": 49990,
		"status1": 0x10, "status3": 0, "e_imp": 123456789, "e_imp_t1": 1, "e_imp_t2": 2,
		"e_imp_t3": 1 << 40, "e_imp_t4": 123456780, "e_exp": 999999990,
	}
	// Every request of the plan, decoded, gives the values back exactly.
	var blocks []Block
	for _, q := range m.Plan() {
		words, err := m.EncodeRange(q.Table, q.Start, q.Count, values)
		if err != nil {
			t.Fatalf("EncodeRange(%s): %v", q, err)
		}
		blocks = append(blocks, Block{q.Table, q.Start, words})
	}
	got, err := m.Decode(blocks)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, values) {
		t.Errorf("round trip:\n got %v\nwant %v", got, values)
	}
	// Part of a value: the low word of i_a (s32, high word first) is register 0x0004.
	words, err := m.EncodeRange(Input, 4, 1, values)
	if err != nil || !reflect.DeepEqual(words, []uint16{0x3039}) {
		t.Errorf("half of i_a: %04x, %v", words, err)
	}
	for _, q := range []Request{{Input, 0x0017, 1}, {Input, 0x0016, 2}, {Holding, 0x0000, 1}, {Holding, 0x0110, 3}, {Input, 0xFFFF, 1}} {
		if _, err := m.EncodeRange(q.Table, q.Start, q.Count, values); !errors.Is(err, ErrUnmapped) {
			t.Errorf("EncodeRange(%s) = %v, want ErrUnmapped", q, err)
		}
	}
	delete(values, "f")
	if _, err := m.EncodeRange(Input, 0, 0x17, values); err == nil || !strings.Contains(err.Error(), "no value for channel f") {
		t.Errorf("missing value: %v", err)
	}
	values["f"] = 70000 * 10
	if _, err := m.EncodeRange(Input, 0x14, 1, values); !errors.Is(err, ErrRange) {
		t.Errorf("value out of range: %v", err)
	}
}

func TestExceptionError(t *testing.T) {
	if got := ExceptionIllegalDataAddress.Error(); got != "modbus exception 0x02 (illegal data address)" {
		t.Errorf("got %q", got)
	}
	if got := Exception(0x42).Error(); got != "modbus exception 0x42" {
		t.Errorf("got %q", got)
	}
	var e Exception
	if err := error(ExceptionGatewayTargetFailed); !errors.As(err, &e) || e != 0x0B {
		t.Errorf("errors.As: %v", e)
	}
}

func TestParseUnitID(t *testing.T) {
	for in, want := range map[string]uint8{"1": 1, "247": 247, "007": 7} {
		if got, err := ParseUnitID(in); err != nil || got != want {
			t.Errorf("ParseUnitID(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"0", "248", "255", "-1", "x", ""} {
		if _, err := ParseUnitID(in); err == nil {
			t.Errorf("ParseUnitID(%q) accepted", in)
		}
	}
}
