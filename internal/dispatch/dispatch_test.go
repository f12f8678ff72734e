package dispatch

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gridmeter/internal/message"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
	"gridmeter/internal/storage/sqlitestore"
)

// outbox records what the dispatcher published; fail makes publishing fail (a broker down).
// The real broker path is covered end to end in e2e/commands_test.go.
type outbox struct {
	mu   sync.Mutex
	fail bool
	msgs []string // topic + " " + payload
}

func (o *outbox) Publish(_ context.Context, topic string, payload []byte, retain bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail {
		return errors.New("not connected")
	}
	o.msgs = append(o.msgs, topic+" "+string(payload))
	return nil
}

func (o *outbox) count(prefix string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, m := range o.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

func setup(t *testing.T) (*Dispatcher, *sqlitestore.Store, *outbox) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.UpsertMeters(ctx, []meterdata.Meter{{ID: "T1.bus1.000000000001", Terminal: "T1", Bus: "bus1", Address: "000000000001", Protocol: meterdata.ProtocolDLT645}}); err != nil {
		t.Fatal(err)
	}
	o := &outbox{}
	return New(st, o, Options{Resend: time.Hour}), st, o
}

// TestIssue: a valid command is stored pending and published; refusals wrap ErrInvalid and
// name the field; a command stored while the broker is down is delivered by the re-send,
// and a final one is not sent again.
func TestIssue(t *testing.T) {
	d, st, o := setup(t)
	ctx := context.Background()
	c, err := d.Issue(ctx, Request{Meter: "T1.bus1.000000000001", Action: message.ActionRelayOpen, By: "op"})
	if err != nil || c.State != storage.CommandPending || !c.Expires.Equal(c.Issued.Add(15*time.Minute)) {
		t.Fatalf("issue: %+v %v", c, err)
	}
	if o.count("gridmeter/v1/T1/down/cmd ") != 1 {
		t.Fatalf("published: %v", o.msgs)
	}
	for _, bad := range []struct {
		r    Request
		want string
	}{
		{Request{Meter: "T1.bus1.000000000001", Action: "explode", By: "op"}, "action"},
		{Request{Meter: "T1.bus1.000000000001", Action: message.ActionFreeze, TTL: time.Second, By: "op"}, "ttl"},
		{Request{Meter: "T1.bus1.000000000009", Action: message.ActionFreeze, By: "op"}, "not found"},
		{Request{Meter: "T1.bus1.000000000001", Action: message.ActionSetParam, Params: map[string]string{"param": "settlement_day"}, By: "op"}, "params"},
	} {
		if _, err := d.Issue(ctx, bad.r); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%+v: %v, want ErrInvalid naming %q", bad.r, err, bad.want)
		}
	}
	o.fail = true
	c2, err := d.Issue(ctx, Request{Meter: "T1.bus1.000000000001", Action: message.ActionFreeze, By: "op"})
	if err != nil {
		t.Fatalf("a command must be stored even when the broker is down: %v", err)
	}
	if d.Stats().PublishFailures != 1 {
		t.Fatalf("stats %+v", d.Stats())
	}
	o.fail = false
	if _, _, err := st.UpdateCommand(ctx, storage.CommandUpdate{ID: c.ID, State: storage.CommandSucceeded}); err != nil {
		t.Fatal(err)
	}
	d.resend(ctx, "T1")
	if n := o.count("gridmeter/v1/T1/down/cmd "); n != 2 || !strings.Contains(o.msgs[len(o.msgs)-1], c2.ID) {
		t.Fatalf("re-send: %d publications, want the open command only: %v", n, o.msgs)
	}
}

// TestPutPlan: versions count up, the body carries its version, a bad plan is refused.
func TestPutPlan(t *testing.T) {
	d, st, o := setup(t)
	ctx := context.Background()
	req := PlanRequest{Terminal: "T1", Acquisition: &message.PlanAcquisition{InstantInterval: "15m"}, By: "op"}
	for v := int64(1); v <= 2; v++ {
		p, err := d.PutPlan(ctx, req)
		if err != nil || p.Version != v {
			t.Fatalf("put %d: %+v %v", v, p, err)
		}
		m, err := message.DecodePlan("T1", p.Body)
		if err != nil || m.Version != v {
			t.Fatalf("body of version %d: %+v %v", v, m, err)
		}
	}
	if o.count("gridmeter/v1/T1/down/config ") != 2 {
		t.Fatalf("published: %v", o.msgs)
	}
	req.Acquisition.InstantInterval = "0s"
	if _, err := d.PutPlan(ctx, req); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "instant_interval") {
		t.Fatalf("bad plan: %v", err)
	}
	// Not yet applied: re-published when the terminal comes online; applied: not.
	d.RepublishPlan(ctx, "T1")
	if o.count("gridmeter/v1/T1/down/config ") != 3 {
		t.Fatalf("republish of an unapplied plan: %v", o.msgs)
	}
	if err := st.ReportPlan(ctx, "T1", 2, storage.PlanApplied, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	d.RepublishPlan(ctx, "T1")
	if o.count("gridmeter/v1/T1/down/config ") != 3 {
		t.Fatalf("republish of an applied plan: %v", o.msgs)
	}
}
