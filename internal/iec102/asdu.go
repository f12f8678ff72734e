package iec102

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// duiLen is the size of the data unit identifier in the REE profile: TI, VSQ, COT, a
// 2-octet common address and a 1-octet record address.
const duiLen = 6

// DUI is the data unit identifier, the first 6 octets of an ASDU (IEC 60870-5-102,
// application service data unit; REE profile sizes):
//
//	TI | VSQ | COT | CA_lo CA_hi | RAD
//
// VSQ bit 7 is SQ (always 0 in REE), bits 6…0 the number of information objects.
type DUI struct {
	Type          TypeID
	Sequence      bool // SQ: a sequence of elements under one address (unused by REE)
	Count         int  // VSQ number of objects, 0–127
	COT           COT
	CommonAddress uint16        // CA: address of the integrated-total DTE; REE measuring point
	Record        RecordAddress // RAD: which data record is meant
}

// DecodeDUI decodes the data unit identifier at the start of an ASDU. It reports ErrASDU
// if b is shorter than 6 octets. An outstation uses it to mirror a request that
// DecodeASDU rejects.
func DecodeDUI(b []byte) (DUI, error) {
	if len(b) < duiLen {
		return DUI{}, fmt.Errorf("%w: %d octets, the data unit identifier alone needs %d", ErrASDU, len(b), duiLen)
	}
	return DUI{
		Type:          TypeID(b[0]),
		Sequence:      b[1]&0x80 != 0,
		Count:         int(b[1] & 0x7F),
		COT:           COTFromByte(b[2]),
		CommonAddress: binary.LittleEndian.Uint16(b[3:5]),
		Record:        RecordAddress(b[5]),
	}, nil
}

// Append appends the 6 octets. It reports ErrRange for a Count outside 0–127 or a
// cause above 63.
func (d DUI) Append(dst []byte) ([]byte, error) {
	if d.Count < 0 || d.Count > 127 {
		return dst, fmt.Errorf("%w: VSQ count %d outside 0–127", ErrRange, d.Count)
	}
	if d.COT.Cause > causeMask {
		return dst, fmt.Errorf("%w: cause %d above 63", ErrRange, d.COT.Cause)
	}
	vsq := byte(d.Count)
	if d.Sequence {
		vsq |= 0x80
	}
	return append(dst, byte(d.Type), vsq, d.COT.Byte(), byte(d.CommonAddress), byte(d.CommonAddress>>8), byte(d.Record)), nil
}

// String prints the identifier, e.g. "183 C_AC_NA_2 VSQ 1 cause 7 (activation
// confirmation) CA 1 RAD 0 (default)".
func (d DUI) String() string {
	sq := ""
	if d.Sequence {
		sq = " SQ"
	}
	return fmt.Sprintf("%s VSQ %d%s %s CA %d RAD %s", d.Type, d.Count, sq, d.COT, d.CommonAddress, d.Record)
}

// ASDU is one application service data unit: the data unit identifier and the
// information objects as typed values.
type ASDU struct {
	DUI
	Info Info // nil: no information objects
}

// NewASDU returns an ASDU with Count set from info (0 for nil).
func NewASDU(t TypeID, cot COT, ca uint16, rad RecordAddress, info Info) ASDU {
	n := 0
	if info != nil {
		n = info.Objects()
	}
	return ASDU{DUI: DUI{Type: t, Count: n, COT: cot, CommonAddress: ca, Record: rad}, Info: info}
}

// NewRequest returns a master's request of type t as masters send it (REE data unit
// parameters): the cause t.RequestCause() (5 for reads, 6 for commands and range reads)
// and the VSQ known masters use, which is not always the number of objects (C_SP_NB_2
// goes with VSQ 0 and a time range). Examples:
//
//	NewRequest(TypeStartSession, ca, RecordDefault, Password(1))
//	NewRequest(TypeReadOperationalTotals, ca, RecordHourly, TotalsRequest{First: 1, Last: 8, From: from, To: to})
//	NewRequest(TypeEndSession, ca, RecordDefault, nil)
func NewRequest(t TypeID, ca uint16, rad RecordAddress, info Info) ASDU {
	a := NewASDU(t, COT{Cause: t.RequestCause()}, ca, rad, info)
	if ti := typeTable[t]; ti.proc != ProcedureNone && ti.vsq >= 0 {
		a.Count = int(ti.vsq)
	}
	return a
}

// Mirror returns the answer an outstation sends to the request a: the same type, common
// address and record address with cot (CauseActivationCon, CauseActivationTerm, or an
// error cause, with Negative as the case may be). With withObjects false the mirror
// carries no objects and VSQ 0; with true it repeats the request's objects and VSQ.
func (a ASDU) Mirror(cot COT, withObjects bool) ASDU {
	m := a
	m.COT = cot
	if !withObjects {
		m.Info, m.Count = nil, 0
	}
	return m
}

// CheckCause reports how a master should take an answer: *NegativeError if the COT
// refuses (P/N set or a cause 13–18), nil if the cause is one of want, else
// *UnexpectedCauseError. The test bit is ignored.
func (a ASDU) CheckCause(want ...Cause) error {
	if a.COT.IsNegative() {
		return &NegativeError{DUI: a.DUI}
	}
	for _, c := range want {
		if a.COT.Cause == c {
			return nil
		}
	}
	return &UnexpectedCauseError{DUI: a.DUI, Want: want}
}

// countDriven reports whether the kind's layout follows the VSQ count.
func (k payloadKind) countDriven() bool { return k >= kindTotals && k <= kindInstant }

// DecodeASDU decodes an ASDU, typically Frame.ASDU of a variable frame. The returned
// values do not alias b.
//
// An ASDU without information objects decodes with a nil Info whatever its type and
// VSQ (mirrors often drop the request's objects). For a type identification without a
// codec (see TypeID.Supported) it returns the data unit identifier with the objects as
// Raw and an *UnknownTypeError. Other errors wrap ErrASDU: shorter than the data unit
// identifier, longer than MaxASDULen, objects of the wrong size for the type and VSQ,
// SQ=1 with a list of objects.
func DecodeASDU(b []byte) (ASDU, error) {
	d, err := DecodeDUI(b)
	if err != nil {
		return ASDU{}, err
	}
	if len(b) > MaxASDULen {
		return ASDU{}, fmt.Errorf("%w: %d octets, one frame carries at most %d", ErrASDU, len(b), MaxASDULen)
	}
	a := ASDU{DUI: d}
	p := b[duiLen:]
	k := typeTable[d.Type].kind
	if k == kindUnknown {
		if len(p) > 0 {
			a.Info = Raw(append([]byte(nil), p...))
		}
		return a, &UnknownTypeError{Type: d.Type}
	}
	if len(p) == 0 {
		return a, nil
	}
	if d.Sequence && k.countDriven() {
		return ASDU{}, fmt.Errorf("%w: %s with SQ=1 (sequence of elements) not supported", ErrASDU, d.Type)
	}
	if size := k.fixedSize(); size != 0 && len(p) != size {
		return ASDU{}, fmt.Errorf("%w: %s object needs %d octets, have %d", ErrASDU, d.Type, size, len(p))
	}
	n := d.Count
	switch k {
	case kindNone:
		return ASDU{}, fmt.Errorf("%w: %s carries no objects, have %d octets", ErrASDU, d.Type, len(p))
	case kindPassword:
		a.Info = Password(binary.LittleEndian.Uint32(p))
	case kindProduct:
		a.Info = ProductInfo{SpecDate: p[0], Manufacturer: p[1], Product: binary.LittleEndian.Uint32(p[2:])}
	case kindTimeB:
		a.Info = decodeTimeB(p)
	case kindTotalsReq:
		a.Info = TotalsRequest{First: p[0], Last: p[1], From: decodeTimeA(p[2:]), To: decodeTimeA(p[7:])}
	case kindTimeRange:
		a.Info = TimeRange{From: decodeTimeA(p), To: decodeTimeA(p[5:])}
	case kindBlockReq:
		a.Info = BlockRequest{Block: p[0], From: decodeTimeA(p[1:]), To: decodeTimeA(p[6:])}
	case kindTotals:
		a.Info, err = decodeTotals(d.Type, n, p)
	case kindSinglePoints:
		a.Info, err = decodeSinglePoints(d.Type, n, p)
	case kindBilling:
		a.Info, err = decodeBilling(d.Type, n, p)
	case kindBlocks:
		a.Info, err = decodeBlocks(d.Type, n, p)
	case kindPowers:
		a.Info, err = decodePowers(d.Type, n, p)
	case kindHolidays:
		a.Info, err = decodeHolidays(d.Type, n, p)
	case kindInstantReq:
		a.Info, err = decodeInstantRequest(d.Type, n, p)
	case kindInstant:
		a.Info, err = decodeInstant(d.Type, n, p)
	}
	if err != nil {
		return ASDU{}, err
	}
	return a, nil
}

// Encode returns the ASDU on the wire.
func (a ASDU) Encode() ([]byte, error) { return a.Append(make([]byte, 0, 64)) }

// Append appends the ASDU on the wire to dst. It reports ErrASDU for an Info that does
// not fit the type identification or whose number of objects differs from a list
// type's Count, and ErrRange for a field out of range or an ASDU longer than
// MaxASDULen.
func (a ASDU) Append(dst []byte) ([]byte, error) {
	start := len(dst)
	dst, err := a.DUI.Append(dst)
	if err != nil {
		return dst[:start], err
	}
	if a.Info != nil {
		k, tk := a.Info.kind(), typeTable[a.Type].kind
		switch {
		case k == kindRaw:
		case k != tk:
			return dst[:start], fmt.Errorf("%w: %T does not fit %s", ErrASDU, a.Info, a.Type)
		case k.countDriven() && a.Count != a.Info.Objects():
			return dst[:start], fmt.Errorf("%w: %s with VSQ count %d but %d objects", ErrASDU, a.Type, a.Count, a.Info.Objects())
		case k.countDriven() && a.Sequence:
			return dst[:start], fmt.Errorf("%w: %s with SQ=1 (sequence of elements) not supported", ErrASDU, a.Type)
		}
		if dst, err = a.Info.appendInfo(dst, a.Type); err != nil {
			return dst[:start], err
		}
	}
	if n := len(dst) - start; n > MaxASDULen {
		return dst[:start], fmt.Errorf("%w: ASDU of %d octets, one frame carries at most %d", ErrRange, n, MaxASDULen)
	}
	return dst, nil
}

// String prints the identifier and the objects, e.g. "183 C_AC_NA_2 VSQ 1 cause 6
// (activation) CA 1 RAD 0 (default): password(redacted)".
func (a ASDU) String() string {
	var b strings.Builder
	b.WriteString(a.DUI.String())
	if a.Info != nil {
		fmt.Fprintf(&b, ": %v", a.Info)
	}
	return b.String()
}
