package master_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sort"
	"sync"
	"time"

	"gridmeter/internal/iec102/outstation"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
	"gridmeter/internal/storage/batchplan"
)

var (
	quiet  = slog.New(slog.DiscardHandler)
	meter1 = meterdata.MeterID("T1.bus1.000000000001")
	meter2 = meterdata.MeterID("T1.bus1.000000000002")
)

// instants returns the instant readings a terminal journals every 15 minutes for n slots
// from start: all the channels of a DL/T 645 meter, e_imp growing by 250 Wh per slot.
func instants(m meterdata.MeterID, start time.Time, n int) []meterdata.Reading {
	rs := make([]meterdata.Reading, n)
	for i := range rs {
		rs[i] = meterdata.Reading{Meter: m, Kind: meterdata.KindInstant, Time: start.Add(time.Duration(i) * 15 * time.Minute),
			Values: map[string]int64{
				"u_a": 230_100, "u_b": 229_800, "u_c": 231_000, "i_a": 5_123, "i_b": 4_987, "i_c": 5_001,
				"p": 3_456_789, "p_a": 1_100_000, "p_b": 1_200_000, "p_c": 1_156_789, "q": 123_456, "pf": 987, "f": 50_010,
				"e_imp": 12_345_678 + 250*int64(i), "e_imp_t1": 1_000_000, "e_exp": 4_321 + int64(i),
			}}
	}
	return rs
}

func dailies(m meterdata.MeterID, start time.Time, n int) []meterdata.Reading {
	rs := make([]meterdata.Reading, n)
	for i := range rs {
		rs[i] = meterdata.Reading{Meter: m, Kind: meterdata.KindDailyFrozen, Time: start.AddDate(0, 0, i),
			Values: map[string]int64{"e_imp": 12_000_000 + 24_000*int64(i), "e_exp": 4_000, "e_imp_t1": 900_000}}
	}
	return rs
}

// memStore is a master.Store in memory with StoreReadings' rules.
type memStore struct {
	mu    sync.Mutex
	rows  map[meterdata.Key]meterdata.Reading
	calls int
}

func newMemStore() *memStore { return &memStore{rows: map[meterdata.Key]meterdata.Reading{}} }

func (m *memStore) StoreReadings(_ context.Context, _ string, rs []meterdata.Reading) (storage.BatchResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	var res storage.BatchResult
	for _, r := range rs {
		if err := r.Validate(); err != nil {
			return storage.BatchResult{}, err
		}
	}
	for _, r := range rs {
		r = r.Normalize()
		old, ok := m.rows[r.Key()]
		switch {
		case !ok:
			m.rows[r.Key()] = r
			res.Inserted++
		case batchplan.Covers(old, r):
			res.Duplicates++
		case batchplan.Extends(old, r):
			m.rows[r.Key()] = batchplan.Complete(old, r)
			res.Completed++
		default:
			res.Conflicts++
		}
	}
	return res, nil
}

func (m *memStore) LatestReading(_ context.Context, meter meterdata.MeterID, kind meterdata.Kind) (meterdata.Reading, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var best meterdata.Reading
	found := false
	for k, r := range m.rows {
		if k.Meter == meter && k.Kind == kind && (!found || r.Time.After(best.Time)) {
			best, found = r, true
		}
	}
	if !found {
		return meterdata.Reading{}, storage.ErrNotFound
	}
	return best, nil
}

func (m *memStore) times(meter meterdata.MeterID, kind meterdata.Kind) []time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []time.Time
	for k, r := range m.rows {
		if k.Meter == meter && k.Kind == kind {
			out = append(out, r.Time)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// pipeNet connects masters to outstations over net.Pipe, so that tests can run in a
// synctest bubble: Dial(addr) hands one end to the handler registered for addr.
type pipeNet struct {
	mu       sync.Mutex
	handlers map[string]func(net.Conn)
}

func newPipeNet() *pipeNet { return &pipeNet{handlers: map[string]func(net.Conn){}} }

func (n *pipeNet) Dial(_ context.Context, addr string) (net.Conn, error) {
	n.mu.Lock()
	h := n.handlers[addr]
	n.mu.Unlock()
	if h == nil {
		return nil, errors.New("connection refused")
	}
	c, s := net.Pipe()
	go h(s)
	return c, nil
}

// silent registers an outstation that accepts and reads everything and never answers,
// as a TCP peer whose application hangs.
func (n *pipeNet) silent(addr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.handlers[addr] = func(c net.Conn) {
		io.Copy(io.Discard, c)
		c.Close()
	}
}

// serve registers an outstation, each connection going through wrap if set.
func (n *pipeNet) serve(ctx context.Context, addr string, srv *outstation.Server, wrap func(net.Conn) net.Conn) {
	ln := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
	go srv.Serve(ctx, ln)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.handlers[addr] = func(c net.Conn) {
		c = loopbackConn{c}
		if wrap != nil {
			c = wrap(c)
		}
		select {
		case ln.conns <- c:
		case <-ln.done:
			c.Close()
		}
	}
}

// loopbackConn makes a pipe end look like a TCP connection from 127.0.0.1.
type loopbackConn struct{ net.Conn }

func (loopbackConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}

type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 20102} }

// dropWrites loses the writes numbered in drop (from 1): the outstation's answers that
// never arrive.
type dropWrites struct {
	net.Conn
	mu   sync.Mutex
	n    int
	drop map[int]bool
}

func (d *dropWrites) Write(b []byte) (int, error) {
	d.mu.Lock()
	d.n++
	lost := d.drop[d.n]
	d.mu.Unlock()
	if lost {
		return len(b), nil
	}
	return d.Conn.Write(b)
}
