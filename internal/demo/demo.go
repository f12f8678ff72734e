// Package demo composes a whole gridmeter system in one process for `make demo` and the
// end-to-end tests: simulated meters (metersim, DL/T 645 over TCP), a head-end with its
// embedded broker (or an external one) and SQLite, and simulated terminals polling the
// meters. Every part talks to the others over real loopback sockets, exactly as separate
// processes would.
//
// Its state lives in one directory (databases, journals, credentials) and is reused on the
// next start, so the demo can be stopped and started again without cleaning up.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"gridmeter/internal/auth"
	"gridmeter/internal/broker"
	"gridmeter/internal/config"
	"gridmeter/internal/headend"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/terminal"
)

// Options configure a demo.
type Options struct {
	Dir        string // state directory (created if missing)
	HTTPListen string // "" → 127.0.0.1:8480, or a free port if that one is taken
	MQTTListen string // embedded broker; "" → 127.0.0.1:18830, or a free port if taken
	// IEC102Listen is terminal 1's IEC 102 outstation; "" → 127.0.0.1:20102, or a free port
	// if taken. Link address 1; measuring point k is the k-th meter of bus1, password 1.
	IEC102Listen string
	// ExternalMQTT, if set, is an external broker URL (e.g. Mosquitto's mqtt://127.0.0.1:1883)
	// used instead of the embedded broker, by the head-end and the terminals alike.
	ExternalMQTT      string
	Terminals         int // default 2
	MetersPerTerminal int // DL/T 645 meters per terminal (bus1); default 5
	// ModbusMetersPerTerminal are Modbus TCP meters per terminal (bus2); default 2, -1 for none.
	ModbusMetersPerTerminal int
	Interval                time.Duration // instant polling interval; default 5 s
	TerminalPrefix          string        // terminal ids are <prefix><n>; default "T"
	Seed                    int64         // simulator seed; default 1
	Logger                  *slog.Logger
}

// Credentials are the demo's generated secrets, kept in the state directory.
type Credentials struct {
	AdminPassword string `json:"admin_password"`
	// SimEpoch is when the simulated meters' energy registers started integrating: fixed at
	// the first run (30 days before it), so registers continue across restarts instead of
	// restarting low (which would look like a meter exchange).
	SimEpoch        time.Time         `json:"sim_epoch"`
	HeadEndPassword string            `json:"headend_mqtt_password"`
	Terminals       map[string]string `json:"terminal_mqtt_passwords"`
}

// Demo is a running demo.
type Demo struct {
	HeadEnd     *headend.HeadEnd
	Terminals   []*terminal.Terminal
	TerminalIDs []string
	Meters      []meterdata.Meter
	Credentials Credentials
	URL         string // web app
	SimAddr     string // the simulated meters' DL/T 645 TCP gateway
	ModbusAddr  string // the simulated Modbus meters' TCP gateway ("" if none)

	opt       Options
	addrs     [][]string // meter addresses of bus1, per terminal
	log       *slog.Logger
	cancelSim context.CancelFunc
	simDone   chan struct{}
	termWG    sync.WaitGroup
	termStop  context.CancelFunc
}

func (o *Options) defaults() {
	if o.Terminals <= 0 {
		o.Terminals = 2
	}
	if o.MetersPerTerminal <= 0 {
		o.MetersPerTerminal = 5
	}
	switch {
	case o.ModbusMetersPerTerminal == 0:
		o.ModbusMetersPerTerminal = 2
	case o.ModbusMetersPerTerminal < 0:
		o.ModbusMetersPerTerminal = 0
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	if o.TerminalPrefix == "" {
		o.TerminalPrefix = "T"
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.HTTPListen == "" {
		o.HTTPListen = freeOr("127.0.0.1:8480")
	}
	if o.MQTTListen == "" {
		o.MQTTListen = freeOr("127.0.0.1:18830")
	}
	if o.IEC102Listen == "" {
		o.IEC102Listen = freeOr("127.0.0.1:20102")
	}
	// The head-end must know the outstation's port before the terminal binds it: resolve
	// port 0 to a free port now.
	if _, port, _ := net.SplitHostPort(o.IEC102Listen); port == "0" {
		if ln, err := net.Listen("tcp", o.IEC102Listen); err == nil {
			o.IEC102Listen = ln.Addr().String()
			ln.Close()
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// freeOr returns addr if it can be listened on now, else the same host with port 0.
func freeOr(addr string) string {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		host, _, _ := net.SplitHostPort(addr)
		return net.JoinHostPort(host, "0")
	}
	ln.Close()
	return addr
}

// Start starts the simulator, the head-end and the terminals.
func Start(ctx context.Context, opt Options) (_ *Demo, err error) {
	opt.defaults()
	if opt.Dir == "" {
		return nil, errors.New("demo: no state directory")
	}
	if err := os.MkdirAll(opt.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	d := &Demo{opt: opt, log: opt.Logger}
	for i := 1; i <= opt.Terminals; i++ {
		d.TerminalIDs = append(d.TerminalIDs, fmt.Sprintf("%s%d", opt.TerminalPrefix, i))
	}
	if d.Credentials, err = loadCredentials(filepath.Join(opt.Dir, "credentials.json"), d.TerminalIDs); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			d.Stop()
		}
	}()

	// 1. Simulated meters: terminal n's meters have addresses n*1000+1, n*1000+2, ...
	var addrs [][]string
	for i := range d.TerminalIDs {
		var as []string
		for m := 1; m <= opt.MetersPerTerminal; m++ {
			as = append(as, fmt.Sprintf("%012d", (i+1)*1000+m))
		}
		addrs = append(addrs, as)
	}
	if err := d.startSimulator(addrs); err != nil {
		return nil, err
	}

	// 2. Head-end.
	d.addrs = addrs
	hcfg, err := d.headEndConfig()
	if err != nil {
		return nil, err
	}
	if d.HeadEnd, err = headend.Start(ctx, hcfg, d.log); err != nil {
		return nil, fmt.Errorf("demo: head-end: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := d.HeadEnd.AwaitReady(rctx); err != nil {
		return nil, fmt.Errorf("demo: head-end did not connect to its broker: %w", err)
	}
	d.URL = "http://" + d.HeadEnd.HTTPAddr().String() + "/"

	// 3. Terminals.
	if err := d.StartTerminals(ctx, addrs); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Demo) headEndConfig() (headend.Config, error) {
	cfg := headend.Defaults()
	cfg.HTTP.Listen = d.opt.HTTPListen
	cfg.Storage.SQLitePath = filepath.Join(d.opt.Dir, "headend.db")
	cfg.MQTT.Password = config.Secret(d.Credentials.HeadEndPassword)
	cfg.MQTT.ClientID = "headend-" + d.opt.TerminalPrefix
	if d.opt.ExternalMQTT != "" {
		cfg.MQTT.URL = d.opt.ExternalMQTT
	} else {
		cfg.MQTT.Embedded = &headend.EmbeddedBrokerConfig{Listen: d.opt.MQTTListen}
	}
	for _, id := range d.TerminalIDs {
		cfg.Terminals = append(cfg.Terminals, headend.TerminalConfig{ID: id, SecretSHA256: broker.HashSecret(d.Credentials.Terminals[id])})
	}
	// A lower PBKDF2 work factor than production: the demo's password is random and local.
	h, err := auth.HashPassword(d.Credentials.AdminPassword, 100000)
	if err != nil {
		return cfg, err
	}
	cfg.Users = []headend.UserConfig{{Name: "admin", Role: auth.RoleAdmin, PasswordHash: h}}
	// The IEC 102 master polls terminal 1's outstation every minute.
	target := headend.IEC102TargetConfig{Name: d.TerminalIDs[0], Addr: d.opt.IEC102Listen, LinkAddress: 1, Interval: config.Duration(time.Minute)}
	for k, a := range d.addrs[0] {
		target.Points = append(target.Points, headend.IEC102PointConfig{Address: uint16(k + 1), Password: "1", Meter: d.TerminalIDs[0] + ".bus1." + a})
	}
	cfg.IEC102 = &headend.IEC102Config{Targets: []headend.IEC102TargetConfig{target}}
	return cfg, nil
}

// TerminalConfig returns the configuration of demo terminal i (0-based).
func (d *Demo) TerminalConfig(i int, addrs []string) terminal.Config {
	id := d.TerminalIDs[i]
	cfg := terminal.Defaults()
	cfg.ID = id
	cfg.JournalPath = filepath.Join(d.opt.Dir, id+".journal")
	cfg.MQTT.URL = d.HeadEnd.MQTTURL()
	cfg.MQTT.Password = config.Secret(d.Credentials.Terminals[id])
	cfg.Acquisition.InstantInterval = config.Duration(d.opt.Interval)
	bus := terminal.BusConfig{Name: "bus1", DLT645TCP: d.SimAddr, ResponseTimeout: config.Duration(time.Second), Retries: 1}
	kinds := []string{"residential", "commercial", "industrial"}
	for j, a := range addrs {
		bus.Meters = append(bus.Meters, terminal.MeterConfig{Address: a, Description: fmt.Sprintf("Simulated %s meter %d", kinds[j%len(kinds)], j+1)})
	}
	cfg.Buses = []terminal.BusConfig{bus}
	if i == 0 {
		oc := &terminal.IEC102Config{Listen: d.opt.IEC102Listen, LinkAddress: 1, AllowedMasters: []string{"127.0.0.1/32"}}
		for k, a := range addrs {
			oc.Points = append(oc.Points, terminal.IEC102Point{Address: uint16(k + 1), Password: "1", Meter: "bus1." + a})
		}
		cfg.IEC102 = oc
	}
	if n := d.opt.ModbusMetersPerTerminal; n > 0 {
		mb := terminal.BusConfig{Name: "bus2", ModbusTCP: d.ModbusAddr, ModbusMap: "eastron-sdm630", ResponseTimeout: config.Duration(time.Second)}
		for u := i*n + 1; u <= (i+1)*n; u++ {
			mb.Meters = append(mb.Meters, terminal.MeterConfig{Address: fmt.Sprint(u), Description: fmt.Sprintf("Simulated Modbus meter (SDM630 map), unit %d", u)})
		}
		cfg.Buses = append(cfg.Buses, mb)
	}
	return cfg
}

// StartTerminals starts every demo terminal.
func (d *Demo) StartTerminals(ctx context.Context, addrs [][]string) error {
	tctx, cancel := context.WithCancel(ctx)
	d.termStop = cancel
	d.Terminals = nil
	d.Meters = nil
	for i := range d.TerminalIDs {
		cfg := d.TerminalConfig(i, addrs[i])
		d.Meters = append(d.Meters, cfg.Meters()...)
		t, err := terminal.New(tctx, cfg, d.log)
		if err != nil {
			return fmt.Errorf("demo: terminal %s: %w", cfg.ID, err)
		}
		d.Terminals = append(d.Terminals, t)
		d.termWG.Add(1)
		go func() {
			defer d.termWG.Done()
			if err := t.Run(tctx); err != nil {
				d.log.Error("terminal stopped", "terminal", cfg.ID, "err", err)
			}
		}()
	}
	return nil
}

// StopTerminals stops the terminals and waits until their journals are closed.
func (d *Demo) StopTerminals() {
	if d.termStop != nil {
		d.termStop()
	}
	d.termWG.Wait()
}

// Stop stops everything: terminals first, then the head-end, then the simulator.
func (d *Demo) Stop() {
	d.StopTerminals()
	if d.HeadEnd != nil {
		d.HeadEnd.Close()
	}
	d.StopSimulator()
}

func loadCredentials(path string, terminals []string) (Credentials, error) {
	var c Credentials
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &c); err != nil {
			return c, fmt.Errorf("demo: %s: %w (delete the file to start afresh)", path, err)
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return c, fmt.Errorf("demo: %w", err)
	}
	changed := false
	gen := func(s *string) {
		if *s == "" {
			*s = randomSecret()
			changed = true
		}
	}
	if c.SimEpoch.IsZero() {
		c.SimEpoch = time.Now().UTC().Add(-30 * 24 * time.Hour).Truncate(24 * time.Hour)
		changed = true
	}
	gen(&c.AdminPassword)
	gen(&c.HeadEndPassword)
	if c.Terminals == nil {
		c.Terminals = map[string]string{}
	}
	for _, id := range terminals {
		s := c.Terminals[id]
		gen(&s)
		c.Terminals[id] = s
	}
	if changed {
		b, _ := json.MarshalIndent(c, "", "  ")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return c, fmt.Errorf("demo: %w", err)
		}
	}
	return c, nil
}

func randomSecret() string {
	b := make([]byte, 9)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

// RestartHeadEnd stops the head-end, waits downtime (the terminals keep reading and
// journaling), and starts it again on the same addresses and database.
func (d *Demo) RestartHeadEnd(ctx context.Context, downtime time.Duration) error {
	// Keep the addresses the first start picked, so the terminals find the broker again.
	d.opt.HTTPListen = d.HeadEnd.HTTPAddr().String()
	if d.opt.ExternalMQTT == "" {
		u, err := url.Parse(d.HeadEnd.MQTTURL())
		if err != nil {
			return err
		}
		d.opt.MQTTListen = u.Host
	}
	d.HeadEnd.Close()
	d.HeadEnd = nil
	select {
	case <-time.After(downtime):
	case <-ctx.Done():
		return ctx.Err()
	}
	cfg, err := d.headEndConfig()
	if err != nil {
		return err
	}
	if d.HeadEnd, err = headend.Start(ctx, cfg, d.log); err != nil {
		return fmt.Errorf("demo: head-end restart: %w", err)
	}
	d.URL = "http://" + d.HeadEnd.HTTPAddr().String() + "/"
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return d.HeadEnd.AwaitReady(rctx)
}

// StopSimulator stops the simulated meters (they fall silent; the terminals keep running).
func (d *Demo) StopSimulator() {
	if d.cancelSim != nil {
		d.cancelSim()
		<-d.simDone
		d.cancelSim = nil
	}
}

// IEC102Addr is where terminal 1's IEC 102 outstation listens.
func (d *Demo) IEC102Addr() string { return d.opt.IEC102Listen }
