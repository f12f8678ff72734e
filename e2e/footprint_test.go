package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gridmeter/internal/metersim"
)

// Footprint scenario of the issue: one bus of 255 meters behind a transparent gateway plus
// 1,000 single-meter TCP buses, on one terminal.
const (
	footprintBusMeters = 255
	footprintTCPMeters = 1000
	footprintMeters    = footprintBusMeters + footprintTCPMeters
	// footprintInterval is the instant interval: a steady cycle of all 1,255 meters takes
	// one to three seconds here; the first one (daily frozen, settlement and status passes
	// too) half a minute or more, which the benchmark waits out.
	footprintInterval = 30 * time.Second
	// footprintCycles are the steady cycles measured after the first.
	footprintCycles = 3
	// userHZ is the unit of utime and stime in /proc/<pid>/stat (USER_HZ, 100 on every
	// Linux architecture the terminal runs on).
	userHZ = 100
)

// BenchmarkTerminalFootprint measures the terminal binary as a process of its own, with its
// defaults (including its soft memory limit), polling 255 meters on one bus plus 1,000
// single-meter TCP buses (an in-process simulator) and publishing to an in-process
// head-end:
//
//   - rss_MB: the highest VmRSS sampled over the steady cycles (after the first one);
//   - peak_MB: the whole life's highest, start-up and first cycle included: VmHWM at the
//     end, or the highest VmRSS sampled if more (the kernel updates VmHWM lazily);
//   - cpu_s/1000reads: utime+stime over the steady cycles per 1,000 instant readings,
//     everything included (polling, one fsynced journal append per reading, the uplink);
//   - write_kB/read: bytes the process caused to be written to storage (/proc/<pid>/io
//     write_bytes: journal, WAL and checkpoints) per reading over the steady cycles;
//   - reads: instant readings over the steady cycles (footprintCycles × 1,255);
//   - arm64_MB: the stripped linux/arm64 binary, as `make cross` builds it.
//
// Run it with
//
//	go test -run '^$' -bench TerminalFootprint -benchtime 1x ./e2e/
//
// It takes about two minutes. The environment reaches the terminal, so GOMEMLIMIT=off
// measures it without its default limit; FOOTPRINT_GODEBUG becomes the terminal's GODEBUG
// (FOOTPRINT_GODEBUG=gctrace=1 traces its collector, printed with -v, without tracing the
// go command too). FOOTPRINT_TERMINAL=<binary> measures that build of the terminal instead
// of building cmd/terminal, to compare two versions.
func BenchmarkTerminalFootprint(b *testing.B) {
	if testing.Short() {
		b.Skip("builds two binaries and runs for minutes; skipped with -short")
	}
	dir := b.TempDir()
	exe := os.Getenv("FOOTPRINT_TERMINAL")
	if exe == "" {
		exe = filepath.Join(dir, "terminal")
		buildTerminal(b, exe, nil)
	}
	arm := filepath.Join(dir, "terminal-linux-arm64")
	buildTerminal(b, arm, []string{"GOOS=linux", "GOARCH=arm64"})
	fi, err := os.Stat(arm)
	if err != nil {
		b.Fatal(err)
	}
	armMB := float64(fi.Size()) / 1e6

	for i := 0; i < b.N; i++ {
		f := runFootprint(b, exe, filepath.Join(dir, strconv.Itoa(i)))
		b.ReportMetric(f.rssMB, "rss_MB")
		b.ReportMetric(f.peakMB, "peak_MB")
		b.ReportMetric(f.cpu.Seconds()/float64(f.reads)*1000, "cpu_s/1000reads")
		b.ReportMetric(float64(f.writeBytes)/1e3/float64(f.reads), "write_kB/read")
		b.ReportMetric(float64(f.reads), "reads")
	}
	b.ReportMetric(armMB, "arm64_MB")
}

// buildTerminal builds cmd/terminal stripped, as `make cross` does, for env's target
// (the host's when env is nil).
func buildTerminal(b *testing.B, out string, env []string) {
	b.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/terminal")
	cmd.Dir = ".."
	// Not GODEBUG: the compiler's traces would be cached as its output and replayed.
	cmd.Env = append(withoutEnv(os.Environ(), "GODEBUG"), "CGO_ENABLED=0")
	cmd.Env = append(cmd.Env, env...)
	if o, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build %v: %v\n%s", env, err, o)
	}
}

// footprint is one run's figures.
type footprint struct {
	rssMB, peakMB float64
	cpu           time.Duration
	writeBytes    int64
	reads         uint64
}

func runFootprint(b *testing.B, exe, dir string) footprint {
	b.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	var serving sync.WaitGroup
	defer serving.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.DiscardHandler)

	// The meters: one simulator, two gateways onto it (its every connection reaches every
	// meter); the single-meter buses each hold their own connection to the second.
	specs, err := metersim.GenerateMeters(footprintMeters, "100000000001")
	if err != nil {
		b.Fatal(err)
	}
	sim, err := metersim.New(metersim.Options{Seed: 1, Meters: specs})
	if err != nil {
		b.Fatal(err)
	}
	gateway, meters := listenLoopback(b), listenLoopback(b)
	for _, ln := range []net.Listener{gateway, meters} {
		serving.Go(func() { sim.ServeDLT645(ctx, ln) })
	}
	h := startHeadEnd(b, ctx, dir, log, "F1", "fs")
	defer h.Close()

	metricsAddr := freeLoopbackAddr(b)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "id: F1\njournal_path: %s\nmetrics_listen: %s\nmqtt:\n  url: %s\n  password: fs\n",
		filepath.Join(dir, "F1.journal"), metricsAddr, h.MQTTURL())
	fmt.Fprintf(&cfg, "acquisition:\n  instant_interval: %s\nbuses:\n  - name: gw\n    dlt645_tcp: %s\n    meters:\n",
		footprintInterval, gateway.Addr())
	for _, s := range specs[:footprintBusMeters] {
		fmt.Fprintf(&cfg, "      - address: %q\n", s.Address)
	}
	for i, s := range specs[footprintBusMeters:] {
		fmt.Fprintf(&cfg, "  - name: m%04d\n    dlt645_tcp: %s\n    meters:\n      - address: %q\n", i+1, meters.Addr(), s.Address)
	}
	cfgPath := filepath.Join(dir, "terminal.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		b.Fatal(err)
	}

	var logBuf lockedBuffer
	cmd := exec.Command(exe, "-config", cfgPath)
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	if d := os.Getenv("FOOTPRINT_GODEBUG"); d != "" {
		cmd.Env = append(withoutEnv(os.Environ(), "GODEBUG"), "GODEBUG="+d)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	started := time.Now()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if testing.Verbose() {
			b.Logf("terminal log:\n%s", logBuf.String())
		}
	}()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()
	pid := cmd.Process.Pid

	sampleUntil := func(end time.Time, maxRSS *int64) {
		for time.Now().Before(end) {
			select {
			case err := <-exited:
				b.Fatalf("terminal exited: %v\n%s", err, logBuf.tail(4000))
			case <-time.After(500 * time.Millisecond):
			}
			if rss := procStatusKB(b, pid, "VmRSS"); rss > *maxRSS {
				*maxRSS = rss
			}
		}
	}
	// The first cycle also reads every meter's daily frozen values, settlement and status
	// words, and may take longer than a slot (buses that start it in the next slot have no
	// reading for the first): wait until every bus is through it and the counters rest.
	var warmRSS, steadyRSS int64
	var last procSample
	for {
		sampleUntil(time.Now().Add(5*time.Second), &warmRSS)
		s := sampleProc(b, pid, metricsAddr)
		if s.reads >= footprintMeters && s.activity == last.activity {
			break
		}
		last = s
		if time.Since(started) > 5*time.Minute {
			b.Fatalf("first cycle not over after 5 minutes: %+v\n%s", s, logBuf.tail(4000))
		}
	}
	// The window runs from late in a slot (its cycle done, the next not begun) to late in
	// the footprintCycles-th slot after; the resident set is sampled throughout.
	w0 := time.Now().Truncate(footprintInterval).Add(footprintInterval - footprintInterval/10)
	if time.Until(w0) < footprintInterval/10 {
		w0 = w0.Add(footprintInterval)
	}
	sampleUntil(w0, &warmRSS)
	start := sampleProc(b, pid, metricsAddr)
	sampleUntil(w0.Add(footprintCycles*footprintInterval), &steadyRSS)
	end := sampleProc(b, pid, metricsAddr)
	if got, want := end.reads-start.reads, uint64(footprintCycles*footprintMeters); got != want {
		b.Fatalf("steady cycles: %d readings, want %d: cycles still running late in their slot? (failures %d, overruns %d)\n%s",
			got, want, end.failures, end.overruns, logBuf.tail(4000))
	}
	if n, f := end.overruns-start.overruns, end.failures-start.failures; n != 0 || f != 0 {
		b.Errorf("steady cycles: %d overruns, %d read failures: the figures may not be representative", n, f)
	}
	b.Logf("start-up and first cycle: max VmRSS %.1f MB; steady: RssAnon %.1f MB, RssFile %.1f MB, threads %d; last cycle %.1fs",
		float64(warmRSS)/1e3, float64(procStatusKB(b, pid, "RssAnon"))/1e3, float64(procStatusKB(b, pid, "RssFile"))/1e3,
		procStatusKB(b, pid, "Threads"), end.lastCycle)
	return footprint{
		rssMB:      float64(steadyRSS) / 1e3,
		peakMB:     float64(max(procStatusKB(b, pid, "VmHWM"), warmRSS, steadyRSS)) / 1e3,
		cpu:        end.cpu - start.cpu,
		writeBytes: end.writeBytes - start.writeBytes,
		reads:      end.reads - start.reads,
	}
}

// procSample is the terminal's counters at one instant.
type procSample struct {
	cpu                       time.Duration
	writeBytes                int64
	reads, failures, overruns uint64
	lastCycle                 float64
	activity                  uint64 // the sum of every counter: it rests when the terminal does
}

// sampleProc reads the process's CPU time and storage writes, and its acquisition counters
// from its metrics endpoint (scraped only here: a scrape costs the terminal something).
func sampleProc(b *testing.B, pid int, metricsAddr string) procSample {
	b.Helper()
	var s procSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may hold spaces, so split after its ')'):
	// state is field 3, utime 14 and stime 15.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	s.cpu = time.Duration(ut+st) * time.Second / userHZ
	pio, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		b.Fatal(err)
	}
	s.writeBytes = procField(pio, "write_bytes")
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		n, _ := strconv.ParseFloat(v, 64)
		if strings.HasSuffix(name, "_total") {
			s.activity += uint64(n)
		}
		switch name {
		case "gridmeter_terminal_reads_total":
			s.reads = uint64(n)
		case "gridmeter_terminal_read_failures_total":
			s.failures = uint64(n)
		case "gridmeter_terminal_overruns_total":
			s.overruns = uint64(n)
		case "gridmeter_terminal_last_cycle_seconds":
			s.lastCycle = n
		}
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return s
}

// procStatusKB returns a field of /proc/<pid>/status ("VmRSS", in kB; "Threads", a count).
func procStatusKB(b *testing.B, pid int, field string) int64 {
	b.Helper()
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	return procField(st, field)
}

// procField returns the number after "name:" in a /proc file of "name: value [kB]" lines.
func procField(p []byte, name string) int64 {
	for line := range strings.Lines(string(p)) {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return -1
}

func listenLoopback(b *testing.B) net.Listener {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	return ln
}

// freeLoopbackAddr returns a loopback address that was free a moment ago, for a process
// started next to listen on.
func freeLoopbackAddr(b *testing.B) string {
	b.Helper()
	ln := listenLoopback(b)
	defer ln.Close()
	return ln.Addr().String()
}

// lockedBuffer collects a process's output, written and read from different goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// tail returns the last n bytes written at most.
func (l *lockedBuffer) tail(n int) string {
	s := l.String()
	return s[max(0, len(s)-n):]
}

// withoutEnv returns env without the variable name.
func withoutEnv(env []string, name string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, name+"=") })
}
