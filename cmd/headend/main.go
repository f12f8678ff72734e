// Command headend runs the gridmeter head-end: embedded (or external) MQTT broker, ingest
// into SQLite or PostgreSQL, the REST API and the web app.
//
//	headend -config headend.yaml
//	headend -hash-password        # reads a password on stdin, prints a users[].password_hash
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"gridmeter/internal/auth"
	"gridmeter/internal/config"
	"gridmeter/internal/headend"
)

func main() {
	cfgPath := flag.String("config", "headend.yaml", "configuration file")
	hashPw := flag.Bool("hash-password", false, "read a password from stdin and print its hash for users[].password_hash")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	if *hashPw {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			fmt.Fprintln(os.Stderr, "headend: read password:", err)
			os.Exit(2)
		}
		h, err := auth.HashPassword(strings.TrimRight(line, "\r\n"), 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "headend:", err)
			os.Exit(1)
		}
		fmt.Println(h)
		return
	}

	cfg := headend.Defaults()
	if err := config.Load(*cfgPath, &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "headend: config:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h, err := headend.Start(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "headend:", err)
		os.Exit(1)
	}
	log.Info("head-end running", "http", h.HTTPAddr().String(), "mqtt", h.MQTTURL(), "version", headend.Version)
	h.Wait(ctx)
}
