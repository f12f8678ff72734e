package meterdata

import (
	"encoding/json"
	"math"
	"testing"
)

func TestEncodeValuesIsCanonicalJSON(t *testing.T) {
	all := map[string]int64{}
	for i, c := range Channels {
		all[c.Name] = int64(i*1_000_003) - 7_000_000
	}
	all["e_imp"] = math.MaxInt64
	all["p"] = math.MinInt64
	for _, vals := range []map[string]int64{
		{}, {"u_a": 0}, {"p": -1, "f": 50000}, all,
		{"b": 1, "a": 2, "A": 3, "_": 4, "a-b": 5, "0": 6}, // ordering of non-channel names
		{"quote\"d": 1, "ü": 2, "<tag>": 3, "": 4},         // names that need escaping take the slow path
	} {
		want, err := json.Marshal(vals)
		if err != nil {
			t.Fatal(err)
		}
		got, err := EncodeValues(vals)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("EncodeValues = %s, want %s", got, want)
		}
		var back map[string]int64
		if err := json.Unmarshal([]byte(got), &back); err != nil || len(back) != len(vals) {
			t.Errorf("decode %s: %v", got, err)
		}
		for k, v := range vals {
			if back[k] != v {
				t.Errorf("decode %s: %s = %d, want %d", got, k, back[k], v)
			}
		}
	}
}
