package iec102

import "fmt"

// The link layer of IEC 60870-5-2, unbalanced transmission: the master (primary
// station) sends every request and the outstation (secondary station) only answers.
// Primary and Secondary are the two state machines as pure logic: they build and judge
// frames and never touch a connection, so the caller owns I/O, timers and goroutines.

// DefaultRetries is how often a Primary repeats an unanswered request before it
// declares the link down (the reference: typically 2–3).
const DefaultRetries = 3

// Primary is the master's side of one link (one outstation link address): it numbers
// requests with the frame count bit and decides retransmissions (IEC 60870-5-2, frame
// count bit, unbalanced procedures):
//
//   - FCB alternates per new transaction with FCV=1 (user data, class 1/2 polls); the
//     first after a confirmed reset of remote link carries FCB=1.
//   - On a timeout or a corrupt answer, Retry returns the identical frame, same FCB.
//   - FCB toggles only when a transaction completes with an answer the outstation
//     counts (not Nack, not "link not functioning/implemented").
//   - After the retries are spent the link is down: FCV=1 requests fail with
//     ErrLinkDown until a new reset of remote link is acknowledged.
//
// Use: f, _ := p.UserData(asdu); write f; read a frame; p.Answer(frame) or, on
// timeout, p.Retry() and write again. A Primary is not safe for concurrent use.
type Primary struct {
	address uint16
	retries int

	fcb     bool // FCB of the next FCV=1 request
	up      bool // a reset of remote link was acknowledged and no request went unanswered
	pending bool
	req     Frame
	tries   int
}

// NewPrimary returns the master's state for the outstation at link address addr,
// repeating an unanswered request up to retries times (negative: DefaultRetries). The
// link starts down: send LinkStatus and ResetLink first (REE link start-up).
func NewPrimary(addr uint16, retries int) *Primary {
	if retries < 0 {
		retries = DefaultRetries
	}
	return &Primary{address: addr, retries: retries, fcb: true}
}

// Address returns the outstation's link address.
func (p *Primary) Address() uint16 { return p.address }

// Up reports whether a reset of remote link was acknowledged and no request has gone
// unanswered since.
func (p *Primary) Up() bool { return p.up }

// NextFCB returns the frame count bit the next FCV=1 request will carry.
func (p *Primary) NextFCB() bool { return p.fcb }

// Pending returns the request awaiting an answer, if any.
func (p *Primary) Pending() (Frame, bool) { return p.req, p.pending }

// LinkStatus starts a request status of link (FC 9).
func (p *Primary) LinkStatus() Frame { f, _ := p.Request(LinkStatusRequest, nil); return f }

// ResetLink starts a reset of remote link (FC 0). Its acknowledgement brings the link up
// and restarts the FCB sequence at 1.
func (p *Primary) ResetLink() Frame { f, _ := p.Request(ResetLink, nil); return f }

// UserData starts a SEND/CONFIRM of asdu (FC 3).
func (p *Primary) UserData(asdu []byte) (Frame, error) { return p.Request(UserDataConfirm, asdu) }

// PollClass2 starts a request of class 2 data (FC 11), where REE outstations put every
// application answer.
func (p *Primary) PollClass2() (Frame, error) { return p.Request(Class2Request, nil) }

// PollClass1 starts a request of class 1 data (FC 10).
func (p *Primary) PollClass1() (Frame, error) { return p.Request(Class1Request, nil) }

// Request starts a transaction with function fc and returns the frame to send. A
// request still pending is abandoned. It reports ErrLinkDown for FC 3, 10 and 11 while
// the link is down, and ErrFrame for user data with a function that carries none or
// vice versa. UserDataNoReply (FC 4) leaves nothing pending.
func (p *Primary) Request(fc PrimaryFunc, asdu []byte) (Frame, error) {
	if fc.HasUserData() != (asdu != nil) {
		return Frame{}, fmt.Errorf("%w: %s with %d octets of user data", ErrFrame, fc, len(asdu))
	}
	if fc.NeedsFCB() && !p.up {
		return Frame{}, fmt.Errorf("%w: %s needs a reset of remote link first", ErrLinkDown, fc)
	}
	if len(asdu) > MaxASDULen {
		return Frame{}, fmt.Errorf("%w: ASDU of %d octets, at most %d", ErrLength, len(asdu), MaxASDULen)
	}
	c := PrimaryControl(fc, p.fcb)
	f := NewFixed(c, p.address)
	if fc.HasUserData() {
		f = NewVariable(c, p.address, asdu)
	}
	p.req, p.pending, p.tries = f, fc != UserDataNoReply, 0
	return f, nil
}

// Retry returns the pending request again, identical (same FCB), after its answer timed
// out or arrived corrupt. Once the request has been repeated retries times it gives up:
// nothing is pending, the link is down, and the error wraps ErrLinkDown and ErrTimeout.
func (p *Primary) Retry() (Frame, error) {
	if !p.pending {
		return Frame{}, ErrNoRequest
	}
	if p.tries >= p.retries {
		p.pending, p.up = false, false
		return Frame{}, fmt.Errorf("%w: %w: no answer to %s after %d repetitions", ErrLinkDown, ErrTimeout, p.req.Control.PrimaryFunc(), p.tries)
	}
	p.tries++
	return p.req, nil
}

// Reply is a secondary station's answer as the Primary judged it.
type Reply struct {
	// Func is the answer's function. An E5 single character reads as Ack after reset,
	// reset of process and user data, and as NoData after a class 1/2 poll.
	Func SecondaryFunc
	ACD  bool   // class 1 data waiting
	DFC  bool   // do not send more user data for now
	ASDU []byte // the user data of a UserData answer (aliases the frame)
}

// Answer judges f, a frame received while a request is pending. If f answers the
// request (PRM=0, the polled address, a function code that answers it), the transaction
// completes: the FCB toggles unless the answer is Nack, LinkNotFunctioning or
// LinkNotImplemented; an Ack to ResetLink brings the link up with the next FCB 1.
//
// Otherwise it reports ErrUnexpectedFrame and the request stays pending: keep reading
// or Retry. It reports ErrNoRequest with nothing pending.
func (p *Primary) Answer(f Frame) (Reply, error) {
	if !p.pending {
		return Reply{}, ErrNoRequest
	}
	fc := p.req.Control.PrimaryFunc()
	var r Reply
	switch f.Format {
	case FormatSingleChar:
		switch fc {
		case ResetLink, ResetProcess, UserDataConfirm:
			r.Func = Ack
		case Class1Request, Class2Request:
			r.Func = NoData
		default:
			return Reply{}, fmt.Errorf("%w: E5 does not answer %s", ErrUnexpectedFrame, fc)
		}
	case FormatFixed, FormatVariable:
		if f.Control.IsPrimary() {
			return Reply{}, fmt.Errorf("%w: PRM=1 in %s", ErrUnexpectedFrame, f)
		}
		if f.Address != p.address {
			return Reply{}, fmt.Errorf("%w: link address %d, polled %d", ErrUnexpectedFrame, f.Address, p.address)
		}
		r = Reply{Func: f.Control.SecondaryFunc(), ACD: f.Control.ACD(), DFC: f.Control.DFC()}
		if (f.Format == FormatVariable) != (r.Func == UserData) {
			return Reply{}, fmt.Errorf("%w: %s in a %s frame", ErrUnexpectedFrame, r.Func, f.Format)
		}
		if !answers(fc, r.Func) {
			return Reply{}, fmt.Errorf("%w: %s does not answer %s", ErrUnexpectedFrame, r.Func, fc)
		}
		r.ASDU = f.ASDU
	default:
		return Reply{}, fmt.Errorf("%w: format %s", ErrUnexpectedFrame, f.Format)
	}
	p.pending = false
	switch r.Func {
	case Nack, LinkNotFunctioning, LinkNotImplemented:
		// Not counted by the secondary: the next transaction reuses this FCB.
		return r, nil
	}
	if fc == ResetLink {
		p.up, p.fcb = true, true
	} else if fc.NeedsFCB() {
		p.fcb = !p.fcb
	}
	return r, nil
}

// answers reports whether a secondary function is a valid answer to a primary one.
func answers(req PrimaryFunc, ans SecondaryFunc) bool {
	switch ans {
	case Nack, LinkNotFunctioning, LinkNotImplemented:
		return true
	}
	switch req {
	case ResetLink, ResetProcess, UserDataConfirm:
		return ans == Ack
	case LinkStatusRequest:
		return ans == LinkStatus
	case Class1Request, Class2Request:
		return ans == UserData || ans == NoData
	}
	return false
}

// Class is the data class of a poll: 1 (FC 10) or 2 (FC 11).
type Class uint8

// Data classes.
const (
	Class1 Class = 1
	Class2 Class = 2
)

// Handler is the application behind a Secondary: the outstation's queues.
type Handler interface {
	// UserData takes the ASDU of a new SEND/CONFIRM (FC 3), or of a SEND/NO REPLY (FC
	// 4), whose result is ignored. It returns false to refuse it (Nack: busy), in which
	// case the frame does not count as received. It is never called for a repetition.
	UserData(asdu []byte) bool
	// Poll returns the next ASDU of the class, or nil if there is none (NoData). The
	// Secondary keeps the slice to repeat the answer: do not modify it afterwards.
	Poll(class Class) []byte
	// Flags returns the ACD (class 1 data waiting) and DFC (no more user data now) bits
	// for the answer being built, after UserData or Poll ran.
	Flags() (acd, dfc bool)
}

// Secondary is the outstation's side of one link: it checks the frame count bit of
// each request and repeats its last answer to a repeated request instead of executing
// it again (IEC 60870-5-2, frame count bit; REE outstation state machine):
//
//   - reset of remote link (FC 0): expect FCB=1 next, forget the last answer, Ack;
//   - FCV=1 and FCB as expected: a new request; handle it, keep the answer, toggle;
//   - FCV=1 and FCB not as expected: a repetition; send the kept answer again (for FC 3
//     an Ack without handing the ASDU over again);
//   - FCV=0 on FC 3/10/11: handled without FCB check;
//   - FC 9: status of link with ACD/DFC; FC 1: Ack; other function codes:
//     LinkNotImplemented.
//
// Two leniencies keep masters that skip or misnumber the start-up working: before the
// first reset, the first FCV=1 frame is taken as new and sets the expectation from its
// FCB; and a "repetition" with no answer kept is handled as new (and resynchronises).
// A Secondary never sends E5, which iec870ree does not parse. It is not safe for
// concurrent use.
type Secondary struct {
	address  uint16
	synced   bool // the FCB expectation is known
	expected bool
	last     Frame
	haveLast bool
}

// NewSecondary returns the outstation's state for link address addr.
func NewSecondary(addr uint16) *Secondary { return &Secondary{address: addr} }

// Address returns the outstation's link address.
func (s *Secondary) Address() uint16 { return s.address }

// Handle processes f, a frame received from the master, and returns the answer to send;
// ok is false when the outstation must stay silent: a frame for another link address,
// a secondary frame or E5, a SEND/NO REPLY, or a function in the wrong frame format.
func (s *Secondary) Handle(f Frame, h Handler) (reply Frame, ok bool) {
	if f.Format == FormatSingleChar || !f.Control.IsPrimary() || f.Address != s.address {
		return Frame{}, false
	}
	fc := f.Control.PrimaryFunc()
	if fc.HasUserData() != (f.Format == FormatVariable) {
		return Frame{}, false
	}
	switch fc {
	case ResetLink:
		s.synced, s.expected, s.haveLast = true, true, false
		return s.fixed(Ack, h), true
	case ResetProcess:
		return s.fixed(Ack, h), true
	case LinkStatusRequest:
		return s.fixed(LinkStatus, h), true
	case UserDataNoReply:
		h.UserData(f.ASDU)
		return Frame{}, false
	case UserDataConfirm, Class1Request, Class2Request:
	default:
		return s.fixed(LinkNotImplemented, h), true
	}

	counted := f.Control.FCV()
	if counted && s.synced && s.haveLast && f.Control.FCB() != s.expected {
		return s.last, true // repetition
	}
	var r Frame
	switch fc {
	case UserDataConfirm:
		if !h.UserData(f.ASDU) {
			return s.fixed(Nack, h), true // not counted: the master repeats with this FCB
		}
		r = s.fixed(Ack, h)
	default:
		class := Class2
		if fc == Class1Request {
			class = Class1
		}
		if asdu := h.Poll(class); asdu != nil {
			acd, dfc := h.Flags()
			r = NewVariable(SecondaryControl(UserData, acd, dfc), s.address, asdu)
		} else {
			r = s.fixed(NoData, h)
		}
	}
	if counted {
		s.synced, s.expected = true, !f.Control.FCB()
		s.last, s.haveLast = r, true
	}
	return r, true
}

func (s *Secondary) fixed(fc SecondaryFunc, h Handler) Frame {
	acd, dfc := h.Flags()
	return NewFixed(SecondaryControl(fc, acd, dfc), s.address)
}
