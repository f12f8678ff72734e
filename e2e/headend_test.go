package e2e

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"gridmeter/internal/auth"
	"gridmeter/internal/broker"
	"gridmeter/internal/headend"
)

// startHeadEnd starts a head-end with its embedded broker and SQLite in dir, on free
// loopback ports, with one terminal login (id, secret) and the API user admin/admin, and
// waits until its ingest is subscribed. The caller closes it.
func startHeadEnd(tb testing.TB, ctx context.Context, dir string, log *slog.Logger, terminal, secret string) *headend.HeadEnd {
	tb.Helper()
	pw, err := auth.HashPassword("admin", 1000)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := headend.Defaults()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Storage.SQLitePath = filepath.Join(dir, "h.db")
	cfg.MQTT.Embedded = &headend.EmbeddedBrokerConfig{Listen: "127.0.0.1:0"}
	cfg.MQTT.Password = "hs"
	cfg.Terminals = []headend.TerminalConfig{{ID: terminal, SecretSHA256: broker.HashSecret(secret)}}
	cfg.Users = []headend.UserConfig{{Name: "admin", Role: auth.RoleAdmin, PasswordHash: pw}}
	h, err := headend.Start(ctx, cfg, log)
	if err != nil {
		tb.Fatal(err)
	}
	if err := h.AwaitReady(ctx); err != nil {
		h.Close()
		tb.Fatal(err)
	}
	return h
}
