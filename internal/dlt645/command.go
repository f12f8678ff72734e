package dlt645

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Commands that change a meter: write data (写数据, 14H), freeze (冻结命令, 16H) and
// relay/alarm/keep-on control (跳合闸、报警、保电, 1CH). Replies: request | 80H with no
// data (94H, 96H, 9CH) when accepted, request | C0H with the error information word
// (D4H, D6H, DCH) when refused.

// Credentials are the password (密码) and operator code (操作者代码) a command carries:
// PA P0 P1 P2 C0 C1 C2 C3 on the wire, PA the password level (权限, 00…09 for plain
// passwords; 98H and 99H are the State Grid ESAM-protected levels), P0…P2 the password
// low byte first, C0…C3 the operator code low byte first. Password holds the six digits
// as printed ("123456" is 0x123456) and Operator the eight ("00000001" is 0x00000001).
//
// Credentials print with the password redacted.
type Credentials struct {
	Level    byte
	Password uint32 // low 24 bits used
	Operator uint32
}

// Validate reports a password wider than three bytes.
func (c Credentials) Validate() error {
	if c.Password>>24 != 0 {
		return fmt.Errorf("%w: password %#x wider than 3 bytes", ErrRange, c.Password)
	}
	return nil
}

// Append appends PA P0 P1 P2 C0 C1 C2 C3.
func (c Credentials) Append(dst []byte) []byte {
	return append(dst, c.Level, byte(c.Password), byte(c.Password>>8), byte(c.Password>>16),
		byte(c.Operator), byte(c.Operator>>8), byte(c.Operator>>16), byte(c.Operator>>24))
}

// decodeCredentials reads the 8 bytes of PA P0 P1 P2 C0…C3.
func decodeCredentials(b []byte) Credentials {
	return Credentials{
		Level:    b[0],
		Password: uint32(b[1]) | uint32(b[2])<<8 | uint32(b[3])<<16,
		Operator: uint32(b[4]) | uint32(b[5])<<8 | uint32(b[6])<<16 | uint32(b[7])<<24,
	}
}

// String prints the level and operator code, never the password.
func (c Credentials) String() string {
	return fmt.Sprintf("level %02X, password ******, operator %08X", c.Level, c.Operator)
}

// GoString redacts the password in %#v too.
func (c Credentials) GoString() string { return "dlt645.Credentials{" + c.String() + "}" }

// LogValue redacts the password in structured logs.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// credentialsLen is the size of PA P0 P1 P2 C0 C1 C2 C3.
const credentialsLen = 8

// ControlAction is N1 of a control command (1CH).
type ControlAction byte

// Control actions (N1).
const (
	ActionTrip          ControlAction = 0x1A // 跳闸: open the relay
	ActionCloseAllowed  ControlAction = 0x1B // 合闸允许: the customer may close it (button)
	ActionClose         ControlAction = 0x1C // 直接合闸: close now (later smart-meter specs)
	ActionAlarm         ControlAction = 0x2A // 报警
	ActionAlarmOff      ControlAction = 0x2B // 报警解除
	ActionKeepOn        ControlAction = 0x3A // 保电: refuse trips until released
	ActionKeepOnRelease ControlAction = 0x3B // 保电解除
)

var actionNames = map[ControlAction]string{
	ActionTrip: "trip", ActionCloseAllowed: "close allowed", ActionClose: "close",
	ActionAlarm: "alarm", ActionAlarmOff: "alarm off", ActionKeepOn: "keep on", ActionKeepOnRelease: "keep-on release",
}

// String names the action.
func (a ControlAction) String() string {
	if n, ok := actionNames[a]; ok {
		return n
	}
	return fmt.Sprintf("action %02XH", byte(a))
}

// Valid reports whether a is one of the actions above.
func (a ControlAction) Valid() bool { _, ok := actionNames[a]; return ok }

// ControlCommand is what a control command asks, N1…N8 before any protection: the
// action and the instant after which the meter must ignore the command (命令有效截止时间,
// ss mm hh DD MM YY in the meter's local time, taken from ValidUntil's location).
type ControlCommand struct {
	Action     ControlAction
	ValidUntil time.Time
}

// AppendN appends N1…N8: N1 the action, N2 = 00 (reserved), N3…N8 the valid-until time.
func (c ControlCommand) AppendN(dst []byte) ([]byte, error) {
	if !c.Action.Valid() {
		return dst, fmt.Errorf("%w: control %s", ErrRange, c.Action)
	}
	return AppendSecondTime(append(dst, byte(c.Action), 0), c.ValidUntil)
}

// controlDataLen is the size of a plain control command's data: PA…C3 and N1…N8.
const controlDataLen = credentialsLen + 8

// DecodeControlData decodes the data field of a plain (unencrypted) control command,
// PA P0 P1 P2 C0 C1 C2 C3 N1 N2 N3…N8, with the valid-until time in loc. It reports
// ErrData for another length, an unknown action or a malformed time; an ESAM-protected
// command (level 98H) is not plain and is refused too.
func DecodeControlData(b []byte, loc *time.Location) (Credentials, ControlCommand, error) {
	if len(b) != controlDataLen {
		return Credentials{}, ControlCommand{}, fmt.Errorf("%w: control data of %d bytes, want %d", ErrData, len(b), controlDataLen)
	}
	cred := decodeCredentials(b)
	if cred.Level >= 0x10 {
		return Credentials{}, ControlCommand{}, fmt.Errorf("%w: control with password level %02XH is not plain", ErrData, cred.Level)
	}
	cmd := ControlCommand{Action: ControlAction(b[8])}
	if !cmd.Action.Valid() {
		return Credentials{}, ControlCommand{}, fmt.Errorf("%w: unknown control action %02XH", ErrData, b[8])
	}
	if b[9] != 0 {
		return Credentials{}, ControlCommand{}, fmt.Errorf("%w: control N2 = %02XH, want 00", ErrData, b[9])
	}
	t, err := DecodeSecondTime(b[10:], loc)
	if err != nil {
		return Credentials{}, ControlCommand{}, fmt.Errorf("%w: valid-until time: %v", ErrData, err)
	}
	cmd.ValidUntil = t
	return cred, cmd, nil
}

// SecurityProvider protects control commands. The client calls it to build the data
// field of a command (PA…C3 followed by N1…N8, in the clear or encrypted with a MAC) and
// to check the data of the meter's normal reply. PlainSecurity implements password level
// 02 as DL/T 645-2007 defines it; State Grid meters (Q/GDW 1364/1365-2013 family) need
// level 98H with N1…N8 encrypted by the meter's ESAM key and a MAC appended, which an
// implementation backed by a security module can provide without changes to the client.
//
// Implementations must be safe for concurrent use.
type SecurityProvider interface {
	// ControlData returns the complete data field of a control command to meter addr.
	ControlData(ctx context.Context, addr Address, cmd ControlCommand) ([]byte, error)
	// CheckControlReply verifies the data of a normal reply (9CH) from addr: empty for
	// plain commands; an encrypted provider checks its MAC here.
	CheckControlReply(ctx context.Context, addr Address, data []byte) error
}

// PlainSecurity is the SecurityProvider of plain password levels (02 in practice): the
// command goes in the clear and the accepted reply carries no data.
type PlainSecurity struct {
	Credentials Credentials
}

// ControlData returns PA P0 P1 P2 C0…C3 N1…N8.
func (p PlainSecurity) ControlData(_ context.Context, _ Address, cmd ControlCommand) ([]byte, error) {
	if p.Credentials.Level >= 0x10 {
		return nil, fmt.Errorf("%w: password level %02XH needs an encrypting security provider", ErrRange, p.Credentials.Level)
	}
	if err := p.Credentials.Validate(); err != nil {
		return nil, err
	}
	return cmd.AppendN(p.Credentials.Append(make([]byte, 0, controlDataLen)))
}

// CheckControlReply accepts the empty data of a plain reply.
func (p PlainSecurity) CheckControlReply(_ context.Context, _ Address, data []byte) error {
	if len(data) != 0 {
		return fmt.Errorf("%w: control reply with %d data bytes, want none", ErrData, len(data))
	}
	return nil
}

// String redacts the password.
func (p PlainSecurity) String() string { return "plain security, " + p.Credentials.String() }

// NewControlRequest builds a control command (1CH) with the data field a
// SecurityProvider built.
func NewControlRequest(addr Address, data []byte) Frame {
	return Frame{Address: addr, Control: FuncControl.Request(), Data: data}
}

// NewCommandReply builds a meter's normal reply without data to a command: 94H to a
// write, 96H to a freeze, 9CH to a control command.
func NewCommandReply(addr Address, fn Function) Frame {
	return Frame{Address: addr, Control: fn.Reply()}
}

// FreezeWildcard in a field of a FreezeSchedule is 99 on the wire: "every".
const FreezeWildcard = 99

// FreezeSchedule is the data of a freeze command (16H), mm hh DD MM in BCD, each field
// a value or FreezeWildcard. All four 99 freezes now (瞬时冻结, readable at 0501xxnn);
// otherwise the command sets the timed freeze (定时冻结): 99 99 hh mm daily at hh:mm,
// 99 DD hh mm monthly, 99 99 99 mm hourly.
type FreezeSchedule struct {
	Month, Day, Hour, Minute int
}

// InstantFreeze is the schedule 99999999: freeze now.
var InstantFreeze = FreezeSchedule{FreezeWildcard, FreezeWildcard, FreezeWildcard, FreezeWildcard}

// IsInstant reports whether s is 99999999.
func (s FreezeSchedule) IsInstant() bool { return s == InstantFreeze }

// Validate reports a field out of range (month 1…12, day 1…31, hour 0…23, minute 0…59,
// or 99).
func (s FreezeSchedule) Validate() error {
	for _, f := range []struct {
		name   string
		v      int
		lo, hi int
	}{{"month", s.Month, 1, 12}, {"day", s.Day, 1, 31}, {"hour", s.Hour, 0, 23}, {"minute", s.Minute, 0, 59}} {
		if f.v != FreezeWildcard && (f.v < f.lo || f.v > f.hi) {
			return fmt.Errorf("%w: freeze %s %d, want %d…%d or 99", ErrRange, f.name, f.v, f.lo, f.hi)
		}
	}
	return nil
}

// Append appends mm hh DD MM.
func (s FreezeSchedule) Append(dst []byte) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return dst, err
	}
	return append(dst, bcd2(s.Minute), bcd2(s.Hour), bcd2(s.Day), bcd2(s.Month)), nil
}

// DecodeFreezeSchedule decodes the 4-byte data of a freeze command.
func DecodeFreezeSchedule(b []byte) (FreezeSchedule, error) {
	if len(b) != 4 {
		return FreezeSchedule{}, fmt.Errorf("%w: freeze data of %d bytes, want mm hh DD MM", ErrData, len(b))
	}
	var v [4]int
	for i := range v {
		n, err := DecodeBCD(b[i : i+1])
		if err != nil {
			return FreezeSchedule{}, err
		}
		v[i] = int(n)
	}
	s := FreezeSchedule{Minute: v[0], Hour: v[1], Day: v[2], Month: v[3]}
	if err := s.Validate(); err != nil {
		return FreezeSchedule{}, fmt.Errorf("%w: %v", ErrData, err)
	}
	return s, nil
}

// NewFreezeRequest builds a freeze command to one meter (it answers 96H) or to the
// broadcast address 999999999999 (no one answers).
func NewFreezeRequest(addr Address, s FreezeSchedule) (Frame, error) {
	data, err := s.Append(make([]byte, 0, 4))
	if err != nil {
		return Frame{}, err
	}
	return Frame{Address: addr, Control: FuncFreeze.Request(), Data: data}, nil
}

// MaxWriteDataLen is the longest data field of a write command (L ≤ 50).
const MaxWriteDataLen = 50

// WriteRequest is the data of a write command (写数据, 14H): the identifier, the
// credentials and the value bytes in the identifier's data format.
type WriteRequest struct {
	DI          DI
	Credentials Credentials
	Value       []byte
}

// Append appends DI, PA…C3 and the value. It reports ErrLength when the data field would
// exceed MaxWriteDataLen.
func (w WriteRequest) Append(dst []byte) ([]byte, error) {
	if n := DISize + credentialsLen + len(w.Value); n > MaxWriteDataLen {
		return dst, fmt.Errorf("%w: write data of %d bytes, at most %d", ErrLength, n, MaxWriteDataLen)
	}
	if err := w.Credentials.Validate(); err != nil {
		return dst, err
	}
	return append(w.Credentials.Append(w.DI.AppendWire(dst)), w.Value...), nil
}

// DecodeWriteRequest decodes the data field of a write command.
func DecodeWriteRequest(b []byte) (WriteRequest, error) {
	if len(b) < DISize+credentialsLen || len(b) > MaxWriteDataLen {
		return WriteRequest{}, fmt.Errorf("%w: write data of %d bytes, want %d…%d", ErrData, len(b), DISize+credentialsLen, MaxWriteDataLen)
	}
	di, _ := DIFromWire(b)
	w := WriteRequest{DI: di, Credentials: decodeCredentials(b[DISize:])}
	if v := b[DISize+credentialsLen:]; len(v) > 0 {
		w.Value = append([]byte(nil), v...)
	}
	return w, nil
}

// NewWriteRequest builds a write command (14H).
func NewWriteRequest(addr Address, w WriteRequest) (Frame, error) {
	data, err := w.Append(make([]byte, 0, DISize+credentialsLen+len(w.Value)))
	if err != nil {
		return Frame{}, err
	}
	return Frame{Address: addr, Control: FuncWrite.Request(), Data: data}, nil
}
