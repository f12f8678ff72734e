package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"gridmeter/internal/auth"
	"gridmeter/internal/dispatch"
	"gridmeter/internal/message"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// Dispatch is what the API needs of the down-link: commands and acquisition plans.
type Dispatch interface {
	Issue(ctx context.Context, r dispatch.Request) (storage.Command, error)
	PutPlan(ctx context.Context, r dispatch.PlanRequest) (storage.Plan, error)
}

// CommandStore is what the API reads of commands and plans.
type CommandStore interface {
	Command(ctx context.Context, id string) (storage.Command, error)
	Commands(ctx context.Context, q storage.CommandQuery) ([]storage.Command, error)
	Plan(ctx context.Context, terminal string) (storage.Plan, error)
}

type commandView struct {
	ID       string            `json:"id"`
	Terminal string            `json:"terminal"`
	Meter    meterdata.MeterID `json:"meter"`
	Action   string            `json:"action"`
	Params   map[string]string `json:"params,omitempty"`
	IssuedBy string            `json:"issued_by"`
	Issued   time.Time         `json:"issued"`
	Expires  time.Time         `json:"expires"`
	State    string            `json:"state"`
	Reason   string            `json:"reason,omitempty"`
	Result   map[string]int64  `json:"result,omitempty"`
	Updated  time.Time         `json:"updated"`
}

func viewCommand(c storage.Command) commandView {
	return commandView{ID: c.ID, Terminal: c.Terminal, Meter: c.Meter, Action: c.Action, Params: c.Params, IssuedBy: c.IssuedBy,
		Issued: c.Issued.UTC(), Expires: c.Expires.UTC(), State: c.State, Reason: c.Reason, Result: c.Result, Updated: c.Updated.UTC()}
}

type commandRequest struct {
	Action string            `json:"action"`
	Params map[string]string `json:"params"`
	// TTL is the command's lifetime in seconds (0: the head-end's default).
	TTL int64 `json:"ttl_s"`
}

// issueCommand sends a command to a meter: 202 with the command, pending.
func (s *Server) issueCommand(w http.ResponseWriter, r *http.Request) {
	if s.opt.Dispatch == nil {
		writeError(w, &httpError{http.StatusNotFound, "commands are not available on this head-end"})
		return
	}
	m, err := s.lookupMeter(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var req commandRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.TTL < 0 || req.TTL > int64(dispatch.MaxTTL/time.Second) {
		writeError(w, badRequest("ttl_s %d: want 0 (default) or %d to %d", req.TTL, int64(dispatch.MinTTL/time.Second), int64(dispatch.MaxTTL/time.Second)))
		return
	}
	u := r.Context().Value(userKey{}).(auth.User)
	c, err := s.opt.Dispatch.Issue(r.Context(), dispatch.Request{Meter: m.ID, Action: req.Action, Params: req.Params,
		TTL: time.Duration(req.TTL) * time.Second, By: u.Name})
	if errors.Is(err, dispatch.ErrInvalid) {
		err = badRequest("%v", err)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	s.log.Info("command requested", "id", c.ID, "meter", c.Meter, "action", c.Action, "user", u.Name, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusAccepted, viewCommand(c))
}

// commands lists commands, newest first: ?terminal=&meter=&open=&limit=.
func (s *Server) commands(w http.ResponseWriter, r *http.Request) {
	if s.opt.Commands == nil {
		writeJSON(w, http.StatusOK, map[string]any{"commands": []commandView{}})
		return
	}
	q, err := parseCommandQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	cs, err := s.opt.Commands.Commands(r.Context(), q)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]commandView, len(cs))
	for i, c := range cs {
		out[i] = viewCommand(c)
	}
	writeJSON(w, http.StatusOK, map[string]any{"commands": out})
}

// command shows one command.
func (s *Server) command(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := message.ValidateCommandID(id); err != nil {
		writeError(w, badRequest("command %v", err))
		return
	}
	if s.opt.Commands == nil {
		writeError(w, fmt.Errorf("command %s: %w", id, storage.ErrNotFound))
		return
	}
	c, err := s.opt.Commands.Command(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, viewCommand(c))
}

type planView struct {
	Terminal       string          `json:"terminal"`
	Version        int64           `json:"version"`
	Created        time.Time       `json:"created"`
	CreatedBy      string          `json:"created_by"`
	Plan           json.RawMessage `json:"plan"`
	AppliedVersion int64           `json:"applied_version"`
	ReportVersion  int64           `json:"report_version,omitempty"`
	ReportState    string          `json:"report_state,omitempty"`
	ReportError    string          `json:"report_error,omitempty"`
	ReportedAt     *time.Time      `json:"reported_at,omitempty"`
}

func viewPlan(p storage.Plan) planView {
	v := planView{Terminal: p.Terminal, Version: p.Version, Created: p.Created.UTC(), CreatedBy: p.CreatedBy, Plan: p.Body,
		AppliedVersion: p.AppliedVersion, ReportVersion: p.ReportVersion, ReportState: p.ReportState, ReportError: p.ReportError}
	if !p.ReportedAt.IsZero() {
		at := p.ReportedAt.UTC()
		v.ReportedAt = &at
	}
	return v
}

func terminalParam(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if err := meterdata.ValidateTerminalID(id); err != nil {
		return "", badRequest("terminal: %v", err)
	}
	return id, nil
}

// plan shows a terminal's newest acquisition plan and what the terminal reported.
func (s *Server) plan(w http.ResponseWriter, r *http.Request) {
	id, err := terminalParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if s.opt.Commands == nil {
		writeError(w, fmt.Errorf("plan of terminal %s: %w", id, storage.ErrNotFound))
		return
	}
	p, err := s.opt.Commands.Plan(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		err = &httpError{http.StatusNotFound, fmt.Sprintf("terminal %s has no acquisition plan (it runs its own configuration)", id)}
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, viewPlan(p))
}

type planRequest struct {
	Acquisition *message.PlanAcquisition `json:"acquisition"`
	Meters      []message.PlanMeter      `json:"meters"`
}

// putPlan stores a new version of a terminal's acquisition plan and pushes it.
func (s *Server) putPlan(w http.ResponseWriter, r *http.Request) {
	id, err := terminalParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if s.opt.Dispatch == nil {
		writeError(w, &httpError{http.StatusNotFound, "plans are not available on this head-end"})
		return
	}
	var req planRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	u := r.Context().Value(userKey{}).(auth.User)
	p, err := s.opt.Dispatch.PutPlan(r.Context(), dispatch.PlanRequest{Terminal: id, Acquisition: req.Acquisition, Meters: req.Meters, By: u.Name})
	if errors.Is(err, dispatch.ErrInvalid) {
		err = badRequest("%v", err)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	s.log.Info("acquisition plan pushed", "terminal", id, "version", p.Version, "user", u.Name)
	writeJSON(w, http.StatusCreated, viewPlan(p))
}

// parseCommandQuery reads terminal, meter, open and limit.
func parseCommandQuery(r *http.Request) (q storage.CommandQuery, err error) {
	p, err := queryParams(r, "terminal", "meter", "open", "limit")
	if err != nil {
		return q, err
	}
	if q.Terminal, err = p.terminal(); err != nil {
		return q, err
	}
	if q.Meter, err = p.meter(); err != nil {
		return q, err
	}
	if q.Open, err = p.bool("open"); err != nil {
		return q, err
	}
	q.Limit, err = p.limit(100, 10000)
	return q, err
}
