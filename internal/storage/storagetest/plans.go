package storagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// The PlanStore cases.

// planBody returns a build function whose body carries the version it is given.
func planBody(extra string) func(int64) ([]byte, error) {
	return func(v int64) ([]byte, error) {
		return fmt.Appendf(nil, `{"version":%d,"extra":%q}`, v, extra), nil
	}
}

func putPlan(t *testing.T, s storage.Store, terminal string, build func(int64) ([]byte, error)) storage.Plan {
	t.Helper()
	p, err := s.PutPlan(t.Context(), terminal, "admin", build)
	if err != nil {
		t.Fatalf("PutPlan(%s): %v", terminal, err)
	}
	return p
}

func getPlan(t *testing.T, s storage.Store, terminal string) storage.Plan {
	t.Helper()
	p, err := s.Plan(t.Context(), terminal)
	if err != nil {
		t.Fatalf("Plan(%s): %v", terminal, err)
	}
	return p
}

func reportPlan(t *testing.T, s storage.Store, terminal string, version int64, state, reason string, at time.Time) {
	t.Helper()
	if err := s.ReportPlan(t.Context(), terminal, version, state, reason, at); err != nil {
		t.Fatalf("ReportPlan(%s, %d, %s): %v", terminal, version, state, err)
	}
}

// samePlan compares plans, times as instants that must be in UTC (or zero).
func samePlan(got, want storage.Plan) bool {
	for _, tm := range []time.Time{got.Created, got.ReportedAt} {
		if !tm.IsZero() && tm.Location() != time.UTC {
			return false
		}
	}
	return got.Terminal == want.Terminal && got.Version == want.Version && bytes.Equal(got.Body, want.Body) &&
		got.Created.Equal(want.Created) && got.CreatedBy == want.CreatedBy && got.AppliedVersion == want.AppliedVersion &&
		got.ReportVersion == want.ReportVersion && got.ReportState == want.ReportState && got.ReportError == want.ReportError &&
		got.ReportedAt.Equal(want.ReportedAt)
}

func showPlan(p storage.Plan) string {
	return fmt.Sprintf("{%s v%d %d bytes %.40q created %s by %q; applied %d, report v%d %q %.40q at %s}", p.Terminal, p.Version,
		len(p.Body), p.Body, p.Created.Format(time.RFC3339Nano), p.CreatedBy, p.AppliedVersion, p.ReportVersion, p.ReportState,
		p.ReportError, p.ReportedAt.Format(time.RFC3339Nano))
}

func wantPlan(t *testing.T, got, want storage.Plan) {
	t.Helper()
	if !samePlan(got, want) {
		t.Errorf("plan = %s,\nwant   %s", showPlan(got), showPlan(want))
	}
}

// testPlans: versions 1, 2, 3 per terminal, build given the version, bodies byte for byte,
// Created from the store's clock, refusals that use up no version.
func testPlans(t *testing.T, s storage.Store) {
	if _, err := s.Plan(t.Context(), "T1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Plan(no plan) error = %v, want ErrNotFound", err)
	}
	binary := append([]byte("{\"a\":\"\x00\xff\xfe\"}\r\n \t"), 0, 0x80, 0xc3)
	large := bytes.Repeat([]byte("0123456789abcdef"), storage.MaxPlanBody/16)
	bodies := [][]byte{nil, []byte(`{"version":1}`), binary, large}
	var last storage.Plan
	for v := int64(1); v <= 3; v++ {
		calls := 0
		before := time.Now()
		p, err := s.PutPlan(t.Context(), "T1", "管理员 admin", func(got int64) ([]byte, error) {
			calls++
			if got != v {
				t.Errorf("build got version %d, want %d", got, v)
			}
			return bodies[v], nil
		})
		after := time.Now()
		if err != nil {
			t.Fatalf("PutPlan version %d: %v", v, err)
		}
		if calls != 1 {
			t.Errorf("PutPlan version %d called build %d times, want once", v, calls)
		}
		want := storage.Plan{Terminal: "T1", Version: v, Body: bodies[v], Created: p.Created, CreatedBy: "管理员 admin"}
		wantPlan(t, p, want)
		if !within(p.Created, before, after) || p.Created.Nanosecond()%int(time.Millisecond) != 0 {
			t.Errorf("version %d: Created = %v, want a whole millisecond within [%v, %v]", v, p.Created, before, after)
		}
		wantPlan(t, getPlan(t, s, "T1"), want)
		last = want
	}
	// Versions are per terminal; the returned body is the caller's to change.
	p := putPlan(t, s, "T2", planBody("t2"))
	if p.Version != 1 || string(p.Body) != `{"version":1,"extra":"t2"}` {
		t.Errorf("first plan of T2 = %s, want version 1", showPlan(p))
	}
	p.Body[0] = 'X'
	if got := getPlan(t, s, "T2"); got.Body[0] != '{' {
		t.Errorf("changing the returned body changed the stored one: %s", showPlan(got))
	}
	wantPlan(t, getPlan(t, s, "T1"), last)

	t.Run("refused", func(t *testing.T) {
		errBuild := errors.New("template broken")
		cancelled, cancel := context.WithCancel(t.Context())
		cancel()
		tests := []struct {
			name      string
			ctx       context.Context
			terminal  string
			createdBy string
			build     func(int64) ([]byte, error)
			want      error
			about     string
		}{
			{"build fails", t.Context(), "T1", "admin", func(int64) ([]byte, error) { return nil, errBuild }, errBuild, "template broken"},
			{"empty body", t.Context(), "T1", "admin", func(int64) ([]byte, error) { return []byte{}, nil }, storage.ErrInvalidPlan, "body of 0 bytes"},
			{"nil body", t.Context(), "T1", "admin", func(int64) ([]byte, error) { return nil, nil }, storage.ErrInvalidPlan, "body of 0 bytes"},
			{"body too large", t.Context(), "T1", "admin", func(int64) ([]byte, error) { return make([]byte, storage.MaxPlanBody+1), nil }, storage.ErrInvalidPlan, "body of 1048577 bytes"},
			{"no build", t.Context(), "T1", "admin", nil, storage.ErrInvalidPlan, "build"},
			{"malformed terminal", t.Context(), "T.1", "admin", planBody(""), storage.ErrInvalidPlan, "terminal id"},
			{"empty terminal", t.Context(), "", "admin", planBody(""), storage.ErrInvalidPlan, "terminal id"},
			{"no creator", t.Context(), "T1", "", planBody(""), storage.ErrInvalidPlan, "empty created_by"},
			{"creator too long", t.Context(), "T1", strings.Repeat("u", storage.MaxUserName+1), planBody(""), storage.ErrInvalidPlan, "created_by of 257 bytes"},
			{"creator not UTF-8", t.Context(), "T1", "\xff", planBody(""), storage.ErrInvalidPlan, "created_by"},
			{"context cancelled", cancelled, "T1", "admin", planBody(""), context.Canceled, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				p, err := s.PutPlan(tc.ctx, tc.terminal, tc.createdBy, tc.build)
				if err == nil {
					t.Fatalf("PutPlan = %s; want an error", showPlan(p))
				}
				if !errors.Is(err, tc.want) {
					t.Errorf("PutPlan error = %v, want %v", err, tc.want)
				}
				if !strings.Contains(err.Error(), tc.about) {
					t.Errorf("PutPlan error = %v, want it to say %q", err, tc.about)
				}
				wantPlan(t, getPlan(t, s, "T1"), last)
			})
		}
		if _, err := s.Plan(t.Context(), "T3"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Plan(T3) after refused calls error = %v, want ErrNotFound", err)
		}
		// No refusal used up a version.
		if p := putPlan(t, s, "T1", planBody("after")); p.Version != 4 {
			t.Errorf("after the refusals, PutPlan gave version %d, want 4", p.Version)
		}
	})
}

// testPlanReports: what ReportPlan records, older reports ignored, AppliedVersion only
// forward, reports kept across new versions, refusals.
func testPlanReports(t *testing.T, s storage.Store) {
	at := func(i int) time.Time { return base.Add(time.Duration(i)*time.Minute + 700*time.Microsecond) }
	if err := s.ReportPlan(t.Context(), "T1", 1, storage.PlanApplied, "", at(0)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("ReportPlan(no plan) error = %v, want ErrNotFound", err)
	}
	p1 := putPlan(t, s, "T1", planBody("one"))
	p2 := putPlan(t, s, "T1", planBody("two"))
	want := p2
	check := func(t *testing.T, applied, reported int64, state, reason string, reportedAt time.Time) {
		t.Helper()
		want.AppliedVersion, want.ReportVersion, want.ReportState, want.ReportError = applied, reported, state, reason
		want.ReportedAt = reportedAt.UTC().Truncate(time.Millisecond)
		wantPlan(t, getPlan(t, s, "T1"), want)
	}
	check(t, 0, 0, "", "", time.Time{})

	steps := []struct {
		name     string
		version  int64
		state    string
		reason   string
		at       time.Time
		applied  int64 // wanted afterwards
		reported int64
		rstate   string
		rreason  string
		rat      time.Time
	}{
		{"applied 1", 1, storage.PlanApplied, "", at(1), 1, 1, storage.PlanApplied, "", at(1)},
		{"rejected 2", 2, storage.PlanRejected, "interval 0: want 1 s or more", at(2), 1, 2, storage.PlanRejected, "interval 0: want 1 s or more", at(2)},
		{"older applied 1 ignored", 1, storage.PlanApplied, "", at(3), 1, 2, storage.PlanRejected, "interval 0: want 1 s or more", at(2)},
		{"rejected 2 again replaces", 2, storage.PlanRejected, "still bad", at(4), 1, 2, storage.PlanRejected, "still bad", at(4)},
		{"applied 2", 2, storage.PlanApplied, "", at(5), 2, 2, storage.PlanApplied, "", at(5)},
		{"rejected 2 keeps applied", 2, storage.PlanRejected, "reverted", at(6), 2, 2, storage.PlanRejected, "reverted", at(6)},
		{"older rejected 1 ignored", 1, storage.PlanRejected, "late", at(7), 2, 2, storage.PlanRejected, "reverted", at(6)},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			reportPlan(t, s, "T1", st.version, st.state, st.reason, st.at)
			check(t, st.applied, st.reported, st.rstate, st.rreason, st.rat)
		})
	}

	t.Run("new version keeps the report", func(t *testing.T) {
		p3 := putPlan(t, s, "T1", planBody("three"))
		if p3.Version != 3 || p3.AppliedVersion != 2 || p3.ReportVersion != 2 || p3.ReportState != storage.PlanRejected ||
			p3.ReportError != "reverted" || !p3.ReportedAt.Equal(at(6).Truncate(time.Millisecond)) {
			t.Errorf("PutPlan = %s; want version 3 with the last report", showPlan(p3))
		}
		want = p3
		check(t, 2, 2, storage.PlanRejected, "reverted", at(6))
		// A report may come at any time of the terminal's clock: only the version orders them.
		reportPlan(t, s, "T1", 3, storage.PlanApplied, "", at(-100))
		check(t, 3, 3, storage.PlanApplied, "", at(-100))
		reportPlan(t, s, "T1", p1.Version, storage.PlanApplied, "", at(100))
		check(t, 3, 3, storage.PlanApplied, "", at(-100))
	})

	t.Run("zero at is now", func(t *testing.T) {
		before := time.Now()
		reportPlan(t, s, "T1", 3, storage.PlanApplied, "", time.Time{})
		after := time.Now()
		got := getPlan(t, s, "T1")
		if !within(got.ReportedAt, before, after) || got.ReportedAt.Location() != time.UTC {
			t.Errorf("ReportedAt = %v, want UTC within [%v, %v]", got.ReportedAt, before, after)
		}
		want.ReportedAt = got.ReportedAt
	})

	t.Run("refused", func(t *testing.T) {
		stored := getPlan(t, s, "T1")
		cancelled, cancel := context.WithCancel(t.Context())
		cancel()
		tests := []struct {
			name     string
			ctx      context.Context
			terminal string
			version  int64
			state    string
			reason   string
			at       time.Time
			want     error
			about    string
		}{
			{"version above the newest", t.Context(), "T1", 4, storage.PlanApplied, "", at(9), storage.ErrNotFound, "newest version is 3"},
			{"unknown terminal", t.Context(), "T9", 1, storage.PlanApplied, "", at(9), storage.ErrNotFound, "T9"},
			{"version 0", t.Context(), "T1", 0, storage.PlanApplied, "", at(9), storage.ErrInvalidPlan, "version 0"},
			{"negative version", t.Context(), "T1", -1, storage.PlanApplied, "", at(9), storage.ErrInvalidPlan, "version -1"},
			{"unknown state", t.Context(), "T1", 3, "ok", "", at(9), storage.ErrInvalidPlan, `state "ok"`},
			{"empty state", t.Context(), "T1", 3, "", "", at(9), storage.ErrInvalidPlan, `state ""`},
			{"reason too long", t.Context(), "T1", 3, storage.PlanRejected, strings.Repeat("r", storage.MaxPlanReportError+1), at(9), storage.ErrInvalidPlan, "reason of 1025 bytes"},
			{"reason not UTF-8", t.Context(), "T1", 3, storage.PlanRejected, "\xff", at(9), storage.ErrInvalidPlan, "UTF-8"},
			{"at before 2000", t.Context(), "T1", 3, storage.PlanApplied, "", meterdata.EarliestTime.Add(-time.Millisecond), storage.ErrInvalidPlan, "at 1999-12-31"},
			{"at in 2100", t.Context(), "T1", 3, storage.PlanApplied, "", meterdata.LatestTime, storage.ErrInvalidPlan, "at 2100-01-01"},
			{"malformed terminal", t.Context(), "T.1", 3, storage.PlanApplied, "", at(9), storage.ErrInvalidPlan, "terminal id"},
			{"context cancelled", cancelled, "T1", 3, storage.PlanRejected, "x", at(9), context.Canceled, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := s.ReportPlan(tc.ctx, tc.terminal, tc.version, tc.state, tc.reason, tc.at)
				if err == nil {
					t.Fatal("ReportPlan: want an error")
				}
				if !errors.Is(err, tc.want) {
					t.Errorf("ReportPlan error = %v, want %v", err, tc.want)
				}
				if !strings.Contains(err.Error(), tc.about) {
					t.Errorf("ReportPlan error = %v, want it to say %q", err, tc.about)
				}
				wantPlan(t, getPlan(t, s, "T1"), stored)
			})
		}
	})
}

// testPlansConcurrency: concurrent PutPlan calls get distinct versions, each body carrying
// its own; concurrent reports leave the newest report and the greatest applied version.
func testPlansConcurrency(t *testing.T, s storage.Store) {
	const (
		writers = 6
		puts    = 5
		total   = writers * puts
	)
	type put struct {
		p   storage.Plan
		err error
	}
	results := make([][]put, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for range puts {
				p, err := s.PutPlan(t.Context(), "T1", fmt.Sprintf("writer%d", w), planBody(fmt.Sprint(w)))
				results[w] = append(results[w], put{p, err})
			}
		})
	}
	// Another terminal meanwhile.
	wg.Go(func() {
		for range puts {
			if _, err := s.PutPlan(t.Context(), "T2", "other", planBody("t2")); err != nil {
				t.Errorf("PutPlan(T2): %v", err)
			}
		}
	})
	wg.Wait()
	seen := map[int64]bool{}
	for w, rs := range results {
		var prev int64
		for _, r := range rs {
			if r.err != nil {
				t.Errorf("writer %d: PutPlan: %v", w, r.err)
				continue
			}
			var body struct {
				Version int64  `json:"version"`
				Extra   string `json:"extra"`
			}
			if err := json.Unmarshal(r.p.Body, &body); err != nil || body.Version != r.p.Version || body.Extra != fmt.Sprint(w) {
				t.Errorf("writer %d: plan %s: body does not carry its version and writer (%v)", w, showPlan(r.p), err)
			}
			if seen[r.p.Version] {
				t.Errorf("version %d given twice", r.p.Version)
			}
			seen[r.p.Version] = true
			if r.p.Version <= prev {
				t.Errorf("writer %d: version %d after %d", w, r.p.Version, prev)
			}
			prev = r.p.Version
		}
	}
	for v := int64(1); v <= total; v++ {
		if !seen[v] {
			t.Errorf("version %d never given", v)
		}
	}
	if p := getPlan(t, s, "T1"); p.Version != total || p.CreatedBy == "" {
		t.Errorf("Plan(T1) = %s, want version %d", showPlan(p), total)
	}
	if p := getPlan(t, s, "T2"); p.Version != puts {
		t.Errorf("Plan(T2) = %s, want version %d", showPlan(p), puts)
	}

	// Reports on every version in random order: the newest wins, whatever the order.
	versions := rand.Perm(total)
	for w := range writers {
		wg.Go(func() {
			for i := w; i < total; i += writers {
				v := int64(versions[i] + 1)
				state := storage.PlanApplied
				if v%3 == 0 && v != total {
					state = storage.PlanRejected
				}
				if err := s.ReportPlan(t.Context(), "T1", v, state, fmt.Sprintf("v%d", v), base.Add(time.Duration(v)*time.Second)); err != nil {
					t.Errorf("ReportPlan(%d): %v", v, err)
				}
			}
		})
	}
	wg.Wait()
	p := getPlan(t, s, "T1")
	if p.AppliedVersion != total || p.ReportVersion != total || p.ReportState != storage.PlanApplied ||
		p.ReportError != fmt.Sprintf("v%d", total) || !p.ReportedAt.Equal(base.Add(total*time.Second)) {
		t.Errorf("after concurrent reports, Plan = %s; want version %d applied and reported", showPlan(p), total)
	}
}
