// Package outstation is the terminal's IEC 60870-5-102 outstation (secondary station,
// "integrated-total DTE" in REE terms): it listens on TCP, admits the masters of an
// allow-list, and answers REE-profile sessions straight from the terminal's journal. The
// protocol itself (frames, ASDUs, the link state machine) is package iec102; this package
// is the application behind iec102.Secondary.
//
// # Connections
//
// Serve accepts connections until its context is cancelled; each connection has its own
// goroutine, its own iec102.Secondary and its own session, and is closed when the context
// is cancelled, after Config.IdleTimeout without a frame, or when the master closes it. A
// connection from an address outside Config.AllowedMasters, or beyond Config.MaxConns, is
// closed at once without a byte sent. One TCP connection is one link; the link address
// is Config.LinkAddress and frames for another address are ignored (REE: no answer).
//
// # Session procedures (REE profile, application procedures)
//
// Every request is acknowledged on the link (FC 0) and answered on the following class 2
// polls; class 1 polls get "no data". The outstation never sends the single character E5
// (iec870ree, the reference REE master, does not parse it). A new request discards the
// answers of the previous one that the master did not poll.
//
//   - C_AC_NA_2 (183) opens a session for one measuring point: the mirror with COT 7 and
//     the password echoed if the common address is a configured point and the password
//     its own; the mirror with COT 7 and P/N = 1 (no objects) for a wrong password. After
//     Config.MaxAuthFailures wrong passwords on one connection the outstation answers the
//     last refusal and closes the connection.
//   - C_FS_NA_2 (187) closes the point's session: mirror with COT 7.
//   - Single-answer reads (COT 5 → one answer with COT 5): C_RD_NA_2 (100) → P_MP_NA_2
//     (71) from Config.Identity; C_TI_NA_2 (103) → M_TI_TA_2 (72), the terminal's clock;
//     P_IN_VA_2 (162) → R_IN_VA_2 (163), instant values of the newest instant reading.
//   - C_CS_TA_2 (181) sets the clock through Config.SetClock (mirror COT 7 with the time
//     echoed; COT 7 with P/N = 1 if SetClock fails); refused with COT 14 without SetClock.
//   - Range reads, C_CI_NT_2 (122), C_CI_NU_2 (123), C_SP_NB_2 (102), C_TA_VM_2 (134):
//     first the mirror of the request with COT 7 (activation confirmation), then one data
//     ASDU with COT 5 per period, oldest first, then the mirror with COT 10 (activation
//     termination) — also when no period has data. Both mirrors repeat the request's
//     objects. At most Config.MaxPeriods periods are answered; a master wanting more asks
//     again from after the last one received.
//
// Refusals are the mirror of the request without objects, with a cause of 13–18 (P/N
// not set; REE meters set it only sometimes, and the cause alone refuses):
//
//	16 address unknown          common address not a configured point; record address
//	                            not served for the type
//	14 ASDU type not available  no session open for the point, a type not served, a
//	                            malformed request
//	17 object not available     information object range outside 1–8 or reversed; an
//	                            instant-value group other than 192–194
//	18 period not available     a time tag naming no instant
//	13 record not available     instant values asked before any instant reading exists;
//	                            the journal failed (never answered as "no data")
//
// # Mapping: measuring points, information objects, record addresses
//
// A measuring point (the ASDU common address, Point.Address) is one meter
// (Point.Meter); its password is Point.Password. The journal's energy registers map to
// the REE information object addresses of integrated totals:
//
//	IOA 1  A+ active import   journal channel e_imp (Wh)
//	IOA 2  A− active export   journal channel e_exp (Wh)
//	IOA 3–6  reactive R1–R4   not acquired: value 0, qualifier IV
//	IOA 7, 8  reserves        value 0, qualifier IV (as REE meters send them)
//
// Counters carry the register divided by Config.WhPerCount: 1 (the default) sends Wh,
// exactly the journal's value, so that a reading arriving at the head-end by both paths
// carries equal values; 1000 sends kWh as REE masters expect (the remainder is dropped).
// A value missing from the journal entry, negative, or above 2³²−1 counts is sent as 0
// with IV; an entry flagged estimated or suspect (meterdata.Quality) is sent with IV on
// every object, since IEC 102 has no bit for either; backfilled entries are sent as they
// are.
//
// Record addresses, and the journal kind that feeds each:
//
//	RAD 11  hourly load profile         instant entries whose time is a whole hour in
//	                                    Config.Location, stamped with that time (the REE
//	                                    end-of-interval stamp: the value at 01:00 ends
//	                                    the period 00:00–01:00)
//	RAD 12  quarter-hourly profile      instant entries at whole quarter hours
//	RAD 21  daily values                daily_frozen entries, stamped with their time
//	RAD 134 billing, contract I         monthly entries (C_TA_VM_2 → M_TA_VM_2, below)
//	RAD 52–55, 128–133  event logs      Config.Events (C_SP_NB_2 → M_SP_TA_2)
//
// C_CI_NT_2 answers the registers themselves (M_IT_TG_2, 8); C_CI_NU_2 the increase
// since the previous period (M_IT_TK_2, 11): the entry one period earlier for the
// profiles, the previous daily_frozen entry for RAD 21; IV where that entry is missing,
// invalid or larger (rollover, meter exchange). A period without a journal entry is not
// answered at all: the outstation never invents a value.
//
// Billing records (M_TA_VM_2, one record per ASDU): object 20 (all tariffs) carries e_imp
// as the absolute active energy and its increase since the previous monthly entry as the
// incremental one, objects 21–24 the same for e_imp_t1…e_imp_t4 when the entry has them;
// period start is the previous monthly entry's time (all-zero Ta if none), period end
// the entry's own; where the increment is unknown (no earlier monthly entry, or the
// register went down) it is 0 and the qualifier says AL (period incomplete). Reactive
// energies, reserves, maximum demand and excess power are not acquired: 0 with IV.
//
// Current totals are the instant values of group 192 (P_IN_VA_2 → R_IN_VA_2): e_imp and
// e_exp of the newest instant entry at or before the clock, divided by WhPerCount,
// reactive 0, stamped with the entry's time. The group has no qualifier: when e_imp or
// e_exp is missing, out of range or flagged estimated or suspect, the group's time tag
// carries IV. Group 193 carries p, p_a, p_b, p_c (W per WhPerCount, magnitude; flag bit 0
// when exporting), q (var, flag bit 1 when negative) and |pf|; group 194 i_a…i_c and
// u_a…u_c in 0.1 A and 0.1 V. A channel the entry lacks is sent as 0 with the invalid
// flag (bit 5 of a power, bit 1 of a phase's voltage octets).
//
// Time tags are the wall clock of Config.Location (REE: Europe/Madrid; default UTC) with
// SU set in daylight-saving time. Ta has minute resolution: an entry whose time is not a
// whole minute is sent with the IV bit of its Ta set, so that no master keys a reading
// by a time it does not have.
//
// # History depth
//
// The journal deletes acknowledged entries older than journal.Options.KeepAcked
// (default 24 h): what the head-end already has is served for that long only, what it
// lacks until the head-end acknowledges it. A terminal serving REE masters that read a
// month of load profile at once needs a KeepAcked of that length.
package outstation
