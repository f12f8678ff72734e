package modbusmap

import (
	"fmt"
	"slices"
	"strings"
)

// SDM630 returns the built-in map of the Eastron SDM630 three-phase energy meter (also
// SDM630-Modbus V2 and SDM630MCT), from Eastron's public "SDM630 Modbus Protocol"
// input register table: every value is an IEEE 754 float32 in two input registers, high
// word first, in V, A, W, var, Hz and kWh. Eastron numbers the registers from 30001;
// addresses here are the protocol addresses, 30001 → 0x0000.
//
// Not every reading survives float32 exactly: above 2^24 units of the value's last digit
// (e.g. 16 777.216 kWh at 1 Wh, or 16 777 W at 1 mW) the float's step is coarser than the
// channel unit. Eastron's power factor is signed by the load's phase angle (lead/lag), not
// by the direction of active power as the pf channel is; it is mapped as the meter sends it.
// The meter has no time-of-use registers or status words in this table: those channels
// are absent.
func SDM630() Map {
	f := func(ch string, addr uint16, scale int64) Register {
		return Register{Channel: ch, Table: Input, Address: addr, Type: Float32, WordOrder: HighWordFirst,
			ByteOrder: BigEndian, Scale: Scale{Num: scale, Den: 1}}
	}
	energy := func(ch string, addr uint16) Register {
		r := f(ch, addr, 1000) // kWh → Wh
		r.Counter = true
		return r
	}
	return Map{
		Name:         "eastron-sdm630",
		MaxGap:       0,
		MaxRegisters: 80, // "each request for data must be restricted to 40 parameters or less"
		Registers: []Register{
			f("u_a", 0x0000, 1000),  // 30001 phase 1 line to neutral volts, V → mV
			f("u_b", 0x0002, 1000),  // 30003
			f("u_c", 0x0004, 1000),  // 30005
			f("i_a", 0x0006, 1000),  // 30007 phase 1 current, A → mA
			f("i_b", 0x0008, 1000),  // 30009
			f("i_c", 0x000A, 1000),  // 30011
			f("p_a", 0x000C, 1000),  // 30013 phase 1 power, W → mW
			f("p_b", 0x000E, 1000),  // 30015
			f("p_c", 0x0010, 1000),  // 30017
			f("p", 0x0034, 1000),    // 30053 total system power, W → mW
			f("q", 0x003C, 1000),    // 30061 total system VAr, var → mvar
			f("pf", 0x003E, 1000),   // 30063 total system power factor → thousandths
			f("f", 0x0046, 1000),    // 30071 frequency of supply voltages, Hz → mHz
			energy("e_imp", 0x0048), // 30073 import active energy, kWh → Wh
			energy("e_exp", 0x004A), // 30075 export active energy, kWh → Wh
		},
	}
}

// builtins are the maps Builtin knows, by name.
var builtins = map[string]func() Map{
	"eastron-sdm630": SDM630,
}

// Builtin returns the built-in map with the given name ("eastron-sdm630").
func Builtin(name string) (Map, error) {
	f, ok := builtins[name]
	if !ok {
		return Map{}, fmt.Errorf("modbus map %q: no such built-in map (have %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	return f(), nil
}

// BuiltinNames lists the built-in maps in sorted order.
func BuiltinNames() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
