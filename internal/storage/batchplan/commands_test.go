package batchplan_test

import (
	"math"
	"testing"
	"time"

	"gridmeter/internal/storage"
	"gridmeter/internal/storage/batchplan"
)

func TestUnseen(t *testing.T) {
	tests := []struct {
		seqs []int64
		mark int64
		want int
	}{
		{nil, 0, 0},
		{[]int64{1, 2, 3}, 0, 0},
		{[]int64{1, 2, 3}, 2, 2},
		{[]int64{1, 2, 3}, 3, 3},
		{[]int64{5, 9}, 7, 1},
		{[]int64{5, math.MaxInt64}, math.MaxInt64 - 1, 1},
		{[]int64{5, math.MaxInt64}, math.MaxInt64, 2},
	}
	for _, tc := range tests {
		if got := batchplan.Unseen(tc.seqs, tc.mark); got != tc.want {
			t.Errorf("Unseen(%v, %d) = %d, want %d", tc.seqs, tc.mark, got, tc.want)
		}
	}
}

// TestCommandRowRoundTrip: what PrepareCommand stores, CommandRow.Command reads back.
func TestCommandRowRoundTrip(t *testing.T) {
	issued := time.Date(2025, 3, 1, 8, 0, 0, 123_456_789, time.FixedZone("CST", 8*3600))
	c := storage.Command{ID: "c1", Terminal: "T1", Meter: "T1.rs485-1.000000000001", Action: "set_param",
		Params: map[string]string{"name": "ct_ratio", "value": `<200> & "x"`, "说明": "电流"}, IssuedBy: "alice",
		Issued: issued, Expires: issued.Add(time.Hour), State: storage.CommandFailed, Reason: "ignored"}
	w, err := batchplan.PrepareCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	if w.State != storage.CommandPending || w.Updated != w.Issued || w.Reason != "" || w.Result != "" || w.Issued != issued.UnixMilli() {
		t.Errorf("PrepareCommand = %+v: want pending, no reason or result, Updated = Issued in ms", w)
	}
	back, err := w.Command()
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Params) != 3 || back.Params["value"] != c.Params["value"] || back.Params["说明"] != "电流" ||
		!back.Issued.Equal(issued.Truncate(time.Millisecond)) || back.Issued.Location() != time.UTC {
		t.Errorf("round trip = %+v", back)
	}
	c.Params = map[string]string{}
	if w, err = batchplan.PrepareCommand(c); err != nil || w.Params != "" {
		t.Errorf("PrepareCommand(empty params) = %+v, %v; want no params", w, err)
	}
	if back, err = w.Command(); err != nil || back.Params != nil || back.Result != nil {
		t.Errorf("Command() = %+v, %v; want nil Params and Result", back, err)
	}
}
