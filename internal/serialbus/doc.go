// Package serialbus owns a serial port carrying an RS-485 bus of meters, for the protocol
// clients that read them (dlt645.Client, a Modbus RTU reader): it opens the port, gives
// it the byte-stream shape those clients take, keeps the line's timing rules and
// arbitrates the bus between protocols. It also emulates a serial line on a
// pseudo-terminal for the meter simulator and the tests.
//
// # Port
//
// [Open] opens a device by path through go.bug.st/serial in raw mode, flow control off,
// with [Settings]: baud rate, data bits, parity, stop bits; the zero value is 9600 8E1,
// even parity being the default of DL/T 645 and of Modbus RTU (MODBUS over Serial Line
// V1.02 §2.5.1). A [Port] has Read, Write and SetDeadline, the dlt645.Transport
// interface. go.bug.st/serial offers a read timeout fixed when a read starts; Port
// builds deadlines on it by reading in slices of at most 10 ms and checking the
// deadline between slices, so a read fails with an error wrapping
// os.ErrDeadlineExceeded exactly at a deadline set before it, and within 10 ms of a
// deadline moved during it (how a client's cancelled context interrupts a read). Bytes
// end a slice as they arrive.
//
// # Timing rules
//
// A character takes [Settings.FrameBits] bit times on the wire — start bit, data bits,
// parity bit, stop bits: 11 for 8E1 — so [Settings.CharTime] is 1.146 ms at 9600 bit/s.
// Before each write a Port (or a Link) leaves its gap of silence on the line, counted
// from the last byte received or from the estimated end of the last bytes written (the
// kernel sends them after Write returns, one CharTime each):
//
//   - Modbus RTU: t3.5, 3.5 characters, fixed at 1.750 ms above 19200 bit/s
//     ([Settings.ModbusGap], MODBUS over Serial Line V1.02 §2.5.1.1); frames are
//     delimited by this silence, so a master must keep it.
//   - DL/T 645: no master-side gap that we could confirm in DL/T 645-2007; it bounds the
//     meter's reply delay (应答延时) to 20…500 ms, as commonly summarised (not checked
//     against the printed text). [DefaultDLT645Gap] is 20 ms, conservative for slow
//     meters turning their transceiver around; a bus of quick meters can use the 3.5
//     characters of Modbus, or none.
//
// The meter's reply delay and the client's response timeout are the client's business
// (dlt645.Options.Timeout), not the port's.
//
// # Bus arbiter
//
// An RS-485 pair is half-duplex and its replies belong to the master that asked, so
// protocols sharing one port (Modbus RTU and DL/T 645 meters on the same pair) must take
// turns by whole exchanges. A [Bus] holds the port; each protocol client gets a [Link]
// with its own gap and deadline, and runs each exchange (one read of a meter) inside
// [Link.Do], which holds the bus for it. A Link used outside Do fails with
// [ErrNotHeld]. github.com/simonvetter/modbus opens serial ports itself and so cannot
// share one: a Modbus RTU client on a shared bus frames RTU over its Link instead.
//
// # Emulated line
//
// [OpenPTY] creates a pseudo-terminal pair (/dev/ptmx, unlocked and named with the
// TIOCSPTLCK and TIOCGPTN ioctls, no cgo): a client opens the slave as its serial port,
// and the [PTY] is the line's far end. A pty moves bytes at once, so the PTY takes the
// time a real line would: it hands each byte it writes to the client when the byte's
// stop bit would end, on an absolute schedule, and returns the bytes it reads when
// their transmission would have ended. Both directions share one half-duplex line:
// characters queue behind whatever is on it. The timing is as good as the host's: the
// last two milliseconds of each wait are slept with nanosleep(2), so bytes come tens of
// microseconds late, never early.
//
// # Not supported
//
// RS-485 direction control by RTS (transceivers that switch themselves are assumed),
// 1.5 stop bits, Modbus RTU's inter-character timeout t1.5 (frames are delimited by
// length and CRC, not by timing), and pseudo-terminals on systems other than Linux.
package serialbus
