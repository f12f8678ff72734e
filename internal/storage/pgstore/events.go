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
func (s *Store) AppendEvents(ctx context.Context, es []storage.Event) (err error) {
	rows, err := batchplan.PrepareEvents(es, s.nowMilli())
	if err != nil {
		return fmt.Errorf("pgstore: append events: %w", err)
	}
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	ats, kinds, sevs, terms, meters, msgs, data := make([]int64, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, w := range rows {
		ats[i], kinds[i], sevs[i], terms[i], meters[i], msgs[i], data[i] = w.At, w.Kind, w.Severity, w.Terminal, w.Meter, w.Message, w.Data
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: append %d events: begin: %w", n, err)
	}
	defer func() {
		if err != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
			defer cancel()
			_ = tx.Rollback(rctx)
		}
	}()
	// One statement; the identity is drawn row by row in ORDER BY ord: IDs follow the order given.
	if _, err := tx.Exec(ctx, `INSERT INTO events (at, kind, severity, terminal, meter_id, message, data)
SELECT a, k, s, t, m, g, NULLIF(d, '')::jsonb
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS u(a, k, s, t, m, g, d, ord)
ORDER BY ord`, ats, kinds, sevs, terms, meters, msgs, data); err != nil {
		return fmt.Errorf("pgstore: append %d events: %w", n, err)
	}
	if err := commit(ctx, tx); err != nil {
		return fmt.Errorf("pgstore: append %d events: %w", n, err)
	}
	return nil
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
