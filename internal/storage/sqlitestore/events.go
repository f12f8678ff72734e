package sqlitestore

import (
	"context"
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
			return fmt.Errorf("sqlitestore: append %d events: events %d..%d: %w", len(rows), start, start+len(chunk)-1, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: append %d events: commit: %w", len(rows), err)
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
