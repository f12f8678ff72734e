package dlt645

import (
	"bytes"
	"fmt"
	"time"
)

// Frame format (帧格式):
//
//	[FE FE FE FE]  68  A0 … A5  68  C  L  DATA(L bytes, each +33H)  CS  16
//
// FEH wake-up bytes (前导字节) may precede a frame; CS is the modulo-256 sum of every byte
// from the first 68H to the last data byte.
const (
	startByte    = 0x68
	endByte      = 0x16
	preambleByte = 0xFE
	dataOffset   = 0x33
	headerLen    = 10 // 68 A0…A5 68 C L
	overhead     = headerLen + 2

	// MaxDataLen is the largest length field L accepted: the standard limits L to 200
	// for reads (and to 50 for writes, which callers building writes must respect).
	MaxDataLen = 200

	// MaxFrameLen is the longest frame, without wake-up bytes.
	MaxFrameLen = overhead + MaxDataLen

	// PreambleLen is the number of FEH wake-up bytes EncodeWithPreamble sends.
	PreambleLen = 4
)

// Frame is one DL/T 645 frame. Data holds the data field as the application sees it:
// the +33H wire offset is applied by Encode and removed by Decode.
type Frame struct {
	Address Address
	Control Control
	Data    []byte
}

// Encode returns the frame on the wire, without wake-up bytes. It reports ErrLength if
// Data is longer than MaxDataLen.
func (f Frame) Encode() ([]byte, error) {
	return f.AppendEncode(make([]byte, 0, overhead+len(f.Data)))
}

// EncodeWithPreamble returns the frame preceded by FE FE FE FE, the wake-up bytes masters
// usually send before a command so that a sleeping meter's receiver locks on.
func (f Frame) EncodeWithPreamble() ([]byte, error) {
	b := make([]byte, PreambleLen, PreambleLen+overhead+len(f.Data))
	for i := range b {
		b[i] = preambleByte
	}
	return f.AppendEncode(b)
}

// AppendEncode appends the frame on the wire to dst and returns the extended slice.
// With a dst of sufficient capacity it does not allocate.
func (f Frame) AppendEncode(dst []byte) ([]byte, error) {
	if len(f.Data) > MaxDataLen {
		return dst, fmt.Errorf("%w: encode %d data bytes, at most %d", ErrLength, len(f.Data), MaxDataLen)
	}
	start := len(dst)
	dst = append(dst, startByte)
	dst = append(dst, f.Address[:]...)
	dst = append(dst, startByte, byte(f.Control), byte(len(f.Data)))
	for _, b := range f.Data {
		dst = append(dst, b+dataOffset)
	}
	var cs byte
	for _, b := range dst[start:] {
		cs += b
	}
	return append(dst, cs, endByte), nil
}

// Decode finds and decodes the first frame in b. It skips wake-up bytes and any other
// bytes before a start byte 68H, and never modifies b.
//
// n is the number of bytes of b the caller should drop before decoding again:
//
//   - nil error: the frame was complete and valid; n covers everything up to and
//     including its end byte 16H.
//   - ErrShortFrame: b holds no complete frame yet; n covers only bytes that cannot
//     begin a frame (junk, wake-up bytes). Keep b[n:], read more, decode again.
//   - an error wrapping ErrFrame (ErrLength, ErrChecksum, a bad end byte, no second 68H):
//     the candidate starting at the first 68H is not a valid frame; n drops only that
//     start byte, so decoding again resynchronises on the next 68H, which may begin a
//     good frame hidden behind junk.
func Decode(b []byte) (Frame, int, error) {
	i := bytes.IndexByte(b, startByte)
	if i < 0 {
		return Frame{}, len(b), ErrShortFrame
	}
	h := b[i:]
	if len(h) < 8 {
		return Frame{}, i, ErrShortFrame
	}
	if h[7] != startByte {
		return Frame{}, i + 1, fmt.Errorf("%w: no second start byte 68H (got %02XH)", ErrFrame, h[7])
	}
	if len(h) < headerLen {
		return Frame{}, i, ErrShortFrame
	}
	l := int(h[9])
	if l > MaxDataLen {
		return Frame{}, i + 1, fmt.Errorf("%w: L=%d, at most %d", ErrLength, l, MaxDataLen)
	}
	total := overhead + l
	if len(h) < total {
		return Frame{}, i, ErrShortFrame
	}
	// The end byte is checked before the checksum: when L is wrong, "no end byte where L
	// says" names the fault better than a checksum mismatch would.
	if h[total-1] != endByte {
		return Frame{}, i + 1, fmt.Errorf("%w: L=%d but byte %d is %02XH, not end byte 16H", ErrFrame, l, total-1, h[total-1])
	}
	var cs byte
	for _, c := range h[:headerLen+l] {
		cs += c
	}
	if cs != h[headerLen+l] {
		return Frame{}, i + 1, fmt.Errorf("%w: got %02XH, computed %02XH", ErrChecksum, h[headerLen+l], cs)
	}
	f := Frame{Control: Control(h[8])}
	copy(f.Address[:], h[1:7])
	if l > 0 {
		f.Data = make([]byte, l)
		for k, c := range h[headerLen : headerLen+l] {
			f.Data[k] = c - dataOffset
		}
	}
	return f, i + total, nil
}

// DI returns the data identifier at the start of the data field (read requests, normal
// read replies, follow-up requests and replies). It reports ErrData if Data is shorter.
func (f Frame) DI() (DI, error) { return DIFromWire(f.Data) }

// Abnormal returns the frame as an *AbnormalError if it is an abnormal reply, else nil.
// A missing error byte reads as code 0.
func (f Frame) Abnormal() *AbnormalError {
	if !f.Control.IsReply() || !f.Control.IsAbnormal() {
		return nil
	}
	e := &AbnormalError{Address: f.Address, Function: f.Control.Function()}
	if len(f.Data) > 0 {
		e.Code = ErrorCode(f.Data[0])
	}
	return e
}

// Equal reports whether two frames are the same (a nil and an empty Data are equal).
func (f Frame) Equal(g Frame) bool {
	return f.Address == g.Address && f.Control == g.Control && bytes.Equal(f.Data, g.Data)
}

// String prints the frame for logs, e.g. "123456789012 91H (read, reply) [00 00 01 00 …]".
func (f Frame) String() string {
	return fmt.Sprintf("%s %s [% X]", f.Address, f.Control, f.Data)
}

// NewReadRequest builds a read data (读数据, 11H) command for one identifier.
func NewReadRequest(addr Address, di DI) Frame {
	return Frame{Address: addr, Control: FuncRead.Request(), Data: di.AppendWire(make([]byte, 0, DISize))}
}

// NewReadFollowUpRequest builds a read follow-up data (读后续数据, 12H) command: the
// identifier and the frame sequence number SEQ, 1 for the first follow-up frame.
func NewReadFollowUpRequest(addr Address, di DI, seq byte) Frame {
	return Frame{Address: addr, Control: FuncReadFollowUp.Request(), Data: append(di.AppendWire(make([]byte, 0, DISize+1)), seq)}
}

// NewReadReply builds a meter's normal read reply (91H, or B1H with more set) carrying
// the identifier and value, the value already encoded in its data format.
func NewReadReply(addr Address, di DI, value []byte, more bool) Frame {
	c := FuncRead.Reply()
	if more {
		c |= ControlFollowUp
	}
	data := append(di.AppendWire(make([]byte, 0, DISize+len(value))), value...)
	return Frame{Address: addr, Control: c, Data: data}
}

// NewAbnormalReply builds a meter's abnormal reply (request | C0H) with the error
// information word.
func NewAbnormalReply(addr Address, fn Function, code ErrorCode) Frame {
	return Frame{Address: addr, Control: fn.AbnormalReply(), Data: []byte{byte(code)}}
}

// NewReadAddressRequest builds a read communication address (读通信地址, 13H) command,
// sent to the wildcard address with no data; only a meter alone on its bus may answer.
func NewReadAddressRequest() Frame {
	return Frame{Address: WildcardAddress, Control: FuncReadAddress.Request()}
}

// NewReadAddressReply builds a meter's reply to read address: 93H with the address both
// in the address field and in the data field.
func NewReadAddressReply(addr Address) Frame {
	return Frame{Address: addr, Control: FuncReadAddress.Reply(), Data: append([]byte(nil), addr[:]...)}
}

// NewTimeSyncRequest builds a broadcast time sync (广播校时, 08H) to 999999999999 setting
// every meter's clock to the wall-clock reading of t in t's location. It reports ErrRange
// for years outside 2000…2099.
func NewTimeSyncRequest(t time.Time) (Frame, error) {
	data, err := AppendTimeSync(make([]byte, 0, 6), t)
	if err != nil {
		return Frame{}, err
	}
	return Frame{Address: BroadcastAddress, Control: FuncBroadcastTime.Request(), Data: data}, nil
}
