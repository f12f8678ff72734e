package dlt645

import "fmt"

// Control is the control code C (控制码):
//
//	D7     direction: 0 master → meter (command), 1 meter → master (reply)
//	D6     0 normal reply, 1 abnormal reply (异常应答)
//	D5     0 no follow-up frame, 1 follow-up frames (后续帧) to read with 12H
//	D4…D0  function code (功能码)
type Control byte

// Control code bits.
const (
	ControlReply    Control = 0x80 // D7: sent by the meter
	ControlAbnormal Control = 0x40 // D6: abnormal reply
	ControlFollowUp Control = 0x20 // D5: more frames follow
	controlFunction Control = 0x1F // D4…D0
)

// IsReply reports whether the frame was sent by a meter (D7).
func (c Control) IsReply() bool { return c&ControlReply != 0 }

// IsAbnormal reports whether the frame is an abnormal reply (D6).
func (c Control) IsAbnormal() bool { return c&ControlAbnormal != 0 }

// HasFollowUp reports whether follow-up frames remain to be read (D5).
func (c Control) HasFollowUp() bool { return c&ControlFollowUp != 0 }

// Function returns the function code D4…D0.
func (c Control) Function() Function { return Function(c & controlFunction) }

// String prints the code and its meaning, e.g. "91H (read, reply)".
func (c Control) String() string {
	s := fmt.Sprintf("%02XH (%s", byte(c), c.Function())
	if c.IsReply() {
		if c.IsAbnormal() {
			s += ", abnormal reply"
		} else {
			s += ", reply"
		}
	}
	if c.HasFollowUp() {
		s += ", follow-up"
	}
	return s + ")"
}

// Function is the function code (功能码), bits D4…D0 of the control code.
type Function byte

// Function codes of DL/T 645-2007 (控制码 C, D4…D0).
const (
	FuncBroadcastTime  Function = 0x08 // 广播校时: data ss mm hh DD MM YY, no reply
	FuncRead           Function = 0x11 // 读数据
	FuncReadFollowUp   Function = 0x12 // 读后续数据: data DI + SEQ
	FuncReadAddress    Function = 0x13 // 读通信地址
	FuncWrite          Function = 0x14 // 写数据
	FuncWriteAddress   Function = 0x15 // 写通信地址
	FuncFreeze         Function = 0x16 // 冻结命令
	FuncChangeBaud     Function = 0x17 // 更改通信速率
	FuncChangePassword Function = 0x18 // 修改密码
	FuncDemandReset    Function = 0x19 // 最大需量清零
	FuncMeterClear     Function = 0x1A // 电表清零
	FuncEventClear     Function = 0x1B // 事件清零
	FuncControl        Function = 0x1C // 跳合闸、报警、保电
)

var functionNames = map[Function]string{
	FuncBroadcastTime:  "broadcast time sync",
	FuncRead:           "read",
	FuncReadFollowUp:   "read follow-up",
	FuncReadAddress:    "read address",
	FuncWrite:          "write",
	FuncWriteAddress:   "write address",
	FuncFreeze:         "freeze",
	FuncChangeBaud:     "change baud rate",
	FuncChangePassword: "change password",
	FuncDemandReset:    "max demand reset",
	FuncMeterClear:     "meter clear",
	FuncEventClear:     "event clear",
	FuncControl:        "relay/alarm control",
}

// String names the function, e.g. "read".
func (f Function) String() string {
	if n, ok := functionNames[f]; ok {
		return n
	}
	return fmt.Sprintf("function %02XH", byte(f))
}

// Request is the control code of the master's command.
func (f Function) Request() Control { return Control(f) & controlFunction }

// Reply is the control code of a normal reply (request | 80H: 11H → 91H).
func (f Function) Reply() Control { return f.Request() | ControlReply }

// AbnormalReply is the control code of an abnormal reply (request | C0H: 11H → D1H).
func (f Function) AbnormalReply() Control { return f.Request() | ControlReply | ControlAbnormal }
