package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"gridmeter/internal/iec102"
	"gridmeter/internal/iec102/outstation"
	"gridmeter/internal/iec102/outstation/outstationtest"
	"gridmeter/internal/meterdata"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"session start", []string{"68 0D 0D 68 73 01 00 B7 01 06 01 00 00 01 00 00 00 34 16"},
			[]string{"183 C_AC_NA_2 VSQ 1 cause 6 (activation) CA 1 RAD 0 (default)", "password(redacted)"}},
		{"totals and no data, junk after", []string{"68 3E 3E 68 08 01 00 08 08 05 01 00 0B 01 04 00 00 00 00 02 00 00 00 00 00 03 1B 00 00 00 00 04 00 00 00 00 00 05 00 00 00 00 00 06 00 00 00 00 00 07 00 00 00 00 80 08 00 00 00 00 80 00 81 E1 07 12 E8 16", "10:09:01:00:0A:16", "FF"},
			[]string{"8 M_IT_TG_2 VSQ 8 cause 5", "2018-07-01 01:00 SU dow 7  1:4  2:0  3:27", "7:0 IV", "fixed, 09 (no data), link address 1", "1 octets discarded"}},
		{"product", []string{"680F0F68080100470105010000", "2442C612E1027816"},
			[]string{"manufacturer 66, product 48304838, protocol specification 04/2002"}},
		{"bad checksum", []string{"10 49 01 00 00 16 10 49 01 00 4A 16"},
			[]string{"malformed: iec102: malformed frame: checksum mismatch", "fixed, 49 (PRM request link status), link address 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(t.Context(), append([]string{"decode"}, tc.args...), &out, &out); err != nil {
				t.Fatalf("decode: %v\n%s", err, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	for _, bad := range [][]string{{"decode"}, {"decode", "zz"}, {"decode", "FF FF"}, {"nonsense"}, {}} {
		if err := run(t.Context(), bad, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("run(%q): want an error", bad)
		}
	}
}

func TestRead(t *testing.T) {
	m := meterdata.MeterID("T1.bus1.000000000001")
	day := time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC)
	var rs []meterdata.Reading
	for i := range 9 {
		rs = append(rs, meterdata.Reading{Meter: m, Kind: meterdata.KindInstant, Time: day.Add(time.Duration(i) * 15 * time.Minute),
			Values: map[string]int64{"e_imp": 1000 + int64(i), "e_exp": 7}})
	}
	_, addr := outstationtest.Start(t, outstation.Config{LinkAddress: 1, Points: []outstation.Point{{Address: 1, Password: 1, Meter: m}},
		Identity: iec102.ProductInfo{Manufacturer: 7, Product: 1234}}, outstationtest.NewMemorySource(rs...))
	var out, errs bytes.Buffer
	err := run(t.Context(), []string{"read", "-addr", addr, "-from", "2026-05-10T01:00", "-to", "2026-05-10T02:00", "-v"}, &out, &errs)
	if err != nil {
		t.Fatalf("read: %v\n%s\n%s", err, out.String(), errs.String())
	}
	for _, w := range []string{
		"identity       manufacturer 7, product 1234, protocol specification 04/2002",
		"current totals at 2026-05-10 02:00 dow 7: A+ 1008, A- 7",
		"registers of record 11 (profile 1 (hourly)), periods ending 2026-05-10 01:00 … 2026-05-10 02:00: 2",
		"2026-05-10 01:00 dow 7  1:1004  2:7  3:0 IV",
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	if !strings.Contains(errs.String(), "-> 10 49 01 00 4A 16") || !strings.Contains(errs.String(), "<- 10 0B 01 00 0C 16") {
		t.Errorf("-v trace lacks the link start-up:\n%s", errs.String())
	}
	if err := run(t.Context(), []string{"read", "-addr", addr, "-password", "2"}, &out, &errs); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("wrong password: %v, want a negative answer", err)
	}
	if err := run(t.Context(), []string{"read"}, &out, &errs); err == nil {
		t.Error("read without -addr: want an error")
	}
}
