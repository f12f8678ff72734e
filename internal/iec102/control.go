package iec102

import (
	"fmt"
	"strings"
)

// Control is the link control field C (IEC 60870-5-2, control field; unbalanced
// transmission):
//
//	bit 7     RES, 0
//	bit 6     PRM: 1 primary (master) → secondary, 0 secondary → primary
//	bit 5     FCB frame count bit (PRM=1) / ACD access demand (PRM=0)
//	bit 4     FCV frame count bit valid (PRM=1) / DFC data flow control (PRM=0)
//	bits 3…0  function code
type Control byte

// Control field bits.
const (
	ControlPRM Control = 0x40 // primary message
	ControlFCB Control = 0x20 // frame count bit (PRM=1)
	ControlFCV Control = 0x10 // frame count bit valid (PRM=1)
	ControlACD Control = 0x20 // access demand: class 1 data waiting (PRM=0)
	ControlDFC Control = 0x10 // data flow control: send no more user data (PRM=0)

	controlFunc Control = 0x0F
)

// PrimaryControl returns the control field of a primary frame with function fc. FCV is
// set for the functions that carry a valid frame count bit (fc.NeedsFCB), and FCB only
// then.
func PrimaryControl(fc PrimaryFunc, fcb bool) Control {
	c := ControlPRM | Control(fc)&controlFunc
	if fc.NeedsFCB() {
		c |= ControlFCV
		if fcb {
			c |= ControlFCB
		}
	}
	return c
}

// SecondaryControl returns the control field of a secondary frame with function fc and
// the access demand and data flow control bits.
func SecondaryControl(fc SecondaryFunc, acd, dfc bool) Control {
	c := Control(fc) & controlFunc
	if acd {
		c |= ControlACD
	}
	if dfc {
		c |= ControlDFC
	}
	return c
}

// IsPrimary reports whether PRM is set: the frame goes from the master to the outstation.
func (c Control) IsPrimary() bool { return c&ControlPRM != 0 }

// FCB reports the frame count bit (meaningful in primary frames with FCV set).
func (c Control) FCB() bool { return c.IsPrimary() && c&ControlFCB != 0 }

// FCV reports the frame-count-bit-valid bit of a primary frame.
func (c Control) FCV() bool { return c.IsPrimary() && c&ControlFCV != 0 }

// ACD reports the access demand bit of a secondary frame: class 1 data is waiting.
func (c Control) ACD() bool { return !c.IsPrimary() && c&ControlACD != 0 }

// DFC reports the data flow control bit of a secondary frame: further user data (FC 3)
// would overflow the outstation.
func (c Control) DFC() bool { return !c.IsPrimary() && c&ControlDFC != 0 }

// PrimaryFunc returns the function code as a primary function (bits 3…0).
func (c Control) PrimaryFunc() PrimaryFunc { return PrimaryFunc(c & controlFunc) }

// SecondaryFunc returns the function code as a secondary function (bits 3…0).
func (c Control) SecondaryFunc() SecondaryFunc { return SecondaryFunc(c & controlFunc) }

// String prints the field and its meaning, e.g. "73 (PRM FCB FCV user data confirm)" or
// "08 (user data)".
func (c Control) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%02X (", byte(c))
	if c&0x80 != 0 {
		b.WriteString("RES ")
	}
	if c.IsPrimary() {
		b.WriteString("PRM ")
		if c&ControlFCB != 0 {
			b.WriteString("FCB ")
		}
		if c&ControlFCV != 0 {
			b.WriteString("FCV ")
		}
		b.WriteString(c.PrimaryFunc().String())
	} else {
		if c&ControlACD != 0 {
			b.WriteString("ACD ")
		}
		if c&ControlDFC != 0 {
			b.WriteString("DFC ")
		}
		b.WriteString(c.SecondaryFunc().String())
	}
	b.WriteByte(')')
	return b.String()
}

// PrimaryFunc is a function code of a primary (master) frame, IEC 60870-5-2 unbalanced
// transmission. The values not listed are reserved or belong to balanced mode.
type PrimaryFunc uint8

// Primary function codes (IEC 60870-5-2, unbalanced transmission, PRM=1).
const (
	ResetLink         PrimaryFunc = 0  // reset of remote link; fixed frame; → Ack
	ResetProcess      PrimaryFunc = 1  // reset of user process; fixed frame; → Ack
	UserDataConfirm   PrimaryFunc = 3  // SEND/CONFIRM user data; variable frame; → Ack/Nack
	UserDataNoReply   PrimaryFunc = 4  // SEND/NO REPLY user data (broadcast); no answer
	LinkStatusRequest PrimaryFunc = 9  // request status of link; fixed frame; → LinkStatus
	Class1Request     PrimaryFunc = 10 // request user data class 1; fixed frame; → UserData/NoData
	Class2Request     PrimaryFunc = 11 // request user data class 2; fixed frame; → UserData/NoData
)

var primaryNames = [16]string{
	ResetLink:         "reset link",
	ResetProcess:      "reset process",
	UserDataConfirm:   "user data confirm",
	UserDataNoReply:   "user data no reply",
	LinkStatusRequest: "request link status",
	Class1Request:     "request class 1",
	Class2Request:     "request class 2",
}

func (f PrimaryFunc) String() string {
	if int(f) < len(primaryNames) && primaryNames[f] != "" {
		return primaryNames[f]
	}
	return fmt.Sprintf("primary FC %d", uint8(f))
}

// NeedsFCB reports whether frames with this function carry FCV=1 and a frame count bit
// the secondary checks (FC 3, 10, 11). FC 0, 1, 4 and 9 carry FCV=0.
func (f PrimaryFunc) NeedsFCB() bool {
	return f == UserDataConfirm || f == Class1Request || f == Class2Request
}

// HasUserData reports whether the function is sent in a variable frame with an ASDU.
func (f PrimaryFunc) HasUserData() bool { return f == UserDataConfirm || f == UserDataNoReply }

// SecondaryFunc is a function code of a secondary (outstation) frame.
type SecondaryFunc uint8

// Secondary function codes (IEC 60870-5-2, unbalanced transmission, PRM=0).
const (
	Ack                SecondaryFunc = 0  // positive confirmation
	Nack               SecondaryFunc = 1  // message not accepted, link busy
	UserData           SecondaryFunc = 8  // user data (variable frame)
	NoData             SecondaryFunc = 9  // requested data not available
	LinkStatus         SecondaryFunc = 11 // status of link or access demand
	LinkNotFunctioning SecondaryFunc = 14 // link service not functioning
	LinkNotImplemented SecondaryFunc = 15 // link service not implemented
)

var secondaryNames = [16]string{
	Ack:                "ack",
	Nack:               "nack",
	UserData:           "user data",
	NoData:             "no data",
	LinkStatus:         "link status",
	LinkNotFunctioning: "link not functioning",
	LinkNotImplemented: "link not implemented",
}

func (f SecondaryFunc) String() string {
	if int(f) < len(secondaryNames) && secondaryNames[f] != "" {
		return secondaryNames[f]
	}
	return fmt.Sprintf("secondary FC %d", uint8(f))
}
