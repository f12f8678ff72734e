// Package e2e holds the end-to-end tests: the whole system over real loopback sockets — the
// simulated meters' DL/T 645 gateway, a real MQTT broker (embedded mochi, or the machine's
// Mosquitto), SQLite — checked from outside through the REST API.
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gridmeter/internal/demo"
	"gridmeter/internal/journal"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/transport"
)

// mosquittoURL is the machine's Mosquitto (override with GRIDMETER_TEST_MOSQUITTO).
func mosquittoURL() string {
	if u := os.Getenv("GRIDMETER_TEST_MOSQUITTO"); u != "" {
		return u
	}
	return "mqtt://127.0.0.1:1883"
}

func TestEndToEndEmbeddedBroker(t *testing.T) {
	runPipeline(t, "", true)
}

func TestEndToEndMosquitto(t *testing.T) {
	runPipeline(t, mosquittoURL(), false)
}

// runPipeline starts meters, head-end and two terminals, lets readings flow (through a
// head-end restart when restartHeadEnd), then stops the meters, lets the terminals drain,
// and checks that every reading the terminals journaled is stored exactly once, with the
// same values, and nothing else is.
func runPipeline(t *testing.T, externalMQTT string, restartHeadEnd bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	prefix := "E" + randomHex(4) + "t" // unique terminal ids: the machine's Mosquitto is shared
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	d, err := demo.Start(ctx, demo.Options{
		Dir: dir, HTTPListen: "127.0.0.1:0", MQTTListen: "127.0.0.1:0", ExternalMQTT: externalMQTT,
		Terminals: 2, MetersPerTerminal: 3, Interval: time.Second, TerminalPrefix: prefix, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	if externalMQTT != "" {
		defer clearRetained(t, externalMQTT, d.TerminalIDs)
	}
	api := &client{t: t, base: d.URL, password: d.Credentials.AdminPassword}

	// Readings arrive for every meter through the broker.
	waitUntil(t, ctx, 30*time.Second, "every meter to have 2 stored readings", func() bool {
		for _, m := range d.Meters {
			if len(api.readings(m.ID)) < 2 {
				return false
			}
		}
		return true
	})

	if restartHeadEnd {
		// The head-end goes away while the terminals keep reading: they must journal and,
		// after it comes back, deliver the backlog.
		if err := d.RestartHeadEnd(ctx, 3*time.Second); err != nil {
			t.Fatal(err)
		}
		api.base = d.URL
		waitUntil(t, ctx, 30*time.Second, "readings after the head-end restart", func() bool {
			for _, m := range d.Meters {
				if len(api.readings(m.ID)) < 6 {
					return false
				}
			}
			return true
		})
	}

	// Stop the meters; the terminals keep running until their journals are drained.
	d.StopSimulator()
	waitUntil(t, ctx, 30*time.Second, "the terminals' journals to be fully acknowledged", func() bool {
		for _, term := range d.Terminals {
			st, err := term.Journal().Stats(ctx)
			if err != nil || st.Unacked != 0 {
				return false
			}
		}
		return true
	})
	d.StopTerminals()

	// Every journaled reading is stored exactly once with its values; nothing else is.
	journaledTotal := 0
	for _, id := range d.TerminalIDs {
		j, err := journal.Open(ctx, filepath.Join(dir, id+".journal"), journal.Options{})
		if err != nil {
			t.Fatal(err)
		}
		es, err := j.Entries(ctx, 0, 1_000_000)
		j.Close()
		if err != nil {
			t.Fatal(err)
		}
		byMeter := map[meterdata.MeterID][]journal.Entry{}
		for _, e := range es {
			byMeter[e.Reading.Meter] = append(byMeter[e.Reading.Meter], e)
		}
		for _, m := range d.Meters {
			if m.Terminal != id {
				continue
			}
			stored := api.readings(m.ID)
			jes := byMeter[m.ID]
			if len(stored) != len(jes) {
				t.Errorf("meter %s: %d readings journaled, %d stored", m.ID, len(jes), len(stored))
			}
			type key struct {
				kind string
				at   int64
			}
			got := map[key]readingView{}
			for _, r := range stored {
				k := key{r.Kind, r.Time.UnixMilli()}
				if _, dup := got[k]; dup {
					t.Errorf("meter %s: %s reading at %s stored twice", m.ID, r.Kind, r.Time)
				}
				got[k] = r
			}
			for _, e := range jes {
				r, ok := got[key{string(e.Reading.Kind), e.Reading.Time.UnixMilli()}]
				if !ok {
					t.Errorf("meter %s: journaled reading seq %d at %s is not stored (lost)", m.ID, e.Seq, e.Reading.Time)
					continue
				}
				if !meterdata.SameValues(e.Reading, meterdata.Reading{Values: r.Values}) {
					t.Errorf("meter %s at %s: stored values %v differ from journaled %v", m.ID, e.Reading.Time, r.Values, e.Reading.Values)
				}
			}
			journaledTotal += len(jes)
		}
	}
	if journaledTotal < len(d.Meters)*2 {
		t.Fatalf("only %d readings journaled in all", journaledTotal)
	}
	st := d.HeadEnd.Ingest().Stats()
	t.Logf("journaled %d readings; head-end: %d batches, %d inserted, %d duplicates, %d conflicts, %d gaps, %d rejected",
		journaledTotal, st.Batches, st.Inserted, st.Duplicates, st.Conflicts, st.SeqGaps, st.Rejected)
	if st.Conflicts != 0 || st.Rejected != 0 || st.SeqGaps != 0 {
		t.Fatalf("conflicts %d, rejected %d, gaps %d: want none", st.Conflicts, st.Rejected, st.SeqGaps)
	}

	// The terminals and meters (DL/T 645 on bus1, Modbus on bus2) are known to the API with
	// their descriptions.
	var ms struct {
		Meters []struct {
			meterdata.Meter
			Latest *readingView `json:"latest"`
		} `json:"meters"`
	}
	api.get("/api/v1/meters", &ms)
	own := 0
	for _, m := range ms.Meters {
		if m.Terminal == d.TerminalIDs[0] || m.Terminal == d.TerminalIDs[1] {
			own++
			want := meterdata.ProtocolDLT645
			if m.Bus == "bus2" {
				want = meterdata.ProtocolModbus
			}
			if m.Protocol != want || m.Description == "" || m.Latest == nil {
				t.Errorf("meter %s listed as %+v", m.ID, m)
			}
		}
	}
	if own != len(d.Meters) {
		t.Errorf("API lists %d of our %d meters", own, len(d.Meters))
	}
	// After their clean stop, both terminals are reported offline, with no sequence gaps.
	type terminalView struct {
		ID      string `json:"id"`
		State   string `json:"state"`
		LastSeq uint64 `json:"last_seq"`
		SeqGaps uint64 `json:"seq_gaps"`
	}
	var last []terminalView
	waitUntil(t, ctx, 10*time.Second, "both terminals to be reported offline", func() bool {
		var ts struct{ Terminals []terminalView }
		api.get("/api/v1/terminals", &ts)
		last = nil
		for _, term := range ts.Terminals {
			if term.ID == d.TerminalIDs[0] || term.ID == d.TerminalIDs[1] {
				last = append(last, term)
			}
		}
		return len(last) == 2 && last[0].State == "offline" && last[1].State == "offline"
	})
	for _, term := range last {
		if term.LastSeq == 0 || term.SeqGaps != 0 {
			t.Errorf("terminal %+v: want last_seq > 0 and no gaps", term)
		}
	}
}

type readingView struct {
	Time    time.Time        `json:"time"`
	Kind    string           `json:"kind"`
	Values  map[string]int64 `json:"values"`
	Quality []string         `json:"quality"`
}

type client struct {
	t        *testing.T
	base     string
	password string
}

func (c *client) get(path string, v any) {
	c.t.Helper()
	if status := c.try(path, v); status != 200 {
		c.t.Fatalf("GET %s: status %d", path, status)
	}
}

// try GETs path into v and returns the HTTP status; a transport error fails the test.
func (c *client) try(path string, v any) int {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path[1:], nil)
	req.SetBasicAuth("admin", c.password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		c.t.Logf("GET %s: %s: %s", path, resp.Status, b)
		return resp.StatusCode
	}
	if err := json.Unmarshal(b, v); err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode
}

// readings returns every stored reading of a meter, of every kind: the window reaches back
// past the meters' 62 days of frozen memory and a day ahead for clock skew.
func (c *client) readings(id meterdata.MeterID) []readingView {
	c.t.Helper()
	var out struct {
		Readings []readingView `json:"readings"`
	}
	q := url.Values{"from": {time.Now().AddDate(0, 0, -70).UTC().Format(time.RFC3339)}, "to": {time.Now().AddDate(0, 0, 1).UTC().Format(time.RFC3339)},
		"limit": {"50000"}}
	switch status := c.try("/api/v1/meters/"+url.PathEscape(string(id))+"/readings?"+q.Encode(), &out); status {
	case 200:
		return out.Readings
	case 404: // not known yet: its terminal's inventory or first reading has not arrived
		return nil
	default:
		c.t.Fatalf("readings of %s: status %d", id, status)
		return nil
	}
}

func waitUntil(t *testing.T, ctx context.Context, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// clearRetained removes the retained status and inventory the test left on a shared broker.
func clearRetained(t *testing.T, brokerURL string, terminals []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, transport.Config{URL: brokerURL, ClientID: "cleanup-" + randomHex(4), CleanStart: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Logf("clear retained: %v", err)
		return
	}
	defer c.Close(ctx)
	if err := c.AwaitConnection(ctx); err != nil {
		t.Logf("clear retained: %v", err)
		return
	}
	for _, id := range terminals {
		for _, suffix := range []string{"up/status", "up/meters"} {
			topic := fmt.Sprintf("gridmeter/v1/%s/%s", id, suffix)
			if err := c.Publish(ctx, transport.Message{Topic: topic, QoS: 1, Retain: true}); err != nil {
				t.Logf("clear retained %s: %v", topic, err)
			}
		}
	}
}
