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

// AppendEvents implements storage.EventStore.
func (s *Store) AppendEvents(ctx context.Context, es []storage.Event) error {
	rows, err := batchplan.PrepareEvents(es, s.nowMilli())
	if err != nil {
		return fmt.Errorf("pgstore: append events: %w", err)
	}
	if len(rows) == 0 {
		return nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: append %d events: begin: %w", len(rows), err)
	}
	defer rollback(ctx, tx)
	if err := insertEvents(ctx, tx, rows); err != nil {
		return fmt.Errorf("pgstore: append %d events: %w", len(rows), err)
	}
	if err := commit(ctx, tx); err != nil {
		return fmt.Errorf("pgstore: append %d events: %w", len(rows), err)
	}
	return nil
}

// AppendTerminalEvents implements storage.TerminalEventWriter. The transaction locks the
// terminal's mark row first (creating it at 0 if new), so the calls of one terminal are
// applied one after the other against a stable mark.
func (s *Store) AppendTerminalEvents(ctx context.Context, terminal string, es []storage.TerminalEvent) (int, error) {
	rows, seqs, err := batchplan.PrepareTerminalEvents(terminal, es, s.nowMilli())
	if err != nil {
		return 0, fmt.Errorf("pgstore: append events of terminal %.80q: %w", terminal, err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	fail := func(err error) (int, error) {
		return 0, fmt.Errorf("pgstore: append %d events of terminal %s (seq %d..%d): %w", len(rows), terminal, seqs[0], seqs[len(seqs)-1], err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fail(fmt.Errorf("begin: %w", err))
	}
	defer rollback(ctx, tx)
	var mark int64
	var bt pgx.Batch
	bt.Queue(`INSERT INTO terminal_event_marks (terminal, last_seq) VALUES ($1, 0) ON CONFLICT (terminal) DO NOTHING`, terminal)
	bt.Queue(`SELECT last_seq FROM terminal_event_marks WHERE terminal = $1 FOR UPDATE`, terminal).QueryRow(func(row pgx.Row) error {
		return row.Scan(&mark)
	})
	if err := tx.SendBatch(ctx, &bt).Close(); err != nil {
		return fail(fmt.Errorf("lock the mark: %w", err))
	}
	first := batchplan.Unseen(seqs, mark)
	if first == len(rows) {
		return 0, nil // all resent: nothing to change (the deferred rollback ends the transaction)
	}
	if err := insertEvents(ctx, tx, rows[first:]); err != nil {
		return fail(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE terminal_event_marks SET last_seq = GREATEST(last_seq, $2) WHERE terminal = $1`, terminal, seqs[len(seqs)-1]); err != nil {
		return fail(fmt.Errorf("raise the mark: %w", err))
	}
	if err := commit(ctx, tx); err != nil {
		return fail(err)
	}
	return len(rows) - first, nil
}

// insertEvents inserts event rows in tx in one statement, their IDs growing in the order
// given.
func insertEvents(ctx context.Context, tx pgx.Tx, rows []batchplan.EventRow) error {
	n := len(rows)
	ats, kinds, sevs, terms, meters, msgs, data := make([]int64, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, w := range rows {
		ats[i], kinds[i], sevs[i], terms[i], meters[i], msgs[i], data[i] = w.At, w.Kind, w.Severity, w.Terminal, w.Meter, w.Message, w.Data
	}
	// The identity is drawn row by row in ORDER BY ord: IDs follow the order given.
	_, err := tx.Exec(ctx, `INSERT INTO events (at, kind, severity, terminal, meter_id, message, data)
SELECT a, k, s, t, m, g, NULLIF(d, '')::jsonb
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS u(a, k, s, t, m, g, d, ord)
ORDER BY ord`, ats, kinds, sevs, terms, meters, msgs, data)
	return err
}

// Events implements storage.EventStore.
func (s *Store) Events(ctx context.Context, q storage.EventQuery) ([]storage.Event, error) {
	from, to := batchplan.EventBounds(q)
	var where strings.Builder
	where.WriteString(`at >= $1 AND at < $2`)
	args := []any{from, to}
	for _, f := range []struct{ col, val string }{{"terminal", q.Terminal}, {"meter_id", string(q.Meter)}, {"kind", q.Kind}} {
		if f.val != "" {
			args = append(args, f.val)
			where.WriteString(" AND " + f.col + " = $" + strconv.Itoa(len(args)))
		}
	}
	args = append(args, batchplan.EventLimit(q))
	rs, err := s.pool.Query(ctx, `SELECT id, at, kind, severity, terminal, meter_id, message, coalesce(data::text, '') FROM events
WHERE `+where.String()+` ORDER BY at DESC, id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	var out []storage.Event
	if err == nil {
		var id, at int64
		var kind, severity, terminal, meter, message, data string
		_, err = pgx.ForEachRow(rs, []any{&id, &at, &kind, &severity, &terminal, &meter, &message, &data}, func() error {
			e, err := batchplan.DecodeEvent(id, at, kind, severity, terminal, meter, message, data)
			if err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: events (terminal %q meter %q kind %q): %w", q.Terminal, q.Meter, q.Kind, err)
	}
	return out, nil
}
