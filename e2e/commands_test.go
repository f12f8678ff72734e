package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gridmeter/internal/config"
	"gridmeter/internal/journal"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/metersim"
	"gridmeter/internal/terminal"
)

// send makes an API request with a JSON body and decodes the answer into v (if non-nil);
// it returns the status and the raw answer.
func (c *client) send(method, path string, body any, v any) (int, string) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, c.base+path[1:], bytes.NewReader(b))
	req.SetBasicAuth("admin", c.password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, v); err != nil {
			c.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode, string(raw)
}

type commandView struct {
	ID     string           `json:"id"`
	State  string           `json:"state"`
	Reason string           `json:"reason"`
	Result map[string]int64 `json:"result"`
}

// TestCommandsAndPlan drives the down-link end to end through the REST API, the embedded
// broker, a terminal and simulated DL/T 645 meters: every command action reaches its final
// state with the meter's read-back; a bad request is refused naming the field; a command
// issued while the terminal is down runs after it comes back; a pushed acquisition plan is
// applied without a restart (a meter made inactive stops being polled), survives a restart,
// and a plan the terminal cannot apply is reported rejected; a meter that does not answer
// reaches the head-end's event log over MQTT.
func TestCommandsAndPlan(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()

	specs, _ := metersim.GenerateMeters(3, "000000007001")
	sim, err := metersim.New(metersim.Options{Seed: 7, Meters: specs})
	if err != nil {
		t.Fatal(err)
	}
	simLn, _ := net.Listen("tcp", "127.0.0.1:0")
	go sim.ServeDLT645(ctx, simLn)
	m1, m2 := sim.Meters()[0], sim.Meters()[1]
	m2.SetClock(time.Now(), time.Now().Add(90*time.Second)) // a meter clock 90 s fast

	h := startHeadEnd(t, ctx, dir, log, "K1", "ks")
	defer h.Close()
	api := &client{t: t, base: "http://" + h.HTTPAddr().String() + "/", password: "admin"}

	tcfg := terminal.Defaults()
	tcfg.ID, tcfg.JournalPath = "K1", filepath.Join(dir, "K1.journal")
	tcfg.MQTT = terminal.MQTTConfig{URL: h.MQTTURL(), Password: "ks"}
	tcfg.Acquisition.InstantInterval = config.Duration(2 * time.Second)
	tcfg.Buses = []terminal.BusConfig{{Name: "bus1", DLT645TCP: simLn.Addr().String(),
		Meters: []terminal.MeterConfig{{Address: "000000007001"}, {Address: "000000007002"}, {Address: "000000007003"}}}}
	ids := []meterdata.MeterID{"K1.bus1.000000007001", "K1.bus1.000000007002", "K1.bus1.000000007003"}
	var stop func()
	start := func() {
		term, err := terminal.New(ctx, tcfg, log)
		if err != nil {
			t.Fatal(err)
		}
		tctx, tcancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { term.Run(tctx); close(done) }()
		stop = func() { tcancel(); <-done }
	}
	start()
	defer func() { stop() }()
	waitUntil(t, ctx, 30*time.Second, "the terminal's meters at the head-end", func() bool {
		var out struct{ Meters []json.RawMessage }
		return api.try("/api/v1/meters", &out) == 200 && len(out.Meters) == 3
	})

	issue := func(id meterdata.MeterID, body map[string]any) commandView {
		t.Helper()
		var c commandView
		if status, raw := api.send("POST", "/api/v1/meters/"+string(id)+"/commands", body, &c); status != 202 {
			t.Fatalf("command %v: %d %s", body, status, raw)
		}
		return c
	}
	final := func(c commandView) commandView {
		t.Helper()
		var got commandView
		waitUntil(t, ctx, 30*time.Second, "command "+c.ID+" to finish", func() bool {
			return api.try("/api/v1/commands/"+c.ID, &got) == 200 && got.State != "pending" && got.State != "accepted"
		})
		return got
	}

	// Relay: trip, confirmed by status word 3; then close.
	c := final(issue(ids[0], map[string]any{"action": "relay_open"}))
	if c.State != "succeeded" || c.Result["status3"]&16 == 0 || !m1.Relay(time.Now()).Open {
		t.Fatalf("relay_open: %+v; meter relay %+v", c, m1.Relay(time.Now()))
	}
	c = final(issue(ids[0], map[string]any{"action": "relay_close"}))
	if c.State != "succeeded" || c.Result["status3"]&16 != 0 || m1.Relay(time.Now()).Open {
		t.Fatalf("relay_close: %+v; meter relay %+v", c, m1.Relay(time.Now()))
	}
	// Read now: the meter's current values.
	c = final(issue(ids[1], map[string]any{"action": "read_now"}))
	if c.State != "succeeded" || c.Result["u_a"] < 100000 || c.Result["e_imp"] <= 0 {
		t.Fatalf("read_now: %+v", c)
	}
	// Time sync: the 90 s fast clock is reported and set right.
	c = final(issue(ids[1], map[string]any{"action": "time_sync"}))
	if d := c.Result["drift_ms"]; c.State != "succeeded" || d < 85000 || d > 95000 {
		t.Fatalf("time_sync: %+v", c)
	}
	if off := m2.Clock(time.Now()).Sub(time.Now()); off > 2*time.Second || off < -2*time.Second {
		t.Fatalf("meter clock off by %s after the time sync", off)
	}
	// Parameter write with read-back, and freeze.
	if c = final(issue(ids[2], map[string]any{"action": "set_param", "params": map[string]string{"param": "settlement_day", "value": "1508"}})); c.State != "succeeded" {
		t.Fatalf("set_param: %+v", c)
	}
	if c = final(issue(ids[2], map[string]any{"action": "freeze"})); c.State != "succeeded" {
		t.Fatalf("freeze: %+v", c)
	}
	// Refusals name the field.
	for _, bad := range []struct {
		path string
		body map[string]any
		code int
		want string
	}{
		{"/api/v1/meters/" + string(ids[0]) + "/commands", map[string]any{"action": "explode"}, 400, `action \"explode\"`},
		{"/api/v1/meters/" + string(ids[0]) + "/commands", map[string]any{"action": "set_param", "params": map[string]string{"param": "colour"}}, 400, "params.param"},
		{"/api/v1/meters/" + string(ids[0]) + "/commands", map[string]any{"action": "freeze", "ttl_s": 1}, 400, "ttl"},
		{"/api/v1/meters/K1.bus1.000000009999/commands", map[string]any{"action": "freeze"}, 404, "not found"},
		{"/api/v1/terminals/K1/plan", map[string]any{"acquisition": map[string]any{"instant_interval": "soon"}}, 400, "instant_interval"},
	} {
		method := "POST"
		if strings.HasSuffix(bad.path, "/plan") {
			method = "PUT"
		}
		if status, raw := api.send(method, bad.path, bad.body, nil); status != bad.code || !strings.Contains(raw, bad.want) {
			t.Errorf("%s %s %v: %d %s, want %d naming %q", method, bad.path, bad.body, status, raw, bad.code, bad.want)
		}
	}

	// A plan: meter 3 inactive, a 3 s interval; applied without a restart.
	var pv struct {
		Version        int64  `json:"version"`
		AppliedVersion int64  `json:"applied_version"`
		ReportState    string `json:"report_state"`
		ReportError    string `json:"report_error"`
	}
	plan := map[string]any{"acquisition": map[string]any{"instant_interval": "3s"}, "meters": []map[string]any{
		{"bus": "bus1", "address": "000000007001", "description": "Feeder A", "ct_ratio": 40},
		{"bus": "bus1", "address": "000000007002"},
		{"bus": "bus1", "address": "000000007003", "state": "inactive"}}}
	if status, raw := api.send("PUT", "/api/v1/terminals/K1/plan", plan, &pv); status != 201 || pv.Version != 1 {
		t.Fatalf("put plan: %d %s", status, raw)
	}
	waitUntil(t, ctx, 30*time.Second, "plan 1 applied", func() bool {
		return api.try("/api/v1/terminals/K1/plan", &pv) == 200 && pv.AppliedVersion == 1
	})
	applied := time.Now()
	latest := func(id meterdata.MeterID) time.Time {
		var out struct{ Readings []readingView }
		api.get("/api/v1/meters/"+string(id)+"/readings?kind=instant", &out)
		if len(out.Readings) == 0 {
			return time.Time{}
		}
		return out.Readings[len(out.Readings)-1].Time
	}
	waitUntil(t, ctx, 30*time.Second, "meter 1 read on the plan's 3 s slots after it applied", func() bool {
		l := latest(ids[0])
		return l.After(applied.Add(3*time.Second)) && l.Unix()%3 == 0
	})
	if l := latest(ids[2]); l.After(applied.Add(2 * time.Second)) {
		t.Fatalf("inactive meter 3 still polled: reading at %s, plan applied at %s", l, applied)
	}
	var inv struct {
		Meters []struct {
			ID          meterdata.MeterID `json:"id"`
			Description string            `json:"description"`
		}
	}
	api.get("/api/v1/meters", &inv)
	if len(inv.Meters) != 3 || inv.Meters[0].Description != "Feeder A" {
		t.Fatalf("inventory after the plan: %+v", inv.Meters)
	}

	// A plan the terminal cannot apply (no such bus) is reported rejected; plan 1 stays.
	bad := map[string]any{"meters": []map[string]any{{"bus": "bus9", "address": "000000007001"}}}
	if status, raw := api.send("PUT", "/api/v1/terminals/K1/plan", bad, &pv); status != 201 || pv.Version != 2 {
		t.Fatalf("put plan 2: %d %s", status, raw)
	}
	waitUntil(t, ctx, 30*time.Second, "plan 2 reported", func() bool {
		return api.try("/api/v1/terminals/K1/plan", &pv) == 200 && pv.ReportState == "rejected"
	})
	if pv.AppliedVersion != 1 || !strings.Contains(pv.ReportError, "bus9") {
		t.Fatalf("plan 2 report: %+v", pv)
	}

	// A command issued while the terminal is down runs once it is back; the plan in force
	// survives the restart.
	stop()
	c = issue(ids[1], map[string]any{"action": "read_now", "ttl_s": 120})
	if c.State != "pending" {
		t.Fatalf("command to a stopped terminal: %+v", c)
	}
	// And one the terminal had accepted, but not run, when it stopped (as after a crash).
	j, err := journal.Open(ctx, tcfg.JournalPath, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	accepted := issue(ids[0], map[string]any{"action": "freeze", "ttl_s": 120})
	if _, _, err := j.AddCommand(ctx, journal.Command{ID: accepted.ID, Meter: ids[0], Action: "freeze",
		Issued: time.Now(), Expires: time.Now().Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	start()
	if c = final(c); c.State != "succeeded" || c.Result["u_a"] == 0 {
		t.Fatalf("command issued while the terminal was down: %+v", c)
	}
	if c = final(accepted); c.State != "succeeded" {
		t.Fatalf("command accepted before the restart: %+v", c)
	}
	waitUntil(t, ctx, 30*time.Second, "the restarted terminal to report plan 1 in force", func() bool {
		var st struct {
			Terminals []struct {
				ID    string `json:"id"`
				State string `json:"state"`
			}
		}
		return api.try("/api/v1/terminals", &st) == 200 && len(st.Terminals) == 1 && st.Terminals[0].State == "online" &&
			api.try("/api/v1/terminals/K1/plan", &pv) == 200 && pv.AppliedVersion == 1
	})
	since := time.Now()
	time.Sleep(4 * time.Second)
	if l := latest(ids[2]); l.After(since) {
		t.Fatalf("inactive meter 3 polled after the restart (plan 1 not in force): %s", l)
	}

	// A meter that stops answering reaches the event log over MQTT (up/events).
	if err := m2.SetFaults(metersim.Faults{NoAnswer: true}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ctx, 60*time.Second, "a meter_silent event for meter 2", func() bool {
		var ev struct {
			Events []struct{ Kind string }
		}
		return api.try("/api/v1/events?kind=meter_silent&meter="+string(ids[1]), &ev) == 200 && len(ev.Events) == 1
	})
}
