package iec102

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

type op int

const (
	opStatus op = iota
	opReset
	opUD
	opPoll1
	opPoll2
	opRetry
	opAnswer
)

// pstep is one step of a Primary sequence: an action, the frame it must send (hex) or
// the frame received for opAnswer, and what must come of it.
type pstep struct {
	op    op
	hex   string        // frame sent (opStatus…opRetry) or received (opAnswer)
	asdu  string        // opUD: the user data
	reply SecondaryFunc // opAnswer: Reply.Func
	err   error         // errors.Is target; the step sends nothing
	fcb   *bool         // if set: NextFCB afterwards
	up    *bool         // if set: Up afterwards
}

var yes, no = new(bool), new(bool)

func init() { *yes = true }

const (
	ackHex     = "10 00 01 00 01 16"
	noDataHex  = "10 09 01 00 0A 16"
	nackHex    = "10 01 01 00 02 16"
	poll2FCB0  = "10 5B 01 00 5C 16"
	poll2FCB1  = "10 7B 01 00 7C 16"
	statusHex  = "10 0B 01 00 0C 16"
	resetHex   = "10 40 01 00 41 16"
	reqStatHex = "10 49 01 00 4A 16"
	acASDU     = "B7 01 06 01 00 00 01 00 00 00"
	acUD       = "68 0D 0D 68 73 01 00 B7 01 06 01 00 00 01 00 00 00 34 16"
	fsASDU     = "BB 00 06 01 00 00"
	fsUDFCB1   = "68 09 09 68 73 01 00 BB 00 06 01 00 00 36 16"
	fsUDFCB0   = "68 09 09 68 53 01 00 BB 00 06 01 00 00 16 16"
)

var primarySequences = []struct {
	name  string
	steps []pstep
}{
	{"worked session of the reference (§4/§9): status, reset, FCB 1, 0, 1, 0, …", []pstep{
		{op: opStatus, hex: reqStatHex, up: no},
		{op: opAnswer, hex: statusHex, reply: LinkStatus},
		{op: opReset, hex: resetHex},
		{op: opAnswer, hex: ackHex, reply: Ack, up: yes, fcb: yes},
		{op: opUD, asdu: acASDU, hex: acUD},
		{op: opAnswer, hex: ackHex, reply: Ack, fcb: no},
		{op: opPoll2, hex: poll2FCB0},
		{op: opAnswer, hex: "68 0D 0D 68 08 01 00 B7 01 07 01 00 00 01 00 00 00 CA 16", reply: UserData, fcb: yes},
		{op: opUD, asdu: "7A 01 06 01 00 0B 01 08 00 81 E1 07 12 00 80 61 08 12", hex: s8},
		{op: opAnswer, hex: ackHex, reply: Ack},
		{op: opPoll2, hex: poll2FCB0},
		{op: opAnswer, hex: s9, reply: UserData},
		{op: opPoll2, hex: poll2FCB1},
		{op: opAnswer, hex: s11, reply: UserData},
		{op: opPoll2, hex: poll2FCB0},
		{op: opAnswer, hex: s12, reply: UserData},
		{op: opUD, asdu: fsASDU, hex: fsUDFCB1},
		{op: opAnswer, hex: ackHex, reply: Ack},
		{op: opPoll2, hex: poll2FCB0},
		{op: opAnswer, hex: "68 09 09 68 08 01 00 BB 00 07 01 00 00 CC 16", reply: UserData, fcb: yes},
	}},
	{"FCV=1 requests refused before the reset", []pstep{
		{op: opPoll2, err: ErrLinkDown},
		{op: opUD, asdu: acASDU, err: ErrLinkDown},
		{op: opStatus, hex: reqStatHex},
		{op: opAnswer, hex: statusHex, reply: LinkStatus, up: no},
	}},
	{"timeout: the identical frame, same FCB, then one toggle", []pstep{
		{op: opReset, hex: resetHex},
		{op: opAnswer, hex: ackHex, reply: Ack},
		{op: opUD, asdu: acASDU, hex: acUD},
		{op: opRetry, hex: acUD, fcb: yes},
		{op: opRetry, hex: acUD},
		{op: opAnswer, hex: ackHex, reply: Ack, fcb: no},
		{op: opPoll2, hex: poll2FCB0},
		{op: opRetry, hex: poll2FCB0},
		{op: opAnswer, hex: noDataHex, reply: NoData, fcb: yes},
		{op: opPoll2, hex: poll2FCB1},
	}},
	{"retries spent: link down until the next reset, which restarts at FCB 1", []pstep{
		{op: opReset, hex: resetHex},
		{op: opAnswer, hex: ackHex, reply: Ack},
		{op: opPoll2, hex: poll2FCB1},
		{op: opAnswer, hex: noDataHex, reply: NoData, fcb: no},
		{op: opPoll2, hex: poll2FCB0},
		{op: opRetry, hex: poll2FCB0},
		{op: opRetry, hex: poll2FCB0},
		{op: opRetry, hex: poll2FCB0},
		{op: opRetry, err: ErrLinkDown, up: no},
		{op: opRetry, err: ErrNoRequest},
		{op: opPoll2, err: ErrLinkDown},
		{op: opReset, hex: resetHex},
		{op: opRetry, hex: resetHex},
		{op: opAnswer, hex: ackHex, reply: Ack, up: yes, fcb: yes},
		{op: opPoll2, hex: poll2FCB1},
	}},
	{"nack is not counted: the next request keeps the FCB", []pstep{
		{op: opReset, hex: resetHex},
		{op: opAnswer, hex: ackHex, reply: Ack},
		{op: opUD, asdu: fsASDU, hex: fsUDFCB1},
		{op: opAnswer, hex: nackHex, reply: Nack, fcb: yes},
		{op: opUD, asdu: fsASDU, hex: fsUDFCB1},
		{op: opAnswer, hex: "10 0F 01 00 10 16", reply: LinkNotImplemented, fcb: yes},
		{op: opUD, asdu: fsASDU, hex: fsUDFCB1},
		{op: opAnswer, hex: ackHex, reply: Ack, fcb: no},
		{op: opUD, asdu: fsASDU, hex: fsUDFCB0},
	}},
	{"E5 is an ack to user data and no data to a poll, but no link status", []pstep{
		{op: opStatus, hex: reqStatHex},
		{op: opAnswer, hex: "E5", err: ErrUnexpectedFrame},
		{op: opAnswer, hex: statusHex, reply: LinkStatus},
		{op: opReset, hex: resetHex},
		{op: opAnswer, hex: "E5", reply: Ack, up: yes},
		{op: opUD, asdu: fsASDU, hex: fsUDFCB1},
		{op: opAnswer, hex: "E5", reply: Ack, fcb: no},
		{op: opPoll2, hex: poll2FCB0},
		{op: opAnswer, hex: "E5", reply: NoData, fcb: yes},
	}},
	{"frames that do not answer leave the request pending", []pstep{
		{op: opReset, hex: resetHex},
		{op: opAnswer, hex: "10 00 02 00 02 16", err: ErrUnexpectedFrame}, // other address
		{op: opAnswer, hex: resetHex, err: ErrUnexpectedFrame},            // PRM=1: our own echo
		{op: opAnswer, hex: statusHex, err: ErrUnexpectedFrame},           // status does not answer reset
		{op: opAnswer, hex: ackHex, reply: Ack},
		{op: opAnswer, hex: ackHex, err: ErrNoRequest},
		{op: opPoll2, hex: poll2FCB1},
		{op: opAnswer, hex: ackHex, err: ErrUnexpectedFrame},                                         // ack does not answer a poll
		{op: opAnswer, hex: "68 09 09 68 00 01 00 BB 00 07 01 00 00 C4 16", err: ErrUnexpectedFrame}, // FC 0 in a variable frame
		{op: opAnswer, hex: "10 08 01 00 09 16", err: ErrUnexpectedFrame},                            // FC 8 in a fixed frame
		{op: opAnswer, hex: "10 29 01 00 2A 16", reply: NoData, fcb: no},                             // ACD set
	}},
}

func TestPrimarySequences(t *testing.T) {
	for _, seq := range primarySequences {
		t.Run(seq.name, func(t *testing.T) {
			p := NewPrimary(1, DefaultRetries)
			for i, s := range seq.steps {
				var f Frame
				var r Reply
				var err error
				switch s.op {
				case opStatus:
					f = p.LinkStatus()
				case opReset:
					f = p.ResetLink()
				case opUD:
					f, err = p.UserData(unhex(t, s.asdu))
				case opPoll1:
					f, err = p.PollClass1()
				case opPoll2:
					f, err = p.PollClass2()
				case opRetry:
					f, err = p.Retry()
				case opAnswer:
					in, _, derr := DecodeFrame(unhex(t, s.hex))
					if derr != nil {
						t.Fatalf("step %d: bad test frame: %v", i, derr)
					}
					r, err = p.Answer(in)
				}
				if s.err != nil {
					if !errors.Is(err, s.err) {
						t.Fatalf("step %d: err = %v, want %v", i, err, s.err)
					}
				} else if err != nil {
					t.Fatalf("step %d: %v", i, err)
				} else if s.op == opAnswer {
					if r.Func != s.reply {
						t.Fatalf("step %d: reply %s, want %s", i, r.Func, s.reply)
					}
				} else {
					enc, _ := f.Encode()
					if want := unhex(t, s.hex); !bytes.Equal(enc, want) {
						t.Fatalf("step %d: sent % X, want % X", i, enc, want)
					}
				}
				if s.fcb != nil && p.NextFCB() != *s.fcb {
					t.Fatalf("step %d: NextFCB = %t, want %t", i, p.NextFCB(), *s.fcb)
				}
				if s.up != nil && p.Up() != *s.up {
					t.Fatalf("step %d: Up = %t, want %t", i, p.Up(), *s.up)
				}
			}
		})
	}
}

func TestPrimaryReplyFlags(t *testing.T) {
	p := NewPrimary(1, 0)
	p.ResetLink()
	if _, err := p.Answer(NewFixed(SecondaryControl(Ack, false, false), 1)); err != nil {
		t.Fatal(err)
	}
	p.PollClass2()
	in := NewVariable(SecondaryControl(UserData, true, true), 1, []byte{1, 2, 3})
	r, err := p.Answer(in)
	if err != nil || !r.ACD || !r.DFC || !bytes.Equal(r.ASDU, []byte{1, 2, 3}) {
		t.Fatalf("Answer = %+v, %v", r, err)
	}
	p.PollClass2()
	if _, err := p.Retry(); !errors.Is(err, ErrTimeout) || !errors.Is(err, ErrLinkDown) {
		t.Fatalf("Retry with 0 retries = %v, want ErrLinkDown and ErrTimeout", err)
	}
	if _, err := p.Request(UserDataConfirm, nil); !errors.Is(err, ErrFrame) {
		t.Errorf("user data without ASDU: %v", err)
	}
	if _, err := p.Request(UserDataNoReply, []byte{1}); err != nil {
		t.Errorf("FC 4: %v", err)
	}
	if _, ok := p.Pending(); ok {
		t.Errorf("FC 4 left a request pending")
	}
}

// fakeApp is a Handler: a class 2 queue, the ASDUs received, and settable flags.
type fakeApp struct {
	class1, class2 [][]byte
	got            [][]byte
	refuse         bool
	acd, dfc       bool
}

func (a *fakeApp) UserData(asdu []byte) bool {
	if a.refuse {
		return false
	}
	a.got = append(a.got, bytes.Clone(asdu))
	return true
}

func (a *fakeApp) Poll(c Class) []byte {
	q := &a.class2
	if c == Class1 {
		q = &a.class1
	}
	if len(*q) == 0 {
		return nil
	}
	b := (*q)[0]
	*q = (*q)[1:]
	return b
}

func (a *fakeApp) Flags() (bool, bool) { return a.acd, a.dfc }

// sstep is one step of a Secondary sequence: a frame in, the answer out ("" = silent),
// and the number of ASDUs the application has received so far.
type sstep struct {
	in, out string
	got     int
	set     func(*fakeApp) // adjust the application before the step
}

var secondarySequences = []struct {
	name   string
	queue  []string // class 2 ASDUs queued at start
	steps  []sstep
	result []string // ASDUs the application received
}{
	{"worked session of the reference (§4/§9)",
		[]string{"B7 01 07 01 00 00 01 00 00 00", "7A 01 07 01 00 0B 01 08 00 81 E1 07 12 00 80 61 08 12",
			"08 08 05 01 00 0B " + a4, "7A 01 0A 01 00 0B 01 08 00 81 E1 07 12 00 80 61 08 12"},
		[]sstep{
			{in: reqStatHex, out: statusHex},
			{in: resetHex, out: ackHex},
			{in: acUD, out: ackHex, got: 1},
			{in: poll2FCB0, out: "68 0D 0D 68 08 01 00 B7 01 07 01 00 00 01 00 00 00 CA 16", got: 1},
			{in: s8, out: ackHex, got: 2},
			{in: poll2FCB0, out: s9, got: 2},
			{in: poll2FCB1, out: s11, got: 2},
			{in: poll2FCB0, out: s12, got: 2},
			{in: fsUDFCB1, out: ackHex, got: 3},
			{in: poll2FCB0, out: noDataHex, got: 3},
		},
		[]string{acASDU, "7A 01 06 01 00 0B 01 08 00 81 E1 07 12 00 80 61 08 12", fsASDU},
	},
	{"repetitions are answered from the kept answer, not executed again",
		[]string{"B7 01 07 01 00 00 01 00 00 00", "BB 00 07 01 00 00"},
		[]sstep{
			{in: resetHex, out: ackHex},
			{in: acUD, out: ackHex, got: 1},
			{in: acUD, out: ackHex, got: 1}, // same FCB: ack, no second delivery
			{in: poll2FCB0, out: "68 0D 0D 68 08 01 00 B7 01 07 01 00 00 01 00 00 00 CA 16", got: 1},
			{in: poll2FCB0, out: "68 0D 0D 68 08 01 00 B7 01 07 01 00 00 01 00 00 00 CA 16", got: 1}, // not popped again
			{in: poll2FCB1, out: "68 09 09 68 08 01 00 BB 00 07 01 00 00 CC 16", got: 1},
			{in: poll2FCB0, out: noDataHex, got: 1},
			{in: poll2FCB0, out: noDataHex, got: 1},
			{in: reqStatHex, out: statusHex, got: 1}, // FCV=0 does not disturb the count
			{in: poll2FCB0, out: noDataHex, got: 1},
			{in: poll2FCB1, out: noDataHex, got: 1},
		},
		[]string{acASDU},
	},
	{"reset restarts the count at FCB 1 and forgets the kept answer",
		nil,
		[]sstep{
			{in: resetHex, out: ackHex},
			{in: fsUDFCB1, out: ackHex, got: 1},
			{in: fsUDFCB0, out: ackHex, got: 2},
			{in: resetHex, out: ackHex, got: 2},
			{in: fsUDFCB1, out: ackHex, got: 3}, // FCB 1 after the reset is new though it equals the last-but-one
			{in: fsUDFCB1, out: ackHex, got: 3},
		},
		[]string{fsASDU, fsASDU, fsASDU},
	},
	{"nack is not counted: the repeated frame is executed",
		nil,
		[]sstep{
			{in: resetHex, out: ackHex},
			{in: fsUDFCB1, out: nackHex, set: func(a *fakeApp) { a.refuse = true }},
			{in: fsUDFCB1, out: ackHex, got: 1, set: func(a *fakeApp) { a.refuse = false }},
			{in: fsUDFCB1, out: ackHex, got: 1},
		},
		[]string{fsASDU},
	},
	{"lenient start: no reset, the first FCV=1 frame sets the expectation",
		[]string{"BB 00 07 01 00 00"},
		[]sstep{
			{in: poll2FCB0, out: "68 09 09 68 08 01 00 BB 00 07 01 00 00 CC 16"},
			{in: poll2FCB0, out: "68 09 09 68 08 01 00 BB 00 07 01 00 00 CC 16"},
			{in: poll2FCB1, out: noDataHex},
		},
		nil,
	},
	{"after a reset a wrong FCB with no kept answer is taken as new",
		nil,
		[]sstep{
			{in: resetHex, out: ackHex},
			{in: fsUDFCB0, out: ackHex, got: 1},
			{in: fsUDFCB0, out: ackHex, got: 1},
			{in: fsUDFCB1, out: ackHex, got: 2},
		},
		[]string{fsASDU, fsASDU},
	},
	{"silence: other address, secondary frames, E5, send/no reply; not implemented FCs",
		nil,
		[]sstep{
			{in: "10 49 02 00 4B 16", out: ""}, // other link address
			{in: ackHex, out: ""},              // PRM=0
			{in: "E5", out: ""},                // single character
			{in: "68 09 09 68 44 01 00 BB 00 06 01 00 00 07 16", out: "", got: 1}, // FC 4
			{in: "10 73 01 00 74 16", out: "", got: 1},                            // FC 3 in a fixed frame
			{in: "10 42 01 00 43 16", out: "10 0F 01 00 10 16", got: 1},           // FC 2: not implemented
			{in: "10 41 01 00 42 16", out: ackHex, got: 1},                        // FC 1 reset of process
		},
		[]string{fsASDU},
	},
	{"class 1 empty, ACD and DFC in every answer",
		[]string{"BB 00 07 01 00 00"},
		[]sstep{
			{in: resetHex, out: "10 20 01 00 21 16", set: func(a *fakeApp) { a.acd = true }},
			{in: "10 7A 01 00 7B 16", out: "10 29 01 00 2A 16"},
			{in: reqStatHex, out: "10 3B 01 00 3C 16", set: func(a *fakeApp) { a.dfc = true }},
			{in: poll2FCB0, out: "68 09 09 68 38 01 00 BB 00 07 01 00 00 FC 16"},
		},
		nil,
	},
}

func TestSecondarySequences(t *testing.T) {
	for _, seq := range secondarySequences {
		t.Run(seq.name, func(t *testing.T) {
			app := &fakeApp{}
			for _, q := range seq.queue {
				app.class2 = append(app.class2, unhex(t, q))
			}
			s := NewSecondary(1)
			for i, st := range seq.steps {
				if st.set != nil {
					st.set(app)
				}
				in, _, err := DecodeFrame(unhex(t, st.in))
				if err != nil {
					t.Fatalf("step %d: bad test frame: %v", i, err)
				}
				out, ok := s.Handle(in, app)
				var enc []byte
				if ok {
					if enc, err = out.Encode(); err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
				}
				if want := unhex(t, st.out); !bytes.Equal(enc, want) {
					t.Fatalf("step %d: answer % X, want % X", i, enc, want)
				}
				if len(app.got) != st.got {
					t.Fatalf("step %d: application received %d ASDUs, want %d", i, len(app.got), st.got)
				}
			}
			if len(app.got) != len(seq.result) {
				t.Fatalf("received %d ASDUs, want %d", len(app.got), len(seq.result))
			}
			for i, want := range seq.result {
				if !bytes.Equal(app.got[i], unhex(t, want)) {
					t.Errorf("ASDU %d = % X, want %s", i, app.got[i], want)
				}
			}
		})
	}
}

// TestLinkLossyLoop runs a Primary against a Secondary over a channel that loses
// requests and answers at random. The frame count bit must make every user data frame
// reach the application exactly once and every queued answer reach the master exactly
// once, in order.
func TestLinkLossyLoop(t *testing.T) {
	for seed := range uint64(50) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			p, s := NewPrimary(9, 100), NewSecondary(9)
			app := &fakeApp{}
			var sent, delivered [][]byte
			exchange := func(f Frame) (Reply, bool) {
				for {
					if rng.IntN(4) != 0 { // request arrives
						if out, ok := s.Handle(f, app); ok && rng.IntN(4) != 0 { // answer arrives
							r, err := p.Answer(out)
							if err != nil {
								t.Fatalf("Answer(%v): %v", out, err)
							}
							return r, true
						}
					}
					var err error
					if f, err = p.Retry(); err != nil {
						t.Fatalf("Retry: %v", err)
					}
				}
			}
			exchange(p.ResetLink())
			for i := range 40 {
				asdu := []byte{byte(TypeEndSession), 0, 6, byte(i), 0, 0}
				if rng.IntN(2) == 0 {
					app.class2 = append(app.class2, bytes.Clone(asdu))
					sent = append(sent, asdu)
					f, err := p.PollClass2()
					if err != nil {
						t.Fatal(err)
					}
					if r, _ := exchange(f); r.Func == UserData {
						delivered = append(delivered, r.ASDU)
					}
					continue
				}
				f, err := p.UserData(asdu)
				if err != nil {
					t.Fatal(err)
				}
				exchange(f)
				if n := len(app.got); n == 0 || !bytes.Equal(app.got[n-1], asdu) {
					t.Fatalf("user data %d not delivered", i)
				}
			}
			for len(app.class2) > 0 {
				f, _ := p.PollClass2()
				if r, _ := exchange(f); r.Func == UserData {
					delivered = append(delivered, r.ASDU)
				}
			}
			if len(delivered) != len(sent) {
				t.Fatalf("delivered %d answers, queued %d", len(delivered), len(sent))
			}
			for i := range sent {
				if !bytes.Equal(delivered[i], sent[i]) {
					t.Fatalf("answer %d = % X, want % X", i, delivered[i], sent[i])
				}
			}
			if len(app.got)+len(sent) != 40 {
				t.Fatalf("%d user data + %d polls, want 40", len(app.got), len(sent))
			}
		})
	}
}
