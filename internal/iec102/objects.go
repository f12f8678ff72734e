package iec102

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Info is the information-object part of an ASDU, the octets after the data unit
// identifier, as typed values. The concrete types are those of this file; Raw carries
// the objects of type identifications without a codec. A nil Info is an ASDU without
// objects (requests such as C_RD_NA_2, and the mirrors that omit the request's objects).
//
// Each type fits the type identifications named in its comment; ASDU.Append reports
// ErrASDU for another combination.
type Info interface {
	// Objects returns the number of information objects, the count New writes into the
	// variable structure qualifier: the length of a list, 1 for a single object.
	Objects() int

	kind() payloadKind
	appendInfo(dst []byte, t TypeID) ([]byte, error)
}

// Password is the session password of C_AC_NA_2 (183), an UI32 little-endian ("clave de
// acceso" in REE). Its String is redacted.
type Password uint32

// Objects returns 1.
func (Password) Objects() int       { return 1 }
func (Password) kind() payloadKind  { return kindPassword }
func (p Password) String() string   { return "password(redacted)" }
func (p Password) GoString() string { return "iec102.Password(redacted)" }
func (p Password) appendInfo(dst []byte, _ TypeID) ([]byte, error) {
	return binary.LittleEndian.AppendUint32(dst, uint32(p)), nil
}

// ProductInfo is the manufacturer and product specification of P_MP_NA_2 (71), 6 octets:
// the date of the protocol specification, the manufacturer code and the product (REE:
// equipment serial) code.
type ProductInfo struct {
	SpecDate     uint8  // REE meters: bits 7…4 year after 2000, bits 3…0 month (24H = 04/2002)
	Manufacturer uint8  // manufacturer code
	Product      uint32 // product or equipment code, UI32 little-endian
}

// Objects returns 1.
func (ProductInfo) Objects() int      { return 1 }
func (ProductInfo) kind() payloadKind { return kindProduct }

// SpecYear returns the year of the protocol specification as REE meters encode it.
func (p ProductInfo) SpecYear() int { return 2000 + int(p.SpecDate>>4) }

// SpecMonth returns the month of the protocol specification as REE meters encode it.
func (p ProductInfo) SpecMonth() int { return int(p.SpecDate & 0x0F) }

func (p ProductInfo) appendInfo(dst []byte, _ TypeID) ([]byte, error) {
	dst = append(dst, p.SpecDate, p.Manufacturer)
	return binary.LittleEndian.AppendUint32(dst, p.Product), nil
}

// Objects returns 1. TimeB is the object of M_TI_TA_2 (72) and C_CS_TA_2 (181).
func (TimeB) Objects() int      { return 1 }
func (TimeB) kind() payloadKind { return kindTimeB }
func (t TimeB) appendInfo(dst []byte, _ TypeID) ([]byte, error) {
	return t.Append(dst)
}

// TotalsRequest is the 12-octet object of C_CI_NR_2…C_CI_NU_2 (120–123): integrated
// totals of the addresses First…Last for the periods ending From…To, inclusive (REE:
// end-of-interval stamps, so the hourly value stamped 01:00 covers 00:00–01:00).
type TotalsRequest struct {
	First, Last uint8 // information object addresses, e.g. 1…8
	From, To    TimeA
}

// Objects returns 1.
func (TotalsRequest) Objects() int      { return 1 }
func (TotalsRequest) kind() payloadKind { return kindTotalsReq }
func (r TotalsRequest) appendInfo(dst []byte, _ TypeID) ([]byte, error) {
	dst = append(dst, r.First, r.Last)
	return appendTimes(dst, r.From, r.To)
}

func appendTimes(dst []byte, ts ...TimeA) ([]byte, error) {
	var err error
	for _, t := range ts {
		if dst, err = t.Append(dst); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// TimeRange is the 10-octet object of C_SP_NB_2 (102, events) and C_TA_VM_2 (134,
// stored billing): a start and an end time, inclusive.
type TimeRange struct {
	From, To TimeA
}

// Objects returns 1 (masters send C_SP_NB_2 with VSQ 0 all the same; NewRequest does).
func (TimeRange) Objects() int      { return 1 }
func (TimeRange) kind() payloadKind { return kindTimeRange }
func (r TimeRange) appendInfo(dst []byte, _ TypeID) ([]byte, error) {
	return appendTimes(dst, r.From, r.To)
}

// BlockRequest is the 11-octet object of C_CB_NT_2 / C_CB_UN_2 (189, 190): one block
// address (ObjectBlock8, ObjectBlock6 or ObjectBlock3) and a time range.
type BlockRequest struct {
	Block    uint8
	From, To TimeA
}

// Objects returns 1.
func (BlockRequest) Objects() int      { return 1 }
func (BlockRequest) kind() payloadKind { return kindBlockReq }
func (r BlockRequest) appendInfo(dst []byte, _ TypeID) ([]byte, error) {
	dst = append(dst, r.Block)
	return appendTimes(dst, r.From, r.To)
}

// Quality is the qualifier octet after an integrated total. Generic IEC 102: IV, CA, CY
// and a 5-bit sequence number. The REE profile re-uses bits 4…0 as period flags (VH, MP,
// INT, AL, RES; bit order as daiiniel's serializer, iec870ree keeps the octet raw).
type Quality uint8

// Qualifier bits.
const (
	QualityIV  Quality = 0x80 // invalid
	QualityCA  Quality = 0x40 // counter adjusted
	QualityCY  Quality = 0x20 // carry: counter overflow in the period
	QualityVH  Quality = 0x10 // REE: time verification / synchronisation during the period
	QualityMP  Quality = 0x08 // REE: parameter modification during the period
	QualityINT Quality = 0x04 // REE: intrusion during the period
	QualityAL  Quality = 0x02 // REE: period incomplete (e.g. supply failure)
	QualityRES Quality = 0x01 // REE: reserved
)

var qualityNames = [8]string{"RES", "AL", "INT", "MP", "VH", "CY", "CA", "IV"}

// Invalid reports the IV bit.
func (q Quality) Invalid() bool { return q&QualityIV != 0 }

// Sequence returns bits 4…0, the sequence number of generic IEC 102 (REE: flags).
func (q Quality) Sequence() int { return int(q & 0x1F) }

// String lists the bits set by their REE names, e.g. "IV|AL", or "ok" for zero.
func (q Quality) String() string {
	if q == 0 {
		return "ok"
	}
	var parts []string
	for i := 7; i >= 0; i-- {
		if q&(1<<i) != 0 {
			parts = append(parts, qualityNames[i])
		}
	}
	return strings.Join(parts, "|")
}

// Counter is a counter reading with its qualifier, as in the blocks and billing records.
type Counter struct {
	Value   uint32
	Quality Quality
}

// IntegratedTotal is one object of the M_IT_Tx_2 types: address, counter reading
// (4, 3 or 2 octets by type; REE: kWh or kvarh) and qualifier.
type IntegratedTotal struct {
	Address uint8 // ObjectActiveImport (1), ObjectActiveExport (2), R1…R4 (3–6), reserves (7, 8)
	Value   uint32
	Quality Quality
}

// IntegratedTotals is the information of the M_IT_Tx_2 types (2–13): N totals and one
// common Ta, the end of the integration period they belong to. VSQ = N. REE: M_IT_TG_2
// (8) carries absolute register readings, M_IT_TK_2 (11) increments in the period.
type IntegratedTotals struct {
	Totals []IntegratedTotal
	End    TimeA
}

// Objects returns the number of totals.
func (it IntegratedTotals) Objects() int   { return len(it.Totals) }
func (IntegratedTotals) kind() payloadKind { return kindTotals }
func (it IntegratedTotals) appendInfo(dst []byte, t TypeID) ([]byte, error) {
	w := counterWidth(t)
	for _, v := range it.Totals {
		if w < 4 && v.Value >= 1<<(8*w) {
			return dst, fmt.Errorf("%w: total %d does not fit %d octets", ErrRange, v.Value, w)
		}
		dst = append(dst, v.Address)
		for i := range w {
			dst = append(dst, byte(v.Value>>(8*i)))
		}
		dst = append(dst, byte(v.Quality))
	}
	return it.End.Append(dst)
}

func decodeTotals(t TypeID, n int, b []byte) (Info, error) {
	w := counterWidth(t)
	if want := n*(w+2) + TimeALen; len(b) != want {
		return nil, fmt.Errorf("%w: %s with %d totals needs %d octets, have %d", ErrASDU, t, n, want, len(b))
	}
	it := IntegratedTotals{Totals: make([]IntegratedTotal, n)}
	for i := range it.Totals {
		o := b[i*(w+2):]
		var v uint32
		for k := range w {
			v |= uint32(o[1+k]) << (8 * k)
		}
		it.Totals[i] = IntegratedTotal{Address: o[0], Value: v, Quality: Quality(o[1+w])}
	}
	it.End = decodeTimeA(b[n*(w+2):])
	return it, nil
}

// SinglePoint is one object of M_SP_TA_2 (1), 9 octets: address (REE: event group),
// the SPQ octet (bit 0 SPI, bits 7…1 event code) and Tb.
type SinglePoint struct {
	Address uint8
	Value   bool  // SPI, bit 0 of the SPQ octet
	Code    uint8 // bits 7…1 of the SPQ octet (REE: event code), 0–127
	Time    TimeB
}

// SinglePoints is the information of M_SP_TA_2 (1). VSQ = number of events.
type SinglePoints []SinglePoint

const singlePointLen = 2 + TimeBLen

// Objects returns the number of events.
func (s SinglePoints) Objects() int    { return len(s) }
func (SinglePoints) kind() payloadKind { return kindSinglePoints }
func (s SinglePoints) appendInfo(dst []byte, _ TypeID) ([]byte, error) {
	var err error
	for _, p := range s {
		if p.Code > 127 {
			return dst, fmt.Errorf("%w: event code %d above 127", ErrRange, p.Code)
		}
		dst = append(dst, p.Address, p.Code<<1|bit(p.Value, 1))
		if dst, err = p.Time.Append(dst); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func decodeSinglePoints(t TypeID, n int, b []byte) (Info, error) {
	if len(b) != n*singlePointLen {
		return nil, fmt.Errorf("%w: %s with %d events needs %d octets, have %d", ErrASDU, t, n, n*singlePointLen, len(b))
	}
	s := make(SinglePoints, n)
	for i := range s {
		o := b[i*singlePointLen:]
		s[i] = SinglePoint{Address: o[0], Value: o[1]&1 != 0, Code: o[1] >> 1, Time: decodeTimeB(o[2:])}
	}
	return s, nil
}

// EnergyTotals is an absolute reading and the increment of the billing period with
// their common qualifier, as in the billing records.
type EnergyTotals struct {
	Absolute    uint32
	Incremental uint32
	Quality     Quality
}

// BillingRecord is one 63-octet object of M_TA_VC_2 / M_TA_VM_2 (135, 136): the billing
// values of one tariff period of one contract (layout as iec870ree decodes it).
type BillingRecord struct {
	Address       uint8 // ObjectBillingTotal (20) for all tariffs, 21–29 for periods 1–9
	Active        EnergyTotals
	Inductive     EnergyTotals // reactive, inductive
	Capacitive    EnergyTotals // reactive, capacitive
	Reserve7      Counter
	Reserve8      Counter
	MaxDemand     Counter // maximum demand and its qualifier …
	MaxDemandTime TimeA   // … and when it occurred (on the wire between the two)
	Excess        Counter // excess power
	Start, End    TimeA   // billing period
}

// BillingRecords is the information of M_TA_VC_2 / M_TA_VM_2 (135, 136).
type BillingRecords []BillingRecord

const billingRecordLen = 63

// Objects returns the number of records.
func (r BillingRecords) Objects() int    { return len(r) }
func (BillingRecords) kind() payloadKind { return kindBilling }
func (r BillingRecords) appendInfo(dst []byte, _ TypeID) ([]byte, error) {
	for _, v := range r {
		for _, t := range [...]TimeA{v.MaxDemandTime, v.Start, v.End} {
			if err := t.checkBits(); err != nil {
				return dst, err
			}
		}
		dst = append(dst, v.Address)
		for _, e := range [...]EnergyTotals{v.Active, v.Inductive, v.Capacitive} {
			dst = binary.LittleEndian.AppendUint32(dst, e.Absolute)
			dst = binary.LittleEndian.AppendUint32(dst, e.Incremental)
			dst = append(dst, byte(e.Quality))
		}
		dst = appendCounter(dst, v.Reserve7)
		dst = appendCounter(dst, v.Reserve8)
		dst = binary.LittleEndian.AppendUint32(dst, v.MaxDemand.Value)
		dst = v.MaxDemandTime.appendUnchecked(dst)
		dst = append(dst, byte(v.MaxDemand.Quality))
		dst = appendCounter(dst, v.Excess)
		dst = v.Start.appendUnchecked(dst)
		dst = v.End.appendUnchecked(dst)
	}
	return dst, nil
}

func appendCounter(dst []byte, c Counter) []byte {
	return append(binary.LittleEndian.AppendUint32(dst, c.Value), byte(c.Quality))
}

func counterAt(b []byte) Counter {
	return Counter{Value: binary.LittleEndian.Uint32(b), Quality: Quality(b[4])}
}

func energyAt(b []byte) EnergyTotals {
	return EnergyTotals{Absolute: binary.LittleEndian.Uint32(b), Incremental: binary.LittleEndian.Uint32(b[4:]), Quality: Quality(b[8])}
}

func decodeBilling(t TypeID, n int, b []byte) (Info, error) {
	if len(b) != n*billingRecordLen {
		return nil, fmt.Errorf("%w: %s with %d records needs %d octets, have %d", ErrASDU, t, n, n*billingRecordLen, len(b))
	}
	r := make(BillingRecords, n)
	for i := range r {
		o := b[i*billingRecordLen:]
		r[i] = BillingRecord{
			Address:       o[0],
			Active:        energyAt(o[1:]),
			Inductive:     energyAt(o[10:]),
			Capacitive:    energyAt(o[19:]),
			Reserve7:      counterAt(o[28:]),
			Reserve8:      counterAt(o[33:]),
			MaxDemand:     Counter{Value: binary.LittleEndian.Uint32(o[38:]), Quality: Quality(o[47])},
			MaxDemandTime: decodeTimeA(o[42:]),
			Excess:        counterAt(o[48:]),
			Start:         decodeTimeA(o[53:]),
			End:           decodeTimeA(o[58:]),
		}
	}
	return r, nil
}

// TotalsBlock is one object of M_IB_TG_2 / M_IB_TK_2 (139, 140): a block address and
// its counters, 8 for ObjectBlock8 (totals 1–8), 6 for ObjectBlock6 (1–6), 3 for
// ObjectBlock3 (totals 1, 3, 6), then the Ta ending the period.
type TotalsBlock struct {
	Block    uint8
	Counters []Counter
	End      TimeA
}

// BlockCounters returns how many counters a block address carries: 8, 6 or 3, or 0 for
// an address that is not a block.
func BlockCounters(block uint8) int {
	switch block {
	case ObjectBlock8:
		return 8
	case ObjectBlock6:
		return 6
	case ObjectBlock3:
		return 3
	}
	return 0
}

// TotalsBlocks is the information of M_IB_TG_2 / M_IB_TK_2 (139, 140). VSQ = number of
// blocks.
type TotalsBlocks []TotalsBlock

// Objects returns the number of blocks.
func (tb TotalsBlocks) Objects() int   { return len(tb) }
func (TotalsBlocks) kind() payloadKind { return kindBlocks }
func (tb TotalsBlocks) appendInfo(dst []byte, _ TypeID) ([]byte, error) {
	var err error
	for _, blk := range tb {
		if k := BlockCounters(blk.Block); k == 0 || k != len(blk.Counters) {
			return dst, fmt.Errorf("%w: block %d with %d counters (blocks 9, 10, 11 carry 8, 6, 3)", ErrRange, blk.Block, len(blk.Counters))
		}
		dst = append(dst, blk.Block)
		for _, c := range blk.Counters {
			dst = appendCounter(dst, c)
		}
		if dst, err = blk.End.Append(dst); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func decodeBlocks(t TypeID, n int, b []byte) (Info, error) {
	tb := make(TotalsBlocks, n)
	for i := range tb {
		if len(b) == 0 {
			return nil, fmt.Errorf("%w: %s: %d blocks announced, %d present", ErrASDU, t, n, i)
		}
		k := BlockCounters(b[0])
		if k == 0 {
			return nil, fmt.Errorf("%w: %s: block address %d is not 9, 10 or 11", ErrASDU, t, b[0])
		}
		size := 1 + 5*k + TimeALen
		if len(b) < size {
			return nil, fmt.Errorf("%w: %s: block %d needs %d octets, have %d", ErrASDU, t, b[0], size, len(b))
		}
		blk := TotalsBlock{Block: b[0], Counters: make([]Counter, k)}
		for j := range blk.Counters {
			blk.Counters[j] = counterAt(b[1+5*j:])
		}
		blk.End = decodeTimeA(b[1+5*k:])
		tb[i] = blk
		b = b[size:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %s: %d octets after %d blocks", ErrASDU, t, len(b), n)
	}
	return tb, nil
}

// ContractedPower is one contracted power of M_PC_NA_2 (145).
type ContractedPower struct {
	Address uint8  // tariff period
	Power   uint32 // REE: kW
}

// ContractedPowers is the information of M_PC_NA_2 (145): N powers and one Ta. VSQ = N.
type ContractedPowers struct {
	Powers []ContractedPower
	Time   TimeA
}

// Objects returns the number of powers.
func (p ContractedPowers) Objects() int    { return len(p.Powers) }
func (ContractedPowers) kind() payloadKind { return kindPowers }
func (p ContractedPowers) appendInfo(dst []byte, _ TypeID) ([]byte, error) {
	for _, v := range p.Powers {
		dst = binary.LittleEndian.AppendUint32(append(dst, v.Address), v.Power)
	}
	return p.Time.Append(dst)
}

func decodePowers(t TypeID, n int, b []byte) (Info, error) {
	if want := n*5 + TimeALen; len(b) != want {
		return nil, fmt.Errorf("%w: %s with %d powers needs %d octets, have %d", ErrASDU, t, n, want, len(b))
	}
	p := ContractedPowers{Powers: make([]ContractedPower, n)}
	for i := range p.Powers {
		p.Powers[i] = ContractedPower{Address: b[5*i], Power: binary.LittleEndian.Uint32(b[5*i+1:])}
	}
	p.Time = decodeTimeA(b[5*n:])
	return p, nil
}

// Holidays is the information of M_DF_NA_2 (148): N dates as Ta. VSQ = N.
type Holidays []TimeA

// Objects returns the number of dates.
func (h Holidays) Objects() int    { return len(h) }
func (Holidays) kind() payloadKind { return kindHolidays }
func (h Holidays) appendInfo(dst []byte, _ TypeID) ([]byte, error) {
	return appendTimes(dst, h...)
}

func decodeHolidays(t TypeID, n int, b []byte) (Info, error) {
	if len(b) != n*TimeALen {
		return nil, fmt.Errorf("%w: %s with %d dates needs %d octets, have %d", ErrASDU, t, n, n*TimeALen, len(b))
	}
	h := make(Holidays, n)
	for i := range h {
		h[i] = decodeTimeA(b[i*TimeALen:])
	}
	return h, nil
}

// InstantRequest is the information of P_IN_VA_2 (162): the instant-value groups asked
// for (GroupInstantTotals, GroupInstantPowers, GroupInstantVoltAmp), one octet each.
type InstantRequest []uint8

// Objects returns the number of groups.
func (r InstantRequest) Objects() int    { return len(r) }
func (InstantRequest) kind() payloadKind { return kindInstantReq }
func (r InstantRequest) appendInfo(dst []byte, _ TypeID) ([]byte, error) {
	return append(dst, r...), nil
}

// Raw is the information objects of a type identification this package has no codec
// for, as octets. It encodes under any type identification; set the ASDU's Count
// yourself (New sets 1 for non-empty Raw).
type Raw []byte

// Objects returns 1 for non-empty Raw, else 0.
func (r Raw) Objects() int {
	if len(r) == 0 {
		return 0
	}
	return 1
}
func (Raw) kind() payloadKind { return kindRaw }
func (r Raw) appendInfo(dst []byte, _ TypeID) ([]byte, error) {
	return append(dst, r...), nil
}
