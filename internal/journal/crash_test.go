package journal

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gridmeter/internal/meterdata"
)

// Environment of the crash writer child.
const (
	envCrashPath  = "GRIDMETER_JOURNAL_CRASH_PATH"
	envCrashRound = "GRIDMETER_JOURNAL_CRASH_ROUND"
)

// TestHelperCrashWriter is not a test: TestCrashDurability runs the test binary again with
// only this function selected and the environment set. It appends batches in a loop and
// prints "ok <seq> <round> <index> <value>" for each appended entry after Append returns,
// until it is killed.
func TestHelperCrashWriter(t *testing.T) {
	path := os.Getenv(envCrashPath)
	if path == "" {
		t.Skip("crash writer child only")
	}
	round, err := strconv.Atoi(os.Getenv(envCrashRound))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad round:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	j, err := Open(ctx, path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	fmt.Fprintln(os.Stdout, "ready")
	rng := rand.New(rand.NewPCG(uint64(round), 1))
	for i := 0; ; {
		n := 1 + rng.IntN(20)
		rs := make([]meterdata.Reading, n)
		for k := range rs {
			rs[k] = crashReading(round, i+k)
		}
		got, _, err := j.Append(ctx, rs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "append:", err)
			os.Exit(2)
		}
		for k, e := range got {
			// One write per line: a pipe write under PIPE_BUF bytes is atomic.
			fmt.Fprintf(os.Stdout, "ok %d %d %d %d\n", e.Seq, round, i+k, e.Reading.Values["e_imp"])
		}
		i += n
	}
}

// crashReading is the deterministic reading number i of a round: the parent rebuilds it to
// compare with what the journal holds.
func crashReading(round, i int) meterdata.Reading {
	r := reading(meterdata.MeterID(fmt.Sprintf("T1.bus1.%d", round+1)), i, int64(round)*1_000_000+int64(i))
	r.Values["e_imp"] = int64(round)*1_000_000 + int64(i)
	return r
}

// TestCrashDurability kills a writing child process with SIGKILL at random moments and
// checks that every entry the child saw Append return is in the reopened journal, with
// its reading, and that seqs stay unique and increasing across the crashes.
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "journal.db")
	type printed struct {
		round, index int
		value        int64
	}
	durable := map[uint64]printed{}
	var maxSeq uint64
	const rounds = 5

	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCrashWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), envCrashPath+"="+path, envCrashRound+"="+strconv.Itoa(round))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		rd := bufio.NewReader(out)
		if line, err := rd.ReadString('\n'); err != nil || line != "ready\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: child did not get ready: %q %v; stderr: %s", round, line, err, stderr.String())
		}
		delay := time.Duration(50+rand.IntN(251)) * time.Millisecond
		killed := time.AfterFunc(delay, func() { cmd.Process.Signal(syscall.SIGKILL) })
		lines := 0
		var prev uint64
		for {
			// Only newline-terminated lines count: a line the kill cut short is ignored.
			line, err := rd.ReadString('\n')
			if err != nil {
				break
			}
			var seq uint64
			var p printed
			if n, err := fmt.Sscanf(line, "ok %d %d %d %d\n", &seq, &p.round, &p.index, &p.value); err != nil || n != 4 {
				t.Fatalf("round %d: child printed %q", round, line)
			}
			if _, dup := durable[seq]; dup {
				t.Errorf("round %d: seq %d printed twice", round, seq)
			}
			if seq <= maxSeq || seq <= prev {
				t.Errorf("round %d: seq %d not above the previous one (%d) and the journal's last before this round (%d)", round, seq, prev, maxSeq)
			}
			durable[seq] = p
			prev = seq
			lines++
		}
		werr := cmd.Wait()
		killed.Stop()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended by %v, not SIGKILL; stderr: %s", round, werr, stderr.String())
		}
		t.Logf("round %d: killed after %v, %d entries reported durable", round, delay, lines)

		// Reopen as the restarted terminal would: recovery, quick_check, then verify.
		j, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		var ok string
		if err := j.db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&ok); err != nil || ok != "ok" {
			t.Fatalf("round %d: quick_check = %q, %v", round, ok, err)
		}
		all, err := j.Pending(ctx, 0, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		stats := mustStats(t, j)
		j.Close()

		stored := make(map[uint64]Entry, len(all))
		for i, e := range all {
			if i > 0 && e.Seq != all[i-1].Seq+1 {
				t.Fatalf("round %d: seqs not contiguous and increasing: %d after %d", round, e.Seq, all[i-1].Seq)
			}
			stored[e.Seq] = e
		}
		if len(all) > 0 && (all[0].Seq != 1 || all[len(all)-1].Seq != stats.LastSeq) {
			t.Fatalf("round %d: stored seqs %d..%d, LastSeq %d", round, all[0].Seq, all[len(all)-1].Seq, stats.LastSeq)
		}
		for seq, p := range durable {
			e, ok := stored[seq]
			if !ok {
				t.Fatalf("round %d: seq %d was reported durable but is missing after the crash", round, seq)
			}
			want := crashReading(p.round, p.index).Normalize()
			if e.Reading.Meter != want.Meter || !e.Reading.Time.Equal(want.Time) ||
				!meterdata.SameValues(e.Reading, want) || e.Reading.Values["e_imp"] != p.value {
				t.Fatalf("round %d: seq %d holds %+v, want %+v", round, seq, e.Reading, want)
			}
		}
		maxSeq = stats.LastSeq
	}
	if len(durable) == 0 {
		t.Fatal("no entry was reported durable in any round")
	}
	t.Logf("%d entries reported durable over %d rounds, %d stored", len(durable), rounds, maxSeq)
}
