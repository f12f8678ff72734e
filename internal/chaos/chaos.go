// Package chaos is the fault-injection suite: it runs the real binaries (metersim, headend
// with its embedded broker, terminals) as separate processes, and while readings flow it
// kills the terminals and the head-end with SIGKILL at random moments (the embedded broker
// dies and restarts with the head-end), cuts the network between terminals and broker
// through a relay it controls, and cuts meters' power (outages scheduled in the simulator).
// With an external broker (Options.Broker "external") it runs Mosquitto itself, the
// head-end connecting to it as a client, and restarts the broker (SIGKILL, then the same
// port and configuration) as one more kind of disruption. Afterwards it accounts, per meter,
// for every polling slot of the period: stored exactly once, or a gap explained by a
// terminal outage.
//
// Used by `make chaos` (cmd/gridmeter-chaos) and, in a shorter form, by the e2e tests.
package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"gridmeter/internal/auth"
	"gridmeter/internal/broker"
	"gridmeter/internal/journal"
	"gridmeter/internal/meterdata"
)

// Options configure a run.
type Options struct {
	BinDir            string // holds headend, terminal and metersim
	WorkDir           string // configurations, databases, journals and process logs
	Events            int    // disruptions: kills, broker restarts and network cuts
	Terminals         int    // default 2
	MetersPerTerminal int    // default 3
	Interval          time.Duration
	MinPause          time.Duration // between disruptions; default 300 ms
	MaxPause          time.Duration // default 2 s
	Seed              int64
	Log               io.Writer // progress; nil discards

	// Broker is "embedded" (the default: the head-end's own broker, which dies and restarts
	// with it) or "external": a Mosquitto the runner starts on a free port with a password
	// file and the contract's ACL, and restarts itself at random moments.
	Broker string
	// Mosquitto is the external broker's binary; default "mosquitto" on PATH
	// (mosquitto_passwd is taken from beside it, or from PATH).
	Mosquitto string
	// BrokerVolatile turns the external broker's persistence off, so its sessions, queued
	// messages and retained messages die with it. Nothing may be lost either way: the
	// terminal releases a reading only on the head-end's application ack, never on the
	// broker's PUBACK.
	BrokerVolatile bool
}

// Broker modes of Options.Broker.
const (
	BrokerEmbedded = "embedded"
	BrokerExternal = "external"
)

// Result is the accounting of a run.
type Result struct {
	Broker                                           string // embedded, external/persistent or external/volatile
	Events, TerminalKills, HeadEndKills, NetworkCuts int
	BrokerRestarts                                   int // external broker only
	PowerCuts                                        int // meter outages scheduled in the simulator
	Journaled                                        int // readings the terminals journaled
	Stored                                           int // readings of the chaos terminals' meters stored in the head-end
	Lost                                             int // journaled but not stored
	Duplicated                                       int // stored more than once for one key
	Mismatched                                       int // stored with other values than journaled
	Phantoms                                         int // stored but never journaled
	Gaps                                             int // polling slots of the period with no reading
	GapsExplained                                    int // gaps whose slot overlaps an outage of the meter's terminal
	Duration                                         time.Duration
}

// String prints the figures on one line.
func (r Result) String() string {
	restarts := ""
	if strings.HasPrefix(r.Broker, BrokerExternal) {
		restarts = fmt.Sprintf(" broker restarts=%d", r.BrokerRestarts)
	}
	return fmt.Sprintf("broker=%s events=%d (terminal kills=%d head-end kills=%d%s network cuts=%d) meter power cuts=%d journaled=%d stored=%d lost=%d duplicated=%d mismatched=%d phantoms=%d gaps=%d gaps_explained=%d duration=%s",
		r.Broker, r.Events, r.TerminalKills, r.HeadEndKills, restarts, r.NetworkCuts, r.PowerCuts, r.Journaled, r.Stored, r.Lost, r.Duplicated, r.Mismatched, r.Phantoms, r.Gaps, r.GapsExplained, r.Duration.Round(time.Second))
}

// OK reports whether nothing was lost, doubled, altered or invented. Gaps are reported, not
// judged here: a slot the terminal could not poll in time (an overrun on a starved machine)
// is a real gap too, and the terminal does not record its own gaps yet, so only gaps that
// overlap a terminal outage count as explained.
func (r Result) OK() bool {
	return r.Lost == 0 && r.Duplicated == 0 && r.Mismatched == 0 && r.Phantoms == 0
}

type outage struct{ from, to time.Time }

type runner struct {
	opt      Options
	rnd      *rand.Rand
	log      io.Writer
	httpAddr string
	password string

	sim      *proc
	headend  *proc
	mosq     *mosquitto // external broker; nil when embedded
	terms    []*proc
	termIDs  []string
	meters   map[string][]meterdata.MeterID // terminal → meters
	proxy    *proxy
	mu       sync.Mutex
	outages  map[string][]outage            // terminal → when it was down
	powerCut map[meterdata.MeterID][]outage // meter → when the simulator cut its power
	start    time.Time
	simStop  time.Time
	firstUp  map[string]time.Time
	cancelPx context.CancelFunc
}

// Run executes a chaos run.
func Run(ctx context.Context, opt Options) (Result, error) {
	if opt.Terminals <= 0 {
		opt.Terminals = 2
	}
	if opt.MetersPerTerminal <= 0 {
		opt.MetersPerTerminal = 3
	}
	if opt.Interval <= 0 {
		opt.Interval = time.Second
	}
	if opt.MinPause <= 0 {
		opt.MinPause = 300 * time.Millisecond
	}
	if opt.MaxPause <= opt.MinPause {
		opt.MaxPause = opt.MinPause + 2*time.Second
	}
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	mode := BrokerEmbedded
	switch opt.Broker {
	case "", BrokerEmbedded:
		opt.Broker = BrokerEmbedded
	case BrokerExternal:
		mode = BrokerExternal + "/persistent"
		if opt.BrokerVolatile {
			mode = BrokerExternal + "/volatile"
		}
	default:
		return Result{}, fmt.Errorf("broker %q: want %s or %s", opt.Broker, BrokerEmbedded, BrokerExternal)
	}
	r := &runner{opt: opt, rnd: rand.New(rand.NewSource(opt.Seed)), log: opt.Log, meters: map[string][]meterdata.MeterID{},
		outages: map[string][]outage{}, firstUp: map[string]time.Time{}, powerCut: map[meterdata.MeterID][]outage{}}
	defer r.stopAll()
	if err := r.setup(ctx); err != nil {
		return Result{}, err
	}
	res, err := r.disrupt(ctx)
	res.Broker = mode
	for _, cuts := range r.powerCut {
		res.PowerCuts += len(cuts)
	}
	if err != nil {
		return res, err
	}
	if err := r.drain(ctx); err != nil {
		return res, err
	}
	return r.account(ctx, res)
}

func (r *runner) logf(format string, a ...any) {
	fmt.Fprintf(r.log, "%s chaos: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, a...))
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (r *runner) setup(ctx context.Context) error {
	dir := r.opt.WorkDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// Meters, with power cuts scheduled at random moments over the expected run (the
	// simulator takes them from a scenario file: silent, registers flat, a power-down record).
	total := r.opt.Terminals * r.opt.MetersPerTerminal
	scenario, err := r.scenario(total)
	if err != nil {
		return err
	}
	r.sim = newProc("metersim", filepath.Join(r.opt.BinDir, "metersim"), dir,
		"-listen", "127.0.0.1:0", "-scenario", scenario, "-seed", fmt.Sprint(r.opt.Seed+1))
	simAddr, err := r.sim.startAndWaitLine(ctx, "metersim: dlt645 listening on ")
	if err != nil {
		return err
	}
	simAddr = strings.Fields(simAddr)[0]

	// Head-end with its embedded broker on fixed ports (they must survive its restarts), or
	// an external broker on a fixed port the head-end connects to.
	if r.httpAddr, err = freePort(); err != nil {
		return err
	}
	r.password = "chaos-admin"
	pwHash, err := auth.HashPassword(r.password, 1000)
	if err != nil {
		return err
	}
	// Broker logins: the head-end's service account and one per terminal, listed in the
	// head-end's configuration (the embedded broker's password list) and, for an external
	// broker, in its password file too.
	const headendPassword = "chaos-headend"
	logins := map[string]string{"headend": headendPassword}
	var tb strings.Builder
	for i := 1; i <= r.opt.Terminals; i++ {
		id := fmt.Sprintf("C%d", i)
		r.termIDs = append(r.termIDs, id)
		logins[id] = "secret-" + id
		fmt.Fprintf(&tb, "  - id: %s\n    secret_sha256: %s\n", id, broker.HashSecret(logins[id]))
	}
	var brokerAddr, mqttCfg string
	if r.opt.Broker == BrokerExternal {
		if r.mosq, err = newMosquitto(dir, r.opt.Mosquitto, logins, !r.opt.BrokerVolatile); err != nil {
			return err
		}
		if err := r.mosq.start(ctx); err != nil {
			return err
		}
		brokerAddr = r.mosq.addr
		mqttCfg = fmt.Sprintf("  url: mqtt://%s\n", brokerAddr)
	} else {
		if brokerAddr, err = freePort(); err != nil {
			return err
		}
		mqttCfg = fmt.Sprintf("  embedded:\n    listen: %s\n", brokerAddr)
	}
	hcfg := fmt.Sprintf(`http:
  listen: %s
storage:
  backend: sqlite
  sqlite_path: %s
mqtt:
%s  client_id: headend
  username: headend
  password: %s
terminals:
%susers:
  - name: admin
    role: admin
    password_hash: %s
`, r.httpAddr, filepath.Join(dir, "headend.db"), mqttCfg, headendPassword, tb.String(), pwHash)
	if err := os.WriteFile(filepath.Join(dir, "headend.yaml"), []byte(hcfg), 0o600); err != nil {
		return err
	}
	r.headend = newProc("headend", filepath.Join(r.opt.BinDir, "headend"), dir, "-config", filepath.Join(dir, "headend.yaml"))
	if err := r.startHeadEnd(ctx); err != nil {
		return err
	}

	// The network between terminals and broker runs through our relay.
	r.proxy, err = newProxy(brokerAddr)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(context.Background())
	r.cancelPx = cancel
	go r.proxy.serve(pctx)

	// Terminals.
	for i, id := range r.termIDs {
		var mb strings.Builder
		for m := 0; m < r.opt.MetersPerTerminal; m++ {
			addr := fmt.Sprintf("%012d", 5001+i*r.opt.MetersPerTerminal+m)
			fmt.Fprintf(&mb, "      - address: %q\n", addr)
			mid, _ := meterdata.NewMeterID(id, "bus1", addr)
			r.meters[id] = append(r.meters[id], mid)
		}
		tcfg := fmt.Sprintf(`id: %s
journal_path: %s
mqtt:
  url: mqtt://%s
  password: secret-%s
acquisition:
  instant_interval: %s
buses:
  - name: bus1
    dlt645_tcp: %s
    response_timeout: 500ms
    retries: 1
    meters:
%s`, id, filepath.Join(dir, id+".journal"), r.proxy.addr(), id, r.opt.Interval, simAddr, mb.String())
		path := filepath.Join(dir, id+".yaml")
		if err := os.WriteFile(path, []byte(tcfg), 0o600); err != nil {
			return err
		}
		p := newProc(id, filepath.Join(r.opt.BinDir, "terminal"), dir, "-config", path)
		if err := p.start(); err != nil {
			return err
		}
		r.firstUp[id] = time.Now()
		r.terms = append(r.terms, p)
	}
	r.start = time.Now()
	r.logf("running: %d terminals × %d meters every %s; meters %s, head-end http://%s, %s broker %s via relay %s",
		r.opt.Terminals, r.opt.MetersPerTerminal, r.opt.Interval, simAddr, r.httpAddr, r.opt.Broker, brokerAddr, r.proxy.addr())
	return nil
}

func (r *runner) startHeadEnd(ctx context.Context) error {
	if err := r.headend.start(); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + r.httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("head-end not healthy within 30 s (see %s)", r.headend.logPath)
}

func (r *runner) pause(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.rnd.Int63n(int64(hi-lo)+1))
}

func (r *runner) sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

type eventKind int

const (
	terminalKill eventKind = iota
	headEndKill
	brokerRestart
	networkCut
)

// draw picks the next disruption. With the embedded broker: 45 % terminal kills, 35 %
// head-end kills, 20 % network cuts (the shares, and so a seed's schedule, as before the
// external broker existed); with an external one: 35 %, 25 %, 25 % broker restarts, 15 %.
func (r *runner) draw() eventKind {
	x := r.rnd.Intn(100)
	if r.mosq == nil {
		switch {
		case x < 45:
			return terminalKill
		case x < 80:
			return headEndKill
		default:
			return networkCut
		}
	}
	switch {
	case x < 35:
		return terminalKill
	case x < 60:
		return headEndKill
	case x < 85:
		return brokerRestart
	default:
		return networkCut
	}
}

// disrupt runs the random disruptions.
func (r *runner) disrupt(ctx context.Context) (Result, error) {
	var res Result
	if err := r.sleep(ctx, 3*r.opt.Interval); err != nil {
		return res, err
	}
	for res.Events < r.opt.Events {
		if err := r.sleep(ctx, r.pause(r.opt.MinPause, r.opt.MaxPause)); err != nil {
			return res, err
		}
		res.Events++
		kind := r.draw()
		if r.mosq != nil && res.Events == r.opt.Events && res.BrokerRestarts == 0 {
			kind = brokerRestart // even a short run restarts the external broker once
		}
		switch kind {
		case terminalKill:
			i := r.rnd.Intn(len(r.terms))
			p, id := r.terms[i], r.termIDs[i]
			down := r.pause(0, 1500*time.Millisecond)
			from := time.Now()
			p.kill()
			r.logf("event %d: kill -9 terminal %s, down %s", res.Events, id, down.Round(time.Millisecond))
			if err := r.sleep(ctx, down); err != nil {
				return res, err
			}
			if err := p.start(); err != nil {
				return res, err
			}
			r.mu.Lock()
			r.outages[id] = append(r.outages[id], outage{from, time.Now()})
			r.mu.Unlock()
			res.TerminalKills++
		case headEndKill:
			down := r.pause(0, 1500*time.Millisecond)
			r.headend.kill()
			what := "head-end (and its broker)"
			if r.mosq != nil {
				what = "head-end"
			}
			r.logf("event %d: kill -9 %s, down %s", res.Events, what, down.Round(time.Millisecond))
			if err := r.sleep(ctx, down); err != nil {
				return res, err
			}
			if err := r.startHeadEnd(ctx); err != nil {
				return res, err
			}
			res.HeadEndKills++
		case brokerRestart:
			down := r.pause(0, 1500*time.Millisecond)
			r.mosq.p.kill()
			r.logf("event %d: kill -9 broker (mosquitto), down %s", res.Events, down.Round(time.Millisecond))
			if err := r.sleep(ctx, down); err != nil {
				return res, err
			}
			if err := r.mosq.start(ctx); err != nil {
				return res, err
			}
			res.BrokerRestarts++
		case networkCut:
			d := r.pause(500*time.Millisecond, 3*time.Second)
			r.logf("event %d: network cut between terminals and broker for %s", res.Events, d.Round(time.Millisecond))
			r.proxy.cut(d)
			res.NetworkCuts++
		}
	}
	if err := r.sleep(ctx, 3*r.opt.Interval); err != nil {
		return res, err
	}
	return res, nil
}

// drain stops the meters, then lets the terminals deliver everything they journaled.
func (r *runner) drain(ctx context.Context) error {
	r.sim.stop()
	r.simStop = time.Now()
	r.logf("meters stopped; draining the terminals' journals")
	for attempt := 1; attempt <= 10; attempt++ {
		if err := r.sleep(ctx, 2*time.Second); err != nil {
			return err
		}
		for _, p := range r.terms {
			p.stop()
		}
		pending := 0
		for _, id := range r.termIDs {
			j, err := journal.Open(ctx, filepath.Join(r.opt.WorkDir, id+".journal"), journal.Options{})
			if err != nil {
				return fmt.Errorf("journal of %s: %w", id, err)
			}
			st, err := j.Stats(ctx)
			j.Close()
			if err != nil {
				return err
			}
			pending += st.Unacked
		}
		if pending == 0 {
			return nil
		}
		r.logf("drain attempt %d: %d readings not yet acknowledged; restarting the terminals", attempt, pending)
		for _, p := range r.terms {
			if err := p.start(); err != nil {
				return err
			}
		}
	}
	return errors.New("journals not drained after 10 attempts")
}

type stored struct {
	Time   time.Time        `json:"time"`
	Kind   meterdata.Kind   `json:"kind"`
	Values map[string]int64 `json:"values"`
}

func (r *runner) readings(ctx context.Context, id meterdata.MeterID) ([]stored, error) {
	// Every kind, back past the meters' 62 days of frozen memory.
	q := url.Values{"from": {r.start.AddDate(0, 0, -70).UTC().Format(time.RFC3339)}, "to": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
		"limit": {"50000"}}
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+r.httpAddr+"/api/v1/meters/"+url.PathEscape(string(id))+"/readings?"+q.Encode(), nil)
	req.SetBasicAuth("admin", r.password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == 404 {
		return nil, nil
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("readings of %s: %s: %s", id, resp.Status, b)
	}
	var out struct{ Readings []stored }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	return out.Readings, nil
}

// account compares the journals with the head-end and the journals with the slots.
func (r *runner) account(ctx context.Context, res Result) (Result, error) {
	res.Duration = time.Since(r.start)
	grace := 2 * r.opt.Interval // a restarted terminal needs a moment before its first cycle
	for _, tid := range r.termIDs {
		j, err := journal.Open(ctx, filepath.Join(r.opt.WorkDir, tid+".journal"), journal.Options{})
		if err != nil {
			return res, err
		}
		es, err := j.Entries(ctx, 0, 10_000_000)
		j.Close()
		if err != nil {
			return res, err
		}
		byMeter := map[meterdata.MeterID]map[meterdata.Key]meterdata.Reading{}
		for _, e := range es {
			if byMeter[e.Reading.Meter] == nil {
				byMeter[e.Reading.Meter] = map[meterdata.Key]meterdata.Reading{}
			}
			byMeter[e.Reading.Meter][e.Reading.Key()] = e.Reading
		}
		res.Journaled += len(es)
		for _, mid := range r.meters[tid] {
			got, err := r.readings(ctx, mid)
			if err != nil {
				return res, err
			}
			res.Stored += len(got)
			seen := map[meterdata.Key]int{}
			for _, s := range got {
				k := meterdata.Key{Meter: mid, Kind: s.Kind, Time: s.Time.UnixMilli()}
				seen[k]++
				if seen[k] == 2 {
					res.Duplicated++
				}
				jr, ok := byMeter[mid][k]
				if !ok {
					res.Phantoms++
					continue
				}
				if !meterdata.SameValues(jr, meterdata.Reading{Values: s.Values}) {
					res.Mismatched++
				}
			}
			for k := range byMeter[mid] {
				if seen[k] == 0 {
					res.Lost++
					r.logf("LOST: meter %s %s reading at %s", mid, k.Kind, time.UnixMilli(k.Time).UTC().Format(time.RFC3339))
				}
			}
			// Slots of the period: from the terminal's first start to the meters' stop.
			first := r.firstUp[tid].Truncate(r.opt.Interval).Add(r.opt.Interval)
			last := r.simStop.Truncate(r.opt.Interval).Add(-r.opt.Interval)
			for s := first; !s.After(last); s = s.Add(r.opt.Interval) {
				if _, ok := byMeter[mid][meterdata.Key{Meter: mid, Kind: meterdata.KindInstant, Time: s.UnixMilli()}]; ok {
					continue
				}
				res.Gaps++
				if r.explained(tid, s, grace) || r.busDark(tid, s) {
					res.GapsExplained++
				} else {
					r.logf("UNEXPLAINED GAP: meter %s slot %s", mid, s.UTC().Format(time.RFC3339))
				}
			}
		}
	}
	return res, nil
}

// busDark reports whether slot [s, s+interval) overlaps a power cut of a meter on the
// terminal's bus: the cut meter itself cannot answer, and its timeouts stretch the bus's
// cycle past the interval (an overrun the terminal logs, naming the bus), so the slots of
// its neighbours may be skipped too.
func (r *runner) busDark(terminal string, s time.Time) bool {
	for _, m := range r.meters[terminal] {
		for _, o := range r.powerCut[m] {
			if s.Before(o.to.Add(time.Second)) && s.Add(r.opt.Interval).After(o.from) {
				return true
			}
		}
	}
	return false
}

// scenario writes the simulator's scenario: every meter, and about one power cut of 2–6 s
// per ten disruptions, at random moments over the run's expected length.
func (r *runner) scenario(total int) (string, error) {
	type window struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
	}
	type meter struct {
		Address string   `json:"address"`
		Outages []window `json:"outages,omitempty"`
	}
	ms := make([]meter, total)
	for i := range ms {
		ms[i].Address = fmt.Sprintf("%012d", 5001+i)
	}
	expected := time.Duration(r.opt.Events)*(r.opt.MinPause+r.opt.MaxPause)/2 + 5*time.Second
	from := time.Now().Add(5 * time.Second)
	for k := 0; k < max(1, r.opt.Events/10); k++ {
		i := r.rnd.Intn(total)
		start := from.Add(time.Duration(r.rnd.Int63n(int64(expected)))).Truncate(time.Second)
		end := start.Add(r.pause(2*time.Second, 6*time.Second)).Truncate(time.Second)
		ms[i].Outages = append(ms[i].Outages, window{start, end})
		terminal := fmt.Sprintf("C%d", i/r.opt.MetersPerTerminal+1)
		id, _ := meterdata.NewMeterID(terminal, "bus1", ms[i].Address)
		r.powerCut[id] = append(r.powerCut[id], outage{start, end})
	}
	b, err := json.MarshalIndent(map[string]any{"seed": r.opt.Seed + 1, "meters": ms}, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(r.opt.WorkDir, "metersim.json")
	return path, os.WriteFile(path, b, 0o600)
}

// explained reports whether slot [s, s+interval) overlaps an outage of the terminal
// (extended by grace for its start-up).
func (r *runner) explained(tid string, s time.Time, grace time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.outages[tid] {
		if s.Before(o.to.Add(grace)) && s.Add(r.opt.Interval).After(o.from) {
			return true
		}
	}
	return false
}

func (r *runner) stopAll() {
	for _, p := range r.terms {
		p.stop()
	}
	if r.headend != nil {
		r.headend.stop()
	}
	if r.mosq != nil {
		r.mosq.p.stop()
	}
	if r.sim != nil {
		r.sim.stop()
	}
	if r.cancelPx != nil {
		r.cancelPx()
	}
}

// proc is one child process with its log file.
type proc struct {
	name, bin, dir string
	args           []string
	logPath        string
	cmd            *exec.Cmd
	done           chan struct{}
}

func newProc(name, bin, dir string, args ...string) *proc {
	return &proc{name: name, bin: bin, dir: dir, args: args, logPath: filepath.Join(dir, name+".log")}
}

func (p *proc) start() error {
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.done = make(chan struct{})
	go func() { p.cmd.Wait(); f.Close(); close(p.done) }()
	return nil
}

// startAndWaitLine starts the process and returns the rest of the first stdout line that
// begins with prefix.
func (p *proc) startAndWaitLine(ctx context.Context, prefix string) (string, error) {
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return "", err
	}
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Stderr = f
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := p.cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", p.name, err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			fmt.Fprintln(f, sc.Text())
			if rest, ok := strings.CutPrefix(sc.Text(), prefix); ok && !sent {
				lines <- rest
				sent = true
			}
		}
	}()
	p.done = make(chan struct{})
	go func() { p.cmd.Wait(); f.Close(); close(p.done) }()
	select {
	case l := <-lines:
		return l, nil
	case <-p.done:
		return "", fmt.Errorf("%s exited before it was ready (see %s)", p.name, p.logPath)
	case <-time.After(30 * time.Second):
		return "", fmt.Errorf("%s not ready within 30 s (see %s)", p.name, p.logPath)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (p *proc) running() bool {
	if p.cmd == nil || p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the exit.
func (p *proc) kill() {
	if !p.running() {
		return
	}
	p.cmd.Process.Kill()
	<-p.done
}

// stop sends SIGTERM and waits up to 15 s, then kills.
func (p *proc) stop() {
	if !p.running() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.kill()
	}
}
