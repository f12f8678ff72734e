package headend

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"gridmeter/internal/iec102/master"
	"gridmeter/internal/storage"
	"gridmeter/internal/storage/sqlitestore"
)

func TestIEC102ClockEvents(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := &HeadEnd{store: st, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	at := time.Date(2026, 11, 24, 5, 0, 0, 0, time.UTC)
	h.iec102Events(ctx, master.Result{Target: "T1", Start: at, Clock: &master.Clock{Drift: 4 * time.Second}}) // within limits: nothing
	h.iec102Events(ctx, master.Result{Target: "T1", Start: at, Clock: &master.Clock{Drift: 95 * time.Second}, DriftEvent: true, ClockSet: true})
	h.iec102Events(ctx, master.Result{Target: "site 7", Start: at, Clock: &master.Clock{Drift: -90 * time.Second}, DriftEvent: true, ClockErr: errors.New("refused")})
	es, err := st.Events(ctx, storage.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]storage.Event{}
	for _, e := range es {
		got[e.Kind+" "+e.Terminal] = e
	}
	if len(es) != 4 {
		t.Fatalf("%d events, want 4: %+v", len(es), es)
	}
	if d := got["clock_drift T1"]; d.Severity != storage.SeverityWarning || d.Data["drift_ms"] != 95000 {
		t.Fatalf("drift event %+v", d)
	}
	if _, ok := got["clock_set T1"]; !ok {
		t.Fatal("no clock_set event")
	}
	// A target name that is no terminal id is named in the message, not in Terminal.
	if f := got["clock_set_failed "]; f.Severity != storage.SeverityAlarm {
		t.Fatalf("failed correction %+v", f)
	}
}
