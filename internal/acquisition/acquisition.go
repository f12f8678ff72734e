// Package acquisition is the terminal's polling scheduler: per bus one goroutine reads the
// bus's meters strictly one after another (a bus is half-duplex), once per polling slot,
// and makes every reading durable in the journal before anything else sees it. A remote
// bus's goroutine ends after its cycle and a timer starts the next one's (park.go).
//
// A slot is the interval-aligned instant the reading is keyed by (meterdata.Key.Time). A
// reading already journaled for a slot is not read again, so a terminal restarted within a
// slot neither loses nor doubles it. A cycle that does not fit its interval is an overrun
// and is counted per bus.
package acquisition

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"gridmeter/internal/journal"
	"gridmeter/internal/meterdata"
)

// Journal is what acquisition needs of the terminal's journal.
type Journal interface {
	Append(ctx context.Context, rs []meterdata.Reading) ([]journal.Entry, int, error)
	Has(ctx context.Context, k meterdata.Key) (bool, error)
	LastTime(ctx context.Context, m meterdata.MeterID, k meterdata.Kind) (time.Time, bool, error)
	Latest(ctx context.Context, m meterdata.MeterID, k meterdata.Kind, at time.Time) (journal.Entry, bool, error)
	AppendEvents(ctx context.Context, es []journal.Event) (int, error)
}

// ErrNoRecord is what a FrozenReader's error wraps when the meter keeps no record at the
// position asked for (its memory ends there).
var ErrNoRecord = errors.New("no record at this position")

// FrozenReader reads a meter's daily frozen values from its memory: n = 1 is the latest
// freeze, up to the meter's depth. A bus whose meters keep no such memory does not
// implement it.
type FrozenReader interface {
	ReadDailyFrozen(ctx context.Context, address string, n int) (at time.Time, values map[string]int64, err error)
}

// MeterReader reads the current values of one meter on a bus, as meterdata channels.
type MeterReader interface {
	ReadInstant(ctx context.Context, address string) (map[string]int64, error)
}

// Bus is one bus with its reader and meters, polled in the given order.
type Bus struct {
	Name   string
	Reader MeterReader
	Meters []meterdata.Meter
	// RegisterWrap is where the meters' energy registers roll over (Wh); 0 for none known.
	RegisterWrap int64
	// Remote marks a bus reached over the network (a TCP gateway or meter): their cycles
	// run at most Options.RemoteConcurrency at a time. Local serial buses are not bounded.
	Remote bool
}

// DefaultRemoteConcurrency is Options.RemoteConcurrency when left zero.
const DefaultRemoteConcurrency = 64

// Options configure the scheduler.
type Options struct {
	Interval time.Duration // polling slot length for instant values
	// FrozenInterval is how often each meter's daily frozen values are checked for new
	// freezes (and missing ones re-read from its memory); 0 disables. Checked at start too.
	FrozenInterval time.Duration
	// FrozenDepth is how many freezes back a catch-up may read: the meter's memory depth
	// (DL/T 645: 62). Default 62.
	FrozenDepth int
	// FirstFrozen is how many freezes back to read for a meter with none journaled yet.
	// Default 1 (just the latest).
	FirstFrozen int
	// RemoteConcurrency bounds the cycles of Remote buses running at once; default
	// DefaultRemoteConcurrency.
	RemoteConcurrency int
	// Memory configures the settlement, load-profile and status passes (settlement.go,
	// loadprofile.go, status.go); the zero value disables them.
	Memory MemoryOptions
	// OnAppended is called (never blocking the bus) after readings became durable.
	OnAppended func()
	Logger     *slog.Logger
}

// MeterState is what the scheduler knows of one meter.
type MeterState struct {
	LastGood         time.Time // wall-clock time of the last successful read
	Failures         uint64    // failed reads since start
	LastError        string
	LastCounterFault string // "", "bogus zero", "rollover" or "meter exchange" of the last reading

	lastImport int64 // import register of the last plausible reading, Wh
	haveImport bool

	silent         bool // the last read failed (a communications event is open)
	powerDowns     int  // the meter's power-down count at the last pass
	havePowerDowns bool
}

// Scheduler polls buses.
type Scheduler struct {
	buses []Bus
	j     Journal
	opt   Options
	log   *slog.Logger

	mu     sync.Mutex
	meters map[meterdata.MeterID]*MeterState
	remote chan struct{} // semaphore of Remote bus cycles

	// jobs carries commands to each bus's goroutine (by bus name), which runs them before
	// its next meter read; meterBus finds a meter's bus. running is closed when Run returns.
	jobs     map[string]chan job
	meterBus map[meterdata.MeterID]string
	running  chan struct{}
	started  atomic.Bool

	loops  map[string]*busLoop // by bus name
	wg     sync.WaitGroup      // the buses' goroutines
	parked parking

	reads, failures, overruns, cycles atomic.Uint64
	counterFaults, powerDownEvents    atomic.Uint64
	frozen, frozenGaps                atomic.Uint64
	lastCycle                         atomic.Int64 // duration of the last cycle of any bus, ns
	memoryCounters                                 // of the settlement, load-profile and status passes
}

// New validates the buses and returns a scheduler.
func New(buses []Bus, j Journal, opt Options) (*Scheduler, error) {
	if opt.Interval < time.Second {
		return nil, fmt.Errorf("acquisition: interval %s: want at least 1s", opt.Interval)
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.FrozenDepth <= 0 {
		opt.FrozenDepth = 62
	}
	if opt.FirstFrozen <= 0 {
		opt.FirstFrozen = 1
	}
	if opt.RemoteConcurrency <= 0 {
		opt.RemoteConcurrency = DefaultRemoteConcurrency
	}
	mo, err := opt.Memory.normalize()
	if err != nil {
		return nil, err
	}
	opt.Memory = mo
	s := &Scheduler{buses: buses, j: j, opt: opt, log: opt.Logger.With("component", "acquisition"), meters: map[meterdata.MeterID]*MeterState{},
		remote: make(chan struct{}, opt.RemoteConcurrency),
		jobs:   map[string]chan job{}, meterBus: map[meterdata.MeterID]string{}, running: make(chan struct{}),
		loops: map[string]*busLoop{}}
	for _, b := range buses {
		if b.Reader == nil {
			return nil, fmt.Errorf("acquisition: bus %s: no reader", b.Name)
		}
		if _, dup := s.jobs[b.Name]; dup {
			return nil, fmt.Errorf("acquisition: bus %s configured twice", b.Name)
		}
		s.jobs[b.Name] = make(chan job)
		s.loops[b.Name] = &busLoop{b: b}
		for _, m := range b.Meters {
			if _, dup := s.meters[m.ID]; dup {
				return nil, fmt.Errorf("acquisition: meter %s configured twice", m.ID)
			}
			s.meters[m.ID] = &MeterState{}
			s.meterBus[m.ID] = b.Name
		}
	}
	return s, nil
}

// Run polls every bus until ctx is cancelled. A scheduler runs once.
func (s *Scheduler) Run(ctx context.Context) error {
	if s.started.Swap(true) {
		return errors.New("acquisition: scheduler already ran")
	}
	defer close(s.running)
	s.startAll(ctx)
	<-ctx.Done()
	s.stopAll()
	s.wg.Wait()
	return nil
}

// runBus runs the bus's cycles until ctx ends or, for a Remote bus, until it parks between
// two cycles. held: the goroutine starts with the bus's turn (a Remote bus woken by its
// timer); otherwise it first waits for l.next (zero at the start), running commands.
func (s *Scheduler) runBus(ctx context.Context, l *busLoop, held bool) {
	if !held && time.Now().Before(l.next) && !s.idle(ctx, l.b, l.next) {
		return
	}
	for {
		next, ok := s.busCycle(ctx, l, held)
		held = false
		if !ok {
			return
		}
		if !time.Now().Before(next) {
			continue // the next slot has begun already (a long or a late-started cycle): start it at once
		}
		if l.b.Remote && s.park(ctx, l, next) {
			return
		}
		if !s.idle(ctx, l.b, next) {
			return
		}
	}
}

// busCycle reads the bus's meters once and runs its passes, for a Remote bus in its turn
// (held: it has it already). It returns the slot the next cycle is for, false when ctx
// ended.
func (s *Scheduler) busCycle(ctx context.Context, l *busLoop, held bool) (time.Time, bool) {
	b := l.b
	if b.Remote && !held && !s.turn(ctx, b) {
		return time.Time{}, false
	}
	if !l.prepared {
		l.prepared = true
		l.fr, _ = b.Reader.(FrozenReader)
		// Before the first cycle: the load-profile backfill starts from each meter's
		// newest instant slot journaled before it.
		l.mem = s.newMemoryRun(ctx, b, s.opt.Memory, &s.memoryCounters)
	}
	// The slot is the one the cycle actually starts in (after any wait for its turn).
	slot := time.Now().Truncate(s.opt.Interval)
	start := time.Now()
	s.cycle(ctx, b, slot)
	if ctx.Err() == nil && l.fr != nil && s.opt.FrozenInterval > 0 && (l.lastFrozen.IsZero() || time.Since(l.lastFrozen) >= s.opt.FrozenInterval) {
		l.lastFrozen = time.Now()
		s.frozenPass(ctx, b, l.fr)
	}
	if ctx.Err() == nil {
		s.memoryPasses(ctx, b, slot, l.mem)
	}
	if b.Remote {
		s.release()
	}
	if ctx.Err() != nil {
		return time.Time{}, false
	}
	d := time.Since(start)
	s.cycles.Add(1)
	s.lastCycle.Store(int64(d))
	if d > s.opt.Interval {
		s.overruns.Add(1)
		s.log.Warn("acquisition overrun: the cycle did not fit its interval", "bus", b.Name, "cycle", d, "interval", s.opt.Interval)
	}
	return slot.Add(s.opt.Interval), true
}

// idle waits until next, running the bus's commands meanwhile; false when ctx ended.
func (s *Scheduler) idle(ctx context.Context, b Bus, next time.Time) bool {
	t := time.NewTimer(time.Until(next))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case j := <-s.jobs[b.Name]:
			j.done <- j.fn(ctx, b.Reader)
		}
	}
}

// turn waits for a Remote bus's turn (the concurrency bound), running the bus's commands
// meanwhile: a command never waits for the bound; false when ctx ended.
func (s *Scheduler) turn(ctx context.Context, b Bus) bool {
	for {
		select {
		case s.remote <- struct{}{}:
			return true
		case <-ctx.Done():
			return false
		case j := <-s.jobs[b.Name]:
			j.done <- j.fn(ctx, b.Reader)
		}
	}
}

// runJobs runs the commands waiting for the bus, if any, without blocking: called between
// two meters, so a command waits at most one meter's read.
func (s *Scheduler) runJobs(ctx context.Context, b Bus) {
	for {
		select {
		case j := <-s.jobs[b.Name]:
			j.done <- j.fn(ctx, b.Reader)
		default:
			return
		}
	}
}

// job is a command for a bus's goroutine.
type job struct {
	fn   func(ctx context.Context, r MeterReader) error
	done chan error
}

// ErrNotPolled is returned by Exec for a meter the scheduler does not poll.
var ErrNotPolled = errors.New("meter not polled by this terminal (unknown or inactive)")

// ErrStopped is returned by Exec when the scheduler stopped before running the command.
var ErrStopped = errors.New("acquisition stopped")

// Exec runs fn on the goroutine of meter's bus, ahead of the bus's polls: before the next
// meter's read of a cycle in progress, or at once while the bus waits for its next slot.
// fn gets the bus's reader (which the caller may type-assert to a richer interface) and
// the bus goroutine's context. The bus stays strictly sequential: nothing else uses it
// while fn runs. Exec returns fn's error, ErrNotPolled, ErrStopped, or ctx's error while
// waiting for the bus (fn is then not run).
func (s *Scheduler) Exec(ctx context.Context, meter meterdata.MeterID, fn func(ctx context.Context, r MeterReader) error) error {
	name, ok := s.meterBus[meter]
	if !ok {
		return ErrNotPolled
	}
	j := job{fn: fn, done: make(chan error, 1)}
	defer s.handing(s.loops[name])()
	select {
	case s.jobs[name] <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.running:
		return ErrStopped
	}
	return <-j.done
}

// cycle reads every meter of the bus once for slot, skipping those already journaled.
func (s *Scheduler) cycle(ctx context.Context, b Bus, slot time.Time) {
	for _, m := range b.Meters {
		s.runJobs(ctx, b)
		if ctx.Err() != nil {
			return
		}
		key := meterdata.Key{Meter: m.ID, Kind: meterdata.KindInstant, Time: slot.UnixMilli()}
		have, err := s.j.Has(ctx, key)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Error("journal lookup failed", "meter", m.ID, "err", err)
			continue
		}
		if have {
			continue
		}
		vals, err := b.Reader.ReadInstant(ctx, m.Address)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.failed(m.ID, err)
			s.commEvent(ctx, m.ID, true)
			continue
		}
		r := meterdata.Reading{Meter: m.ID, Kind: meterdata.KindInstant, Time: slot.UTC(), Values: vals}
		if fault, prev := s.checkCounters(ctx, &r, b.RegisterWrap); fault != faultNone {
			s.log.Warn("implausible energy register: reading flagged suspect", "meter", m.ID, "fault", fault.describe(prev), "import_wh", r.Values["e_imp"])
		}
		if _, _, err := s.j.Append(ctx, []meterdata.Reading{r}); err != nil {
			s.log.Error("journal append failed: reading not kept", "meter", m.ID, "err", err)
			s.failed(m.ID, err)
			continue
		}
		s.reads.Add(1)
		s.mu.Lock()
		s.meters[m.ID].LastGood = time.Now()
		s.meters[m.ID].LastError = ""
		s.mu.Unlock()
		s.commEvent(ctx, m.ID, false)
		if s.opt.OnAppended != nil {
			s.opt.OnAppended()
		}
	}
}

func (s *Scheduler) failed(id meterdata.MeterID, err error) {
	s.failures.Add(1)
	s.mu.Lock()
	st := s.meters[id]
	st.Failures++
	first := st.LastError == ""
	st.LastError = err.Error()
	s.mu.Unlock()
	if first {
		s.log.Warn("meter read failed", "meter", id, "err", err)
	}
}

// Stats are the scheduler's counters.
type Stats struct {
	Reads, Failures, Overruns, Cycles uint64
	LastCycle                         time.Duration
	Frozen                            uint64 // daily frozen readings journaled
	FrozenGaps                        uint64 // catch-ups that reached beyond a meter's memory
	CounterFaults                     uint64 // readings flagged suspect for their energy register
	PowerDownEvents                   uint64 // meters' power-down records journaled as events
	Settlements                       uint64 // settlement (monthly) readings journaled
	SettlementGaps                    uint64 // settlement catch-ups that reached beyond a meter's 12 settlements
	ProfileBackfilled                 uint64 // instant readings recovered from meters' load profiles
	ProfileGaps                       uint64 // instant slots missed and not recoverable (not kept by the meter, or beyond the depth)
	Statuses                          uint64 // status-word readings journaled
}

// Plus adds the counters of b (a previous scheduler's) to a; LastCycle is b's if set.
func (a Stats) Plus(b Stats) Stats {
	a.Reads += b.Reads
	a.Failures += b.Failures
	a.Overruns += b.Overruns
	a.Cycles += b.Cycles
	if b.LastCycle != 0 {
		a.LastCycle = b.LastCycle
	}
	a.Frozen += b.Frozen
	a.FrozenGaps += b.FrozenGaps
	a.CounterFaults += b.CounterFaults
	a.PowerDownEvents += b.PowerDownEvents
	a.Settlements += b.Settlements
	a.SettlementGaps += b.SettlementGaps
	a.ProfileBackfilled += b.ProfileBackfilled
	a.ProfileGaps += b.ProfileGaps
	a.Statuses += b.Statuses
	return a
}

// Stats returns the counters.
func (s *Scheduler) Stats() Stats {
	return Stats{Reads: s.reads.Load(), Failures: s.failures.Load(), Overruns: s.overruns.Load(),
		Cycles: s.cycles.Load(), LastCycle: time.Duration(s.lastCycle.Load()),
		Frozen: s.frozen.Load(), FrozenGaps: s.frozenGaps.Load(), CounterFaults: s.counterFaults.Load(),
		PowerDownEvents: s.powerDownEvents.Load(), Settlements: s.settlements.Load(), SettlementGaps: s.settlementGaps.Load(),
		ProfileBackfilled: s.profileBackfilled.Load(), ProfileGaps: s.profileGaps.Load(), Statuses: s.statuses.Load()}
}

// Meter returns the state of one meter.
func (s *Scheduler) Meter(id meterdata.MeterID) (MeterState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.meters[id]
	if !ok {
		return MeterState{}, false
	}
	return *st, true
}

// frozenPass reads, for every meter of the bus, the daily freezes newer than the newest
// journaled one, walking back from the latest (n = 1) until it meets what the journal has,
// the meter's memory ends, or FrozenDepth. They are journaled oldest first. A freeze read
// later than two check intervals after its time is flagged backfilled (recovered after an
// acquisition outage). If the catch-up reaches FrozenDepth without meeting the journal, the
// freezes before are beyond the meter's memory: a gap, logged and counted, never invented.
func (s *Scheduler) frozenPass(ctx context.Context, b Bus, fr FrozenReader) {
	pr, hasPowerDowns := b.Reader.(PowerDownReader)
	for _, m := range b.Meters {
		s.runJobs(ctx, b)
		if hasPowerDowns {
			s.powerDowns(ctx, m, pr)
		}
		last, have, err := s.j.LastTime(ctx, m.ID, meterdata.KindDailyFrozen)
		if err != nil {
			s.log.Error("journal lookup failed", "meter", m.ID, "err", err)
			continue
		}
		depth := s.opt.FrozenDepth
		if !have {
			depth = min(depth, s.opt.FirstFrozen)
		}
		var got []meterdata.Reading
		met := !have // a first read has nothing to meet
		for n := 1; n <= depth; n++ {
			at, vals, err := fr.ReadDailyFrozen(ctx, m.Address, n)
			if errors.Is(err, ErrNoRecord) {
				met = true // the meter's memory ends here: nothing older to read
				break
			}
			if err != nil {
				if ctx.Err() == nil {
					s.failed(m.ID, fmt.Errorf("daily frozen %d back: %w", n, err))
				}
				met = true // retried at the next pass
				got = nil
				break
			}
			at = at.UTC()
			if have && !at.After(last) {
				met = true
				break
			}
			r := meterdata.Reading{Meter: m.ID, Kind: meterdata.KindDailyFrozen, Time: at, Values: vals}
			if time.Since(at) > 2*s.opt.FrozenInterval {
				r.Quality = meterdata.QualityBackfilled
			}
			got = append(got, r)
		}
		if !met {
			s.frozenGaps.Add(1)
			from := got[len(got)-1].Time
			s.log.Warn("daily frozen values older than the meter's memory are lost: gap", "meter", m.ID,
				"journaled_until", last, "meter_memory_from", from)
			s.gapEvent(ctx, m.ID, journal.CodeGapDailyFrozen, last, from,
				fmt.Sprintf("daily frozen values after %s and before %s are older than the meter's memory: lost",
					last.Format(time.DateOnly), from.Format(time.DateOnly)))
		}
		if len(got) == 0 {
			continue
		}
		slices.Reverse(got) // oldest first, so sequence numbers follow time
		if _, _, err := s.j.Append(ctx, got); err != nil {
			s.log.Error("journal append failed: frozen values not kept", "meter", m.ID, "err", err)
			continue
		}
		s.frozen.Add(uint64(len(got)))
		if s.opt.OnAppended != nil {
			s.opt.OnAppended()
		}
	}
}

// gapEvent journals a gap (readings between after and before, both exclusive, that the
// meter no longer keeps) as an event for the head-end.
func (s *Scheduler) gapEvent(ctx context.Context, id meterdata.MeterID, code uint8, after, before time.Time, detail string) {
	e := journal.Event{Meter: id, Time: after.UTC(), Log: journal.LogAcquisition, Code: code, On: true, Detail: detail,
		Data: map[string]int64{"from_ms": after.UnixMilli(), "to_ms": before.UnixMilli()}}
	if _, err := s.j.AppendEvents(ctx, []journal.Event{e}); err != nil && ctx.Err() == nil {
		s.log.Error("journal event append failed", "meter", id, "err", err)
	}
}
