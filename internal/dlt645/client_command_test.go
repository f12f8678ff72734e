package dlt645

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

var tripUntil2030 = ControlCommand{ActionTrip, time.Date(2030, 12, 31, 0, 0, 0, 0, testLoc)}

func TestClientControl(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, bus := startBus(t, Options{}, nil, func(_ int, req Frame) []byte {
			return enc(t, NewCommandReply(req.Address, FuncControl))
		})
		if err := c.Control(context.Background(), addr1, PlainSecurity{Credentials{Level: 2}}, tripUntil2030); err != nil {
			t.Fatal(err)
		}
		reqs := bus.requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests", len(reqs))
		}
		// The request is byte for byte the reference note's relay trip frame.
		if got, want := enc(t, reqs[0]), unhex(t, "68 12 90 78 56 34 12 68 1C 10 35 33 33 33 33 33 33 33 4D 33 33 33 33 64 45 63 71 16"); !bytes.Equal(got, want) {
			t.Errorf("request % X\nwant    % X", got, want)
		}
	})
}

func TestClientControlUnauthorised(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, bus := startBus(t, Options{Retries: 3}, nil, func(_ int, req Frame) []byte {
			return unhex(t, "68 12 90 78 56 34 12 68 DC 01 37 9A 16") // the golden DCH 04H
		})
		err := c.Control(context.Background(), addr1, PlainSecurity{Credentials{Level: 2, Password: 0x123456}}, tripUntil2030)
		var ab *AbnormalError
		if !errors.As(err, &ab) || !errors.Is(err, ErrAbnormal) {
			t.Fatalf("err = %v, want an *AbnormalError", err)
		}
		if ab.Code != ErrCodeUnauthorized || !ab.Has(ErrCodeUnauthorized) || ab.Function != FuncControl || ab.Address != addr1 {
			t.Errorf("AbnormalError = %+v", ab)
		}
		if !strings.HasPrefix(err.Error(), "meter 123456789012: control trip: ") {
			t.Errorf("error text %q", err)
		}
		if n := len(bus.requests()); n != 1 {
			t.Errorf("a refused command was retried: %d requests", n)
		}
	})
}

// sealer is a stand-in for an ESAM-backed provider: level 98H, N1…N8 "encrypted" by
// XOR, a 4-byte MAC appended, and a reply MAC to check.
type sealer struct {
	mu      sync.Mutex
	replies [][]byte
	fail    error
}

func (s *sealer) ControlData(_ context.Context, addr Address, cmd ControlCommand) ([]byte, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	n, err := cmd.AppendN(nil)
	if err != nil {
		return nil, err
	}
	data := Credentials{Level: 0x98, Operator: 1}.Append(nil)
	for _, b := range n {
		data = append(data, b^0x5A)
	}
	return append(data, addr[0], addr[1], 0xAB, 0xCD), nil
}

func (s *sealer) CheckControlReply(_ context.Context, _ Address, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies = append(s.replies, bytes.Clone(data))
	if !bytes.Equal(data, []byte{0xAB, 0xCD}) {
		return fmt.Errorf("%w: bad reply MAC", ErrData)
	}
	return nil
}

func TestClientControlSecurityProvider(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mac := []byte{0xAB, 0xCD}
		c, bus := startBus(t, Options{}, nil, func(i int, req Frame) []byte {
			r := NewCommandReply(req.Address, FuncControl)
			if i == 0 {
				r.Data = mac
			} else {
				r.Data = []byte{0x00, 0x00} // a forged MAC
			}
			return enc(t, r)
		})
		sec := &sealer{}
		cmd := ControlCommand{ActionCloseAllowed, time.Date(2025, 1, 1, 0, 0, 0, 0, testLoc)}
		if err := c.Control(context.Background(), addr1, sec, cmd); err != nil {
			t.Fatal(err)
		}
		req := bus.requests()[0]
		want, _ := sec.ControlData(context.Background(), addr1, cmd)
		if req.Control != 0x1C || !bytes.Equal(req.Data, want) || req.Data[0] != 0x98 {
			t.Errorf("request %v, want data % X", req, want)
		}
		if len(sec.replies) != 1 || !bytes.Equal(sec.replies[0], mac) {
			t.Errorf("provider saw replies % X", sec.replies)
		}
		if err := c.Control(context.Background(), addr1, sec, cmd); !errors.Is(err, ErrData) {
			t.Errorf("forged reply MAC: err = %v", err)
		}
		sec.fail = errors.New("ESAM unavailable")
		if err := c.Control(context.Background(), addr1, sec, cmd); err == nil || !strings.Contains(err.Error(), "ESAM unavailable") {
			t.Errorf("provider failure: err = %v", err)
		}
		if n := len(bus.requests()); n != 2 {
			t.Errorf("%d requests, want none sent after the provider failed", n)
		}
		if err := c.Control(context.Background(), BroadcastAddress, sec, cmd); !errors.Is(err, ErrRange) {
			t.Errorf("broadcast control: %v", err)
		}
	})
}

func TestClientWriteAndFreeze(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cred := Credentials{Level: 2, Password: 0x123456, Operator: 0x42}
		c, bus := startBus(t, Options{}, nil, func(_ int, req Frame) []byte {
			switch req.Control.Function() {
			case FuncWrite:
				w, err := DecodeWriteRequest(req.Data)
				if err != nil || w.Credentials.Password != 0x123456 {
					return enc(t, NewAbnormalReply(req.Address, FuncWrite, ErrCodeUnauthorized))
				}
				return enc(t, NewCommandReply(req.Address, FuncWrite))
			case FuncFreeze:
				if req.Address.IsBroadcast() {
					return nil
				}
				return enc(t, NewCommandReply(req.Address, FuncFreeze))
			}
			return nil
		})
		ctx := context.Background()
		if err := c.WriteSettlementDay(ctx, addr1, cred, SettlementDay{Day: 15, Hour: 8}); err != nil {
			t.Fatal(err)
		}
		w, err := DecodeWriteRequest(bus.requests()[0].Data)
		if err != nil || w.DI != DISettlementDay1 || !bytes.Equal(w.Value, []byte{0x08, 0x15}) || w.Credentials != cred {
			t.Errorf("write request %+v, %v", w, err)
		}
		err = c.Write(ctx, addr1, Credentials{Level: 2}, DISettlementDay1, []byte{0x00, 0x01})
		var ab *AbnormalError
		if !errors.As(err, &ab) || ab.Code != ErrCodeUnauthorized || ab.Function != FuncWrite {
			t.Errorf("wrong password: err = %v", err)
		}
		if err := c.WriteSettlementDay(ctx, addr1, cred, SettlementDay{Day: 31}); !errors.Is(err, ErrRange) {
			t.Errorf("day 31: err = %v", err)
		}

		if err := c.Freeze(ctx, addr1, FreezeSchedule{99, 99, 0, 0}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := c.Freeze(ctx, BroadcastAddress, InstantFreeze); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) != 0 {
			t.Errorf("a broadcast freeze waited %v for a reply", time.Since(start))
		}
		synctest.Wait()
		reqs := bus.requests()
		if len(reqs) != 4 || reqs[3].Address != BroadcastAddress || !bytes.Equal(reqs[3].Data, []byte{0x99, 0x99, 0x99, 0x99}) {
			t.Errorf("requests %v", reqs)
		}
	})
}

func TestClientReadStatusAndRaw(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := startBus(t, Options{}, nil, func(_ int, req Frame) []byte {
			di, _ := req.DI()
			switch di {
			case DIStatusWord3:
				return enc(t, NewReadReply(req.Address, di, []byte{0x50, 0x10}, false))
			case DIReverseActiveBlock:
				return enc(t, NewReadReply(req.Address, di, unhexMust("20 01 00 00 10 00 00 00 20 00 00 00 30 00 00 00 60 00 00 00"), false))
			case DIActivePulseConstant:
				return enc(t, NewReadReply(req.Address, di, []byte{0x00, 0x64, 0x00}, false))
			}
			return enc(t, NewAbnormalReply(req.Address, FuncRead, ErrCodeNoData))
		})
		ctx := context.Background()
		s, err := c.ReadStatusWord3(ctx, addr1)
		if err != nil || !s.RelayOpen() || !s.KeepOn() {
			t.Errorf("ReadStatusWord3 = %s, %v", s, err)
		}
		raw, err := c.ReadRaw(ctx, addr1, DIReverseActiveBlock)
		if err != nil || !reflect.DeepEqual(raw, []int64{120, 10, 20, 30, 60}) {
			t.Errorf("ReadRaw(reverse block) = %v, %v", raw, err)
		}
		m, err := c.ReadValues(ctx, addr1, DIReverseActiveBlock)
		if err != nil || len(m) != 1 || m["e_exp"] != 1200 {
			t.Errorf("ReadValues(reverse block) = %v, %v", m, err)
		}
		raw, err = c.ReadRaw(ctx, addr1, DIActivePulseConstant)
		if err != nil || raw[0] != 6400 {
			t.Errorf("pulse constant %v, %v", raw, err)
		}
		if _, err := c.ReadRaw(ctx, addr1, DIStatusWord7); !errors.Is(err, ErrAbnormal) {
			t.Errorf("status word 7: %v", err)
		}
		if _, err := c.ReadRaw(ctx, addr1, 0x01010000); !errors.Is(err, ErrUnknownDI) {
			t.Errorf("unknown: %v", err)
		}
	})
}

// frozenMeter answers daily frozen reads from a list of records, newest first; moveAfter
// requests in, a new record arrives (midnight passes), shifting the others down.
type frozenMeter struct {
	t         *testing.T
	records   []FrozenRecord
	moveAfter int
	noReverse bool
	reads     int
}

func (m *frozenMeter) reply(i int, req Frame) []byte {
	m.reads++
	if m.moveAfter > 0 && m.reads == m.moveAfter+1 {
		newest := m.records[0]
		newest.Time = newest.Time.AddDate(0, 0, 1)
		newest.Forward = []int64{newest.Forward[0] + 5000, 0, 0, 0, newest.Forward[0] + 5000}
		m.records = append([]FrozenRecord{newest}, m.records...)
	}
	di, _ := req.DI()
	n := int(di & 0xFF)
	if n < 1 || n > len(m.records) {
		return enc(m.t, NewAbnormalReply(req.Address, FuncRead, ErrCodeNoData))
	}
	tf, fwd, rev, err := AppendFrozen(m.records[n-1])
	if err != nil {
		m.t.Fatal(err)
	}
	var v []byte
	switch di &^ 0xFF {
	case DIDailyFrozenTime &^ 0xFF:
		v = tf
	case DIDailyFrozenForward &^ 0xFF:
		v = fwd
	case DIDailyFrozenReverse &^ 0xFF:
		if m.noReverse {
			return enc(m.t, NewAbnormalReply(req.Address, FuncRead, ErrCodeNoData))
		}
		v = rev
	}
	return enc(m.t, NewReadReply(req.Address, di, v, false))
}

func TestClientReadDailyFrozen(t *testing.T) {
	day := time.Date(2024, 3, 12, 0, 0, 0, 0, testLoc)
	records := []FrozenRecord{
		{Time: day, Forward: []int64{20000, 1000, 2000, 3000, 14000}, Reverse: []int64{500, 0, 0, 0, 500}},
		{Time: day.AddDate(0, 0, -1), Forward: []int64{15000, 900, 1800, 2700, 9600}, Reverse: []int64{400, 0, 0, 0, 400}},
	}
	for _, tc := range []struct {
		name      string
		moveAfter int
		noReverse bool
		n         int
		want      FrozenRecord
		wantReads int
	}{
		{"steady", 0, false, 2, records[1], 4},
		{"midnight between the reads", 2, false, 1, FrozenRecord{Time: day.AddDate(0, 0, 1), Forward: []int64{25000, 0, 0, 0, 25000},
			Reverse: []int64{500, 0, 0, 0, 500}}, 7},
		{"no reverse energy", 0, true, 1, FrozenRecord{Time: day, Forward: records[0].Forward}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := &frozenMeter{t: t, records: append([]FrozenRecord(nil), records...), moveAfter: tc.moveAfter, noReverse: tc.noReverse}
				c, bus := startBus(t, Options{}, nil, m.reply)
				got, err := c.ReadDailyFrozen(context.Background(), addr1, tc.n, testLoc)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got %+v\nwant %+v", got, tc.want)
				}
				if n := len(bus.requests()); n != tc.wantReads {
					t.Errorf("%d reads, want %d", n, tc.wantReads)
				}
			})
		})
	}
	synctest.Test(t, func(t *testing.T) {
		m := &frozenMeter{t: t, records: records}
		c, _ := startBus(t, Options{}, nil, m.reply)
		_, err := c.ReadDailyFrozen(context.Background(), addr1, 3, testLoc)
		var ab *AbnormalError
		if !errors.Is(err, ErrNoRecord) || !errors.As(err, &ab) {
			t.Errorf("no third record: err = %v, want ErrNoRecord and the abnormal reply", err)
		}
		if _, err := c.ReadDailyFrozen(context.Background(), addr1, 63, testLoc); !errors.Is(err, ErrRange) {
			t.Errorf("63 days back: %v", err)
		}
	})
}

func TestClientReadSettlementAndEvents(t *testing.T) {
	start := time.Date(2024, 3, 12, 8, 15, 30, 0, testLoc)
	synctest.Test(t, func(t *testing.T) {
		c, _ := startBus(t, Options{}, nil, func(_ int, req Frame) []byte {
			di, _ := req.DI()
			var v []byte
			switch di {
			case DISettlementForwardBlockN(2):
				v, _ = appendEnergyBlock(nil, []int64{30000, 1000, 9000, 10000, 10000})
			case DISettlementReverseTotalN(2):
				v, _ = appendEnergyBlock(nil, []int64{70})
			case DISettlementDay1:
				v = []byte{0x00, 0x01}
			case DIPowerDownCount:
				v = []byte{0x02, 0x00, 0x00}
			case DIPowerDownRecordN(1):
				v, _ = AppendPowerDownEvent(nil, PowerDownEvent{start, start.Add(90 * time.Minute)})
			case DIPowerDownRecordN(3):
				v = make([]byte, 12) // fewer events than asked: zeros
			default:
				return enc(t, NewAbnormalReply(req.Address, FuncRead, ErrCodeNoData))
			}
			return enc(t, NewReadReply(req.Address, di, v, false))
		})
		ctx := context.Background()
		r, err := c.ReadSettlement(ctx, addr1, 2)
		if err != nil || !reflect.DeepEqual(r, FrozenRecord{Forward: []int64{30000, 1000, 9000, 10000, 10000}, Reverse: []int64{70}}) {
			t.Errorf("ReadSettlement = %+v, %v", r, err)
		}
		if _, err := c.ReadSettlement(ctx, addr1, 3); !errors.Is(err, ErrNoRecord) {
			t.Errorf("settlement 3: %v", err)
		}
		d, err := c.ReadSettlementDay(ctx, addr1)
		if err != nil || d != (SettlementDay{Day: 1}) {
			t.Errorf("ReadSettlementDay = %+v, %v", d, err)
		}
		n, err := c.ReadPowerDownCount(ctx, addr1)
		if err != nil || n != 2 {
			t.Errorf("ReadPowerDownCount = %d, %v", n, err)
		}
		e, err := c.ReadPowerDownEvent(ctx, addr1, 1, testLoc)
		if err != nil || !e.Start.Equal(start) || !e.End.Equal(start.Add(90*time.Minute)) {
			t.Errorf("ReadPowerDownEvent = %+v, %v", e, err)
		}
		if _, err := c.ReadPowerDownEvent(ctx, addr1, 3, testLoc); !errors.Is(err, ErrNoRecord) {
			t.Errorf("zero record: %v", err)
		}
		if _, err := c.ReadPowerDownEvent(ctx, addr1, 11, testLoc); !errors.Is(err, ErrRange) {
			t.Errorf("record 11: %v", err)
		}
	})
}

// TestClientReadLoadProfile asks for five blocks; the meter has three from the given
// time and sends them in three frames (B1H, B2H, 92H), splitting a block across frames.
func TestClientReadLoadProfile(t *testing.T) {
	from := time.Date(2024, 3, 12, 0, 15, 0, 0, testLoc)
	var all []byte
	var want []LoadRecord
	for i := range 3 {
		r := goldenLoadRecord
		r.Time = from.Add(time.Duration(i) * 15 * time.Minute)
		r.ForwardActive += int64(i) * 1000
		want = append(want, r)
		all, _ = AppendLoadRecord(all, r)
	}
	chunks := [][]byte{all[:100], all[100:200], all[200:]}
	synctest.Test(t, func(t *testing.T) {
		c, bus := startBus(t, Options{}, nil, func(_ int, req Frame) []byte {
			di, _ := req.DI()
			switch req.Control.Function() {
			case FuncRead:
				q, err := DecodeLoadProfileRequest(req.Data[DISize:], testLoc)
				if err != nil || di != DILoadProfileAtTime || q.Count != 5 || !q.From.Equal(from) {
					return enc(t, NewAbnormalReply(req.Address, FuncRead, ErrCodeOther))
				}
				return enc(t, NewReadReply(req.Address, di, chunks[0], true))
			case FuncReadFollowUp:
				seq := req.Data[DISize]
				ctl := FuncReadFollowUp.Reply()
				if int(seq) < len(chunks)-1 {
					ctl |= ControlFollowUp
				}
				data := append(append(di.AppendWire(nil), chunks[seq]...), seq)
				return enc(t, Frame{Address: req.Address, Control: ctl, Data: data})
			}
			return nil
		})
		got, err := c.ReadLoadProfile(context.Background(), addr1, LoadProfileRequest{Count: 5, From: from}, testLoc)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
		if n := len(bus.requests()); n != 3 {
			t.Errorf("%d requests, want a read and two follow-ups", n)
		}
		if _, err := c.ReadLoadProfile(context.Background(), addr1, LoadProfileRequest{Count: 2, From: from}, testLoc); !errors.Is(err, ErrAbnormal) {
			t.Errorf("err = %v", err)
		}
	})
}
