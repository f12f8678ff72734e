package modbusmap

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// reg builds a register entry for codec tests; the channel only names it.
func reg(typ DataType, wo WordOrder, bo ByteOrder, sc Scale) Register {
	return Register{Channel: "p", Table: Holding, Type: typ, WordOrder: wo, ByteOrder: bo, Scale: sc}
}

// codecCases is one table of register words ↔ channel values: each case decodes words to
// value and, unless decodeOnly, encodes value back to the same words.
var codecCases = []struct {
	name       string
	r          Register
	words      []uint16
	value      int64
	decodeOnly bool // several word patterns decode to the value (floats, rounding)
}{
	// 16-bit.
	{"u16 zero", reg(U16, "", "", Scale{}), []uint16{0x0000}, 0, false},
	{"u16 max", reg(U16, "", "", Scale{}), []uint16{0xFFFF}, 65535, false},
	{"u16 little", reg(U16, "", LittleEndian, Scale{}), []uint16{0x3412}, 0x1234, false},
	{"s16 -1", reg(S16, "", "", Scale{}), []uint16{0xFFFF}, -1, false},
	{"s16 min", reg(S16, "", "", Scale{}), []uint16{0x8000}, -32768, false},
	{"s16 little -2", reg(S16, "", LittleEndian, Scale{}), []uint16{0xFEFF}, -2, false},
	{"u16 0.1 V to mV", reg(U16, "", "", Pow10(2)), []uint16{2301}, 230100, false},
	{"s16 pf thousandths", reg(S16, "", "", Scale{}), []uint16{0xFC7C}, -900, false},
	// 32-bit, all four orders of 0x12345678.
	{"u32 ABCD", reg(U32, HighWordFirst, BigEndian, Scale{}), []uint16{0x1234, 0x5678}, 0x12345678, false},
	{"u32 CDAB", reg(U32, LowWordFirst, BigEndian, Scale{}), []uint16{0x5678, 0x1234}, 0x12345678, false},
	{"u32 BADC", reg(U32, HighWordFirst, LittleEndian, Scale{}), []uint16{0x3412, 0x7856}, 0x12345678, false},
	{"u32 DCBA", reg(U32, LowWordFirst, LittleEndian, Scale{}), []uint16{0x7856, 0x3412}, 0x12345678, false},
	{"u32 max", reg(U32, "", "", Scale{}), []uint16{0xFFFF, 0xFFFF}, math.MaxUint32, false},
	{"s32 -2", reg(S32, "", "", Scale{}), []uint16{0xFFFF, 0xFFFE}, -2, false},
	{"s32 -2 low first", reg(S32, LowWordFirst, "", Scale{}), []uint16{0xFFFE, 0xFFFF}, -2, false},
	{"s32 min", reg(S32, "", "", Scale{}), []uint16{0x8000, 0x0000}, math.MinInt32, false},
	{"s32 0.1 W to mW", reg(S32, LowWordFirst, "", Pow10(2)), []uint16{0xFF9C, 0xFFFF}, -10000, false},
	{"s32 mA as is", reg(S32, "", "", Scale{}), []uint16{0x0001, 0xE240}, 123456, false},
	// 64-bit.
	{"u64 ABCD", reg(U64, HighWordFirst, BigEndian, Scale{}), []uint16{0x0102, 0x0304, 0x0506, 0x0708}, 0x0102030405060708, false},
	{"u64 low first", reg(U64, LowWordFirst, BigEndian, Scale{}), []uint16{0x0708, 0x0506, 0x0304, 0x0102}, 0x0102030405060708, false},
	{"u64 DCBA", reg(U64, LowWordFirst, LittleEndian, Scale{}), []uint16{0x0807, 0x0605, 0x0403, 0x0201}, 0x0102030405060708, false},
	{"u64 max int64", reg(U64, "", "", Scale{}), []uint16{0x7FFF, 0xFFFF, 0xFFFF, 0xFFFF}, math.MaxInt64, false},
	{"s64 min", reg(S64, "", "", Scale{}), []uint16{0x8000, 0, 0, 0}, math.MinInt64, false},
	{"s64 -1", reg(S64, "", LittleEndian, Scale{}), []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, -1, false},
	// Energy: integers beyond 2^53 stay exact (a float64 would round these).
	{"u64 Wh beyond 2^53", reg(U64, "", "", Scale{}), []uint16{0x0020, 0x0000, 0x0000, 0x0001}, 1<<53 + 1, false},
	{"u64 0.01 kWh to Wh", reg(U64, "", "", Pow10(1)), []uint16{0x0003, 0x8D7E, 0xA4C6, 0x8001}, 10_000_000_000_000_010, false},
	{"u32 kWh to Wh counter", Register{Channel: "e_imp", Table: Input, Type: U32, Scale: Pow10(3), Counter: true}, []uint16{0x0001, 0x86A0}, 100_000_000, false},
	{"u32 0.1 Wh to Wh counter truncates", Register{Channel: "e_imp", Table: Input, Type: U32, Scale: Pow10(-1), Counter: true}, []uint16{0x0000, 0x3039}, 1234, true},
	{"s32 0.1 to 1 rounds half away", reg(S32, "", "", Pow10(-1)), []uint16{0xFFFF, 0xFFF1}, -2, true},
	{"s32 0.1 to 1 rounds half away +", reg(S32, "", "", Pow10(-1)), []uint16{0x0000, 0x000F}, 2, true},
	{"s32 negative scale flips sign", reg(S32, "", "", Scale{Num: -1, Den: 1}), []uint16{0x0000, 0x0064}, -100, false},
	{"u16 rational 3/2", reg(U16, "", "", Scale{Num: 3, Den: 2}), []uint16{0x0005}, 8, true},
	// Floats.
	{"float32 230.1 V", reg(Float32, "", "", Pow10(3)), []uint16{0x4366, 0x199A}, 230100, false},
	{"float32 230.1 V CDAB", reg(Float32, LowWordFirst, "", Pow10(3)), []uint16{0x199A, 0x4366}, 230100, false},
	{"float32 230.1 V DCBA", reg(Float32, LowWordFirst, LittleEndian, Pow10(3)), []uint16{0x9A19, 0x6643}, 230100, false},
	{"float32 -1.5 kW", reg(Float32, "", "", Pow10(6)), []uint16{0xBFC0, 0x0000}, -1_500_000, false},
	{"float32 pf -0.9", reg(Float32, "", "", Pow10(3)), []uint16{0xBF66, 0x6666}, -900, false},
	{"float32 zero", reg(Float32, "", "", Pow10(3)), []uint16{0, 0}, 0, false},
	{"float32 negative zero", reg(Float32, "", "", Pow10(3)), []uint16{0x8000, 0}, 0, true},
	{"float32 kWh rounds to nearest Wh", Register{Channel: "e_imp", Table: Input, Type: Float32, Scale: Pow10(3), Counter: true}, []uint16{0x449A, 0x523D}, 1234570, true},
	{"float64 50.01 Hz", reg(Float64, "", "", Pow10(3)), []uint16{0x4049, 0x0147, 0xAE14, 0x7AE1}, 50010, false},
	{"float64 low first", reg(Float64, LowWordFirst, "", Pow10(3)), []uint16{0x7AE1, 0xAE14, 0x0147, 0x4049}, 50010, false},
	{"float64 large Wh", reg(Float64, "", "", Scale{}), []uint16{0x4341, 0xC379, 0x37E0, 0x8000}, 10_000_000_000_000_000, false},
}

func TestRegisterCodec(t *testing.T) {
	for _, tc := range codecCases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.r.validate(); err != nil {
				t.Fatalf("case register invalid: %v", err)
			}
			got, err := tc.r.Decode(tc.words)
			if err != nil {
				t.Fatalf("Decode(%04x): %v", tc.words, err)
			}
			if got != tc.value {
				t.Errorf("Decode(%04x) = %d, want %d", tc.words, got, tc.value)
			}
			enc, err := tc.r.Encode(tc.value)
			if err != nil {
				t.Fatalf("Encode(%d): %v", tc.value, err)
			}
			if !tc.decodeOnly && !slices.Equal(enc, tc.words) {
				t.Errorf("Encode(%d) = %04x, want %04x", tc.value, enc, tc.words)
			}
			// Whatever the words, encoding the decoded value decodes to it again.
			back, err := tc.r.Decode(enc)
			if err != nil || back != tc.value {
				t.Errorf("Decode(Encode(%d)) = %d, %v", tc.value, back, err)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	counter := Register{Channel: "e_imp", Table: Input, Type: S32, Counter: true}
	cases := []struct {
		name  string
		r     Register
		words []uint16
		want  string
	}{
		{"too few words", reg(U32, "", "", Scale{}), []uint16{1}, "p (holding 0x0000 u32): 1 words, want 2: modbusmap: bad register value"},
		{"too many words", reg(U16, "", "", Scale{}), []uint16{1, 2}, "2 words, want 1"},
		{"float32 NaN", reg(Float32, "", "", Pow10(3)), []uint16{0x7FC0, 0}, "p (holding 0x0000 float32): NaN"},
		{"float32 +Inf", reg(Float32, "", "", Pow10(3)), []uint16{0x7F80, 0}, "+Inf"},
		{"float64 -Inf", reg(Float64, "", "", Scale{}), []uint16{0xFFF0, 0, 0, 0}, "-Inf"},
		{"float32 beyond int64", reg(Float32, "", "", Pow10(3)), []uint16{0x7F7F, 0xFFFF}, "outside int64"},
		{"float64 2^63", reg(Float64, "", "", Scale{}), []uint16{0x43E0, 0, 0, 0}, "outside int64"},
		{"u64 beyond int64", reg(U64, "", "", Scale{}), []uint16{0x8000, 0, 0, 0}, "9223372036854775808 is outside int64"},
		{"s64 scaled overflow", reg(S64, "", "", Pow10(3)), []uint16{0x7FFF, 0xFFFF, 0xFFFF, 0xFFFF}, "× 1000 is outside int64"},
		{"negative counter", counter, []uint16{0xFFFF, 0xFFFF}, "counter is negative (-1)"},
		{"negative float counter", Register{Channel: "e_exp", Table: Input, Type: Float32, Scale: Pow10(3), Counter: true}, []uint16{0xBF80, 0}, "counter is negative (-1)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.r.Decode(tc.words)
			if !errors.Is(err, ErrValue) {
				t.Fatalf("Decode(%04x) = %v, want ErrValue", tc.words, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	cases := []struct {
		name  string
		r     Register
		value int64
	}{
		{"u16 negative", reg(U16, "", "", Scale{}), -1},
		{"u16 too big", reg(U16, "", "", Scale{}), 65536},
		{"s16 too small", reg(S16, "", "", Scale{}), -32769},
		{"u32 scaled too big", reg(U32, "", "", Pow10(-3)), math.MaxUint32/1000 + 1},
		{"s32 too big", reg(S32, "", "", Scale{}), math.MaxInt32 + 1},
		{"u64 negative", reg(U64, "", "", Scale{}), -5},
		{"s64 inverse scale overflows", reg(S64, "", "", Pow10(-3)), math.MaxInt64},
		{"negative counter", Register{Channel: "e_imp", Table: Input, Type: U32, Counter: true}, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.r.Encode(tc.value)
			if !errors.Is(err, ErrRange) {
				t.Errorf("Encode(%d) = %04x, %v; want ErrRange", tc.value, got, err)
			}
		})
	}
}

func TestScaleInt(t *testing.T) {
	cases := []struct {
		v, num, den int64
		trunc       bool
		want        int64
		ok          bool
	}{
		{15, 1, 10, false, 2, true},
		{14, 1, 10, false, 1, true},
		{-15, 1, 10, false, -2, true},
		{-14, 1, 10, false, -1, true},
		{19, 1, 10, true, 1, true},
		{-19, 1, 10, true, -1, true},
		{5, -3, 2, false, -8, true},
		{math.MaxInt64, 1, 1, false, math.MaxInt64, true},
		{math.MinInt64, 1, 1, false, math.MinInt64, true},
		{math.MinInt64, -1, 1, false, 0, false},
		{math.MaxInt64, 2, 1, false, 0, false},
		{math.MaxInt64, 1000, 1000, false, math.MaxInt64, true}, // 128-bit intermediate
		{math.MaxInt64 / 3 * 3, 7, 21, false, math.MaxInt64 / 3 * 3 / 3, true},
	}
	for _, tc := range cases {
		got, ok := scaleInt(tc.v, tc.num, tc.den, tc.trunc)
		if got != tc.want || ok != tc.ok {
			t.Errorf("scaleInt(%d, %d, %d, %v) = %d, %v; want %d, %v", tc.v, tc.num, tc.den, tc.trunc, got, ok, tc.want, tc.ok)
		}
	}
}
