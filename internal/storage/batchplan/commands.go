package batchplan

import (
	"encoding/json"
	"fmt"

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// CommandRow is a command as both schemas store it: times in Unix ms (UTC), Params and
// Result as JSON objects, "" for none (stored as NULL).
type CommandRow struct {
	ID, Terminal, Meter, Action string
	Params                      string // JSON object of Command.Params
	IssuedBy                    string
	Issued, Expires             int64
	State, Reason               string
	Result                      string // canonical JSON object of Command.Result
	Updated                     int64
}

// PrepareCommand checks a command for CreateCommand (storage.Command.Validate) and turns it
// into the row to insert: pending, no reason or result, Updated = Issued.
func PrepareCommand(c storage.Command) (CommandRow, error) {
	if err := c.Validate(); err != nil {
		return CommandRow{}, err
	}
	w := CommandRow{ID: c.ID, Terminal: c.Terminal, Meter: string(c.Meter), Action: c.Action, IssuedBy: c.IssuedBy,
		Issued: c.Issued.UnixMilli(), Expires: c.Expires.UnixMilli(), State: storage.CommandPending}
	w.Updated = w.Issued
	if len(c.Params) > 0 {
		b, err := json.Marshal(c.Params) // keys sorted; Validate made every string valid UTF-8
		if err != nil {
			return CommandRow{}, fmt.Errorf("command %s: params: %w", c.ID, err)
		}
		w.Params = string(b)
	}
	return w, nil
}

// Command rebuilds the command from its row.
func (w CommandRow) Command() (storage.Command, error) {
	c := storage.Command{ID: w.ID, Terminal: w.Terminal, Meter: meterdata.MeterID(w.Meter), Action: w.Action,
		IssuedBy: w.IssuedBy, Issued: FromMilli(w.Issued), Expires: FromMilli(w.Expires), State: w.State,
		Reason: w.Reason, Updated: FromMilli(w.Updated)}
	if w.Params != "" {
		var p map[string]string
		if err := json.Unmarshal([]byte(w.Params), &p); err != nil {
			return storage.Command{}, fmt.Errorf("command %s: params %.40q: %w", w.ID, w.Params, err)
		}
		if len(p) > 0 {
			c.Params = p
		}
	}
	if w.Result != "" {
		r, err := DecodeValues(w.Result)
		if err != nil {
			return storage.Command{}, fmt.Errorf("command %s: result: %w", w.ID, err)
		}
		if len(r) > 0 {
			c.Result = r
		}
	}
	return c, nil
}

// CommandUpdateRow is a checked report on a command: At in Unix ms, Result as canonical JSON
// ("" for none).
type CommandUpdateRow struct {
	ID, State, Reason, Result string
	At                        int64
}

// PrepareCommandUpdate checks a report (storage.CommandUpdate.Validate) and turns it into
// the values to store; now (Unix ms) is its time if At is zero.
func PrepareCommandUpdate(u storage.CommandUpdate, now int64) (CommandUpdateRow, error) {
	if err := u.Validate(); err != nil {
		return CommandUpdateRow{}, err
	}
	w := CommandUpdateRow{ID: u.ID, State: u.State, Reason: u.Reason, At: now}
	if !u.At.IsZero() {
		w.At = u.At.UnixMilli()
	}
	if len(u.Result) > 0 {
		r, err := meterdata.EncodeValues(u.Result)
		if err != nil {
			return CommandUpdateRow{}, fmt.Errorf("command %s: result: %w", u.ID, err)
		}
		w.Result = r
	}
	return w, nil
}

// CommandLimit returns the query's limit, DefaultLimit for 0 or less.
func CommandLimit(q storage.CommandQuery) int {
	if q.Limit <= 0 {
		return storage.DefaultLimit
	}
	return q.Limit
}

// MoveForward is the SQL condition, on a commands row's state column and a parameter
// holding the reported state (accepted or final, as PrepareCommandUpdate checked), under
// which the report moves the command forward: from pending to anything, from accepted to a
// final state. Used in UPDATE … WHERE, it makes the check and the move one atomic step.
func MoveForward(newState string) string {
	return `(state = 'pending' OR (state = 'accepted' AND ` + newState + ` <> 'accepted'))`
}
