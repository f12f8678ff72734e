package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"gridmeter/internal/storage"
	"gridmeter/internal/storage/batchplan"
)

// CreateCommand implements storage.CommandStore.
func (s *Store) CreateCommand(ctx context.Context, c storage.Command) error {
	w, err := batchplan.PrepareCommand(c)
	if err != nil {
		return fmt.Errorf("pgstore: create command: %w", err)
	}
	ct, err := s.pool.Exec(ctx, `INSERT INTO commands (id, terminal, meter_id, action, params, issued_by, issued, expires, state, updated)
VALUES ($1, $2, $3, $4, NULLIF($5, '')::jsonb, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`,
		w.ID, w.Terminal, w.Meter, w.Action, w.Params, w.IssuedBy, w.Issued, w.Expires, w.State, w.Updated)
	switch {
	case err != nil:
		return fmt.Errorf("pgstore: create command %s: %w", c.ID, err)
	case ct.RowsAffected() == 0:
		return fmt.Errorf("pgstore: create command %s: %w", c.ID, storage.ErrExists)
	}
	return nil
}

// commandCols are the columns scanCommand scans, NULL JSON read as "".
const commandCols = `id, terminal, meter_id, action, coalesce(params::text, ''), issued_by, issued, expires, state, reason, coalesce(result::text, ''), updated`

func scanCommand(row pgx.CollectableRow) (storage.Command, error) {
	var w batchplan.CommandRow
	if err := row.Scan(&w.ID, &w.Terminal, &w.Meter, &w.Action, &w.Params, &w.IssuedBy, &w.Issued, &w.Expires,
		&w.State, &w.Reason, &w.Result, &w.Updated); err != nil {
		return storage.Command{}, err
	}
	return w.Command()
}

// UpdateCommand implements storage.CommandStore. The check that the report moves the
// command forward is the UPDATE's WHERE: a concurrent UPDATE of the row makes this one wait
// and then test the condition again on the row as that one left it (READ COMMITTED), so of
// concurrent reports only one can take the command to a final state.
func (s *Store) UpdateCommand(ctx context.Context, u storage.CommandUpdate) (storage.Command, bool, error) {
	w, err := batchplan.PrepareCommandUpdate(u, s.nowMilli())
	if err != nil {
		return storage.Command{}, false, fmt.Errorf("pgstore: update command: %w", err)
	}
	what := fmt.Sprintf("update command %s to %s", u.ID, u.State)
	moved, err := queryAll(ctx, s, what, scanCommand, `UPDATE commands SET state = $2, reason = $3, result = NULLIF($4, '')::jsonb, updated = $5
WHERE id = $1 AND `+batchplan.MoveForward("$2::text")+` RETURNING `+commandCols, w.ID, w.State, w.Reason, w.Result, w.At)
	if err != nil {
		return storage.Command{}, false, err
	}
	if len(moved) == 1 {
		return moved[0], true, nil
	}
	// Unknown, or the report does not move it forward: say which, as it stands now.
	c, err := queryOne(ctx, s, what, scanCommand, `SELECT `+commandCols+` FROM commands WHERE id = $1`, w.ID)
	if err != nil {
		return storage.Command{}, false, err
	}
	return c, false, nil
}

// Command implements storage.CommandStore.
func (s *Store) Command(ctx context.Context, id string) (storage.Command, error) {
	return queryOne(ctx, s, fmt.Sprintf("command %.80q", id), scanCommand, `SELECT `+commandCols+` FROM commands WHERE id = $1`, id)
}

// Commands implements storage.CommandStore.
func (s *Store) Commands(ctx context.Context, q storage.CommandQuery) ([]storage.Command, error) {
	var where []string
	var args []any
	for _, f := range []struct{ col, val string }{{"terminal", q.Terminal}, {"meter_id", string(q.Meter)}} {
		if f.val != "" {
			args = append(args, f.val)
			where = append(where, f.col+" = $"+strconv.Itoa(len(args)))
		}
	}
	if q.Open {
		where = append(where, `state IN ('pending', 'accepted')`)
	}
	cond := ""
	if len(where) > 0 {
		cond = ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, batchplan.CommandLimit(q))
	return queryAll(ctx, s, fmt.Sprintf("commands (terminal %q meter %q open %t)", q.Terminal, q.Meter, q.Open), scanCommand,
		`SELECT `+commandCols+` FROM commands`+cond+` ORDER BY issued DESC, id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
}
