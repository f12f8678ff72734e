// Command gridmeter-chaos is the fault-injection suite: it runs metersim, the head-end and
// terminals as separate processes from -bin, kills them with SIGKILL and cuts their network
// at random moments, then prints per-run accounting:
//
//	lost=N duplicated=N gaps=N gaps_explained=N
//
// With -broker external it also runs Mosquitto (from PATH, or -mosquitto) on a free port as
// the broker the head-end connects to, and restarts it with SIGKILL at random moments.
//
// It exits 1 if any reading was lost, doubled or altered, or a gap is unexplained.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"gridmeter/internal/chaos"
)

func main() {
	var opt chaos.Options
	flag.StringVar(&opt.BinDir, "bin", "bin", "directory holding the headend, terminal and metersim binaries")
	flag.StringVar(&opt.WorkDir, "dir", "", "work directory (default: a new temporary directory, kept for inspection)")
	flag.IntVar(&opt.Events, "events", 50, "disruptions (kills, broker restarts and network cuts)")
	flag.StringVar(&opt.Broker, "broker", chaos.BrokerEmbedded, "broker: embedded (the head-end's own) or external (a Mosquitto this suite runs and restarts)")
	flag.StringVar(&opt.Mosquitto, "mosquitto", "mosquitto", "the external broker's binary (mosquitto_passwd beside it or on PATH)")
	persistence := flag.Bool("broker-persistence", true, "external broker: keep sessions and retained messages across its restarts")
	flag.IntVar(&opt.Terminals, "terminals", 2, "terminals")
	flag.IntVar(&opt.MetersPerTerminal, "meters", 3, "meters per terminal")
	flag.DurationVar(&opt.Interval, "interval", time.Second, "polling interval")
	flag.Int64Var(&opt.Seed, "seed", time.Now().UnixNano(), "random seed (printed; reuse it to replay the same schedule)")
	flag.Parse()
	opt.BrokerVolatile = !*persistence
	if opt.WorkDir == "" {
		d, err := os.MkdirTemp("", "gridmeter-chaos-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "gridmeter-chaos:", err)
			os.Exit(2)
		}
		opt.WorkDir = d
	}
	opt.Log = os.Stdout
	fmt.Printf("gridmeter-chaos: seed %d, work directory %s\n", opt.Seed, opt.WorkDir)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := chaos.Run(ctx, opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gridmeter-chaos:", err)
		os.Exit(2)
	}
	fmt.Println("gridmeter-chaos:", res)
	if !res.OK() {
		os.Exit(1)
	}
}
