// Package ingest is the head-end's up-link consumer: it decodes what terminals publish
// (reading batches, status, meter inventory) strictly, stores readings exactly once in one
// transaction per batch, and only then publishes the application-level ack that lets the
// terminal release its journal entries.
//
// Messages are handed from the MQTT reader to one worker through a bounded queue; when the
// queue is full the reader blocks, which pushes back on the broker instead of dropping.
// Acks are queued for publishing so the worker never waits on the broker.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"gridmeter/internal/message"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// Store is what ingest needs of the storage contract.
type Store interface {
	storage.ReadingWriter
	UpsertMeters(ctx context.Context, ms []meterdata.Meter) error
	UpdateTerminalStatus(ctx context.Context, s storage.TerminalStatus) error
	Terminal(ctx context.Context, id string) (storage.Terminal, error)
	AppendEvents(ctx context.Context, es []storage.Event) error
	storage.TerminalEventWriter
	UpdateCommand(ctx context.Context, u storage.CommandUpdate) (storage.Command, bool, error)
	Command(ctx context.Context, id string) (storage.Command, error)
	ReportPlan(ctx context.Context, terminal string, version int64, state, reason string, at time.Time) error
}

// Publisher sends an ack; it must not block on the broker (see transport.Conn.PublishQueued).
type Publisher interface {
	PublishAck(ctx context.Context, topic string, payload []byte) error
}

// Options configure an Ingest.
type Options struct {
	QueueLen int // messages waiting for the worker; default 256
	Logger   *slog.Logger
	Now      func() time.Time
	// OnStored is called after a batch is durably stored, with its readings (for live views).
	OnStored func(terminal string, rs []meterdata.Reading)
	// OnOnline is called (never blocking the worker for long) when a terminal reports
	// itself online: the down-link re-sends what the terminal still owes an answer to.
	OnOnline func(terminal string)
}

// Stats are the ingest's counters since start.
type Stats struct {
	Messages      uint64 // messages received
	Batches       uint64 // batches stored
	Inserted      uint64 // readings stored for the first time
	Completed     uint64 // readings that added channels to a stored reading of their key
	Duplicates    uint64 // readings received again (no-op)
	Conflicts     uint64 // readings whose key existed with other values
	SeqGaps       uint64 // terminal sequence numbers found missing
	Rejected      uint64 // messages refused as malformed
	StoreErrors   uint64 // batches not stored because the store failed (not acked: the terminal resends)
	StatusUpdates uint64
	MeterUpdates  uint64
	Events        uint64 // terminal events stored (resent ones not counted)
	CommandUpdate uint64 // command reports that moved a command forward
	PlanReports   uint64
}

type msg struct {
	topic   string
	payload []byte
	at      time.Time
}

// Ingest consumes terminal up-link messages.
type Ingest struct {
	store Store
	opt   Options
	log   *slog.Logger
	queue chan msg

	messages, batches, inserted, completed, duplicates, conflicts, gaps, rejected, storeErrors, statuses, meters atomic.Uint64
	events, commandUpdates, planReports                                                                          atomic.Uint64
	// latency of the last stored batch: meter timestamp of its newest reading → commit
	lastLatency atomic.Int64
}

// New returns an Ingest; call Run to start its worker.
func New(store Store, opt Options) *Ingest {
	if opt.QueueLen <= 0 {
		opt.QueueLen = 256
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Ingest{store: store, opt: opt, log: opt.Logger.With("component", "ingest"), queue: make(chan msg, opt.QueueLen)}
}

// Subscriptions are the topic filters ingest consumes. shareGroup, if not empty, makes them
// MQTT shared subscriptions so several head-ends split the load.
func Subscriptions(shareGroup string) []string {
	fs := []string{message.AllTerminals(message.UpReadings), message.AllTerminals(message.UpStatus), message.AllTerminals(message.UpMeters),
		message.AllTerminals(message.UpEvents), message.AllTerminals(message.UpCmdResult), message.AllTerminals(message.UpConfig)}
	if shareGroup != "" {
		for i, f := range fs {
			fs[i] = "$share/" + shareGroup + "/" + f
		}
	}
	return fs
}

// Handle queues one received message; it blocks while the queue is full or until ctx ends.
// It is meant as the MQTT client's message callback.
func (in *Ingest) Handle(ctx context.Context, topic string, payload []byte) {
	in.messages.Add(1)
	select {
	case in.queue <- msg{topic: topic, payload: payload, at: in.opt.Now()}:
	case <-ctx.Done():
	}
}

// Run processes queued messages until ctx is cancelled.
func (in *Ingest) Run(ctx context.Context, pub Publisher) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-in.queue:
			in.process(ctx, pub, m)
		}
	}
}

func (in *Ingest) process(ctx context.Context, pub Publisher, m msg) {
	terminal, suffix, err := message.ParseTopic(m.topic)
	if err != nil {
		in.reject(err)
		return
	}
	switch suffix {
	case message.UpReadings:
		in.processBatch(ctx, pub, terminal, m.payload)
	case message.UpStatus:
		if len(m.payload) == 0 { // a cleared retained message
			return
		}
		s, err := message.DecodeStatus(terminal, m.payload)
		if err != nil {
			in.reject(fmt.Errorf("terminal %s: %w", terminal, err))
			return
		}
		at := m.at
		if s.Time != nil {
			at = s.Time.Time
		}
		prev, _ := in.store.Terminal(ctx, terminal) // zero State if new
		if err := in.store.UpdateTerminalStatus(ctx, storage.TerminalStatus{ID: terminal, State: s.State, Software: s.Software, At: at}); err != nil {
			in.log.Error("store terminal status", "terminal", terminal, "err", err)
			return
		}
		in.statuses.Add(1)
		if s.State == message.StateOnline && in.opt.OnOnline != nil {
			in.opt.OnOnline(terminal)
		}
		if prev.State != s.State {
			ev := storage.Event{At: at, Kind: "terminal_" + s.State, Severity: storage.SeverityInfo, Terminal: terminal,
				Message: fmt.Sprintf("terminal %s is %s (software %s)", terminal, s.State, s.Software)}
			if s.State == message.StateOffline {
				ev.Severity = storage.SeverityWarning
				if s.Time == nil {
					ev.Message = fmt.Sprintf("terminal %s lost its connection (last will)", terminal)
				}
			}
			var failed []string
			for _, c := range s.Checks {
				if !c.OK {
					failed = append(failed, c.Name)
				}
			}
			if len(failed) > 0 {
				ev.Message += fmt.Sprintf("; self-check degraded: %s", strings.Join(failed, ", "))
			}
			in.event(ctx, ev)
		}
	case message.UpMeters:
		if len(m.payload) == 0 {
			return
		}
		ms, err := message.DecodeMeters(terminal, m.payload)
		if err != nil {
			in.reject(fmt.Errorf("terminal %s: %w", terminal, err))
			return
		}
		if err := in.store.UpsertMeters(ctx, ms.Meters); err != nil {
			in.log.Error("store meters", "terminal", terminal, "err", err)
			return
		}
		in.meters.Add(1)
	case message.UpEvents:
		in.processEvents(ctx, pub, terminal, m.payload)
	case message.UpCmdResult:
		in.processCommandResult(ctx, terminal, m.payload)
	case message.UpConfig:
		if len(m.payload) == 0 {
			return
		}
		r, err := message.DecodeConfigReport(terminal, m.payload)
		if err != nil {
			in.reject(fmt.Errorf("terminal %s: %w", terminal, err))
			return
		}
		if err := in.store.ReportPlan(ctx, terminal, r.Version, r.State, r.Error, r.Time.Time); err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrInvalidPlan) {
			in.log.Error("store plan report", "terminal", terminal, "err", err)
			return
		}
		in.planReports.Add(1)
		if r.State == message.ConfigRejected {
			in.event(ctx, storage.Event{At: r.Time.Time, Kind: "plan_rejected", Severity: storage.SeverityWarning, Terminal: terminal,
				Message: fmt.Sprintf("terminal %s refused acquisition plan version %d: %s", terminal, r.Version, r.Error),
				Data:    map[string]int64{"version": r.Version, "applied": r.Applied}})
		}
	default:
		in.reject(fmt.Errorf("topic %q: unknown suffix %q", m.topic, suffix))
	}
}

func (in *Ingest) processBatch(ctx context.Context, pub Publisher, terminal string, payload []byte) {
	b, err := message.DecodeReadingBatch(terminal, payload)
	if err != nil {
		in.reject(fmt.Errorf("terminal %s: %w", terminal, err))
		// Tell the terminal, when we can name the batch, so it stops waiting for an ack.
		if first, last, ok := peekSeq(payload); ok {
			in.ack(ctx, pub, terminal, message.Ack{FirstSeq: first, LastSeq: last, Result: message.AckRejected, Error: err.Error()})
		}
		return
	}
	rs := make([]meterdata.Reading, len(b.Readings))
	var newest time.Time
	for i, r := range b.Readings {
		rs[i] = r.Domain()
		if rs[i].Time.After(newest) {
			newest = rs[i].Time
		}
	}
	res, err := in.store.StoreBatch(ctx, storage.Batch{Terminal: terminal, FirstSeq: b.FirstSeq, LastSeq: b.LastSeq, Readings: rs})
	if err != nil {
		in.storeErrors.Add(1)
		in.log.Error("store batch: not acknowledged, the terminal will resend", "terminal", terminal, "first_seq", b.FirstSeq, "last_seq", b.LastSeq, "err", err)
		return
	}
	in.batches.Add(1)
	in.inserted.Add(uint64(res.Inserted))
	in.completed.Add(uint64(res.Completed))
	in.duplicates.Add(uint64(res.Duplicates))
	in.conflicts.Add(uint64(res.Conflicts))
	in.gaps.Add(res.Gap)
	if !b.Historical {
		in.lastLatency.Store(int64(in.opt.Now().Sub(newest)))
	}
	if res.Gap > 0 {
		in.log.Warn("sequence gap: readings missing from terminal", "terminal", terminal, "missing", res.Gap, "before_seq", b.FirstSeq)
		in.event(ctx, storage.Event{Kind: "seq_gap", Severity: storage.SeverityWarning, Terminal: terminal,
			Message: fmt.Sprintf("%d sequence numbers missing before %d: readings dropped by the terminal's journal bound", res.Gap, b.FirstSeq),
			Data:    map[string]int64{"missing": int64(res.Gap), "before_seq": int64(b.FirstSeq)}})
	}
	if res.Conflicts > 0 {
		in.log.Warn("conflicting readings kept apart", "terminal", terminal, "conflicts", res.Conflicts, "first_seq", b.FirstSeq)
		in.event(ctx, storage.Event{Kind: "conflict", Severity: storage.SeverityWarning, Terminal: terminal,
			Message: fmt.Sprintf("%d readings arrived with the key of a stored reading but other values (kept in the conflict log)", res.Conflicts),
			Data:    map[string]int64{"conflicts": int64(res.Conflicts), "first_seq": int64(b.FirstSeq)}})
	}
	in.ack(ctx, pub, terminal, message.Ack{FirstSeq: b.FirstSeq, LastSeq: b.LastSeq, Result: message.AckStored,
		Inserted: res.Inserted, Duplicates: res.Duplicates, Conflicts: res.Conflicts})
	if in.opt.OnStored != nil {
		in.opt.OnStored(terminal, rs)
	}
}

// eventKinds maps a terminal's event kinds to the head-end's, with their severity.
var eventKinds = map[string]struct{ kind, severity string }{
	message.EventPowerDown:     {"meter_power_down", storage.SeverityWarning},
	message.EventPowerRestored: {"meter_power_restored", storage.SeverityInfo},
	message.EventMeterSilent:   {"meter_silent", storage.SeverityAlarm},
	message.EventMeterAnswers:  {"meter_answers", storage.SeverityInfo},
	message.EventGap:           {"reading_gap", storage.SeverityWarning},
}

// processEvents stores a terminal's events exactly once (by the terminal's event sequence)
// and acknowledges them after the commit.
func (in *Ingest) processEvents(ctx context.Context, pub Publisher, terminal string, payload []byte) {
	b, err := message.DecodeEventBatch(terminal, payload)
	if err != nil {
		in.reject(fmt.Errorf("terminal %s: %w", terminal, err))
		return
	}
	es := make([]storage.TerminalEvent, 0, len(b.Events))
	for _, e := range b.Events {
		k := eventKinds[e.Kind]
		msg := e.Message
		if msg == "" {
			msg = fmt.Sprintf("%s reported by terminal %s", strings.ReplaceAll(k.kind, "_", " "), terminal)
		}
		es = append(es, storage.TerminalEvent{Seq: e.Seq, Event: storage.Event{At: e.Time.Time, Kind: k.kind, Severity: k.severity,
			Terminal: terminal, Meter: e.Meter, Message: msg, Data: e.Data}})
	}
	n, err := in.store.AppendTerminalEvents(ctx, terminal, es)
	if err != nil {
		in.storeErrors.Add(1)
		in.log.Error("store events: not acknowledged, the terminal will resend", "terminal", terminal, "err", err)
		return
	}
	in.events.Add(uint64(n))
	p, _ := message.EventAck{LastSeq: b.Events[len(b.Events)-1].Seq}.Encode()
	if err := pub.PublishAck(ctx, message.Topic(terminal, message.DownEventAck), p); err != nil {
		in.log.Warn("queue event ack: the terminal will resend", "terminal", terminal, "err", err)
	}
}

// processCommandResult records a terminal's report on a command.
func (in *Ingest) processCommandResult(ctx context.Context, terminal string, payload []byte) {
	r, err := message.DecodeCommandResult(terminal, payload)
	if err != nil {
		in.reject(fmt.Errorf("terminal %s: %w", terminal, err))
		return
	}
	// Only the command's own terminal may report on it.
	c, err := in.store.Command(ctx, r.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		in.reject(fmt.Errorf("terminal %s: command result for unknown command %s", terminal, r.ID))
		return
	case err != nil:
		in.log.Error("read command", "terminal", terminal, "id", r.ID, "err", err)
		return
	case c.Terminal != terminal:
		in.reject(fmt.Errorf("terminal %s: command result for command %s of terminal %s", terminal, r.ID, c.Terminal))
		return
	}
	c, changed, err := in.store.UpdateCommand(ctx, storage.CommandUpdate{ID: r.ID, State: r.State, Reason: r.Reason, Result: r.Values, At: r.Time.Time})
	switch {
	case errors.Is(err, storage.ErrInvalidCommand):
		in.reject(fmt.Errorf("terminal %s: command result %s: %w", terminal, r.ID, err))
		return
	case err != nil:
		in.log.Error("store command result", "terminal", terminal, "id", r.ID, "err", err)
		return
	case !changed:
		return
	}
	in.commandUpdates.Add(1)
	if storage.CommandFinal(c.State) {
		sev := storage.SeverityInfo
		if c.State != storage.CommandSucceeded {
			sev = storage.SeverityWarning
		}
		msg := fmt.Sprintf("command %s (%s) %s", c.ID, c.Action, c.State)
		if c.Reason != "" {
			msg += ": " + c.Reason
		}
		if len(msg) > storage.MaxEventMessage {
			msg = msg[:storage.MaxEventMessage]
		}
		in.event(ctx, storage.Event{At: c.Updated, Kind: "command_" + c.State, Severity: sev, Terminal: terminal, Meter: c.Meter, Message: msg})
	}
}

func (in *Ingest) ack(ctx context.Context, pub Publisher, terminal string, a message.Ack) {
	p, err := a.Encode()
	if err != nil {
		in.log.Error("encode ack", "err", err)
		return
	}
	if err := pub.PublishAck(ctx, message.Topic(terminal, message.DownAck), p); err != nil {
		in.log.Warn("queue ack: the terminal will resend and get a duplicate ack", "terminal", terminal, "err", err)
	}
}

// event records an event; failing to is logged, never fatal to ingest.
func (in *Ingest) event(ctx context.Context, e storage.Event) {
	if e.At.IsZero() {
		e.At = in.opt.Now()
	}
	if err := in.store.AppendEvents(ctx, []storage.Event{e}); err != nil {
		in.log.Error("record event", "kind", e.Kind, "err", err)
	}
}

func (in *Ingest) reject(err error) {
	in.rejected.Add(1)
	in.log.Warn("message refused", "err", err)
}

// Stats returns the counters.
func (in *Ingest) Stats() Stats {
	return Stats{
		Messages: in.messages.Load(), Batches: in.batches.Load(), Inserted: in.inserted.Load(),
		Completed: in.completed.Load(), Duplicates: in.duplicates.Load(), Conflicts: in.conflicts.Load(), SeqGaps: in.gaps.Load(),
		Rejected: in.rejected.Load(), StoreErrors: in.storeErrors.Load(),
		StatusUpdates: in.statuses.Load(), MeterUpdates: in.meters.Load(),
		Events: in.events.Load(), CommandUpdate: in.commandUpdates.Load(), PlanReports: in.planReports.Load(),
	}
}

// LastLatency is the data-to-platform latency of the last live batch: from the newest
// reading's meter timestamp to its durable commit.
func (in *Ingest) LastLatency() time.Duration { return time.Duration(in.lastLatency.Load()) }

// peekSeq reads just the sequence range of a batch that failed validation, so the terminal
// can be told which batch was refused.
func peekSeq(payload []byte) (first, last uint64, ok bool) {
	var h struct {
		FirstSeq uint64 `json:"first_seq"`
		LastSeq  uint64 `json:"last_seq"`
	}
	if len(payload) > message.MaxPayload || json.Unmarshal(payload, &h) != nil {
		return 0, 0, false
	}
	if h.FirstSeq == 0 || h.LastSeq < h.FirstSeq {
		return 0, 0, false
	}
	return h.FirstSeq, h.LastSeq, true
}
