package batchplan

import (
	"fmt"
	"math"
	"sort"

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// EventRow is one event ready to store: checked, its time in Unix ms (UTC), its terminal
// derived from its meter when not given, its figures encoded.
type EventRow struct {
	At       int64
	Kind     string
	Severity string
	Terminal string
	Meter    string
	Message  string
	Data     string // canonical JSON object of Event.Data, "" for none (stored as NULL)
}

// PrepareEvents checks the events of an AppendEvents call (storage.Event.Validate, at most
// storage.MaxEventsPerCall) and turns them into rows, in the order given; now (Unix ms) is
// the time of an event whose At is zero.
func PrepareEvents(es []storage.Event, now int64) ([]EventRow, error) {
	if len(es) > storage.MaxEventsPerCall {
		return nil, fmt.Errorf("%w: %d events in one call: want at most %d", storage.ErrInvalidEvent, len(es), storage.MaxEventsPerCall)
	}
	rows := make([]EventRow, len(es))
	for i, e := range es {
		w, err := eventRow(i, e, now)
		if err != nil {
			return nil, err
		}
		rows[i] = w
	}
	return rows, nil
}

// eventRow checks event i of a call and turns it into a row.
func eventRow(i int, e storage.Event, now int64) (EventRow, error) {
	if err := e.Validate(); err != nil {
		return EventRow{}, fmt.Errorf("event %d (kind %.80q): %w", i, e.Kind, err)
	}
	w := EventRow{At: now, Kind: e.Kind, Severity: e.Severity, Terminal: e.Terminal, Meter: string(e.Meter), Message: e.Message}
	if !e.At.IsZero() {
		w.At = e.At.UnixMilli() // floor, as a reading's time is cut to the millisecond
	}
	if w.Terminal == "" && e.Meter != "" {
		w.Terminal = e.Meter.Terminal()
	}
	if len(e.Data) > 0 {
		d, err := meterdata.EncodeValues(e.Data)
		if err != nil {
			return EventRow{}, fmt.Errorf("event %d (kind %s): data: %w", i, e.Kind, err)
		}
		w.Data = d
	}
	return w, nil
}

// PrepareTerminalEvents checks the events of an AppendTerminalEvents call as the contract
// states (a valid terminal id, at most storage.MaxEventsPerCall events, each valid, its
// Terminal empty or terminal, Seq 1 to math.MaxInt64 and strictly increasing) and turns them
// into rows whose Terminal is terminal, in the order given, with their sequence numbers;
// now (Unix ms) is the time of an event whose At is zero. Every error wraps
// storage.ErrInvalidEvent.
func PrepareTerminalEvents(terminal string, es []storage.TerminalEvent, now int64) ([]EventRow, []int64, error) {
	if err := meterdata.ValidateTerminalID(terminal); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", storage.ErrInvalidEvent, err)
	}
	if len(es) > storage.MaxEventsPerCall {
		return nil, nil, fmt.Errorf("%w: %d events in one call: want at most %d", storage.ErrInvalidEvent, len(es), storage.MaxEventsPerCall)
	}
	rows, seqs := make([]EventRow, len(es)), make([]int64, len(es))
	for i, e := range es {
		switch {
		case e.Seq < 1 || e.Seq > math.MaxInt64:
			return nil, nil, fmt.Errorf("%w: event %d: seq %d: want 1 to %d", storage.ErrInvalidEvent, i, e.Seq, int64(math.MaxInt64))
		case i > 0 && e.Seq <= es[i-1].Seq:
			return nil, nil, fmt.Errorf("%w: event %d: seq %d after seq %d: want strictly increasing", storage.ErrInvalidEvent, i, e.Seq, es[i-1].Seq)
		case e.Terminal != "" && e.Terminal != terminal:
			return nil, nil, fmt.Errorf("%w: event %d (seq %d): terminal %.80q: want %s (the sender) or empty", storage.ErrInvalidEvent, i, e.Seq, e.Terminal, terminal)
		}
		w, err := eventRow(i, e.Event, now)
		if err != nil {
			return nil, nil, fmt.Errorf("%w (seq %d)", err, e.Seq)
		}
		w.Terminal = terminal
		rows[i], seqs[i] = w, int64(e.Seq)
	}
	return rows, seqs, nil
}

// Unseen returns the index of the first of seqs (strictly increasing) above mark: the
// events from there on are new, those before it resent.
func Unseen(seqs []int64, mark int64) int {
	return sort.Search(len(seqs), func(i int) bool { return seqs[i] > mark })
}

// DecodeEvent rebuilds an event from the columns of an events row; data is "" for none.
func DecodeEvent(id, at int64, kind, severity, terminal, meter, message, data string) (storage.Event, error) {
	e := storage.Event{ID: id, At: FromMilli(at), Kind: kind, Severity: severity, Terminal: terminal,
		Meter: meterdata.MeterID(meter), Message: message}
	if data != "" {
		d, err := DecodeValues(data)
		if err != nil {
			return storage.Event{}, fmt.Errorf("event %d: data: %w", id, err)
		}
		if len(d) > 0 {
			e.Data = d
		}
	}
	return e, nil
}

// EventBounds returns the query's [from, to) range of At in Unix ms; a zero end is unbounded.
func EventBounds(q storage.EventQuery) (from, to int64) {
	return bounds(q.From, q.To)
}

// EventLimit returns the query's limit, DefaultLimit for 0 or less.
func EventLimit(q storage.EventQuery) int {
	if q.Limit <= 0 {
		return storage.DefaultLimit
	}
	return q.Limit
}
