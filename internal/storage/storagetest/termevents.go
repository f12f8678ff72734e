package storagetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gridmeter/internal/storage"
)

// The TerminalEventWriter cases.

// termEvent returns a valid event of sequence number seq, its message naming the terminal
// and seq so that tests can tell which were stored.
func termEvent(terminal string, seq uint64) storage.TerminalEvent {
	at := base.Add(time.Duration(min(seq, 1_000_000)) * time.Second)
	return storage.TerminalEvent{Seq: seq, Event: storage.Event{At: at, Kind: "meter_fault",
		Severity: storage.SeverityAlarm, Message: fmt.Sprintf("%s seq %d", terminal, seq)}}
}

func termEvents(terminal string, seqs ...uint64) []storage.TerminalEvent {
	out := make([]storage.TerminalEvent, len(seqs))
	for i, seq := range seqs {
		out[i] = termEvent(terminal, seq)
	}
	return out
}

func appendTermEvents(t *testing.T, s storage.Store, terminal string, es []storage.TerminalEvent) int {
	t.Helper()
	n, err := s.AppendTerminalEvents(t.Context(), terminal, es)
	if err != nil {
		t.Fatalf("AppendTerminalEvents(%s, %d events): %v", terminal, len(es), err)
	}
	return n
}

// storedSeqs returns the sequence numbers of a terminal's stored events (from their
// messages) in increasing order, repeats kept, checking that every one has Terminal set.
func storedSeqs(t *testing.T, s storage.Store, terminal string) []uint64 {
	t.Helper()
	var out []uint64
	for _, e := range events(t, s, storage.EventQuery{Terminal: terminal}) {
		var seq uint64
		if _, err := fmt.Sscanf(e.Message, terminal+" seq %d", &seq); err != nil {
			t.Errorf("event %s: not one of %s's", showEvent(e), terminal)
			continue
		}
		if e.Terminal != terminal {
			t.Errorf("event %s: Terminal %q, want %q", showEvent(e), e.Terminal, terminal)
		}
		out = append(out, seq)
	}
	slices.Sort(out)
	return out
}

func wantSeqs(t *testing.T, s storage.Store, terminal string, want ...uint64) {
	t.Helper()
	if got := storedSeqs(t, s, terminal); !slices.Equal(got, want) {
		t.Errorf("stored events of %s: seqs %v, want %v", terminal, got, want)
	}
}

// testTerminalEvents: events above the mark are appended, those at or below skipped, the
// mark raised; the events visible through Events with Terminal set.
func testTerminalEvents(t *testing.T, s storage.Store) {
	m := meter(t, "T1", 1)
	first := termEvents("T1", 1, 2, 3)
	first[1].Terminal = "T1"
	first[2].Meter = m
	first[2].Data = map[string]int64{"code": 7}
	first[0].At = base.Add(time.Second + 123_456*time.Nanosecond) // cut to the millisecond
	if n := appendTermEvents(t, s, "T1", first); n != 3 {
		t.Errorf("appended %d, want 3", n)
	}
	var want []storage.Event
	for i := len(first) - 1; i >= 0; i-- {
		e := first[i].Event
		e.Terminal = "T1"
		want = append(want, storedEvent(e))
	}
	got := events(t, s, storage.EventQuery{Terminal: "T1"})
	wantEvents(t, got, want)
	wantEvents(t, events(t, s, storage.EventQuery{Meter: m}), want[:1])

	steps := []struct {
		name     string
		terminal string
		seqs     []uint64
		appended int
		stored   []uint64 // the terminal's stored seqs afterwards
	}{
		{"resent and new", "T1", []uint64{2, 3, 4, 5}, 2, []uint64{1, 2, 3, 4, 5}},
		{"all resent", "T1", []uint64{1, 2, 3, 4, 5}, 0, []uint64{1, 2, 3, 4, 5}},
		{"one resent", "T1", []uint64{5}, 0, []uint64{1, 2, 3, 4, 5}},
		{"after a gap", "T1", []uint64{10}, 1, []uint64{1, 2, 3, 4, 5, 10}},
		{"below the mark, never stored: skipped", "T1", []uint64{7, 8}, 0, []uint64{1, 2, 3, 4, 5, 10}},
		{"straddling the mark", "T1", []uint64{7, 10, 11, 12}, 2, []uint64{1, 2, 3, 4, 5, 10, 11, 12}},
		{"other terminal has its own mark", "T2", []uint64{1, 2}, 2, []uint64{1, 2}},
		{"empty", "T1", []uint64{}, 0, []uint64{1, 2, 3, 4, 5, 10, 11, 12}},
		{"largest seq", "T2", []uint64{math.MaxInt64}, 1, []uint64{1, 2, math.MaxInt64}},
		{"nothing above the largest", "T2", []uint64{3, math.MaxInt64}, 0, []uint64{1, 2, math.MaxInt64}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if n := appendTermEvents(t, s, st.terminal, termEvents(st.terminal, st.seqs...)); n != st.appended {
				t.Errorf("appended %d, want %d", n, st.appended)
			}
			wantSeqs(t, s, st.terminal, st.stored...)
		})
	}
	if n := appendTermEvents(t, s, "T1", nil); n != 0 {
		t.Errorf("AppendTerminalEvents(nil) = %d, want 0", n)
	}

	t.Run("IDs in the order given, zero At is now", func(t *testing.T) {
		es := termEvents("T3", 1, 2, 3)
		for i := range es {
			es[i].At = time.Time{}
		}
		before := time.Now()
		appendTermEvents(t, s, "T3", es)
		after := time.Now()
		got := events(t, s, storage.EventQuery{Terminal: "T3"})
		if len(got) != 3 {
			t.Fatalf("got %d events of T3, want 3", len(got))
		}
		for i, e := range got {
			if !within(e.At, before, after) || e.At.Location() != time.UTC {
				t.Errorf("event %s: At not now in UTC", showEvent(e))
			}
			if wantMsg := fmt.Sprintf("T3 seq %d", 3-i); e.Message != wantMsg {
				t.Errorf("event %d = %s, want message %q (same At: the last given first)", i, showEvent(e), wantMsg)
			}
		}
	})

	t.Run("a meter of another terminal", func(t *testing.T) {
		// The sender is the event's terminal: the meter is not checked against it.
		e := termEvent("T4", 1)
		e.Meter = meter(t, "T9", 1)
		appendTermEvents(t, s, "T4", []storage.TerminalEvent{e})
		wantSeqs(t, s, "T4", 1)
		if es := events(t, s, storage.EventQuery{Terminal: "T9"}); len(es) != 0 {
			t.Errorf("events of T9 = %d, want none", len(es))
		}
	})
}

// testTerminalEventsRefused: invalid input refuses the whole call with an error wrapping
// ErrInvalidEvent naming the event; nothing is appended and the mark stays.
func testTerminalEventsRefused(t *testing.T, s storage.Store) {
	appendTermEvents(t, s, "T1", termEvents("T1", 1))
	with := func(seq uint64, f func(e *storage.TerminalEvent)) storage.TerminalEvent {
		e := termEvent("T1", seq)
		f(&e)
		return e
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tooMany := make([]storage.TerminalEvent, storage.MaxEventsPerCall+1)
	for i := range tooMany {
		tooMany[i] = termEvent("T1", uint64(i+2))
	}
	tests := []struct {
		name     string
		ctx      context.Context
		terminal string
		es       []storage.TerminalEvent
		want     error
		about    string
	}{
		{"out of order", t.Context(), "T1", termEvents("T1", 3, 2), storage.ErrInvalidEvent, "event 1: seq 2 after seq 3"},
		{"repeated seq", t.Context(), "T1", termEvents("T1", 2, 5, 5), storage.ErrInvalidEvent, "event 2: seq 5 after seq 5"},
		{"seq 0", t.Context(), "T1", termEvents("T1", 0, 2), storage.ErrInvalidEvent, "event 0: seq 0"},
		{"seq above MaxInt64", t.Context(), "T1", termEvents("T1", 2, math.MaxInt64+1), storage.ErrInvalidEvent, "event 1: seq 9223372036854775808"},
		{"another terminal's event", t.Context(), "T1", []storage.TerminalEvent{termEvent("T1", 2), with(3, func(e *storage.TerminalEvent) { e.Terminal = "T2" })}, storage.ErrInvalidEvent, `event 1 (seq 3): terminal "T2"`},
		{"invalid event", t.Context(), "T1", []storage.TerminalEvent{termEvent("T1", 100), with(101, func(e *storage.TerminalEvent) { e.Kind = "" })}, storage.ErrInvalidEvent, "event 1"},
		{"invalid severity", t.Context(), "T1", []storage.TerminalEvent{with(200, func(e *storage.TerminalEvent) { e.Severity = "fatal" })}, storage.ErrInvalidEvent, `severity "fatal"`},
		{"malformed terminal", t.Context(), "T.1", termEvents("T.1", 2), storage.ErrInvalidEvent, "terminal id"},
		{"empty terminal", t.Context(), "", termEvents("", 2), storage.ErrInvalidEvent, "terminal id"},
		{"too many events", t.Context(), "T1", tooMany, storage.ErrInvalidEvent, "10001 events"},
		{"context cancelled", cancelled, "T1", termEvents("T1", 2, 3), context.Canceled, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := s.AppendTerminalEvents(tc.ctx, tc.terminal, tc.es)
			if err == nil || n != 0 {
				t.Fatalf("AppendTerminalEvents = %d, %v; want 0 and an error", n, err)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("AppendTerminalEvents error = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.about) {
				t.Errorf("AppendTerminalEvents error = %v, want it to say %q", err, tc.about)
			}
			wantSeqs(t, s, "T1", 1)
			if es := events(t, s, storage.EventQuery{}); len(es) != 1 {
				t.Errorf("%d events stored, want 1", len(es))
			}
		})
	}
	// No refusal raised the mark.
	if n := appendTermEvents(t, s, "T1", termEvents("T1", 2, 3)); n != 2 {
		t.Errorf("after the refusals, appended %d, want 2", n)
	}
	wantSeqs(t, s, "T1", 1, 2, 3)
}

// testTerminalEventsConcurrency: several senders resending overlapping windows of one
// terminal's events, each in order: every event is stored exactly once, and the counts
// returned add up to the events stored.
func testTerminalEventsConcurrency(t *testing.T, s storage.Store) {
	const last = 120
	widths := []int{7, 10, 13, 4, 120}
	var wg sync.WaitGroup
	var mu sync.Mutex
	appended := map[string]int{}
	for g, width := range widths {
		for _, terminal := range []string{"T1", "T2"} {
			wg.Go(func() {
				// Each sender covers 1..last in order, in windows of its own width that
				// overlap the previous one by g: once it sends a window, everything before
				// it is stored, so nothing is skipped for good.
				for from := 1; from <= last; from += max(width-g, 1) {
					var seqs []uint64
					for seq := from; seq < from+width && seq <= last; seq++ {
						seqs = append(seqs, uint64(seq))
					}
					n, err := s.AppendTerminalEvents(t.Context(), terminal, termEvents(terminal, seqs...))
					if err != nil {
						t.Errorf("sender %d: AppendTerminalEvents(%s, %d..): %v", g, terminal, from, err)
						return
					}
					mu.Lock()
					appended[terminal] += n
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	want := make([]uint64, last)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	for _, terminal := range []string{"T1", "T2"} {
		wantSeqs(t, s, terminal, want...)
		if appended[terminal] != last {
			t.Errorf("%s: the calls reported %d appended, want %d", terminal, appended[terminal], last)
		}
	}
}
