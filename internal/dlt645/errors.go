package dlt645

import (
	"errors"
	"fmt"
	"strings"
)

// Errors callers branch on with errors.Is. Returned errors wrap these with detail.
var (
	// ErrShortFrame means the buffer ends before a complete frame: read more bytes and
	// decode again. It is not a malformed frame.
	ErrShortFrame = errors.New("dlt645: short frame, need more bytes")

	// ErrFrame is the root of every malformed-frame error: a start byte 68H without the
	// second 68H seven bytes later, a missing end byte 16H, a length out of range, a
	// checksum mismatch. errors.Is(err, ErrFrame) holds for ErrLength and ErrChecksum too.
	ErrFrame = errors.New("dlt645: malformed frame")

	// ErrLength means a length field L above MaxDataLen (frame format (帧格式): L ≤ 200).
	ErrLength = fmt.Errorf("%w: length out of range", ErrFrame)

	// ErrChecksum means the CS byte is not the modulo-256 sum of the bytes from the first
	// 68H to the last data byte.
	ErrChecksum = fmt.Errorf("%w: checksum mismatch", ErrFrame)

	// ErrTimeout means no matching reply arrived within the response timeout.
	ErrTimeout = errors.New("dlt645: timeout, no reply")

	// ErrData means a well-formed frame whose data field does not fit the expected data
	// format: wrong size, a digit that is not BCD, an impossible date.
	ErrData = errors.New("dlt645: malformed data")

	// ErrBCD is the ErrData for a nibble above 9 in a BCD field.
	ErrBCD = fmt.Errorf("%w: invalid BCD digit", ErrData)

	// ErrRange means a value does not fit the data format it is to be encoded in.
	ErrRange = errors.New("dlt645: value out of range for data format")

	// ErrUnknownDI means a data identifier that is not in the Catalogue.
	ErrUnknownDI = errors.New("dlt645: data identifier not in catalogue")

	// ErrNoValues means a catalogued data identifier that maps to no meterdata channel
	// (the date and time): use DecodeDateTime or Client.ReadClock instead.
	ErrNoValues = errors.New("dlt645: data identifier carries no meterdata channel")

	// ErrNoRecord means the meter holds no record at the position asked for: it answered
	// with an all-zero time (a daily freeze before the meter's first midnight, an event
	// that never happened), or a settlement day of 9999 (not set).
	ErrNoRecord = errors.New("dlt645: no record at this position")

	// ErrAbnormal matches every *AbnormalError: errors.Is(err, ErrAbnormal).
	ErrAbnormal = errors.New("dlt645: abnormal reply")
)

// ErrorCode is the error information word (错误信息字, ERR) a meter sends in an abnormal
// reply (异常应答: control code = request | C0H). Each bit is one cause.
type ErrorCode byte

// Error information word bits (错误信息字): D0…D6; D7 is reserved.
const (
	ErrCodeOther        ErrorCode = 0x01 // 其他错误: other error
	ErrCodeNoData       ErrorCode = 0x02 // 无请求数据: no data requested (unknown DI)
	ErrCodeUnauthorized ErrorCode = 0x04 // 密码错/未授权: password wrong or unauthorised
	ErrCodeBaud         ErrorCode = 0x08 // 通信速率不能更改: baud rate cannot be changed
	ErrCodeYearZones    ErrorCode = 0x10 // 年时区数超: year time zones exceeded
	ErrCodeDayPeriods   ErrorCode = 0x20 // 日时段数超: day periods exceeded
	ErrCodeRates        ErrorCode = 0x40 // 费率数超: number of rates exceeded
)

var errCodeNames = [8]string{
	"other", "no data requested", "unauthorised", "baud rate cannot change",
	"year zones exceeded", "day periods exceeded", "rates exceeded", "reserved bit 7",
}

// Names returns the names of the bits set, lowest bit first; none for zero.
func (c ErrorCode) Names() []string {
	var out []string
	for i, name := range errCodeNames {
		if c&(1<<i) != 0 {
			out = append(out, name)
		}
	}
	return out
}

// String joins the names of the bits set ("none" for zero).
func (c ErrorCode) String() string {
	names := c.Names()
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// AbnormalError is a meter's abnormal reply (异常应答) to a request: the meter heard the
// request and refused it. Retrying does not help.
type AbnormalError struct {
	Address  Address   // the replying meter
	Function Function  // the function refused
	Code     ErrorCode // the error information word
}

func (e *AbnormalError) Error() string {
	return fmt.Sprintf("dlt645: abnormal reply from %s to %s: %s (%#02x)",
		e.Address, e.Function, e.Code, byte(e.Code))
}

// Is makes errors.Is(err, ErrAbnormal) hold for every *AbnormalError.
func (e *AbnormalError) Is(target error) bool { return target == ErrAbnormal }

// Has reports whether the error information word has every bit of code set.
func (e *AbnormalError) Has(code ErrorCode) bool { return e.Code&code == code }
