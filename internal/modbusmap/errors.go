package modbusmap

import (
	"errors"
	"fmt"
)

// Errors callers branch on. Every error of this package wraps at most one of them (or an
// [Exception]) and names the unit, registers or channel concerned.
var (
	// ErrTimeout: the unit or gateway did not answer within the request timeout.
	ErrTimeout = errors.New("modbus: request timed out")
	// ErrConnection: the TCP connection could not be opened or failed.
	ErrConnection = errors.New("modbus: connection failed")
	// ErrProtocol: a reply was malformed or did not match the request.
	ErrProtocol = errors.New("modbus: protocol error")
	// ErrValue: register words that do not decode to a channel value (NaN, out of range,
	// a negative counter, the wrong number of words).
	ErrValue = errors.New("modbusmap: bad register value")
	// ErrRange: a channel value the register cannot hold (encoding, simulator side).
	ErrRange = errors.New("modbusmap: value out of range")
	// ErrUnmapped: a read covers a register the map does not define.
	ErrUnmapped = errors.New("modbusmap: register not mapped")
)

// Exception is a Modbus exception code (MODBUS Application Protocol V1.1b3 §7): the unit,
// or a gateway in front of it, refused the request. Test with errors.Is against the
// constants, or errors.As to get the code.
type Exception uint8

// Exception codes of §7.
const (
	ExceptionIllegalFunction        Exception = 0x01
	ExceptionIllegalDataAddress     Exception = 0x02
	ExceptionIllegalDataValue       Exception = 0x03
	ExceptionServerDeviceFailure    Exception = 0x04
	ExceptionAcknowledge            Exception = 0x05
	ExceptionServerDeviceBusy       Exception = 0x06
	ExceptionMemoryParityError      Exception = 0x08
	ExceptionGatewayPathUnavailable Exception = 0x0A
	ExceptionGatewayTargetFailed    Exception = 0x0B // the gateway's target unit did not respond
)

var exceptionNames = map[Exception]string{
	ExceptionIllegalFunction:        "illegal function",
	ExceptionIllegalDataAddress:     "illegal data address",
	ExceptionIllegalDataValue:       "illegal data value",
	ExceptionServerDeviceFailure:    "server device failure",
	ExceptionAcknowledge:            "acknowledge",
	ExceptionServerDeviceBusy:       "server device busy",
	ExceptionMemoryParityError:      "memory parity error",
	ExceptionGatewayPathUnavailable: "gateway path unavailable",
	ExceptionGatewayTargetFailed:    "gateway target device failed to respond",
}

// Error names the exception and its code.
func (e Exception) Error() string {
	if n, ok := exceptionNames[e]; ok {
		return fmt.Sprintf("modbus exception 0x%02x (%s)", uint8(e), n)
	}
	return fmt.Sprintf("modbus exception 0x%02x", uint8(e))
}
