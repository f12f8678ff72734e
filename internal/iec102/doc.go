// Package iec102 speaks IEC 60870-5-102 ("IEC 102", companion standard for the
// transmission of integrated totals in electric power systems) over TCP, in the subset
// the Spanish REE profile uses ("protocolo RMCM" of 2002 and its "ampliación fase 2" of
// 2003): the codec and the link state machines both the master (primary station, the
// head-end) and the outstation (secondary station, the terminal or meter, "integrated
// total DTE") are built on.
//
// # Layers
//
// The package is split the way the house style asks for protocol packages.
//
// Codec, pure functions on []byte:
//
//   - FT1.2 frames of IEC 60870-5-1 (format class FT1.2) with the REE 2-octet link
//     address: [Frame], [DecodeFrame], [Frame.Append]; fixed frames 10 C A A CS 16,
//     variable frames 68 L L 68 C A A ASDU CS 16, the single character E5; and the
//     stream [Decoder] that splits a TCP byte stream into frames, resynchronising
//     after junk and counting what it drops.
//   - The control field of IEC 60870-5-2 ([Control], [PrimaryFunc], [SecondaryFunc]).
//   - ASDUs of IEC 60870-5-102 ([ASDU], [DUI], [DecodeASDU], [NewRequest],
//     [ASDU.Mirror]): data unit identifier, causes of transmission ([COT], [Cause]),
//     record addresses, time information a and b ([TimeA], [TimeB]), integrated
//     totals with their qualifier ([Quality]), and one typed [Info] per supported
//     type identification.
//
// Link, IEC 60870-5-2 unbalanced transmission as pure logic without I/O: the master's
// [Primary] (frame count bit, retransmission of the identical frame, link down after
// the retries) and the outstation's [Secondary] (FCB check, repetition of the last
// answer, ACD/DFC, class 1/2 polls) over a [Handler].
//
// I/O behind the three-method [Conn] interface that a net.Conn, a serial port and
// net.Pipe all satisfy: [ReadFrame] and [WriteFrame] with deadlines.
//
// Session procedures (authenticate, read ranges polling class 2 until COT 10, end
// session) belong to the master and the outstation built on this package; [TypeID]
// carries what they need to know per type: [TypeID.Procedure], [TypeID.Answer],
// [TypeID.RequestCause], and [ASDU.CheckCause] turns answers into errors.
//
// # Subset supported
//
// Link: unbalanced mode only; 2-octet link address; primary functions 0, 1, 3, 4, 9,
// 10, 11; secondary functions 0, 1, 8, 9, 11, 14, 15. E5 is decoded (and taken as Ack
// or NoData by the Primary) but the Secondary never sends it: iec870ree's parser only
// knows 10H and 68H.
//
// ASDU: 2-octet common address (the REE measuring point) and 1-octet record address;
// SQ=0. Type identifications with a codec (TypeID.Supported):
//
//   - standard: 1 M_SP_TA_2; 2–13 M_IT_TA_2…M_IT_TM_2 (integrated totals with 4-, 3-
//     and 2-octet counters; REE uses 8 and 11); 71 P_MP_NA_2; 72 M_TI_TA_2;
//     100 C_RD_NA_2; 102 C_SP_NB_2; 103 C_TI_NA_2; 120–123 C_CI_NR_2…C_CI_NU_2.
//   - REE: 133–136 C_TA_VC_2, C_TA_VM_2, M_TA_VC_2, M_TA_VM_2 (billing); 139, 140
//     M_IB_TG_2, M_IB_TK_2 and 189, 190 C_CB_NT_2, C_CB_UN_2 (blocks of totals);
//     141 C_RM_NA_2, 182 C_PI_NA_2 (requests only); 144, 145 C_PC_NA_2, M_PC_NA_2
//     (contracted powers); 147, 148 C_DF_NA_2, M_DF_NA_2 (holidays); 162, 163
//     P_IN_VA_2, R_IN_VA_2 (instant values); 181 C_CS_TA_2; 183 C_AC_NA_2;
//     187 C_FS_NA_2.
//
// Record addresses: any value is carried; the REE assignments are named: 0 default,
// 1 accounting period, 11/12/13 load profiles (hourly, quarter-hourly), 21–23 daily,
// 52–55 and 128–133 event logs, 134–136 billing, 137–139 latent contracts.
//
// Causes of transmission: all 64 values are carried with the P/N and T bits; named are
// 3–10 and the refusals 13–18 ([Cause.IsError]); 48–63 print as private.
//
// # Not yet supported
//
// 0- and 1-octet link addresses, 1-octet common addresses, balanced mode, the
// broadcast link address (FC 4 is handled only when addressed to the outstation), SQ=1
// lists, the optional signature octet after integrated totals, and type
// identifications without a layout in the project's reference: 70 M_EI_NA_2,
// 101 C_SP_NA_2, 104–119 (the "oldest / past period" reads of totals), 129 P_ME_NA_2,
// 142 M_RM_NA_2, 150/151 and 156/157 (phase-2 tariff and RM2 parameters), the
// Connexo-only 128, 130–132 and 137. These decode as [Raw] with an [UnknownTypeError]
// so an outstation can answer COT 14. The Chinese DL/T 719 variant shares the link
// layer but not these ASDUs.
//
// # Time tags
//
// Ta ([TimeA], 5 octets) and Tb ([TimeB], 7 octets) keep every bit, reserved bits
// included, so decoding and re-encoding reproduces the octets. Tb is encoded the IEC
// 102 way: the first little-endian word holds milliseconds in bits 9…0 and seconds in
// bits 15…10 (iec870ree, validated against Spanish meters; EnergyICT ZIV driver; a C
// outstation). Some masters (daiiniel's C#, the GEN C++ client) write that word as IEC
// 101 CP56Time2a milliseconds-in-minute; the readings agree only for 0 ms and seconds
// ≤ 41 at best. Decoding is always 10+6; [TimeB.CP56Reading] reinterprets a decoded tag
// for such peers. Years are two-digit and REE counts them from 2000. The day of week
// (1 = Monday … 7 = Sunday, 0 unused) is kept but never trusted: real meters send 0 or
// wrong values. [TimeA.Time] uses SU to pick the instance of the repeated hour in
// October (REE: Europe/Madrid legal time); an all-zero tag is "no time"
// ([TimeA.IsZero]) and Time reports [ErrTime] for it rather than iec870ree's
// 2000-01-01.
//
// # Ambiguities in the reference, and the choice made
//
//   - Tb's first word: 10+6 bits, above.
//   - Integrated-total qualifier: generic IEC 102 has IV, CA, CY and a 5-bit sequence
//     number; REE re-uses bits 4…0 as VH, MP, INT, AL, RES in daiiniel's order, while
//     iec870ree keeps the octet raw. [Quality] keeps the octet and names the bits.
//   - 3- and 2-octet counters (types 3, 4, 6, 7, 9, 10, 12, 13) follow the reference's
//     "IOA + counter (4/3/2) + qualifier" layout; no REE meter seen uses them.
//   - Instant values (163): the reference gives group sizes and value widths only; the
//     flag bits (active export, reactive Q2/Q3, invalid) follow iec870ree's decoder and
//     are kept raw. iec870ree masks group-192 totals to 27 bits with a validity bit of
//     dubious position; this package keeps the whole UI32.
//   - The SPQ octet of M_SP_TA_2: bit 0 SPI, bits 7…1 an event code, as the reference
//     says; which codes mean what per record address is not documented here.
//   - Request VSQs differ between masters (C_PC_NA_2, C_RM_NA_2: 0 in iec870ree, 1 in
//     C#; C_SP_NB_2 goes with VSQ 0 though it carries a time range): decoding accepts
//     any VSQ for requests with a fixed layout; [NewRequest] writes iec870ree's.
//   - Mirrors: meters answer with or without the request's objects; a mirror without
//     objects decodes with a nil Info whatever its VSQ.
//   - Error answers: causes 13–18 refuse a request whether or not P/N is set
//     ([COT.IsNegative]).
//   - SC2 (A2H) is named by the reference as an FT1.2 single character but is not
//     decoded: A2H is treated as junk. Nor is the link broadcast address given.
//   - Before the first reset of remote link, and when a repetition arrives with no
//     answer kept, the Secondary takes the frame as new (see [Secondary]); the
//     reference only says FC 3/10/11 are valid after the reset.
//
// # Citations
//
// Comments cite the standards by part and section title ("IEC 60870-5-1, format class
// FT1.2", "IEC 60870-5-2, unbalanced transmission"), not by clause number: the clause
// numbers were not checked against the printed texts. The REE profile is cited as
// "REE" with the section of the project's reference note. Where this package and the
// standard disagree, the standard wins and this package has a bug.
package iec102
