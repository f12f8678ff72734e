package metersim

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"gridmeter/internal/dlt645"
)

// Options configure a Simulator.
type Options struct {
	// Seed makes every meter's noise reproducible. A meter's noise depends on the seed
	// and its address only, so adding meters does not change the others.
	Seed int64
	// Meters lists the meters; at least one, with distinct addresses.
	Meters []MeterSpec
	// Clock tells the server the time; nil means RealClock.
	Clock Clock
	// Location is the meters' time zone; nil means ChinaStandardTime (UTC+8).
	Location *time.Location
	// Start is when the meters' energy registers start integrating; zero means
	// Clock.Now() at New.
	Start time.Time
	// ReplyDelay is how long a meter takes to answer (real meters: tens to hundreds of
	// milliseconds); zero answers at once.
	ReplyDelay time.Duration
	// ReplyPreamble sends FE FE FE FE before every reply, as many real meters do.
	ReplyPreamble bool
	// Logger receives connection and protocol events; nil discards them.
	Logger *slog.Logger
}

// Simulator holds a set of meters and serves them.
type Simulator struct {
	meters []*Meter
	byAddr map[dlt645.Address]*Meter
	clock  Clock
	loc    *time.Location
	opts   Options
	log    *slog.Logger
}

// New builds a simulator. It reports an error for an invalid or duplicate address.
func New(opts Options) (*Simulator, error) {
	if len(opts.Meters) == 0 {
		return nil, errors.New("metersim: no meters")
	}
	s := &Simulator{
		byAddr: make(map[dlt645.Address]*Meter, len(opts.Meters)),
		clock:  opts.Clock,
		loc:    opts.Location,
		opts:   opts,
		log:    opts.Logger,
	}
	if s.clock == nil {
		s.clock = RealClock{}
	}
	if s.loc == nil {
		s.loc = ChinaStandardTime
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	start := opts.Start
	if start.IsZero() {
		start = s.clock.Now()
	}
	for _, spec := range opts.Meters {
		m, err := NewMeter(spec, opts.Seed, start, s.loc)
		if err != nil {
			return nil, err
		}
		if _, dup := s.byAddr[m.addr]; dup {
			return nil, fmt.Errorf("metersim: duplicate meter address %s", m.addr)
		}
		s.byAddr[m.addr] = m
		s.meters = append(s.meters, m)
	}
	return s, nil
}

// Meters returns the meters in the order of Options.Meters.
func (s *Simulator) Meters() []*Meter { return append([]*Meter(nil), s.meters...) }

// Meter returns the meter with the given address.
func (s *Simulator) Meter(addr dlt645.Address) (*Meter, bool) {
	m, ok := s.byAddr[addr]
	return m, ok
}

// Clock returns the simulator's clock.
func (s *Simulator) Clock() Clock { return s.clock }

// customerCycle is the mix GenerateMeters deals out: three residential meters for each
// commercial and industrial one, with all three types among the first three meters.
var customerCycle = [...]CustomerType{Residential, Commercial, Industrial, Residential, Residential}

// GenerateMeters returns n meter specs with consecutive addresses from first (12 digits,
// or fewer, left-padded with zeros). Customer types cycle residential, commercial,
// industrial, residential, residential; every seventh meter from the fifth, if
// residential, has a 4 kW solar array that exports at midday.
func GenerateMeters(n int, first string) ([]MeterSpec, error) {
	if n < 1 {
		return nil, fmt.Errorf("metersim: %d meters: want at least 1", n)
	}
	if len(first) == 0 || len(first) > 12 {
		return nil, fmt.Errorf("metersim: first address %q: want 1 to 12 digits", first)
	}
	base, err := strconv.ParseUint(first, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("metersim: first address %q: want decimal digits", first)
	}
	const last = 999999999998 // 999999999999 is the broadcast address
	if base+uint64(n)-1 > last {
		return nil, fmt.Errorf("metersim: %d meters from %012d run past %d", n, base, uint64(last))
	}
	specs := make([]MeterSpec, n)
	for i := range specs {
		specs[i] = MeterSpec{
			Address:  fmt.Sprintf("%012d", base+uint64(i)),
			Customer: customerCycle[i%len(customerCycle)],
		}
		if i%7 == 4 && specs[i].Customer == Residential {
			specs[i].ExportPeakW = 4000
		}
	}
	return specs, nil
}
