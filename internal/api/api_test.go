package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gridmeter/internal/auth"
	"gridmeter/internal/dispatch"
	"gridmeter/internal/live"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
	"gridmeter/internal/storage/sqlitestore"
)

const (
	m1 = meterdata.MeterID("T1.bus1.000000000001")
	m2 = meterdata.MeterID("T1.bus1.000000000002")
)

var t0 = time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)

type fixture struct {
	srv   *httptest.Server
	hub   *live.Hub
	store *sqlitestore.Store
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.UpsertMeters(ctx, []meterdata.Meter{
		{ID: m1, Terminal: "T1", Bus: "bus1", Address: "000000000001", Protocol: "dlt645", Description: "Flat 1"},
		{ID: m2, Terminal: "T1", Bus: "bus1", Address: "000000000002", Protocol: "dlt645"},
	}); err != nil {
		t.Fatal(err)
	}
	var rs []meterdata.Reading
	for i := 0; i < 10; i++ {
		rs = append(rs, meterdata.Reading{Meter: m1, Kind: meterdata.KindInstant, Time: t0.Add(time.Duration(i) * time.Minute), Values: map[string]int64{"p": int64(1000 * i), "u_a": 230000}})
	}
	rs = append(rs, meterdata.Reading{Meter: m1, Kind: meterdata.KindDailyFrozen, Time: t0, Values: map[string]int64{"e_imp": 5000}, Quality: meterdata.QualityBackfilled})
	if _, err := st.StoreBatch(ctx, storage.Batch{Terminal: "T1", FirstSeq: 1, LastSeq: uint64(len(rs)), Readings: rs}); err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateTerminalStatus(ctx, storage.TerminalStatus{ID: "T1", State: "online", Software: "0.1.0", At: t0}); err != nil {
		t.Fatal(err)
	}
	hash := func(pw string) string {
		h, err := auth.HashPassword(pw, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	users, err := auth.NewUsers([]auth.User{
		{Name: "admin", Role: auth.RoleAdmin, PasswordHash: hash("secret")},
		{Name: "viewer", Role: auth.RoleViewer, PasswordHash: hash("look")},
	})
	if err != nil {
		t.Fatal(err)
	}
	hub := live.NewHub()
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "gridmeter_up 1\n") })
	s := New(Options{Store: st, Users: users, Sessions: auth.NewSessions(time.Hour), Hub: hub, Metrics: metrics,
		Now:      func() time.Time { return t0.Add(30 * time.Minute) },
		Dispatch: dispatch.New(st, noBroker{}, dispatch.Options{}), Commands: st})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, hub: hub, store: st}
}

// do sends a request as user (Basic auth; "" for none) and returns status and body.
func (f *fixture) do(t *testing.T, method, path, user, pw, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if user != "" {
		req.SetBasicAuth(user, pw)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestReadingsQuery(t *testing.T) {
	f := newFixture(t)
	path := "/api/v1/meters/" + url.PathEscape(string(m1)) + "/readings?"
	tests := []struct {
		name, query string
		status      int
		want        string // substring of the body
		count       int    // readings expected for 200
	}{
		{"default last hour, all kinds", "", 200, `"meter":"T1.bus1.000000000001"`, 11},
		{"kind filter", "kind=instant", 200, `"kind":"instant"`, 10},
		{"time range [from,to)", "from=2026-11-24T04:02:00Z&to=2026-11-24T04:05:00Z&kind=instant", 200, `"p":2000`, 3},
		{"limit", "limit=4", 200, "", 4},
		{"quality flags", "kind=daily_frozen", 200, `"quality":["backfilled"]`, 1},
		{"bad from", "from=yesterday", 400, `from: invalid time \"yesterday\": want RFC 3339`, 0},
		{"bad to", "to=2026-13-01", 400, `to: invalid time`, 0},
		{"from not before to", "from=2026-11-24T05:00:00Z&to=2026-11-24T04:00:00Z", 400, "is not before to", 0},
		{"unknown kind", "kind=weekly", 400, `kind \"weekly\": want one of`, 0},
		{"limit zero", "limit=0", 400, `limit \"0\": want a whole number from 1 to 50000`, 0},
		{"limit too big", "limit=50001", 400, "want a whole number", 0},
		{"unknown parameter", "form=2026-11-24T04:00:00Z", 400, `unknown parameter \"form\"`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.do(t, "GET", path+tt.query, "viewer", "look", "")
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if !strings.Contains(body, tt.want) {
				t.Fatalf("body %s does not contain %s", body, tt.want)
			}
			if status != 200 {
				var e struct {
					Error struct {
						Status  int    `json:"status"`
						Message string `json:"message"`
					} `json:"error"`
				}
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Status != status || e.Error.Message == "" {
					t.Fatalf("error body %s: want {\"error\":{\"status\":%d,\"message\":...}}", body, status)
				}
				return
			}
			var out struct{ Readings []json.RawMessage }
			json.Unmarshal([]byte(body), &out)
			if len(out.Readings) != tt.count {
				t.Fatalf("%d readings, want %d", len(out.Readings), tt.count)
			}
		})
	}
}

func TestMetersAndTerminals(t *testing.T) {
	f := newFixture(t)
	status, body := f.do(t, "GET", "/api/v1/meters", "viewer", "look", "")
	if status != 200 {
		t.Fatalf("meters: %d %s", status, body)
	}
	var ms struct {
		Meters []struct {
			ID          string `json:"id"`
			Description string `json:"description"`
			Latest      *struct {
				Time   time.Time        `json:"time"`
				Values map[string]int64 `json:"values"`
			} `json:"latest"`
		} `json:"meters"`
	}
	if err := json.Unmarshal([]byte(body), &ms); err != nil {
		t.Fatal(err)
	}
	if len(ms.Meters) != 2 || ms.Meters[0].Description != "Flat 1" || ms.Meters[0].Latest == nil ||
		!ms.Meters[0].Latest.Time.Equal(t0.Add(9*time.Minute)) || ms.Meters[0].Latest.Values["p"] != 9000 || ms.Meters[1].Latest != nil {
		t.Fatalf("meters: %s", body)
	}
	if status, body := f.do(t, "GET", "/api/v1/meters/T1.bus1.000000000009", "viewer", "look", ""); status != 404 || !strings.Contains(body, "not found") {
		t.Fatalf("unknown meter: %d %s", status, body)
	}
	if status, body := f.do(t, "GET", "/api/v1/meters/not-a-meter/readings", "viewer", "look", ""); status != 400 || !strings.Contains(body, "want <terminal>.<bus>.<address>") {
		t.Fatalf("malformed meter id: %d %s", status, body)
	}
	status, body = f.do(t, "GET", "/api/v1/terminals", "viewer", "look", "")
	if status != 200 || !strings.Contains(body, `"id":"T1","state":"online","software":"0.1.0"`) || !strings.Contains(body, `"last_seq":11`) {
		t.Fatalf("terminals: %d %s", status, body)
	}
	if status, body := f.do(t, "GET", "/api/v1/nothing", "viewer", "look", ""); status != 404 || !strings.Contains(body, "no route GET /api/v1/nothing") {
		t.Fatalf("unknown route: %d %s", status, body)
	}
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	if status, body := f.do(t, "GET", "/api/v1/meters", "", "", ""); status != 401 || !strings.Contains(body, "login required") {
		t.Fatalf("no credentials: %d %s", status, body)
	}
	if status, _ := f.do(t, "GET", "/metrics", "", "", ""); status != 401 {
		t.Fatalf("metrics without credentials: %d", status)
	}
	if status, body := f.do(t, "GET", "/metrics", "viewer", "look", ""); status != 200 || body != "gridmeter_up 1\n" {
		t.Fatalf("metrics as viewer: %d %q", status, body)
	}
	if status, _ := f.do(t, "GET", "/api/v1/meters", "admin", "wrong", ""); status != 401 {
		t.Fatalf("wrong basic password: %d", status)
	}
	// A browser's request without credentials gets no Basic challenge (no native dialog);
	// a client that tried Basic auth does.
	for _, basic := range []bool{false, true} {
		req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/me", nil)
		if basic {
			req.SetBasicAuth("admin", "wrong")
		}
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("WWW-Authenticate") != ""; got != basic {
			t.Fatalf("basic attempt %v: WWW-Authenticate present %v", basic, got)
		}
	}
	if status, body := f.do(t, "POST", "/api/v1/login", "", "", `{"username":"admin","password":"wrong"}`); status != 401 || !strings.Contains(body, "unknown user or wrong password") {
		t.Fatalf("bad login: %d %s", status, body)
	}
	if status, body := f.do(t, "POST", "/api/v1/login", "", "", `{"username":"admin","pass":"x"}`); status != 400 || !strings.Contains(body, `unknown field \"pass\"`) {
		t.Fatalf("malformed login: %d %s", status, body)
	}

	// Session cookie flow: login → me → logout → refused.
	jar := &cookieJar{}
	c := &http.Client{Jar: jar}
	post := func(path, body string) *http.Response {
		resp, err := c.Post(f.srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := post("/api/v1/login", `{"username":"admin","password":"secret"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("login: %s", resp.Status)
	}
	ck := resp.Cookies()
	if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v: want one HttpOnly SameSite=Strict cookie", ck)
	}
	get := func(path string) int {
		resp, err := c.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get("/api/v1/me"); s != 200 {
		t.Fatalf("me with session: %d", s)
	}
	if resp := post("/api/v1/logout", ""); resp.StatusCode != 204 {
		t.Fatalf("logout: %s", resp.Status)
	}
	if s := get("/api/v1/me"); s != 401 {
		t.Fatalf("me after logout: %d", s)
	}
}

type cookieJar struct{ cookies []*http.Cookie }

func (j *cookieJar) SetCookies(_ *url.URL, cs []*http.Cookie) {
	for _, c := range cs {
		if c.MaxAge < 0 {
			j.cookies = nil
			continue
		}
		j.cookies = []*http.Cookie{c}
	}
}
func (j *cookieJar) Cookies(*url.URL) []*http.Cookie { return j.cookies }

func TestStream(t *testing.T) {
	f := newFixture(t)
	if status, body := f.do(t, "GET", "/api/v1/stream?meter=bad", "viewer", "look", ""); status != 400 {
		t.Fatalf("bad meter: %d %s", status, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/api/v1/stream?meter="+string(m2), nil)
	req.SetBasicAuth("viewer", "look")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	rd := bufio.NewReader(resp.Body)
	if line, _ := rd.ReadString('\n'); line != ": connected\n" {
		t.Fatalf("first line %q", line)
	}
	for f.hub.Subscribers() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	// A reading of another meter is not sent; one of m2 is.
	f.hub.Publish([]meterdata.Reading{
		{Meter: m1, Kind: meterdata.KindInstant, Time: t0, Values: map[string]int64{"p": 1}},
		{Meter: m2, Kind: meterdata.KindInstant, Time: t0, Values: map[string]int64{"p": 2}},
	})
	var lines []string
	for len(lines) < 3 {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
		if len(lines) == 2 {
			break
		}
	}
	if lines[0] != "event: reading" || !strings.Contains(lines[1], `"meter":"T1.bus1.000000000002"`) || !strings.Contains(lines[1], `"p":2`) {
		t.Fatalf("event %q", lines)
	}
}

type fakeIEC102 struct{ triggered []string }

func (f *fakeIEC102) Targets() []IEC102Target {
	return []IEC102Target{{Name: "T1", Addr: "127.0.0.1:20102", Failures: 2, LastError: "dial: connection refused"}}
}

func (f *fakeIEC102) Trigger(name string) error {
	if name != "T1" {
		return fmt.Errorf("target %q: %w", name, storage.ErrNotFound)
	}
	f.triggered = append(f.triggered, name)
	return nil
}

func TestIEC102Routes(t *testing.T) {
	f := newFixture(t)
	// Without a master: an empty list, and polling is 404.
	if status, body := f.do(t, "GET", "/api/v1/iec102/targets", "viewer", "look", ""); status != 200 || body != "{\"targets\":[]}\n" {
		t.Fatalf("no master: %d %s", status, body)
	}
	if status, _ := f.do(t, "POST", "/api/v1/iec102/targets/T1/poll", "admin", "secret", ""); status != 404 {
		t.Fatalf("poll without a master: %d", status)
	}
}

func TestIEC102OnDemandPoll(t *testing.T) {
	fx := newFixture(t)
	m := &fakeIEC102{}
	// Rebuild the server with a master.
	st, _ := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "x.db"))
	defer st.Close()
	h, _ := auth.HashPassword("look", 1000)
	ho, _ := auth.HashPassword("op", 1000)
	users, _ := auth.NewUsers([]auth.User{{Name: "viewer", Role: auth.RoleViewer, PasswordHash: h}, {Name: "op", Role: auth.RoleOperator, PasswordHash: ho}})
	srv := httptest.NewServer(New(Options{Store: st, Users: users, Sessions: auth.NewSessions(time.Hour), IEC102: m}).Handler())
	defer srv.Close()
	fx.srv = srv
	if status, body := fx.do(t, "GET", "/api/v1/iec102/targets", "viewer", "look", ""); status != 200 || !strings.Contains(body, `"name":"T1"`) || !strings.Contains(body, `"failures":2`) {
		t.Fatalf("targets: %d %s", status, body)
	}
	if status, _ := fx.do(t, "POST", "/api/v1/iec102/targets/T1/poll", "viewer", "look", ""); status != 403 {
		t.Fatalf("a viewer triggered a poll: %d", status)
	}
	if status, body := fx.do(t, "POST", "/api/v1/iec102/targets/T9/poll", "op", "op", ""); status != 404 || !strings.Contains(body, `target \"T9\": not found`) {
		t.Fatalf("unknown target: %d %s", status, body)
	}
	if status, body := fx.do(t, "POST", "/api/v1/iec102/targets/T1/poll", "op", "op", ""); status != 202 || !strings.Contains(body, `"status":"queued"`) {
		t.Fatalf("poll: %d %s", status, body)
	}
	if len(m.triggered) != 1 {
		t.Fatalf("triggered %v", m.triggered)
	}
}

// TestEveryRouteIsDocumented keeps docs/api.md in step with the routes.
func TestEveryRouteIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Metrics: http.NotFoundHandler(), Static: http.NotFoundHandler()})
	for _, p := range s.patterns {
		if !strings.Contains(string(doc), "`"+p+"`") && !strings.Contains(string(doc), "`"+p+" ") {
			t.Errorf("route %q is not in docs/api.md", p)
		}
	}
}

func TestEvents(t *testing.T) {
	f := newFixture(t)
	if status, body := f.do(t, "GET", "/api/v1/events", "viewer", "look", ""); status != 200 || body != "{\"events\":[]}\n" {
		t.Fatalf("no events: %d %s", status, body)
	}
	if err := f.store.AppendEvents(context.Background(), []storage.Event{
		{At: t0, Kind: "terminal_online", Severity: storage.SeverityInfo, Terminal: "T1", Message: "T1 online"},
		{At: t0.Add(time.Minute), Kind: "clock_drift", Severity: storage.SeverityWarning, Terminal: "T1", Message: "off by 3s", Data: map[string]int64{"drift_ms": 3000}},
	}); err != nil {
		t.Fatal(err)
	}
	status, body := f.do(t, "GET", "/api/v1/events?terminal=T1", "viewer", "look", "")
	if status != 200 || !strings.Contains(body, `"kind":"clock_drift"`) || strings.Index(body, "clock_drift") > strings.Index(body, "terminal_online") ||
		!strings.Contains(body, `"data":{"drift_ms":3000}`) {
		t.Fatalf("events: %d %s", status, body)
	}
	if status, body := f.do(t, "GET", "/api/v1/events?kind=clock_drift&limit=1", "viewer", "look", ""); status != 200 || strings.Contains(body, "terminal_online") {
		t.Fatalf("kind filter: %d %s", status, body)
	}
	for q, want := range map[string]string{"terminal=T.1": "terminal:", "from=soon": `from: invalid time`, "limit=0": "limit", "sort=asc": `unknown parameter \"sort\"`} {
		if status, body := f.do(t, "GET", "/api/v1/events?"+q, "viewer", "look", ""); status != 400 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s, want 400 with %q", q, status, body, want)
		}
	}
}

// noBroker is the down-link without a broker: commands and plans are stored, publishing
// fails (the re-send would deliver them). The broker path is tested in e2e.
type noBroker struct{}

func (noBroker) Publish(context.Context, string, []byte, bool) error {
	return errors.New("no broker here")
}

func TestCommandRoutes(t *testing.T) {
	f := newFixture(t)
	path := "/api/v1/meters/" + string(m1) + "/commands"
	if status, body := f.do(t, "POST", path, "viewer", "look", `{"action":"read_now"}`); status != 403 {
		t.Fatalf("viewer issuing a command: %d %s", status, body)
	}
	status, body := f.do(t, "POST", path, "admin", "secret", `{"action":"relay_open","ttl_s":60}`)
	if status != 202 || !strings.Contains(body, `"state":"pending"`) || !strings.Contains(body, `"issued_by":"admin"`) {
		t.Fatalf("issue: %d %s", status, body)
	}
	var c struct{ ID string }
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ method, path, body, want string }{
		{"POST", path, `{"action":"explode"}`, "action"},
		{"POST", path, `{"action":"freeze","ttl_s":-5}`, "ttl_s"},
		{"POST", path, `{"action":"freeze","colour":1}`, "colour"},
		{"GET", "/api/v1/commands?open=perhaps", "", "open"},
		{"GET", "/api/v1/commands?when=now", "", "unknown parameter"},
		{"GET", "/api/v1/commands/bad%20id", "", "id"},
		{"PUT", "/api/v1/terminals/T1/plan", `{"acquisition":{"status_interval":"5ms"}}`, "status_interval"},
	} {
		if status, body := f.do(t, bad.method, bad.path, "admin", "secret", bad.body); status != 400 || !strings.Contains(body, bad.want) {
			t.Errorf("%s %s %s: %d %s, want 400 naming %q", bad.method, bad.path, bad.body, status, body, bad.want)
		}
	}
	if status, body := f.do(t, "GET", "/api/v1/commands/"+c.ID, "viewer", "look", ""); status != 200 || !strings.Contains(body, `"action":"relay_open"`) {
		t.Fatalf("get command: %d %s", status, body)
	}
	if status, _ := f.do(t, "GET", "/api/v1/commands/c-unknown", "viewer", "look", ""); status != 404 {
		t.Fatalf("unknown command: %d", status)
	}
	if status, body := f.do(t, "GET", "/api/v1/commands?open=true&meter="+string(m1), "viewer", "look", ""); status != 200 || strings.Count(body, `"id"`) != 1 {
		t.Fatalf("list: %d %s", status, body)
	}
	if status, body := f.do(t, "GET", "/api/v1/terminals/T1/plan", "viewer", "look", ""); status != 404 || !strings.Contains(body, "own configuration") {
		t.Fatalf("no plan yet: %d %s", status, body)
	}
	if status, body := f.do(t, "PUT", "/api/v1/terminals/T1/plan", "admin", "secret", `{"acquisition":{"instant_interval":"15m"}}`); status != 201 || !strings.Contains(body, `"version":1`) {
		t.Fatalf("put plan: %d %s", status, body)
	}
	if status, body := f.do(t, "GET", "/api/v1/terminals/T1/plan", "viewer", "look", ""); status != 200 || !strings.Contains(body, `"instant_interval":"15m"`) || !strings.Contains(body, `"applied_version":0`) {
		t.Fatalf("get plan: %d %s", status, body)
	}
}
