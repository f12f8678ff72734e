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
//     meterdata channels in integer units; typed builders and decoders for the command
//     data fields ([DecodeControlData], [DecodeWriteRequest], [DecodeFreezeSchedule]) and
//     for the meter's memory ([DecodeFrozen], [DecodePowerDownEvent],
//     [DecodeLoadRecords], [DecodeSettlementDay], [DecodeStatusWord3]), each with its
//     encoder, as a simulated meter needs them.
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
// Functions (control code D4…D0), master side:
//
//   - read data 11H ([Client.Read], [Client.ReadValues], [Client.ReadRaw]), with block
//     identifiers (FFH) and read follow-up data 12H (后续帧) for long replies;
//   - read communication address 13H ([Client.ReadAddress]);
//   - broadcast time sync 08H ([Client.BroadcastTimeSync]);
//   - write data 14H ([Client.Write], [Client.WriteSettlementDay]): DI, password level
//     and password (PA P0 P1 P2), operator code (C0…C3), value; L ≤ 50;
//   - freeze 16H ([Client.Freeze]): mm hh DD MM with 99 wildcards, 99999999 an instant
//     freeze; to one meter or broadcast;
//   - relay, alarm and keep-on control 1CH ([Client.Control]): trip 1AH, close allowed
//     1BH, direct close 1CH, alarm 2AH/2BH, keep-on 3AH/3BH, with the command's
//     valid-until time N3…N8. The data field is built and the reply checked by a
//     [SecurityProvider]: [PlainSecurity] sends level 02 in the clear, as DL/T 645-2007
//     defines; meters of the State Grid specifications (Q/GDW 1364/1365-2013) need level
//     98H with N1…N8 encrypted by their ESAM and a MAC, which a provider backed by a
//     security module adds without changes to the client. Confirm a relay command by
//     reading run status word 3 ([Client.ReadStatusWord3], [StatusWord3]).
//
// Every command reply is 80H | request without data when accepted (94H, 96H, 9CH) or
// C0H | request with the error information word ([AbnormalError]; 04H is wrong password
// or unauthorised). The codec carries any other control code (15H, 17H…1BH) and data
// field of up to [MaxDataLen] bytes, but no helper builds them.
//
// Data identifiers ([Catalogue], DL/T 645-2007 Annex A): forward and reverse active
// energy, total and per rate, current and at the previous settlement days 1…12
// (000100nn, 0001FFnn, 000200nn); phase voltages and currents; total and phase active
// power, reactive power, power factor, frequency; date and time; active and reactive
// pulse constants (04000409/0A); run status words 1…7; the settlement day (04000B01);
// daily frozen time and forward/reverse energy blocks 1…62 days back (050600nn,
// 050601nn, 050602nn, [Client.ReadDailyFrozen]) and instant freezes (0501xxnn);
// power-down count and the last 10 power-down records (03110000, 031100nn,
// [Client.ReadPowerDownEvent]); load profile record blocks (06000001 given time, n
// blocks; 06000002 latest; [Client.ReadLoadProfile], [LoadRecord]). The catalogue maps
// values to meterdata channels where meterdata has one: the reverse rates, pulse
// constants and status words 2 and 4…7 have none yet and are read with ReadRaw.
//
// # Uncertain points
//
// Where the reference note or the public sources were not sure, this package says so:
//
//   - power-down records 031100nn as start + end time (YYMMDDhhmmss each, 12 bytes) and
//     the count 03110000 as XXXXXX: the reference marks them "moderate confidence";
//   - the load profile record block (see loadprofile.go): the layout agrees across three
//     public decoders, but the printed standard was not at hand; the request's NN is
//     taken as BCD and placed before the time (sources differ; the same for 1…9 blocks);
//   - status word 3 bits 8…15 (keep-on in bit 12) come from the State Grid smart-meter
//     family, not from DL/T 645-2007 itself;
//   - a meter without a record at a history position may answer zeros (reported as
//     [ErrNoRecord]) or "no data requested" (an [AbnormalError] that also matches
//     ErrNoRecord); both are handled.
//
// # Not yet supported
//
// Encrypted (ESAM) control itself (only the provider seam), ESAM-protected writes, demand
// (DI3=01), other event classes (DI3=03 beyond power-down), the timed freeze records
// (定时冻结, 0500xxnn), the State Grid per-quantity curves (0610xxxx), write address 15H,
// change baud 17H, change password 18H, the clear commands 19H…1BH, address abbreviation
// beyond the AAH wildcard byte, and DL/T 645-1997 two-byte identifiers. A serial port
// (RS-485, 8E1) is a Transport through internal/serialbus, which also keeps the line's
// timing and arbitrates a port shared with Modbus RTU.
//
// # Citations
//
// Comments cite the standard by section title, in Chinese as printed, e.g. "frame
// format (帧格式)" or "error information word (错误信息字)", rather than by clause number,
// which was not checked against the printed text. Where this package and the standard
// disagree, the standard wins and this package has a bug.
package dlt645
