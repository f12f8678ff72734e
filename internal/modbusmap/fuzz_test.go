package modbusmap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRegisterDecode decodes arbitrary words with an arbitrary register layout: no panic,
// the same answer twice, and a value that decodes encodes to words that decode to it
// again (decode → encode → decode). The seeds are the golden codec table.
func FuzzRegisterDecode(f *testing.F) {
	for _, tc := range codecCases {
		f.Add(typeIndex(tc.r.Type), tc.r.WordOrder == LowWordFirst, tc.r.ByteOrder == LittleEndian,
			tc.r.scale().Num, tc.r.scale().Den, tc.r.Counter, wordBytes(tc.words))
	}
	f.Fuzz(func(t *testing.T, typ uint8, lowFirst, little bool, num, den int64, counter bool, data []byte) {
		r := Register{Channel: "p", Table: Input, Type: DataTypes[int(typ)%len(DataTypes)],
			Scale: Scale{Num: num, Den: den}}
		if lowFirst {
			r.WordOrder = LowWordFirst
		}
		if little {
			r.ByteOrder = LittleEndian
		}
		if counter {
			r.Channel, r.Counter = "e_imp", true
		}
		if r.validate() != nil {
			return // Validate stops such a register before it decodes anything
		}
		words := make([]uint16, len(data)/2)
		for i := range words {
			words[i] = binary.BigEndian.Uint16(data[2*i:])
		}
		v1, err1 := r.Decode(words)
		v2, err2 := r.Decode(words)
		if v1 != v2 || (err1 == nil) != (err2 == nil) {
			t.Fatalf("%s: Decode(%04x) not deterministic: %d, %v then %d, %v", r, words, v1, err1, v2, err2)
		}
		if err1 != nil {
			if !errors.Is(err1, ErrValue) {
				t.Fatalf("%s: Decode(%04x): %v does not wrap ErrValue", r, words, err1)
			}
			return
		}
		sc := r.scale()
		enc, err := r.Encode(v1)
		if err != nil {
			// A value rounded up at the edge of its type (u32 0xFFFFFFFF × 1/8 reads
			// 536870912, which is 2^32 registered), or a float32 whose inverse scale
			// overflows, cannot be sent back; nothing else may fail.
			if errors.Is(err, ErrRange) && (sc.Den > 1 || r.Type == Float32) {
				return
			}
			t.Fatalf("%s: Encode(%d) (decoded from %04x): %v", r, v1, words, err)
		}
		// Truncating counters with a scale neither integer nor 1/n lose the inverse; so
		// does float64 arithmetic on floats beyond 2^50 units (a petawatt-hour in Wh).
		if r.Counter && sc.Num != 1 && sc.Den != 1 {
			return
		}
		if r.Type.isFloat() && (v1 > 1<<50 || v1 < -(1<<50)) {
			return
		}
		v3, err := r.Decode(enc)
		if err != nil || v3 != v1 {
			t.Fatalf("%s scale %s: Decode(%04x) = %d; Encode → %04x → %d, %v", r, sc, words, v1, enc, v3, err)
		}
	})
}

func typeIndex(t DataType) uint8 {
	for i, d := range DataTypes {
		if d == t {
			return uint8(i)
		}
	}
	return 0
}

func wordBytes(words []uint16) []byte {
	b := make([]byte, 2*len(words))
	for i, w := range words {
		binary.BigEndian.PutUint16(b[2*i:], w)
	}
	return b
}

// FuzzLoad feeds arbitrary YAML to Load, seeded with every fixture: no panic, and a map
// that loads is valid and plans within the protocol's limits.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Load(bytes.NewReader(data))
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("Load returned an invalid map: %v", err)
		}
		for _, q := range m.Plan() {
			if q.Count == 0 || int(q.Count) > m.maxRegisters() || int(q.Start)+int(q.Count) > 0x10000 {
				t.Fatalf("plan request %s outside the limits", q)
			}
		}
	})
}
