package batchplan_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
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

// TestExtends: the completion rule, a strict superset of the stored values.
func TestExtends(t *testing.T) {
	stored := meterdata.Reading{Values: map[string]int64{"e_imp": 10, "e_exp": 2}}
	tests := []struct {
		name     string
		received map[string]int64
		want     bool
	}{
		{"one channel more", map[string]int64{"e_imp": 10, "e_exp": 2, "p": 0}, true},
		{"many more", map[string]int64{"e_imp": 10, "e_exp": 2, "p": 0, "u_a": 230000, "f": 50000}, true},
		{"same", map[string]int64{"e_imp": 10, "e_exp": 2}, false},
		{"subset", map[string]int64{"e_imp": 10}, false},
		{"more, one value differs", map[string]int64{"e_imp": 11, "e_exp": 2, "p": 0}, false},
		{"as many, one channel swapped", map[string]int64{"e_imp": 10, "p": 2}, false},
		{"more, a stored channel missing", map[string]int64{"e_imp": 10, "p": 0, "q": 0}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := batchplan.Extends(stored, meterdata.Reading{Values: tc.received}); got != tc.want {
				t.Errorf("Extends(%v, %v) = %t, want %t", stored.Values, tc.received, got, tc.want)
			}
		})
	}
}

// TestCompleteQuality: the stored flags stay; the arrival's estimated and suspect are added.
func TestCompleteQuality(t *testing.T) {
	const (
		est = meterdata.QualityEstimated
		bf  = meterdata.QualityBackfilled
		sus = meterdata.QualitySuspect
	)
	tests := []struct{ stored, received, want meterdata.Quality }{
		{0, 0, 0},
		{bf, 0, bf},
		{0, bf, 0},
		{bf, est, bf | est},
		{0, sus | bf, sus},
		{est | sus, 0, est | sus},
	}
	for _, tc := range tests {
		stored := meterdata.Reading{Meter: "T1.bus1.1", Values: map[string]int64{"e_imp": 1}, Quality: tc.stored}
		received := meterdata.Reading{Meter: "T1.bus1.1", Values: map[string]int64{"e_imp": 1, "p": 2}, Quality: tc.received}
		got := batchplan.Complete(stored, received)
		if got.Quality != tc.want || len(got.Values) != 2 || got.Meter != stored.Meter {
			t.Errorf("Complete(quality %v, %v) = %+v, want quality %v and both values", tc.stored.Strings(), tc.received.Strings(), got, tc.want.Strings())
		}
	}
}

// TestJudgeLocksCompletions: a completion is judged again against what the locking lookup
// reads, so one judged on a stale read is not written; keys not completed are not locked.
func TestJudgeLocksCompletions(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	r := func(slot int, vals map[string]int64) meterdata.Reading {
		return meterdata.Reading{Meter: "T1.bus1.1", Kind: meterdata.KindInstant, Time: at.Add(time.Duration(slot) * time.Minute), Values: vals}
	}
	full := map[string]int64{"e_imp": 1, "p": 2}
	sub := map[string]int64{"e_imp": 1}
	p, err := batchplan.New(storage.Batch{Terminal: "T1", FirstSeq: 1, LastSeq: 4,
		Readings: []meterdata.Reading{r(0, full), r(1, full), r(2, full), r(3, full)}})
	if err != nil {
		t.Fatal(err)
	}
	// Slot 0 is new (inserted); slot 1 stored as sub and still so; slot 2 read as sub but
	// completed meanwhile by another transaction; slot 3 stored complete.
	inserted := map[meterdata.Key]struct{}{r(0, full).Key(): {}}
	stale := map[meterdata.Key]meterdata.Reading{r(1, nil).Key(): r(1, sub), r(2, nil).Key(): r(2, sub), r(3, nil).Key(): r(3, full)}
	fresh := map[meterdata.Key]meterdata.Reading{r(1, nil).Key(): r(1, sub), r(2, nil).Key(): r(2, full), r(3, nil).Key(): r(3, full)}
	var locked []meterdata.Key
	out, err := p.Judge(inserted,
		func(keys []meterdata.Key, into map[meterdata.Key]meterdata.Reading) error {
			for _, k := range keys {
				into[k] = stale[k]
			}
			return nil
		},
		func(keys []meterdata.Key, into map[meterdata.Key]meterdata.Reading) error {
			locked = append(locked, keys...)
			for _, k := range keys {
				into[k] = fresh[k]
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if want := (storage.BatchResult{Inserted: 1, Completed: 1, Duplicates: 2}); out.Result != want {
		t.Errorf("Result = %+v, want %+v", out.Result, want)
	}
	if len(out.Completions) != 1 || out.Completions[0].Key != r(1, nil).Key() || out.Completions[0].Vals != `{"e_imp":1,"p":2}` {
		t.Errorf("Completions = %+v, want slot 1 only, with both values", out.Completions)
	}
	if fmt.Sprint(locked) != fmt.Sprint([]meterdata.Key{r(1, nil).Key(), r(2, nil).Key()}) {
		t.Errorf("locked %v, want slots 1 and 2 (the completions of the first pass, in key order)", locked)
	}
	if len(out.Conflicts) != 0 {
		t.Errorf("Conflicts = %+v, want none", out.Conflicts)
	}
}

// TestPrepareEvents: the terminal of a meter fills an empty Terminal, a zero At is now,
// empty Data is none, and an invalid event is named by its index.
func TestPrepareEvents(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	at := time.Date(2025, 1, 1, 8, 0, 0, 1_999_999, time.FixedZone("UTC+8", 8*3600))
	rows, err := batchplan.PrepareEvents([]storage.Event{
		{At: at, Kind: "meter_fault", Severity: storage.SeverityAlarm, Meter: "T7.bus1.1", Data: map[string]int64{"code": 3}},
		{Kind: "overrun", Severity: storage.SeverityInfo, Terminal: "T1", Meter: "T7.bus1.1", Data: map[string]int64{}},
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []batchplan.EventRow{
		{At: now + 1, Kind: "meter_fault", Severity: "alarm", Terminal: "T7", Meter: "T7.bus1.1", Data: `{"code":3}`},
		{At: now, Kind: "overrun", Severity: "info", Terminal: "T1", Meter: "T7.bus1.1"},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("PrepareEvents = %+v, want %+v", rows, want)
	}
	_, err = batchplan.PrepareEvents([]storage.Event{{Kind: "a", Severity: "info"}, {Kind: "b", Severity: "fatal"}}, now)
	if !errors.Is(err, storage.ErrInvalidEvent) || !strings.Contains(err.Error(), "event 1") {
		t.Errorf("PrepareEvents with a bad severity: %v; want ErrInvalidEvent naming event 1", err)
	}
}
