// Command terminal runs the gridmeter terminal (edge agent): it polls meters, journals every
// reading crash-safely and publishes the journal to the head-end over MQTT.
//
//	terminal -config terminal.yaml
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	_ "time/tzdata" // meters' time zones on boxes without a zoneinfo database

	"gridmeter/internal/config"
	"gridmeter/internal/terminal"
)

func main() {
	cfgPath := flag.String("config", "terminal.yaml", "configuration file")
	flag.Parse()
	// Small concentrators: keep the heap near its live size. With 255 meters on one bus plus
	// 1,000 TCP meters the runtime needs about 13 MiB besides garbage (heap 4.5, runtime
	// metadata, stacks); 16 MiB keeps the process at 28 MB resident for a little more GC
	// work than no limit (32-33 MB); at 14 MiB the collector hardly stops (docs/terminal.md,
	// Footprint). GOMEMLIMIT in the environment overrides it.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(16 << 20)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg := terminal.Defaults()
	if err := config.Load(*cfgPath, &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "terminal: config:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t, err := terminal.New(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "terminal:", err)
		os.Exit(1)
	}
	log.Info("terminal running", "id", cfg.ID, "version", terminal.Version)
	if err := t.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "terminal:", err)
		os.Exit(1)
	}
}
