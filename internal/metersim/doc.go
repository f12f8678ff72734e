// Package metersim simulates electricity meters for the demo, tests and benchmarks.
//
// A [Meter] is a pure model: given a seed and the instants it is asked about, it returns
// three-phase voltages, currents, active and reactive power, power factor, grid frequency
// and energy registers. Power follows a daily load shape for its customer type
// (residential, commercial, industrial) with seeded noise; the forward active energy
// register integrates that power over time, split into four time-of-use rates by the
// local hour; a meter with a solar export profile also runs its reverse register. The
// model never reads the wall clock: the same seed and the same query instants give the
// same answers.
//
// A [Simulator] holds many meters and a [Clock] (real time by default, or a virtual clock
// running N× faster) and serves them over DL/T 645-2007 with [Simulator.ServeDLT645]:
// every accepted TCP connection behaves like a transparent gateway onto one RS-485 bus
// carrying all the simulator's meters. It answers read data (11H) for every identifier of
// the dlt645 catalogue, read address (13H) and broadcast time sync (08H), replies
// abnormally (D1H, "no data requested") to unknown identifiers, and stays silent for
// addresses no meter has, as a real bus does.
//
// Not yet simulated: frozen data and load profiles, relay control, writes, outages and
// faults, Modbus; a later issue adds them.
package metersim
