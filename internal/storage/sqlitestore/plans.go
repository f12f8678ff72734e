package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gridmeter/internal/storage"
	"gridmeter/internal/storage/batchplan"
)

// PutPlan implements storage.PlanStore. The one writer connection serialises the calls, so
// reading and raising the terminal's latest version inside the transaction is atomic.
func (s *Store) PutPlan(ctx context.Context, terminal, createdBy string, build func(version int64) ([]byte, error)) (storage.Plan, error) {
	if err := storage.ValidatePlanPut(terminal, createdBy, build); err != nil {
		return storage.Plan{}, fmt.Errorf("sqlitestore: put plan: %w", err)
	}
	p, err := s.putPlan(ctx, terminal, createdBy, build)
	if err != nil {
		return storage.Plan{}, fmt.Errorf("sqlitestore: put plan of terminal %s: %w", terminal, err)
	}
	return p, nil
}

func (s *Store) putPlan(ctx context.Context, terminal, createdBy string, build func(version int64) ([]byte, error)) (storage.Plan, error) {
	tx, err := s.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE
	if err != nil {
		return storage.Plan{}, fmt.Errorf("begin: %w", err)
	}
	// Unconditionally, so that a panic in build cannot leave the only writer connection
	// inside a transaction; after Commit it is a no-op.
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `INSERT INTO plan_status (terminal) VALUES (?) ON CONFLICT (terminal) DO NOTHING`, terminal); err != nil {
		return storage.Plan{}, fmt.Errorf("create plan status: %w", err)
	}
	p, err := scanPlanStatus(tx.QueryRowContext(ctx, `UPDATE plan_status SET latest_version = latest_version + 1 WHERE terminal = ?
RETURNING terminal, latest_version, applied_version, report_version, report_state, report_error, reported_at`, terminal))
	if err != nil {
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
	if _, err := tx.ExecContext(ctx, `INSERT INTO plans (terminal, version, body, created, created_by) VALUES (?, ?, ?, ?, ?)`,
		terminal, p.Version, p.Body, now, createdBy); err != nil {
		return storage.Plan{}, fmt.Errorf("version %d: insert: %w", p.Version, err)
	}
	if err := tx.Commit(); err != nil {
		return storage.Plan{}, fmt.Errorf("version %d: commit: %w", p.Version, err)
	}
	return p, nil
}

// scanPlanStatus scans terminal, a version, applied_version, report_version, report_state,
// report_error, reported_at into a Plan without body.
func scanPlanStatus(sc scanner) (storage.Plan, error) {
	var p storage.Plan
	var at sql.NullInt64
	if err := sc.Scan(&p.Terminal, &p.Version, &p.AppliedVersion, &p.ReportVersion, &p.ReportState, &p.ReportError, &at); err != nil {
		return storage.Plan{}, err
	}
	if at.Valid {
		p.ReportedAt = batchplan.FromMilli(at.Int64)
	}
	return p, nil
}

// Plan implements storage.PlanStore.
func (s *Store) Plan(ctx context.Context, terminal string) (storage.Plan, error) {
	var p storage.Plan
	var created int64
	var at sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT p.terminal, p.version, p.body, p.created, p.created_by,
	s.applied_version, s.report_version, s.report_state, s.report_error, s.reported_at
FROM plan_status s JOIN plans p ON p.terminal = s.terminal AND p.version = s.latest_version
WHERE s.terminal = ?`, terminal).Scan(&p.Terminal, &p.Version, &p.Body, &created, &p.CreatedBy,
		&p.AppliedVersion, &p.ReportVersion, &p.ReportState, &p.ReportError, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storage.Plan{}, fmt.Errorf("sqlitestore: plan of terminal %.80q: %w", terminal, storage.ErrNotFound)
	case err != nil:
		return storage.Plan{}, fmt.Errorf("sqlitestore: plan of terminal %.80q: %w", terminal, err)
	}
	p.Created = batchplan.FromMilli(created)
	if at.Valid {
		p.ReportedAt = batchplan.FromMilli(at.Int64)
	}
	return p, nil
}

// ReportPlan implements storage.PlanStore.
func (s *Store) ReportPlan(ctx context.Context, terminal string, version int64, state, reason string, at time.Time) error {
	if err := storage.ValidatePlanReport(terminal, version, state, reason, at); err != nil {
		return fmt.Errorf("sqlitestore: report on plan: %w", err)
	}
	atMilli := s.nowMilli()
	if !at.IsZero() {
		atMilli = at.UnixMilli()
	}
	fail := func(err error) error {
		return fmt.Errorf("sqlitestore: report %s on plan version %d of terminal %s: %w", state, version, terminal, err)
	}
	tx, err := s.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE
	if err != nil {
		return fail(fmt.Errorf("begin: %w", err))
	}
	defer func() { _ = tx.Rollback() }() // after Commit, a no-op
	var latest, reported int64
	switch err := tx.QueryRowContext(ctx, `SELECT latest_version, report_version FROM plan_status WHERE terminal = ?`, terminal).Scan(&latest, &reported); {
	case errors.Is(err, sql.ErrNoRows):
		return fail(fmt.Errorf("no plan: %w", storage.ErrNotFound))
	case err != nil:
		return fail(err)
	case version > latest:
		return fail(fmt.Errorf("the newest version is %d: %w", latest, storage.ErrNotFound))
	case version < reported:
		return nil // older than the last report: ignored
	}
	if _, err := tx.ExecContext(ctx, `UPDATE plan_status SET report_version = ?2, report_state = ?3, report_error = ?4, reported_at = ?5,
	applied_version = CASE WHEN ?3 = 'applied' THEN max(applied_version, ?2) ELSE applied_version END
WHERE terminal = ?1`, terminal, version, state, reason, atMilli); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(fmt.Errorf("commit: %w", err))
	}
	return nil
}
