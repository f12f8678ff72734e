package dlt645

import "testing"

func TestAddress(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Address
		str     string
		invalid bool
	}{
		{in: "123456789012", want: addr1, str: "123456789012"},
		{in: "398192000337", want: Address{0x37, 0x03, 0x00, 0x92, 0x81, 0x39}, str: "398192000337"},
		{in: "1", want: Address{0x01}, str: "000000000001"},
		{in: "AAAAAAAAAAAA", want: WildcardAddress, str: "AAAAAAAAAAAA"},
		{in: "aaaaaa123456", want: Address{0x56, 0x34, 0x12, 0xAA, 0xAA, 0xAA}, str: "AAAAAA123456"},
		{in: "999999999999", want: BroadcastAddress, str: "999999999999"},
		{in: "", invalid: true},
		{in: "1234567890123", invalid: true},
		{in: "12345678901x", invalid: true},
		{in: "AAAA", invalid: true},         // wildcards only in a full 12-character address
		{in: "A12345678901", invalid: true}, // half a wildcard pair
	} {
		got, err := ParseAddress(tc.in)
		if tc.invalid {
			if err == nil {
				t.Errorf("ParseAddress(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseAddress(%q) = %v, %v, want % X", tc.in, got, err, tc.want)
			continue
		}
		if got.String() != tc.str {
			t.Errorf("String() = %q, want %q", got.String(), tc.str)
		}
	}

	if !WildcardAddress.Matches(addr1) || !addr1.Matches(addr1) {
		t.Error("Matches: wildcard or self does not match")
	}
	partial := MustParseAddress("AAAAAA789012")
	if !partial.Matches(addr1) || partial.Matches(MustParseAddress("123456789013")) {
		t.Error("Matches: partial wildcard")
	}
	if !addr1.Valid() || WildcardAddress.Valid() {
		t.Error("Valid")
	}
	if !BroadcastAddress.IsBroadcast() || addr1.IsWildcard() || !partial.IsWildcard() {
		t.Error("IsBroadcast/IsWildcard")
	}
}

func TestDI(t *testing.T) {
	di, err := ParseDI("0201ff00")
	if err != nil || di != DIVoltageBlock {
		t.Fatalf("ParseDI = %v, %v", di, err)
	}
	if di.String() != "0201FF00" || !di.IsBlock() || di.Class() != 0x02 {
		t.Errorf("String/IsBlock/Class: %s %v %x", di, di.IsBlock(), di.Class())
	}
	if DIFrequency.IsBlock() {
		t.Error("02800002 is not a block")
	}
	wire := DIFrequency.AppendWire(nil)
	if got, _ := DIFromWire(wire); got != DIFrequency || wire[0] != 0x02 || wire[3] != 0x02 || wire[2] != 0x80 {
		t.Errorf("wire % X → %v", wire, got)
	}
	for _, bad := range []string{"", "0201FF0", "0201FF0G", "0201FF000"} {
		if _, err := ParseDI(bad); err == nil {
			t.Errorf("ParseDI(%q) accepted", bad)
		}
	}
}
