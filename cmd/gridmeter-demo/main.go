// Command gridmeter-demo runs the whole system in one process on embedded defaults:
// simulated meters, a head-end with its embedded MQTT broker and SQLite, and simulated
// terminals. It prints the web URL and the login, and stops cleanly on Ctrl-C; started
// again, it continues with the same state directory.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"gridmeter/internal/demo"
)

func main() {
	var opt demo.Options
	flag.StringVar(&opt.Dir, "dir", ".demo", "state directory (databases, journals, generated credentials)")
	flag.StringVar(&opt.HTTPListen, "http", "", "web and API address (default 127.0.0.1:8480, or a free port if taken)")
	flag.StringVar(&opt.MQTTListen, "mqtt", "", "embedded MQTT broker address (default 127.0.0.1:18830, or a free port if taken)")
	flag.StringVar(&opt.IEC102Listen, "iec102", "", "terminal 1's IEC 102 outstation address (default 127.0.0.1:20102, or a free port if taken)")
	flag.StringVar(&opt.ExternalMQTT, "external-mqtt", "", "use this external broker URL (e.g. mqtt://127.0.0.1:1883) instead of the embedded one")
	flag.IntVar(&opt.Terminals, "terminals", 2, "simulated terminals")
	flag.IntVar(&opt.MetersPerTerminal, "meters", 5, "simulated DL/T 645 meters per terminal (bus1)")
	modbus := flag.Int("modbus-meters", 2, "simulated Modbus TCP meters per terminal (bus2); 0 for none")
	flag.DurationVar(&opt.Interval, "interval", 5*time.Second, "polling interval for current values")
	verbose := flag.Bool("v", false, "log informational messages too")
	flag.Parse()
	opt.ModbusMetersPerTerminal = *modbus
	if *modbus == 0 {
		opt.ModbusMetersPerTerminal = -1 // none (0 means the default in demo.Options)
	}

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	opt.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The parts run on their own context: on Ctrl-C, d.Stop shuts them down in order
	// (terminals first, so they can say "offline" through a broker that is still there).
	d, err := demo.Start(context.Background(), opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gridmeter-demo:", err)
		os.Exit(1)
	}
	fmt.Printf("gridmeter demo is running\n  web:    %s\n  login:  admin / %s\n  mqtt:   %s\n  iec102: %s (terminal %s: link address 1, measuring point 1, password 1)\n  meters: %d on %d terminals, polled every %s\nPress Ctrl-C to stop.\n",
		d.URL, d.Credentials.AdminPassword, d.HeadEnd.MQTTURL(), d.IEC102Addr(), d.TerminalIDs[0], len(d.Meters), len(d.Terminals), opt.Interval)
	start := time.Now()
	<-ctx.Done()
	stop()
	fmt.Println("stopping...")
	st := d.HeadEnd.Ingest().Stats()
	d.Stop()
	secs := time.Since(start).Seconds()
	fmt.Printf("stopped after %.0f s: %d readings stored (%.1f readings/s), %d duplicates, %d conflicts\n",
		secs, st.Inserted, float64(st.Inserted)/secs, st.Duplicates, st.Conflicts)
}
