package storagetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// The EventStore cases.

func appendEvents(t *testing.T, s storage.Store, es ...storage.Event) {
	t.Helper()
	if err := s.AppendEvents(t.Context(), es); err != nil {
		t.Fatalf("AppendEvents(%d events): %v", len(es), err)
	}
}

func events(t *testing.T, s storage.Store, q storage.EventQuery) []storage.Event {
	t.Helper()
	es, err := s.Events(t.Context(), q)
	if err != nil {
		t.Fatalf("Events(%+v): %v", q, err)
	}
	return es
}

// storedEvent returns e as the store must give it back (ID aside): At in UTC cut to the
// millisecond, Terminal derived from Meter if empty, empty Data as nil.
func storedEvent(e storage.Event) storage.Event {
	e.At = e.At.UTC().Truncate(time.Millisecond)
	if e.Terminal == "" && e.Meter != "" {
		e.Terminal = e.Meter.Terminal()
	}
	if len(e.Data) == 0 {
		e.Data = nil
	}
	return e
}

// sameEvent compares events, ID aside, At as an instant that must be in UTC.
func sameEvent(got, want storage.Event) bool {
	return got.At.Equal(want.At) && got.At.Location() == time.UTC && got.Kind == want.Kind &&
		got.Severity == want.Severity && got.Terminal == want.Terminal && got.Meter == want.Meter &&
		got.Message == want.Message && maps.Equal(got.Data, want.Data) && (got.Data == nil) == (want.Data == nil)
}

func showEvent(e storage.Event) string {
	return fmt.Sprintf("{#%d %s %s %s term=%q meter=%q %.40q %v}", e.ID, e.At.Format(time.RFC3339Nano), e.Kind, e.Severity, e.Terminal, e.Meter, e.Message, e.Data)
}

func wantEvents(t *testing.T, got, want []storage.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d events, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if !sameEvent(got[i], want[i]) {
			t.Errorf("event %d = %s, want %s", i, showEvent(got[i]), showEvent(storedEvent(want[i])))
		}
	}
}

// testEvents: the round trip of every field, IDs, times in UTC at the millisecond, and a
// zero At taken from the store's clock.
func testEvents(t *testing.T, s storage.Store) {
	if es := events(t, s, storage.EventQuery{}); len(es) != 0 {
		t.Errorf("Events on an empty store = %d, want none", len(es))
	}
	appendEvents(t, s)
	if err := s.AppendEvents(t.Context(), []storage.Event{}); err != nil {
		t.Errorf("AppendEvents(empty): %v", err)
	}
	m := meter(t, "T2", 7)
	cst := time.FixedZone("CST", 8*3600)
	in := []storage.Event{ // oldest first
		{At: meterdata.EarliestTime, Kind: "k0", Severity: storage.SeverityInfo},
		{At: time.Date(2025, 6, 1, 20, 0, 1, 123_456_789, cst), Kind: "clock_drift", Severity: storage.SeverityWarning, Terminal: "T1",
			Message: "terminal clock 1.5 s ahead; 终端时钟超前", Data: map[string]int64{"drift_ms": 1500, "neg": -7, "max": math.MaxInt64, "min": math.MinInt64}},
		{At: time.Date(2025, 6, 1, 12, 0, 2, 0, time.UTC), Kind: "meter_fault", Severity: storage.SeverityAlarm, Meter: m,
			Message: "no answer on rs485-1"},
		{At: time.Date(2025, 6, 1, 12, 0, 3, 999_999_999, time.UTC), Kind: "overrun", Severity: storage.SeverityInfo,
			Message: strings.Repeat("é", storage.MaxEventMessage/2), Data: map[string]int64{}},
		{At: time.Date(2025, 6, 1, 12, 0, 4, 0, time.UTC), Kind: "seq_gap", Severity: storage.SeverityWarning, Terminal: "T3", Meter: m,
			Data: map[string]int64{"missing": 4}},
		{At: meterdata.LatestTime.Add(-time.Millisecond), Kind: "k9", Severity: storage.SeverityInfo},
	}
	appendEvents(t, s, in...)
	want := make([]storage.Event, len(in))
	for i, e := range in {
		want[len(in)-1-i] = storedEvent(e)
	}
	// The meter's terminal fills an empty Terminal; a given one is kept.
	if want[3].Terminal != "T2" || want[1].Terminal != "T3" {
		t.Fatalf("test setup: %+v", want)
	}
	got := events(t, s, storage.EventQuery{})
	wantEvents(t, got, want)
	ids := map[int64]bool{}
	for _, e := range got {
		if e.ID <= 0 || ids[e.ID] {
			t.Errorf("event %s: ID not positive or not unique", showEvent(e))
		}
		ids[e.ID] = true
		if e.At.Nanosecond()%int(time.Millisecond) != 0 {
			t.Errorf("event %s: At not a whole millisecond", showEvent(e))
		}
	}
	// The IDs grow in the order given.
	for i := 1; i < len(got); i++ {
		if got[i].ID >= got[i-1].ID {
			t.Errorf("IDs %d then %d: want those given later larger", got[i-1].ID, got[i].ID)
		}
	}

	t.Run("zero At is now", func(t *testing.T) {
		before := time.Now()
		appendEvents(t, s, storage.Event{Kind: "terminal_online", Severity: storage.SeverityInfo, Terminal: "T1"})
		after := time.Now()
		es := events(t, s, storage.EventQuery{Kind: "terminal_online"})
		if len(es) != 1 || !within(es[0].At, before, after) || es[0].At.Location() != time.UTC {
			t.Errorf("Events = %+v; want one at UTC within [%v, %v]", es, before, after)
		}
	})
}

// testEventsQuery: filters, newest first, ties by ID, limits and the [From, To) range.
func testEventsQuery(t *testing.T, s storage.Store) {
	m1, m2, m3 := meter(t, "T1", 1), meter(t, "T1", 2), meter(t, "T2", 1)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }
	ev := func(i int, kind, term string, m meterdata.MeterID) storage.Event {
		return storage.Event{At: at(i), Kind: kind, Severity: storage.SeverityWarning, Terminal: term, Meter: m,
			Message: fmt.Sprintf("%s at %d", kind, i)}
	}
	calls := [][]storage.Event{
		{ev(0, "seq_gap", "T1", ""), ev(1, "clock_drift", "T2", ""), ev(2, "meter_fault", "", m1), ev(3, "seq_gap", "T2", "")},
		// Appended later but older: the order is by At, not by arrival.
		{ev(-5, "terminal_offline", "T1", ""), ev(4, "meter_fault", "", m3)},
		// Same At: the one given last comes first.
		{ev(5, "conflict", "", m1), ev(5, "conflict", "", m2), ev(5, "overrun", "", "")},
		{ev(6, "meter_fault", "", m1), ev(7, "terminal_online", "T1", "")},
	}
	var all []storage.Event // newest first, as Events must return them
	for _, c := range calls {
		appendEvents(t, s, c...)
	}
	order := [][2]int{{3, 1}, {3, 0}, {2, 2}, {2, 1}, {2, 0}, {1, 1}, {0, 3}, {0, 2}, {0, 1}, {0, 0}, {1, 0}}
	for _, o := range order {
		all = append(all, storedEvent(calls[o[0]][o[1]]))
	}
	where := func(f func(e storage.Event) bool) []storage.Event {
		var out []storage.Event
		for _, e := range all {
			if f(e) {
				out = append(out, e)
			}
		}
		return out
	}
	between := func(from, to time.Time) func(e storage.Event) bool {
		return func(e storage.Event) bool { return !e.At.Before(from) && e.At.Before(to) }
	}
	utc8, utc5 := time.FixedZone("UTC+8", 8*3600), time.FixedZone("UTC-5", -5*3600)
	tests := []struct {
		name string
		q    storage.EventQuery
		want []storage.Event
	}{
		{"everything, newest first", storage.EventQuery{}, all},
		{"terminal, its meters' events included", storage.EventQuery{Terminal: "T1"}, where(func(e storage.Event) bool { return e.Terminal == "T1" })},
		{"other terminal", storage.EventQuery{Terminal: "T2"}, where(func(e storage.Event) bool { return e.Terminal == "T2" })},
		{"meter", storage.EventQuery{Meter: m1}, where(func(e storage.Event) bool { return e.Meter == m1 })},
		{"kind", storage.EventQuery{Kind: "meter_fault"}, where(func(e storage.Event) bool { return e.Kind == "meter_fault" })},
		{"terminal and kind", storage.EventQuery{Terminal: "T1", Kind: "conflict"}, where(func(e storage.Event) bool { return e.Terminal == "T1" && e.Kind == "conflict" })},
		{"meter and kind", storage.EventQuery{Meter: m1, Kind: "meter_fault"}, where(func(e storage.Event) bool { return e.Meter == m1 && e.Kind == "meter_fault" })},
		{"unknown terminal", storage.EventQuery{Terminal: "T9"}, nil},
		{"unknown kind", storage.EventQuery{Kind: "nothing"}, nil},
		{"from inclusive, to exclusive", storage.EventQuery{From: at(1), To: at(5)}, where(between(at(1), at(5)))},
		{"to just after", storage.EventQuery{From: at(1), To: at(5).Add(time.Millisecond)}, where(between(at(1), at(5).Add(time.Millisecond)))},
		{"from a microsecond after", storage.EventQuery{From: at(1).Add(time.Microsecond), To: at(5)}, where(between(at(2), at(5)))},
		{"to a microsecond after", storage.EventQuery{From: at(1), To: at(4).Add(time.Microsecond)}, where(between(at(1), at(5)))},
		{"open start", storage.EventQuery{To: at(1)}, where(between(at(-10), at(1)))},
		{"open end", storage.EventQuery{From: at(5)}, where(between(at(5), at(10)))},
		{"range in other zones", storage.EventQuery{From: at(1).In(utc8), To: at(3).In(utc5)}, where(between(at(1), at(3)))},
		{"empty range", storage.EventQuery{From: at(3), To: at(3)}, nil},
		{"reversed range", storage.EventQuery{From: at(5), To: at(3)}, nil},
		{"limit, newest first", storage.EventQuery{Limit: 4}, all[:4]},
		{"limit with a filter", storage.EventQuery{Terminal: "T1", Limit: 2}, where(func(e storage.Event) bool { return e.Terminal == "T1" })[:2]},
		{"limit with a range", storage.EventQuery{From: at(0), To: at(5), Limit: 2}, where(between(at(0), at(5)))[:2]},
		{"limit above count", storage.EventQuery{Limit: 100}, all},
		{"negative limit is the default", storage.EventQuery{Limit: -1}, all},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantEvents(t, events(t, s, tc.q), tc.want)
		})
	}
}

// testEventsRefused: an invalid event refuses the whole call with a precise error wrapping
// ErrInvalidEvent; a cancelled context stores nothing; the store stays usable.
func testEventsRefused(t *testing.T, s storage.Store) {
	good := storage.Event{At: base, Kind: "seq_gap", Severity: storage.SeverityWarning, Terminal: "T1", Message: "4 missing"}
	appendEvents(t, s, good)
	bad := func(f func(e *storage.Event)) storage.Event {
		e := good
		f(&e)
		return e
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tooMany := make(map[string]int64, storage.MaxEventFigures+1)
	for i := range storage.MaxEventFigures + 1 {
		tooMany[fmt.Sprintf("f%d", i)] = int64(i)
	}
	tests := []struct {
		name  string
		ctx   context.Context
		es    []storage.Event
		want  error  // errors.Is
		about string // in the error text
	}{
		{"empty kind", t.Context(), []storage.Event{good, bad(func(e *storage.Event) { e.Kind = "" })}, storage.ErrInvalidEvent, "empty kind"},
		{"kind not an identifier", t.Context(), []storage.Event{good, bad(func(e *storage.Event) { e.Kind = "Clock drift" })}, storage.ErrInvalidEvent, "kind"},
		{"kind too long", t.Context(), []storage.Event{good, bad(func(e *storage.Event) { e.Kind = strings.Repeat("k", storage.MaxEventKind+1) })}, storage.ErrInvalidEvent, "kind of 65 bytes"},
		{"unknown severity", t.Context(), []storage.Event{good, bad(func(e *storage.Event) { e.Severity = "critical" })}, storage.ErrInvalidEvent, `severity "critical"`},
		{"empty severity", t.Context(), []storage.Event{good, bad(func(e *storage.Event) { e.Severity = "" })}, storage.ErrInvalidEvent, "severity"},
		{"message over 1 KiB", t.Context(), []storage.Event{good, bad(func(e *storage.Event) { e.Message = strings.Repeat("x", storage.MaxEventMessage+1) })}, storage.ErrInvalidEvent, "message of 1025 bytes"},
		{"message of 1 KiB in multi-byte runes, one byte over", t.Context(), []storage.Event{good, bad(func(e *storage.Event) { e.Message = strings.Repeat("é", storage.MaxEventMessage/2) + "x" })}, storage.ErrInvalidEvent, "message of 1025 bytes"},
		{"message not UTF-8", t.Context(), []storage.Event{good, bad(func(e *storage.Event) { e.Message = "bad \xff byte" })}, storage.ErrInvalidEvent, "UTF-8"},
		{"message with NUL", t.Context(), []storage.Event{good, bad(func(e *storage.Event) { e.Message = "a\x00b" })}, storage.ErrInvalidEvent, "NUL"},
		{"malformed terminal", t.Context(), []storage.Event{good, bad(func(e *storage.Event) { e.Terminal = "T.1" })}, storage.ErrInvalidEvent, "terminal id"},
		{"malformed meter", t.Context(), []storage.Event{good, bad(func(e *storage.Event) { e.Meter = "T1.rs485-1" })}, storage.ErrInvalidEvent, "meter id"},
		{"before 2000", t.Context(), []storage.Event{good, bad(func(e *storage.Event) { e.At = meterdata.EarliestTime.Add(-time.Millisecond) })}, storage.ErrInvalidEvent, "at 1999-12-31"},
		{"from 2100", t.Context(), []storage.Event{good, bad(func(e *storage.Event) { e.At = meterdata.LatestTime })}, storage.ErrInvalidEvent, "at 2100-01-01"},
		{"empty data name", t.Context(), []storage.Event{good, bad(func(e *storage.Event) { e.Data = map[string]int64{"": 1} })}, storage.ErrInvalidEvent, "empty data name"},
		{"data name not an identifier", t.Context(), []storage.Event{good, bad(func(e *storage.Event) { e.Data = map[string]int64{"drift ms": 1} })}, storage.ErrInvalidEvent, "data name"},
		{"too many figures", t.Context(), []storage.Event{good, bad(func(e *storage.Event) { e.Data = tooMany })}, storage.ErrInvalidEvent, "65 data figures"},
		{"too many events", t.Context(), slices.Repeat([]storage.Event{good}, storage.MaxEventsPerCall+1), storage.ErrInvalidEvent, "10001 events"},
		{"context cancelled", cancelled, []storage.Event{good}, context.Canceled, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.AppendEvents(tc.ctx, tc.es)
			if err == nil {
				t.Fatal("AppendEvents: want an error")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("AppendEvents error = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.about) {
				t.Errorf("AppendEvents error = %v, want it to say %q", err, tc.about)
			}
			if tc.want == storage.ErrInvalidEvent && len(tc.es) == 2 && !strings.Contains(err.Error(), "event 1") {
				t.Errorf("AppendEvents error = %v, want it to name event 1", err)
			}
			wantEvents(t, events(t, s, storage.EventQuery{}), []storage.Event{storedEvent(good)})
		})
	}
	// Validate says the same, without a store.
	if err := bad(func(e *storage.Event) { e.Severity = "critical" }).Validate(); !errors.Is(err, storage.ErrInvalidEvent) {
		t.Errorf("Validate = %v, want ErrInvalidEvent", err)
	}
	if err := (storage.Event{Kind: "x", Severity: storage.SeverityAlarm}).Validate(); err != nil {
		t.Errorf("Validate of a minimal event: %v", err)
	}
	appendEvents(t, s, good)
	if es := events(t, s, storage.EventQuery{}); len(es) != 2 {
		t.Errorf("after the refusals, %d events, want 2", len(es))
	}
}

// testEventsConcurrency: concurrent appends and reads; every call is whole, IDs unique and
// growing in the order given within a call.
func testEventsConcurrency(t *testing.T, s storage.Store) {
	const (
		writers = 6
		calls   = 15
		perCall = 10
	)
	var wg sync.WaitGroup
	errs := make(chan error, writers+2)
	done := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for c := range calls {
				es := make([]storage.Event, perCall)
				for i := range es {
					// All of one call share one At, so that the order among them is by ID.
					es[i] = storage.Event{At: base.Add(time.Duration(c) * time.Second), Kind: "seq_gap", Severity: storage.SeverityWarning,
						Terminal: fmt.Sprintf("W%d", w), Message: fmt.Sprintf("%d/%d/%d", w, c, i), Data: map[string]int64{"call": int64(c), "i": int64(i)}}
				}
				if err := s.AppendEvents(t.Context(), es); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				es, err := s.Events(t.Context(), storage.EventQuery{Limit: 50})
				if err != nil {
					errs <- err
					return
				}
				for i := 1; i < len(es); i++ {
					if es[i].At.After(es[i-1].At) || es[i].At.Equal(es[i-1].At) && es[i].ID >= es[i-1].ID {
						errs <- fmt.Errorf("events %s then %s: not newest first", showEvent(es[i-1]), showEvent(es[i]))
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent events: %v", err)
	}
	all := events(t, s, storage.EventQuery{})
	if len(all) != writers*calls*perCall {
		t.Fatalf("%d events stored, want %d", len(all), writers*calls*perCall)
	}
	ids := map[int64]bool{}
	for _, e := range all {
		if ids[e.ID] {
			t.Errorf("ID %d given twice", e.ID)
		}
		ids[e.ID] = true
	}
	for w := range writers {
		es := events(t, s, storage.EventQuery{Terminal: fmt.Sprintf("W%d", w)})
		if len(es) != calls*perCall {
			t.Errorf("writer %d: %d events, want %d", w, len(es), calls*perCall)
			continue
		}
		// Newest first: calls from the last, and inside a call from the last given.
		for k, e := range es {
			c, i := calls-1-k/perCall, perCall-1-k%perCall
			if want := fmt.Sprintf("%d/%d/%d", w, c, i); e.Message != want {
				t.Errorf("writer %d: event %d is %s, want message %s", w, k, showEvent(e), want)
				break
			}
		}
	}
}
