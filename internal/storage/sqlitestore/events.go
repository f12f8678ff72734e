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

// AppendEvents implements storage.EventStore.
func (s *Store) AppendEvents(ctx context.Context, es []storage.Event) (err error) {
	rows, err := batchplan.PrepareEvents(es, s.nowMilli())
	if err != nil {
		return fmt.Errorf("sqlitestore: append events: %w", err)
	}
	if len(rows) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE
	if err != nil {
		return fmt.Errorf("sqlitestore: append %d events: begin: %w", len(rows), err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err := insertEvents(ctx, tx, rows); err != nil {
		return fmt.Errorf("sqlitestore: append %d events: %w", len(rows), err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: append %d events: commit: %w", len(rows), err)
	}
	return nil
}

// AppendTerminalEvents implements storage.TerminalEventWriter. The one writer connection
// serialises the calls, so the mark read inside the transaction stays current until commit.
func (s *Store) AppendTerminalEvents(ctx context.Context, terminal string, es []storage.TerminalEvent) (n int, err error) {
	rows, seqs, err := batchplan.PrepareTerminalEvents(terminal, es, s.nowMilli())
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: append events of terminal %.80q: %w", terminal, err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	fail := func(err error) (int, error) {
		return 0, fmt.Errorf("sqlitestore: append %d events of terminal %s (seq %d..%d): %w", len(rows), terminal, seqs[0], seqs[len(seqs)-1], err)
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
	var mark int64
	switch err := tx.QueryRowContext(ctx, `SELECT last_seq FROM terminal_event_marks WHERE terminal = ?`, terminal).Scan(&mark); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fail(fmt.Errorf("read the mark: %w", err))
	}
	first := batchplan.Unseen(seqs, mark)
	if first == len(rows) {
		return 0, tx.Rollback() // all resent: nothing to change
	}
	if err := insertEvents(ctx, tx, rows[first:]); err != nil {
		return fail(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO terminal_event_marks (terminal, last_seq) VALUES (?, ?)
ON CONFLICT (terminal) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)`, terminal, seqs[len(seqs)-1]); err != nil {
		return fail(fmt.Errorf("raise the mark: %w", err))
	}
	if err := tx.Commit(); err != nil {
		return fail(fmt.Errorf("commit: %w", err))
	}
	return len(rows) - first, nil
}

// insertEvents inserts event rows in tx, their IDs growing in the order given.
func insertEvents(ctx context.Context, tx *sql.Tx, rows []batchplan.EventRow) error {
	for start := 0; start < len(rows); start += chunkRows {
		chunk := rows[start:min(start+chunkRows, len(rows))]
		var q strings.Builder
		q.WriteString(`INSERT INTO events (at, kind, severity, terminal, meter_id, message, data) VALUES `)
		args := make([]any, 0, 7*len(chunk))
		for i, w := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?,?,?,?,?,?,NULLIF(?,''))")
			args = append(args, w.At, w.Kind, w.Severity, w.Terminal, w.Meter, w.Message, w.Data)
		}
		// Rows of one INSERT get rowids in the order of its VALUES: IDs follow the order given.
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("events %d..%d: %w", start, start+len(chunk)-1, err)
		}
	}
	return nil
}

// Events implements storage.EventStore.
func (s *Store) Events(ctx context.Context, q storage.EventQuery) ([]storage.Event, error) {
	from, to := batchplan.EventBounds(q)
	var where strings.Builder
	where.WriteString(`at >= ? AND at < ?`)
	args := []any{from, to}
	for _, f := range []struct{ col, val string }{{"terminal", q.Terminal}, {"meter_id", string(q.Meter)}, {"kind", q.Kind}} {
		if f.val != "" {
			where.WriteString(" AND " + f.col + " = ?")
			args = append(args, f.val)
		}
	}
	args = append(args, batchplan.EventLimit(q))
	out, err := collect(ctx, s.r, scanEvent, `SELECT id, at, kind, severity, terminal, meter_id, message, coalesce(data, '') FROM events
WHERE `+where.String()+` ORDER BY at DESC, id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: events (terminal %q meter %q kind %q): %w", q.Terminal, q.Meter, q.Kind, err)
	}
	return out, nil
}

// scanEvent scans id, at, kind, severity, terminal, meter_id, message, data (empty for none).
func scanEvent(sc scanner) (storage.Event, error) {
	var id, at int64
	var kind, severity, terminal, meter, message, data string
	if err := sc.Scan(&id, &at, &kind, &severity, &terminal, &meter, &message, &data); err != nil {
		return storage.Event{}, err
	}
	return batchplan.DecodeEvent(id, at, kind, severity, terminal, meter, message, data)
}
