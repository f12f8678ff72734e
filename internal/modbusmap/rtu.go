package modbusmap

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Modbus RTU framing (MODBUS over Serial Line Specification and Implementation Guide
// V1.02, 2006, §2.5.1): a frame is the address of the unit (1 byte: 0 broadcast, 1…247
// units), the PDU — function code and data, as over TCP — and a CRC (2 bytes, low byte
// first), at most 256 bytes in all. On the line, frames are delimited by 3.5 characters
// of silence; this codec delimits them by the length the function code implies and
// checks the CRC, so that it works on a byte stream that carries no timing (a pty, a
// TCP gateway). The serial line's timing is serialbus's.
//
// Supported function codes, whose frame lengths the codec knows: read coils, discrete
// inputs, holding and input registers (01…04), write single coil and register (05,
// 06), write multiple coils and registers (0F, 10), mask write register (16),
// read/write multiple registers (17), and the exception reply of each (function | 80H).

// MaxRTUFrameLen is the longest RTU frame: address, 253-byte PDU, CRC (§2.5.1).
const MaxRTUFrameLen = 256

// Errors of the RTU codec.
var (
	// ErrRTUShort: the bytes are the start of a frame; more must arrive.
	ErrRTUShort = errors.New("modbus rtu: incomplete frame")
	// ErrRTUCRC: a frame whose CRC does not match its bytes.
	ErrRTUCRC = errors.New("modbus rtu: bad CRC")
	// ErrRTUFrame: bytes that cannot start a frame: a function code the codec does not
	// know the length of, a byte count that contradicts the function, a frame too long.
	ErrRTUFrame = errors.New("modbus rtu: malformed frame")
)

// Function codes (MODBUS Application Protocol V1.1b3 §6).
const (
	FuncReadCoils              uint8 = 0x01
	FuncReadDiscreteInputs     uint8 = 0x02
	FuncReadHoldingRegisters   uint8 = 0x03
	FuncReadInputRegisters     uint8 = 0x04
	FuncWriteSingleCoil        uint8 = 0x05
	FuncWriteSingleRegister    uint8 = 0x06
	FuncWriteMultipleCoils     uint8 = 0x0F
	FuncWriteMultipleRegisters uint8 = 0x10
	FuncMaskWriteRegister      uint8 = 0x16
	FuncReadWriteRegisters     uint8 = 0x17

	exceptionBit uint8 = 0x80 // function | 80H: an exception reply (§7)
)

// RTUFrame is one Modbus RTU frame: unit address, function code and the PDU's data
// after the function code. Encoding adds the CRC; decoding checks and strips it.
type RTUFrame struct {
	Unit     uint8
	Function uint8
	Data     []byte
}

// IsException reports whether f is an exception reply (function code | 80H).
func (f RTUFrame) IsException() bool { return f.Function&exceptionBit != 0 }

// String prints the frame for logs: "unit 1 fn 03 [00 00 00 0A]".
func (f RTUFrame) String() string {
	return fmt.Sprintf("unit %d fn %02X [% X]", f.Unit, f.Function, f.Data)
}

// AppendEncode appends the frame with its CRC to dst.
func (f RTUFrame) AppendEncode(dst []byte) ([]byte, error) {
	if n := 4 + len(f.Data); n > MaxRTUFrameLen {
		return dst, fmt.Errorf("%w: %d bytes, at most %d", ErrRTUFrame, n, MaxRTUFrameLen)
	}
	start := len(dst)
	dst = append(dst, f.Unit, f.Function)
	dst = append(dst, f.Data...)
	return binary.LittleEndian.AppendUint16(dst, CRC16(dst[start:])), nil
}

// Encode returns the frame with its CRC.
func (f RTUFrame) Encode() ([]byte, error) { return f.AppendEncode(make([]byte, 0, 4+len(f.Data))) }

// DecodeRTURequest decodes the request frame at the start of b (what a unit receives)
// and returns it with the number of bytes it took. Data aliases b. On ErrRTUShort n is
// 0: wait for more bytes. On ErrRTUCRC and ErrRTUFrame n is 1: the first byte is junk
// (or the frame was damaged); skip it and decode again, as a unit resynchronises.
func DecodeRTURequest(b []byte) (f RTUFrame, n int, err error) {
	return decodeRTU(b, requestDataLen)
}

// DecodeRTUResponse decodes the response frame at the start of b (what a master
// receives), as DecodeRTURequest does requests.
func DecodeRTUResponse(b []byte) (f RTUFrame, n int, err error) {
	return decodeRTU(b, responseDataLen)
}

// dataLen returns the length of a frame's data from its function code and the data
// bytes at hand (a byte count may be among them), or ok false if more bytes are needed
// to tell; an error if the function is unknown or the count impossible.
type dataLen func(fn uint8, data []byte) (n int, ok bool, err error)

func decodeRTU(b []byte, lenOf dataLen) (RTUFrame, int, error) {
	if len(b) < 2 {
		return RTUFrame{}, 0, ErrRTUShort
	}
	n, ok, err := lenOf(b[1], b[2:])
	if err != nil {
		return RTUFrame{}, 1, err
	}
	if !ok {
		return RTUFrame{}, 0, ErrRTUShort
	}
	size := 2 + n + 2
	if size > MaxRTUFrameLen {
		return RTUFrame{}, 1, fmt.Errorf("%w: %d bytes, at most %d", ErrRTUFrame, size, MaxRTUFrameLen)
	}
	if len(b) < size {
		return RTUFrame{}, 0, ErrRTUShort
	}
	if got, want := binary.LittleEndian.Uint16(b[size-2:]), CRC16(b[:size-2]); got != want {
		return RTUFrame{}, 1, fmt.Errorf("%w: %04X, want %04X", ErrRTUCRC, got, want)
	}
	return RTUFrame{Unit: b[0], Function: b[1], Data: b[2 : size-2]}, size, nil
}

// requestDataLen: the request PDUs of §6.
func requestDataLen(fn uint8, data []byte) (int, bool, error) {
	switch fn {
	case FuncReadCoils, FuncReadDiscreteInputs, FuncReadHoldingRegisters, FuncReadInputRegisters,
		FuncWriteSingleCoil, FuncWriteSingleRegister:
		return 4, true, nil // address, quantity or value
	case FuncWriteMultipleCoils, FuncWriteMultipleRegisters:
		if len(data) < 5 {
			return 0, false, nil
		}
		return 5 + int(data[4]), true, nil // address, quantity, byte count, values
	case FuncMaskWriteRegister:
		return 6, true, nil // address, AND mask, OR mask
	case FuncReadWriteRegisters:
		if len(data) < 9 {
			return 0, false, nil
		}
		return 9 + int(data[8]), true, nil // read address, quantity, write address, quantity, byte count, values
	}
	return 0, false, fmt.Errorf("%w: function %02X", ErrRTUFrame, fn)
}

// responseDataLen: the response PDUs of §6 and the exception response of §7.
func responseDataLen(fn uint8, data []byte) (int, bool, error) {
	if fn&exceptionBit != 0 {
		if _, _, err := requestDataLen(fn&^exceptionBit, nil); err != nil {
			return 0, false, err
		}
		return 1, true, nil // exception code
	}
	switch fn {
	case FuncReadCoils, FuncReadDiscreteInputs, FuncReadHoldingRegisters, FuncReadInputRegisters,
		FuncReadWriteRegisters:
		if len(data) < 1 {
			return 0, false, nil
		}
		count := int(data[0])
		if fn != FuncReadCoils && fn != FuncReadDiscreteInputs && count%2 != 0 {
			return 0, false, fmt.Errorf("%w: function %02X with an odd byte count %d", ErrRTUFrame, fn, count)
		}
		return 1 + count, true, nil // byte count, values
	case FuncWriteSingleCoil, FuncWriteSingleRegister, FuncWriteMultipleCoils, FuncWriteMultipleRegisters:
		return 4, true, nil // echo of address and value or quantity
	case FuncMaskWriteRegister:
		return 6, true, nil
	}
	return 0, false, fmt.Errorf("%w: function %02X", ErrRTUFrame, fn)
}

// CRC16 is the CRC of an RTU frame (§2.5.1.2, "CRC-16/MODBUS"): polynomial A001H
// (reflected 8005H), initial value FFFFH, sent low byte first.
func CRC16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc ^= uint16(c)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

// readFunction is the function code that reads table.
func readFunction(t Table) uint8 {
	if t == Input {
		return FuncReadInputRegisters
	}
	return FuncReadHoldingRegisters
}

// NewRTUReadRequest returns the request for q (03 for holding registers, 04 for input
// registers) to unit.
func NewRTUReadRequest(unit uint8, q Request) RTUFrame {
	data := binary.BigEndian.AppendUint16(make([]byte, 0, 4), q.Start)
	return RTUFrame{Unit: unit, Function: readFunction(q.Table), Data: binary.BigEndian.AppendUint16(data, q.Count)}
}

// ReadRequest returns the registers a read request (03 or 04) asks for. A quantity
// outside 1…125 is an ExceptionIllegalDataValue (§6.3), as a unit answers it.
func (f RTUFrame) ReadRequest() (Request, error) {
	var q Request
	switch f.Function {
	case FuncReadHoldingRegisters:
		q.Table = Holding
	case FuncReadInputRegisters:
		q.Table = Input
	default:
		return q, ExceptionIllegalFunction
	}
	if len(f.Data) != 4 {
		return q, fmt.Errorf("%w: read request of %d data bytes, want 4", ErrProtocol, len(f.Data))
	}
	q.Start, q.Count = binary.BigEndian.Uint16(f.Data), binary.BigEndian.Uint16(f.Data[2:])
	if q.Count < 1 || q.Count > MaxRegistersPerRequest {
		return q, ExceptionIllegalDataValue
	}
	return q, nil
}

// NewRTUReadResponse returns unit's answer to a read of table: the byte count and the
// registers, high byte first (§4.2).
func NewRTUReadResponse(unit uint8, table Table, words []uint16) RTUFrame {
	data := make([]byte, 1, 1+2*len(words))
	data[0] = byte(2 * len(words))
	for _, w := range words {
		data = binary.BigEndian.AppendUint16(data, w)
	}
	return RTUFrame{Unit: unit, Function: readFunction(table), Data: data}
}

// NewRTUException returns unit's exception reply to function fn (§7).
func NewRTUException(unit, fn uint8, e Exception) RTUFrame {
	return RTUFrame{Unit: unit, Function: fn | exceptionBit, Data: []byte{byte(e)}}
}

// ReadResponse returns the registers of f, the answer of unit to read q: the Exception
// of an exception reply, or an error wrapping ErrProtocol if f does not answer q.
func (f RTUFrame) ReadResponse(unit uint8, q Request) ([]uint16, error) {
	fn := readFunction(q.Table)
	switch {
	case f.Unit != unit:
		return nil, fmt.Errorf("%w: reply from unit %d, asked %d", ErrProtocol, f.Unit, unit)
	case f.Function == fn|exceptionBit && len(f.Data) == 1:
		return nil, Exception(f.Data[0])
	case f.Function != fn:
		return nil, fmt.Errorf("%w: reply function %02X to %02X", ErrProtocol, f.Function, fn)
	case len(f.Data) != 1+2*int(q.Count) || int(f.Data[0]) != 2*int(q.Count):
		return nil, fmt.Errorf("%w: %d data bytes for %d registers", ErrProtocol, len(f.Data), q.Count)
	}
	words := make([]uint16, q.Count)
	for i := range words {
		words[i] = binary.BigEndian.Uint16(f.Data[1+2*i:])
	}
	return words, nil
}
