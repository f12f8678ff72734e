package pgstore

import (
	"encoding/json"
	"math"
	"testing"
)

func TestEncodeValuesMatchesEncodingJSON(t *testing.T) {
	tests := []map[string]int64{
		{},
		{"p": 0},
		{"u_a": 230100, "e_imp": math.MaxInt64, "i_a": math.MinInt64, "pf": -1},
		{"b": 1, "a": 2, "A": 3, "_": 4, "a-b": 5, "0": 6},
		{"quote\"d": 1, "ü": 2, "<tag>": 3, "": 4},
	}
	for _, v := range tests {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeValues(v)
		if err != nil {
			t.Fatalf("encodeValues(%v): %v", v, err)
		}
		if got != string(want) {
			t.Errorf("encodeValues(%v) = %s, want %s", v, got, want)
		}
		back, err := decodeValues(got)
		if err != nil || len(back) != len(v) {
			t.Errorf("decodeValues(%s) = %v, %v", got, back, err)
		}
	}
}
