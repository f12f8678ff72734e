package dlt645

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

// golden is the one table of raw bytes ↔ decoded frames. It drives Decode and Encode
// (TestGolden) and seeds FuzzDecode. The first nine valid rows are every example frame
// of the project's reference note on DL/T 645-2007 (docs: dlt645.md), byte for byte;
// the constructed rows had their checksums computed independently of this package.
var golden = []struct {
	name string
	raw  string // hex, spaces ignored
	// For a valid frame:
	frame     Frame
	preamble  bool   // Encode with FE FE FE FE to get raw back
	canonical string // what Encode yields when raw has junk Encode cannot reproduce
	// For a valid frame whose data field a typed decoder of this package reads
	// (TestGoldenPayloads): what decodePayload returns, and the typed builder that must
	// encode the frame back to raw (or canonical).
	payload any
	build   func() (Frame, error)
	// For a malformed or incomplete one:
	err error // errors.Is target; nil for a valid frame
	n   int   // bytes consumed; -1 means len(raw)
}{
	// Reference note, "Example frames".
	{
		name:     "ref: read forward active total, wildcard address, with preamble",
		raw:      "FE FE FE FE 68 AA AA AA AA AA AA 68 11 04 33 33 34 33 AE 16",
		frame:    Frame{Address: WildcardAddress, Control: 0x11, Data: []byte{0x00, 0x00, 0x01, 0x00}},
		preamble: true, n: -1,
	},
	{
		name:  "ref: read forward active total, meter 123456789012",
		raw:   "68 12 90 78 56 34 12 68 11 04 33 33 34 33 68 16",
		frame: Frame{Address: addr1, Control: 0x11, Data: []byte{0x00, 0x00, 0x01, 0x00}}, n: -1,
	},
	{
		name:  "ref: reply 12345.67 kWh",
		raw:   "68 12 90 78 56 34 12 68 91 08 33 33 34 33 9A 78 56 34 88 16",
		frame: Frame{Address: addr1, Control: 0x91, Data: []byte{0x00, 0x00, 0x01, 0x00, 0x67, 0x45, 0x23, 0x01}}, n: -1,
	},
	{
		name: "ref: published reply, meter 398192000337, 0.04 kWh",
		raw:  "68 37 03 00 92 81 39 68 91 08 33 33 34 33 37 33 33 33 8C 16",
		frame: Frame{Address: Address{0x37, 0x03, 0x00, 0x92, 0x81, 0x39}, Control: 0x91,
			Data: []byte{0x00, 0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00}}, n: -1,
	},
	{
		name:  "ref: read phase A voltage",
		raw:   "68 12 90 78 56 34 12 68 11 04 33 34 34 35 6B 16",
		frame: Frame{Address: addr1, Control: 0x11, Data: []byte{0x00, 0x01, 0x01, 0x02}}, n: -1,
	},
	{
		name:  "ref: read frequency",
		raw:   "68 12 90 78 56 34 12 68 11 04 35 33 B3 35 EB 16",
		frame: Frame{Address: addr1, Control: 0x11, Data: []byte{0x02, 0x00, 0x80, 0x02}}, n: -1,
	},
	{
		name:  "ref: read daily frozen forward energy, 1 day back",
		raw:   "68 12 90 78 56 34 12 68 11 04 34 34 39 38 74 16",
		frame: Frame{Address: addr1, Control: 0x11, Data: []byte{0x01, 0x01, 0x06, 0x05}}, n: -1,
	},
	{
		name: "ref: relay trip, level 02, valid until 2030-12-31 00:00:00",
		raw:  "68 12 90 78 56 34 12 68 1C 10 35 33 33 33 33 33 33 33 4D 33 33 33 33 64 45 63 71 16",
		frame: Frame{Address: addr1, Control: 0x1C, Data: []byte{
			0x02, 0x00, 0x00, 0x00, // PA P0 P1 P2
			0x00, 0x00, 0x00, 0x00, // operator code
			0x1A, 0x00, // N1 trip, N2
			0x00, 0x00, 0x00, 0x31, 0x12, 0x30, // ss mm hh DD MM YY
		}}, n: -1,
		payload: controlPayload{Credentials{Level: 2}, ControlCommand{ActionTrip, time.Date(2030, 12, 31, 0, 0, 0, 0, testLoc)}},
		build: func() (Frame, error) {
			return buildControl(Credentials{Level: 2}, ControlCommand{ActionTrip, time.Date(2030, 12, 31, 0, 0, 0, 0, testLoc)})
		},
	},
	{
		name:  "ref: relay command accepted, L=0",
		raw:   "68 12 90 78 56 34 12 68 9C 00 22 16",
		frame: Frame{Address: addr1, Control: 0x9C}, n: -1,
		payload: accepted(FuncControl),
		build:   func() (Frame, error) { return NewCommandReply(addr1, FuncControl), nil },
	},

	// Constructed valid frames.
	{
		name:  "abnormal read reply, no data requested",
		raw:   "68 12 90 78 56 34 12 68 D1 01 35 8D 16",
		frame: Frame{Address: addr1, Control: 0xD1, Data: []byte{0x02}}, n: -1,
	},
	{
		name:  "read address request",
		raw:   "68 AA AA AA AA AA AA 68 13 00 DF 16",
		frame: Frame{Address: WildcardAddress, Control: 0x13}, n: -1,
	},
	{
		name:  "read address reply",
		raw:   "68 12 90 78 56 34 12 68 93 06 45 C3 AB 89 67 45 07 16",
		frame: Frame{Address: addr1, Control: 0x93, Data: addr1[:]}, n: -1,
	},
	{
		name:  "broadcast time sync 2024-03-15 12:34:56",
		raw:   "68 99 99 99 99 99 99 68 08 06 89 67 45 48 36 57 7E 16",
		frame: Frame{Address: BroadcastAddress, Control: 0x08, Data: []byte{0x56, 0x34, 0x12, 0x15, 0x03, 0x24}}, n: -1,
	},
	{
		name:  "read reply with follow-up frames (B1H); FFH+33H wraps to 32H",
		raw:   "68 12 90 78 56 34 12 68 B1 08 33 32 34 33 9A 78 56 34 A7 16",
		frame: Frame{Address: addr1, Control: 0xB1, Data: []byte{0x00, 0xFF, 0x01, 0x00, 0x67, 0x45, 0x23, 0x01}}, n: -1,
	},
	{
		name:  "read follow-up request, SEQ 1",
		raw:   "68 12 90 78 56 34 12 68 12 05 33 32 34 33 34 9D 16",
		frame: Frame{Address: addr1, Control: 0x12, Data: []byte{0x00, 0xFF, 0x01, 0x00, 0x01}}, n: -1,
	},
	{
		name: "voltage block reply 220.1 / 219.8 / 220.3 V",
		raw:  "68 12 90 78 56 34 12 68 91 0A 33 32 34 35 34 55 CB 54 36 55 22 16",
		frame: Frame{Address: addr1, Control: 0x91,
			Data: []byte{0x00, 0xFF, 0x01, 0x02, 0x01, 0x22, 0x98, 0x21, 0x03, 0x22}}, n: -1,
	},
	{
		name:  "active power reply -1.2345 kW (sign bit)",
		raw:   "68 12 90 78 56 34 12 68 91 07 33 33 36 35 78 56 B4 71 16",
		frame: Frame{Address: addr1, Control: 0x91, Data: []byte{0x00, 0x00, 0x03, 0x02, 0x45, 0x23, 0x81}}, n: -1,
	},
	{
		name:      "junk and wake-up bytes before the start byte are skipped",
		raw:       "00 FF 12 FE FE 68 12 90 78 56 34 12 68 11 04 33 33 34 33 68 16",
		frame:     Frame{Address: addr1, Control: 0x11, Data: []byte{0x00, 0x00, 0x01, 0x00}},
		canonical: "68 12 90 78 56 34 12 68 11 04 33 33 34 33 68 16", n: -1,
	},
	{
		name:      "bytes after the frame are left for the next call",
		raw:       "68 12 90 78 56 34 12 68 9C 00 22 16 FE FE 68",
		frame:     Frame{Address: addr1, Control: 0x9C},
		canonical: "68 12 90 78 56 34 12 68 9C 00 22 16", n: 12,
	},

	// Commands (constructed; checksums computed independently).
	{
		name:  "control refused, unauthorised (DCH 04H)",
		raw:   "68 12 90 78 56 34 12 68 DC 01 37 9A 16",
		frame: Frame{Address: addr1, Control: 0xDC, Data: []byte{0x04}}, n: -1,
		payload: &AbnormalError{Address: addr1, Function: FuncControl, Code: ErrCodeUnauthorized},
		build:   func() (Frame, error) { return NewAbnormalReply(addr1, FuncControl, ErrCodeUnauthorized), nil },
	},
	{
		name: "close allowed, level 02, password 123456, operator 12345678, valid until 2024-03-15 12:00:00",
		raw:  "68 12 90 78 56 34 12 68 1C 10 35 89 67 45 AB 89 67 45 4E 33 33 33 45 48 36 57 FD 16",
		frame: Frame{Address: addr1, Control: 0x1C, Data: []byte{
			0x02, 0x56, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12, 0x1B, 0x00, 0x00, 0x00, 0x12, 0x15, 0x03, 0x24}}, n: -1,
		payload: controlPayload{Credentials{2, 0x123456, 0x12345678}, ControlCommand{ActionCloseAllowed, time.Date(2024, 3, 15, 12, 0, 0, 0, testLoc)}},
		build: func() (Frame, error) {
			return buildControl(Credentials{2, 0x123456, 0x12345678}, ControlCommand{ActionCloseAllowed, time.Date(2024, 3, 15, 12, 0, 0, 0, testLoc)})
		},
	},
	{
		name: "keep on, valid until 2030-12-31 23:59:59",
		raw:  "68 12 90 78 56 34 12 68 1C 10 35 33 33 33 33 33 33 33 6D 33 8C 8C 56 64 45 63 66 16",
		frame: Frame{Address: addr1, Control: 0x1C, Data: []byte{
			0x02, 0, 0, 0, 0, 0, 0, 0, 0x3A, 0x00, 0x59, 0x59, 0x23, 0x31, 0x12, 0x30}}, n: -1,
		payload: controlPayload{Credentials{Level: 2}, ControlCommand{ActionKeepOn, time.Date(2030, 12, 31, 23, 59, 59, 0, testLoc)}},
		build: func() (Frame, error) {
			return buildControl(Credentials{Level: 2}, ControlCommand{ActionKeepOn, time.Date(2030, 12, 31, 23, 59, 59, 0, testLoc)})
		},
	},
	{
		name:  "freeze now, broadcast (16H 99999999)",
		raw:   "68 99 99 99 99 99 99 68 16 04 CC CC CC CC B0 16",
		frame: Frame{Address: BroadcastAddress, Control: 0x16, Data: []byte{0x99, 0x99, 0x99, 0x99}}, n: -1,
		payload: InstantFreeze,
		build:   func() (Frame, error) { return NewFreezeRequest(BroadcastAddress, InstantFreeze) },
	},
	{
		name:  "freeze daily at 00:00 (16H 9999 0000)",
		raw:   "68 12 90 78 56 34 12 68 16 04 33 33 CC CC 9E 16",
		frame: Frame{Address: addr1, Control: 0x16, Data: []byte{0x00, 0x00, 0x99, 0x99}}, n: -1,
		payload: FreezeSchedule{Month: 99, Day: 99, Hour: 0, Minute: 0},
		build:   func() (Frame, error) { return NewFreezeRequest(addr1, FreezeSchedule{99, 99, 0, 0}) },
	},
	{
		name:  "freeze accepted (96H)",
		raw:   "68 12 90 78 56 34 12 68 96 00 1C 16",
		frame: Frame{Address: addr1, Control: 0x96}, n: -1,
		payload: accepted(FuncFreeze),
		build:   func() (Frame, error) { return NewCommandReply(addr1, FuncFreeze), nil },
	},
	{
		name: "write settlement day 1, 00h (04000B01), level 02",
		raw:  "68 12 90 78 56 34 12 68 14 0E 34 3E 33 37 35 33 33 33 33 33 33 33 33 34 85 16",
		frame: Frame{Address: addr1, Control: 0x14, Data: []byte{
			0x01, 0x0B, 0x00, 0x04, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x01}}, n: -1,
		payload: WriteRequest{DI: DISettlementDay1, Credentials: Credentials{Level: 2}, Value: []byte{0x00, 0x01}},
		build: func() (Frame, error) {
			v, err := SettlementDay{Day: 1, Hour: 0}.Append(nil)
			if err != nil {
				return Frame{}, err
			}
			return NewWriteRequest(addr1, WriteRequest{DI: DISettlementDay1, Credentials: Credentials{Level: 2}, Value: v})
		},
	},
	{
		name:  "write accepted (94H)",
		raw:   "68 12 90 78 56 34 12 68 94 00 1A 16",
		frame: Frame{Address: addr1, Control: 0x94}, n: -1,
		payload: accepted(FuncWrite),
		build:   func() (Frame, error) { return NewCommandReply(addr1, FuncWrite), nil },
	},
	{
		name:  "write refused, unauthorised (D4H 04H)",
		raw:   "68 12 90 78 56 34 12 68 D4 01 37 92 16",
		frame: Frame{Address: addr1, Control: 0xD4, Data: []byte{0x04}}, n: -1,
		payload: &AbnormalError{Address: addr1, Function: FuncWrite, Code: ErrCodeUnauthorized},
		build:   func() (Frame, error) { return NewAbnormalReply(addr1, FuncWrite, ErrCodeUnauthorized), nil },
	},

	// Replies the typed decoders read (constructed; checksums computed independently).
	{
		name:  "daily freeze time reply (05060001): 2024-03-12 00:00",
		raw:   "68 12 90 78 56 34 12 68 91 09 34 33 39 38 33 33 45 36 57 30 16",
		frame: Frame{Address: addr1, Control: 0x91, Data: []byte{0x01, 0x00, 0x06, 0x05, 0x00, 0x00, 0x12, 0x03, 0x24}}, n: -1,
		payload: time.Date(2024, 3, 12, 0, 0, 0, 0, testLoc),
		build: func() (Frame, error) {
			v, err := AppendMinuteTime(nil, time.Date(2024, 3, 12, 0, 0, 0, 0, testLoc))
			return NewReadReply(addr1, DIDailyFrozenTimeN(1), v, false), err
		},
	},
	{
		name: "daily frozen forward energy reply (05060102), total and 4 rates",
		raw: "68 12 90 78 56 34 12 68 91 18 35 34 39 38 9A 78 56 34 33 33 34 33 33 33 53 33 33 33 63 33 " +
			"9A 78 A5 33 44 16",
		frame: Frame{Address: addr1, Control: 0x91, Data: []byte{0x02, 0x01, 0x06, 0x05,
			0x67, 0x45, 0x23, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x30, 0x00, 0x67, 0x45, 0x72, 0x00}}, n: -1,
		payload: map[string]int64{"e_imp": 12345670, "e_imp_t1": 100000, "e_imp_t2": 2000000, "e_imp_t3": 3000000, "e_imp_t4": 7245670},
		build: func() (Frame, error) {
			_, fwd, _, err := AppendFrozen(FrozenRecord{Time: time.Date(2024, 3, 11, 0, 0, 0, 0, testLoc),
				Forward: []int64{12345670, 100000, 2000000, 3000000, 7245670}})
			return NewReadReply(addr1, DIDailyFrozenForwardN(2), fwd, false), err
		},
	},
	{
		name:  "power-down count reply (03110000): 3",
		raw:   "68 12 90 78 56 34 12 68 91 07 33 33 44 36 36 33 33 9A 16",
		frame: Frame{Address: addr1, Control: 0x91, Data: []byte{0x00, 0x00, 0x11, 0x03, 0x03, 0x00, 0x00}}, n: -1,
		payload: []int64{3},
		build: func() (Frame, error) {
			e, _ := Lookup(DIPowerDownCount)
			v, err := e.AppendRaw(nil, 3)
			return NewReadReply(addr1, DIPowerDownCount, v, false), err
		},
	},
	{
		name: "power-down record reply (03110001): 2024-03-12 08:15:30 to 09:45:00",
		raw:  "68 12 90 78 56 34 12 68 91 10 34 33 44 36 63 48 3B 45 36 57 33 78 3C 45 36 57 79 16",
		frame: Frame{Address: addr1, Control: 0x91, Data: []byte{0x01, 0x00, 0x11, 0x03,
			0x30, 0x15, 0x08, 0x12, 0x03, 0x24, 0x00, 0x45, 0x09, 0x12, 0x03, 0x24}}, n: -1,
		payload: PowerDownEvent{time.Date(2024, 3, 12, 8, 15, 30, 0, testLoc), time.Date(2024, 3, 12, 9, 45, 0, 0, testLoc)},
		build: func() (Frame, error) {
			v, err := AppendPowerDownEvent(nil, PowerDownEvent{time.Date(2024, 3, 12, 8, 15, 30, 0, testLoc), time.Date(2024, 3, 12, 9, 45, 0, 0, testLoc)})
			return NewReadReply(addr1, DIPowerDownRecordN(1), v, false), err
		},
	},
	{
		name: "load profile request (06000001): 2 blocks from 2024-03-12 00:15",
		raw:  "68 12 90 78 56 34 12 68 11 0A 34 33 33 39 35 48 33 45 36 57 F6 16",
		frame: Frame{Address: addr1, Control: 0x11, Data: []byte{0x01, 0x00, 0x00, 0x06,
			0x02, 0x15, 0x00, 0x12, 0x03, 0x24}}, n: -1,
		payload: LoadProfileRequest{Count: 2, From: time.Date(2024, 3, 12, 0, 15, 0, 0, testLoc)},
		build: func() (Frame, error) {
			return NewLoadProfileRequest(addr1, LoadProfileRequest{Count: 2, From: time.Date(2024, 3, 12, 0, 15, 0, 0, testLoc)})
		},
	},
	{
		name: "load profile reply (06000001): one block, classes 1-4",
		raw: "68 12 90 78 56 34 12 68 91 55 34 33 33 39 D3 D3 7F 48 33 45 36 57 34 55 CB 54 36 55 56 84 " +
			"33 33 33 33 33 48 B3 34 83 DD 78 56 34 33 73 33 33 73 33 78 76 33 33 58 33 33 3B 33 33 3C 33 " +
			"33 3B 33 DD 83 3C 84 3C 7C 3C 83 3C DD 9A 78 56 34 45 33 33 33 33 43 33 33 53 33 33 B3 DD DD " +
			"DD 03 18 E7 16",
		frame: Frame{Address: addr1, Control: 0x91, Data: append([]byte{0x01, 0x00, 0x00, 0x06}, unhexMust(
			"A0 A0 4C 15 00 12 03 24 01 22 98 21 03 22 23 51 00 00 00 00 00 15 80 01 50 AA 45 23 01 00 40 00 "+
				"00 40 00 45 43 00 00 25 00 00 08 00 00 09 00 00 08 00 AA 50 09 51 09 49 09 50 09 AA 67 45 23 01 "+
				"12 00 00 00 00 10 00 00 20 00 00 80 AA AA AA D0 E5")...)}, n: -1,
		payload: []LoadRecord{goldenLoadRecord},
		build: func() (Frame, error) {
			v, err := AppendLoadRecord(nil, goldenLoadRecord)
			return NewReadReply(addr1, DILoadProfileAtTime, v, false), err
		},
	},
	{
		name:  "status word 3 reply (04000503): relay open, trip commanded",
		raw:   "68 12 90 78 56 34 12 68 91 06 36 38 33 37 83 33 AB 16",
		frame: Frame{Address: addr1, Control: 0x91, Data: []byte{0x03, 0x05, 0x00, 0x04, 0x50, 0x00}}, n: -1,
		payload: Status3RelayOpen | Status3RelayCommandOpen,
		build: func() (Frame, error) {
			return NewReadReply(addr1, DIStatusWord3, (Status3RelayOpen | Status3RelayCommandOpen).Append(nil), false), nil
		},
	},
	{
		name:  "settlement day reply (04000B01): day 1, 00h",
		raw:   "68 12 90 78 56 34 12 68 91 06 34 3E 33 37 33 34 60 16",
		frame: Frame{Address: addr1, Control: 0x91, Data: []byte{0x01, 0x0B, 0x00, 0x04, 0x00, 0x01}}, n: -1,
		payload: SettlementDay{Day: 1, Hour: 0},
		build: func() (Frame, error) {
			v, err := SettlementDay{Day: 1}.Append(nil)
			return NewReadReply(addr1, DISettlementDay1, v, false), err
		},
	},
	{
		name: "reverse active block reply (0002FF00): total and 4 rates",
		raw:  "68 12 90 78 56 34 12 68 91 18 33 32 35 33 53 34 33 33 43 33 33 33 53 33 33 33 63 33 33 33 93 33 33 33 D9 16",
		frame: Frame{Address: addr1, Control: 0x91, Data: []byte{0x00, 0xFF, 0x02, 0x00,
			0x20, 0x01, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 0, 0, 0x30, 0, 0, 0, 0x60, 0, 0, 0}}, n: -1,
		payload: []int64{120, 10, 20, 30, 60},
		build: func() (Frame, error) {
			e, _ := Lookup(DIReverseActiveBlock)
			v, err := e.AppendRaw(nil, 120, 10, 20, 30, 60)
			return NewReadReply(addr1, DIReverseActiveBlock, v, false), err
		},
	},
	{
		name:  "active pulse constant reply (04000409): 6400 imp/kWh",
		raw:   "68 12 90 78 56 34 12 68 91 07 3C 37 33 37 33 97 33 F8 16",
		frame: Frame{Address: addr1, Control: 0x91, Data: []byte{0x09, 0x04, 0x00, 0x04, 0x00, 0x64, 0x00}}, n: -1,
		payload: []int64{6400},
		build: func() (Frame, error) {
			e, _ := Lookup(DIActivePulseConstant)
			v, err := e.AppendRaw(nil, 6400)
			return NewReadReply(addr1, DIActivePulseConstant, v, false), err
		},
	},

	// Malformed and incomplete.
	{name: "bad checksum", raw: "68 12 90 78 56 34 12 68 11 04 33 33 34 33 69 16", err: ErrChecksum, n: 1},
	{name: "bad end byte", raw: "68 12 90 78 56 34 12 68 11 04 33 33 34 33 68 17", err: ErrFrame, n: 1},
	{name: "wrong length: L one short, no end byte where L says", raw: "68 12 90 78 56 34 12 68 11 03 33 33 34 33 68 16", err: ErrFrame, n: 1},
	{name: "wrong length: L one long, waits for more", raw: "68 12 90 78 56 34 12 68 11 05 33 33 34 33 68 16", err: ErrShortFrame, n: 0},
	{name: "wrong length: L=201 above the maximum", raw: "68 12 90 78 56 34 12 68 11 C9 33 33 34 33 68 16", err: ErrLength, n: 1},
	{name: "no second start byte", raw: "68 12 90 78 56 34 12 00 11 04 33 33 34 33 68 16", err: ErrFrame, n: 1},
	{name: "junk start byte before a frame", raw: "68 01 02 03 04 05 06 07 68 12 90 78 56 34 12 68 9C 00 22 16", err: ErrFrame, n: 1},
	{name: "short: header only", raw: "68 12 90 78 56 34 12 68 11 04", err: ErrShortFrame, n: 0},
	{name: "short: missing end byte", raw: "FE FE 68 12 90 78 56 34 12 68 11 04 33 33 34 33 68", err: ErrShortFrame, n: 2},
	{name: "short: before the second start byte", raw: "AA 68 12 90", err: ErrShortFrame, n: 1},
	{name: "short: wake-up bytes only", raw: "FE FE FE FE", err: ErrShortFrame, n: -1},
	{name: "short: empty", raw: "", err: ErrShortFrame, n: 0},
}

var addr1 = Address{0x12, 0x90, 0x78, 0x56, 0x34, 0x12}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestGolden(t *testing.T) {
	for _, tc := range golden {
		t.Run(tc.name, func(t *testing.T) {
			raw := unhex(t, tc.raw)
			wantN := tc.n
			if wantN < 0 {
				wantN = len(raw)
			}
			orig := bytes.Clone(raw)

			got, n, err := Decode(raw)
			if !bytes.Equal(raw, orig) {
				t.Fatalf("Decode modified its input")
			}
			if n != wantN {
				t.Errorf("Decode n = %d, want %d", n, wantN)
			}
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Decode err = %v, want %v", err, tc.err)
				}
				if tc.err != ErrShortFrame && errors.Is(err, ErrShortFrame) {
					t.Errorf("malformed frame reported as short: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !got.Equal(tc.frame) {
				t.Errorf("Decode = %v, want %v", got, tc.frame)
			}

			want := raw
			if tc.canonical != "" {
				want = unhex(t, tc.canonical)
			}
			var enc []byte
			if tc.preamble {
				enc, err = tc.frame.EncodeWithPreamble()
			} else {
				enc, err = tc.frame.Encode()
			}
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !bytes.Equal(enc, want) {
				t.Errorf("Encode = % X, want % X", enc, want)
			}
		})
	}
}

// TestDecodeStream feeds every golden row back to back, as one byte stream of junk,
// wake-up bytes, corrupt, truncated and good frames, to Decode the way a reader does
// (drop n, decode again). Every good frame must come out, in order, exactly as it does
// from its row alone: a corrupt or truncated neighbour never hides one.
func TestDecodeStream(t *testing.T) {
	var stream []byte
	var want []Frame
	for _, tc := range golden {
		raw := unhex(t, tc.raw)
		stream = append(stream, raw...)
		want = append(want, decodeAll(raw)...)
	}
	// A truncated row's length field may claim bytes beyond the end of the stream; on a
	// live line more bytes always come, so end with a frame's worth of idle filler.
	stream = append(stream, make([]byte, MaxFrameLen)...)
	got := decodeAll(stream)
	if len(got) != len(want) {
		t.Fatalf("decoded %d frames from the stream, want %d", len(got), len(want))
	}
	for i := range got {
		if !got[i].Equal(want[i]) {
			t.Errorf("frame %d = %v, want %v", i, got[i], want[i])
		}
	}
	if len(want) < 20 {
		t.Errorf("only %d good frames in the golden table", len(want))
	}
}

// decodeAll decodes every frame of b, resynchronising after errors.
func decodeAll(b []byte) []Frame {
	var out []Frame
	for len(b) > 0 {
		f, n, err := Decode(b)
		if err == nil {
			out = append(out, f)
		}
		if n == 0 {
			break // the rest is an incomplete frame
		}
		b = b[n:]
	}
	return out
}

func TestEncodeTooLong(t *testing.T) {
	_, err := Frame{Address: addr1, Control: 0x14, Data: make([]byte, MaxDataLen+1)}.Encode()
	if !errors.Is(err, ErrLength) || !errors.Is(err, ErrFrame) {
		t.Fatalf("Encode err = %v, want ErrLength (an ErrFrame)", err)
	}
	if _, err := (Frame{Data: make([]byte, MaxDataLen)}).Encode(); err != nil {
		t.Fatalf("Encode of %d bytes: %v", MaxDataLen, err)
	}
}

func TestAppendEncodeNoAlloc(t *testing.T) {
	f := NewReadRequest(addr1, DIForwardActiveTotal)
	buf := make([]byte, 0, MaxFrameLen)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = f.AppendEncode(buf[:0])
	})
	if allocs != 0 {
		t.Errorf("AppendEncode allocs = %v, want 0", allocs)
	}
}

func TestBuilders(t *testing.T) {
	ts, err := NewTimeSyncRequest(mustTime(t, "2024-03-15T12:34:56Z"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		got  Frame
		raw  string
	}{
		{"read", NewReadRequest(addr1, DIForwardActiveTotal), "68 12 90 78 56 34 12 68 11 04 33 33 34 33 68 16"},
		{"read reply", NewReadReply(addr1, DIForwardActiveTotal, []byte{0x67, 0x45, 0x23, 0x01}, false),
			"68 12 90 78 56 34 12 68 91 08 33 33 34 33 9A 78 56 34 88 16"},
		{"read reply, more", NewReadReply(addr1, DIForwardActiveBlock, []byte{0x67, 0x45, 0x23, 0x01}, true),
			"68 12 90 78 56 34 12 68 B1 08 33 32 34 33 9A 78 56 34 A7 16"},
		{"follow-up", NewReadFollowUpRequest(addr1, DIForwardActiveBlock, 1), "68 12 90 78 56 34 12 68 12 05 33 32 34 33 34 9D 16"},
		{"abnormal", NewAbnormalReply(addr1, FuncRead, ErrCodeNoData), "68 12 90 78 56 34 12 68 D1 01 35 8D 16"},
		{"read address", NewReadAddressRequest(), "68 AA AA AA AA AA AA 68 13 00 DF 16"},
		{"read address reply", NewReadAddressReply(addr1), "68 12 90 78 56 34 12 68 93 06 45 C3 AB 89 67 45 07 16"},
		{"time sync", ts, "68 99 99 99 99 99 99 68 08 06 89 67 45 48 36 57 7E 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.got.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tc.raw); !bytes.Equal(got, want) {
				t.Errorf("got % X, want % X", got, want)
			}
		})
	}
}

func TestControl(t *testing.T) {
	for _, tc := range []struct {
		c                       Control
		reply, abnormal, follow bool
		fn                      Function
		str                     string
	}{
		{0x11, false, false, false, FuncRead, "11H (read)"},
		{0x91, true, false, false, FuncRead, "91H (read, reply)"},
		{0xB1, true, false, true, FuncRead, "B1H (read, reply, follow-up)"},
		{0xD1, true, true, false, FuncRead, "D1H (read, abnormal reply)"},
		{0x9C, true, false, false, FuncControl, "9CH (relay/alarm control, reply)"},
		{0xDC, true, true, false, FuncControl, "DCH (relay/alarm control, abnormal reply)"},
		{0x08, false, false, false, FuncBroadcastTime, "08H (broadcast time sync)"},
	} {
		if got := tc.c.IsReply(); got != tc.reply {
			t.Errorf("%v IsReply = %v", tc.c, got)
		}
		if got := tc.c.IsAbnormal(); got != tc.abnormal {
			t.Errorf("%v IsAbnormal = %v", tc.c, got)
		}
		if got := tc.c.HasFollowUp(); got != tc.follow {
			t.Errorf("%v HasFollowUp = %v", tc.c, got)
		}
		if got := tc.c.Function(); got != tc.fn {
			t.Errorf("%v Function = %v, want %v", tc.c, got, tc.fn)
		}
		if got := tc.c.String(); got != tc.str {
			t.Errorf("String = %q, want %q", got, tc.str)
		}
	}
	if got := FuncRead.Reply(); got != 0x91 {
		t.Errorf("FuncRead.Reply = %v", got)
	}
	if got := FuncControl.AbnormalReply(); got != 0xDC {
		t.Errorf("FuncControl.AbnormalReply = %v", got)
	}
}

func TestAbnormalError(t *testing.T) {
	f, _, err := Decode(unhex(t, "68 12 90 78 56 34 12 68 D1 01 35 8D 16"))
	if err != nil {
		t.Fatal(err)
	}
	ab := f.Abnormal()
	if ab == nil {
		t.Fatal("Abnormal() = nil for D1H")
	}
	var err2 error = ab
	var target *AbnormalError
	if !errors.As(err2, &target) || !errors.Is(err2, ErrAbnormal) {
		t.Fatalf("errors.As/Is failed on %v", err2)
	}
	if !target.Has(ErrCodeNoData) || target.Has(ErrCodeUnauthorized) {
		t.Errorf("Has: code %v", target.Code)
	}
	if got, want := target.Error(), "dlt645: abnormal reply from 123456789012 to read: no data requested (0x02)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := ErrorCode(0x45).Names(), []string{"other", "unauthorised", "rates exceeded"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Names = %q, want %q", got, want)
	}
	if got := (Frame{Control: 0x91}).Abnormal(); got != nil {
		t.Errorf("Abnormal() on a normal reply = %v", got)
	}
}
