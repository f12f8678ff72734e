// Package headend wires the head-end together: storage backend, embedded (or external)
// MQTT broker, the ingest consumer, the live hub and the HTTP API with the web app. It owns
// every goroutine it starts and stops them in order when its context ends.
package headend

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"gridmeter/internal/api"
	"gridmeter/internal/auth"
	"gridmeter/internal/broker"
	"gridmeter/internal/dispatch"
	"gridmeter/internal/iec102/master"
	"gridmeter/internal/ingest"
	"gridmeter/internal/live"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
	"gridmeter/internal/storage/pgstore"
	"gridmeter/internal/storage/sqlitestore"
	"gridmeter/internal/transport"
	"gridmeter/internal/webapp"
)

// Version is the head-end's software version.
const Version = "0.1.0"

// HeadEnd is a running head-end.
type HeadEnd struct {
	cfg      Config
	log      *slog.Logger
	store    storage.Store
	broker   *broker.Broker
	conn     *transport.Conn
	ingest   *ingest.Ingest
	poller   *master.Poller // nil without IEC 102 targets
	dispatch *dispatch.Dispatcher
	hub      *live.Hub
	http     *http.Server
	httpLn   net.Listener
	mqtt     string // URL the head-end's client uses
	wg       sync.WaitGroup
	cancel   context.CancelFunc
}

// Start opens storage, starts the broker (if embedded), the ingest and the HTTP server.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (_ *HeadEnd, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(ctx)
	h := &HeadEnd{cfg: cfg, log: log, hub: live.NewHub(), cancel: cancel}
	defer func() {
		if err != nil {
			h.shutdown()
		}
	}()

	switch cfg.Storage.Backend {
	case "postgres":
		h.store, err = pgstore.Open(ctx, cfg.Storage.PostgresDSN.Value())
	default:
		h.store, err = sqlitestore.Open(ctx, cfg.Storage.SQLitePath)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}

	h.mqtt = cfg.MQTT.URL
	if cfg.MQTT.Embedded != nil {
		bopt := broker.Options{Listen: cfg.MQTT.Embedded.Listen, Credentials: cfg.brokerCredentials(), Logger: log}
		scheme := "mqtt://"
		if t := cfg.MQTT.Embedded.TLS; t != nil {
			if bopt.TLS, err = t.Config(); err != nil {
				return nil, fmt.Errorf("mqtt.embedded.tls: %w", err)
			}
			scheme = "tls://"
		}
		if h.broker, err = broker.Start(ctx, bopt); err != nil {
			return nil, err
		}
		h.mqtt = scheme + h.broker.Addr().String()
	}
	var clientTLS *tls.Config
	if cfg.MQTT.TLS != nil {
		if clientTLS, err = cfg.MQTT.TLS.Config(); err != nil {
			return nil, fmt.Errorf("mqtt.tls: %w", err)
		}
	}

	pub := &downlink{}
	h.dispatch = dispatch.New(h.store, pub, dispatch.Options{Logger: log, Resend: cfg.Commands.Resend.D(), DefaultTTL: cfg.Commands.DefaultTTL.D()})
	h.ingest = ingest.New(h.store, ingest.Options{Logger: log, OnStored: func(_ string, rs []meterdata.Reading) { h.hub.Publish(rs) },
		OnOnline: func(terminal string) {
			h.dispatch.TerminalOnline(terminal)
			h.wg.Add(1)
			go func() { // not on the ingest worker: a publish waits for the broker
				defer h.wg.Done()
				h.dispatch.RepublishPlan(ctx, terminal)
			}()
		}})
	var subs []transport.Subscription
	for _, f := range ingest.Subscriptions(cfg.MQTT.ShareGroup) {
		subs = append(subs, transport.Subscription{Filter: f, QoS: 1})
	}
	h.conn, err = transport.Dial(ctx, transport.Config{
		URL: h.mqtt, TLS: clientTLS, ClientID: cfg.MQTT.ClientID, Username: cfg.MQTT.Username, Password: cfg.MQTT.Password.Value(),
		CleanStart: false, SessionExpiry: time.Hour, Subscriptions: subs, Logger: log,
		OnMessage: func(topic string, payload []byte) { h.ingest.Handle(ctx, topic, payload) },
	})
	if err != nil {
		return nil, err
	}
	pub.c = h.conn
	h.wg.Add(2)
	go func() {
		defer h.wg.Done()
		h.ingest.Run(ctx, ackPublisher{h.conn})
	}()
	go func() {
		defer h.wg.Done()
		h.dispatch.Run(ctx)
	}()

	if cfg.IEC102 != nil && len(cfg.IEC102.Targets) > 0 {
		targets, _ := cfg.iec102Targets() // validated
		h.poller, err = master.NewPoller(h.store, targets, master.Options{Concurrency: cfg.IEC102.Concurrency, Logger: log,
			OnResult: func(r master.Result) { h.iec102Events(ctx, r) }})
		if err != nil {
			return nil, fmt.Errorf("iec102: %w", err)
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.poller.Run(ctx)
		}()
	}

	users, err := cfg.users()
	if err != nil {
		return nil, err
	}
	opts := api.Options{
		Store: h.store, Users: users, Sessions: auth.NewSessions(12 * time.Hour), Hub: h.hub,
		Static: webapp.Handler(), Metrics: h.metrics(), Logger: log, Dispatch: h.dispatch, Commands: h.store,
	}
	if h.poller != nil {
		opts.IEC102 = iec102View{h.poller, cfg.IEC102.Targets}
	}
	srv := api.New(opts)
	h.httpLn, err = net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http: listen %s: %w", cfg.HTTP.Listen, err)
	}
	h.http = &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		if err := h.http.Serve(h.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "err", err)
		}
	}()
	return h, nil
}

// ackPublisher queues acks so the ingest worker never waits on the broker.
type ackPublisher struct{ c *transport.Conn }

func (p ackPublisher) PublishAck(ctx context.Context, topic string, payload []byte) error {
	return p.c.PublishQueued(ctx, transport.Message{Topic: topic, Payload: payload, QoS: 1})
}

// downlink publishes the dispatcher's commands and plans, QoS 1, waiting for the broker.
type downlink struct{ c *transport.Conn }

func (d *downlink) Publish(ctx context.Context, topic string, payload []byte, retain bool) error {
	if d.c == nil {
		return transport.ErrNotConnected
	}
	return d.c.Publish(ctx, transport.Message{Topic: topic, Payload: payload, QoS: 1, Retain: retain})
}

// Dispatch exposes the down-link (commands and plans).
func (h *HeadEnd) Dispatch() *dispatch.Dispatcher { return h.dispatch }

// HTTPAddr is the address the API listens on.
func (h *HeadEnd) HTTPAddr() net.Addr { return h.httpLn.Addr() }

// MQTTURL is the broker URL terminals should use (the embedded broker's, if embedded).
func (h *HeadEnd) MQTTURL() string { return h.mqtt }

// AwaitReady waits until the head-end's MQTT client is connected and subscribed.
func (h *HeadEnd) AwaitReady(ctx context.Context) error { return h.conn.AwaitConnection(ctx) }

// IEC102 exposes the IEC 102 master (nil without targets).
func (h *HeadEnd) IEC102() *master.Poller { return h.poller }

// Ingest exposes the ingest counters.
func (h *HeadEnd) Ingest() *ingest.Ingest { return h.ingest }

// Wait blocks until ctx is done, then shuts the head-end down.
func (h *HeadEnd) Wait(ctx context.Context) {
	<-ctx.Done()
	h.shutdown()
}

// Close shuts the head-end down now.
func (h *HeadEnd) Close() { h.shutdown() }

func (h *HeadEnd) shutdown() {
	if h.http != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_ = h.http.Shutdown(sctx)
		cancel()
	}
	if h.conn != nil {
		_ = h.conn.Close(context.Background())
	}
	h.cancel()
	h.wg.Wait()
	if h.broker != nil {
		_ = h.broker.Close()
	}
	if h.store != nil {
		if err := h.store.Close(); err != nil {
			h.log.Error("storage close", "err", err)
		}
		h.store = nil
	}
}

func (h *HeadEnd) metrics() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	counter := func(name, help string, f func(ingest.Stats) uint64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gridmeter_ingest_" + name, Help: help},
			func() float64 { return float64(f(h.ingest.Stats())) }))
	}
	counter("messages_total", "MQTT messages received from terminals.", func(s ingest.Stats) uint64 { return s.Messages })
	counter("batches_total", "Reading batches durably stored.", func(s ingest.Stats) uint64 { return s.Batches })
	counter("readings_inserted_total", "Readings stored for the first time.", func(s ingest.Stats) uint64 { return s.Inserted })
	counter("readings_duplicate_total", "Readings received again (no-op).", func(s ingest.Stats) uint64 { return s.Duplicates })
	counter("readings_conflict_total", "Readings whose key existed with other values.", func(s ingest.Stats) uint64 { return s.Conflicts })
	counter("readings_completed_total", "Readings that completed a stored subset of their channels (e.g. stored first by IEC 102).", func(s ingest.Stats) uint64 { return s.Completed })
	counter("seq_gaps_total", "Terminal sequence numbers found missing.", func(s ingest.Stats) uint64 { return s.SeqGaps })
	counter("rejected_total", "Messages refused as malformed.", func(s ingest.Stats) uint64 { return s.Rejected })
	counter("events_total", "Terminal events stored (power-downs, meters lost and regained, gaps).", func(s ingest.Stats) uint64 { return s.Events })
	counter("command_updates_total", "Terminal reports that moved a command forward.", func(s ingest.Stats) uint64 { return s.CommandUpdate })
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gridmeter_commands_issued_total",
		Help: "Commands issued by operators."}, func() float64 { return float64(h.dispatch.Stats().Issued) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gridmeter_downlink_publish_failures_total",
		Help: "Commands or plans not published (sent again later)."}, func() float64 { return float64(h.dispatch.Stats().PublishFailures) }))
	counter("store_errors_total", "Batches not stored because storage failed.", func(s ingest.Stats) uint64 { return s.StoreErrors })
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gridmeter_data_to_platform_latency_seconds",
		Help: "Latency of the last live batch from meter timestamp to durable commit."},
		func() float64 { return h.ingest.LastLatency().Seconds() }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gridmeter_live_dropped_total",
		Help: "Readings not delivered to slow live subscribers."}, func() float64 { return float64(h.hub.Dropped()) }))
	if h.broker != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gridmeter_broker_refused_logins_total",
			Help: "MQTT logins refused by the embedded broker."}, func() float64 { l, _ := h.broker.Refused(); return float64(l) }))
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gridmeter_broker_acl_denied_total",
			Help: "Publishes/subscriptions denied by the embedded broker's ACL."}, func() float64 { _, a := h.broker.Refused(); return float64(a) }))
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// iec102Events records what an IEC 102 session found that an operator must know: a clock
// drift beyond the master's limit, and the correction if one was made.
func (h *HeadEnd) iec102Events(ctx context.Context, r master.Result) {
	if r.Clock == nil || (!r.DriftEvent && !r.ClockSet && r.ClockErr == nil) {
		return
	}
	term := ""
	if meterdata.ValidateTerminalID(r.Target) == nil {
		term = r.Target
	}
	drift := r.Clock.Drift
	var es []storage.Event
	if r.DriftEvent {
		es = append(es, storage.Event{At: r.Start, Kind: "clock_drift", Severity: storage.SeverityWarning, Terminal: term,
			Message: fmt.Sprintf("IEC 102 target %s: outstation clock off by %s", r.Target, drift.Round(time.Millisecond)),
			Data:    map[string]int64{"drift_ms": drift.Milliseconds()}})
	}
	if r.ClockSet {
		es = append(es, storage.Event{At: r.Start, Kind: "clock_set", Severity: storage.SeverityInfo, Terminal: term,
			Message: fmt.Sprintf("IEC 102 target %s: outstation clock corrected by %s", r.Target, (-drift).Round(time.Millisecond))})
	}
	if r.ClockErr != nil {
		es = append(es, storage.Event{At: r.Start, Kind: "clock_set_failed", Severity: storage.SeverityAlarm, Terminal: term,
			Message: fmt.Sprintf("IEC 102 target %s: setting the outstation clock failed: %v", r.Target, r.ClockErr)})
	}
	if err := h.store.AppendEvents(ctx, es); err != nil {
		h.log.Error("record IEC 102 events", "target", r.Target, "err", err)
	}
}

// iec102View adapts the IEC 102 master to the API.
type iec102View struct {
	p   *master.Poller
	cfg []IEC102TargetConfig
}

func (v iec102View) Trigger(name string) error {
	for _, t := range v.cfg {
		if t.Name == name {
			return v.p.Trigger(name)
		}
	}
	return fmt.Errorf("iec102 target %q: %w", name, storage.ErrNotFound)
}

func (v iec102View) Targets() []api.IEC102Target {
	var out []api.IEC102Target
	for i, st := range v.p.Status() {
		t := api.IEC102Target{Name: st.Name, Addr: v.cfg[i].Addr, Failures: st.Failures}
		if l := st.Last; !l.Start.IsZero() {
			start := l.Start.UTC()
			t.LastStart, t.LastDuration = &start, l.Duration.Milliseconds()
			if l.Err != nil {
				t.LastError = l.Err.Error()
			}
			if l.Clock != nil {
				d := l.Clock.Drift.Milliseconds()
				t.ClockDrift = &d
			}
			t.Readings, t.Inserted, t.Duplicates, t.Conflicts = l.Readings, l.Stored.Inserted, l.Stored.Duplicates, l.Stored.Conflicts
		}
		if !st.Next.IsZero() {
			next := st.Next.UTC()
			t.Next = &next
		}
		out = append(out, t)
	}
	return out
}
