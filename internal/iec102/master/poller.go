package master

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// Defaults for Target and Options.
const (
	DefaultInterval       = 15 * time.Minute
	DefaultSessionTimeout = 5 * time.Minute
	DefaultBackfill       = 7 * 24 * time.Hour
	DefaultConcurrency    = 32
	DefaultRetryBase      = 30 * time.Second
	DefaultMaxDrift       = 10 * time.Second
)

// maxNameLen keeps "iec102/<name>" within storage's limit on source names.
const maxNameLen = 100

// Point is one measuring point of a target: its common address, password and the meter
// its readings are stored for.
type Point struct {
	Address  uint16
	Password uint32
	Meter    meterdata.MeterID
}

// Reads selects the steps of a session (link start-up, authentication and end of
// session always run).
type Reads uint8

// Session steps.
const (
	ReadClock   Reads = 1 << iota // read the clock, record the drift, correct it if asked
	ReadCurrent                   // current totals (instant values, group 192)
	ReadProfile                   // hourly load profile since the newest stored instant reading
	ReadDaily                     // daily values since the newest stored daily_frozen reading
	ReadAll     = ReadClock | ReadCurrent | ReadProfile | ReadDaily
)

// Target is one outstation the head-end polls.
type Target struct {
	Name        string // unique; names the source in the conflict log ("iec102/<name>")
	Addr        string // host:port
	LinkAddress uint16
	Points      []Point
	// Timeout bounds connecting and each answer (then the frame is repeated); 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// Retries is how often an unanswered frame is repeated; 0 means
	// iec102.DefaultRetries, negative none.
	Retries int
	// SessionTimeout bounds a whole session; 0 means DefaultSessionTimeout.
	SessionTimeout time.Duration
	// Interval is the polling schedule: sessions start at multiples of Interval (Unix
	// epoch aligned); 0 means DefaultInterval.
	Interval time.Duration
	// Location is the zone of the outstation's time tags; nil means UTC.
	Location *time.Location
	// WhPerCount is the energy of one counter unit: 1 (0 means 1) for Wh, 1000 for kWh.
	WhPerCount int64
	// Reads selects the session steps; 0 means ReadAll.
	Reads Reads
	// CorrectClock sets the outstation's clock when its drift exceeds Options.MaxDrift.
	CorrectClock bool
	// Backfill is how far back the first session reads when nothing is stored for a
	// meter; 0 means DefaultBackfill.
	Backfill time.Duration
}

func (t Target) withDefaults() Target {
	if t.Timeout <= 0 {
		t.Timeout = DefaultTimeout
	}
	if t.SessionTimeout <= 0 {
		t.SessionTimeout = DefaultSessionTimeout
	}
	if t.Interval <= 0 {
		t.Interval = DefaultInterval
	}
	if t.Location == nil {
		t.Location = time.UTC
	}
	if t.WhPerCount <= 0 {
		t.WhPerCount = 1
	}
	if t.Reads == 0 {
		t.Reads = ReadAll
	}
	if t.Backfill <= 0 {
		t.Backfill = DefaultBackfill
	}
	return t
}

// Validate names the first bad field.
func (t Target) Validate() error {
	if t.Name == "" || len(t.Name) > maxNameLen {
		return fmt.Errorf("iec102 target %.80q: want a name of 1 to %d bytes", t.Name, maxNameLen)
	}
	if _, _, err := net.SplitHostPort(t.Addr); err != nil {
		return fmt.Errorf("iec102 target %s: addr %q: %w", t.Name, t.Addr, err)
	}
	if len(t.Points) == 0 {
		return fmt.Errorf("iec102 target %s: no measuring points", t.Name)
	}
	seen := map[uint16]bool{}
	for i, p := range t.Points {
		if seen[p.Address] {
			return fmt.Errorf("iec102 target %s: Points[%d]: address %d twice", t.Name, i, p.Address)
		}
		seen[p.Address] = true
		if err := p.Meter.Validate(); err != nil {
			return fmt.Errorf("iec102 target %s: Points[%d]: %w", t.Name, i, err)
		}
	}
	if t.WhPerCount < 0 {
		return fmt.Errorf("iec102 target %s: WhPerCount %d: want >= 0", t.Name, t.WhPerCount)
	}
	return nil
}

// Store is what the master needs of the head-end's storage (storage.Store implements
// it): the exactly-once write of the IEC 102 path, and the newest stored reading of a
// meter and kind to know where to resume (storage.ErrNotFound if none).
type Store interface {
	StoreReadings(ctx context.Context, source string, rs []meterdata.Reading) (storage.BatchResult, error)
	LatestReading(ctx context.Context, meter meterdata.MeterID, kind meterdata.Kind) (meterdata.Reading, error)
}

// Options tune a Poller. The zero value is usable.
type Options struct {
	// Concurrency bounds the sessions running at once; 0 means DefaultConcurrency.
	Concurrency int
	// RetryBase is the wait after a failed session; it doubles with every further
	// failure up to the target's Interval. 0 means DefaultRetryBase.
	RetryBase time.Duration
	// MaxDrift is the clock drift above which a session records a drift event (and
	// corrects the clock if the target says so); 0 means DefaultMaxDrift.
	MaxDrift time.Duration
	// Now is the clock of schedules and backfill ranges; nil means time.Now.
	Now func() time.Time
	// Dial opens a connection; nil dials TCP.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// OnResult, if set, is called after every session, from the session's goroutine.
	OnResult func(Result)
	Logger   *slog.Logger
}

// PointResult is what a session did for one measuring point.
type PointResult struct {
	Address  uint16
	Meter    meterdata.MeterID
	Readings int   // readings read (stored or not)
	Err      error // the step that failed, if any
}

// Result is what one session did.
type Result struct {
	Target   string
	Start    time.Time
	Duration time.Duration
	// Clock is the outstation's clock as read, if ReadClock ran; DriftEvent reports a
	// drift beyond Options.MaxDrift, ClockSet a correction (ClockErr if it failed).
	Clock      *Clock
	DriftEvent bool
	ClockSet   bool
	ClockErr   error
	Points     []PointResult
	Readings   int                 // readings handed to the store
	Stored     storage.BatchResult // what the store did with them
	Err        error               // nil only if every step of every point succeeded
	// Failed says the session could not run to its end: no connection, a link failure or
	// timeout, or storing failed. Run then retries after the backoff. A refusal of single
	// requests (a negative confirmation: wrong password, a read the outstation does not
	// serve) fails only that step (Err, Points[i].Err) and the schedule goes on.
	Failed bool
}

// Poller polls targets on their schedules and on demand, with a bound on concurrent
// sessions; a slow or silent outstation holds one slot for at most its session timeout
// and then backs off, so it never stalls the others.
type Poller struct {
	store   Store
	opt     Options
	log     *slog.Logger
	sem     chan struct{}
	targets []*targetState
	byName  map[string]*targetState
}

type targetState struct {
	t       Target
	trigger chan struct{}
	session sync.Mutex // one session per target at a time

	mu       sync.Mutex
	last     Result
	failures int
	next     time.Time
}

// NewPoller validates the targets and returns a poller storing into store.
func NewPoller(store Store, targets []Target, opt Options) (*Poller, error) {
	if store == nil {
		return nil, errors.New("iec102 master: no store")
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = DefaultConcurrency
	}
	if opt.RetryBase <= 0 {
		opt.RetryBase = DefaultRetryBase
	}
	if opt.MaxDrift <= 0 {
		opt.MaxDrift = DefaultMaxDrift
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Dial == nil {
		opt.Dial = func(ctx context.Context, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	p := &Poller{store: store, opt: opt, log: opt.Logger.With("component", "iec102-master"),
		sem: make(chan struct{}, opt.Concurrency), byName: map[string]*targetState{}}
	for i, t := range targets {
		if err := t.Validate(); err != nil {
			return nil, fmt.Errorf("targets[%d]: %w", i, err)
		}
		if p.byName[t.Name] != nil {
			return nil, fmt.Errorf("targets[%d]: name %q used twice", i, t.Name)
		}
		ts := &targetState{t: t.withDefaults(), trigger: make(chan struct{}, 1)}
		p.targets = append(p.targets, ts)
		p.byName[t.Name] = ts
	}
	return p, nil
}

// Run polls every target on its schedule, and at once when Trigger asks, until ctx is
// cancelled; it returns after every session has ended. A target's first session starts
// at once; after a session the next starts at the next multiple of its Interval, after a
// failed one (Result.Failed) after the backoff: RetryBase doubled per failure in a row, at
// most Interval.
func (p *Poller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, ts := range p.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.runTarget(ctx, ts)
		}()
	}
	wg.Wait()
	return nil
}

func (p *Poller) runTarget(ctx context.Context, ts *targetState) {
	ts.mu.Lock()
	ts.next = p.opt.Now()
	ts.mu.Unlock()
	for {
		ts.mu.Lock()
		wait := ts.next.Sub(p.opt.Now())
		ts.mu.Unlock()
		if wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			case <-ts.trigger:
				timer.Stop()
			}
		}
		res, ok := p.poll(ctx, ts)
		if !ok {
			return
		}
		now := p.opt.Now()
		ts.mu.Lock()
		if res.Failed {
			ts.failures++
			backoff := p.opt.RetryBase << min(ts.failures-1, 30)
			ts.next = now.Add(min(backoff, ts.t.Interval))
		} else {
			ts.failures = 0
			ts.next = now.Truncate(ts.t.Interval).Add(ts.t.Interval)
		}
		ts.mu.Unlock()
	}
}

// poll runs one session of ts within the concurrency bound; ok is false if ctx ended
// before it could start.
func (p *Poller) poll(ctx context.Context, ts *targetState) (Result, bool) {
	// The target's own lock first: a session waiting for another of the same target
	// (PollAll during Run) must not hold a slot meanwhile.
	ts.session.Lock()
	defer ts.session.Unlock()
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return Result{}, false
	}
	defer func() { <-p.sem }()
	res, _ := p.PollOnce(ctx, ts.t)
	ts.mu.Lock()
	ts.last = res
	ts.mu.Unlock()
	return res, true
}

// Trigger asks Run to poll the named target now (or as soon as its running session
// ends). It does not wait; triggers while one is pending coalesce.
func (p *Poller) Trigger(name string) error {
	ts := p.byName[name]
	if ts == nil {
		return fmt.Errorf("iec102 master: no target %q", name)
	}
	select {
	case ts.trigger <- struct{}{}:
	default:
	}
	return nil
}

// PollAll runs one session of every target now, within the concurrency bound, and
// returns the results in the targets' order.
func (p *Poller) PollAll(ctx context.Context) []Result {
	out := make([]Result, len(p.targets))
	var wg sync.WaitGroup
	for i, ts := range p.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, ok := p.poll(ctx, ts)
			if !ok {
				res = Result{Target: ts.t.Name, Err: ctx.Err()}
			}
			out[i] = res
		}()
	}
	wg.Wait()
	return out
}

// TargetStatus is what the poller knows of a target.
type TargetStatus struct {
	Name     string
	Last     Result    // the last session (zero if none yet)
	Failures int       // failed sessions (Result.Failed) in a row
	Next     time.Time // when Run polls it next (zero before Run)
}

// Status returns every target's status in configuration order.
func (p *Poller) Status() []TargetStatus {
	out := make([]TargetStatus, len(p.targets))
	for i, ts := range p.targets {
		ts.mu.Lock()
		out[i] = TargetStatus{Name: ts.t.Name, Last: ts.last, Failures: ts.failures, Next: ts.next}
		ts.mu.Unlock()
	}
	return out
}
