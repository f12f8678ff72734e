package iec102

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// frameASDU returns the user data of a golden frame vector.
func frameASDU(t *testing.T, raw string) []byte {
	t.Helper()
	f, _, err := DecodeFrame(unhex(t, raw))
	if err != nil {
		t.Fatal(err)
	}
	return f.ASDU
}

// NewRequest builds the master's requests exactly as the session vectors carry them.
func TestNewRequestMatchesVectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    ASDU
		raw  string
	}{
		{"S5 C_AC_NA_2", NewRequest(TypeStartSession, 1, RecordDefault, Password(1)), "68 0D 0D 68 73 01 00 B7 01 06 01 00 00 01 00 00 00 34 16"},
		{"S8 C_CI_NT_2", NewRequest(TypeReadOperationalTotals, 1, RecordHourly, a3Request), s8},
		{"S13 C_FS_NA_2", NewRequest(TypeEndSession, 1, RecordDefault, nil), "68 09 09 68 73 01 00 BB 00 06 01 00 00 36 16"},
		{"S15 C_TI_NA_2", NewRequest(TypeReadTime, 1, RecordDefault, nil), "68 09 09 68 73 01 00 67 00 05 01 00 00 E1 16"},
		{"S17 C_RD_NA_2", NewRequest(TypeReadProductInfo, 1, RecordDefault, nil), "68 09 09 68 73 01 00 64 00 05 01 00 00 DE 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.a.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if want := frameASDU(t, tc.raw); !bytes.Equal(got, want) {
				t.Errorf("Encode = % X, want % X", got, want)
			}
		})
	}
	// Reference cheat-sheet VSQs: C_SP_NB_2 0 with a time range, C_TA_VM_2 1, C_CS_TA_2 1, P_IN_VA_2 n.
	for _, tc := range []struct {
		a    ASDU
		vsq  int
		c    Cause
		size int
	}{
		{NewRequest(TypeReadSinglePointRange, 1, RecordEventsPower, TimeRange{From: ta201807, To: ta201808}), 0, CauseActivation, 16},
		{NewRequest(TypeReadStoredBilling, 1, RecordBilling1, TimeRange{From: ta201807, To: ta201808}), 1, CauseActivation, 16},
		{NewRequest(TypeSetTime, 1, RecordDefault, a6Time), 1, CauseActivation, 13},
		{NewRequest(TypeReadTotalsBlocks, 1, RecordHourly, BlockRequest{Block: ObjectBlock8, From: ta201807, To: ta201808}), 1, CauseActivation, 17},
		{NewRequest(TypeReadInstantValues, 1, RecordDefault, InstantRequest{192, 193, 194}), 3, CauseRequest, 9},
		{NewRequest(TypeReadContractedPowers, 1, RecordBilling1, nil), 0, CauseRequest, 6},
	} {
		b, err := tc.a.Encode()
		if err != nil || tc.a.Count != tc.vsq || tc.a.COT.Cause != tc.c || len(b) != tc.size {
			t.Errorf("%s: VSQ %d cause %d, %d octets, %v; want VSQ %d cause %d, %d octets (L=%d)",
				tc.a.Type, tc.a.Count, tc.a.COT.Cause, len(b), err, tc.vsq, tc.c, tc.size, tc.size+3)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	long := IntegratedTotals{Totals: make([]IntegratedTotal, 41), End: ta201807}
	for _, tc := range []struct {
		name string
		a    ASDU
		err  error
	}{
		{"info of another type", NewASDU(TypeReadTime, COT{Cause: CauseRequest}, 1, 0, Password(1)), ErrASDU},
		{"VSQ count differs from the list", ASDU{DUI: DUI{Type: TypeOperationalTotals, Count: 7}, Info: a4Totals}, ErrASDU},
		{"SQ=1 with a list", ASDU{DUI: DUI{Type: TypeOperationalTotals, Count: 8, Sequence: true}, Info: a4Totals}, ErrASDU},
		{"VSQ count above 127", ASDU{DUI: DUI{Type: TypeEndSession, Count: 128}}, ErrRange},
		{"cause above 63", ASDU{DUI: DUI{Type: TypeEndSession, COT: COT{Cause: 64}}}, ErrRange},
		{"minute 64", NewASDU(TypeSystemTime, COT{Cause: CauseRequest}, 1, 0, TimeB{TimeA: TimeA{Minute: 64}}), ErrRange},
		{"millisecond 1024", NewASDU(TypeSystemTime, COT{Cause: CauseRequest}, 1, 0, TimeB{Millisecond: 1024}), ErrRange},
		{"3-octet counter overflow", NewASDU(TypeAccountingTotals3, COT{Cause: CauseRequest}, 1, 0,
			IntegratedTotals{Totals: []IntegratedTotal{{Value: 1 << 24}}}), ErrRange},
		{"41 totals do not fit one frame", NewASDU(TypeOperationalTotals, COT{Cause: CauseRequest}, 1, 0, long), ErrRange},
		{"block with the wrong number of counters", NewASDU(TypeTotalsBlocks, COT{Cause: CauseRequest}, 1, 0,
			TotalsBlocks{{Block: ObjectBlock8, Counters: make([]Counter, 6)}}), ErrRange},
		{"event code above 127", NewASDU(TypeSinglePoint, COT{Cause: CauseRequest}, 1, 0, SinglePoints{{Code: 128}}), ErrRange},
		{"power factor above 10 bits", NewASDU(TypeInstantValues, COT{Cause: CauseRequest}, 1, 0,
			InstantValues{InstantPowers{Total: PowerReading{PowerFactor: 1024}}}), ErrRange},
		{"nil instant group", NewASDU(TypeInstantValues, COT{Cause: CauseRequest}, 1, 0, InstantValues{nil}), ErrRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte{0xAA}
			got, err := tc.a.Append(dst)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Append err = %v, want %v", err, tc.err)
			}
			if !bytes.Equal(got, dst) {
				t.Errorf("failed Append left % X, want dst unchanged", got)
			}
		})
	}
	// 40 totals are the most one frame carries (the reference's limit).
	long.Totals = long.Totals[:40]
	a := NewASDU(TypeOperationalTotals, COT{Cause: CauseRequest}, 1, RecordHourly, long)
	b, err := a.Encode()
	if err != nil || len(b) != 6+40*6+5 {
		t.Fatalf("40 totals: %d octets, %v", len(b), err)
	}
	if _, err := NewVariable(0x08, 1, b).Encode(); err != nil {
		t.Fatalf("40 totals in a frame: %v", err)
	}
}

func TestCheckCause(t *testing.T) {
	req := NewRequest(TypeStartSession, 1, RecordDefault, Password(1))
	if err := req.Mirror(COT{Cause: CauseActivationCon}, true).CheckCause(CauseActivationCon); err != nil {
		t.Errorf("positive mirror: %v", err)
	}

	err := req.Mirror(COT{Cause: CauseActivationTerm}, false).CheckCause(CauseActivationCon)
	var uc *UnexpectedCauseError
	if !errors.As(err, &uc) || !errors.Is(err, ErrUnexpectedCause) || uc.DUI.COT.Cause != CauseActivationTerm {
		t.Errorf("COT 10 where 7 was due: %v", err)
	}

	for _, cot := range []COT{
		{Cause: CauseActivationCon, Negative: true}, // P/N alone
		{Cause: CauseAddressUnknown},                // error cause alone
		{Cause: CauseTypeNotAvailable, Negative: true},
	} {
		err := req.Mirror(cot, false).CheckCause(CauseActivationCon)
		var ne *NegativeError
		if !errors.As(err, &ne) || !errors.Is(err, ErrNegative) || ne.Cause() != cot.Cause {
			t.Errorf("%s: %v, want a *NegativeError with that cause", cot, err)
		}
		if ne != nil && (ne.DUI.Type != TypeStartSession || ne.DUI.CommonAddress != 1) {
			t.Errorf("NegativeError lost the identifier: %+v", ne.DUI)
		}
	}
}

func TestMirror(t *testing.T) {
	req := NewRequest(TypeReadOperationalTotals, 1, RecordHourly, a3Request)
	with := req.Mirror(COT{Cause: CauseActivationCon}, true)
	b, _ := with.Encode()
	if want := frameASDU(t, s9); !bytes.Equal(b, want) {
		t.Errorf("mirror with objects = % X, want % X", b, want)
	}
	without := req.Mirror(COT{Cause: CausePeriodNotAvailable, Negative: true}, false)
	b, _ = without.Encode()
	if want := unhex(t, "7A 00 52 01 00 0B"); !bytes.Equal(b, want) {
		t.Errorf("mirror without objects = % X, want % X", b, want)
	}
	if req.COT.Cause != CauseActivation || req.Info == nil {
		t.Errorf("Mirror changed the request")
	}
}

func TestTypeIDTable(t *testing.T) {
	for _, tc := range []struct {
		t      TypeID
		str    string
		proc   Procedure
		answer TypeID
		cause  Cause
		ok     bool
	}{
		{TypeStartSession, "183 C_AC_NA_2", ProcedureCommand, 0, CauseActivation, true},
		{TypeEndSession, "187 C_FS_NA_2", ProcedureCommand, 0, CauseActivation, true},
		{TypeSetTime, "181 C_CS_TA_2", ProcedureCommand, 0, CauseActivation, true},
		{TypeReadTime, "103 C_TI_NA_2", ProcedureRead, TypeSystemTime, CauseRequest, true},
		{TypeReadProductInfo, "100 C_RD_NA_2", ProcedureRead, TypeProductInfo, CauseRequest, true},
		{TypeReadOperationalTotals, "122 C_CI_NT_2", ProcedureRangeRead, TypeOperationalTotals, CauseActivation, true},
		{TypeReadPeriodicOperationalTotals, "123 C_CI_NU_2", ProcedureRangeRead, TypePeriodicOperationalTotals, CauseActivation, true},
		{TypeReadSinglePointRange, "102 C_SP_NB_2", ProcedureRangeRead, TypeSinglePoint, CauseActivation, true},
		{TypeReadStoredBilling, "134 C_TA_VM_2", ProcedureRangeRead, TypeStoredBilling, CauseActivation, true},
		{TypeReadCurrentBilling, "133 C_TA_VC_2", ProcedureRangeRead, TypeCurrentBilling, CauseActivation, true},
		{TypeReadTotalsBlocks, "189 C_CB_NT_2", ProcedureRangeRead, TypeTotalsBlocks, CauseActivation, true},
		{TypeReadInstantValues, "162 P_IN_VA_2", ProcedureRead, TypeInstantValues, CauseRequest, true},
		{TypeOperationalTotals, "8 M_IT_TG_2", ProcedureNone, 0, 0, true},
		{TypeConfiguration, "142 M_RM_NA_2", ProcedureNone, 0, 0, false},
		{200, "200", ProcedureNone, 0, 0, false},
	} {
		if s := tc.t.String(); s != tc.str {
			t.Errorf("String = %q, want %q", s, tc.str)
		}
		if tc.t.Procedure() != tc.proc || tc.t.Answer() != tc.answer || tc.t.RequestCause() != tc.cause || tc.t.Supported() != tc.ok {
			t.Errorf("%s: %s, answer %s, cause %d, supported %t", tc.t, tc.t.Procedure(), tc.t.Answer(), tc.t.RequestCause(), tc.t.Supported())
		}
	}
}

func TestTimeConversions(t *testing.T) {
	loc := madrid(t)
	// The repeated hour of 2024-10-27: 02:30 exists in CEST (SU=1) and an hour later in CET.
	summer := time.Date(2024, 10, 27, 0, 30, 0, 0, time.UTC).In(loc)
	winter := summer.Add(time.Hour)
	if summer.Hour() != 2 || winter.Hour() != 2 {
		t.Fatalf("fixture: %v, %v", summer, winter)
	}
	for _, want := range []time.Time{summer, winter, time.Date(2018, 7, 1, 1, 0, 0, 0, loc), time.Date(2099, 12, 31, 23, 59, 0, 0, loc)} {
		a, err := TimeAOf(want)
		if err != nil {
			t.Fatal(err)
		}
		if a.Summer != want.IsDST() {
			t.Errorf("%v: SU = %t", want, a.Summer)
		}
		got, err := a.Time(loc)
		if err != nil || !got.Equal(want) {
			t.Errorf("TimeA round trip of %v = %v, %v", want, got, err)
		}
	}
	b, err := TimeBOf(time.Date(2010, 2, 7, 11, 16, 10, 522_400_000, loc))
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := b.Append(nil)
	if want := unhex(t, "0A 2A 10 0B E7 02 0A"); !bytes.Equal(enc, want) {
		t.Errorf("TimeBOf = % X, want % X (T8)", enc, want)
	}
	if s := b.String(); s != "2010-02-07 11:16:10.522 dow 7" {
		t.Errorf("String = %q", s)
	}
	if _, err := TimeAOf(time.Date(1999, 12, 31, 0, 0, 0, 0, loc)); !errors.Is(err, ErrRange) {
		t.Errorf("1999: %v, want ErrRange", err)
	}
	for _, bad := range []TimeA{
		{Year: 18, Month: 2, Day: 30},
		{Year: 18, Month: 13, Day: 1},
		{Year: 18, Month: 4, Day: 31},
		{Year: 18, Month: 1, Day: 1, Hour: 24},
		{Year: 18, Month: 1, Day: 1, Minute: 60},
	} {
		if _, err := bad.Time(loc); !errors.Is(err, ErrTime) {
			t.Errorf("%s: %v, want ErrTime", bad, err)
		}
	}
	if _, err := (TimeB{TimeA: ta201807, Second: 60}).Time(loc); !errors.Is(err, ErrTime) {
		t.Errorf("second 60: %v, want ErrTime", err)
	}
}

func TestStrings(t *testing.T) {
	a := NewRequest(TypeStartSession, 1, RecordDefault, Password(271828))
	for _, s := range []string{a.String(), fmt.Sprintf("%v %+v %#v", a, a, a.Info)} {
		if strings.Contains(s, "271828") {
			t.Errorf("password printed: %s", s)
		}
	}
	for _, tc := range []struct{ got, want string }{
		{a.String(), "183 C_AC_NA_2 VSQ 1 cause 6 (activation) CA 1 RAD 0 (default): password(redacted)"},
		{COT{Cause: CauseAddressUnknown, Negative: true, Test: true}.String(), "cause 16 (address unknown) P/N T"},
		{Cause(50).String(), "50 (private)"},
		{Cause(20).String(), "20 (reserved)"},
		{(QualityIV | QualityAL).String(), "IV|AL"},
		{Quality(0).String(), "ok"},
		{RecordAddress(12).String(), "12 (profile 2 (quarter-hourly))"},
		{ta201807.String(), "2018-07-01 01:00 SU dow 7"},
		{PrimaryControl(Class2Request, true).String(), "7B (PRM FCB FCV request class 2)"},
		{PrimaryControl(LinkStatusRequest, true).String(), "49 (PRM request link status)"},
		{SecondaryControl(UserData, true, false).String(), "28 (ACD user data)"},
		{NewFixed(0x49, 1).String(), "fixed 49 (PRM request link status) A=1"},
		{(&UnknownTypeError{Type: 142}).Error(), "iec102: type identification 142 M_RM_NA_2 not supported"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestDecodeASDUDoesNotAlias(t *testing.T) {
	raw := unhex(t, "A2 02 05 01 00 00 C0 C2")
	a, err := DecodeASDU(raw)
	if err != nil {
		t.Fatal(err)
	}
	raw[6] = 0
	if a.Info.(InstantRequest)[0] != GroupInstantTotals {
		t.Error("InstantRequest aliases its input")
	}
}
