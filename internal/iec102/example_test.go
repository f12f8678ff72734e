package iec102_test

import (
	"fmt"
	"time"

	"gridmeter/internal/iec102"
)

// A master's side of one exchange: the request of an hourly load profile, sent as
// user data with the frame count bit, and the decoding of an answer to a class 2 poll.
func Example_master() {
	p := iec102.NewPrimary(1, iec102.DefaultRetries)
	p.LinkStatus()
	p.Answer(iec102.NewFixed(iec102.SecondaryControl(iec102.LinkStatus, false, false), 1))
	p.ResetLink()
	p.Answer(iec102.NewFixed(iec102.SecondaryControl(iec102.Ack, false, false), 1))

	madrid, _ := time.LoadLocation("Europe/Madrid")
	from, _ := iec102.TimeAOf(time.Date(2018, 7, 1, 1, 0, 0, 0, madrid))
	to, _ := iec102.TimeAOf(time.Date(2018, 8, 1, 0, 0, 0, 0, madrid))
	req := iec102.NewRequest(iec102.TypeReadOperationalTotals, 1, iec102.RecordHourly,
		iec102.TotalsRequest{First: 1, Last: 8, From: from, To: to})
	asdu, _ := req.Encode()
	f, _ := p.UserData(asdu)
	wire, _ := f.Encode()
	fmt.Printf("% X\n", wire)

	// The outstation's third answer to class 2 polls (after the ACK and the COT 7 mirror).
	answer := []byte{0x68, 0x1A, 0x1A, 0x68, 0x08, 0x01, 0x00,
		0x08, 0x02, 0x05, 0x01, 0x00, 0x0B, // M_IT_TG_2, 2 totals, COT 5, CA 1, RAD 11
		0x01, 0x04, 0x00, 0x00, 0x00, 0x00, // A+ 4 kWh
		0x03, 0x1B, 0x00, 0x00, 0x00, 0x80, // R1 27 kvarh, invalid
		0x00, 0x81, 0xE1, 0x07, 0x12, // end of period 2018-07-01 01:00 SU
		0x42, 0x16}
	fr, _, err := iec102.DecodeFrame(answer)
	if err != nil {
		fmt.Println(err)
		return
	}
	a, _ := fr.DecodeASDU()
	if err := a.CheckCause(iec102.CauseRequest); err != nil {
		fmt.Println(err)
		return
	}
	totals := a.Info.(iec102.IntegratedTotals)
	end, _ := totals.End.Time(madrid)
	for _, it := range totals.Totals {
		fmt.Printf("%s object %d: %d (%s)\n", end.Format(time.DateTime), it.Address, it.Value, it.Quality)
	}
	// Output:
	// 68 15 15 68 73 01 00 7A 01 06 01 00 0B 01 08 00 81 E1 07 12 00 80 61 08 12 80 16
	// 2018-07-01 01:00:00 object 1: 4 (ok)
	// 2018-07-01 01:00:00 object 3: 27 (IV)
}

// outstation is a Handler with one class 2 queue.
type outstation struct{ queue [][]byte }

func (o *outstation) UserData(b []byte) bool {
	req, err := iec102.DecodeASDU(b)
	if err != nil {
		return true // a real outstation mirrors with CauseTypeNotAvailable (14) here
	}
	if req.Type == iec102.TypeStartSession && req.Info == iec102.Password(1) {
		ans, _ := req.Mirror(iec102.COT{Cause: iec102.CauseActivationCon}, true).Encode()
		o.queue = append(o.queue, ans)
	}
	return true
}

func (o *outstation) Poll(c iec102.Class) []byte {
	if c != iec102.Class2 || len(o.queue) == 0 {
		return nil
	}
	b := o.queue[0]
	o.queue = o.queue[1:]
	return b
}

func (o *outstation) Flags() (acd, dfc bool) { return false, false }

// An outstation's link: the Secondary answers each frame from the master, handing new
// user data and polls to the application and repeating its answer to repetitions.
func Example_outstation() {
	s := iec102.NewSecondary(1)
	app := &outstation{}
	for _, in := range []string{
		"\x10\x40\x01\x00\x41\x16", // reset of remote link
		"\x68\x0D\x0D\x68\x73\x01\x00\xB7\x01\x06\x01\x00\x00\x01\x00\x00\x00\x34\x16", // C_AC_NA_2, FCB=1
		"\x10\x5B\x01\x00\x5C\x16", // class 2 poll, FCB=0
		"\x10\x5B\x01\x00\x5C\x16", // the same poll again: answer lost, repeated
		"\x10\x7B\x01\x00\x7C\x16", // next class 2 poll, FCB=1
	} {
		f, _, _ := iec102.DecodeFrame([]byte(in))
		if reply, ok := s.Handle(f, app); ok {
			fmt.Println(reply)
		}
	}
	// Output:
	// fixed 00 (ack) A=1
	// fixed 00 (ack) A=1
	// variable 08 (user data) A=1 [B7 01 07 01 00 00 01 00 00 00]
	// variable 08 (user data) A=1 [B7 01 07 01 00 00 01 00 00 00]
	// fixed 09 (no data) A=1
}
