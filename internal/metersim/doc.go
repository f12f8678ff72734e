// Package metersim simulates electricity meters for the demo, tests and benchmarks.
//
// The same meters are served over DL/T 645 (ServeDLT645, a transparent TCP gateway onto
// one bus; ServeDLT645PTY, a pseudo-terminal with baud-rate-true timing) and over Modbus
// (ServeModbusTCP; ServeModbusRTUPTY: unit i+1 = meter i, registers through a
// modbusmap.Map).
//
// # The meter model
//
// A [Meter] is a pure model: given a seed and the instants it is asked about, it returns
// three-phase voltages, currents, active and reactive power, power factor, grid frequency
// and energy registers. Power follows a daily load shape for its customer type
// (residential, commercial, industrial) with seeded noise, constant within each 10-second
// step; the forward and reverse active energy registers integrate it exactly (µJ, mW ×
// ms), split into four time-of-use rates by the local hour. The model never reads the
// wall clock: the same seed, the same commands and the same query instants give the same
// answers, and the records a meter keeps do not depend on how often it was asked.
//
// Everything a meter keeps runs on its own clock (a few seconds off until a time sync)
// in its time zone:
//
//   - a daily freeze at local midnight, 62 days deep (050600nn…050602nn): the freeze time
//     and the forward and reverse registers, total and rates;
//   - a settlement at the settlement day and hour (default the 1st, 00:00; writable with
//     04000B01), 12 months deep (000100nn, 0001FFnn, 000200nn);
//   - a load profile record every 15 minutes, ProfileDays deep (default 3 days: 288
//     records), read with 06000001 (n blocks from a given time) and 06000002 (latest):
//     voltage, current, frequency, active and reactive power, power factor and the
//     forward and reverse registers at the record's instant; reactive energy, the
//     four-quadrant class and demand are not simulated (sent as 0, or left out);
//   - an instant freeze on the freeze command 99999999, 3 deep;
//   - a power-down record per outage, 10 deep, and the count (03110000, 031100nn).
//
// A new meter has no records: reads of a position not yet written are answered "no data
// requested" (02H), where some real meters send zeros.
//
// # Relay, outages and faults
//
// Control commands (1CH, plain level 02 with the meter's password) trip the relay — the
// load and the registers stop — and allow it to close, which the customer does
// MeterSpec.CloseDelay later; direct close, keep-on and alarm are modelled too (see
// relayState). A meter with EncryptedControl refuses plain commands with 04H, as State
// Grid meters requiring ESAM protection do; level 98H is not simulated. Run status word 3
// reports the relay.
//
// An [Outage] makes a meter silent; it consumes nothing meanwhile, resumes with its
// registers where they stood, makes up the freezes it missed (its clock ran on battery),
// leaves a gap in its load profile and writes a power-down record. [Faults] inject, per
// meter and with a seeded probability per request, no answer, a late answer, a bad
// checksum, garbage before the reply and abnormal replies; and a meter exchange (the
// registers restart low, the memory is empty). The rollover at 999 999.99 kWh comes from
// starting the register just below it (MeterSpec.StartImportWh).
//
// # The simulator
//
// A [Simulator] holds many meters and a [Clock] (real time by default, or a virtual clock
// running N× faster, so that a month passes in minutes) and serves them over DL/T
// 645-2007 with [Simulator.ServeDLT645]: every accepted TCP connection behaves like a
// transparent gateway onto one RS-485 bus carrying all the simulator's meters. It answers
// read data (11H) for every identifier of the dlt645 catalogue, with follow-up frames
// (12H) for long replies, read address (13H), write (14H: settlement day, date, time),
// freeze (16H), control (1CH) and broadcast time sync and freeze (08H, 16H to
// 999999999999); it replies abnormally (D1H, "no data requested") to unknown
// identifiers and stays silent for addresses no meter has, as a real bus does. A
// [Scenario] describes a simulation in a JSON file for cmd/metersim.
//
// A meter costs about 1 KB plus its records (about 13 KB with full memory and the default
// 3-day load profile), and a simulated day about 0.7 ms of CPU: thousands of meters run in
// one process.
//
// Not simulated: demand, reactive energy registers,
// timed freezes (定时冻结), events other than power-down, ESAM security.
package metersim
