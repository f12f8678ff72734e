package metersim

import (
	"sync"
	"time"
)

// Clock tells the simulator's server what time it is; the meter model itself takes
// times as arguments.
type Clock interface {
	Now() time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// VirtualClock runs speed times faster than real time from a start instant, so a demo
// can show a day of load in minutes. It is safe for concurrent use.
type VirtualClock struct {
	start  time.Time // virtual instant at origin
	origin time.Time // real instant the clock was created
	speed  float64
}

// NewVirtualClock returns a clock that reads start now and then advances speed virtual
// seconds per real second (speed ≤ 0 is taken as 1).
func NewVirtualClock(start time.Time, speed float64) *VirtualClock {
	if speed <= 0 {
		speed = 1
	}
	return &VirtualClock{start: start, origin: time.Now(), speed: speed}
}

// Now returns the virtual time.
func (c *VirtualClock) Now() time.Time {
	elapsed := time.Since(c.origin)
	return c.start.Add(time.Duration(float64(elapsed) * c.speed))
}

// ManualClock stands still until told to move: for tests.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewManualClock returns a clock reading t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
