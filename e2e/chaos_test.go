package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"gridmeter/internal/chaos"
)

// TestChaosShort is the short form of `make chaos`: the real binaries as separate
// processes, killed with SIGKILL and cut off the network at random moments; nothing may be
// lost, doubled, altered or invented.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos needs built binaries and about a minute; skipped with -short")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+string(filepath.Separator), "./cmd/headend", "./cmd/terminal", "./cmd/metersim")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var log *os.File
	if testing.Verbose() {
		log = os.Stderr
	}
	opt := chaos.Options{BinDir: bin, WorkDir: t.TempDir(), Events: 8, Seed: time.Now().UnixNano()}
	if log != nil {
		opt.Log = log
	}
	res, err := chaos.Run(ctx, opt)
	if err != nil {
		t.Fatalf("seed %d: %v", opt.Seed, err)
	}
	t.Logf("seed %d: %s", opt.Seed, res)
	if res.Journaled == 0 || res.TerminalKills+res.HeadEndKills+res.NetworkCuts != 8 {
		t.Fatalf("the run did not happen as planned: %s", res)
	}
	if !res.OK() {
		t.Fatalf("seed %d: readings lost, doubled, altered or invented: %s", opt.Seed, res)
	}
}
