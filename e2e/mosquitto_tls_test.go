package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"gridmeter/internal/auth"
	"gridmeter/internal/config"
	"gridmeter/internal/headend"
	"gridmeter/internal/journal"
	"gridmeter/internal/message"
	"gridmeter/internal/metersim"
	"gridmeter/internal/terminal"
	"gridmeter/internal/testpki"
	"gridmeter/internal/transport"
)

// startMosquitto runs our own Mosquitto on a free loopback port with TLS (client
// certificates required), a password file and the ACL that docs/mqtt.md documents.
func startMosquitto(t *testing.T, ca *testpki.CA, users map[string]string) string {
	t.Helper()
	if _, err := exec.LookPath("mosquitto"); err != nil {
		t.Fatalf("mosquitto not installed: %v", err)
	}
	dir := t.TempDir()
	pwfile := filepath.Join(dir, "passwd")
	for u, pw := range users {
		args := []string{"-b", pwfile, u, pw}
		if _, err := os.Stat(pwfile); err != nil {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command("mosquitto_passwd", args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v: %s", err, out)
		}
	}
	acl := filepath.Join(dir, "acl")
	// The contract's ACL (docs/mqtt.md): the head-end's service login reads and writes the
	// whole tree; every terminal writes only its up tree and reads only its down tree.
	os.WriteFile(acl, []byte("user headend\ntopic readwrite gridmeter/v1/#\n\n"+
		"pattern write gridmeter/v1/%u/up/#\npattern read gridmeter/v1/%u/down/#\n"), 0o644)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	ln.Close()
	// Mosquitto started as root drops to its own user before reading these files: give them
	// to it in a directory it may enter (test directories are 0700).
	cert, key := ca.Server("mosquitto")
	cafile := filepath.Join(dir, "ca.pem")
	for src, dst := range map[string]string{cert: filepath.Join(dir, "server.pem"), key: filepath.Join(dir, "server.key"), ca.CAFile: cafile} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(dst, b, 0o644)
	}
	cert, key = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	os.Chmod(pwfile, 0o644)
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	conf := filepath.Join(dir, "mosquitto.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`per_listener_settings false
allow_anonymous false
password_file %s
acl_file %s
persistence false
log_dest stderr
listener %s 127.0.0.1
cafile %s
certfile %s
keyfile %s
require_certificate true
tls_version tlsv1.2
`, pwfile, acl, port, cafile, cert, key)), 0o644)
	cmd := exec.Command("mosquitto", "-c", conf)
	logf, _ := os.Create(filepath.Join(dir, "mosquitto.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "mosquitto.log"))
			t.Fatalf("mosquitto did not listen on %s: %s", addr, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMosquittoTLSAndACL: terminals and head-end over TLS with client certificates through
// a Mosquitto configured with the contract's ACL; readings arrive exactly once, and a
// terminal cannot publish into another terminal's tree.
func TestMosquittoTLSAndACL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ca := testpki.New(t)
	brokerAddr := startMosquitto(t, ca, map[string]string{"headend": "hs", "S1": "s1", "S2": "s2"})
	clientTLS := func(cn string) *config.ClientTLS {
		c, k := ca.Client(cn)
		return &config.ClientTLS{CAFile: ca.CAFile, CertFile: c, KeyFile: k}
	}

	// Two meters behind a DL/T 645 gateway.
	specs, _ := metersim.GenerateMeters(2, "000000007001")
	sim, err := metersim.New(metersim.Options{Seed: 3, Meters: specs})
	if err != nil {
		t.Fatal(err)
	}
	simLn, _ := net.Listen("tcp", "127.0.0.1:0")
	simCtx, stopSim := context.WithCancel(ctx)
	simDone := make(chan struct{})
	go func() { sim.ServeDLT645(simCtx, simLn); close(simDone) }()

	dir := t.TempDir()
	pw, _ := auth.HashPassword("admin", 1000)
	hcfg := headend.Defaults()
	hcfg.HTTP.Listen = "127.0.0.1:0"
	hcfg.Storage.SQLitePath = filepath.Join(dir, "h.db")
	hcfg.MQTT.URL = "tls://" + brokerAddr
	hcfg.MQTT.ClientID, hcfg.MQTT.Password, hcfg.MQTT.TLS = "headend", "hs", clientTLS("headend")
	hcfg.Users = []headend.UserConfig{{Name: "admin", Role: auth.RoleAdmin, PasswordHash: pw}}
	h, err := headend.Start(ctx, hcfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	rctx, rcancel := context.WithTimeout(ctx, 15*time.Second)
	defer rcancel()
	if err := h.AwaitReady(rctx); err != nil {
		t.Fatalf("head-end did not connect over TLS: %v", err)
	}

	tcfg := terminal.Defaults()
	tcfg.ID, tcfg.JournalPath = "S1", filepath.Join(dir, "S1.journal")
	tcfg.MQTT = terminal.MQTTConfig{URL: "tls://" + brokerAddr, Password: "s1", TLS: clientTLS("S1")}
	tcfg.Acquisition.InstantInterval = config.Duration(time.Second)
	tcfg.Buses = []terminal.BusConfig{{Name: "bus1", DLT645TCP: simLn.Addr().String(),
		Meters: []terminal.MeterConfig{{Address: "000000007001"}, {Address: "000000007002"}}}}
	term, err := terminal.New(ctx, tcfg, log)
	if err != nil {
		t.Fatal(err)
	}
	tctx, tcancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { term.Run(tctx); close(done) }()

	api := &client{t: t, base: "http://" + h.HTTPAddr().String() + "/", password: "admin"}
	waitUntil(t, ctx, 30*time.Second, "readings over TLS", func() bool {
		return len(api.readings("S1.bus1.000000007001")) >= 3 && len(api.readings("S1.bus1.000000007002")) >= 3
	})
	// Stop the meters, let the journal drain, stop the terminal: every journaled reading is
	// stored once.
	stopSim()
	<-simDone
	waitUntil(t, ctx, 30*time.Second, "the journal to drain over TLS", func() bool {
		st, err := term.Journal().Stats(ctx)
		return err == nil && st.Unacked == 0
	})
	tcancel()
	<-done
	j, err := journal.Open(ctx, tcfg.JournalPath, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	es, err := j.Entries(ctx, 0, 100000)
	j.Close()
	if err != nil {
		t.Fatal(err)
	}
	stored := len(api.readings("S1.bus1.000000007001")) + len(api.readings("S1.bus1.000000007002"))
	if stored != len(es) {
		t.Fatalf("journaled %d readings, stored %d", len(es), stored)
	}
	if st := h.Ingest().Stats(); st.Rejected != 0 || st.Conflicts != 0 || st.Duplicates > st.Inserted {
		t.Fatalf("ingest over TLS: %+v", st)
	}

	// The ACL: S1 (with its own certificate) may not publish as S2.
	c, err := transport.Dial(ctx, transport.Config{URL: "tls://" + brokerAddr, ClientID: "S1-probe", Username: "S1", Password: "s1", CleanStart: true,
		TLS: mustTLS(t, clientTLS("S1"))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if err := c.AwaitConnection(rctx); err != nil {
		t.Fatal(err)
	}
	err = c.Publish(ctx, transport.Message{Topic: message.Topic("S2", message.UpReadings), Payload: []byte("{}"), QoS: 1})
	var re *transport.RefusedError
	if !errors.As(err, &re) || re.Code != 0x87 {
		t.Fatalf("S1 publishing into S2's tree: %v, want a not-authorised (0x87) refusal", err)
	}
	if err := c.Publish(ctx, transport.Message{Topic: message.Topic("S1", "up/probe"), Payload: []byte("{}"), QoS: 1}); err != nil {
		t.Fatalf("S1 publishing into its own tree: %v", err)
	}
}

func mustTLS(t *testing.T, c *config.ClientTLS) *tls.Config {
	t.Helper()
	cfg, err := c.Config()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
