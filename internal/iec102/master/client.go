package master

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"gridmeter/internal/iec102"
)

// Defaults for ClientOptions.
const (
	DefaultTimeout = 5 * time.Second
)

// ErrNoData means the outstation kept answering "no data" to class 2 polls for longer
// than the answer timeout after a request it had acknowledged.
var ErrNoData = errors.New("iec102 master: outstation has no answer ready")

// ErrLinkRefused means the outstation answered the link layer with NACK (busy) through
// every repetition, or with "link service not functioning / not implemented".
var ErrLinkRefused = errors.New("iec102 master: link service refused")

// ClientOptions tune a Client. The zero value is usable.
type ClientOptions struct {
	// Timeout is how long to wait for each answer frame before repeating the request,
	// and how long an outstation may keep answering "no data"; 0 means DefaultTimeout.
	Timeout time.Duration
	// Retries is how often an unanswered frame is repeated before the link counts as down
	// (IEC 60870-5-2); 0 means iec102.DefaultRetries, a negative value none.
	Retries int
	// Location is the time zone of the outstation's time tags (REE: Europe/Madrid); nil
	// means UTC.
	Location *time.Location
	// Trace, if set, sees every frame sent (sent true) and received.
	Trace func(sent bool, f iec102.Frame)
}

func (o ClientOptions) withDefaults() ClientOptions {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	switch {
	case o.Retries == 0:
		o.Retries = iec102.DefaultRetries
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	return o
}

// Client is the master's side of one link to one outstation, session step by step:
// StartLink, Authenticate, reads, EndSession. Each method runs one application procedure
// of the REE profile to its end over iec102.Primary: user data, its acknowledgement, then
// class 2 polls until the answer, the activation confirmation (COT 7) or the activation
// termination (COT 10), repeating unanswered frames with the same frame count bit.
//
// A Client is not safe for concurrent use. Cancelling the context of a call closes the
// connection: the link is then unusable and the call returns the context's error.
type Client struct {
	conn  iec102.Conn
	dec   iec102.Decoder
	p     *iec102.Primary
	opt   ClientOptions
	acked time.Time // when the last request's user data was acknowledged
}

// Dial connects to the outstation at addr (host:port) with link address link. It does not
// start the link: call StartLink.
func Dial(ctx context.Context, addr string, link uint16, opt ClientOptions) (*Client, error) {
	opt = opt.withDefaults()
	d := net.Dialer{Timeout: opt.Timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("iec102 master: dial %s: %w", addr, err)
	}
	return NewClient(conn, link, opt), nil
}

// NewClient returns a client on an open connection (TCP, a serial port, net.Pipe).
func NewClient(conn iec102.Conn, link uint16, opt ClientOptions) *Client {
	opt = opt.withDefaults()
	return &Client{conn: conn, p: iec102.NewPrimary(link, opt.Retries), opt: opt}
}

// Close closes the connection.
func (c *Client) Close() error {
	if cl, ok := c.conn.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// Location returns the time zone of the outstation's time tags.
func (c *Client) Location() *time.Location { return c.opt.Location }

// watch closes the connection if ctx is cancelled before the returned stop is called.
func (c *Client) watch(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() { c.Close() })
}

// fail returns ctx's error if ctx ended, else err.
func fail(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

func (c *Client) write(f iec102.Frame) error {
	if c.opt.Trace != nil {
		c.opt.Trace(true, f)
	}
	return iec102.WriteFrame(c.conn, f, time.Now().Add(c.opt.Timeout))
}

// transact sends f and returns the outstation's answer, repeating f unchanged after a
// timeout or a corrupt answer (the Primary decides how often). Frames that do not answer
// f (another address, a late answer) are skipped.
func (c *Client) transact(ctx context.Context, f iec102.Frame) (iec102.Reply, error) {
	for {
		if err := c.write(f); err != nil {
			return iec102.Reply{}, fail(ctx, err)
		}
		deadline := time.Now().Add(c.opt.Timeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		for {
			in, err := iec102.ReadFrame(c.conn, &c.dec, deadline)
			if err == nil {
				if c.opt.Trace != nil {
					c.opt.Trace(false, in)
				}
				if r, err := c.p.Answer(in); err == nil {
					return r, nil
				}
				continue
			}
			if ctx.Err() != nil {
				return iec102.Reply{}, fail(ctx, err)
			}
			if errors.Is(err, iec102.ErrFrame) || errors.Is(err, iec102.ErrTimeout) {
				break
			}
			return iec102.Reply{}, err // connection closed
		}
		var err error
		if f, err = c.p.Retry(); err != nil {
			return iec102.Reply{}, err
		}
	}
}

// StartLink runs the REE link start-up: request status of link, then reset of remote
// link, after which frames carry the frame count bit.
func (c *Client) StartLink(ctx context.Context) error {
	defer c.watch(ctx)()
	r, err := c.transact(ctx, c.p.LinkStatus())
	if err != nil {
		return fmt.Errorf("iec102 master: link status: %w", err)
	}
	if r.Func != iec102.LinkStatus {
		return fmt.Errorf("%w: link status answered with %s", ErrLinkRefused, r.Func)
	}
	if r, err = c.transact(ctx, c.p.ResetLink()); err != nil {
		return fmt.Errorf("iec102 master: reset of remote link: %w", err)
	}
	if r.Func != iec102.Ack {
		return fmt.Errorf("%w: reset of remote link answered with %s", ErrLinkRefused, r.Func)
	}
	return nil
}

// maxStale bounds the ASDUs a request skips that do not belong to its procedure (late
// answers to an abandoned earlier request).
const maxStale = 64

// Request runs the application procedure of req (req.Type.Procedure) and returns the
// answers: the data ASDUs of a read or range read (none for a command). A refusal is a
// *iec102.NegativeError, an answer with a cause the procedure does not allow an
// *iec102.UnexpectedCauseError.
func (c *Client) Request(ctx context.Context, req iec102.ASDU) ([]iec102.ASDU, error) {
	defer c.watch(ctx)()
	out, err := c.request(ctx, req)
	if err != nil {
		return out, fmt.Errorf("iec102 master: %s to measuring point %d: %w", req.Type, req.CommonAddress, err)
	}
	return out, nil
}

func (c *Client) request(ctx context.Context, req iec102.ASDU) ([]iec102.ASDU, error) {
	proc := req.Type.Procedure()
	if proc == iec102.ProcedureNone {
		return nil, fmt.Errorf("%s is not a request", req.Type)
	}
	b, err := req.Encode()
	if err != nil {
		return nil, err
	}
	if err := c.send(ctx, b); err != nil {
		return nil, err
	}
	var out []iec102.ASDU
	confirmed := false
	stale, idle := 0, 0
	patience := time.Now().Add(c.opt.Timeout)
	for {
		f, err := c.p.PollClass2()
		if err != nil {
			return out, err
		}
		r, err := c.transact(ctx, f)
		if err != nil {
			return out, err
		}
		if r.Func != iec102.UserData { // no data (E5 too), or busy
			if time.Now().After(patience) {
				return out, ErrNoData
			}
			if err := sleep(ctx, min(time.Duration(idle)*10*time.Millisecond, 200*time.Millisecond)); err != nil {
				return out, err
			}
			idle++
			continue
		}
		idle = 0
		patience = time.Now().Add(c.opt.Timeout)
		a, err := iec102.DecodeASDU(r.ASDU)
		if err != nil {
			return out, fmt.Errorf("answer: %w", err)
		}
		switch {
		case a.Type == req.Type && a.CommonAddress == req.CommonAddress: // the mirror
			switch proc {
			case iec102.ProcedureCommand:
				return out, a.CheckCause(iec102.CauseActivationCon)
			case iec102.ProcedureRead:
				return out, a.CheckCause() // only a refusal may mirror a read
			}
			if err := a.CheckCause(iec102.CauseActivationCon, iec102.CauseActivationTerm); err != nil {
				return out, err
			}
			if a.COT.Cause == iec102.CauseActivationTerm {
				return out, nil
			}
			if confirmed {
				return out, &iec102.UnexpectedCauseError{DUI: a.DUI, Want: []iec102.Cause{iec102.CauseActivationTerm}}
			}
			confirmed = true
		case a.Type == req.Type.Answer() && a.CommonAddress == req.CommonAddress && proc != iec102.ProcedureCommand:
			if err := a.CheckCause(iec102.CauseRequest); err != nil {
				return out, err
			}
			out = append(out, a)
			if proc == iec102.ProcedureRead {
				return out, nil
			}
		default:
			if stale++; stale > maxStale {
				return out, fmt.Errorf("%d answers that do not belong to the request, last %s", stale, a.DUI)
			}
		}
	}
}

// send delivers the user data b, repeating it while the outstation answers busy (NACK).
func (c *Client) send(ctx context.Context, b []byte) error {
	for attempt := 0; ; attempt++ {
		f, err := c.p.UserData(b)
		if err != nil {
			return err
		}
		r, err := c.transact(ctx, f)
		if err != nil {
			return err
		}
		switch {
		case r.Func == iec102.Ack:
			c.acked = time.Now()
			return nil
		case r.Func == iec102.Nack && attempt < c.opt.Retries:
			if err := sleep(ctx, c.opt.Timeout/10); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: user data answered with %s", ErrLinkRefused, r.Func)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Authenticate opens a session for the measuring point (C_AC_NA_2). A wrong password
// or an unknown point is a *iec102.NegativeError.
func (c *Client) Authenticate(ctx context.Context, point uint16, password uint32) error {
	_, err := c.Request(ctx, iec102.NewRequest(iec102.TypeStartSession, point, iec102.RecordDefault, iec102.Password(password)))
	return err
}

// EndSession closes the point's session (C_FS_NA_2).
func (c *Client) EndSession(ctx context.Context, point uint16) error {
	_, err := c.Request(ctx, iec102.NewRequest(iec102.TypeEndSession, point, iec102.RecordDefault, nil))
	return err
}

// Identity reads the manufacturer and product specification (C_RD_NA_2 → P_MP_NA_2).
func (c *Client) Identity(ctx context.Context, point uint16) (iec102.ProductInfo, error) {
	as, err := c.Request(ctx, iec102.NewRequest(iec102.TypeReadProductInfo, point, iec102.RecordDefault, nil))
	if err != nil {
		return iec102.ProductInfo{}, err
	}
	pi, ok := as[0].Info.(iec102.ProductInfo)
	if !ok {
		return iec102.ProductInfo{}, fmt.Errorf("iec102 master: %s without a product specification", as[0].DUI)
	}
	return pi, nil
}

// Clock is the outstation's clock as read by the master.
type Clock struct {
	Tag  iec102.TimeB // as received
	Time time.Time    // the tag in the client's Location
	// Drift is the outstation's clock minus the master's at the moment the outstation
	// took the request (midway between sending it and its acknowledgement); the
	// uncertainty is half that round trip plus the tag's millisecond resolution.
	Drift     time.Duration
	RoundTrip time.Duration // sending the request to its acknowledgement
}

// Clock reads the outstation's time (C_TI_NA_2 → M_TI_TA_2) and its drift.
func (c *Client) Clock(ctx context.Context, point uint16) (Clock, error) {
	sent := time.Now()
	as, err := c.Request(ctx, iec102.NewRequest(iec102.TypeReadTime, point, iec102.RecordDefault, nil))
	if err != nil {
		return Clock{}, err
	}
	tb, ok := as[0].Info.(iec102.TimeB)
	if !ok {
		return Clock{}, fmt.Errorf("iec102 master: %s without a time", as[0].DUI)
	}
	t, err := tb.Time(c.opt.Location)
	if err != nil {
		return Clock{Tag: tb}, fmt.Errorf("iec102 master: outstation time %s: %w", tb, err)
	}
	rtt := c.acked.Sub(sent)
	return Clock{Tag: tb, Time: t, Drift: t.Sub(sent.Add(rtt / 2)), RoundTrip: rtt}, nil
}

// SetClock sets the outstation's clock to t (C_CS_TA_2).
func (c *Client) SetClock(ctx context.Context, point uint16, t time.Time) error {
	tb, err := iec102.TimeBOf(t.In(c.opt.Location))
	if err != nil {
		return err
	}
	_, err = c.Request(ctx, iec102.NewRequest(iec102.TypeSetTime, point, iec102.RecordDefault, tb))
	return err
}

// InstantValues reads instant-value groups (P_IN_VA_2 → R_IN_VA_2):
// iec102.GroupInstantTotals, GroupInstantPowers, GroupInstantVoltAmp.
func (c *Client) InstantValues(ctx context.Context, point uint16, groups ...uint8) (iec102.InstantValues, error) {
	as, err := c.Request(ctx, iec102.NewRequest(iec102.TypeReadInstantValues, point, iec102.RecordDefault, iec102.InstantRequest(groups)))
	if err != nil {
		return nil, err
	}
	v, ok := as[0].Info.(iec102.InstantValues)
	if !ok {
		return nil, fmt.Errorf("iec102 master: %s without instant values", as[0].DUI)
	}
	return v, nil
}

// CurrentTotals reads the current energy registers: instant-value group 192.
func (c *Client) CurrentTotals(ctx context.Context, point uint16) (iec102.InstantTotals, error) {
	v, err := c.InstantValues(ctx, point, iec102.GroupInstantTotals)
	if err != nil {
		return iec102.InstantTotals{}, err
	}
	for _, g := range v {
		if t, ok := g.(iec102.InstantTotals); ok {
			return t, nil
		}
	}
	return iec102.InstantTotals{}, errors.New("iec102 master: instant values without group 192")
}

// ReadTotals reads the integrated totals (register readings, C_CI_NT_2 → M_IT_TG_2) of
// the objects first…last for the periods of record rad ending from…to, inclusive (REE:
// iec102.RecordHourly, RecordDaily1…).
func (c *Client) ReadTotals(ctx context.Context, point uint16, rad iec102.RecordAddress, first, last uint8, from, to time.Time) ([]iec102.IntegratedTotals, error) {
	return c.readTotals(ctx, iec102.TypeReadOperationalTotals, point, rad, first, last, from, to)
}

// ReadIncrements reads the increments per period (C_CI_NU_2 → M_IT_TK_2); see ReadTotals.
func (c *Client) ReadIncrements(ctx context.Context, point uint16, rad iec102.RecordAddress, first, last uint8, from, to time.Time) ([]iec102.IntegratedTotals, error) {
	return c.readTotals(ctx, iec102.TypeReadPeriodicOperationalTotals, point, rad, first, last, from, to)
}

func (c *Client) readTotals(ctx context.Context, t iec102.TypeID, point uint16, rad iec102.RecordAddress, first, last uint8, from, to time.Time) ([]iec102.IntegratedTotals, error) {
	f, err := iec102.TimeAOf(from.In(c.opt.Location))
	if err != nil {
		return nil, err
	}
	l, err := iec102.TimeAOf(to.In(c.opt.Location))
	if err != nil {
		return nil, err
	}
	as, err := c.Request(ctx, iec102.NewRequest(t, point, rad, iec102.TotalsRequest{First: first, Last: last, From: f, To: l}))
	out := make([]iec102.IntegratedTotals, 0, len(as))
	for _, a := range as {
		if it, ok := a.Info.(iec102.IntegratedTotals); ok {
			out = append(out, it)
		}
	}
	return out, err
}

// ReadEvents reads an event log (C_SP_NB_2 → M_SP_TA_2) between from and to, inclusive.
func (c *Client) ReadEvents(ctx context.Context, point uint16, rad iec102.RecordAddress, from, to time.Time) (iec102.SinglePoints, error) {
	tr, err := c.timeRange(from, to)
	if err != nil {
		return nil, err
	}
	as, err := c.Request(ctx, iec102.NewRequest(iec102.TypeReadSinglePointRange, point, rad, tr))
	var out iec102.SinglePoints
	for _, a := range as {
		if sp, ok := a.Info.(iec102.SinglePoints); ok {
			out = append(out, sp...)
		}
	}
	return out, err
}

// ReadBilling reads stored billing closures (C_TA_VM_2 → M_TA_VM_2) of contract rad
// (iec102.RecordBilling1…) whose periods end between from and to, inclusive.
func (c *Client) ReadBilling(ctx context.Context, point uint16, rad iec102.RecordAddress, from, to time.Time) (iec102.BillingRecords, error) {
	tr, err := c.timeRange(from, to)
	if err != nil {
		return nil, err
	}
	as, err := c.Request(ctx, iec102.NewRequest(iec102.TypeReadStoredBilling, point, rad, tr))
	var out iec102.BillingRecords
	for _, a := range as {
		if br, ok := a.Info.(iec102.BillingRecords); ok {
			out = append(out, br...)
		}
	}
	return out, err
}

func (c *Client) timeRange(from, to time.Time) (iec102.TimeRange, error) {
	f, err := iec102.TimeAOf(from.In(c.opt.Location))
	if err != nil {
		return iec102.TimeRange{}, err
	}
	l, err := iec102.TimeAOf(to.In(c.opt.Location))
	if err != nil {
		return iec102.TimeRange{}, err
	}
	return iec102.TimeRange{From: f, To: l}, nil
}
