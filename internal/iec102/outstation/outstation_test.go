package outstation_test

import (
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Madrid for the REE vectors, whatever the host has

	"gridmeter/internal/iec102"
	"gridmeter/internal/iec102/outstation"
	"gridmeter/internal/iec102/outstation/outstationtest"
	"gridmeter/internal/meterdata"
)

var (
	madrid, _ = time.LoadLocation("Europe/Madrid")
	meter1    = meterdata.MeterID("T1.bus1.000000000001")
)

// vectorConfig is the worked session of the reference (DER 1, measuring point 1,
// password 1), in Madrid time like REE meters.
func vectorConfig() outstation.Config {
	return outstation.Config{
		LinkAddress: 1,
		Points:      []outstation.Point{{Address: 1, Password: 1, Meter: meter1}},
		Identity:    iec102.ProductInfo{SpecDate: 0x24, Manufacturer: 66, Product: 48304838},
		Location:    madrid,
		Now:         func() time.Time { return time.Date(2018, 8, 18, 4, 42, 25, 0, time.UTC) },
	}
}

// raw is a master written by hand: frames in, frames out, checked octet by octet.
type raw struct {
	t    *testing.T
	conn net.Conn
	dec  iec102.Decoder
	p    *iec102.Primary
}

func dialRaw(t *testing.T, addr string) *raw {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &raw{t: t, conn: conn, p: iec102.NewPrimary(1, 0)}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func (r *raw) write(b []byte) {
	r.t.Helper()
	if _, err := r.conn.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// recv returns the next frame; no E5 may ever come from the outstation.
func (r *raw) recv() iec102.Frame {
	r.t.Helper()
	f, err := iec102.ReadFrame(r.conn, &r.dec, time.Now().Add(5*time.Second))
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	if f.Format == iec102.FormatSingleChar {
		r.t.Fatalf("outstation sent E5, which iec870ree does not parse")
	}
	return f
}

// exchange sends the frame given in hex and checks the answer against want (hex).
func (r *raw) exchange(send, want string) {
	r.t.Helper()
	r.write(unhex(r.t, send))
	f := r.recv()
	got, _ := f.Encode()
	if w := unhex(r.t, want); string(got) != string(w) {
		r.t.Fatalf("sent %s\n got  % X\n want % X", send, got, w)
	}
}

// request sends asdu as user data with the Primary's frame count bit and returns the
// answers polled until the procedure ends.
func (r *raw) request(req iec102.ASDU) []iec102.ASDU {
	r.t.Helper()
	b, err := req.Encode()
	if err != nil {
		r.t.Fatal(err)
	}
	f, err := r.p.UserData(b)
	if err != nil {
		r.t.Fatal(err)
	}
	if a := r.transact(f); a.Func != iec102.Ack {
		r.t.Fatalf("user data answered with %s", a.Func)
	}
	var out []iec102.ASDU
	for {
		f, _ := r.p.PollClass2()
		a := r.transact(f)
		if a.Func == iec102.NoData {
			return out
		}
		asdu, err := iec102.DecodeASDU(a.ASDU)
		if err != nil && !errors.Is(err, iec102.ErrUnknownType) {
			r.t.Fatalf("answer % X: %v", a.ASDU, err)
		}
		out = append(out, asdu)
	}
}

func (r *raw) transact(f iec102.Frame) iec102.Reply {
	r.t.Helper()
	b, _ := f.Encode()
	r.write(b)
	a, err := r.p.Answer(r.recv())
	if err != nil {
		r.t.Fatalf("answer to %s: %v", f, err)
	}
	return a
}

func (r *raw) start() {
	r.t.Helper()
	r.transact(r.p.LinkStatus())
	r.transact(r.p.ResetLink())
}

func (r *raw) login(point uint16, pw uint32) []iec102.ASDU {
	r.t.Helper()
	return r.request(iec102.NewRequest(iec102.TypeStartSession, point, 0, iec102.Password(pw)))
}

// wantEOF checks that the outstation closed the connection.
func (r *raw) wantEOF() {
	r.t.Helper()
	r.conn.SetDeadline(time.Now().Add(5 * time.Second))
	var b [64]byte
	n, err := r.conn.Read(b[:])
	if n != 0 || !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		r.t.Fatalf("read = % X, %v; want the connection closed", b[:n], err)
	}
}

func dui(a iec102.ASDU) string {
	b, _ := a.DUI.Append(nil)
	return strings.ToUpper(hex.EncodeToString(b))
}

// TestWorkedSession replays the worked session of the reference (iec102.md §9 and the
// vectors' section 4) octet by octet where the outstation's answer is fixed by the
// request, and by structure where it carries this journal's data.
func TestWorkedSession(t *testing.T) {
	end := time.Date(2018, 7, 1, 1, 0, 0, 0, madrid)
	src := outstationtest.NewMemorySource(meterdata.Reading{Meter: meter1, Kind: meterdata.KindInstant, Time: end,
		Values: map[string]int64{"e_imp": 4, "e_exp": 0, "u_a": 230000}})
	_, addr := outstationtest.Start(t, vectorConfig(), src)
	r := dialRaw(t, addr)

	r.exchange("10 49 01 00 4A 16", "10 0B 01 00 0C 16") // status of link
	r.exchange("10 40 01 00 41 16", "10 00 01 00 01 16") // reset of remote link → ACK
	r.exchange("68 0D 0D 68 73 01 00 B7 01 06 01 00 00 01 00 00 00 34 16", "10 00 01 00 01 16")
	// The confirmation is the first answer polled: the mirror with COT 7, password echoed.
	r.exchange("10 5B 01 00 5C 16", "68 0D 0D 68 08 01 00 B7 01 07 01 00 00 01 00 00 00 CA 16")

	// C_CI_NT_2, hourly, IOA 1..8, 2018-07-01 01:00 .. 2018-08-01 00:00.
	r.exchange("68 15 15 68 73 01 00 7A 01 06 01 00 0B 01 08 00 81 E1 07 12 00 80 61 08 12 80 16", "10 00 01 00 01 16")
	r.exchange("10 5B 01 00 5C 16", "68 15 15 68 08 01 00 7A 01 07 01 00 0B 01 08 00 81 E1 07 12 00 80 61 08 12 16 16")
	r.write(unhex(t, "10 7B 01 00 7C 16"))
	data := r.recv()
	a, err := data.DecodeASDU()
	if err != nil {
		t.Fatal(err)
	}
	if got := dui(a); got != "08080501000B" || data.Control != 0x08 {
		t.Errorf("data DUI %s (C %02X), want 08080501000B: M_IT_TG_2, 8 totals, COT 5, CA 1, RAD 11", got, byte(data.Control))
	}
	it := a.Info.(iec102.IntegratedTotals)
	endTag, _ := iec102.TimeAOf(end)
	if it.End != endTag || it.Totals[0] != (iec102.IntegratedTotal{Address: 1, Value: 4}) ||
		it.Totals[1] != (iec102.IntegratedTotal{Address: 2, Value: 0}) {
		t.Errorf("data = %v, want A+ 4, A- 0 at %s", it, endTag)
	}
	for _, tot := range it.Totals[2:] {
		if tot.Value != 0 || tot.Quality != iec102.QualityIV {
			t.Errorf("object %d = %v, want 0 IV (not acquired)", tot.Address, tot)
		}
	}
	// The termination ends the answer.
	r.exchange("10 5B 01 00 5C 16", "68 15 15 68 08 01 00 7A 01 0A 01 00 0B 01 08 00 81 E1 07 12 00 80 61 08 12 19 16")
	// Nothing more: "no data", never E5.
	r.exchange("10 7B 01 00 7C 16", "10 09 01 00 0A 16")

	// C_TI_NA_2 (FCB=0 next: the last poll had FCB=1).
	r.exchange("68 09 09 68 53 01 00 67 00 05 01 00 00 C1 16", "10 00 01 00 01 16")
	r.write(unhex(t, "10 7B 01 00 7C 16"))
	ta := r.recv()
	clk, _ := ta.DecodeASDU()
	if tb, ok := clk.Info.(iec102.TimeB); !ok || dui(clk) != "480105010000" || tb.String() != "2018-08-18 06:42:25.000 SU dow 6" {
		t.Errorf("clock answer %s, want M_TI_TA_2 COT 5 with 2018-08-18 06:42:25 SU (Madrid)", clk)
	}

	// C_RD_NA_2 → the P_MP_NA_2 of the vectors (F11).
	r.exchange("68 09 09 68 53 01 00 64 00 05 01 00 00 BE 16", "10 00 01 00 01 16")
	r.exchange("10 7B 01 00 7C 16", "68 0F 0F 68 08 01 00 47 01 05 01 00 00 24 42 C6 12 E1 02 78 16")

	// C_FS_NA_2 → COT 7.
	r.exchange("68 09 09 68 53 01 00 BB 00 06 01 00 00 16 16", "10 00 01 00 01 16")
	r.exchange("10 7B 01 00 7C 16", "68 09 09 68 08 01 00 BB 00 07 01 00 00 CC 16")
	// Class 1: never any data.
	r.exchange("10 5A 01 00 5B 16", "10 09 01 00 0A 16")
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
