// Package api is the head-end's HTTP layer: the REST API v1 (every route in routes below),
// login sessions, the live event stream (Server-Sent Events) and the web app's files. It is
// the only package that knows HTTP, and the only place errors become HTTP statuses
// (writeError).
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"gridmeter/internal/auth"
	"gridmeter/internal/live"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// Store is what the API reads.
type Store interface {
	storage.ReadingReader
	Meters(ctx context.Context) ([]meterdata.Meter, error)
	Meter(ctx context.Context, id meterdata.MeterID) (meterdata.Meter, error)
	Terminals(ctx context.Context) ([]storage.Terminal, error)
	Events(ctx context.Context, q storage.EventQuery) ([]storage.Event, error)
}

// Options configure the API server.
type Options struct {
	Store    Store
	Users    *auth.Users
	Sessions *auth.Sessions
	Hub      *live.Hub
	Static   http.Handler // the web app, served at /
	Metrics  http.Handler // Prometheus exposition, served at /metrics to viewers (scrape with Basic auth)
	Logger   *slog.Logger
	Now      func() time.Time
	// SecureCookie marks the session cookie Secure (set when served over HTTPS).
	SecureCookie bool
	// IEC102 is the IEC 102 master; nil when no targets are configured.
	IEC102 IEC102
	// Dispatch sends commands and plans; Commands reads them back (nil: not available).
	Dispatch Dispatch
	Commands CommandStore
}

// IEC102 is what the API needs of the IEC 102 master.
type IEC102 interface {
	Targets() []IEC102Target
	// Trigger queues a session of the named target now; ErrNotFound for an unknown name.
	Trigger(name string) error
}

// IEC102Target is an IEC 102 target's polling state, as the API shows it.
type IEC102Target struct {
	Name         string     `json:"name"`
	Addr         string     `json:"addr"`
	LastStart    *time.Time `json:"last_start"`
	LastDuration int64      `json:"last_duration_ms"`
	LastError    string     `json:"last_error,omitempty"`
	Failures     int        `json:"failures"`
	Next         *time.Time `json:"next"`
	ClockDrift   *int64     `json:"clock_drift_ms"`
	Readings     int        `json:"readings"`
	Inserted     int        `json:"inserted"`
	Duplicates   int        `json:"duplicates"`
	Conflicts    int        `json:"conflicts"`
}

// Server serves the API.
type Server struct {
	opt      Options
	log      *slog.Logger
	mux      *http.ServeMux
	patterns []string // every route registered, for the documentation check
}

const sessionCookie = "gm_session"

// New returns a server; Handler serves it.
func New(opt Options) *Server {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	s := &Server{opt: opt, log: opt.Logger.With("component", "api"), mux: http.NewServeMux()}
	s.routes()
	return s
}

// routes lists every route of the API in one place.
func (s *Server) routes() {
	m := routeRecorder{s}
	m.HandleFunc("POST /api/v1/login", s.login)
	m.HandleFunc("POST /api/v1/logout", s.logout)
	m.HandleFunc("GET /api/v1/me", s.need(auth.RoleViewer, s.me))
	m.HandleFunc("GET /api/v1/terminals", s.need(auth.RoleViewer, s.terminals))
	m.HandleFunc("GET /api/v1/meters", s.need(auth.RoleViewer, s.meters))
	m.HandleFunc("GET /api/v1/meters/{id}", s.need(auth.RoleViewer, s.meter))
	m.HandleFunc("GET /api/v1/meters/{id}/readings", s.need(auth.RoleViewer, s.readings))
	m.HandleFunc("GET /api/v1/stream", s.need(auth.RoleViewer, s.stream))
	m.HandleFunc("GET /api/v1/events", s.need(auth.RoleViewer, s.events))
	m.HandleFunc("GET /api/v1/iec102/targets", s.need(auth.RoleViewer, s.iec102Targets))
	m.HandleFunc("POST /api/v1/iec102/targets/{name}/poll", s.need(auth.RoleOperator, s.iec102Poll))
	m.HandleFunc("POST /api/v1/meters/{id}/commands", s.need(auth.RoleOperator, s.issueCommand))
	m.HandleFunc("GET /api/v1/commands", s.need(auth.RoleViewer, s.commands))
	m.HandleFunc("GET /api/v1/commands/{id}", s.need(auth.RoleViewer, s.command))
	m.HandleFunc("GET /api/v1/terminals/{id}/plan", s.need(auth.RoleViewer, s.plan))
	m.HandleFunc("PUT /api/v1/terminals/{id}/plan", s.need(auth.RoleOperator, s.putPlan))
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &httpError{http.StatusNotFound, fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)})
	})
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	if s.opt.Metrics != nil {
		m.HandleFunc("GET /metrics", s.need(auth.RoleViewer, s.opt.Metrics.ServeHTTP))
	}
	if s.opt.Static != nil {
		m.Handle("/", s.opt.Static)
	}
}

// routeRecorder registers routes on the server's mux and remembers their patterns.
type routeRecorder struct{ s *Server }

func (r routeRecorder) HandleFunc(pattern string, h http.HandlerFunc) {
	r.s.patterns = append(r.s.patterns, pattern)
	r.s.mux.HandleFunc(pattern, h)
}

func (r routeRecorder) Handle(pattern string, h http.Handler) {
	r.s.patterns = append(r.s.patterns, pattern)
	r.s.mux.Handle(pattern, h)
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		s.mux.ServeHTTP(w, r)
	})
}

// httpError is an error with the HTTP status it maps to.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, a...)}
}

// writeError is the one adapter from errors to HTTP statuses.
func writeError(w http.ResponseWriter, err error) {
	status, msg := http.StatusInternalServerError, "internal error"
	var he *httpError
	switch {
	case errors.As(err, &he):
		status, msg = he.status, he.msg
	case errors.Is(err, storage.ErrNotFound):
		status, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, auth.ErrBadLogin):
		status, msg = http.StatusUnauthorized, err.Error()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		status, msg = http.StatusServiceUnavailable, "request cancelled or timed out"
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"status": status, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

type userKey struct{}

// need wraps a handler so it runs only for an authenticated user with at least role.
func (s *Server) need(role auth.Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.authenticate(r)
		if !ok {
			// Challenge only clients that tried Basic auth: a challenge on a browser's fetch
			// or EventSource would pop up the browser's own password dialog over the app.
			if _, _, basic := r.BasicAuth(); basic {
				w.Header().Set("WWW-Authenticate", `Basic realm="gridmeter"`)
			}
			writeError(w, &httpError{http.StatusUnauthorized, "login required: POST /api/v1/login or use HTTP Basic auth"})
			return
		}
		if !u.Role.Allows(role) {
			writeError(w, &httpError{http.StatusForbidden, fmt.Sprintf("user %q has role %s; this needs %s", u.Name, u.Role, role)})
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	}
}

func (s *Server) authenticate(r *http.Request) (auth.User, bool) {
	now := s.opt.Now()
	if c, err := r.Cookie(sessionCookie); err == nil {
		if u, ok := s.opt.Sessions.Lookup(c.Value, now); ok {
			return u, true
		}
	}
	if name, pw, ok := r.BasicAuth(); ok {
		if u, err := s.opt.Users.Authenticate(name, pw, now); err == nil {
			return u, true
		}
	}
	return auth.User{}, false
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type userView struct {
	Name string    `json:"name"`
	Role auth.Role `json:"role"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.Username == "" || req.Password == "" {
		writeError(w, badRequest("username and password: both required"))
		return
	}
	u, err := s.opt.Users.Authenticate(req.Username, req.Password, s.opt.Now())
	if err != nil {
		s.log.Warn("login refused", "user", req.Username, "remote", r.RemoteAddr)
		writeError(w, err)
		return
	}
	tok, err := s.opt.Sessions.Create(u, s.opt.Now())
	if err != nil {
		writeError(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.opt.SecureCookie})
	writeJSON(w, http.StatusOK, userView{u.Name, u.Role})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.opt.Sessions.Delete(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	u := r.Context().Value(userKey{}).(auth.User)
	writeJSON(w, http.StatusOK, userView{u.Name, u.Role})
}

// decodeBody decodes a small JSON request body strictly.
func decodeBody(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q: want application/json", ct)}
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("request body: %v", err)
	}
	return nil
}

type terminalView struct {
	ID        string     `json:"id"`
	State     string     `json:"state"`
	Software  string     `json:"software"`
	LastSeen  *time.Time `json:"last_seen"`
	LastSeq   uint64     `json:"last_seq"`
	SeqGaps   uint64     `json:"seq_gaps"`
	Batches   uint64     `json:"batches"`
	Readings  uint64     `json:"readings"`
	Conflicts uint64     `json:"conflicts"`
}

func (s *Server) terminals(w http.ResponseWriter, r *http.Request) {
	ts, err := s.opt.Store.Terminals(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]terminalView, len(ts))
	for i, t := range ts {
		out[i] = terminalView{ID: t.ID, State: t.State, Software: t.Software, LastSeq: t.LastSeq, SeqGaps: t.SeqGaps,
			Batches: t.Batches, Readings: t.Readings, Conflicts: t.Conflicts}
		if !t.LastSeen.IsZero() {
			ls := t.LastSeen.UTC()
			out[i].LastSeen = &ls
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"terminals": out})
}

type readingView struct {
	Meter   meterdata.MeterID `json:"meter,omitempty"`
	Time    time.Time         `json:"time"`
	Kind    meterdata.Kind    `json:"kind"`
	Values  map[string]int64  `json:"values"`
	Quality meterdata.Quality `json:"quality"`
}

func viewReading(rd meterdata.Reading, withMeter bool) readingView {
	v := readingView{Time: rd.Time.UTC(), Kind: rd.Kind, Values: rd.Values, Quality: rd.Quality}
	if withMeter {
		v.Meter = rd.Meter
	}
	return v
}

type meterView struct {
	meterdata.Meter
	Latest *readingView `json:"latest"`
}

func (s *Server) meterView(ctx context.Context, m meterdata.Meter) (meterView, error) {
	v := meterView{Meter: m}
	rd, err := s.opt.Store.LatestReading(ctx, m.ID, meterdata.KindInstant)
	switch {
	case err == nil:
		rv := viewReading(rd, false)
		v.Latest = &rv
	case errors.Is(err, storage.ErrNotFound):
	default:
		return v, err
	}
	return v, nil
}

func (s *Server) meters(w http.ResponseWriter, r *http.Request) {
	ms, err := s.opt.Store.Meters(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]meterView, 0, len(ms))
	for _, m := range ms {
		v, err := s.meterView(r.Context(), m)
		if err != nil {
			writeError(w, err)
			return
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"meters": out})
}

func (s *Server) lookupMeter(r *http.Request) (meterdata.Meter, error) {
	id := meterdata.MeterID(r.PathValue("id"))
	if err := id.Validate(); err != nil {
		return meterdata.Meter{}, badRequest("%v", err)
	}
	m, err := s.opt.Store.Meter(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		return m, &httpError{http.StatusNotFound, fmt.Sprintf("meter %q: not found", string(id))}
	}
	return m, err
}

func (s *Server) meter(w http.ResponseWriter, r *http.Request) {
	m, err := s.lookupMeter(r)
	if err != nil {
		writeError(w, err)
		return
	}
	v, err := s.meterView(r.Context(), m)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// MaxReadings is the most readings one request returns.
const MaxReadings = 50000

func (s *Server) readings(w http.ResponseWriter, r *http.Request) {
	m, err := s.lookupMeter(r)
	if err != nil {
		writeError(w, err)
		return
	}
	q, err := parseReadingQuery(r, s.opt.Now())
	if err != nil {
		writeError(w, err)
		return
	}
	q.Meter = m.ID
	rs, err := s.opt.Store.Readings(r.Context(), q)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]readingView, len(rs))
	for i, rd := range rs {
		out[i] = viewReading(rd, false)
	}
	writeJSON(w, http.StatusOK, map[string]any{"meter": m.ID, "from": q.From, "to": q.To, "readings": out})
}

// parseReadingQuery reads from, to (RFC 3339; default the last hour), kind and limit.
func parseReadingQuery(r *http.Request, now time.Time) (q storage.ReadingQuery, err error) {
	p, err := queryParams(r, "from", "to", "kind", "limit")
	if err != nil {
		return q, err
	}
	q.To = now.UTC()
	if err := p.time("to", &q.To); err != nil {
		return q, err
	}
	q.From = q.To.Add(-time.Hour)
	if err := p.time("from", &q.From); err != nil {
		return q, err
	}
	if !q.From.Before(q.To) {
		return q, badRequest("from %s is not before to %s", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	if k := p.vals.Get("kind"); k != "" {
		if err := meterdata.Kind(k).Validate(); err != nil {
			return q, badRequest("%v", err)
		}
		q.Kind = meterdata.Kind(k)
	}
	q.Limit, err = p.limit(10000, MaxReadings)
	return q, err
}

// stream serves stored readings live as Server-Sent Events.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	var meter meterdata.MeterID
	for k := range r.URL.Query() {
		if k != "meter" {
			writeError(w, badRequest("unknown parameter %q: want meter", k))
			return
		}
	}
	if id := r.URL.Query().Get("meter"); id != "" {
		meter = meterdata.MeterID(id)
		if err := meter.Validate(); err != nil {
			writeError(w, badRequest("meter: %v", err))
			return
		}
	}
	if s.opt.Hub == nil {
		writeError(w, &httpError{http.StatusServiceUnavailable, "live stream not available"})
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": connected\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	sub := s.opt.Hub.Subscribe(meter, 256)
	defer s.opt.Hub.Unsubscribe(sub)
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
		case rd := <-sub.C:
			b, _ := json.Marshal(viewReading(rd, true))
			fmt.Fprintf(w, "event: reading\ndata: %s\n\n", b)
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

func (s *Server) iec102Targets(w http.ResponseWriter, r *http.Request) {
	ts := []IEC102Target{}
	if s.opt.IEC102 != nil {
		ts = s.opt.IEC102.Targets()
	}
	writeJSON(w, http.StatusOK, map[string]any{"targets": ts})
}

// iec102Poll starts a session of one target now (the master's on-demand poll).
func (s *Server) iec102Poll(w http.ResponseWriter, r *http.Request) {
	if s.opt.IEC102 == nil {
		writeError(w, &httpError{http.StatusNotFound, "no IEC 102 targets configured"})
		return
	}
	name := r.PathValue("name")
	if err := s.opt.IEC102.Trigger(name); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			err = &httpError{http.StatusNotFound, fmt.Sprintf("IEC 102 target %q: not found", name)}
		}
		writeError(w, err)
		return
	}
	u := r.Context().Value(userKey{}).(auth.User)
	s.log.Info("IEC 102 poll requested", "target", name, "user", u.Name, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusAccepted, map[string]any{"target": name, "status": "queued"})
}

type eventView struct {
	ID       int64             `json:"id"`
	At       time.Time         `json:"at"`
	Kind     string            `json:"kind"`
	Severity string            `json:"severity"`
	Terminal string            `json:"terminal,omitempty"`
	Meter    meterdata.MeterID `json:"meter,omitempty"`
	Message  string            `json:"message"`
	Data     map[string]int64  `json:"data,omitempty"`
}

// events lists the event log, newest first: ?terminal=&meter=&kind=&from=&to=&limit=.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q, err := parseEventQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	es, err := s.opt.Store.Events(r.Context(), q)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]eventView, len(es))
	for i, e := range es {
		out[i] = eventView{ID: e.ID, At: e.At.UTC(), Kind: e.Kind, Severity: e.Severity, Terminal: e.Terminal, Meter: e.Meter, Message: e.Message, Data: e.Data}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
}

// parseEventQuery reads terminal, meter, kind, from, to and limit.
func parseEventQuery(r *http.Request) (q storage.EventQuery, err error) {
	p, err := queryParams(r, "terminal", "meter", "kind", "from", "to", "limit")
	if err != nil {
		return q, err
	}
	q.Kind = p.vals.Get("kind")
	if q.Terminal, err = p.terminal(); err != nil {
		return q, err
	}
	if q.Meter, err = p.meter(); err != nil {
		return q, err
	}
	if err = p.time("from", &q.From); err != nil {
		return q, err
	}
	if err = p.time("to", &q.To); err != nil {
		return q, err
	}
	q.Limit, err = p.limit(1000, 10000)
	return q, err
}
