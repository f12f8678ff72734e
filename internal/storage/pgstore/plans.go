package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"gridmeter/internal/storage"
	"gridmeter/internal/storage/batchplan"
)

// PutPlan implements storage.PlanStore. The transaction raises the terminal's latest
// version in its plan_status row, which locks the row until commit: concurrent calls for one
// terminal wait for each other and each gets the next number.
func (s *Store) PutPlan(ctx context.Context, terminal, createdBy string, build func(version int64) ([]byte, error)) (storage.Plan, error) {
	if err := storage.ValidatePlanPut(terminal, createdBy, build); err != nil {
		return storage.Plan{}, fmt.Errorf("pgstore: put plan: %w", err)
	}
	p, err := s.putPlan(ctx, terminal, createdBy, build)
	if err != nil {
		return storage.Plan{}, fmt.Errorf("pgstore: put plan of terminal %s: %w", terminal, err)
	}
	return p, nil
}

func (s *Store) putPlan(ctx context.Context, terminal, createdBy string, build func(version int64) ([]byte, error)) (storage.Plan, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return storage.Plan{}, fmt.Errorf("begin: %w", err)
	}
	defer rollback(ctx, tx) // a panic in build included
	var p storage.Plan
	var bt pgx.Batch
	bt.Queue(`INSERT INTO plan_status (terminal) VALUES ($1) ON CONFLICT (terminal) DO NOTHING`, terminal)
	bt.Queue(`UPDATE plan_status SET latest_version = latest_version + 1 WHERE terminal = $1
RETURNING terminal, latest_version, applied_version, report_version, report_state, report_error, reported_at`, terminal).QueryRow(func(row pgx.Row) error {
		var err error
		p, err = scanPlanStatus(row)
		return err
	})
	if err := tx.SendBatch(ctx, &bt).Close(); err != nil {
		return storage.Plan{}, fmt.Errorf("assign a version: %w", err)
	}
	body, err := build(p.Version)
	if err != nil {
		return storage.Plan{}, fmt.Errorf("version %d: build: %w", p.Version, err)
	}
	if err := storage.ValidatePlanBody(body); err != nil {
		return storage.Plan{}, fmt.Errorf("version %d: %w", p.Version, err)
	}
	p.Body, p.CreatedBy = bytes.Clone(body), createdBy
	now := s.nowMilli()
	p.Created = batchplan.FromMilli(now)
	if _, err := tx.Exec(ctx, `INSERT INTO plans (terminal, version, body, created, created_by) VALUES ($1, $2, $3, $4, $5)`,
		terminal, p.Version, p.Body, now, createdBy); err != nil {
		return storage.Plan{}, fmt.Errorf("version %d: insert: %w", p.Version, err)
	}
	if err := commit(ctx, tx); err != nil {
		return storage.Plan{}, fmt.Errorf("version %d: %w", p.Version, err)
	}
	return p, nil
}

// scanPlanStatus scans terminal, a version, applied_version, report_version, report_state,
// report_error, reported_at into a Plan without body.
func scanPlanStatus(row pgx.Row) (storage.Plan, error) {
	var p storage.Plan
	var at *int64
	if err := row.Scan(&p.Terminal, &p.Version, &p.AppliedVersion, &p.ReportVersion, &p.ReportState, &p.ReportError, &at); err != nil {
		return storage.Plan{}, err
	}
	if at != nil {
		p.ReportedAt = batchplan.FromMilli(*at)
	}
	return p, nil
}

// Plan implements storage.PlanStore.
func (s *Store) Plan(ctx context.Context, terminal string) (storage.Plan, error) {
	return queryOne(ctx, s, fmt.Sprintf("plan of terminal %.80q", terminal), func(row pgx.CollectableRow) (storage.Plan, error) {
		var p storage.Plan
		var created int64
		var at *int64
		if err := row.Scan(&p.Terminal, &p.Version, &p.Body, &created, &p.CreatedBy,
			&p.AppliedVersion, &p.ReportVersion, &p.ReportState, &p.ReportError, &at); err != nil {
			return storage.Plan{}, err
		}
		p.Created = batchplan.FromMilli(created)
		if at != nil {
			p.ReportedAt = batchplan.FromMilli(*at)
		}
		return p, nil
	}, `SELECT p.terminal, p.version, p.body, p.created, p.created_by,
	s.applied_version, s.report_version, s.report_state, s.report_error, s.reported_at
FROM plan_status s JOIN plans p ON p.terminal = s.terminal AND p.version = s.latest_version
WHERE s.terminal = $1`, terminal)
}

// ReportPlan implements storage.PlanStore. It locks the terminal's plan_status row, so
// reports and new versions of one terminal are applied one at a time.
func (s *Store) ReportPlan(ctx context.Context, terminal string, version int64, state, reason string, at time.Time) error {
	if err := storage.ValidatePlanReport(terminal, version, state, reason, at); err != nil {
		return fmt.Errorf("pgstore: report on plan: %w", err)
	}
	atMilli := s.nowMilli()
	if !at.IsZero() {
		atMilli = at.UnixMilli()
	}
	fail := func(err error) error {
		return fmt.Errorf("pgstore: report %s on plan version %d of terminal %s: %w", state, version, terminal, err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fail(fmt.Errorf("begin: %w", err))
	}
	defer rollback(ctx, tx)
	var latest, reported int64
	switch err := tx.QueryRow(ctx, `SELECT latest_version, report_version FROM plan_status WHERE terminal = $1 FOR UPDATE`, terminal).Scan(&latest, &reported); {
	case errors.Is(err, pgx.ErrNoRows):
		return fail(fmt.Errorf("no plan: %w", storage.ErrNotFound))
	case err != nil:
		return fail(err)
	case version > latest:
		return fail(fmt.Errorf("the newest version is %d: %w", latest, storage.ErrNotFound))
	case version < reported:
		return nil // older than the last report: ignored
	}
	if _, err := tx.Exec(ctx, `UPDATE plan_status SET report_version = $2, report_state = $3, report_error = $4, reported_at = $5,
	applied_version = CASE WHEN $3 = 'applied' THEN GREATEST(applied_version, $2) ELSE applied_version END
WHERE terminal = $1`, terminal, version, state, reason, atMilli); err != nil {
		return fail(err)
	}
	if err := commit(ctx, tx); err != nil {
		return fail(err)
	}
	return nil
}
