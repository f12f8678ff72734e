package metersim

import (
	"os"
	"strings"
	"testing"
	"time"

	"gridmeter/internal/dlt645"
)

// TestLoadScenarioExample loads the example shipped with cmd/metersim.
func TestLoadScenarioExample(t *testing.T) {
	f, err := os.Open("../../cmd/metersim/scenario.example.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc, err := LoadScenario(f)
	if err != nil {
		t.Fatal(err)
	}
	specs := sc.Specs()
	if len(specs) != 22 || sc.Seed != 7 || sc.Speed != 3600 || time.Duration(sc.ReplyDelay) != 5*time.Millisecond {
		t.Fatalf("%d meters, %+v", len(specs), sc)
	}
	if _, off := sc.Start.In(sc.Location()).Zone(); off != 8*3600 {
		t.Errorf("zone offset %d", off)
	}
	m3 := specs[2] // listed, replacing the generated 000000000003
	if m3.Address != "000000000003" || m3.Customer != Industrial || m3.Password != 0x123456 || m3.CloseDelay != 2*time.Minute ||
		m3.ProfileDays != 7 || len(m3.Outages) != 2 || m3.Settlement != (dlt645.SettlementDay{Day: 1}) {
		t.Errorf("meter 3 %+v", m3)
	}
	if f := specs[3].Faults; !f.NoAnswer || f.Probability != 0.1 || specs[3].ExportPeakW != 4000 {
		t.Errorf("meter 4 %+v", specs[3])
	}
	if specs[4].StartImportWh != 999990000 || specs[4].Faults.Late != 3*time.Second {
		t.Errorf("meter 5 %+v", specs[4])
	}
	if f := specs[5].Faults; f.ExchangeAt.IsZero() || !specs[5].EncryptedControl {
		t.Errorf("meter 6 %+v", specs[5])
	}
	if specs[21].Address != "000000000022" || specs[21].Faults.Abnormal != dlt645.ErrCodeUnauthorized {
		t.Errorf("meter 22 %+v", specs[21])
	}
	clock := NewManualClock(sc.Start)
	sim, err := New(sc.Options(clock))
	if err != nil {
		t.Fatal(err)
	}
	if len(sim.Meters()) != 22 {
		t.Errorf("%d meters", len(sim.Meters()))
	}
}

func TestLoadScenarioErrors(t *testing.T) {
	for _, tc := range []struct{ name, json, want string }{
		{"unknown key", `{"seed": 1, "generate": {"count": 1, "first_address": "1"}, "colour": "red"}`, "colour"},
		{"unknown meter key", `{"meters": [{"address": "000000000001", "customr": "industrial"}]}`, "customr"},
		{"unknown fault key", `{"meters": [{"address": "000000000001", "faults": {"no_anwser": true}}]}`, "no_anwser"},
		{"unknown outage key", `{"meters": [{"address": "000000000001", "outages": [{"start": "2024-03-01T00:00:00Z", "stop": "2024-03-01T01:00:00Z"}]}]}`, "stop"},
		{"no meters", `{"seed": 1}`, "no meters"},
		{"bad duration", `{"meters": [{"address": "000000000001", "close_delay": "soon"}]}`, "soon"},
		{"short address", `{"meters": [{"address": "1"}]}`, "address"},
		{"bad customer", `{"meters": [{"address": "000000000001", "customer": "farm"}]}`, "farm"},
		{"bad password", `{"meters": [{"address": "000000000001", "password": "12345a"}]}`, "password"},
		{"settlement day 30", `{"meters": [{"address": "000000000001", "settlement_day": 30}]}`, "settlement"},
		{"outage backwards", `{"meters": [{"address": "000000000001", "outages": [{"start": "2024-03-01T01:00:00Z", "end": "2024-03-01T00:00:00Z"}]}]}`, "outage"},
		{"probability", `{"meters": [{"address": "000000000001", "faults": {"probability": 2}}]}`, "probability"},
		{"garbage", `{"meters": [{"address": "000000000001", "faults": {"garbage": 100}}]}`, "garbage"},
		{"time zone", `{"time_zone": "Mars/Olympus", "meters": [{"address": "000000000001"}]}`, "time_zone"},
		{"odd offset", `{"time_zone": "+05:10", "meters": [{"address": "000000000001"}]}`, "quarter hours"},
		{"negative speed", `{"speed": -1, "meters": [{"address": "000000000001"}]}`, "speed"},
		{"two values", `{"meters": [{"address": "000000000001"}]} {}`, "more than one"},
		{"duplicate in generate", `{"generate": {"count": 0, "first_address": "1"}}`, "generate"},
	} {
		_, err := LoadScenario(strings.NewReader(tc.json))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one naming %q", tc.name, err, tc.want)
		}
	}
}
