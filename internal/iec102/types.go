package iec102

import "fmt"

// TypeID is the type identification, the first octet of an ASDU (IEC 60870-5-102 type
// identifications; 128–255 are private, used by the REE profile).
type TypeID uint8

// Type identifications with a codec in this package. The comment gives the standard
// name, the direction and the Info type of the information objects.
const (
	TypeSinglePoint TypeID = 1 // M_SP_TA_2, S→M: single-point events with Tb; SinglePoints

	TypeAccountingTotals           TypeID = 2  // M_IT_TA_2: accounting totals, 4-octet counters; IntegratedTotals
	TypeAccountingTotals3          TypeID = 3  // M_IT_TB_2: 3-octet counters
	TypeAccountingTotals2          TypeID = 4  // M_IT_TC_2: 2-octet counters
	TypePeriodicAccountingTotals   TypeID = 5  // M_IT_TD_2: periodically reset accounting totals, 4 octets
	TypePeriodicAccountingTotals3  TypeID = 6  // M_IT_TE_2
	TypePeriodicAccountingTotals2  TypeID = 7  // M_IT_TF_2
	TypeOperationalTotals          TypeID = 8  // M_IT_TG_2: operational totals (REE: absolute register readings)
	TypeOperationalTotals3         TypeID = 9  // M_IT_TH_2
	TypeOperationalTotals2         TypeID = 10 // M_IT_TI_2
	TypePeriodicOperationalTotals  TypeID = 11 // M_IT_TK_2: periodically reset operational totals (REE: increments per period)
	TypePeriodicOperationalTotals3 TypeID = 12 // M_IT_TL_2
	TypePeriodicOperationalTotals2 TypeID = 13 // M_IT_TM_2

	TypeProductInfo TypeID = 71 // P_MP_NA_2, S→M: manufacturer and product specification; ProductInfo
	TypeSystemTime  TypeID = 72 // M_TI_TA_2, S→M: current system time; TimeB

	TypeReadProductInfo      TypeID = 100 // C_RD_NA_2, M→S: read manufacturer and product; no objects
	TypeReadSinglePointRange TypeID = 102 // C_SP_NB_2, M→S: read single-point events of a time range; TimeRange
	TypeReadTime             TypeID = 103 // C_TI_NA_2, M→S: read current time; no objects

	TypeReadAccountingTotals          TypeID = 120 // C_CI_NR_2, M→S: accounting totals by time and address range; TotalsRequest
	TypeReadPeriodicAccountingTotals  TypeID = 121 // C_CI_NS_2
	TypeReadOperationalTotals         TypeID = 122 // C_CI_NT_2 (REE: absolute totals → 8)
	TypeReadPeriodicOperationalTotals TypeID = 123 // C_CI_NU_2 (REE: increments → 11)

	TypeReadCurrentBilling   TypeID = 133 // C_TA_VC_2, M→S: read current billing values; no objects
	TypeReadStoredBilling    TypeID = 134 // C_TA_VM_2, M→S: read stored billing closures; TimeRange
	TypeCurrentBilling       TypeID = 135 // M_TA_VC_2, S→M: current billing records; BillingRecords
	TypeStoredBilling        TypeID = 136 // M_TA_VM_2, S→M: stored billing records; BillingRecords
	TypeTotalsBlocks         TypeID = 139 // M_IB_TG_2, S→M: blocks of absolute totals; TotalsBlocks
	TypePeriodicTotalsBlocks TypeID = 140 // M_IB_TK_2, S→M: blocks of incremental totals; TotalsBlocks

	TypeReadConfiguration    TypeID = 141 // C_RM_NA_2, M→S: read RM configuration; no objects
	TypeReadContractedPowers TypeID = 144 // C_PC_NA_2, M→S: read contracted powers; no objects
	TypeContractedPowers     TypeID = 145 // M_PC_NA_2, S→M: contracted powers; ContractedPowers
	TypeReadHolidays         TypeID = 147 // C_DF_NA_2, M→S: read holidays; no objects
	TypeHolidays             TypeID = 148 // M_DF_NA_2, S→M: holidays; Holidays

	TypeReadInstantValues TypeID = 162 // P_IN_VA_2 (C_IV_RQ), M→S: read instant values; InstantRequest
	TypeInstantValues     TypeID = 163 // R_IN_VA_2 (M_IV_RP), S→M: instant values; InstantValues

	TypeSetTime                  TypeID = 181 // C_CS_TA_2, M→S and mirror: set date and time; TimeB
	TypeReadMeasuringPointParams TypeID = 182 // C_PI_NA_2, M→S: read measuring-point parameters; no objects
	TypeStartSession             TypeID = 183 // C_AC_NA_2, M→S and mirror: start session; Password
	TypeEndSession               TypeID = 187 // C_FS_NA_2, M→S and mirror: end session; no objects
	TypeReadTotalsBlocks         TypeID = 189 // C_CB_NT_2, M→S: read blocks of absolute totals; BlockRequest
	TypeReadPeriodicTotalsBlocks TypeID = 190 // C_CB_UN_2 (C_CB_NU_2), M→S: read blocks of increments; BlockRequest
)

// Type identifications named in the reference without a layout this package decodes:
// DecodeASDU returns their objects as Raw with an *UnknownTypeError.
const (
	TypeEndOfInitialization     TypeID = 70  // M_EI_NA_2: end of initialisation
	TypeReadSinglePoints        TypeID = 101 // C_SP_NA_2: read single-point records
	TypeMeasuringPointParams    TypeID = 129 // P_ME_NA_2, REE: measuring-point parameters (answer to 182)
	TypeConfiguration           TypeID = 142 // M_RM_NA_2, REE: RM configuration (answer to 141)
	TypeReadTariffConfiguration TypeID = 150 // P_TA_IN_2, REE phase 2: read tariff configuration
	TypeTariffConfiguration     TypeID = 151 // R_TA_IN_2, REE phase 2: tariff configuration
	TypeReadRM2Parameters       TypeID = 156 // P_RM_R2_2, REE phase 2: read RM2 parameters
	TypeRM2Parameters           TypeID = 157 // R_RM_R2_2, REE phase 2: RM2 parameters
)

// payloadKind says how the information objects of a type are laid out.
type payloadKind uint8

const (
	kindUnknown      payloadKind = iota // no codec: Raw and *UnknownTypeError
	kindNone                            // no information objects
	kindPassword                        // Password, 4 octets
	kindProduct                         // ProductInfo, 6 octets
	kindTimeB                           // TimeB, 7 octets
	kindTotalsReq                       // TotalsRequest, 12 octets
	kindTimeRange                       // TimeRange, 10 octets
	kindBlockReq                        // BlockRequest, 11 octets
	kindTotals                          // IntegratedTotals, VSQ × (1+w+1) + 5
	kindSinglePoints                    // SinglePoints, VSQ × 9
	kindBilling                         // BillingRecords, VSQ × 63
	kindBlocks                          // TotalsBlocks, VSQ blocks of variable size
	kindPowers                          // ContractedPowers, VSQ × 5 + 5
	kindHolidays                        // Holidays, VSQ × 5
	kindInstantReq                      // InstantRequest, VSQ × 1
	kindInstant                         // InstantValues, VSQ groups of variable size
	kindRaw                             // Raw: any type, encode only
)

// fixedSize returns the size of the single object of fixed-size kinds, else 0.
func (k payloadKind) fixedSize() int {
	switch k {
	case kindPassword:
		return 4
	case kindProduct:
		return 6
	case kindTimeB:
		return TimeBLen
	case kindTotalsReq:
		return 12
	case kindTimeRange:
		return 10
	case kindBlockReq:
		return 11
	}
	return 0
}

// Procedure is the application procedure a request starts (REE profile, application
// procedures), which tells both sides which answers to expect.
type Procedure uint8

// Procedures.
const (
	ProcedureNone      Procedure = iota // not a request
	ProcedureRead                       // COT 5 request → one answer with COT 5 (C_RD_NA_2, C_TI_NA_2…)
	ProcedureCommand                    // COT 6 command → its mirror with COT 7 (C_AC_NA_2, C_FS_NA_2, C_CS_TA_2)
	ProcedureRangeRead                  // COT 6 → mirror COT 7, data ASDUs COT 5…, mirror COT 10
)

func (p Procedure) String() string {
	switch p {
	case ProcedureRead:
		return "read"
	case ProcedureCommand:
		return "command"
	case ProcedureRangeRead:
		return "range read"
	}
	return "none"
}

type typeInfo struct {
	name   string
	kind   payloadKind
	proc   Procedure
	answer TypeID // data ASDU type answering the request (0: the mirror only)
	vsq    int8   // VSQ NewRequest writes: -1 = the number of objects
}

// typeTable holds what the package knows about each type identification. The request
// VSQs are those masters send (REE data unit parameters; iec870ree for C_PC_NA_2 and
// C_RM_NA_2, which the C# master sends with VSQ 1).
var typeTable = [256]typeInfo{
	1:   {name: "M_SP_TA_2", kind: kindSinglePoints},
	2:   {name: "M_IT_TA_2", kind: kindTotals},
	3:   {name: "M_IT_TB_2", kind: kindTotals},
	4:   {name: "M_IT_TC_2", kind: kindTotals},
	5:   {name: "M_IT_TD_2", kind: kindTotals},
	6:   {name: "M_IT_TE_2", kind: kindTotals},
	7:   {name: "M_IT_TF_2", kind: kindTotals},
	8:   {name: "M_IT_TG_2", kind: kindTotals},
	9:   {name: "M_IT_TH_2", kind: kindTotals},
	10:  {name: "M_IT_TI_2", kind: kindTotals},
	11:  {name: "M_IT_TK_2", kind: kindTotals},
	12:  {name: "M_IT_TL_2", kind: kindTotals},
	13:  {name: "M_IT_TM_2", kind: kindTotals},
	70:  {name: "M_EI_NA_2"},
	71:  {name: "P_MP_NA_2", kind: kindProduct},
	72:  {name: "M_TI_TA_2", kind: kindTimeB},
	100: {name: "C_RD_NA_2", kind: kindNone, proc: ProcedureRead, answer: TypeProductInfo, vsq: 0},
	101: {name: "C_SP_NA_2"},
	102: {name: "C_SP_NB_2", kind: kindTimeRange, proc: ProcedureRangeRead, answer: TypeSinglePoint, vsq: 0},
	103: {name: "C_TI_NA_2", kind: kindNone, proc: ProcedureRead, answer: TypeSystemTime, vsq: 0},
	120: {name: "C_CI_NR_2", kind: kindTotalsReq, proc: ProcedureRangeRead, answer: TypeAccountingTotals, vsq: 1},
	121: {name: "C_CI_NS_2", kind: kindTotalsReq, proc: ProcedureRangeRead, answer: TypePeriodicAccountingTotals, vsq: 1},
	122: {name: "C_CI_NT_2", kind: kindTotalsReq, proc: ProcedureRangeRead, answer: TypeOperationalTotals, vsq: 1},
	123: {name: "C_CI_NU_2", kind: kindTotalsReq, proc: ProcedureRangeRead, answer: TypePeriodicOperationalTotals, vsq: 1},
	128: {name: "M_DS_TA_2"},
	129: {name: "P_ME_NA_2"},
	130: {name: "M_DS_TB_2"},
	131: {name: "M_CH_TA_2"},
	132: {name: "C_PK_2"},
	133: {name: "C_TA_VC_2", kind: kindNone, proc: ProcedureRangeRead, answer: TypeCurrentBilling, vsq: 0},
	134: {name: "C_TA_VM_2", kind: kindTimeRange, proc: ProcedureRangeRead, answer: TypeStoredBilling, vsq: 1},
	135: {name: "M_TA_VC_2", kind: kindBilling},
	136: {name: "M_TA_VM_2", kind: kindBilling},
	137: {name: "C_TA_CP_2"},
	139: {name: "M_IB_TG_2", kind: kindBlocks},
	140: {name: "M_IB_TK_2", kind: kindBlocks},
	141: {name: "C_RM_NA_2", kind: kindNone, proc: ProcedureRead, answer: TypeConfiguration, vsq: 0},
	142: {name: "M_RM_NA_2"},
	144: {name: "C_PC_NA_2", kind: kindNone, proc: ProcedureRead, answer: TypeContractedPowers, vsq: 0},
	145: {name: "M_PC_NA_2", kind: kindPowers},
	147: {name: "C_DF_NA_2", kind: kindNone, proc: ProcedureRead, answer: TypeHolidays, vsq: 0},
	148: {name: "M_DF_NA_2", kind: kindHolidays},
	150: {name: "P_TA_IN_2"},
	151: {name: "R_TA_IN_2"},
	156: {name: "P_RM_R2_2"},
	157: {name: "R_RM_R2_2"},
	162: {name: "P_IN_VA_2", kind: kindInstantReq, proc: ProcedureRead, answer: TypeInstantValues, vsq: -1},
	163: {name: "R_IN_VA_2", kind: kindInstant},
	181: {name: "C_CS_TA_2", kind: kindTimeB, proc: ProcedureCommand, vsq: 1},
	182: {name: "C_PI_NA_2", kind: kindNone, proc: ProcedureRead, answer: TypeMeasuringPointParams, vsq: 0},
	183: {name: "C_AC_NA_2", kind: kindPassword, proc: ProcedureCommand, vsq: 1},
	187: {name: "C_FS_NA_2", kind: kindNone, proc: ProcedureCommand, vsq: 0},
	189: {name: "C_CB_NT_2", kind: kindBlockReq, proc: ProcedureRangeRead, answer: TypeTotalsBlocks, vsq: 1},
	190: {name: "C_CB_UN_2", kind: kindBlockReq, proc: ProcedureRangeRead, answer: TypePeriodicTotalsBlocks, vsq: 1},
}

// Name returns the standard name, e.g. "C_AC_NA_2", or "" for a type not listed.
func (t TypeID) Name() string { return typeTable[t].name }

// String prints the number and name, e.g. "183 C_AC_NA_2".
func (t TypeID) String() string {
	if n := typeTable[t].name; n != "" {
		return fmt.Sprintf("%d %s", uint8(t), n)
	}
	return fmt.Sprintf("%d", uint8(t))
}

// Supported reports whether DecodeASDU decodes the type's information objects into
// typed values (otherwise it returns Raw and an *UnknownTypeError).
func (t TypeID) Supported() bool { return typeTable[t].kind != kindUnknown }

// Procedure returns the application procedure a request of this type starts, or
// ProcedureNone for monitor-direction types.
func (t TypeID) Procedure() Procedure { return typeTable[t].proc }

// Answer returns the type of the data ASDUs that answer a request of this type (e.g.
// 122 C_CI_NT_2 → 8 M_IT_TG_2), or 0 for commands, which are answered by their mirror
// only, and for non-requests.
func (t TypeID) Answer() TypeID { return typeTable[t].answer }

// RequestCause returns the cause of transmission a master sends the request with: 5
// (request) for ProcedureRead, 6 (activation) for commands and range reads, 0 for
// non-requests.
func (t TypeID) RequestCause() Cause {
	switch typeTable[t].proc {
	case ProcedureRead:
		return CauseRequest
	case ProcedureCommand, ProcedureRangeRead:
		return CauseActivation
	}
	return 0
}

// counterWidth is the counter size of the integrated-total types 2–13: 4, 3 or 2 octets.
func counterWidth(t TypeID) int { return 4 - int(t-2)%3 }
