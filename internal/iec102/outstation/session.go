package outstation

import (
	"context"
	"crypto/subtle"
	"log/slog"

	"gridmeter/internal/iec102"
)

// session is the application of one link: the iec102.Handler behind its Secondary. It is
// used by the connection's goroutine only.
type session struct {
	ctx      context.Context
	srv      *Server
	log      *slog.Logger
	open     map[uint16]bool // measuring points with a session
	failures int             // wrong passwords on this connection
	hangup   bool            // close the connection once the queue is polled empty
	queue    [][]byte        // class 2 answers, encoded
}

func newSession(ctx context.Context, srv *Server, log *slog.Logger) *session {
	return &session{ctx: ctx, srv: srv, log: log, open: map[uint16]bool{}}
}

// UserData takes a new request: it replaces whatever answers of the previous request the
// master did not poll with the answers to this one. It never refuses (Nack): the answers
// are prepared before the link acknowledges the request.
func (s *session) UserData(b []byte) bool {
	s.srv.stats.requests.Add(1)
	answers := s.answer(b)
	s.queue = make([][]byte, 0, len(answers))
	for _, a := range answers {
		enc, err := a.Encode()
		if err != nil {
			// A bug in building the answer, not the master's fault: log it, send the rest.
			s.log.Error("IEC 102 answer not encodable: dropped", "asdu", a.DUI.String(), "err", err)
			continue
		}
		s.queue = append(s.queue, enc)
	}
	return true
}

// Poll hands the next class 2 answer to the link; class 1 has none.
func (s *session) Poll(c iec102.Class) []byte {
	if c != iec102.Class2 || len(s.queue) == 0 {
		return nil
	}
	b := s.queue[0]
	s.queue = s.queue[1:]
	return b
}

// Flags: no class 1 data ever waits (ACD = 0), and the outstation is never too busy
// for more user data (DFC = 0).
func (s *session) Flags() (acd, dfc bool) { return false, false }

// answer returns the answers to one request, in the order they are to be polled.
func (s *session) answer(b []byte) []iec102.ASDU {
	d, err := iec102.DecodeDUI(b)
	if err != nil {
		s.log.Debug("IEC 102 user data too short to answer", "len", len(b))
		return nil
	}
	req, err := iec102.DecodeASDU(b)
	if err != nil || req.Type.Procedure() == iec102.ProcedureNone {
		s.log.Debug("IEC 102 request not served", "dui", d.String(), "err", err)
		return s.refuse(iec102.ASDU{DUI: d}, iec102.CauseTypeNotAvailable)
	}
	log := s.log.With("type", req.Type.String(), "ca", req.CommonAddress, "rad", uint8(req.Record))
	pt, ok := s.srv.points[req.CommonAddress]
	if !ok {
		log.Info("IEC 102 request for an unknown measuring point")
		return s.refuse(req, iec102.CauseAddressUnknown)
	}
	switch req.Type {
	case iec102.TypeStartSession:
		return s.startSession(req, pt, log)
	case iec102.TypeEndSession:
		delete(s.open, req.CommonAddress)
		return []iec102.ASDU{req.Mirror(iec102.COT{Cause: iec102.CauseActivationCon}, false)}
	}
	if !s.open[req.CommonAddress] {
		log.Info("IEC 102 request without a session")
		return s.refuse(req, iec102.CauseTypeNotAvailable)
	}
	a := answerer{s: s, req: req, pt: pt, log: log}
	switch req.Type {
	case iec102.TypeReadProductInfo:
		return []iec102.ASDU{iec102.NewASDU(iec102.TypeProductInfo, iec102.COT{Cause: iec102.CauseRequest},
			req.CommonAddress, req.Record, s.srv.cfg.Identity)}
	case iec102.TypeReadTime:
		return a.clock()
	case iec102.TypeSetTime:
		return a.setClock()
	case iec102.TypeReadInstantValues:
		return a.instant()
	case iec102.TypeReadOperationalTotals, iec102.TypeReadPeriodicOperationalTotals:
		return a.totals()
	case iec102.TypeReadStoredBilling:
		return a.billing()
	case iec102.TypeReadSinglePointRange:
		return a.events()
	}
	log.Debug("IEC 102 request type not served")
	return s.refuse(req, iec102.CauseTypeNotAvailable)
}

// startSession checks the password of C_AC_NA_2.
func (s *session) startSession(req iec102.ASDU, pt Point, log *slog.Logger) []iec102.ASDU {
	pw, ok := req.Info.(iec102.Password)
	if !ok {
		return s.refuse(req, iec102.CauseTypeNotAvailable)
	}
	if subtle.ConstantTimeEq(int32(pw), int32(pt.Password)) == 1 {
		s.open[req.CommonAddress] = true
		log.Debug("IEC 102 session opened")
		return []iec102.ASDU{req.Mirror(iec102.COT{Cause: iec102.CauseActivationCon}, true)}
	}
	s.failures++
	s.srv.stats.authFailures.Add(1)
	s.srv.stats.refusals.Add(1)
	log.Warn("IEC 102 wrong password", "failures", s.failures)
	if s.failures >= s.srv.cfg.MaxAuthFailures {
		s.hangup = true
	}
	return []iec102.ASDU{req.Mirror(iec102.COT{Cause: iec102.CauseActivationCon, Negative: true}, false)}
}

// refuse returns the mirror of req without objects and with an error cause.
func (s *session) refuse(req iec102.ASDU, c iec102.Cause) []iec102.ASDU {
	s.srv.stats.refusals.Add(1)
	return []iec102.ASDU{req.Mirror(iec102.COT{Cause: c}, false)}
}
