// Package terminal wires the edge agent together: the journal, the acquisition scheduler (a
// goroutine per bus while it polls), and the two independent goroutine groups of the seed —
// the uplink (read journal → publish, acks) and the down-link (commands, acquisition plans,
// event upload). A blocked uplink never stops acquisition: readings keep going into the
// journal.
//
// This package and its imports must never pull in head-end code (broker, storage backends,
// API, web app); a test over `go list -deps ./cmd/terminal` enforces it.
package terminal

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"gridmeter/internal/acquisition"
	"gridmeter/internal/iec102"
	"gridmeter/internal/iec102/outstation"
	"gridmeter/internal/journal"
	"gridmeter/internal/message"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/telemetry"
	"gridmeter/internal/transport"
	"gridmeter/internal/uplink"
)

// Version is the terminal's software version.
const Version = "0.1.0"

// Terminal is a running terminal.
type Terminal struct {
	cfg     Config
	log     *slog.Logger
	journal *journal.Journal
	sched   *acquisition.Scheduler
	up      *uplink.Uplink
	conn    *transport.Conn
	buses   []bus

	journalCheck message.Check
	iec102Addr   atomic.Value // string: where the outstation listens
	metricsAddr  atomic.Value // string: where /metrics is served
	mu           sync.Mutex
	checks       []message.Check        // the self-check's result, once it has run
	plan         *plan                  // the acquisition plan in force
	nextSched    *acquisition.Scheduler // the plan's scheduler, until acquire swaps it in
	pastStats    acquisition.Stats

	replan                                        chan struct{} // a new scheduler is in force
	planIn                                        chan []byte   // received plans
	cmdIn                                         chan []byte   // received commands
	cmdWake                                       chan struct{} // a command was journaled
	eventAcks                                     chan uint64
	eventWake                                     chan struct{}
	cmdReceived, cmdDone, cmdRejected, cmdDropped atomic.Uint64
	plansRejected                                 atomic.Uint64
	eventsAcked                                   atomic.Uint64
}

// bus is one configured bus: it reads a meter's current values and owns its connection.
type bus interface {
	acquisition.MeterReader
	Close()
}

// New opens the journal and prepares the buses; Run starts the work.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Terminal, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	log = log.With("terminal", cfg.ID)
	j, jc, err := openJournal(ctx, cfg.JournalPath, journal.Options{KeepAcked: cfg.JournalKeepAcked.D(), MaxEntries: cfg.JournalMaxEntries}, log)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", cfg.JournalPath, err)
	}
	t := &Terminal{cfg: cfg, log: log, journal: j, journalCheck: jc,
		replan: make(chan struct{}, 1), planIn: make(chan []byte, 1), cmdIn: make(chan []byte, commandQueue),
		cmdWake: make(chan struct{}, 1), eventAcks: make(chan uint64, 16), eventWake: make(chan struct{}, 1)}
	zones := map[string]*time.Location{}
	for _, b := range cfg.Buses {
		var rd bus
		if b.ModbusTCP != "" {
			rd, err = newModbusBus(b)
		} else {
			rd, err = newDLTBus(b, zones)
		}
		if err != nil {
			j.Close()
			return nil, err
		}
		t.buses = append(t.buses, rd)
	}
	t.plan = t.loadPlan(ctx)
	if t.sched, err = t.newScheduler(t.plan); err != nil {
		j.Close()
		return nil, err
	}
	return t, nil
}

// MetricsAddr is where the metrics endpoint listens ("" if none).
func (t *Terminal) MetricsAddr() string {
	a, _ := t.metricsAddr.Load().(string)
	return a
}

// IEC102Addr is where the IEC 102 outstation listens ("" if none).
func (t *Terminal) IEC102Addr() string {
	a, _ := t.iec102Addr.Load().(string)
	return a
}

// Checks returns the self-check's result (nil until it has run).
func (t *Terminal) Checks() []message.Check {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]message.Check(nil), t.checks...)
}

// Journal gives read access to the terminal's journal (tests, metrics).
func (t *Terminal) Journal() *journal.Journal { return t.journal }

// Run connects to the broker and runs acquisition and uplink until ctx is cancelled; it
// closes the journal before returning.
func (t *Terminal) Run(ctx context.Context) error {
	defer t.journal.Close()
	defer func() {
		for _, b := range t.buses {
			b.Close()
		}
	}()
	statusTopic := message.Topic(t.cfg.ID, message.UpStatus)
	will, _ := message.Status{Terminal: t.cfg.ID, State: message.StateOffline, Software: Version}.Encode()
	// The connection's callbacks may fire before Dial returns; they wait for ready.
	pub := &publisher{}
	t.up = uplink.New(t.journal, pub, uplink.Options{Terminal: t.cfg.ID, Logger: t.log})
	ready := make(chan struct{})
	var tlsCfg *tls.Config
	if t.cfg.MQTT.TLS != nil {
		var err error
		if tlsCfg, err = t.cfg.MQTT.TLS.Config(); err != nil {
			return fmt.Errorf("mqtt.tls: %w", err)
		}
	}
	// The connection outlives ctx by the final "offline" publish; Close ends it.
	conn, err := transport.Dial(context.WithoutCancel(ctx), transport.Config{
		URL: t.cfg.MQTT.URL, TLS: tlsCfg, ClientID: t.cfg.ID, Username: t.cfg.ID, Password: t.cfg.MQTT.Password.Value(),
		CleanStart: false, SessionExpiry: time.Hour,
		Will:          &transport.Message{Topic: statusTopic, Payload: will, QoS: 1, Retain: true},
		Subscriptions: []transport.Subscription{{Filter: message.DownTree(t.cfg.ID), QoS: 1}},
		OnMessage: func(topic string, payload []byte) {
			<-ready
			switch topic {
			case message.Topic(t.cfg.ID, message.DownAck):
				t.up.HandleAck(payload)
			case message.Topic(t.cfg.ID, message.DownCommand):
				t.onCommand(payload)
			case message.Topic(t.cfg.ID, message.DownConfig):
				t.onPlan(payload)
			case message.Topic(t.cfg.ID, message.DownEventAck):
				t.onEventAck(payload)
			}
		},
		OnUp: func(cctx context.Context) {
			select {
			case <-ready:
				t.announce(cctx)
			case <-cctx.Done():
			case <-ctx.Done():
			}
		},
		Logger: t.log,
	})
	if err != nil {
		return err
	}
	t.conn, pub.c = conn, conn
	close(ready)

	var wg sync.WaitGroup
	run := func(f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = f(ctx)
		}()
	}
	run(t.up.Run)
	run(t.acquire)
	run(t.compactLoop)
	// Commands, plans and events: a group apart from the uplink.
	run(t.receiveCommands)
	run(t.executeCommands)
	run(t.receivePlans)
	run(t.sendEvents)
	if t.cfg.MetricsListen != "" {
		if addr, err := telemetry.Serve(ctx, t.cfg.MetricsListen, t.writeMetrics); err != nil {
			t.log.Error("metrics endpoint not started", "listen", t.cfg.MetricsListen, "err", err)
		} else {
			t.metricsAddr.Store(addr.String())
		}
	}
	if t.cfg.IEC102 != nil {
		oc, _ := t.cfg.outstationConfig() // validated in New
		oc.Logger = t.log
		ln, err := net.Listen("tcp", t.cfg.IEC102.Listen)
		if err != nil {
			// Degraded, not stopped: MQTT still carries every reading.
			t.log.Error("iec102 outstation not started", "listen", t.cfg.IEC102.Listen, "err", err)
		} else {
			t.iec102Addr.Store(ln.Addr().String())
			oc.Events = journalEvents{t.journal}
			run(func(ctx context.Context) error { return outstation.Serve(ctx, ln, oc, t.journal) })
		}
	}
	run(func(ctx context.Context) error {
		checks := t.selfCheck(ctx)
		if ctx.Err() != nil {
			return nil
		}
		t.mu.Lock()
		t.checks = checks
		t.mu.Unlock()
		for _, c := range checks {
			if !c.OK {
				t.log.Warn("self-check: degraded", "part", c.Name, "detail", c.Detail)
			}
		}
		if t.conn.Connected() {
			t.announce(ctx) // the status now carries the checks
		}
		return nil
	})
	<-ctx.Done()
	wg.Wait()
	// A clean stop says so (the broker sends the last will only on an unclean loss).
	if t.conn.Connected() {
		now := message.Time{Time: time.Now()}
		p, _ := message.Status{Terminal: t.cfg.ID, State: message.StateOffline, Software: Version, Time: &now}.Encode()
		pctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = t.conn.Publish(pctx, transport.Message{Topic: statusTopic, Payload: p, QoS: 1, Retain: true})
		cancel()
	}
	_ = t.conn.Close(context.Background())
	return nil
}

// announce publishes the retained status and meter inventory after every (re)connection.
func (t *Terminal) announce(ctx context.Context) {
	now := message.Time{Time: time.Now()}
	p := t.currentPlan()
	status, _ := message.Status{Terminal: t.cfg.ID, State: message.StateOnline, Software: Version, Time: &now, Checks: t.Checks(),
		PlanVersion: p.version()}.Encode()
	meters, _ := message.Meters{Terminal: t.cfg.ID, Meters: p.meters}.Encode()
	for _, m := range []transport.Message{
		{Topic: message.Topic(t.cfg.ID, message.UpMeters), Payload: meters, QoS: 1, Retain: true},
		{Topic: message.Topic(t.cfg.ID, message.UpStatus), Payload: status, QoS: 1, Retain: true},
	} {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := t.conn.Publish(pctx, m); err != nil {
			t.log.Warn("announce failed", "topic", m.Topic, "err", err)
		}
		cancel()
	}
	t.up.Wake()
	t.wakeEvents()
}

func (t *Terminal) compactLoop(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if _, err := t.journal.Compact(ctx); err != nil && ctx.Err() == nil {
				t.log.Error("journal compaction failed", "err", err)
			}
		}
	}
}

// publisher adapts the MQTT connection to the uplink.
type publisher struct{ c *transport.Conn }

func (p publisher) PublishBatch(ctx context.Context, topic string, payload []byte) error {
	return p.c.Publish(ctx, transport.Message{Topic: topic, Payload: payload, QoS: 1})
}
func (p publisher) Generation() uint64 { return p.c.Generation() }
func (p publisher) Connected() bool    { return p.c.Connected() }

// Stats are the terminal's counters.
type Stats struct {
	Acquisition acquisition.Stats
	Uplink      uplink.Stats
	// Commands received (new ones), done (final state reached), refused as malformed, and
	// dropped because the hand-off queue was full (the head-end re-sends them).
	CommandsReceived, CommandsDone, CommandsRejected, CommandsDropped uint64
	PlansRejected                                                     uint64
	EventsAcked                                                       uint64 // the head-end's event acknowledgement mark
}

// Stats returns the counters.
func (t *Terminal) Stats() Stats {
	t.mu.Lock()
	s := Stats{Acquisition: t.pastStats.Plus(t.sched.Stats())}
	t.mu.Unlock()
	s.CommandsReceived, s.CommandsDone, s.CommandsRejected, s.CommandsDropped = t.cmdReceived.Load(), t.cmdDone.Load(), t.cmdRejected.Load(), t.cmdDropped.Load()
	s.PlansRejected, s.EventsAcked = t.plansRejected.Load(), t.eventsAcked.Load()
	if t.up != nil {
		s.Uplink = t.up.Stats()
	}
	return s
}

// journalEvents serves the journal's event log to IEC 102 masters: log 52 (supply) holds
// the meters' power-down records, log 129 (communications) the terminal losing and
// regaining a meter; single-point address 1, the event code, SPI on = began.
type journalEvents struct{ j *journal.Journal }

func (e journalEvents) Events(ctx context.Context, meter meterdata.MeterID, record iec102.RecordAddress, from, to time.Time, limit int) ([]outstation.Event, error) {
	es, err := e.j.Events(ctx, meter, uint8(record), from, to, limit)
	if err != nil {
		return nil, err
	}
	out := make([]outstation.Event, len(es))
	for i, ev := range es {
		out[i] = outstation.Event{Time: ev.Time, Record: record, Address: 1, Code: ev.Code, On: ev.On}
	}
	return out, nil
}
