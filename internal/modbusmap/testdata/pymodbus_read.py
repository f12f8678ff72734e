#!/usr/bin/python3
"""Read meters over Modbus TCP with pymodbus (Debian's python3-pymodbus 3.0) and print
their channel values as JSON: an independent peer for the interop tests of modbusmap.

usage: pymodbus_read.py HOST PORT UNITS SPEC...

UNITS is a comma-separated list of unit ids. Each SPEC describes one value as the register
map does: channel,table,address,type,word_order,byte_order,num,den,counter, e.g.
"u_a,input,0,float32,high_first,big,1000,1,0". Every value is read with a request of its
own and decoded here with struct and fractions, without gridmeter's code: the words are
put in word order, their bytes in byte order, unpacked big-endian, multiplied exactly by
num/den and rounded half away from zero; integer counters are truncated instead, as the
map specifies (float counters round to nearest like any float).

Output: {"<unit>": {"<channel>": <int>, ...}, ...}; a unit or value answered with a Modbus
exception gives {"<unit>": {"<channel>": "exception <code>"}}.
"""

import json
import math
import struct
import sys
from fractions import Fraction

from pymodbus.client import ModbusTcpClient

WORDS = {"u16": 1, "s16": 1, "u32": 2, "s32": 2, "u64": 4, "s64": 4, "float32": 2, "float64": 4}
FORMAT = {"u16": ">H", "s16": ">h", "u32": ">I", "s32": ">i", "u64": ">Q", "s64": ">q",
          "float32": ">f", "float64": ">d"}


def decode(registers, typ, word_order, byte_order):
    words = list(registers)
    if word_order == "low_first":
        words.reverse()
    raw = b""
    for w in words:
        pair = struct.pack(">H", w)
        raw += pair[::-1] if byte_order == "little" else pair
    return struct.unpack(FORMAT[typ], raw)[0]


def scale(value, num, den, counter):
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError("not finite: %r" % value)
    x = Fraction(value) * Fraction(num, den)
    sign = -1 if x < 0 else 1
    if counter and isinstance(value, int):
        return sign * math.floor(abs(x))
    return sign * math.floor(abs(x) + Fraction(1, 2))


def main(argv):
    host, port, units, specs = argv[1], int(argv[2]), argv[3], argv[4:]
    client = ModbusTcpClient(host, port=port, timeout=3)
    if not client.connect():
        print("cannot connect to %s:%d" % (host, port), file=sys.stderr)
        return 1
    out = {}
    try:
        for unit in (int(u) for u in units.split(",")):
            values = out.setdefault(str(unit), {})
            for spec in specs:
                ch, table, addr, typ, wo, bo, num, den, counter = spec.split(",")
                read = client.read_input_registers if table == "input" else client.read_holding_registers
                rr = read(int(addr, 0), WORDS[typ], slave=unit)
                if rr.isError():
                    values[ch] = "exception %d" % getattr(rr, "exception_code", -1)
                    continue
                v = decode(rr.registers, typ, wo, bo)
                values[ch] = scale(v, int(num), int(den), counter == "1")
    finally:
        client.close()
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
