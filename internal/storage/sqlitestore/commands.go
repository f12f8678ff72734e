package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"gridmeter/internal/storage"
	"gridmeter/internal/storage/batchplan"
)

// CreateCommand implements storage.CommandStore.
func (s *Store) CreateCommand(ctx context.Context, c storage.Command) error {
	w, err := batchplan.PrepareCommand(c)
	if err != nil {
		return fmt.Errorf("sqlitestore: create command: %w", err)
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO commands (id, terminal, meter_id, action, params, issued_by, issued, expires, state, updated)
VALUES (?, ?, ?, ?, NULLIF(?, ''), ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		w.ID, w.Terminal, w.Meter, w.Action, w.Params, w.IssuedBy, w.Issued, w.Expires, w.State, w.Updated)
	if err != nil {
		return fmt.Errorf("sqlitestore: create command %s: %w", c.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlitestore: create command %s: %w", c.ID, err)
	} else if n == 0 {
		return fmt.Errorf("sqlitestore: create command %s: %w", c.ID, storage.ErrExists)
	}
	return nil
}

// commandCols are the columns scanCommand scans, NULL JSON read as "".
const commandCols = `id, terminal, meter_id, action, coalesce(params, ''), issued_by, issued, expires, state, reason, coalesce(result, ''), updated`

func scanCommand(sc scanner) (storage.Command, error) {
	var w batchplan.CommandRow
	if err := sc.Scan(&w.ID, &w.Terminal, &w.Meter, &w.Action, &w.Params, &w.IssuedBy, &w.Issued, &w.Expires,
		&w.State, &w.Reason, &w.Result, &w.Updated); err != nil {
		return storage.Command{}, err
	}
	return w.Command()
}

// UpdateCommand implements storage.CommandStore. The check that the report moves the
// command forward is part of the UPDATE, and the one writer connection serialises the
// calls: of concurrent reports, only the first to run can take the command to a final state.
func (s *Store) UpdateCommand(ctx context.Context, u storage.CommandUpdate) (c storage.Command, changed bool, err error) {
	w, err := batchplan.PrepareCommandUpdate(u, s.nowMilli())
	if err != nil {
		return storage.Command{}, false, fmt.Errorf("sqlitestore: update command: %w", err)
	}
	fail := func(err error) (storage.Command, bool, error) {
		return storage.Command{}, false, fmt.Errorf("sqlitestore: update command %s to %s: %w", u.ID, u.State, err)
	}
	tx, err := s.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE
	if err != nil {
		return fail(fmt.Errorf("begin: %w", err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	c, err = scanCommand(tx.QueryRowContext(ctx, `UPDATE commands SET state = ?2, reason = ?3, result = NULLIF(?4, ''), updated = ?5
WHERE id = ?1 AND `+batchplan.MoveForward("?2")+` RETURNING `+commandCols, w.ID, w.State, w.Reason, w.Result, w.At))
	switch {
	case err == nil:
		changed = true
	case errors.Is(err, sql.ErrNoRows):
		// Unknown, or the report does not move it forward: say which, as it stands.
		c, err = scanCommand(tx.QueryRowContext(ctx, `SELECT `+commandCols+` FROM commands WHERE id = ?`, w.ID))
		if errors.Is(err, sql.ErrNoRows) {
			return fail(storage.ErrNotFound)
		}
		if err != nil {
			return fail(err)
		}
	default:
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(fmt.Errorf("commit: %w", err))
	}
	return c, changed, nil
}

// Command implements storage.CommandStore.
func (s *Store) Command(ctx context.Context, id string) (storage.Command, error) {
	c, err := scanCommand(s.r.QueryRowContext(ctx, `SELECT `+commandCols+` FROM commands WHERE id = ?`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storage.Command{}, fmt.Errorf("sqlitestore: command %.80q: %w", id, storage.ErrNotFound)
	case err != nil:
		return storage.Command{}, fmt.Errorf("sqlitestore: command %.80q: %w", id, err)
	}
	return c, nil
}

// Commands implements storage.CommandStore.
func (s *Store) Commands(ctx context.Context, q storage.CommandQuery) ([]storage.Command, error) {
	var where []string
	var args []any
	for _, f := range []struct{ col, val string }{{"terminal", q.Terminal}, {"meter_id", string(q.Meter)}} {
		if f.val != "" {
			where = append(where, f.col+" = ?")
			args = append(args, f.val)
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
	out, err := collect(ctx, s.r, scanCommand, `SELECT `+commandCols+` FROM commands`+cond+` ORDER BY issued DESC, id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: commands (terminal %q meter %q open %t): %w", q.Terminal, q.Meter, q.Open, err)
	}
	return out, nil
}
