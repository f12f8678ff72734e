package dlt645

import (
	"errors"
	"testing"

	"gridmeter/internal/meterdata"
)

func TestCatalogueDecode(t *testing.T) {
	for _, tc := range []struct {
		name  string
		di    DI
		value []byte
		want  map[string]int64
		err   error
	}{
		{"energy 12345.67 kWh", DIForwardActiveTotal, []byte{0x67, 0x45, 0x23, 0x01}, map[string]int64{"e_imp": 12345670}, nil},
		{"published 0.04 kWh", DIForwardActiveTotal, []byte{0x04, 0, 0, 0}, map[string]int64{"e_imp": 40}, nil},
		{"reverse energy", DIReverseActiveTotal, []byte{0x01, 0, 0, 0}, map[string]int64{"e_exp": 10}, nil},
		{"energy block, total + 4 rates", DIForwardActiveBlock, []byte{
			0x00, 0x10, 0, 0, 0x00, 0x01, 0, 0, 0x00, 0x02, 0, 0, 0x00, 0x03, 0, 0, 0x00, 0x04, 0, 0},
			map[string]int64{"e_imp": 10000, "e_imp_t1": 1000, "e_imp_t2": 2000, "e_imp_t3": 3000, "e_imp_t4": 4000}, nil},
		{"energy block, 8 rates: extras ignored", DIForwardActiveBlock, make([]byte, 36),
			map[string]int64{"e_imp": 0, "e_imp_t1": 0, "e_imp_t2": 0, "e_imp_t3": 0, "e_imp_t4": 0}, nil},
		{"voltage block", DIVoltageBlock, []byte{0x01, 0x22, 0x98, 0x21, 0x03, 0x22},
			map[string]int64{"u_a": 220100, "u_b": 219800, "u_c": 220300}, nil},
		{"voltage block, single-phase meter", DIVoltageBlock, []byte{0x01, 0x22}, map[string]int64{"u_a": 220100}, nil},
		{"phase A voltage", DIVoltageA, []byte{0x01, 0x22}, map[string]int64{"u_a": 220100}, nil},
		{"current block, C negative", DICurrentBlock, []byte{0x23, 0x51, 0x00, 0x00, 0x00, 0x00, 0x99, 0x99, 0x81},
			map[string]int64{"i_a": 5123, "i_b": 0, "i_c": -19999}, nil},
		{"power block", DIActivePowerBlock, []byte{0x45, 0x23, 0x01, 0x15, 0x41, 0x00, 0x15, 0x41, 0x00, 0x15, 0x41, 0x00},
			map[string]int64{"p": 12345 * 100, "p_a": 4115 * 100, "p_b": 411500, "p_c": 411500}, nil},
		{"power total, export", DIActivePowerTotal, []byte{0x45, 0x23, 0x81}, map[string]int64{"p": -1234500}, nil},
		{"reactive", DIReactivePowerTotal, []byte{0x00, 0x50, 0x02}, map[string]int64{"q": 2500000}, nil},
		{"power factor -0.950", DIPowerFactorTotal, []byte{0x50, 0x89}, map[string]int64{"pf": -950}, nil},
		{"frequency 49.98 Hz", DIFrequency, []byte{0x98, 0x49}, map[string]int64{"f": 49980}, nil},
		{"status word 3, relay open", DIStatusWord3, []byte{0x10, 0x00}, map[string]int64{"status3": 0x10}, nil},
		{"status word 1, bits above 9", DIStatusWord1, []byte{0xFF, 0xFF}, map[string]int64{"status1": 0xFFFF}, nil},

		{"single DI with two values", DIVoltageA, []byte{0x01, 0x22, 0x01, 0x22}, nil, ErrData},
		{"wrong size", DIForwardActiveTotal, []byte{0x01, 0x22, 0x01}, nil, ErrData},
		{"empty block", DIVoltageBlock, nil, nil, ErrData},
		{"block not a multiple", DIVoltageBlock, []byte{0x01, 0x22, 0x01}, nil, ErrData},
		{"not BCD", DIForwardActiveTotal, []byte{0x0A, 0, 0, 0}, nil, ErrBCD},
		{"date has no channel", DIDate, []byte{1, 1, 1, 0x24}, nil, ErrNoValues},
		{"unknown DI", 0x01010000, make([]byte, 8), nil, ErrUnknownDI},
		{"daily frozen beyond 62 days back", 0x0506013F, make([]byte, 20), nil, ErrUnknownDI},
		{"settlement beyond 12 months back", 0x0001FF0D, make([]byte, 20), nil, ErrUnknownDI},
		{"current value is not a series member", 0x05060100, make([]byte, 20), nil, ErrUnknownDI},
		{"daily frozen forward, 62 days back", 0x0506013E, []byte{
			0x00, 0x10, 0, 0, 0x00, 0x01, 0, 0, 0x00, 0x02, 0, 0, 0x00, 0x03, 0, 0, 0x00, 0x04, 0, 0},
			map[string]int64{"e_imp": 10000, "e_imp_t1": 1000, "e_imp_t2": 2000, "e_imp_t3": 3000, "e_imp_t4": 4000}, nil},
		{"daily frozen reverse: rates have no channel", DIDailyFrozenReverseN(1), []byte{
			0x00, 0x10, 0, 0, 0x00, 0x01, 0, 0, 0x00, 0x02, 0, 0, 0x00, 0x03, 0, 0, 0x00, 0x04, 0, 0},
			map[string]int64{"e_exp": 10000}, nil},
		{"reverse block", DIReverseActiveBlock, []byte{0x00, 0x10, 0, 0, 0x00, 0x01, 0, 0}, map[string]int64{"e_exp": 10000}, nil},
		{"settlement forward total, 12 months back", DISettlementForwardTotalN(12), []byte{0x67, 0x45, 0x23, 0x01}, map[string]int64{"e_imp": 12345670}, nil},
		{"settlement single value with two", DISettlementReverseTotalN(3), make([]byte, 8), nil, ErrData},
		{"pulse constant has no channel", DIActivePulseConstant, []byte{0x00, 0x64, 0x00}, nil, ErrNoValues},
		{"freeze time has no channel", DIDailyFrozenTimeN(2), make([]byte, 5), nil, ErrNoValues},
		{"load profile has no channel", DILoadProfileAtTime, make([]byte, 81), nil, ErrNoValues},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeValues(tc.di, tc.value)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameMap(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestCatalogueUnits checks every entry against meterdata: the channels exist, and the
// scale turns the format's last digit into exactly the channel's unit.
func TestCatalogueUnits(t *testing.T) {
	// Factor from the format's unit to the channel's unit.
	factor := map[[2]string]int64{
		{"kWh", "Wh"}: 1000, {"V", "mV"}: 1000, {"A", "mA"}: 1000, {"kW", "mW"}: 1000000,
		{"kvar", "mvar"}: 1000000, {"", "0.001"}: 1000, {"Hz", "mHz"}: 1000, {"", "bits"}: 1,
	}
	seen := map[DI]bool{}
	prev := DI(0)
	for _, e := range Catalogue() {
		if seen[e.DI] || e.DI < prev {
			t.Errorf("%s: duplicate or out of order", e.DI)
		}
		seen[e.DI], prev = true, e.DI
		// A block by its identifier (FFH) carries several values; so may a frozen record
		// (class 05) and an event record; no entry names more channels than values.
		if e.DI.IsBlock() && e.Count < 2 || len(e.Channels) > e.Count || e.Count < 1 {
			t.Errorf("%s: block %v, %d values, %d channels", e.DI, e.DI.IsBlock(), e.Count, len(e.Channels))
		}
		if !e.DI.IsBlock() && len(e.Channels) > 1 && e.DI.Class() != 0x05 {
			t.Errorf("%s: %d channels but not a block", e.DI, len(e.Channels))
		}
		if e.Series > 0 && (e.DI&0xFF != 1 || e.Series > 0x3E) {
			t.Errorf("%s: series of %d must start at DI0 = 01 and end by 3EH", e.DI, e.Series)
		}
		if (e.Kind == "") != (len(e.Channels) == 0) && e.DI.Class() != 0x05 {
			t.Errorf("%s: kind %q with %d channels", e.DI, e.Kind, len(e.Channels))
		}
		for _, name := range e.Channels {
			ch, ok := meterdata.LookupChannel(name)
			if !ok {
				t.Errorf("%s: channel %q not in meterdata", e.DI, name)
				continue
			}
			f, ok := factor[[2]string{e.Format.Unit, ch.Unit}]
			if !ok {
				t.Errorf("%s: no conversion from %q to %q", e.DI, e.Format.Unit, ch.Unit)
				continue
			}
			var p int64 = 1
			for i := 0; i < e.Format.Decimals; i++ {
				p *= 10
			}
			if e.Scale*p != f {
				t.Errorf("%s %s: scale %d × 10^%d ≠ %d (%s → %s)", e.DI, name, e.Scale, e.Format.Decimals, f, e.Format.Unit, ch.Unit)
			}
		}
	}
	for _, di := range []DI{0x00010000, 0x00020000, 0x0001FF00, 0x0201FF00, 0x0202FF00, 0x0203FF00,
		0x02040000, 0x02060000, 0x02800002, 0x04000101, 0x04000102, 0x04000503,
		0x0002FF00, 0x04000409, 0x0400040A, 0x04000501, 0x04000502, 0x04000504, 0x04000505, 0x04000506, 0x04000507,
		0x03110000, 0x06000001} {
		if !seen[di] {
			t.Errorf("%s missing from the catalogue", di)
		}
	}
	// Every member of the series, and nothing past their ends.
	for _, tc := range []struct {
		first DI
		n     int
	}{{0x05060001, 62}, {0x05060101, 62}, {0x05060201, 62}, {0x00010001, 12}, {0x0001FF01, 12}, {0x00020001, 12},
		{0x03110001, 10}, {0x05010001, 3}} {
		for nn := 1; nn <= tc.n+1; nn++ {
			di := tc.first&^0xFF | DI(nn)
			e, ok := Lookup(di)
			if ok != (nn <= tc.n) || ok && e.DI != di {
				t.Errorf("Lookup(%s) = %s, %v", di, e.DI, ok)
			}
		}
	}
}

// TestCatalogueRoundTrip encodes channel values for every entry, as a meter would, and
// decodes them back.
func TestCatalogueRoundTrip(t *testing.T) {
	values := map[string]int64{
		"u_a": 220100, "u_b": 219800, "u_c": 231000,
		"i_a": 5123, "i_b": -19999, "i_c": 0,
		"p": -1234500, "p_a": 400000, "p_b": 79999900, "p_c": -79999900,
		"q": 250000, "pf": 987, "f": 50010,
		"e_imp": 999999990, "e_imp_t1": 0, "e_imp_t2": 10, "e_imp_t3": 12345670, "e_imp_t4": 40,
		"e_exp": 120, "status1": 0x0010, "status3": 0xFFFF,
	}
	for _, e := range Catalogue() {
		if len(e.Channels) == 0 {
			continue
		}
		b, err := e.AppendEncode(nil, values)
		if err != nil {
			t.Errorf("%s: encode: %v", e.DI, err)
			continue
		}
		if len(b) != e.Size() {
			t.Errorf("%s: %d bytes, want %d", e.DI, len(b), e.Size())
		}
		got, err := e.Decode(b)
		if err != nil {
			t.Errorf("%s: decode: %v", e.DI, err)
			continue
		}
		for _, ch := range e.Channels {
			if got[ch] != values[ch] {
				t.Errorf("%s %s: got %d, want %d", e.DI, ch, got[ch], values[ch])
			}
		}
	}

	e, _ := Lookup(DIActivePowerTotal)
	for _, tc := range []struct{ in, want int64 }{{149, 100}, {150, 200}, {-150, -200}, {-149, -100}} {
		b, _ := e.AppendEncode(nil, map[string]int64{"p": tc.in})
		got, _ := e.Decode(b)
		if got["p"] != tc.want {
			t.Errorf("rounding %d mW: got %d, want %d", tc.in, got["p"], tc.want)
		}
	}
	if _, err := e.AppendEncode(nil, map[string]int64{"p": 80_000_000}); !errors.Is(err, ErrRange) {
		t.Errorf("80 kW in XX.XXXX: err = %v, want ErrRange", err)
	}
	if _, err := e.AppendEncode(nil, map[string]int64{}); err == nil {
		t.Error("missing channel accepted")
	}
	v, _ := Lookup(DIVoltageA)
	if _, err := v.AppendEncode(nil, map[string]int64{"u_a": -1000}); !errors.Is(err, ErrRange) {
		t.Errorf("negative voltage: err = %v, want ErrRange", err)
	}
}

func TestFormatString(t *testing.T) {
	for di, want := range map[DI]string{
		DIForwardActiveTotal: "XXXXXX.XX kWh",
		DICurrentA:           "XXX.XXX A (signed)",
		DIActivePowerTotal:   "XX.XXXX kW (signed)",
		DIPowerFactorTotal:   "X.XXX (signed)",
		DIFrequency:          "XX.XX Hz",
		DIVoltageBlock:       "XXX.X V",
		DIDate:               "YYMMDDWW",
		DIStatusWord3:        "2-byte bit field",
	} {
		e, ok := Lookup(di)
		if !ok {
			t.Fatalf("%s not found", di)
		}
		if got := e.Format.String(); got != want {
			t.Errorf("%s: %q, want %q", di, got, want)
		}
	}
}
