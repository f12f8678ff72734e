// Package modbusmap maps Modbus meter registers to meterdata channels: a declarative,
// validated register map (built in or loaded strictly from YAML), the codec between
// register words and channel values in their integer units, a reading plan that groups
// adjacent registers into few requests, and a [Reader] that reads a meter over Modbus TCP
// with github.com/simonvetter/modbus, which does the protocol.
//
// # Standard
//
// MODBUS Application Protocol Specification V1.1b3 (2012) and MODBUS Messaging on TCP/IP
// Implementation Guide V1.0b (2006). Supported: read holding registers (03) and read input
// registers (04) of §6.3 and §6.4, at most 125 registers per request; the exception codes of
// §7 are mapped to [Exception]. Addresses are the protocol (PDU) addresses of §4.4, counted
// from 0: the "30001" of a vendor's input register table is address 0 here. Coils, discrete
// inputs, writes and device identification are not supported. Modbus RTU is framed here
// (RTUFrame, CRC16, RTUReader over any transport), because the terminal owns the serial port
// itself through internal/serialbus: one RS-485 port may carry DL/T 645 meters too.
//
// # Values
//
// A register holds one value of a [DataType] in 1, 2 or 4 consecutive 16-bit registers. The
// spec sends each register high byte first and says nothing about multi-register values:
// devices differ, so every register entry names its [WordOrder] and [ByteOrder]. A value
// times its [Scale], an exact rational, is the channel value in the channel's meterdata unit
// (mV, mA, mW, mvar, 0.001, mHz, Wh). Integer registers are scaled in integer arithmetic and
// never pass through a binary float; float registers are rounded to the nearest unit.
package modbusmap
