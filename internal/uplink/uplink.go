// Package uplink is the terminal's publisher (the seed's first thread): it drains the
// journal in sequence order into QoS 1 reading batches and releases journal entries only
// when the head-end's application-level ack says they are durably stored.
//
// Resend rule: after every reconnect, and whenever the oldest batch in flight has waited
// longer than AckTimeout, publishing restarts from the oldest unacknowledged entry. The
// head-end stores by reading key, so a resend is a harmless duplicate; an entry is never
// released without an ack, so nothing is lost.
package uplink

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"gridmeter/internal/journal"
	"gridmeter/internal/message"
)

// Journal is what the uplink needs of the terminal's journal.
type Journal interface {
	Pending(ctx context.Context, after uint64, limit int) ([]journal.Entry, error)
	Ack(ctx context.Context, first, last uint64) (int, error)
}

// Conn is what the uplink needs of the MQTT connection.
type Conn interface {
	PublishBatch(ctx context.Context, topic string, payload []byte) error // QoS 1, waits for PUBACK
	Generation() uint64                                                   // changes on every reconnect
	Connected() bool
}

// Options configure the uplink.
type Options struct {
	Terminal   string
	BatchSize  int           // readings per batch; default 500
	Window     int           // batches in flight awaiting an ack; default 8
	AckTimeout time.Duration // default 30 s
	// HistoricalAfter: a batch whose oldest entry was journaled longer ago than this is
	// marked historical (a backlog). Default 2 minutes.
	HistoricalAfter time.Duration
	Logger          *slog.Logger
}

type inflight struct {
	first, last uint64
	sent        time.Time
}

// Uplink publishes the journal.
type Uplink struct {
	j    Journal
	conn Conn
	opt  Options
	log  *slog.Logger
	wake chan struct{}
	acks chan message.Ack

	published, acked, rejected, resends, badAcks atomic.Uint64
	inFlight                                     atomic.Int64
}

// New returns an uplink; call Run.
func New(j Journal, conn Conn, opt Options) *Uplink {
	if opt.BatchSize <= 0 {
		opt.BatchSize = 500
	}
	if opt.BatchSize > message.MaxBatchLen {
		opt.BatchSize = message.MaxBatchLen
	}
	if opt.Window <= 0 {
		opt.Window = 8
	}
	if opt.AckTimeout <= 0 {
		opt.AckTimeout = 30 * time.Second
	}
	if opt.HistoricalAfter <= 0 {
		opt.HistoricalAfter = 2 * time.Minute
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Uplink{j: j, conn: conn, opt: opt, log: opt.Logger.With("component", "uplink"),
		wake: make(chan struct{}, 1), acks: make(chan message.Ack, 1024)}
}

// Wake tells the uplink that new entries are in the journal. It never blocks.
func (u *Uplink) Wake() {
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// HandleAck takes an ack payload received on the terminal's DownAck topic. It never blocks:
// an ack that does not fit the queue is dropped, and the batch is resent and acked again.
func (u *Uplink) HandleAck(payload []byte) {
	a, err := message.DecodeAck(payload)
	if err != nil {
		u.badAcks.Add(1)
		u.log.Warn("ack refused", "err", err)
		return
	}
	select {
	case u.acks <- a:
	default:
	}
}

// Run publishes until ctx is cancelled.
func (u *Uplink) Run(ctx context.Context) error {
	var (
		cursor  uint64 // highest seq published on this pass
		gen     uint64
		flights []inflight
	)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case a := <-u.acks:
			flights = u.applyAck(ctx, a, flights)
		case <-u.wake:
		case <-tick.C:
		}
		// Apply every ack already queued before deciding what to send.
		for drained := false; !drained; {
			select {
			case a := <-u.acks:
				flights = u.applyAck(ctx, a, flights)
			default:
				drained = true
			}
		}
		if !u.conn.Connected() {
			continue
		}
		if g := u.conn.Generation(); g != gen {
			if gen != 0 && len(flights) > 0 {
				u.resends.Add(1)
			}
			gen, cursor, flights = g, 0, nil
		}
		if len(flights) > 0 && time.Since(flights[0].sent) > u.opt.AckTimeout {
			u.log.Warn("no ack in time: resending from the oldest unacknowledged entry", "first_seq", flights[0].first, "waited", time.Since(flights[0].sent).Round(time.Millisecond))
			u.resends.Add(1)
			cursor, flights = 0, nil
		}
		for len(flights) < u.opt.Window {
			es, err := u.j.Pending(ctx, cursor, u.opt.BatchSize)
			if err != nil {
				if ctx.Err() == nil {
					u.log.Error("journal read failed", "err", err)
				}
				break
			}
			if len(es) == 0 {
				break
			}
			f, err := u.publish(ctx, es)
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
					u.log.Warn("publish failed; will retry", "err", err)
				}
				break
			}
			flights = append(flights, f)
			cursor = f.last
		}
		u.inFlight.Store(int64(len(flights)))
	}
}

func (u *Uplink) publish(ctx context.Context, es []journal.Entry) (inflight, error) {
	now := time.Now()
	b := message.ReadingBatch{
		Terminal:   u.opt.Terminal,
		FirstSeq:   es[0].Seq,
		LastSeq:    es[len(es)-1].Seq,
		Historical: now.Sub(es[0].Appended) > u.opt.HistoricalAfter,
		Sent:       message.Time{Time: now},
		Readings:   make([]message.Reading, len(es)),
	}
	for i, e := range es {
		b.Readings[i] = message.FromDomain(e.Seq, e.Reading)
	}
	p, err := b.Encode()
	if err != nil {
		return inflight{}, err
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := u.conn.PublishBatch(pctx, message.Topic(u.opt.Terminal, message.UpReadings), p); err != nil {
		return inflight{}, err
	}
	u.published.Add(uint64(len(es)))
	return inflight{first: b.FirstSeq, last: b.LastSeq, sent: now}, nil
}

func (u *Uplink) applyAck(ctx context.Context, a message.Ack, flights []inflight) []inflight {
	if a.Result == message.AckRejected {
		// The head-end will never store this batch: a bug on one side. Keep the entries
		// (nothing is released without a "stored" ack) and make it loud.
		u.rejected.Add(1)
		u.log.Error("head-end rejected a batch; entries kept in the journal", "first_seq", a.FirstSeq, "last_seq", a.LastSeq, "reason", a.Error)
	} else {
		n, err := u.j.Ack(ctx, a.FirstSeq, a.LastSeq)
		if err != nil {
			u.log.Error("journal ack failed; the batch will be resent", "first_seq", a.FirstSeq, "err", err)
			return flights
		}
		u.acked.Add(uint64(n))
	}
	out := flights[:0]
	for _, f := range flights {
		if f.first == a.FirstSeq && f.last == a.LastSeq {
			continue
		}
		out = append(out, f)
	}
	return out
}

// Stats are the uplink's counters.
type Stats struct {
	Published, Acked, Rejected, Resends, BadAcks uint64
	InFlight                                     int
}

// Stats returns the counters.
func (u *Uplink) Stats() Stats {
	return Stats{Published: u.published.Load(), Acked: u.acked.Load(), Rejected: u.rejected.Load(),
		Resends: u.resends.Load(), BadAcks: u.badAcks.Load(), InFlight: int(u.inFlight.Load())}
}
