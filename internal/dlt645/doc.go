// Package dlt645 speaks DL/T 645-2007, "Multi-function watt-hour meter communication
// protocol" (多功能电能表通信协议), the master side (a terminal reading meters) and the
// codec a simulated meter needs to answer.
//
// # Layers
//
// The package is split the way the house style asks for protocol packages:
//
//   - codec, pure functions on []byte: [Frame] with [Frame.Encode] and [Decode] (frame
//     format, 帧格式: start 68H, address A0…A5, 68H, control code C, length L, data +33H,
//     checksum CS, end 16H, optional FEH wake-up bytes); [Address], [DI], [Control]; BCD
//     value helpers ([DecodeBCD], [AppendSignedBCD], …); date and time fields; and the
//     [Catalogue] of data identifiers with their data formats (数据格式) mapped to
//     meterdata channels in integer units.
//   - link, the master's request/reply state machine in [Client]: wake-up preamble, stale
//     input discarded before each request, replies matched to the request by address,
//     function and data identifier, follow-up frames (后续帧), abnormal replies (异常应答),
//     response timeout and retries. One Client serialises its requests because the
//     RS-485 bus behind it is half-duplex.
//   - I/O behind the four-method [Transport] interface, which a net.Conn (a transparent
//     TCP gateway, [DialTCP]), a serial port and net.Pipe (tests) all satisfy.
//
// # Subset supported
//
// Functions (control code D4…D0): read data 11H, read follow-up data 12H (master side),
// read communication address 13H, broadcast time sync 08H. The codec carries any control
// code and any data field of up to [MaxDataLen] bytes, so the other functions (write 14H,
// write address 15H, freeze 16H, change baud 17H, change password 18H, demand reset 19H,
// meter clear 1AH, event clear 1BH, relay/alarm control 1CH) can be built on it, but no
// helper for them exists yet.
//
// Data identifiers: the instantaneous values, energy registers, clock and status words
// listed by [Catalogue] (DL/T 645-2007 Annex A, data identifier tables: energy DI3=00,
// variables DI3=02, parameters DI3=04).
//
// # Not yet supported
//
// Writes and security (password levels, operator code; State Grid ESAM-protected
// control), relay control, frozen data (DI3=05), load profile records (DI3=06) and
// their block-count read parameters, events (DI3=03), demand (DI3=01), address
// abbreviation beyond the AAH wildcard byte, DL/T 645-1997 two-byte identifiers, and
// the serial transport (the Transport interface is ready for it).
//
// # Citations
//
// Comments cite the standard by section title, in Chinese as printed, e.g. "frame
// format (帧格式)" or "error information word (错误信息字)", rather than by clause number,
// which was not checked against the printed text. Where this package and the standard
// disagree, the standard wins and this package has a bug.
package dlt645
