package terminal

import (
	"strings"
	"testing"
	"time"

	"gridmeter/internal/config"
)

func TestExampleConfigLoads(t *testing.T) {
	cfg := Defaults()
	if err := config.Load("../../configs/terminal.example.yaml", &cfg); err != nil {
		t.Fatal(err)
	}
	ms := cfg.Meters()
	if len(ms) != 2 || ms[0].ID != "T1.bus1.000000001001" || ms[0].Description == "" || ms[0].Protocol != "dlt645" {
		t.Fatalf("meters %+v", ms)
	}
	if cfg.Acquisition.InstantInterval.D() != time.Minute || cfg.Buses[0].ResponseTimeout.D() != time.Second {
		t.Fatalf("durations: %+v", cfg)
	}
}

func TestConfigRefusesBadFields(t *testing.T) {
	base := func() Config {
		c := Defaults()
		c.ID, c.JournalPath = "T1", "j"
		c.MQTT = MQTTConfig{URL: "mqtt://127.0.0.1:1", Password: "x"}
		c.Buses = []BusConfig{{Name: "bus1", DLT645TCP: "127.0.0.1:9645", Meters: []MeterConfig{{Address: "000000000001"}}}}
		return c
	}
	if c := base(); c.Validate() != nil {
		t.Fatalf("base config invalid: %v", c.Validate())
	}
	mb := base()
	mb.Buses[0].DLT645TCP, mb.Buses[0].ModbusTCP = "", "127.0.0.1:502"
	mb.Buses[0].Meters[0].Address = "7"
	if err := mb.Validate(); err != nil {
		t.Fatalf("modbus bus refused: %v", err)
	}
	if m := mb.Meters()[0]; m.Protocol != "modbus" || m.ID != "T1.bus1.7" {
		t.Fatalf("modbus meter %+v", m)
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"id", func(c *Config) { c.ID = "T.1" }, `id: terminal id "T.1"`},
		{"journal", func(c *Config) { c.JournalPath = "" }, "journal_path: empty"},
		{"journal keep", func(c *Config) { c.JournalKeepAcked = config.Duration(time.Second) }, "journal_keep_acked 1s: want at least 1m"},
		{"journal bound", func(c *Config) { c.JournalMaxEntries = 10 }, "journal_max_entries 10: want at least 1000"},
		{"mqtt url", func(c *Config) { c.MQTT.URL = "" }, "mqtt.url: empty"},
		{"interval", func(c *Config) { c.Acquisition.InstantInterval = config.Duration(time.Millisecond) }, "acquisition.instant_interval 1ms"},
		{"no buses", func(c *Config) { c.Buses = nil }, "buses: none configured"},
		{"gateway", func(c *Config) { c.Buses[0].DLT645TCP = "gateway" }, `buses[0] bus1: gateway "gateway": want host:port`},
		{"two protocols", func(c *Config) { c.Buses[0].ModbusTCP = "127.0.0.1:502" }, "set exactly one of dlt645_tcp, dlt645_serial and modbus_tcp"},
		{"no protocol", func(c *Config) { c.Buses[0].DLT645TCP = "" }, "set exactly one of dlt645_tcp, dlt645_serial and modbus_tcp"},
		{"map without modbus", func(c *Config) { c.Buses[0].ModbusMap = "eastron-sdm630" }, "modbus_map without modbus_tcp"},
		{"modbus unit id", func(c *Config) {
			c.Buses[0].DLT645TCP, c.Buses[0].ModbusTCP = "", "127.0.0.1:502"
			c.Buses[0].Meters[0].Address = "248"
		}, `meters[0].address "248"`},
		{"modbus map", func(c *Config) {
			c.Buses[0].DLT645TCP, c.Buses[0].ModbusTCP, c.Buses[0].ModbusMap = "", "127.0.0.1:502", "no-such-map"
			c.Buses[0].Meters[0].Address = "1"
		}, `modbus_map "no-such-map": not a built-in map`},
		{"address length", func(c *Config) { c.Buses[0].Meters[0].Address = "123" }, `buses[0] bus1: meters[0].address "123": want 12 decimal digits`},
		{"address digits", func(c *Config) { c.Buses[0].Meters[0].Address = "00000000000x" }, "meters[0]"},
		{"address twice", func(c *Config) { c.Buses[0].Meters = append(c.Buses[0].Meters, c.Buses[0].Meters[0]) }, "meters[1].address 000000000001: listed twice"},
		{"retries", func(c *Config) { c.Buses[0].Retries = 9 }, "retries must be 0..5"},
		{"iec102 listen", func(c *Config) { c.IEC102 = &IEC102Config{Listen: "20102"} }, `iec102.listen "20102"`},
		{"iec102 masters", func(c *Config) {
			c.IEC102 = &IEC102Config{Listen: "127.0.0.1:20102", LinkAddress: 1, Points: []IEC102Point{{Address: 1, Password: "1", Meter: "bus1.000000000001"}}}
		}, "iec102"},
		{"iec102 bad prefix", func(c *Config) {
			c.IEC102 = &IEC102Config{Listen: "127.0.0.1:20102", AllowedMasters: []string{"10.0.0.1"}}
		}, `iec102.allowed_masters[0] "10.0.0.1"`},
		{"iec102 unknown meter", func(c *Config) {
			c.IEC102 = &IEC102Config{Listen: "127.0.0.1:20102", AllowedMasters: []string{"127.0.0.1/32"}, Points: []IEC102Point{{Address: 1, Password: "1", Meter: "bus9.1"}}}
		}, `iec102.points[0].meter "bus9.1": not a configured meter`},
		{"iec102 password", func(c *Config) {
			c.IEC102 = &IEC102Config{Listen: "127.0.0.1:20102", AllowedMasters: []string{"127.0.0.1/32"}, Points: []IEC102Point{{Address: 1, Password: "abc", Meter: "bus1.000000000001"}}}
		}, "iec102.points[0].password: want a decimal number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
