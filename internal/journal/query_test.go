package journal

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gridmeter/internal/meterdata"
)

func entryTimes(es []Entry) []time.Time {
	out := make([]time.Time, len(es))
	for i, e := range es {
		out[i] = e.Reading.Time
	}
	return out
}

func wantTimes(t *testing.T, got []Entry, want ...time.Time) {
	t.Helper()
	g := entryTimes(got)
	if len(g) != len(want) {
		t.Fatalf("got %d entries %v, want %d %v", len(g), g, len(want), want)
	}
	for i := range g {
		if !g[i].Equal(want[i]) || g[i].Location() != time.UTC {
			t.Errorf("entry %d time %v, want %v in UTC", i, g[i], want[i])
		}
	}
}

func TestReadings(t *testing.T) {
	clk := &clock{now: t0}
	j, _ := openTemp(t, Options{Now: clk.Now, KeepAcked: time.Hour})
	ctx := context.Background()
	// Appended out of time order, across two meters and two kinds.
	mustAppend(t, j, reading(meterA, 30, 3), reading(meterA, 0, 0), reading(meterB, 15, 9))
	mustAppend(t, j, reading(meterA, 15, 1), reading(meterA, 45, 4))
	daily := reading(meterA, 15, 7)
	daily.Kind = meterdata.KindDailyFrozen
	mustAppend(t, j, daily)
	minute := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }

	tests := []struct {
		name     string
		meter    meterdata.MeterID
		kind     meterdata.Kind
		from, to time.Time
		limit    int
		want     []time.Time
	}{
		{"all, time order", meterA, meterdata.KindInstant, minute(0), minute(60), 10, []time.Time{minute(0), minute(15), minute(30), minute(45)}},
		{"to exclusive", meterA, meterdata.KindInstant, minute(0), minute(45), 10, []time.Time{minute(0), minute(15), minute(30)}},
		{"from inclusive", meterA, meterdata.KindInstant, minute(15), minute(31), 10, []time.Time{minute(15), minute(30)}},
		{"limit", meterA, meterdata.KindInstant, minute(0), minute(60), 2, []time.Time{minute(0), minute(15)}},
		{"sub-millisecond from rounds up", meterA, meterdata.KindInstant, minute(15).Add(time.Microsecond), minute(60), 10, []time.Time{minute(30), minute(45)}},
		{"sub-millisecond to rounds up", meterA, meterdata.KindInstant, minute(0), minute(15).Add(time.Microsecond), 10, []time.Time{minute(0), minute(15)}},
		{"empty range", meterA, meterdata.KindInstant, minute(30), minute(30), 10, nil},
		{"reversed range", meterA, meterdata.KindInstant, minute(45), minute(0), 10, nil},
		{"other kind", meterA, meterdata.KindDailyFrozen, minute(0), minute(60), 10, []time.Time{minute(15)}},
		{"other meter", meterB, meterdata.KindInstant, minute(0), minute(60), 10, []time.Time{minute(15)}},
		{"unknown meter", "T1.bus1.000000000009", meterdata.KindInstant, minute(0), minute(60), 10, nil},
		{"any time zone", meterA, meterdata.KindInstant, minute(30).In(time.FixedZone("X", 5*3600)), minute(60), 10, []time.Time{minute(30), minute(45)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := j.Readings(ctx, tc.meter, tc.kind, tc.from, tc.to, tc.limit)
			if err != nil {
				t.Fatalf("Readings: %v", err)
			}
			wantTimes(t, got, tc.want...)
		})
	}

	t.Run("values, quality and seq kept", func(t *testing.T) {
		got, err := j.Readings(ctx, meterA, meterdata.KindDailyFrozen, minute(0), minute(60), 10)
		if err != nil || len(got) != 1 {
			t.Fatalf("Readings = %v, %v", got, err)
		}
		if got[0].Seq != 6 || got[0].Reading.Values["e_imp"] != daily.Values["e_imp"] || len(got[0].Reading.Values) != len(daily.Values) {
			t.Errorf("entry = %+v, want seq 6 with %v", got[0], daily.Values)
		}
	})

	t.Run("acknowledged entries until compaction", func(t *testing.T) {
		if _, err := j.Ack(ctx, 1, 2); err != nil { // minute(30) and minute(0) of meter A
			t.Fatal(err)
		}
		got, _ := j.Readings(ctx, meterA, meterdata.KindInstant, minute(0), minute(60), 10)
		wantTimes(t, got, minute(0), minute(15), minute(30), minute(45))
		clk.Advance(2 * time.Hour)
		if _, err := j.Compact(ctx); err != nil {
			t.Fatal(err)
		}
		got, _ = j.Readings(ctx, meterA, meterdata.KindInstant, minute(0), minute(60), 10)
		wantTimes(t, got, minute(15), minute(45))
	})

	if _, err := j.Readings(ctx, meterA, meterdata.KindInstant, minute(0), minute(60), 0); err == nil {
		t.Error("Readings with limit 0: want an error")
	}
	j.Close()
	if _, err := j.Readings(ctx, meterA, meterdata.KindInstant, minute(0), minute(60), 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Readings after Close: %v, want ErrClosed", err)
	}
}

func TestLatest(t *testing.T) {
	j, _ := openTemp(t, Options{})
	ctx := context.Background()
	minute := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	mustAppend(t, j, reading(meterA, 30, 3), reading(meterA, 0, 0), reading(meterA, 15, 1), reading(meterB, 45, 9))

	tests := []struct {
		name   string
		meter  meterdata.MeterID
		kind   meterdata.Kind
		at     time.Time
		want   time.Time
		wantOK bool
	}{
		{"exact time included", meterA, meterdata.KindInstant, minute(15), minute(15), true},
		{"between entries", meterA, meterdata.KindInstant, minute(29), minute(15), true},
		{"after the newest", meterA, meterdata.KindInstant, minute(600), minute(30), true},
		{"before the oldest", meterA, meterdata.KindInstant, minute(-1), time.Time{}, false},
		{"one ms before", meterA, meterdata.KindInstant, minute(15).Add(-time.Millisecond), minute(0), true},
		{"sub-ms after counts as at", meterA, meterdata.KindInstant, minute(15).Add(time.Microsecond), minute(15), true},
		{"other kind", meterA, meterdata.KindDailyFrozen, minute(600), time.Time{}, false},
		{"other meter", meterB, meterdata.KindInstant, minute(600), minute(45), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, ok, err := j.Latest(ctx, tc.meter, tc.kind, tc.at)
			if err != nil {
				t.Fatalf("Latest: %v", err)
			}
			if ok != tc.wantOK || (ok && (!e.Reading.Time.Equal(tc.want) || e.Reading.Meter != tc.meter || e.Reading.Kind != tc.kind)) {
				t.Errorf("Latest = %v %s, %t; want %v, %t", e.Reading.Time, e.Reading.Meter, ok, tc.want, tc.wantOK)
			}
		})
	}
	j.Close()
	if _, _, err := j.Latest(ctx, meterA, meterdata.KindInstant, minute(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Latest after Close: %v, want ErrClosed", err)
	}
}

// TestHistoryQueriesUseIndex checks that both queries are range scans of the (meter, kind,
// t) unique index, not table scans.
func TestHistoryQueriesUseIndex(t *testing.T) {
	j, _ := openTemp(t, Options{})
	for _, q := range []string{
		`SELECT seq, meter, kind, t, quality, vals, appended FROM entry WHERE meter = 'a' AND kind = 'instant' AND t >= 0 AND t < 10 ORDER BY t LIMIT 5`,
		`SELECT seq, meter, kind, t, quality, vals, appended FROM entry WHERE meter = 'a' AND kind = 'instant' AND t <= 10 ORDER BY t DESC LIMIT 1`,
	} {
		rows, err := j.db.Query("EXPLAIN QUERY PLAN " + q)
		if err != nil {
			t.Fatal(err)
		}
		var plan string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan += detail + "; "
		}
		rows.Close()
		if want := "INDEX sqlite_autoindex_entry_1"; !strings.Contains(plan, want) || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("plan of %q = %q; want a range scan %s without a sort", q, plan, want)
		}
	}
}
