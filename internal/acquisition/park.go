package acquisition

import (
	"context"
	"slices"
	"sync"
	"time"
)

// A Remote bus does not keep a goroutine between its cycles: after a cycle its goroutine
// ends (the bus parks) and a timer wakes the bus at its next slot. Woken, it gets a
// goroutine only once it has its turn (Options.RemoteConcurrency); until then it waits in
// a queue, and every end of a turn hands the freed turn to the queue's head. A thousand
// single-meter TCP buses thus hold at most RemoteConcurrency goroutines and their stacks
// (4 to 8 KiB each when idle), not a thousand: 5 MB less in a terminal's 16 MiB budget
// (docs/terminal.md, Footprint). A command for a parked or queued bus starts its goroutine
// at once, as a command never waits for the bound. Local (serial) buses keep their
// goroutine: they are few.
//
// Ownership: the goroutine running a bus owns its busLoop's polling state; the state
// below moves under parking.mu, and a goroutine starts only under it.

// busState is where a bus stands between its goroutine's runs.
type busState uint8

const (
	busRunning busState = iota // a goroutine runs the bus (or Run is about to start one)
	busParked                  // waiting for its next slot; its timer wakes it
	busQueued                  // its slot has come; waiting for a turn in parking.queue
)

// busLoop is one bus and the polling state carried from one of its cycles to the next.
type busLoop struct {
	b Bus

	// Owned by the goroutine running the bus.
	prepared   bool         // the passes are set up (before the first cycle)
	fr         FrozenReader // nil: the bus reads no daily frozen values
	lastFrozen time.Time
	mem        *memoryRun

	// Under parking.mu.
	state   busState
	next    time.Time   // the slot a parked or queued bus waits for
	timer   *time.Timer // wakes the parked bus; made at its first park
	pending int         // commands being handed to the bus: it does not park meanwhile
}

// parking is the scheduler's state of parked and queued buses.
type parking struct {
	mu      sync.Mutex
	ctx     context.Context // Run's, for the goroutines a timer or a command starts
	queue   []*busLoop      // woken Remote buses waiting for a turn, first come first served
	stopped bool            // Run is ending: start no goroutine
}

// startAll starts the buses: each local bus gets its goroutine, each Remote bus one when it
// has its turn.
func (s *Scheduler) startAll(ctx context.Context) {
	p := &s.parked
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ctx = ctx
	for _, b := range s.buses {
		l := s.loops[b.Name]
		if b.Remote {
			l.state = busParked
			s.wakeLocked(l)
		} else {
			s.goLocked(l, false)
		}
	}
}

// stopAll, once Run's ctx is done, keeps parked and queued buses from starting again.
func (s *Scheduler) stopAll() {
	p := &s.parked
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	p.queue = nil
	for _, l := range s.loops {
		if l.timer != nil {
			l.timer.Stop()
		}
	}
}

// goLocked starts the bus's goroutine; held: with the bus's turn.
func (s *Scheduler) goLocked(l *busLoop, held bool) {
	l.state = busRunning
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.runBus(s.parked.ctx, l, held)
	}()
}

// wakeLocked starts a parked bus whose slot has come if it gets a turn at once, and
// queues it for one otherwise.
func (s *Scheduler) wakeLocked(l *busLoop) {
	if s.parked.stopped || l.state != busParked {
		return // a command started it meanwhile
	}
	select {
	case s.remote <- struct{}{}:
		s.goLocked(l, true)
	default:
		l.state = busQueued
		s.parked.queue = append(s.parked.queue, l)
	}
}

// park ends the goroutine of a Remote bus until next, unless a command is being handed to
// the bus. It reports whether the caller is to return (also when Run is ending).
func (s *Scheduler) park(ctx context.Context, l *busLoop, next time.Time) bool {
	p := &s.parked
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped || ctx.Err() != nil {
		return true
	}
	if l.pending > 0 {
		return false
	}
	l.state, l.next = busParked, next
	if l.timer == nil {
		l.timer = time.AfterFunc(time.Until(next), func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			s.wakeLocked(l)
		})
	} else {
		l.timer.Reset(time.Until(next))
	}
	return true
}

// release ends a Remote bus's turn and hands the freed turns to the queued buses.
func (s *Scheduler) release() {
	<-s.remote
	p := &s.parked
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.queue) > 0 && !p.stopped {
		select {
		case s.remote <- struct{}{}:
		default:
			return // a bus waiting in turn took it; its release comes back here
		}
		l := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		s.goLocked(l, true)
	}
	if len(p.queue) == 0 {
		p.queue = nil // let the drained backing array go
	}
}

// handing marks a command being handed to the bus, starting the goroutine of a parked or
// queued bus (which then waits for its slot, running commands); the returned func ends
// the mark.
func (s *Scheduler) handing(l *busLoop) func() {
	p := &s.parked
	p.mu.Lock()
	defer p.mu.Unlock()
	l.pending++
	if !p.stopped {
		switch l.state {
		case busParked:
			if l.timer != nil {
				// If it fired already, its wake finds the bus running and does nothing;
				// should the bus have parked again by then, it wakes early and its cycle
				// finds the slot's readings journaled.
				l.timer.Stop()
			}
			s.goLocked(l, false)
		case busQueued:
			p.queue = slices.DeleteFunc(p.queue, func(q *busLoop) bool { return q == l })
			s.goLocked(l, false)
		}
	}
	return func() {
		p.mu.Lock()
		l.pending--
		p.mu.Unlock()
	}
}
