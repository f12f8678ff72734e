package ingest

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

type acks struct {
	mu        sync.Mutex
	got       []message.Ack
	tops      []string
	eventAcks []uint64
}

func (a *acks) PublishAck(_ context.Context, topic string, p []byte) error {
	if strings.HasSuffix(topic, "/"+message.DownEventAck) {
		ea, err := message.DecodeEventAck(p)
		if err != nil {
			return err
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		a.eventAcks = append(a.eventAcks, ea.LastSeq)
		return nil
	}
	ack, err := message.DecodeAck(p)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, ack)
	a.tops = append(a.tops, topic)
	return nil
}

func setup(t *testing.T) (*Ingest, *sqlitestore.Store, *acks, func(topic string, p []byte)) {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	in := New(st, Options{})
	a := &acks{}
	ctx := context.Background()
	// process synchronously: the worker loop is a select around process.
	return in, st, a, func(topic string, p []byte) {
		in.messages.Add(1)
		in.process(ctx, a, msg{topic: topic, payload: p, at: time.Now()})
	}
}

func batch(t *testing.T, first uint64, vals ...int64) []byte {
	t.Helper()
	b := message.ReadingBatch{Terminal: "T1", FirstSeq: first, LastSeq: first + uint64(len(vals)) - 1, Sent: message.Time{Time: time.Now()}}
	for i, v := range vals {
		b.Readings = append(b.Readings, message.Reading{Seq: first + uint64(i), Meter: "T1.bus1.000000000001", Kind: meterdata.KindInstant,
			Time: message.Time{Time: time.Date(2026, 11, 24, 4, int(first)+i, 0, 0, time.UTC)}, Values: map[string]int64{"p": v}})
	}
	p, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBatchStoredOnceAndAcked(t *testing.T) {
	in, st, a, handle := setup(t)
	topic := message.Topic("T1", message.UpReadings)
	handle(topic, batch(t, 1, 10, 20, 30))
	handle(topic, batch(t, 1, 10, 20, 30)) // resent after a lost ack
	handle(topic, batch(t, 4, 40))
	n, err := st.CountReadings(context.Background(), "T1.bus1.000000000001")
	if err != nil || n != 4 {
		t.Fatalf("stored %d readings (%v), want 4", n, err)
	}
	if len(a.got) != 3 || a.tops[0] != message.Topic("T1", message.DownAck) {
		t.Fatalf("acks %+v on %v", a.got, a.tops)
	}
	if g := a.got[0]; g.Result != message.AckStored || g.FirstSeq != 1 || g.LastSeq != 3 || g.Inserted != 3 {
		t.Fatalf("first ack %+v", g)
	}
	if g := a.got[1]; g.Result != message.AckStored || g.Duplicates != 3 || g.Inserted != 0 {
		t.Fatalf("ack of the resend %+v: want 3 duplicates", g)
	}
	if s := in.Stats(); s.Inserted != 4 || s.Duplicates != 3 || s.Batches != 3 || s.Rejected != 0 || s.SeqGaps != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestConflictAndGapAreCounted(t *testing.T) {
	in, st, a, handle := setup(t)
	topic := message.Topic("T1", message.UpReadings)
	handle(topic, batch(t, 1, 10))
	handle(topic, batch(t, 1, 11)) // same key, other value
	handle(topic, batch(t, 5, 50)) // seqs 2..4 never arrived
	if s := in.Stats(); s.Conflicts != 1 || s.SeqGaps != 3 {
		t.Fatalf("stats %+v: want 1 conflict and 3 missing seqs", s)
	}
	if a.got[1].Conflicts != 1 || a.got[1].Result != message.AckStored {
		t.Fatalf("conflict ack %+v: a conflict is logged durably, so it is acked", a.got[1])
	}
	es, err := st.Events(context.Background(), storage.EventQuery{Terminal: "T1"})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]storage.Event{}
	for _, e := range es {
		kinds[e.Kind] = e
	}
	if g := kinds["seq_gap"]; g.Severity != storage.SeverityWarning || g.Data["missing"] != 3 || g.Data["before_seq"] != 5 {
		t.Fatalf("seq_gap event %+v", g)
	}
	if c := kinds["conflict"]; c.Data["conflicts"] != 1 {
		t.Fatalf("conflict event %+v", c)
	}
}

func TestMalformedRefusedAndCounted(t *testing.T) {
	in, st, a, handle := setup(t)
	good := string(batch(t, 7, 1))
	tests := []struct {
		name, topic, payload string
		rejectAck            bool // an ack "rejected" naming the batch is expected
	}{
		{"not json", message.Topic("T1", message.UpReadings), "{{{", false},
		{"unknown channel", message.Topic("T1", message.UpReadings), strings.Replace(good, `"p":1`, `"x":1`, 1), true},
		{"foreign terminal", message.Topic("T2", message.UpReadings), good, true},
		{"bad topic", "gridmeter/v1/T.1/up/readings", good, false},
		{"unknown suffix", message.Topic("T1", "up/other"), good, false},
		{"bad status", message.Topic("T1", message.UpStatus), `{"v":1,"terminal":"T1","state":"sleepy"}`, false},
		{"bad meters", message.Topic("T1", message.UpMeters), `{"v":1,"terminal":"T1","meters":[{"id":"x"}]}`, false},
	}
	for i, tt := range tests {
		before := len(a.got)
		handle(tt.topic, []byte(tt.payload))
		if got := in.Stats().Rejected; got != uint64(i+1) {
			t.Fatalf("%s: rejected count %d, want %d", tt.name, got, i+1)
		}
		if tt.rejectAck {
			if len(a.got) != before+1 || a.got[before].Result != message.AckRejected || a.got[before].FirstSeq != 7 || a.got[before].Error == "" {
				t.Fatalf("%s: acks %+v, want one rejected ack for seq 7 with the reason", tt.name, a.got[before:])
			}
		} else if len(a.got) != before {
			t.Fatalf("%s: unexpected ack %+v", tt.name, a.got[before:])
		}
	}
	if n, _ := st.CountReadings(context.Background(), "T1.bus1.000000000001"); n != 0 {
		t.Fatalf("%d readings stored from malformed input", n)
	}
}

func TestStoreFailureIsNotAcked(t *testing.T) {
	in, st, a, handle := setup(t)
	st.Close() // the database is gone
	handle(message.Topic("T1", message.UpReadings), batch(t, 1, 10))
	if len(a.got) != 0 {
		t.Fatalf("acked %+v although nothing was stored: the terminal would release unstored readings", a.got)
	}
	if s := in.Stats(); s.StoreErrors != 1 {
		t.Fatalf("stats %+v: want 1 store error", s)
	}
}

func TestStatusAndMeters(t *testing.T) {
	in, st, _, handle := setup(t)
	handle(message.Topic("T1", message.UpMeters), []byte(`{"v":1,"terminal":"T1","meters":[{"id":"T1.bus1.000000000001","terminal":"T1","bus":"bus1","address":"000000000001","protocol":"dlt645","description":"Flat 1"}]}`))
	handle(message.Topic("T1", message.UpStatus), []byte(`{"v":1,"terminal":"T1","state":"online","software":"0.1.0","time":"2026-11-24T04:00:00Z"}`))
	handle(message.Topic("T1", message.UpStatus), nil) // a cleared retained message is ignored
	ctx := context.Background()
	m, err := st.Meter(ctx, "T1.bus1.000000000001")
	if err != nil || m.Description != "Flat 1" {
		t.Fatalf("meter %+v, %v", m, err)
	}
	term, err := st.Terminal(ctx, "T1")
	if err != nil || term.State != "online" || term.Software != "0.1.0" {
		t.Fatalf("terminal %+v, %v", term, err)
	}
	if s := in.Stats(); s.StatusUpdates != 1 || s.MeterUpdates != 1 || s.Rejected != 0 {
		t.Fatalf("stats %+v", s)
	}
	// The state change is an event; the same state again is not. A last will (no time) says so.
	handle(message.Topic("T1", message.UpStatus), []byte(`{"v":1,"terminal":"T1","state":"online","software":"0.1.0","time":"2026-11-24T04:01:00Z"}`))
	handle(message.Topic("T1", message.UpStatus), []byte(`{"v":1,"terminal":"T1","state":"offline","software":"0.1.0"}`))
	es, err := st.Events(ctx, storage.EventQuery{Terminal: "T1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Kind != "terminal_offline" || es[0].Severity != storage.SeverityWarning ||
		!strings.Contains(es[0].Message, "last will") || es[1].Kind != "terminal_online" {
		t.Fatalf("events %+v: want terminal_online then terminal_offline (newest first)", es)
	}
	if _, err := st.Terminal(ctx, "T9"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown terminal: %v", err)
	}
}

func TestSubscriptions(t *testing.T) {
	if got := Subscriptions("g")[0]; got != "$share/g/gridmeter/v1/+/up/readings" {
		t.Fatalf("shared subscription %q", got)
	}
}

// TestEventsStoredOnceAndAcked: a terminal's events are stored once by their sequence, a
// resent or overlapping batch adds only what is new, and each batch is acknowledged up to
// its last sequence after the commit; a malformed batch is refused and not acknowledged.
func TestEventsStoredOnceAndAcked(t *testing.T) {
	in, st, a, handle := setup(t)
	topic := message.Topic("T1", message.UpEvents)
	at := time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)
	events := func(seqs ...uint64) []byte {
		b := message.EventBatch{Terminal: "T1"}
		for _, s := range seqs {
			b.Events = append(b.Events, message.Event{Seq: s, Meter: "T1.bus1.000000000001", Time: message.Time{Time: at.Add(time.Duration(s) * time.Minute)},
				Kind: message.EventMeterSilent})
		}
		p, _ := b.Encode()
		return p
	}
	handle(topic, events(1, 2))
	handle(topic, events(1, 2))    // resent after a lost ack
	handle(topic, events(2, 3, 4)) // overlapping
	handle(topic, []byte(`{"v":1,"terminal":"T1","events":[{"seq":5,"time":"2026-11-24T04:00:00Z","kind":"meteor"}]}`))
	es, err := st.Events(context.Background(), storage.EventQuery{Terminal: "T1", Kind: "meter_silent"})
	if err != nil || len(es) != 4 {
		t.Fatalf("stored %d events (%v), want 4", len(es), err)
	}
	if es[0].Severity != storage.SeverityAlarm || es[0].Meter != "T1.bus1.000000000001" || es[0].Message == "" {
		t.Fatalf("event stored as %+v", es[0])
	}
	if got := a.eventAcks; len(got) != 3 || got[0] != 2 || got[1] != 2 || got[2] != 4 {
		t.Fatalf("event acks %v, want [2 2 4]", got)
	}
	if s := in.Stats(); s.Events != 4 || s.Rejected != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestCommandResults: a terminal's reports move a command forward once; a report for an
// unknown command or another terminal's command is refused; a final state is an event.
func TestCommandResults(t *testing.T) {
	in, st, _, handle := setup(t)
	ctx := context.Background()
	issued := time.Now().UTC().Truncate(time.Millisecond)
	if err := st.CreateCommand(ctx, storage.Command{ID: "c1", Terminal: "T1", Meter: "T1.bus1.000000000001", Action: "relay_open",
		IssuedBy: "op", Issued: issued, Expires: issued.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	report := func(terminal, id, state string) []byte {
		p, _ := message.CommandResult{Terminal: terminal, ID: id, State: state, Time: message.Time{Time: time.Now()},
			Values: map[string]int64{"status3": 16}}.Encode()
		return p
	}
	topic := message.Topic("T1", message.UpCmdResult)
	handle(topic, report("T1", "c1", message.CmdAccepted))
	handle(topic, report("T1", "c1", message.CmdSucceeded))
	handle(topic, report("T1", "c1", message.CmdAccepted)) // a late repeat changes nothing
	handle(topic, report("T1", "c9", message.CmdSucceeded))
	// Another terminal reporting on an open command of T1 changes nothing.
	if err := st.CreateCommand(ctx, storage.Command{ID: "c2", Terminal: "T1", Meter: "T1.bus1.000000000001", Action: "freeze",
		IssuedBy: "op", Issued: issued, Expires: issued.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	handle(message.Topic("T2", message.UpCmdResult), report("T2", "c2", message.CmdFailed))
	if c, _ := st.Command(ctx, "c2"); c.State != storage.CommandPending {
		t.Fatalf("T2 moved T1's command: %+v", c)
	}
	c, err := st.Command(ctx, "c1")
	if err != nil || c.State != storage.CommandSucceeded || c.Result["status3"] != 16 {
		t.Fatalf("command %+v, %v", c, err)
	}
	if s := in.Stats(); s.CommandUpdate != 2 || s.Rejected != 2 {
		t.Fatalf("stats %+v", s)
	}
	if es, _ := st.Events(ctx, storage.EventQuery{Kind: "command_succeeded"}); len(es) != 1 || es[0].Meter != c.Meter {
		t.Fatalf("events %+v", es)
	}
}
