package batchplan_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
	"gridmeter/internal/storage/batchplan"
)

// TestDecodeValuesRoundTrip: what meterdata.EncodeValues stores, DecodeValues reads back.
func TestDecodeValuesRoundTrip(t *testing.T) {
	for _, v := range []map[string]int64{{}, {"p": 0}, {"u_a": 230100, "e_imp": math.MaxInt64, "i_a": math.MinInt64, "pf": -1}} {
		enc, err := meterdata.EncodeValues(v)
		if err != nil {
			t.Fatal(err)
		}
		back, err := batchplan.DecodeValues(enc)
		if err != nil || len(back) != len(v) {
			t.Fatalf("DecodeValues(%s) = %v, %v", enc, back, err)
		}
		for k, x := range v {
			if back[k] != x {
				t.Errorf("DecodeValues(%s)[%s] = %d, want %d", enc, k, back[k], x)
			}
		}
	}
}

// TestNewSplitsRepeats checks the order the backends rely on: Unique sorted by key (so
// inserts take locks in one order), Repeats in batch order, Meters sorted by id.
func TestNewSplitsRepeats(t *testing.T) {
	m1, m2 := meterdata.MeterID("T1.bus1.1"), meterdata.MeterID("T1.bus1.2")
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.FixedZone("UTC+8", 8*3600))
	r := func(m meterdata.MeterID, i int, p int64) meterdata.Reading {
		return meterdata.Reading{Meter: m, Kind: meterdata.KindInstant, Time: at.Add(time.Duration(i)*time.Minute + 500*time.Microsecond), Values: map[string]int64{"p": p}}
	}
	p, err := batchplan.New(storage.Batch{Terminal: "T1", FirstSeq: 1, LastSeq: 5,
		Readings: []meterdata.Reading{r(m2, 1, 1), r(m1, 2, 2), r(m2, 1, 3), r(m1, 0, 4), r(m2, 1, 5)}})
	if err != nil {
		t.Fatal(err)
	}
	var unique, repeats []int64
	for _, w := range p.Unique {
		unique = append(unique, w.Reading.Values["p"])
		if w.Reading.Time.Location() != time.UTC || w.Reading.Time.Nanosecond()%int(time.Millisecond) != 0 || w.Key != w.Reading.Key() {
			t.Errorf("row %+v: want its reading normalised and keyed", w)
		}
	}
	for _, w := range p.Repeats {
		repeats = append(repeats, w.Reading.Values["p"])
	}
	if got, want := fmt.Sprint(unique), "[4 2 1]"; got != want {
		t.Errorf("Unique p = %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(repeats), "[3 5]"; got != want {
		t.Errorf("Repeats p = %s, want %s", got, want)
	}
	if len(p.Meters) != 2 || p.Meters[0] != (meterdata.Meter{ID: m1, Terminal: "T1", Bus: "bus1", Address: "1"}) || p.Meters[1].ID != m2 {
		t.Errorf("Meters = %+v, want %s then %s described from their ids", p.Meters, m1, m2)
	}
}

func TestGap(t *testing.T) {
	tests := []struct {
		lastSeq  int64
		firstSeq uint64
		want     uint64
	}{
		{0, 1, 0},
		{0, 5, 4},
		{10, 11, 0},
		{10, 15, 4},
		{10, 3, 0},
		{10, 10, 0},
		{math.MaxInt64 - 1, math.MaxInt64, 0},
	}
	for _, tc := range tests {
		if got := batchplan.Gap(tc.lastSeq, tc.firstSeq); got != tc.want {
			t.Errorf("Gap(%d, %d) = %d, want %d", tc.lastSeq, tc.firstSeq, got, tc.want)
		}
	}
}

// TestCovers: StoreReadings' duplicate rule, every received value stored alike.
func TestCovers(t *testing.T) {
	stored := meterdata.Reading{Values: map[string]int64{"e_imp": 10, "e_exp": 2, "u_a": 230000}}
	tests := []struct {
		name     string
		received map[string]int64
		want     bool
	}{
		{"same", map[string]int64{"e_imp": 10, "e_exp": 2, "u_a": 230000}, true},
		{"subset", map[string]int64{"e_imp": 10, "e_exp": 2}, true},
		{"other value", map[string]int64{"e_imp": 11}, false},
		{"channel not stored", map[string]int64{"e_imp": 10, "q": 0}, false},
		{"empty", map[string]int64{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := batchplan.Covers(stored, meterdata.Reading{Values: tc.received}); got != tc.want {
				t.Errorf("Covers(%v, %v) = %t, want %t", stored.Values, tc.received, got, tc.want)
			}
		})
	}
}

func TestNewReadingsSource(t *testing.T) {
	for _, src := range []string{"", string(make([]byte, batchplan.MaxSourceLen+1))} {
		if _, err := batchplan.NewReadings(src, nil); err == nil {
			t.Errorf("NewReadings(source of %d bytes): want an error", len(src))
		}
	}
	if _, err := batchplan.NewReadings("iec102/T1", nil); err != nil {
		t.Errorf("NewReadings: %v", err)
	}
}
