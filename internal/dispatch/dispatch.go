// Package dispatch is the head-end's down-link: operators' commands to meters and the
// acquisition plans of terminals. It stores first and publishes second, so nothing an
// operator issued is lost to a broker or terminal outage:
//
//   - a command is created pending in the store, then published QoS 1 on the terminal's
//     down/cmd; until the terminal reports a final state it is published again, every
//     Resend and whenever the terminal comes online (the terminal answers a command it has
//     with its current state and never runs one twice);
//   - a plan version is stored, then published QoS 1 and retained on down/config, so the
//     terminal gets the newest whenever it connects; it reports on up/config.
//
// The terminals' reports come in through ingest, which updates the store.
package dispatch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"gridmeter/internal/message"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// Store is what dispatch needs of the storage contract.
type Store interface {
	storage.CommandStore
	storage.PlanStore
	Meter(ctx context.Context, id meterdata.MeterID) (meterdata.Meter, error)
}

// Publisher publishes a message QoS 1 (waiting for the broker's acknowledgement).
type Publisher interface {
	Publish(ctx context.Context, topic string, payload []byte, retain bool) error
}

// Options configure a Dispatcher.
type Options struct {
	// Resend is how often open commands are published again; default 1 minute.
	Resend time.Duration
	// DefaultTTL is a command's lifetime when the request gives none; default 15 minutes.
	DefaultTTL time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
}

// Limits on a command's lifetime.
const (
	MinTTL = 10 * time.Second
	MaxTTL = 7 * 24 * time.Hour
)

// Dispatcher sends commands and plans to terminals.
type Dispatcher struct {
	store Store
	pub   Publisher
	opt   Options
	log   *slog.Logger

	online chan string // terminals that came online: re-send their open commands

	issued, published, publishFailures atomic.Uint64
}

// New returns a dispatcher; Run re-sends open commands.
func New(store Store, pub Publisher, opt Options) *Dispatcher {
	if opt.Resend <= 0 {
		opt.Resend = time.Minute
	}
	if opt.DefaultTTL <= 0 {
		opt.DefaultTTL = 15 * time.Minute
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Dispatcher{store: store, pub: pub, opt: opt, log: opt.Logger.With("component", "dispatch"), online: make(chan string, 64)}
}

// ErrInvalid is wrapped by every refusal of an operator's request (the caller's mistake).
var ErrInvalid = errors.New("invalid request")

// Request is an operator's command request.
type Request struct {
	Meter  meterdata.MeterID
	Action string
	Params map[string]string
	TTL    time.Duration // 0: Options.DefaultTTL
	By     string        // the operator's login
}

// Issue validates a command, stores it pending and publishes it. A failed publish is not an
// error: the command is stored and the re-send delivers it.
func (d *Dispatcher) Issue(ctx context.Context, r Request) (storage.Command, error) {
	if r.TTL == 0 {
		r.TTL = d.opt.DefaultTTL
	}
	if r.TTL < MinTTL || r.TTL > MaxTTL {
		return storage.Command{}, fmt.Errorf("%w: ttl %s: want %s to %s", ErrInvalid, r.TTL, MinTTL, MaxTTL)
	}
	m, err := d.store.Meter(ctx, r.Meter)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Command{}, fmt.Errorf("%w: meter %s: %w", ErrInvalid, r.Meter, err)
	}
	if err != nil {
		return storage.Command{}, err
	}
	now := d.opt.Now().UTC().Truncate(time.Millisecond)
	c := storage.Command{ID: newID(now), Terminal: m.Terminal, Meter: m.ID, Action: r.Action, Params: r.Params,
		IssuedBy: r.By, Issued: now, Expires: now.Add(r.TTL), State: storage.CommandPending, Updated: now}
	// The terminal's decoder is the authority on what a command may be: check with it.
	wire, err := wireCommand(c).Encode()
	if err == nil {
		_, err = message.DecodeCommand(m.Terminal, wire)
	}
	if err != nil {
		return storage.Command{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := d.store.CreateCommand(ctx, c); err != nil {
		return storage.Command{}, err
	}
	d.issued.Add(1)
	d.log.Info("command issued", "id", c.ID, "meter", c.Meter, "action", c.Action, "by", r.By)
	d.send(ctx, c)
	return c, nil
}

// newID is a command id: the issue time and 6 random bytes, sortable by time.
func newID(t time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("c%x-%s", t.UnixMilli(), hex.EncodeToString(b[:]))
}

func wireCommand(c storage.Command) message.Command {
	return message.Command{ID: c.ID, Meter: c.Meter, Action: c.Action, Params: c.Params,
		Issued: message.Time{Time: c.Issued}, Expires: message.Time{Time: c.Expires}}
}

// send publishes a command (best effort: the re-send repairs a failure).
func (d *Dispatcher) send(ctx context.Context, c storage.Command) {
	p, err := wireCommand(c).Encode()
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = d.pub.Publish(pctx, message.Topic(c.Terminal, message.DownCommand), p, false)
		cancel()
	}
	if err != nil {
		d.publishFailures.Add(1)
		d.log.Warn("command not published; it is sent again later", "id", c.ID, "err", err)
		return
	}
	d.published.Add(1)
}

// TerminalOnline makes Run re-send the terminal's open commands now (non-blocking).
func (d *Dispatcher) TerminalOnline(terminal string) {
	select {
	case d.online <- terminal:
	default:
	}
}

// Run re-sends open commands until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	tick := time.NewTicker(d.opt.Resend)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			d.resend(ctx, "")
		case t := <-d.online:
			d.resend(ctx, t)
		}
	}
}

// resend publishes the open commands of a terminal ("" for all) again.
func (d *Dispatcher) resend(ctx context.Context, terminal string) {
	cs, err := d.store.Commands(ctx, storage.CommandQuery{Terminal: terminal, Open: true})
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("open commands not read", "err", err)
		}
		return
	}
	for i := len(cs) - 1; i >= 0; i-- { // oldest first, as they were issued
		d.send(ctx, cs[i])
	}
}

// PlanRequest is an operator's new acquisition plan for a terminal.
type PlanRequest struct {
	Terminal    string
	Acquisition *message.PlanAcquisition
	Meters      []message.PlanMeter
	By          string
}

// PutPlan validates the plan, stores it as the terminal's next version and publishes it,
// retained. A failed publish is not an error: Republish (on the next head-end start)
// or the next version delivers it.
func (d *Dispatcher) PutPlan(ctx context.Context, r PlanRequest) (storage.Plan, error) {
	probe := message.Plan{Terminal: r.Terminal, Version: 1, Acquisition: r.Acquisition, Meters: r.Meters}
	if err := message.ValidatePlan(probe); err != nil {
		return storage.Plan{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	now := d.opt.Now()
	p, err := d.store.PutPlan(ctx, r.Terminal, r.By, func(version int64) ([]byte, error) {
		probe.Version, probe.Issued = version, message.Time{Time: now}
		return probe.Encode()
	})
	if err != nil {
		return storage.Plan{}, err
	}
	d.log.Info("acquisition plan stored", "terminal", r.Terminal, "version", p.Version, "by", r.By)
	d.publishPlan(ctx, p)
	return p, nil
}

func (d *Dispatcher) publishPlan(ctx context.Context, p storage.Plan) {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.pub.Publish(pctx, message.Topic(p.Terminal, message.DownConfig), p.Body, true); err != nil {
		d.publishFailures.Add(1)
		d.log.Warn("plan not published", "terminal", p.Terminal, "version", p.Version, "err", err)
		return
	}
	d.published.Add(1)
}

// RepublishPlan publishes a terminal's newest plan again (retained), e.g. after a terminal
// reported an older version than the newest stored: a broker that lost its retained
// messages (restarted without persistence) then still delivers it.
func (d *Dispatcher) RepublishPlan(ctx context.Context, terminal string) {
	p, err := d.store.Plan(ctx, terminal)
	if err != nil {
		return // none, or the store failed: nothing to send
	}
	if p.AppliedVersion < p.Version {
		d.publishPlan(ctx, p)
	}
}

// Stats are the dispatcher's counters.
type Stats struct {
	Issued, Published, PublishFailures uint64
}

// Stats returns the counters.
func (d *Dispatcher) Stats() Stats {
	return Stats{Issued: d.issued.Load(), Published: d.published.Load(), PublishFailures: d.publishFailures.Load()}
}
