package terminal

import (
	"context"
	"time"

	"gridmeter/internal/journal"
	"gridmeter/internal/message"
	"gridmeter/internal/transport"
)

// The terminal's events (the meters' power-down records, meters lost and regained, gaps:
// readings a meter no longer keeps) go to the head-end like readings: in journal order, one
// batch in flight, kept until the head-end's EventAck, sent again after a reconnect or when
// the ack does not come.

// Event upload tuning.
const (
	eventBatch      = 500
	eventAckTimeout = 30 * time.Second
	eventRecheck    = 5 * time.Second
)

// onEventAck hands an event ack to the event goroutine without blocking the MQTT reader;
// a lost ack is repaired by the re-send.
func (t *Terminal) onEventAck(payload []byte) {
	a, err := message.DecodeEventAck(payload)
	if err != nil {
		t.log.Warn("event ack refused", "err", err)
		return
	}
	select {
	case t.eventAcks <- a.LastSeq:
	default:
	}
}

// WakeEvents makes the event goroutine look for new events now.
func (t *Terminal) wakeEvents() {
	select {
	case t.eventWake <- struct{}{}:
	default:
	}
}

// sendEvents publishes unacknowledged events until ctx ends.
func (t *Terminal) sendEvents(ctx context.Context) error {
	tick := time.NewTicker(eventRecheck)
	defer tick.Stop()
	var inflight uint64 // last seq of the batch awaiting its ack; 0 for none
	var sentAt time.Time
	var sentGen uint64
	for {
		if inflight == 0 || time.Since(sentAt) > eventAckTimeout || t.conn.Generation() != sentGen {
			inflight = 0
			if t.conn.Connected() {
				es, err := t.journal.EventsToSend(ctx, eventBatch)
				if err != nil && ctx.Err() == nil {
					t.log.Error("events not read from the journal", "err", err)
				}
				if len(es) > 0 {
					sentGen = t.conn.Generation()
					if t.publishEvents(ctx, es) {
						inflight, sentAt = es[len(es)-1].ID, time.Now()
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case seq := <-t.eventAcks:
			if err := t.journal.AckEvents(ctx, seq); err != nil && ctx.Err() == nil {
				t.log.Error("event ack not recorded", "err", err)
				continue
			}
			t.eventsAcked.Store(seq)
			if seq >= inflight {
				inflight = 0
			}
		case <-t.eventWake:
		case <-tick.C:
		}
	}
}

func (t *Terminal) publishEvents(ctx context.Context, es []journal.Event) bool {
	b := message.EventBatch{Terminal: t.cfg.ID, Events: make([]message.Event, 0, len(es))}
	for _, e := range es {
		b.Events = append(b.Events, wireEvent(e))
	}
	p, err := b.Encode()
	if err != nil {
		t.log.Error("events not encoded", "err", err)
		return false
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := t.conn.Publish(pctx, transport.Message{Topic: message.Topic(t.cfg.ID, message.UpEvents), Payload: p, QoS: 1}); err != nil {
		t.log.Warn("events not published; sent again later", "err", err)
		return false
	}
	return true
}

// wireEvent names a journal event for the head-end.
func wireEvent(e journal.Event) message.Event {
	w := message.Event{Seq: e.ID, Meter: e.Meter, Time: message.Time{Time: e.Time}, Message: e.Detail, Data: e.Data}
	switch {
	case e.Log == journal.LogSupply && e.On:
		w.Kind = message.EventPowerDown
	case e.Log == journal.LogSupply:
		w.Kind = message.EventPowerRestored
	case e.Log == journal.LogCommunications && e.On:
		w.Kind = message.EventMeterSilent
	case e.Log == journal.LogCommunications:
		w.Kind = message.EventMeterAnswers
	default:
		w.Kind = message.EventGap
	}
	return w
}
