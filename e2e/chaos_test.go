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
// lost, doubled, altered or invented. It runs once with the head-end's embedded broker and
// once with an external Mosquitto that the suite restarts (SIGKILL) at random moments too.
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
	for _, tc := range []struct {
		name   string
		broker string
		events int
	}{
		{"embedded", chaos.BrokerEmbedded, 8},
		{"external-mosquitto", chaos.BrokerExternal, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.broker == chaos.BrokerExternal {
				for _, b := range []string{"mosquitto", "mosquitto_passwd"} {
					if _, err := exec.LookPath(b); err != nil {
						t.Skipf("the external-broker chaos run needs Mosquitto: %v", err)
					}
				}
			}
			runChaos(t, chaos.Options{BinDir: bin, WorkDir: t.TempDir(), Events: tc.events, Broker: tc.broker, Seed: time.Now().UnixNano()})
		})
	}
}

func runChaos(t *testing.T, opt chaos.Options) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if testing.Verbose() {
		opt.Log = os.Stderr
	}
	res, err := chaos.Run(ctx, opt)
	if err != nil {
		t.Fatalf("seed %d: %v", opt.Seed, err)
	}
	t.Logf("seed %d: %s", opt.Seed, res)
	if res.Journaled == 0 || res.TerminalKills+res.HeadEndKills+res.BrokerRestarts+res.NetworkCuts != opt.Events ||
		opt.Broker == chaos.BrokerExternal && res.BrokerRestarts == 0 {
		t.Fatalf("the run did not happen as planned: %s", res)
	}
	if !res.OK() {
		t.Fatalf("seed %d: readings lost, doubled, altered or invented: %s", opt.Seed, res)
	}
}
