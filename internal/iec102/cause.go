package iec102

import (
	"fmt"
	"strings"
)

// Cause is the cause of transmission, bits 5…0 of the COT octet (IEC 60870-5-102
// causes of transmission). 0–2, 11–12 and 19–47 are unused in IEC 102; 48–63 are
// private. The IEC 101/104 codes 44–47 are not IEC 102 codes: their role is taken by
// 14–17.
type Cause uint8

// Causes of transmission (IEC 60870-5-102).
const (
	CauseSpontaneous        Cause = 3  // spontaneous
	CauseInitialized        Cause = 4  // initialised (M_EI_NA_2)
	CauseRequest            Cause = 5  // request or requested: simple reads and their answers
	CauseActivation         Cause = 6  // activation: commands and range reads
	CauseActivationCon      Cause = 7  // activation confirmation: mirror of a command
	CauseDeactivation       Cause = 8  // deactivation
	CauseDeactivationCon    Cause = 9  // deactivation confirmation
	CauseActivationTerm     Cause = 10 // activation termination: closes a multi-ASDU answer
	CauseRecordNotAvailable Cause = 13 // requested data record not available
	CauseTypeNotAvailable   Cause = 14 // requested ASDU type not available (also: no session)
	CauseRecordUnknown      Cause = 15 // record number in the ASDU from the master unknown
	CauseAddressUnknown     Cause = 16 // address specification (CA/RAD) unknown
	CauseObjectNotAvailable Cause = 17 // requested information object not available
	CausePeriodNotAvailable Cause = 18 // requested integration period not available
	CausePrivateFirst       Cause = 48 // first private cause
	CausePrivateLast        Cause = 63 // last private cause
	causeMask                     = 0x3F
	cotNegative                   = 0x40
	cotTest                       = 0x80
)

var causeNames = [...]string{
	CauseSpontaneous:        "spontaneous",
	CauseInitialized:        "initialized",
	CauseRequest:            "request",
	CauseActivation:         "activation",
	CauseActivationCon:      "activation confirmation",
	CauseDeactivation:       "deactivation",
	CauseDeactivationCon:    "deactivation confirmation",
	CauseActivationTerm:     "activation termination",
	CauseRecordNotAvailable: "data record not available",
	CauseTypeNotAvailable:   "ASDU type not available",
	CauseRecordUnknown:      "record number unknown",
	CauseAddressUnknown:     "address unknown",
	CauseObjectNotAvailable: "information object not available",
	CausePeriodNotAvailable: "integration period not available",
}

// String prints the cause number and name, e.g. "7 (activation confirmation)".
func (c Cause) String() string {
	switch {
	case int(c) < len(causeNames) && causeNames[c] != "":
		return fmt.Sprintf("%d (%s)", uint8(c), causeNames[c])
	case c >= CausePrivateFirst && c <= CausePrivateLast:
		return fmt.Sprintf("%d (private)", uint8(c))
	}
	return fmt.Sprintf("%d (reserved)", uint8(c))
}

// IsError reports whether the cause is one of the refusals 13–18.
func (c Cause) IsError() bool { return c >= CauseRecordNotAvailable && c <= CausePeriodNotAvailable }

// COT is the cause-of-transmission octet: bits 5…0 cause, bit 6 P/N (negative
// confirmation), bit 7 T (test).
type COT struct {
	Cause    Cause
	Negative bool // P/N = 1: negative confirmation
	Test     bool // T = 1: test frame
}

// Byte returns the octet on the wire. Cause is masked to 6 bits.
func (c COT) Byte() byte {
	b := byte(c.Cause) & causeMask
	if c.Negative {
		b |= cotNegative
	}
	if c.Test {
		b |= cotTest
	}
	return b
}

// COTFromByte splits the octet on the wire.
func COTFromByte(b byte) COT {
	return COT{Cause: Cause(b & causeMask), Negative: b&cotNegative != 0, Test: b&cotTest != 0}
}

// IsNegative reports whether the COT refuses the request: P/N set or an error cause.
func (c COT) IsNegative() bool { return c.Negative || c.Cause.IsError() }

// String prints the cause and the bits set, e.g. "cause 16 (address unknown) P/N".
func (c COT) String() string {
	var b strings.Builder
	b.WriteString("cause ")
	b.WriteString(c.Cause.String())
	if c.Negative {
		b.WriteString(" P/N")
	}
	if c.Test {
		b.WriteString(" T")
	}
	return b.String()
}

// RecordAddress (RAD) names the data record an ASDU refers to (IEC 60870-5-102 record
// address; REE profile assignments).
type RecordAddress uint8

// Record addresses. 1 and 11–13 are IEC 102; the others are REE assignments.
const (
	RecordDefault         RecordAddress = 0   // session, clock, identification, instant values
	RecordAccounting      RecordAddress = 1   // totals since the start of the accounting period
	RecordProfile1        RecordAddress = 11  // integration period 1: REE hourly load profile
	RecordProfile2        RecordAddress = 12  // integration period 2: REE quarter-hourly profile
	RecordProfile3        RecordAddress = 13  // integration period 3
	RecordDaily1          RecordAddress = 21  // REE daily summaries / closures
	RecordDaily2          RecordAddress = 22  // REE daily summaries / closures
	RecordDaily3          RecordAddress = 23  // REE daily summaries / closures
	RecordEventsPower     RecordAddress = 52  // REE events: power-up / supply voltage
	RecordEventsSync      RecordAddress = 53  // REE events: synchronisation / DST changes
	RecordEventsParams    RecordAddress = 54  // REE events: parameter changes
	RecordEventsErrors    RecordAddress = 55  // REE events: internal errors
	RecordEventsIntrusion RecordAddress = 128 // REE events: intrusion
	RecordEventsComms     RecordAddress = 129 // REE events: communications
	RecordEventsPassword  RecordAddress = 130 // REE events: private password changes
	RecordEventsContract1 RecordAddress = 131 // REE events of contract I (II, III: 132, 133)
	RecordBilling1        RecordAddress = 134 // REE billing of contract I (II, III: 135, 136)
	RecordLatent1         RecordAddress = 137 // REE latent contract I (II, III: 138, 139)

	// RecordHourly and RecordQuarterHourly are the REE names of the two load profiles.
	RecordHourly        = RecordProfile1
	RecordQuarterHourly = RecordProfile2
)

var recordNames = map[RecordAddress]string{
	RecordDefault:         "default",
	RecordAccounting:      "accounting period",
	RecordProfile1:        "profile 1 (hourly)",
	RecordProfile2:        "profile 2 (quarter-hourly)",
	RecordProfile3:        "profile 3",
	RecordDaily1:          "daily 1",
	RecordDaily2:          "daily 2",
	RecordDaily3:          "daily 3",
	RecordEventsPower:     "events: supply",
	RecordEventsSync:      "events: synchronisation",
	RecordEventsParams:    "events: parameters",
	RecordEventsErrors:    "events: internal errors",
	RecordEventsIntrusion: "events: intrusion",
	RecordEventsComms:     "events: communications",
	RecordEventsPassword:  "events: passwords",
	131:                   "events: contract I",
	132:                   "events: contract II",
	133:                   "events: contract III",
	134:                   "billing: contract I",
	135:                   "billing: contract II",
	136:                   "billing: contract III",
	137:                   "latent contract I",
	138:                   "latent contract II",
	139:                   "latent contract III",
}

// String prints the number and, for the addresses listed above, the name.
func (r RecordAddress) String() string {
	if n, ok := recordNames[r]; ok {
		return fmt.Sprintf("%d (%s)", uint8(r), n)
	}
	return fmt.Sprintf("%d", uint8(r))
}

// Information object addresses of the REE profile.
const (
	ObjectActiveImport  = 1   // A+ integrated total
	ObjectActiveExport  = 2   // A−
	ObjectReactiveQ1    = 3   // R1 (Q2 = 4, Q3 = 5, Q4 = 6)
	ObjectReserve7      = 7   // reserve total 7 (8 = reserve 8)
	ObjectBlock8        = 9   // block read: totals 1–8
	ObjectBlock6        = 10  // block read: totals 1–6
	ObjectBlock3        = 11  // block read: totals 1, 3, 6
	ObjectBillingTotal  = 20  // billing: all tariffs (21–29 = tariff periods 1–9)
	GroupInstantTotals  = 192 // instant values: energy totals
	GroupInstantPowers  = 193 // instant values: powers
	GroupInstantVoltAmp = 194 // instant values: voltages and currents
)
