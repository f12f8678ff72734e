package iec102

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Madrid for the time-tag vectors, whatever the host has
)

// kind says what a golden row's raw bytes are.
type kind int

const (
	kFrame kind = iota // a complete FT1.2 frame (or bytes around one): DecodeFrame, then DecodeASDU of its user data
	kASDU              // an ASDU without its frame
	kInfo              // the information objects of type ti with VSQ count
	kTimeA             // a 5-octet Ta
	kTimeB             // a 7-octet Tb
)

// golden is the one table of raw bytes ↔ decoded values. It drives the decoders and the
// encoders (TestGolden), the stream test (TestDecoderStream) and seeds both fuzz targets.
// The rows named F…, A…, T…, S… and N… are every vector of the project's reference note
// iec102-vectors.md (§1 complete frames, §2 ASDU and object fragments, §3 time tags,
// §4 the assembled session, §5 negative checks), byte for byte; A1 and A2 are given
// there without their type identification, which the rows prepend. The rows named C…
// are constructed here, with checksums computed independently of this package.
var golden = []struct {
	name string
	kind kind
	raw  string // hex, spaces ignored

	// kFrame: the frame's fields and control field as printed; canonical is what Encode
	// yields when raw has bytes Encode cannot reproduce (junk around the frame).
	frame     Frame
	ctl       string
	canonical string
	n         int // bytes DecodeFrame consumes; 0 means len(raw) for a valid frame

	// kFrame (variable frames) and kASDU: the decoded ASDU.
	asdu *ASDU

	// kInfo: the objects of a ti ASDU with VSQ count.
	ti    TypeID
	count int
	info  Info

	// kTimeA, kTimeB: the tag; when is its Time in Europe/Madrid as
	// "2006-01-02 15:04:05.000 MST", "" for ErrTime; cp56 the CP56Reading of a Tb.
	ta   TimeA
	tb   TimeB
	when string
	cp56 [2]int

	err     error // kFrame: DecodeFrame's error (errors.Is)
	asduErr error // DecodeASDU's error (errors.Is)
}{
	// §1 Complete frames from public sources.
	{name: "F1 request link status, DER 34572", raw: "10 49 0C 87 DC 16",
		frame: fixed(0x49, 34572), ctl: "49 (PRM request link status)"},
	{name: "F2 ack from DER 34572", raw: "10 00 0C 87 93 16",
		frame: fixed(0x00, 34572), ctl: "00 (ack)"},
	{name: "F3 status of link, DER 53653", raw: "10 0B 95 D1 71 16",
		frame: fixed(0x0B, 53653), ctl: "0B (link status)"},
	{name: "F4 ack to reset, DER 53653", raw: "10 00 95 D1 66 16",
		frame: fixed(0x00, 53653), ctl: "00 (ack)"},
	{name: "F5 request link status, DER 1", raw: "10 49 01 00 4A 16",
		frame: fixed(0x49, 1), ctl: "49 (PRM request link status)"},
	{name: "F6 class-2 poll FCB=1", raw: "10 7B 01 00 7C 16",
		frame: fixed(0x7B, 1), ctl: "7B (PRM FCB FCV request class 2)"},
	{name: "F7 no data", raw: "10 09 01 00 0A 16",
		frame: fixed(0x09, 1), ctl: "09 (no data)"},
	{name: "F8 C_AC_NA_2 password 8", raw: "68 0D 0D 68 73 0C 87 B7 01 06 01 00 00 08 00 00 00 CD 16",
		frame: variable(0x73, 34572), ctl: "73 (PRM FCB FCV user data confirm)",
		asdu: asdu(TypeStartSession, 1, CauseActivation, 1, 0, Password(8))},
	{name: "F9 C_AC_NA_2 password 7", raw: "68 0D 0D 68 73 0C 87 B7 01 06 01 00 00 07 00 00 00 CC 16",
		frame: variable(0x73, 34572),
		asdu:  asdu(TypeStartSession, 1, CauseActivation, 1, 0, Password(7))},
	{name: "F10 C_AC_NA_2 activation confirmation", raw: "68 0D 0D 68 08 95 D1 B7 01 07 01 00 00 01 00 00 00 2F 16",
		frame: variable(0x08, 53653), ctl: "08 (user data)",
		asdu: asdu(TypeStartSession, 1, CauseActivationCon, 1, 0, Password(1))},
	{name: "F11 P_MP_NA_2 04/2002, manufacturer 66, product 48304838",
		raw:   "68 0F 0F 68 08 01 00 47 01 05 01 00 00 24 42 C6 12 E1 02 78 16",
		frame: variable(0x08, 1),
		asdu:  asdu(TypeProductInfo, 1, CauseRequest, 1, 0, ProductInfo{SpecDate: 0x24, Manufacturer: 66, Product: 48304838})},
	{name: "F12 C_CI_NT_2 mirror, RAD 11, IOA 1..6, 2008-01-01 .. 2008-12-01",
		raw:   "68 15 15 68 08 01 00 7A 01 07 01 00 0B 01 06 00 00 01 01 08 00 00 01 0C 08 BD 16",
		frame: variable(0x08, 1),
		asdu: asdu(TypeReadOperationalTotals, 1, CauseActivationCon, 1, RecordHourly,
			TotalsRequest{First: 1, Last: 6, From: ta(8, 1, 1, 0, 0, false, 0), To: ta(8, 12, 1, 0, 0, false, 0)})},
	{name: "F13 M_SP_TA_2, 20 events, RAD 52", raw: f13, frame: variable(0x08, 1),
		asdu: asdu(TypeSinglePoint, 20, CauseRequest, 1, RecordEventsPower, f13Events())},
	{name: "F14 R_IN_VA_2 instant values, 3 groups", raw: f14, frame: variable(0x08, 1),
		asdu: asdu(TypeInstantValues, 3, CauseRequest, 1, 0, InstantValues{
			a10Totals,
			InstantPowers{
				Total:  PowerReading{Active: 8, Reactive: 3, PowerFactor: 922},
				Phases: [3]PowerReading{{Active: 2, PowerFactor: 476}, {Active: 3, Reactive: 1, PowerFactor: 517}, {Active: 2, Reactive: 1, PowerFactor: 426}},
				Time:   ta2021,
			},
			InstantPhases{
				Phases: [3]PhaseReading{{Current: 12, Voltage: 2389}, {Current: 13, Voltage: 2389}, {Current: 12, Voltage: 2375}},
				Time:   ta2021,
			},
		})},

	// §2 ASDU and information-object fragments.
	{name: "A1 C_AC_NA_2 (TI B7 prepended), password 1", kind: kASDU, raw: "B7 01 06 01 00 00 01 00 00 00",
		asdu: asdu(TypeStartSession, 1, CauseActivation, 1, 0, Password(1))},
	{name: "A2 C_CI_NT_2 (TI 7A prepended), RAD 11, IOA 1..6, 2008-01-01 Tue .. 2008-12-01 Mon", kind: kASDU,
		raw: "7A 01 06 01 00 0B 01 06 00 00 41 01 08 00 00 21 0C 08",
		asdu: asdu(TypeReadOperationalTotals, 1, CauseActivation, 1, RecordHourly,
			TotalsRequest{First: 1, Last: 6, From: ta(8, 1, 1, 0, 0, false, 2), To: ta(8, 12, 1, 0, 0, false, 1)})},
	{name: "A3 C_CI_NT_2 object, IOA 1..8, 2018-07-01 01:00 .. 2018-08-01 00:00", kind: kInfo,
		raw: "01 08 00 81 E1 07 12 00 80 61 08 12", ti: TypeReadOperationalTotals, count: 1,
		info: TotalsRequest{First: 1, Last: 8, From: ta201807, To: ta201808}},
	{name: "A4 M_IT_TK_2 objects, 8 totals", kind: kInfo, raw: a4, ti: TypePeriodicOperationalTotals, count: 8,
		info: a4Totals},
	{name: "A5 P_MP_NA_2 object, manufacturer 251, product 608343970", kind: kInfo, raw: "04 FB A2 97 42 24",
		ti: TypeProductInfo, count: 1, info: ProductInfo{SpecDate: 0x04, Manufacturer: 251, Product: 608343970}},
	{name: "A6 M_TI_TA_2 object, 2018-08-18 04:42:25.000, RES1 set", kind: kInfo, raw: "00 64 2A 44 12 08 12",
		ti: TypeSystemTime, count: 1, info: a6Time},
	{name: "A7 C_TA_VM_2 object, 2018-07-01 01:00 .. 2018-08-01 00:00", kind: kInfo, raw: "00 81 E1 07 12 00 80 61 08 12",
		ti: TypeReadStoredBilling, count: 1, info: TimeRange{From: ta201807, To: ta201808}},
	{name: "A8 M_TA_VM_2 billing record, all tariffs", kind: kInfo, raw: a8, ti: TypeStoredBilling, count: 1,
		info: BillingRecords{{
			Address:    ObjectBillingTotal,
			Active:     EnergyTotals{Absolute: 3880820, Incremental: 28352},
			Inductive:  EnergyTotals{Absolute: 1858043, Incremental: 23738},
			Capacitive: EnergyTotals{Absolute: 376292, Incremental: 1755},
			Reserve7:   Counter{Quality: QualityIV}, Reserve8: Counter{Quality: QualityIV},
			MaxDemand: Counter{Value: 357}, MaxDemandTime: ta(18, 7, 18, 7, 15, true, 7),
			Excess: Counter{Quality: QualityIV},
			Start:  ta(18, 7, 1, 0, 0, true, 7), End: ta201808,
		}}},
	{name: "A9 M_SP_TA_2 object, SPA 3, code 1, 2025-02-11 07:00:04", kind: kInfo, raw: "03 02 00 10 00 07 4B 02 19",
		ti: TypeSinglePoint, count: 1, info: SinglePoints{{Address: 3, Code: 1, Time: tb(25, 2, 11, 7, 0, 4, 0, false, 2)}}},
	{name: "A10 R_IN_VA_2 group 192", kind: kInfo, raw: a10, ti: TypeInstantValues, count: 1,
		info: InstantValues{a10Totals}},

	// §3 Time tags.
	{name: "T1 Ta 2009-09-18 00:01", kind: kTimeA, raw: "01 00 12 09 09", ta: ta(9, 9, 18, 0, 1, false, 0),
		when: "2009-09-18 00:01:00.000 CEST"},
	{name: "T2 Ta 2010-02-07 11:00", kind: kTimeA, raw: "00 0B 07 02 0A", ta: ta(10, 2, 7, 11, 0, false, 0),
		when: "2010-02-07 11:00:00.000 CET"},
	{name: "T3 Ta 2018-07-01 01:00 SU Sunday", kind: kTimeA, raw: "00 81 E1 07 12", ta: ta201807,
		when: "2018-07-01 01:00:00.000 CEST"},
	{name: "T4 Ta 2018-08-01 00:00 SU Wednesday", kind: kTimeA, raw: "00 80 61 08 12", ta: ta201808,
		when: "2018-08-01 00:00:00.000 CEST"},
	{name: "T5 Ta 2016-11-29 15:26 Tuesday", kind: kTimeA, raw: "1A 0F 5D 0B 10", ta: ta(16, 11, 29, 15, 26, false, 2),
		when: "2016-11-29 15:26:00.000 CET"},
	{name: "T6 Ta 2021-04-14 18:55 SU Wednesday", kind: kTimeA, raw: "37 92 6E 04 15", ta: ta2021,
		when: "2021-04-14 18:55:00.000 CEST"},
	{name: "T7 Tb 2019-08-28 11:37:36.000 SU", kind: kTimeB, raw: "00 90 25 8B 7C 08 13",
		tb: tb(19, 8, 28, 11, 37, 36, 0, true, 3), when: "2019-08-28 11:37:36.000 CEST", cp56: [2]int{36, 864}},
	{name: "T8 Tb 2010-02-07 11:16:10.522 (10+6 split)", kind: kTimeB, raw: "0A 2A 10 0B E7 02 0A",
		tb: tb(10, 2, 7, 11, 16, 10, 522, false, 7), when: "2010-02-07 11:16:10.522 CET", cp56: [2]int{10, 762}},
	{name: "T9 Tb written CP56-style by daiiniel: 10+6 reads 20:09:24.000, CP56 24.576", kind: kTimeB,
		raw: "00 60 09 14 77 0B 10", tb: tb(16, 11, 23, 20, 9, 24, 0, false, 3),
		when: "2016-11-23 20:09:24.000 CET", cp56: [2]int{24, 576}},
	{name: "T10 Ta all zero: no time", kind: kTimeA, raw: "00 00 00 00 00", ta: TimeA{}},
	{name: "T11 Tb all zero: no time", kind: kTimeB, raw: "00 00 00 00 00 00 00", tb: TimeB{}},

	// §4 The assembled session (DER 1, CA 1, password 1).
	{name: "S1 request link status", raw: "10 49 01 00 4A 16", frame: fixed(0x49, 1)},
	{name: "S2 status of link", raw: "10 0B 01 00 0C 16", frame: fixed(0x0B, 1), ctl: "0B (link status)"},
	{name: "S3 reset of remote link", raw: "10 40 01 00 41 16", frame: fixed(0x40, 1), ctl: "40 (PRM reset link)"},
	{name: "S4 ack", raw: "10 00 01 00 01 16", frame: fixed(0x00, 1)},
	{name: "S5 UD FCB=1 C_AC_NA_2 password 1", raw: "68 0D 0D 68 73 01 00 B7 01 06 01 00 00 01 00 00 00 34 16",
		frame: variable(0x73, 1), asdu: asdu(TypeStartSession, 1, CauseActivation, 1, 0, Password(1))},
	{name: "S6 class-2 poll FCB=0", raw: "10 5B 01 00 5C 16", frame: fixed(0x5B, 1), ctl: "5B (PRM FCV request class 2)"},
	{name: "S7 C_AC_NA_2 COT 7", raw: "68 0D 0D 68 08 01 00 B7 01 07 01 00 00 01 00 00 00 CA 16",
		frame: variable(0x08, 1), asdu: asdu(TypeStartSession, 1, CauseActivationCon, 1, 0, Password(1))},
	{name: "S8 UD FCB=1 C_CI_NT_2 RAD 11, IOA 1..8", raw: s8, frame: variable(0x73, 1),
		asdu: asdu(TypeReadOperationalTotals, 1, CauseActivation, 1, RecordHourly, a3Request)},
	{name: "S9 C_CI_NT_2 mirror COT 7", raw: s9, frame: variable(0x08, 1),
		asdu: asdu(TypeReadOperationalTotals, 1, CauseActivationCon, 1, RecordHourly, a3Request)},
	{name: "S10 class-2 poll FCB=1", raw: "10 7B 01 00 7C 16", frame: fixed(0x7B, 1)},
	{name: "S11 M_IT_TG_2 COT 5, 8 totals", raw: s11, frame: variable(0x08, 1),
		asdu: asdu(TypeOperationalTotals, 8, CauseRequest, 1, RecordHourly, a4Totals)},
	{name: "S12 C_CI_NT_2 mirror COT 10", raw: s12, frame: variable(0x08, 1),
		asdu: asdu(TypeReadOperationalTotals, 1, CauseActivationTerm, 1, RecordHourly, a3Request)},
	{name: "S13 UD FCB=1 C_FS_NA_2", raw: "68 09 09 68 73 01 00 BB 00 06 01 00 00 36 16", frame: variable(0x73, 1),
		asdu: asdu(TypeEndSession, 0, CauseActivation, 1, 0, nil)},
	{name: "S14 C_FS_NA_2 COT 7", raw: "68 09 09 68 08 01 00 BB 00 07 01 00 00 CC 16", frame: variable(0x08, 1),
		asdu: asdu(TypeEndSession, 0, CauseActivationCon, 1, 0, nil)},
	{name: "S15 UD FCB=1 C_TI_NA_2", raw: "68 09 09 68 73 01 00 67 00 05 01 00 00 E1 16", frame: variable(0x73, 1),
		asdu: asdu(TypeReadTime, 0, CauseRequest, 1, 0, nil)},
	{name: "S16 M_TI_TA_2 COT 5", raw: "68 10 10 68 08 01 00 48 01 05 01 00 00 00 64 2A 44 12 08 12 56 16",
		frame: variable(0x08, 1), asdu: asdu(TypeSystemTime, 1, CauseRequest, 1, 0, a6Time)},
	{name: "S17 UD FCB=1 C_RD_NA_2", raw: "68 09 09 68 73 01 00 64 00 05 01 00 00 DE 16", frame: variable(0x73, 1),
		asdu: asdu(TypeReadProductInfo, 0, CauseRequest, 1, 0, nil)},
	{name: "S18 class-1 poll FCB=1", raw: "10 7A 01 00 7B 16", frame: fixed(0x7A, 1), ctl: "7A (PRM FCB FCV request class 1)"},
	{name: "S19 nack", raw: "10 01 01 00 02 16", frame: fixed(0x01, 1), ctl: "01 (nack)"},

	// §5 Negative checks.
	{name: "N1 bad checksum", raw: "10 49 01 00 00 16", err: ErrChecksum, n: 1},
	{name: "N2 truncated variable frame", raw: "68 05 05 68 73", err: ErrShortFrame, n: 0},
	{name: "N3 L and L' differ", raw: "68 0D 0C 68 73 0C 87 B7 01 06 01 00 00 08 00 00 00 CD 16", err: ErrLength, n: 1},
	{name: "N4 fourth octet not 68", raw: "68 0D 0D 00 73 0C 87 B7 01 06 01 00 00 08 00 00 00 CD 16", err: ErrFrame, n: 1},

	// Constructed frames.
	{name: "C1 E5 single character", raw: "E5", frame: SingleChar},
	{name: "C2 junk before a frame is skipped", raw: "FF FF 43 4F 4E 4E 45 43 54 0D 0A 10 49 01 00 4A 16",
		frame: fixed(0x49, 1), canonical: "10 49 01 00 4A 16"},
	{name: "C3 bytes after the frame are left for the next call", raw: "10 0B 01 00 0C 16 68 0D",
		frame: fixed(0x0B, 1), canonical: "10 0B 01 00 0C 16", n: 6},
	{name: "C4 variable frame without ASDU, L=3", raw: "68 03 03 68 08 01 00 09 16", frame: variable(0x08, 1),
		asduErr: ErrASDU},
	{name: "C5 status with ACD and DFC", raw: "10 3B 01 00 3C 16", frame: fixed(0x3B, 1), ctl: "3B (ACD DFC link status)"},
	{name: "C6 negative mirror of C_AC_NA_2, cause 16 P/N, no objects",
		raw: "68 09 09 68 08 01 00 B7 00 50 01 00 00 11 16", frame: variable(0x08, 1),
		asdu: &ASDU{DUI: DUI{Type: TypeStartSession, COT: COT{Cause: CauseAddressUnknown, Negative: true}, CommonAddress: 1}}},
	{name: "C7 unknown type 142 M_RM_NA_2 decodes as Raw", raw: "68 0C 0C 68 08 01 00 8E 01 05 01 00 00 AA BB CC CF 16",
		frame: variable(0x08, 1), asduErr: ErrUnknownType,
		asdu: &ASDU{DUI: DUI{Type: TypeConfiguration, Count: 1, COT: COT{Cause: CauseRequest}, CommonAddress: 1}, Info: Raw{0xAA, 0xBB, 0xCC}}},
	{name: "C8 fixed frame bad end octet", raw: "10 49 01 00 4A 17", err: ErrFrame, n: 1},
	{name: "C9 variable frame bad checksum", raw: "68 09 09 68 73 01 00 BB 00 06 01 00 00 37 16", err: ErrChecksum, n: 1},
	{name: "C10 variable frame L=2", raw: "68 02 02 68 08 01 09 16", err: ErrLength, n: 1},
	{name: "C11 variable frame L one short: no end octet", raw: "68 08 08 68 73 01 00 BB 00 06 01 00 00 36 16", err: ErrFrame, n: 1},
	{name: "C12 junk only", raw: "FF 00 43 4F", err: ErrShortFrame, n: 4},
	{name: "C13 short fixed frame after junk", raw: "FF 10 49 01", err: ErrShortFrame, n: 1},
	{name: "C14 empty", raw: "", err: ErrShortFrame, n: 0},
	{name: "C15 M_IT_TG_2 VSQ 9 but 8 totals", kind: kASDU, asduErr: ErrASDU,
		raw: "08 09 05 01 00 0B " + a4},
	{name: "C16 C_RD_NA_2 with an object", kind: kASDU, raw: "64 00 05 01 00 00 01", asduErr: ErrASDU},
	{name: "C17 data unit identifier cut short", kind: kASDU, raw: "B7 01 06 01 00", asduErr: ErrASDU},
	{name: "C18 M_IB_TG_2 block address 12", kind: kASDU, raw: "8B 01 05 01 00 0B 0C 00 00 00 00 00 00 81 E1 07 12", asduErr: ErrASDU},
	{name: "C19 R_IN_VA_2 group 195", kind: kASDU, raw: "A3 01 05 01 00 00 C3 00", asduErr: ErrASDU},
	{name: "C20 M_SP_TA_2 with SQ=1", kind: kASDU, raw: "01 81 05 01 00 34 03 02 00 10 00 07 4B 02 19", asduErr: ErrASDU},
	{name: "C21 C_AC_NA_2 password of 3 octets", kind: kASDU, raw: "B7 01 06 01 00 00 01 00 00", asduErr: ErrASDU},
	{name: "C22 M_IB_TK_2 three-counter block", kind: kASDU,
		raw: "8C 01 05 01 00 0B 0B 01 00 00 00 00 02 00 00 00 10 03 00 00 00 80 00 81 E1 07 12",
		asdu: asdu(TypePeriodicTotalsBlocks, 1, CauseRequest, 1, RecordHourly, TotalsBlocks{{Block: ObjectBlock3,
			Counters: []Counter{{Value: 1}, {Value: 2, Quality: QualityVH}, {Value: 3, Quality: QualityIV}}, End: ta201807}})},
	{name: "C23 M_PC_NA_2 two contracted powers", kind: kASDU,
		raw: "91 02 05 01 00 86 01 F4 01 00 00 02 E8 03 00 00 00 81 E1 07 12",
		asdu: asdu(TypeContractedPowers, 2, CauseRequest, 1, 134, ContractedPowers{
			Powers: []ContractedPower{{Address: 1, Power: 500}, {Address: 2, Power: 1000}}, Time: ta201807})},
	{name: "C24 M_DF_NA_2 one holiday", kind: kASDU, raw: "94 01 05 01 00 86 00 00 01 01 12",
		asdu: asdu(TypeHolidays, 1, CauseRequest, 1, 134, Holidays{ta(18, 1, 1, 0, 0, false, 0)})},
	{name: "C25 P_IN_VA_2 groups 192, 194", kind: kASDU, raw: "A2 02 05 01 00 00 C0 C2",
		asdu: asdu(TypeReadInstantValues, 2, CauseRequest, 1, 0, InstantRequest{GroupInstantTotals, GroupInstantVoltAmp})},
	{name: "C26 C_CB_UN_2 block 10", kind: kASDU, raw: "BE 01 06 01 00 0B 0A 00 81 E1 07 12 00 80 61 08 12",
		asdu: asdu(TypeReadPeriodicTotalsBlocks, 1, CauseActivation, 1, RecordHourly, BlockRequest{Block: ObjectBlock6, From: ta201807, To: ta201808})},
	{name: "C27 C_CS_TA_2 mirror without the time, test bit", kind: kASDU, raw: "B5 00 87 01 00 00",
		asdu: &ASDU{DUI: DUI{Type: TypeSetTime, COT: COT{Cause: CauseActivationCon, Test: true}, CommonAddress: 1}}},
	{name: "C28 M_IT_TB_2 3-octet counters", kind: kASDU, raw: "03 01 03 01 00 01 01 FF FF FF 20 00 81 E1 07 12",
		asdu: asdu(TypeAccountingTotals3, 1, CauseSpontaneous, 1, 1, IntegratedTotals{
			Totals: []IntegratedTotal{{Address: 1, Value: 1<<24 - 1, Quality: QualityCY}}, End: ta201807})},
}

// Vector bodies too long for one line.
const (
	f13 = `68 bd bd 68 08 01 00 01 14 05 01 00 34 03 02 00 10 00 07 4b 02 19 03 04 00 10 00 07 4b 02 19 03
03 00 10 00 07 4b 02 19 03 05 00 10 00 07 4b 02 19 03 02 00 10 00 13 cf 02 19 03 04 00 10 00 13
cf 02 19 03 03 00 10 00 13 cf 02 19 03 05 00 10 00 13 cf 02 19 03 02 00 10 00 0b 31 02 19 03 04
00 10 00 0b 31 02 19 03 03 00 10 00 0b 31 02 19 03 05 00 10 00 0b 31 02 19 03 02 00 10 00 0f 38
02 19 03 04 00 10 00 0f 38 02 19 03 03 00 10 00 0f 38 02 19 03 05 00 10 00 0f 38 02 19 03 02 00
10 00 13 e9 03 19 03 04 00 10 00 13 e9 03 19 03 03 00 10 00 13 e9 03 19 03 05 00 10 00 13 e9 03
19 06 16`
	f14 = `68 68 68 68 08 01 00 a3 03 05 01 00 00 c0 62 e7 03 00 d2 0f 01 00 99 b1 00 00 5e 25 00 00 9d 01
00 00 06 0b 00 00 37 92 6e 04 15 c1 08 00 00 03 00 00 9a 03 02 00 00 00 00 00 dc 01 03 00 00 01
00 00 05 02 02 00 00 01 00 00 aa 01 37 92 6e 04 15 c2 0c 00 00 55 09 00 00 0d 00 00 55 09 00 00
0c 00 00 47 09 00 00 37 92 6e 04 15 03 16`
	a4  = "01 04 00 00 00 00 02 00 00 00 00 00 03 1B 00 00 00 00 04 00 00 00 00 00 05 00 00 00 00 00 06 00 00 00 00 00 07 00 00 00 00 80 08 00 00 00 00 80 00 81 E1 07 12"
	a8  = "14 74 37 3B 00 C0 6E 00 00 00 FB 59 1C 00 BA 5C 00 00 00 E4 BD 05 00 DB 06 00 00 00 00 00 00 00 80 00 00 00 00 80 65 01 00 00 0F 87 F2 07 12 00 00 00 00 00 80 00 80 E1 07 12 00 80 61 08 12"
	a10 = "C0 62 E7 03 00 D2 0F 01 00 99 B1 00 00 5E 25 00 00 9D 01 00 00 06 0B 00 00 37 92 6E 04 15"
	s8  = "68 15 15 68 73 01 00 7A 01 06 01 00 0B 01 08 00 81 E1 07 12 00 80 61 08 12 80 16"
	s9  = "68 15 15 68 08 01 00 7A 01 07 01 00 0B 01 08 00 81 E1 07 12 00 80 61 08 12 16 16"
	s11 = "68 3E 3E 68 08 01 00 08 08 05 01 00 0B " + a4 + " E8 16"
	s12 = "68 15 15 68 08 01 00 7A 01 0A 01 00 0B 01 08 00 81 E1 07 12 00 80 61 08 12 19 16"
)

// Decoded values shared by several rows.
var (
	ta201807  = ta(18, 7, 1, 1, 0, true, 7)
	ta201808  = ta(18, 8, 1, 0, 0, true, 3)
	ta2021    = ta(21, 4, 14, 18, 55, true, 3)
	a3Request = TotalsRequest{First: 1, Last: 8, From: ta201807, To: ta201808}
	a4Totals  = IntegratedTotals{Totals: []IntegratedTotal{
		{Address: 1, Value: 4}, {Address: 2}, {Address: 3, Value: 27}, {Address: 4}, {Address: 5}, {Address: 6},
		{Address: 7, Quality: QualityIV}, {Address: 8, Quality: QualityIV},
	}, End: ta201807}
	a6Time    = TimeB{TimeA: TimeA{Year: 18, Month: 8, Day: 18, Hour: 4, Minute: 42, Res1: 2}, Second: 25}
	a10Totals = InstantTotals{ActiveImport: 255842, ActiveExport: 69586,
		ReactiveQ1: 45465, ReactiveQ2: 9566, ReactiveQ3: 413, ReactiveQ4: 2822, Time: ta2021}
)

// f13Events lists F13's twenty events: five instants, each with the SPQ octets 02, 04,
// 03, 05 of event group 3.
func f13Events() SinglePoints {
	var s SinglePoints
	for _, t := range []TimeB{
		tb(25, 2, 11, 7, 0, 4, 0, false, 2),
		tb(25, 2, 15, 19, 0, 4, 0, false, 6),
		tb(25, 2, 17, 11, 0, 4, 0, false, 1),
		tb(25, 2, 24, 15, 0, 4, 0, false, 1),
		tb(25, 3, 9, 19, 0, 4, 0, false, 7),
	} {
		for _, spq := range []byte{0x02, 0x04, 0x03, 0x05} {
			s = append(s, SinglePoint{Address: 3, Value: spq&1 != 0, Code: spq >> 1, Time: t})
		}
	}
	return s
}

func fixed(c Control, addr uint16) Frame { return NewFixed(c, addr) }
func variable(c Control, addr uint16) Frame {
	return Frame{Format: FormatVariable, Control: c, Address: addr}
}

func asdu(t TypeID, count int, cause Cause, ca uint16, rad RecordAddress, info Info) *ASDU {
	return &ASDU{DUI: DUI{Type: t, Count: count, COT: COT{Cause: cause}, CommonAddress: ca, Record: rad}, Info: info}
}

func ta(y, mo, d, h, mi int, su bool, dow int) TimeA {
	return TimeA{Year: y, Month: mo, Day: d, Hour: h, Minute: mi, Summer: su, Weekday: dow}
}

func tb(y, mo, d, h, mi, s, ms int, su bool, dow int) TimeB {
	return TimeB{TimeA: ta(y, mo, d, h, mi, su, dow), Second: s, Millisecond: ms}
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func madrid(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Madrid")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// goldenASDU returns the ASDU bytes a row holds, if any: a variable frame's user
// data, a kASDU row's raw bytes, or a kInfo row's objects behind a data unit identifier.
func goldenASDU(t testing.TB, i int) ([]byte, bool) {
	t.Helper()
	tc := golden[i]
	raw := unhex(t, tc.raw)
	switch tc.kind {
	case kASDU:
		return raw, true
	case kInfo:
		dui, err := DUI{Type: tc.ti, Count: tc.count, COT: COT{Cause: CauseRequest}, CommonAddress: 1}.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		return append(dui, raw...), true
	case kFrame:
		if f, _, err := DecodeFrame(raw); err == nil && f.Format == FormatVariable {
			return f.ASDU, true
		}
	}
	return nil, false
}

func TestGolden(t *testing.T) {
	loc := madrid(t)
	for i, tc := range golden {
		t.Run(tc.name, func(t *testing.T) {
			raw := unhex(t, tc.raw)
			switch tc.kind {
			case kFrame:
				checkFrame(t, raw, i)
			case kASDU:
				checkASDU(t, raw, tc.asdu, tc.asduErr)
			case kInfo:
				b, _ := goldenASDU(t, i)
				a, err := DecodeASDU(b)
				if err != nil {
					t.Fatalf("DecodeASDU: %v", err)
				}
				if !reflect.DeepEqual(a.Info, tc.info) {
					t.Errorf("objects = %#v\nwant      %#v", a.Info, tc.info)
				}
				enc, err := NewASDU(tc.ti, COT{Cause: CauseRequest}, 1, 0, tc.info).Encode()
				if err != nil {
					t.Fatalf("Encode: %v", err)
				}
				if got := enc[duiLen:]; !bytes.Equal(got, raw) {
					t.Errorf("encoded objects = % X\nwant              % X", got, raw)
				}
			case kTimeA:
				got, err := DecodeTimeA(raw)
				if err != nil || got != tc.ta {
					t.Fatalf("DecodeTimeA = %+v, %v; want %+v", got, err, tc.ta)
				}
				checkTime(t, loc, raw, tc.ta.Append, tc.ta.Time, tc.when)
				if tc.when == "" && !got.IsZero() {
					t.Errorf("IsZero false for the all-zero tag")
				}
			case kTimeB:
				got, err := DecodeTimeB(raw)
				if err != nil || got != tc.tb {
					t.Fatalf("DecodeTimeB = %+v, %v; want %+v", got, err, tc.tb)
				}
				checkTime(t, loc, raw, tc.tb.Append, tc.tb.Time, tc.when)
				if s, ms := got.CP56Reading(); [2]int{s, ms} != tc.cp56 {
					t.Errorf("CP56Reading = %d s %d ms, want %v", s, ms, tc.cp56)
				}
			}
		})
	}
}

func checkTime(t *testing.T, loc *time.Location, raw []byte, appendTo func([]byte) ([]byte, error), at func(*time.Location) (time.Time, error), when string) {
	t.Helper()
	enc, err := appendTo(nil)
	if err != nil || !bytes.Equal(enc, raw) {
		t.Errorf("Append = % X, %v; want % X", enc, err, raw)
	}
	tm, err := at(loc)
	if when == "" {
		if !errors.Is(err, ErrTime) {
			t.Errorf("Time = %v, %v; want ErrTime", tm, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Time: %v", err)
	}
	if got := tm.Format("2006-01-02 15:04:05.000 MST"); got != when {
		t.Errorf("Time = %s, want %s", got, when)
	}
}

func checkFrame(t *testing.T, raw []byte, i int) {
	t.Helper()
	tc := golden[i]
	orig := bytes.Clone(raw)
	f, n, err := DecodeFrame(raw)
	if !bytes.Equal(raw, orig) {
		t.Fatal("DecodeFrame modified its input")
	}
	wantN := tc.n
	if wantN == 0 && tc.err == nil {
		wantN = len(raw)
	}
	if n != wantN {
		t.Errorf("DecodeFrame n = %d, want %d", n, wantN)
	}
	if tc.err != nil {
		if !errors.Is(err, tc.err) {
			t.Fatalf("DecodeFrame err = %v, want %v", err, tc.err)
		}
		if tc.err != ErrShortFrame && errors.Is(err, ErrShortFrame) {
			t.Errorf("malformed frame reported as short: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("DecodeFrame: %v", err)
	}
	if f.Format != tc.frame.Format || f.Control != tc.frame.Control || f.Address != tc.frame.Address {
		t.Errorf("DecodeFrame = %v, want %v", f, tc.frame)
	}
	if tc.ctl != "" && f.Control.String() != tc.ctl {
		t.Errorf("Control = %q, want %q", f.Control, tc.ctl)
	}
	want := raw[:n]
	if tc.canonical != "" {
		want = unhex(t, tc.canonical)
	}
	if enc, err := f.Encode(); err != nil || !bytes.Equal(enc, want) {
		t.Errorf("Encode = % X, %v; want % X", enc, err, want)
	}
	if f.Format != FormatVariable {
		return
	}
	checkASDU(t, f.ASDU, tc.asdu, tc.asduErr)
	if tc.asdu == nil {
		return
	}
	// Re-encode from the documented values alone: the frame must come out byte for byte.
	b, err := tc.asdu.Encode()
	if err != nil {
		t.Fatalf("ASDU.Encode: %v", err)
	}
	enc, err := NewVariable(tc.frame.Control, tc.frame.Address, b).Encode()
	if err != nil || !bytes.Equal(enc, want) {
		t.Errorf("frame from documented values = % X, %v\nwant                             % X", enc, err, want)
	}
}

func checkASDU(t *testing.T, raw []byte, want *ASDU, wantErr error) {
	t.Helper()
	got, err := DecodeASDU(raw)
	if wantErr != nil {
		if !errors.Is(err, wantErr) {
			t.Fatalf("DecodeASDU err = %v, want %v", err, wantErr)
		}
		if want == nil {
			return
		}
	} else if err != nil {
		t.Fatalf("DecodeASDU: %v", err)
	}
	if want == nil {
		t.Fatal("golden row without a decoded ASDU")
	}
	if !reflect.DeepEqual(got, *want) {
		t.Errorf("DecodeASDU = %v\nwant        %v", got, *want)
	}
	enc, err := got.Encode()
	if err != nil || !bytes.Equal(enc, raw) {
		t.Errorf("Encode = % X, %v\nwant     % X", enc, err, raw)
	}
}
