package dlt645

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// testLoc is the meters' time zone in the golden table: China Standard Time.
var testLoc = time.FixedZone("CST", 8*3600)

// controlPayload is a decoded plain control command.
type controlPayload struct {
	Credentials Credentials
	Command     ControlCommand
}

// accepted is a normal reply without data to a command.
type accepted Function

// goldenLoadRecord is the record of the golden load profile reply.
var goldenLoadRecord = LoadRecord{
	Time:    time.Date(2024, 3, 12, 0, 15, 0, 0, testLoc),
	Classes: LoadVoltageCurrent | LoadPower | LoadPowerFactor | LoadEnergy,
	Voltage: [3]int64{220100, 219800, 220300}, Current: [3]int64{5123, 0, -1500}, Frequency: 50010,
	ActivePower:   [4]int64{1234500, 400000, 400000, 434500},
	ReactivePower: [4]int64{250000, 80000, 90000, 80000},
	PowerFactor:   [4]int64{950, 951, 949, 950},
	ForwardActive: 12345670, ReverseActive: 120, CombinedReactive: [2]int64{10000, -200},
}

func buildControl(cred Credentials, cmd ControlCommand) (Frame, error) {
	data, err := PlainSecurity{cred}.ControlData(context.Background(), addr1, cmd)
	return NewControlRequest(addr1, data), err
}

func unhexMust(s string) []byte {
	var b []byte
	for _, f := range bytes.Fields([]byte(s)) {
		var v byte
		if _, err := fmt.Sscanf(string(f), "%02X", &v); err != nil {
			panic(err)
		}
		b = append(b, v)
	}
	return b
}

// decodePayload reads a frame's data field with the typed decoder its function and
// identifier call for.
func decodePayload(f Frame) (any, error) {
	fn := f.Control.Function()
	if !f.Control.IsReply() {
		switch fn {
		case FuncControl:
			cred, cmd, err := DecodeControlData(f.Data, testLoc)
			return controlPayload{cred, cmd}, err
		case FuncFreeze:
			return DecodeFreezeSchedule(f.Data)
		case FuncWrite:
			return DecodeWriteRequest(f.Data)
		case FuncRead:
			if di, _ := f.DI(); di == DILoadProfileAtTime {
				return DecodeLoadProfileRequest(f.Data[DISize:], testLoc)
			}
		}
		return nil, fmt.Errorf("no payload decoder for %v", f)
	}
	if ab := f.Abnormal(); ab != nil {
		return ab, nil
	}
	if fn != FuncRead {
		if len(f.Data) != 0 {
			return nil, fmt.Errorf("command reply with data: %v", f)
		}
		return accepted(fn), nil
	}
	di, err := f.DI()
	if err != nil {
		return nil, err
	}
	v := f.Data[DISize:]
	e, ok := Lookup(di)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownDI, di)
	}
	switch e.Format.Encoding {
	case EncodingMinuteTime:
		return DecodeMinuteTime(v, testLoc)
	case EncodingSecondTime:
		return DecodePowerDownEvent(v, testLoc)
	case EncodingLoadRecord:
		return DecodeLoadRecords(v, testLoc)
	case EncodingDayHour:
		return DecodeSettlementDay(v)
	}
	if di == DIStatusWord3 {
		return DecodeStatusWord3(v)
	}
	if len(e.Channels) == e.Count {
		return e.Decode(v)
	}
	return e.DecodeRaw(v)
}

// TestGoldenPayloads decodes the data field of every golden row that has a typed
// decoder and checks the typed builder encodes the row's bytes back.
func TestGoldenPayloads(t *testing.T) {
	n := 0
	for _, tc := range golden {
		if tc.payload == nil {
			continue
		}
		n++
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodePayload(tc.frame)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, tc.payload) {
				t.Errorf("decoded %#v\nwant    %#v", got, tc.payload)
			}
			f, err := tc.build()
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			enc, err := f.Encode()
			if err != nil {
				t.Fatal(err)
			}
			want := unhex(t, tc.raw)
			if tc.canonical != "" {
				want = unhex(t, tc.canonical)
			}
			if !bytes.Equal(enc, want) {
				t.Errorf("built % X\nwant  % X", enc, want)
			}
		})
	}
	if n < 20 {
		t.Errorf("only %d golden rows with a payload", n)
	}
}

func TestDecodeLoadRecordsErrors(t *testing.T) {
	good, err := AppendLoadRecord(nil, goldenLoadRecord)
	if err != nil {
		t.Fatal(err)
	}
	if len(good) != LoadRecordSize(goldenLoadRecord.Classes) {
		t.Errorf("record of %d bytes, LoadRecordSize %d", len(good), LoadRecordSize(goldenLoadRecord.Classes))
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"bad start code", mutate(func(b []byte) []byte { b[0] = 0xA1; return b })},
		{"checksum", mutate(func(b []byte) []byte { b[len(b)-2]++; return b })},
		{"end code", mutate(func(b []byte) []byte { b[len(b)-1] = 0x16; return b })},
		{"truncated", good[:len(good)-1]},
		{"length too long", mutate(func(b []byte) []byte { b[2]++; return b })},
		{"not BCD", mutate(func(b []byte) []byte {
			b[8] = 0x0A
			b[len(b)-2] += 0x0A - 0x01
			return b
		})},
		{"trailing junk", append(bytes.Clone(good), 0x00)},
		{"impossible time", mutate(func(b []byte) []byte {
			b[5] = 0x31 // 31 February
			b[6] = 0x02
			var cs byte
			for _, c := range b[:len(b)-2] {
				cs += c
			}
			b[len(b)-2] = cs
			return b
		})},
	} {
		if _, err := DecodeLoadRecords(tc.b, testLoc); !errors.Is(err, ErrData) {
			t.Errorf("%s: err = %v, want ErrData", tc.name, err)
		}
	}

	// Two records back to back, the second flagged incorrect, then a class-2-only one.
	bad, err := AppendLoadRecord(nil, LoadRecord{Invalid: true})
	if err != nil {
		t.Fatal(err)
	}
	p2 := LoadRecord{Time: goldenLoadRecord.Time.Add(30 * time.Minute), Classes: LoadPower, ActivePower: [4]int64{-100, 0, 0, -100}}
	b3, err := AppendLoadRecord(nil, p2)
	if err != nil {
		t.Fatal(err)
	}
	all := append(append(bytes.Clone(good), bad...), b3...)
	recs, err := DecodeLoadRecords(all, testLoc)
	if err != nil || len(recs) != 3 || !recs[1].Invalid || !reflect.DeepEqual(recs[2], p2) || !reflect.DeepEqual(recs[0], goldenLoadRecord) {
		t.Errorf("DecodeLoadRecords = %+v, %v", recs, err)
	}
	if v := recs[2].Values(); len(v) != 5 || v["p"] != -100 || v["q"] != 0 {
		t.Errorf("class 2 values %v", v)
	}
	if v := goldenLoadRecord.Values(); v["e_imp"] != 12345670 || v["u_b"] != 219800 || v["pf"] != 950 || len(v) != 15 {
		t.Errorf("values %v", v)
	}
	if _, err := AppendLoadRecord(nil, LoadRecord{Classes: LoadEnergy}); !errors.Is(err, ErrRange) {
		t.Errorf("record without time: %v", err)
	}
}

func TestHistoryDecoders(t *testing.T) {
	if _, err := DecodeMinuteTime(make([]byte, 5), testLoc); !errors.Is(err, ErrNoRecord) {
		t.Errorf("zero freeze time: %v", err)
	}
	if _, err := DecodePowerDownEvent(make([]byte, 12), testLoc); !errors.Is(err, ErrNoRecord) {
		t.Errorf("zero event: %v", err)
	}
	start := time.Date(2024, 3, 12, 8, 0, 0, 0, testLoc)
	b, _ := AppendPowerDownEvent(nil, PowerDownEvent{Start: start})
	if e, err := DecodePowerDownEvent(b, testLoc); err != nil || !e.Start.Equal(start) || !e.End.IsZero() {
		t.Errorf("open event: %+v, %v", e, err)
	}
	b, _ = AppendPowerDownEvent(nil, PowerDownEvent{Start: start, End: start.Add(-time.Second)})
	if _, err := DecodePowerDownEvent(b, testLoc); !errors.Is(err, ErrData) {
		t.Errorf("event ending before it starts: %v", err)
	}
	if _, err := DecodeSettlementDay([]byte{0x99, 0x99}); !errors.Is(err, ErrNoRecord) {
		t.Errorf("settlement day 9999: %v", err)
	}
	if _, err := DecodeSettlementDay([]byte{0x00, 0x29}); !errors.Is(err, ErrData) {
		t.Errorf("settlement day 29: %v", err)
	}
	tf, fwd, rev, err := AppendFrozen(FrozenRecord{Time: start, Forward: []int64{1000, 10, 20, 30, 940}})
	if err != nil || rev != nil {
		t.Fatal(err)
	}
	r, err := DecodeFrozen(tf, fwd, nil, testLoc)
	if err != nil || r.Reverse != nil || len(r.Forward) != 5 {
		t.Fatalf("DecodeFrozen = %+v, %v", r, err)
	}
	if v := r.Values(); len(v) != 5 || v["e_imp"] != 1000 {
		t.Errorf("values %v", v)
	}
	r.Reverse = []int64{50}
	if v := r.Values(); v["e_exp"] != 50 {
		t.Errorf("values %v", v)
	}
	if _, err := DecodeFrozen(tf, fwd[:3], nil, testLoc); !errors.Is(err, ErrData) {
		t.Errorf("short block: %v", err)
	}
}

func TestSettlementPrevious(t *testing.T) {
	d := SettlementDay{Day: 1, Hour: 0}
	for _, tc := range []struct {
		now  time.Time
		n    int
		want time.Time
	}{
		{time.Date(2024, 3, 12, 8, 0, 0, 0, testLoc), 1, time.Date(2024, 3, 1, 0, 0, 0, 0, testLoc)},
		{time.Date(2024, 3, 12, 8, 0, 0, 0, testLoc), 3, time.Date(2024, 1, 1, 0, 0, 0, 0, testLoc)},
		{time.Date(2024, 3, 12, 8, 0, 0, 0, testLoc), 12, time.Date(2023, 4, 1, 0, 0, 0, 0, testLoc)},
		{time.Date(2024, 3, 1, 0, 0, 0, 0, testLoc), 1, time.Date(2024, 3, 1, 0, 0, 0, 0, testLoc)},
		{time.Date(2024, 2, 29, 23, 59, 0, 0, testLoc), 1, time.Date(2024, 2, 1, 0, 0, 0, 0, testLoc)},
	} {
		if got := d.Previous(tc.now, tc.n); !got.Equal(tc.want) {
			t.Errorf("Previous(%v, %d) = %v, want %v", tc.now, tc.n, got, tc.want)
		}
	}
	d = SettlementDay{Day: 15, Hour: 12}
	if got := d.Previous(time.Date(2024, 1, 15, 11, 0, 0, 0, testLoc), 1); !got.Equal(time.Date(2023, 12, 15, 12, 0, 0, 0, testLoc)) {
		t.Errorf("before the hour: %v", got)
	}
	if err := (SettlementDay{Day: 29}).Validate(); !errors.Is(err, ErrRange) {
		t.Errorf("day 29: %v", err)
	}
}

func TestCommandValidation(t *testing.T) {
	ctx := context.Background()
	cmd := ControlCommand{ActionTrip, time.Date(2030, 1, 1, 0, 0, 0, 0, testLoc)}
	if _, err := (PlainSecurity{Credentials{Level: 0x98}}).ControlData(ctx, addr1, cmd); !errors.Is(err, ErrRange) {
		t.Errorf("level 98 plain: %v", err)
	}
	if _, err := (PlainSecurity{Credentials{Level: 2, Password: 0x1000000}}).ControlData(ctx, addr1, cmd); !errors.Is(err, ErrRange) {
		t.Errorf("4-byte password: %v", err)
	}
	if _, err := (PlainSecurity{Credentials{Level: 2}}).ControlData(ctx, addr1, ControlCommand{Action: 0x55, ValidUntil: cmd.ValidUntil}); !errors.Is(err, ErrRange) {
		t.Errorf("unknown action: %v", err)
	}
	if err := (PlainSecurity{}).CheckControlReply(ctx, addr1, []byte{1}); !errors.Is(err, ErrData) {
		t.Errorf("reply with data: %v", err)
	}
	if _, err := NewFreezeRequest(addr1, FreezeSchedule{13, 99, 99, 99}); !errors.Is(err, ErrRange) {
		t.Errorf("month 13: %v", err)
	}
	if _, err := NewWriteRequest(addr1, WriteRequest{DI: DIDate, Value: make([]byte, 39)}); !errors.Is(err, ErrLength) {
		t.Errorf("write of 51 bytes: %v", err)
	}
	if _, err := (LoadProfileRequest{Count: 100, From: cmd.ValidUntil}).Append(nil); !errors.Is(err, ErrRange) {
		t.Errorf("100 blocks: %v", err)
	}
	// The password never prints.
	c := Credentials{Level: 2, Password: 0x654321, Operator: 7}
	for _, s := range []string{c.String(), fmt.Sprintf("%v %+v %#v %s", c, c, c, PlainSecurity{c})} {
		if bytes.Contains([]byte(s), []byte("654321")) {
			t.Errorf("password printed: %s", s)
		}
	}
	if !InstantFreeze.IsInstant() || (FreezeSchedule{99, 99, 0, 0}).IsInstant() {
		t.Error("IsInstant")
	}
	if ActionTrip.String() != "trip" || ControlAction(0x55).String() != "action 55H" {
		t.Error("action names")
	}
}

func TestStatusWord3(t *testing.T) {
	s, err := DecodeStatusWord3([]byte{0x50, 0x10})
	if err != nil {
		t.Fatal(err)
	}
	if !s.RelayOpen() || !s.RelayCommandOpen() || !s.KeepOn() || s.PreTripAlarm() || s.Supply() != 0 {
		t.Errorf("%#x: %s", uint16(s), s)
	}
	if got := s.String(); got != "relay open, trip commanded, keep-on" {
		t.Errorf("String = %q", got)
	}
	if _, err := DecodeStatusWord3([]byte{1}); !errors.Is(err, ErrData) {
		t.Errorf("1 byte: %v", err)
	}
	if StatusWord3(4).Supply() != 2 {
		t.Error("battery supply")
	}
}

func TestNewFormatStrings(t *testing.T) {
	for di, want := range map[DI]string{
		DIDailyFrozenTimeN(5):    "YYMMDDhhmm",
		DIPowerDownRecordN(2):    "YYMMDDhhmmss",
		DISettlementDay1:         "DDhh",
		DIActivePulseConstant:    "XXXXXX imp/kWh",
		DIPowerDownCount:         "XXXXXX",
		DILoadProfileAtTime:      "load profile record blocks",
		DIReverseActiveBlock:     "XXXXXX.XX kWh",
		DISettlementForwardBlock: "XXXXXX.XX kWh",
	} {
		e, ok := Lookup(di)
		if !ok {
			t.Fatalf("%s not found", di)
		}
		if got := e.Format.String(); got != want {
			t.Errorf("%s: %q, want %q", di, got, want)
		}
	}
}
