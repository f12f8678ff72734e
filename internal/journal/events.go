package journal

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"gridmeter/internal/meterdata"
)

// schemaV2 adds the event log: what the terminal observed about a meter (communication lost
// and restored) and what the meter itself recorded (power-down records). An event is keyed
// by (meter, log, code, state, time), so re-reading a meter's records adds nothing twice.
// log is the REE IEC 102 event-log record address it is served under (52 supply, 129
// communications); state 1 = began, 0 = ended.
const schemaV2 = `
CREATE TABLE event (
	id    INTEGER PRIMARY KEY AUTOINCREMENT,
	meter TEXT    NOT NULL,
	t     INTEGER NOT NULL,
	log   INTEGER NOT NULL CHECK (log BETWEEN 0 AND 255),
	code  INTEGER NOT NULL CHECK (code BETWEEN 0 AND 127),
	state INTEGER NOT NULL CHECK (state IN (0, 1)),
	UNIQUE (meter, log, code, state, t)
);
CREATE INDEX event_meter_log_t ON event (meter, log, t);
`

// Event logs and codes the terminal records (the REE record addresses of IEC 102).
const (
	LogSupply         = 52  // supply voltage: the meter's power-down records
	LogCommunications = 129 // communications: the terminal lost / regained the meter

	// LogAcquisition holds the terminal's own acquisition events (gaps: readings a meter
	// no longer keeps). It is not an IEC 102 record address and is not served there.
	LogAcquisition = 250

	CodePowerDown   = 1 // On: supply lost at Time; Off: restored at Time
	CodeMeterSilent = 1 // On: the meter stopped answering; Off: it answers again

	// Gap codes in LogAcquisition (On; Time = the gap's start, Data from_ms/to_ms).
	CodeGapDailyFrozen = 1
	CodeGapSettlement  = 2
	CodeGapLoadProfile = 3
)

// Event is one event of a meter, as the terminal keeps it.
type Event struct {
	Meter meterdata.MeterID
	Time  time.Time // UTC, millisecond precision
	Log   uint8     // LogSupply, LogCommunications
	Code  uint8     // 0–127
	On    bool      // began (true) or ended (false)

	Detail string           // free text (a gap's description); "" for most
	Data   map[string]int64 // figures (a gap's from_ms, to_ms); nil for most
	ID     uint64           // the journal's event sequence number (set when read; ignored by AppendEvents)
}

// KeepEvents is how long Compact keeps events.
const KeepEvents = 90 * 24 * time.Hour

// AppendEvents makes events durable in one transaction; an event already kept (same meter,
// log, code, state and time) is skipped. It returns how many were new.
func (j *Journal) AppendEvents(ctx context.Context, es []Event) (int, error) {
	for i, e := range es {
		if err := e.Meter.Validate(); err != nil {
			return 0, fmt.Errorf("journal: append events: event %d: %w", i, err)
		}
		if e.Code > 127 {
			return 0, fmt.Errorf("journal: append events: event %d (meter %s): code %d > 127", i, e.Meter, e.Code)
		}
	}
	added := 0
	err := j.write(ctx, "append events", func(ctx context.Context, tx *sql.Tx) error {
		added = 0
		for _, e := range es {
			state := 0
			if e.On {
				state = 1
			}
			data := ""
			if len(e.Data) > 0 {
				b, _ := json.Marshal(e.Data)
				data = string(b)
			}
			r, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO event (meter, t, log, code, state, detail, data) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				string(e.Meter), e.Time.UnixMilli(), int(e.Log), int(e.Code), state, e.Detail, data)
			if err != nil {
				return err
			}
			n, _ := r.RowsAffected()
			added += int(n)
		}
		return nil
	})
	return added, err
}

// Events returns up to limit events of a meter in one log with from <= Time <= to, oldest first.
func (j *Journal) Events(ctx context.Context, meter meterdata.MeterID, log uint8, from, to time.Time, limit int) ([]Event, error) {
	if j.closed.Load() {
		return nil, ErrClosed
	}
	if limit <= 0 {
		return nil, fmt.Errorf("journal: events: limit %d: want > 0", limit)
	}
	rows, err := j.db.QueryContext(ctx, `SELECT t, code, state FROM event WHERE meter = ? AND log = ? AND t >= ? AND t <= ?
		ORDER BY t, id LIMIT ?`, string(meter), int(log), from.UnixMilli(), to.UnixMilli(), limit)
	if err != nil {
		return nil, j.wrap("events", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var t, code, state int64
		if err := rows.Scan(&t, &code, &state); err != nil {
			return nil, j.wrap("events", err)
		}
		out = append(out, Event{Meter: meter, Time: time.UnixMilli(t).UTC(), Log: log, Code: uint8(code), On: state == 1})
	}
	return out, j.wrap("events", rows.Err())
}

// EventsToSend returns up to limit events the head-end has not acknowledged (id above the
// acknowledged mark), in id order: the order they were journaled.
func (j *Journal) EventsToSend(ctx context.Context, limit int) ([]Event, error) {
	if j.closed.Load() {
		return nil, ErrClosed
	}
	rows, err := j.db.QueryContext(ctx, `SELECT id, meter, t, log, code, state, detail, data FROM event
		WHERE id > (SELECT value FROM meta WHERE name = 'events_acked') ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, j.wrap("events to send", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var meter, data string
		var t, log, code, state int64
		if err := rows.Scan(&e.ID, &meter, &t, &log, &code, &state, &e.Detail, &data); err != nil {
			return nil, j.wrap("events to send", err)
		}
		e.Meter, e.Time, e.Log, e.Code, e.On = meterdata.MeterID(meter), time.UnixMilli(t).UTC(), uint8(log), uint8(code), state == 1
		if data != "" {
			if err := json.Unmarshal([]byte(data), &e.Data); err != nil {
				return nil, j.wrap("events to send", fmt.Errorf("event %d: data: %w", e.ID, err))
			}
		}
		out = append(out, e)
	}
	return out, j.wrap("events to send", rows.Err())
}

// AckEvents records that the head-end stored every event up to id upTo; the mark only
// moves forward.
func (j *Journal) AckEvents(ctx context.Context, upTo uint64) error {
	return j.write(ctx, "ack events", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE meta SET value = max(value, min(?, (SELECT coalesce(max(id), 0) FROM event)))
			WHERE name = 'events_acked'`, int64(upTo))
		return err
	})
}
