package iec102

import (
	"errors"
	"fmt"
	"strings"
)

// Errors callers branch on with errors.Is. Returned errors wrap these with detail.
var (
	// ErrShortFrame means the bytes end before a complete frame: read more and decode
	// again. It is not a malformed frame.
	ErrShortFrame = errors.New("iec102: short frame, need more bytes")

	// ErrFrame is the root of every malformed-frame error (IEC 60870-5-1 FT1.2 receiver
	// checks): no second start byte 68H, no end byte 16H where the length says, a length
	// field out of range, a checksum mismatch. errors.Is(err, ErrFrame) holds for
	// ErrLength and ErrChecksum too.
	ErrFrame = errors.New("iec102: malformed frame")

	// ErrLength means a variable frame whose two length octets differ or are below 3, or
	// user data too long for one frame (L ≤ 255, so an ASDU of at most MaxASDULen octets).
	ErrLength = fmt.Errorf("%w: bad length", ErrFrame)

	// ErrChecksum means the CS octet is not the modulo-256 sum of the octets it covers
	// (C and A for fixed frames; C, A and the ASDU for variable frames).
	ErrChecksum = fmt.Errorf("%w: checksum mismatch", ErrFrame)

	// ErrASDU means a well-formed frame whose ASDU does not fit its type identification:
	// shorter than the 6-octet data unit identifier, information objects of the wrong
	// size for the VSQ count, an unknown block or instant-value group address.
	ErrASDU = errors.New("iec102: malformed ASDU")

	// ErrUnknownType matches every *UnknownTypeError.
	ErrUnknownType = errors.New("iec102: type identification not supported")

	// ErrRange means a value that does not fit the field it is to be encoded in (a
	// minute above 63, a counter above 2²⁴−1 in a 3-octet total, more than 127 objects…).
	ErrRange = errors.New("iec102: value out of range")

	// ErrTime means a time tag that names no instant: month 0, day 31 in April, hour 24.
	// Raised by TimeA.Time and TimeB.Time, never by decoding, which keeps every bit.
	ErrTime = errors.New("iec102: invalid time tag")

	// ErrTimeout means no frame arrived before the deadline. Errors from ReadFrame wrap
	// both ErrTimeout and the connection's own error (os.ErrDeadlineExceeded).
	ErrTimeout = errors.New("iec102: timeout")

	// ErrNegative matches every *NegativeError.
	ErrNegative = errors.New("iec102: negative confirmation")

	// ErrUnexpectedCause matches every *UnexpectedCauseError.
	ErrUnexpectedCause = errors.New("iec102: unexpected cause of transmission")

	// ErrUnexpectedFrame means a frame that is not a valid answer to the request the
	// Primary is waiting for: wrong address, PRM=1, a function code that does not answer
	// the request. The request stays outstanding.
	ErrUnexpectedFrame = errors.New("iec102: unexpected frame")

	// ErrLinkDown means the Primary will not send a frame with FCV=1 (user data, class
	// 1/2 polls) because no reset of remote link has been confirmed since it was created
	// or since a request went unanswered through every retry (IEC 60870-5-2: the link
	// must be reset before the frame count bit means anything).
	ErrLinkDown = errors.New("iec102: link not reset")

	// ErrNoRequest means Retry or Answer with no request outstanding.
	ErrNoRequest = errors.New("iec102: no request outstanding")
)

// UnknownTypeError is a type identification this package has no codec for. DecodeASDU
// still returns the data unit identifier and the information objects as Raw, so an
// outstation can mirror the request with CauseTypeNotAvailable (14) and a master can
// inspect the bytes.
type UnknownTypeError struct {
	Type TypeID
}

func (e *UnknownTypeError) Error() string {
	return fmt.Sprintf("iec102: type identification %s not supported", e.Type)
}

// Is makes errors.Is(err, ErrUnknownType) hold.
func (e *UnknownTypeError) Is(target error) bool { return target == ErrUnknownType }

// NegativeError is an outstation's refusal of a request: an answer with the P/N bit set
// or with one of the error causes 13–18 (IEC 60870-5-102 causes of transmission; REE
// meters set P/N=1 only sometimes, so the cause alone suffices). DUI is the refusing
// ASDU's data unit identifier: the mirror of the request with the cause.
type NegativeError struct {
	DUI DUI
}

func (e *NegativeError) Error() string {
	return fmt.Sprintf("iec102: negative answer to %s (CA %d, RAD %d): %s",
		e.DUI.Type, e.DUI.CommonAddress, e.DUI.Record, e.DUI.COT)
}

// Is makes errors.Is(err, ErrNegative) hold.
func (e *NegativeError) Is(target error) bool { return target == ErrNegative }

// Cause returns the cause of transmission of the refusal.
func (e *NegativeError) Cause() Cause { return e.DUI.COT.Cause }

// UnexpectedCauseError is a positive answer whose cause is not among those the procedure
// allows at that point (e.g. COT 5 where the COT 7 activation confirmation was due).
type UnexpectedCauseError struct {
	DUI  DUI
	Want []Cause
}

func (e *UnexpectedCauseError) Error() string {
	want := make([]string, len(e.Want))
	for i, c := range e.Want {
		want[i] = c.String()
	}
	return fmt.Sprintf("iec102: %s (CA %d, RAD %d) with %s, want %s",
		e.DUI.Type, e.DUI.CommonAddress, e.DUI.Record, e.DUI.COT, strings.Join(want, " or "))
}

// Is makes errors.Is(err, ErrUnexpectedCause) hold.
func (e *UnexpectedCauseError) Is(target error) bool { return target == ErrUnexpectedCause }
