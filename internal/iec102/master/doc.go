// Package master is the head-end's IEC 60870-5-102 master (primary station): a Client
// that runs REE-profile sessions with one outstation step by step (for the field
// engineer's command and for tests), and a Poller that polls a configured list of
// outstations on schedule and on demand and stores what it reads, exactly once, into the
// head-end's storage. The protocol itself is package iec102; the outstation it is built
// to talk to is package outstation, whose documentation gives the mapping of journal
// channels and kinds to information objects and record addresses.
//
// # A session
//
// One TCP connection per session: request status of link, reset of remote link; then for
// each measuring point of the target: C_AC_NA_2 (password), C_TI_NA_2 (clock, first
// point only; a drift beyond Options.MaxDrift is logged as an event and, with
// Target.CorrectClock, corrected with C_CS_TA_2), P_IN_VA_2 group 192 (current totals),
// C_CI_NT_2 on record 11 (hourly load profile) and on record 21 (daily values) for the
// objects 1–2 (A+, A−) since the newest stored reading, C_FS_NA_2. Every request is
// acknowledged on the link, then polled with class 2 until its answer (reads), its COT 7
// mirror (commands) or its COT 10 mirror (range reads). Unanswered frames are repeated
// unchanged (same frame count bit) Target.Retries times after Target.Timeout; "no data"
// is polled again for up to Target.Timeout; the whole session is bounded by
// Target.SessionTimeout. A refused request (a negative confirmation: a wrong password,
// a read the outstation does not serve) fails that step only, reported in Result.Err and
// the point's PointResult, and the session goes on; a connection or link failure ends
// the session (Result.Failed) and Poller.Run retries it after a backoff. Whatever was read
// before a failure is stored.
//
// # Backfill: where a session resumes
//
// Before anything of the session is stored, the newest stored reading of each meter
// (storage LatestReading) is looked up: instant for the load profile, daily_frozen for
// the daily values. The profile is read from the first hour boundary after it to the
// last hour boundary before now, the daily values from the minute after it to now; with
// nothing stored, from Target.Backfill ago. So after an outage of the MQTT path, of the
// head-end or of the IEC 102 path itself, the next session reads what is missing, as
// far back as the terminal's journal still holds it. Holes before the newest stored
// reading are not looked for: the MQTT path's sequence numbers report those, and the
// terminal's journal keeps unacknowledged readings until the MQTT path delivers them.
// An outstation bounds the periods it answers at once; a session whose profile answer
// fills a day or more asks again for the rest of its range (up to 16 reads).
//
// # Exactly once through both paths
//
// Readings are stored through storage StoreReadings under the key (meter, kind, time) of
// every path:
//
//   - load profile: kind instant, time = the period's end-of-interval stamp, which the
//     outstation takes from the journal's instant reading at that hour boundary: the
//     same key as that reading arriving by MQTT;
//   - current totals: kind instant, time = the stamp of the newest instant reading the
//     outstation has (a polling slot): again the key of that reading;
//   - daily values: kind daily_frozen, time = the freeze time of the journal entry.
//
// Values: the IEC 102 path carries e_imp and e_exp only (objects 1 and 2; A+ and A− in
// Wh with the default WhPerCount 1, so equal to the journal's values to the Wh; a
// register above 2³²−1 Wh, 4.29 GWh, does not fit the 4-octet counter and is sent
// invalid, so this path does not store it). Exact equality with the MQTT reading is impossible for every other channel: voltages,
// currents, powers, power factor, frequency and the tariff registers e_imp_t1…t4 have no
// integrated-total object (instant values carry some of them, rounded to 0.1 V, 0.1 A,
// 1 W: never stored). StoreReadings therefore takes a reading as a duplicate when every
// value it carries equals the stored one: when MQTT stored the reading first, the IEC 102
// copy changes nothing (a duplicate, no second row, no conflict). When IEC 102 is first
// (the MQTT path was down), the subset is stored, and the whole reading arriving later by
// MQTT is a conflict under StoreBatch's equal-values rule: logged, the subset kept —
// still one row per key. With WhPerCount 1000 (kWh, as REE meters count) the values are
// rounded down to the kWh and differ from the journal's unless they are whole kWh:
// conflicts, never second rows.
//
// Ta has minute resolution: the outstation marks a stamp that is not a whole minute
// invalid (IV), and such periods are not stored, rather than stored under a key the
// MQTT path does not use. Time tags are read in Target.Location, which must be the
// outstation's Config.Location (the SU bit resolves the repeated hour of autumn).
package master
