package journal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gridmeter/internal/meterdata"
)

// schemaV3 adds what the terminal must not forget across a restart besides readings: the
// head-end's commands with their state (a command survives a restart and is never run twice
// once final), small settings (the acquisition plan in force), and the event upload: events
// carry a detail text and figures, and meta 'events_acked' is the highest event id the
// head-end has acknowledged (events above it are still to be sent).
const schemaV3 = `
CREATE TABLE command (
	id       TEXT    PRIMARY KEY,
	meter    TEXT    NOT NULL,
	action   TEXT    NOT NULL,
	params   TEXT    NOT NULL,
	issued   INTEGER NOT NULL,
	expires  INTEGER NOT NULL,
	state    TEXT    NOT NULL,
	reason   TEXT    NOT NULL DEFAULT '',
	vals     TEXT    NOT NULL DEFAULT '',
	updated  INTEGER NOT NULL,
	received INTEGER NOT NULL
);
CREATE INDEX command_open ON command (state, received);
CREATE TABLE setting (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;
ALTER TABLE event ADD COLUMN detail TEXT NOT NULL DEFAULT '';
ALTER TABLE event ADD COLUMN data TEXT NOT NULL DEFAULT '';
INSERT INTO meta (name, value) VALUES ('events_acked', 0);
`

// Command states as the terminal keeps them.
const (
	CommandAccepted  = "accepted"
	CommandSucceeded = "succeeded"
	CommandFailed    = "failed"
	CommandRejected  = "rejected"
	CommandExpired   = "expired"
)

// Command is a head-end command as the terminal keeps it.
type Command struct {
	ID      string
	Meter   meterdata.MeterID
	Action  string
	Params  map[string]string
	Issued  time.Time
	Expires time.Time
	State   string
	Reason  string
	Values  map[string]int64
	Updated time.Time // when State was reached
}

// Final reports whether the command is in a final state.
func (c Command) Final() bool { return c.State != CommandAccepted }

// AddCommand makes a new command durable in state accepted. If a command with its ID is
// kept already, nothing changes and the kept one is returned with added false.
func (j *Journal) AddCommand(ctx context.Context, c Command) (kept Command, added bool, err error) {
	if c.ID == "" {
		return Command{}, false, errors.New("journal: add command: empty id")
	}
	params, _ := json.Marshal(c.Params)
	now := j.opt.Now().UTC()
	err = j.write(ctx, "add command", func(ctx context.Context, tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO command (id, meter, action, params, issued, expires, state, updated, received)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, string(c.Meter), c.Action, string(params),
			c.Issued.UnixMilli(), c.Expires.UnixMilli(), CommandAccepted, now.UnixMilli(), now.UnixNano())
		if err != nil {
			return err
		}
		n, _ := r.RowsAffected()
		added = n == 1
		kept, err = scanCommand(tx.QueryRowContext(ctx, commandSelect+" WHERE id = ?", c.ID))
		return err
	})
	return kept, added, err
}

// FinishCommand records a command's final state; a command already final is left as it is
// (the first final state wins). It returns the command as kept.
func (j *Journal) FinishCommand(ctx context.Context, id, state, reason string, values map[string]int64) (Command, error) {
	switch state {
	case CommandSucceeded, CommandFailed, CommandRejected, CommandExpired:
	default:
		return Command{}, fmt.Errorf("journal: finish command %s: state %q is not final", id, state)
	}
	vals := ""
	if len(values) > 0 {
		b, _ := json.Marshal(values)
		vals = string(b)
	}
	var kept Command
	err := j.write(ctx, "finish command", func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE command SET state = ?, reason = ?, vals = ?, updated = ? WHERE id = ? AND state = ?`,
			state, reason, vals, j.opt.Now().UnixMilli(), id, CommandAccepted); err != nil {
			return err
		}
		var err error
		kept, err = scanCommand(tx.QueryRowContext(ctx, commandSelect+" WHERE id = ?", id))
		return err
	})
	return kept, err
}

// OpenCommands returns the commands not yet final, in the order they were received.
func (j *Journal) OpenCommands(ctx context.Context) ([]Command, error) {
	if j.closed.Load() {
		return nil, ErrClosed
	}
	rows, err := j.db.QueryContext(ctx, commandSelect+" WHERE state = ? ORDER BY received", CommandAccepted)
	if err != nil {
		return nil, j.wrap("open commands", err)
	}
	defer rows.Close()
	var out []Command
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return nil, j.wrap("open commands", err)
		}
		out = append(out, c)
	}
	return out, j.wrap("open commands", rows.Err())
}

// Command returns one kept command; ok is false if there is none with the id.
func (j *Journal) Command(ctx context.Context, id string) (Command, bool, error) {
	if j.closed.Load() {
		return Command{}, false, ErrClosed
	}
	c, err := scanCommand(j.db.QueryRowContext(ctx, commandSelect+" WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Command{}, false, nil
	}
	if err != nil {
		return Command{}, false, j.wrap("command", err)
	}
	return c, true, nil
}

const commandSelect = `SELECT id, meter, action, params, issued, expires, state, reason, vals, updated FROM command`

func scanCommand(row interface{ Scan(...any) error }) (Command, error) {
	var c Command
	var meter, params, vals string
	var issued, expires, updated int64
	if err := row.Scan(&c.ID, &meter, &c.Action, &params, &issued, &expires, &c.State, &c.Reason, &vals, &updated); err != nil {
		return Command{}, err
	}
	c.Meter = meterdata.MeterID(meter)
	c.Issued, c.Expires, c.Updated = time.UnixMilli(issued).UTC(), time.UnixMilli(expires).UTC(), time.UnixMilli(updated).UTC()
	if params != "null" && params != "" {
		if err := json.Unmarshal([]byte(params), &c.Params); err != nil {
			return Command{}, fmt.Errorf("command %s: params: %w", c.ID, err)
		}
	}
	if vals != "" {
		if err := json.Unmarshal([]byte(vals), &c.Values); err != nil {
			return Command{}, fmt.Errorf("command %s: values: %w", c.ID, err)
		}
	}
	return c, nil
}

// SetSetting keeps a named value durably, replacing the previous one.
func (j *Journal) SetSetting(ctx context.Context, name string, value []byte) error {
	return j.write(ctx, "set setting", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO setting (name, value) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
		return err
	})
}

// SetSettings keeps several named values in one transaction.
func (j *Journal) SetSettings(ctx context.Context, values map[string][]byte) error {
	return j.write(ctx, "set settings", func(ctx context.Context, tx *sql.Tx) error {
		for name, value := range values {
			if _, err := tx.ExecContext(ctx, `INSERT INTO setting (name, value) VALUES (?, ?)
				ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value); err != nil {
				return err
			}
		}
		return nil
	})
}

// Setting returns a named value; ok is false if none is kept.
func (j *Journal) Setting(ctx context.Context, name string) (value []byte, ok bool, err error) {
	if j.closed.Load() {
		return nil, false, ErrClosed
	}
	err = j.db.QueryRowContext(ctx, `SELECT value FROM setting WHERE name = ?`, name).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, j.wrap("setting", err)
	}
	return value, true, nil
}
