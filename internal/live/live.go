// Package live fans stored readings out to live subscribers (the API's event stream). A slow
// subscriber never slows ingest: its buffer fills, further readings for it are dropped and
// counted, and the web client reloads history when it notices.
package live

import (
	"sync"
	"sync/atomic"

	"gridmeter/internal/meterdata"
)

// Hub distributes readings; safe for concurrent use.
type Hub struct {
	mu      sync.Mutex
	subs    map[*Sub]struct{}
	dropped atomic.Uint64
}

// Sub is one subscription.
type Sub struct {
	C     <-chan meterdata.Reading
	c     chan meterdata.Reading
	meter meterdata.MeterID
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{subs: map[*Sub]struct{}{}} }

// Subscribe receives the readings of one meter ("" for all meters).
func (h *Hub) Subscribe(meter meterdata.MeterID, buffer int) *Sub {
	c := make(chan meterdata.Reading, buffer)
	s := &Sub{C: c, c: c, meter: meter}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Unsubscribe ends a subscription.
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
}

// Publish offers readings to every matching subscriber without blocking.
func (h *Hub) Publish(rs []meterdata.Reading) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		for _, r := range rs {
			if s.meter != "" && s.meter != r.Meter {
				continue
			}
			select {
			case s.c <- r:
			default:
				h.dropped.Add(1)
			}
		}
	}
}

// Dropped counts readings not delivered to slow subscribers.
func (h *Hub) Dropped() uint64 { return h.dropped.Load() }

// Subscribers returns the number of subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}
