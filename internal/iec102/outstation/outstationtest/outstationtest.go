// Package outstationtest provides what tests and benchmarks of IEC 102 masters need to
// run real outstations: an in-memory journal (MemorySource) and a helper starting an
// outstation on a loopback port for the duration of a test.
package outstationtest

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"gridmeter/internal/iec102/outstation"
	"gridmeter/internal/journal"
	"gridmeter/internal/meterdata"
)

// MemorySource is an outstation.Source over readings held in memory, as a journal would
// return them. It is safe for concurrent use.
type MemorySource struct {
	mu      sync.RWMutex
	seq     uint64
	entries map[key][]journal.Entry // time order
	Err     error                   // if set, every query fails with it
}

type key struct {
	meter meterdata.MeterID
	kind  meterdata.Kind
}

// NewMemorySource returns a source holding rs.
func NewMemorySource(rs ...meterdata.Reading) *MemorySource {
	s := &MemorySource{entries: map[key][]journal.Entry{}}
	s.Add(rs...)
	return s
}

// Add journals readings; a reading whose key is held already is skipped, as the journal
// does.
func (s *MemorySource) Add(rs ...meterdata.Reading) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rs {
		r = r.Normalize()
		k := key{r.Meter, r.Kind}
		es := s.entries[k]
		i := sort.Search(len(es), func(i int) bool { return !es[i].Reading.Time.Before(r.Time) })
		if i < len(es) && es[i].Reading.Time.Equal(r.Time) {
			continue
		}
		s.seq++
		s.entries[k] = slices.Insert(es, i, journal.Entry{Seq: s.seq, Reading: r, Appended: r.Time})
	}
}

// Latest implements outstation.Source.
func (s *MemorySource) Latest(_ context.Context, meter meterdata.MeterID, kind meterdata.Kind, at time.Time) (journal.Entry, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.Err != nil {
		return journal.Entry{}, false, s.Err
	}
	es := s.entries[key{meter, kind}]
	ms := at.UnixMilli()
	i := sort.Search(len(es), func(i int) bool { return es[i].Reading.Time.UnixMilli() > ms })
	if i == 0 {
		return journal.Entry{}, false, nil
	}
	return es[i-1], true, nil
}

// Readings implements outstation.Source.
func (s *MemorySource) Readings(_ context.Context, meter meterdata.MeterID, kind meterdata.Kind, from, to time.Time, limit int) ([]journal.Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.Err != nil {
		return nil, s.Err
	}
	es := s.entries[key{meter, kind}]
	i := sort.Search(len(es), func(i int) bool { return !es[i].Reading.Time.Before(from) })
	var out []journal.Entry
	for ; i < len(es) && es[i].Reading.Time.Before(to) && len(out) < limit; i++ {
		out = append(out, es[i])
	}
	return out, nil
}

// Loopback is the allow-list of local masters.
var Loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// Start serves cfg from src on a fresh loopback port until the test ends and returns the
// server and its address. cfg.AllowedMasters defaults to Loopback, cfg.Logger to one
// that discards.
func Start(tb testing.TB, cfg outstation.Config, src outstation.Source) (*outstation.Server, string) {
	tb.Helper()
	if cfg.AllowedMasters == nil {
		cfg.AllowedMasters = Loopback
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := outstation.New(cfg, src)
	if err != nil {
		tb.Fatalf("outstation.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
	return srv, ln.Addr().String()
}
