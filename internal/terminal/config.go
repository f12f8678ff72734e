package terminal

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"gridmeter/internal/config"
	"gridmeter/internal/iec102/outstation"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/modbusmap"
	"gridmeter/internal/serialbus"
)

// Config is the terminal's configuration file (see configs/terminal.example.yaml).
type Config struct {
	ID          string `yaml:"id"`
	JournalPath string `yaml:"journal_path"`
	// JournalKeepAcked is how long acknowledged readings stay in the journal (and so how far
	// back the IEC 102 outstation serves history); default 24h.
	JournalKeepAcked config.Duration `yaml:"journal_keep_acked"`
	// JournalMaxEntries bounds the journal; beyond it the oldest entries are dropped
	// (acknowledged first; dropping unacknowledged ones is counted). Default 1,000,000.
	JournalMaxEntries int               `yaml:"journal_max_entries"`
	MQTT              MQTTConfig        `yaml:"mqtt"`
	Acquisition       AcquisitionConfig `yaml:"acquisition"`
	Buses             []BusConfig       `yaml:"buses"`
	// MetricsListen, when set, serves Prometheus metrics at http://<addr>/metrics.
	MetricsListen string `yaml:"metrics_listen"`
	// IEC102, when set, runs an IEC 60870-5-102 outstation serving the journal to masters.
	IEC102 *IEC102Config `yaml:"iec102"`
}

// IEC102Config is the terminal's IEC 60870-5-102 outstation.
type IEC102Config struct {
	Listen         string          `yaml:"listen"`          // e.g. 0.0.0.0:20102
	LinkAddress    uint16          `yaml:"link_address"`    // the terminal's link address
	AllowedMasters []string        `yaml:"allowed_masters"` // CIDR prefixes masters may connect from
	Timezone       string          `yaml:"timezone"`        // zone of the time tags (REE masters: Europe/Madrid); default UTC
	WhPerCount     int64           `yaml:"wh_per_count"`    // 1 sends Wh (default), 1000 kWh
	Points         []IEC102Point   `yaml:"points"`
	IdleTimeout    config.Duration `yaml:"idle_timeout"`
}

// IEC102Point maps a measuring point to one configured meter.
type IEC102Point struct {
	Address  uint16        `yaml:"address"`  // common address of ASDU (measuring point)
	Password config.Secret `yaml:"password"` // access key, a decimal number
	Meter    string        `yaml:"meter"`    // <bus>.<address> of a configured meter
}

// MQTTConfig is the terminal's broker login; the username and client id are the terminal id.
type MQTTConfig struct {
	URL      string            `yaml:"url"` // mqtt://host:port, or tls://host:port with tls
	Password config.Secret     `yaml:"password"`
	TLS      *config.ClientTLS `yaml:"tls"`
}

// AcquisitionConfig is the acquisition plan.
type AcquisitionConfig struct {
	InstantInterval config.Duration `yaml:"instant_interval"`
	// DailyFrozenInterval: how often the meters' daily frozen values (表底) are checked
	// for new freezes, and missing ones re-read from the meters' memory; 0s disables.
	DailyFrozenInterval config.Duration `yaml:"daily_frozen_interval"`
	// FirstFrozenDays: how many days of frozen values to read for a meter seen the first time.
	FirstFrozenDays int `yaml:"first_frozen_days"`
	// SettlementInterval: how often the meters' settlement (previous-month) values are
	// checked for new ones and missing ones re-read from their memory; 0s disables.
	SettlementInterval config.Duration `yaml:"settlement_interval"`
	// StatusInterval: how often the meters' run status words are read; 0s disables.
	StatusInterval config.Duration `yaml:"status_interval"`
	// FirstSettlements: how many settlements (months) to read for a meter seen the first
	// time, 1 to 12.
	FirstSettlements int `yaml:"first_settlements"`
	// LoadProfileDepth: how far back instant readings missed during an outage (terminal,
	// bus or meter down) are recovered from the meters' load profiles (06000001); 0s
	// disables. Only with an instant_interval that is a multiple of load_profile_period.
	LoadProfileDepth config.Duration `yaml:"load_profile_depth"`
	// LoadProfilePeriod: the meters' load-profile record period (04000A02); default 15m.
	LoadProfilePeriod config.Duration `yaml:"load_profile_period"`
	// TCPConcurrency bounds the TCP buses (gateways, Modbus TCP meters) polled at once;
	// default 64. Serial buses are always polled in parallel.
	TCPConcurrency int `yaml:"tcp_concurrency"`
}

// BusConfig is one bus: DL/T 645 meters behind a transparent TCP gateway (dlt645_tcp), or
// Modbus meters reached over Modbus TCP (modbus_tcp, a meter or a TCP gateway onto an RTU
// bus) read through a register map.
type BusConfig struct {
	Name      string `yaml:"name"`
	DLT645TCP string `yaml:"dlt645_tcp"`
	// DLT645Serial is an RS-485 port the terminal owns (instead of a TCP gateway).
	DLT645Serial *SerialConfig `yaml:"dlt645_serial"`
	ModbusTCP    string        `yaml:"modbus_tcp"`
	// ModbusMap is a built-in map name (e.g. eastron-sdm630, the default) or a YAML file.
	ModbusMap string `yaml:"modbus_map"`
	// MeterTimezone is the zone of the meters' clocks (IANA name), used to read the times
	// they record (freeze times); default Asia/Shanghai.
	MeterTimezone   string          `yaml:"meter_timezone"`
	ResponseTimeout config.Duration `yaml:"response_timeout"`
	Retries         int             `yaml:"retries"`
	// Password is the DL/T 645 level-02 password (six digits, default 000000) that relay
	// control and parameter writes carry; Operator the operator code (up to eight
	// digits, default 00000000).
	Password config.Secret `yaml:"password"`
	Operator string        `yaml:"operator"`
	Meters   []MeterConfig `yaml:"meters"`
}

// checkAddress checks a meter address for the bus's protocol.
func (b BusConfig) checkAddress(addr string) error {
	if b.ModbusTCP != "" {
		if _, err := modbusmap.ParseUnitID(addr); err != nil {
			return fmt.Errorf("address %q: %w", addr, err)
		}
	} else if len(addr) != 12 {
		return fmt.Errorf("address %q: want 12 decimal digits (DL/T 645)", addr)
	}
	if meterdata.ValidateAddress(addr) != nil {
		return fmt.Errorf("address %q: want decimal digits", addr)
	}
	return nil
}

// protocol is the protocol of the bus's meters.
func (b BusConfig) protocol() string {
	if b.ModbusTCP != "" {
		return meterdata.ProtocolModbus
	}
	return meterdata.ProtocolDLT645
}

// password returns the bus's DL/T 645 password (validated: six BCD digits).
func (b BusConfig) password() uint32 {
	v, _ := parseDigits(b.Password.Value(), 6, "000000")
	return v
}

// operator returns the bus's DL/T 645 operator code (validated: up to eight BCD digits).
func (b BusConfig) operator() uint32 {
	v, _ := parseDigits(b.Operator, 8, "0")
	return v
}

// parseDigits parses up to n decimal digits as the BCD number DL/T 645 sends (the digits
// read as hexadecimal); def when s is empty.
func parseDigits(s string, n int, def string) (uint32, error) {
	if s == "" {
		s = def
	}
	if len(s) > n || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("want up to %d decimal digits", n)
	}
	v, err := strconv.ParseUint(s, 16, 32)
	return uint32(v), err
}

// SerialConfig is a serial port: DL/T 645 meters on RS-485 usually run 2400 or 9600 bit/s,
// 8 data bits, even parity, 1 stop bit.
type SerialConfig struct {
	Device   string          `yaml:"device"`    // e.g. /dev/ttyS1
	Baud     int             `yaml:"baud"`      // default 9600
	Parity   string          `yaml:"parity"`    // even (default), odd or none
	DataBits int             `yaml:"data_bits"` // default 8
	StopBits int             `yaml:"stop_bits"` // default 1
	Gap      config.Duration `yaml:"gap"`       // silence before each request; default 20ms
}

func (s *SerialConfig) options() (serialbus.Options, error) {
	o := serialbus.Options{Settings: serialbus.Settings{Baud: s.Baud, DataBits: s.DataBits, StopBits: s.StopBits}, Gap: s.Gap.D()}
	switch s.Parity {
	case "", "even":
		o.Parity = serialbus.ParityEven
	case "odd":
		o.Parity = serialbus.ParityOdd
	case "none":
		o.Parity = serialbus.ParityNone
	default:
		return o, fmt.Errorf("parity %q: want even, odd or none", s.Parity)
	}
	if s.Device == "" {
		return o, errors.New("device: empty")
	}
	switch {
	case s.Baud != 0 && (s.Baud < 300 || s.Baud > 115200):
		return o, fmt.Errorf("baud %d: want 300 to 115200", s.Baud)
	case s.DataBits != 0 && s.DataBits != 7 && s.DataBits != 8:
		return o, fmt.Errorf("data_bits %d: want 7 or 8", s.DataBits)
	case s.StopBits != 0 && s.StopBits != 1 && s.StopBits != 2:
		return o, fmt.Errorf("stop_bits %d: want 1 or 2", s.StopBits)
	case s.Gap < 0:
		return o, fmt.Errorf("gap %s: must not be negative", s.Gap.D())
	}
	if o.Gap == 0 {
		o.Gap = serialbus.DefaultDLT645Gap
	}
	return o, nil
}

// MeterConfig is one meter on a bus.
type MeterConfig struct {
	Address     string `yaml:"address"`
	Description string `yaml:"description"`
}

// Defaults returns a configuration with every default filled in.
func Defaults() Config {
	return Config{Acquisition: AcquisitionConfig{InstantInterval: config.Duration(time.Minute),
		DailyFrozenInterval: config.Duration(time.Hour), FirstFrozenDays: 1,
		SettlementInterval: config.Duration(6 * time.Hour), StatusInterval: config.Duration(time.Hour),
		FirstSettlements: 1, LoadProfileDepth: config.Duration(7 * 24 * time.Hour), LoadProfilePeriod: config.Duration(15 * time.Minute)}}
}

// Validate names the first bad field.
func (c *Config) Validate() error {
	if err := meterdata.ValidateTerminalID(c.ID); err != nil {
		return fmt.Errorf("id: %w", err)
	}
	if c.JournalPath == "" {
		return errors.New("journal_path: empty")
	}
	if c.JournalKeepAcked < 0 || (c.JournalKeepAcked > 0 && c.JournalKeepAcked.D() < time.Minute) {
		return fmt.Errorf("journal_keep_acked %s: want at least 1m", c.JournalKeepAcked.D())
	}
	if c.JournalMaxEntries < 0 || (c.JournalMaxEntries > 0 && c.JournalMaxEntries < 1000) {
		return fmt.Errorf("journal_max_entries %d: want at least 1000", c.JournalMaxEntries)
	}
	if c.MQTT.URL == "" {
		return errors.New("mqtt.url: empty")
	}
	if c.MQTT.Password == "" {
		return errors.New("mqtt.password: empty")
	}
	if c.MQTT.TLS != nil {
		if _, err := c.MQTT.TLS.Config(); err != nil {
			return fmt.Errorf("mqtt.tls: %w", err)
		}
	}
	if d := c.Acquisition.InstantInterval.D(); d < time.Second || d > 24*time.Hour {
		return fmt.Errorf("acquisition.instant_interval %s: want 1s to 24h", d)
	}
	if d := c.Acquisition.DailyFrozenInterval.D(); d < 0 || (d > 0 && d < time.Second) {
		return fmt.Errorf("acquisition.daily_frozen_interval %s: want 0s (off) or at least 1s", d)
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"settlement_interval", c.Acquisition.SettlementInterval.D()}, {"status_interval", c.Acquisition.StatusInterval.D()}} {
		if f.d < 0 || (f.d > 0 && f.d < time.Second) {
			return fmt.Errorf("acquisition.%s %s: want 0s (off) or at least 1s", f.name, f.d)
		}
	}
	if n := c.Acquisition.TCPConcurrency; n < 0 || n > 4096 {
		return fmt.Errorf("acquisition.tcp_concurrency %d: want 1 to 4096 (0: the default 64)", n)
	}
	if n := c.Acquisition.FirstFrozenDays; n < 1 || n > 62 {
		return fmt.Errorf("acquisition.first_frozen_days %d: want 1 to 62", n)
	}
	if n := c.Acquisition.FirstSettlements; n < 1 || n > 12 {
		return fmt.Errorf("acquisition.first_settlements %d: want 1 to 12", n)
	}
	if d := c.Acquisition.LoadProfileDepth.D(); d < 0 || d > 62*24*time.Hour {
		return fmt.Errorf("acquisition.load_profile_depth %s: want 0s (off) to 1488h (62 days)", d)
	}
	if d := c.Acquisition.LoadProfilePeriod.D(); d < time.Minute || d > time.Hour || d%time.Minute != 0 {
		return fmt.Errorf("acquisition.load_profile_period %s: want whole minutes, 1m to 60m", d)
	}
	if len(c.Buses) == 0 {
		return errors.New("buses: none configured")
	}
	buses := map[string]bool{}
	zones := map[string]*time.Location{}
	for i, b := range c.Buses {
		if err := meterdata.ValidateBusName(b.Name); err != nil {
			return fmt.Errorf("buses[%d].name: %w", i, err)
		}
		if buses[b.Name] {
			return fmt.Errorf("buses[%d].name %q: listed twice", i, b.Name)
		}
		buses[b.Name] = true
		set := 0
		for _, on := range []bool{b.DLT645TCP != "", b.DLT645Serial != nil, b.ModbusTCP != ""} {
			if on {
				set++
			}
		}
		if set != 1 {
			return fmt.Errorf("buses[%d] %s: set exactly one of dlt645_tcp, dlt645_serial and modbus_tcp", i, b.Name)
		}
		if b.ModbusTCP == "" && b.ModbusMap != "" {
			return fmt.Errorf("buses[%d] %s: modbus_map without modbus_tcp", i, b.Name)
		}
		if b.DLT645Serial != nil {
			if _, err := b.DLT645Serial.options(); err != nil {
				return fmt.Errorf("buses[%d] %s: dlt645_serial: %w", i, b.Name, err)
			}
		} else {
			gw := b.DLT645TCP
			if b.ModbusTCP != "" {
				gw = b.ModbusTCP
			}
			if _, _, err := net.SplitHostPort(gw); err != nil {
				return fmt.Errorf("buses[%d] %s: gateway %q: want host:port", i, b.Name, gw)
			}
		}
		if b.ModbusTCP != "" {
			if _, err := b.modbusMap(); err != nil {
				return fmt.Errorf("buses[%d]: %w", i, err)
			}
		}
		if _, err := b.location(zones); err != nil {
			return fmt.Errorf("buses[%d] %s: %w", i, b.Name, err)
		}
		if b.ResponseTimeout < 0 || b.Retries < 0 || b.Retries > 5 {
			return fmt.Errorf("buses[%d] %s: response_timeout must not be negative and retries must be 0..5", i, b.Name)
		}
		if _, err := parseDigits(b.Password.Value(), 6, "000000"); err != nil {
			return fmt.Errorf("buses[%d] %s: password: %w", i, b.Name, err)
		}
		if _, err := parseDigits(b.Operator, 8, "0"); err != nil {
			return fmt.Errorf("buses[%d] %s: operator %q: %w", i, b.Name, b.Operator, err)
		}
		if len(b.Meters) == 0 || len(b.Meters) > 255 {
			return fmt.Errorf("buses[%d] %s: meters: %d, want 1 to 255", i, b.Name, len(b.Meters))
		}
		addrs := map[string]bool{}
		for j, m := range b.Meters {
			if err := b.checkAddress(m.Address); err != nil {
				return fmt.Errorf("buses[%d] %s: meters[%d].%w", i, b.Name, j, err)
			}
			if addrs[m.Address] {
				return fmt.Errorf("buses[%d] %s: meters[%d].address %s: listed twice", i, b.Name, j, m.Address)
			}
			addrs[m.Address] = true
		}
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			return fmt.Errorf("metrics_listen %q: want host:port", c.MetricsListen)
		}
	}
	if c.IEC102 != nil {
		if _, _, err := net.SplitHostPort(c.IEC102.Listen); err != nil {
			return fmt.Errorf("iec102.listen %q: want host:port", c.IEC102.Listen)
		}
		if _, err := c.outstationConfig(); err != nil {
			return err
		}
	}
	return nil
}

// outstationConfig turns the iec102 section into the outstation's configuration.
func (c *Config) outstationConfig() (outstation.Config, error) {
	ic := c.IEC102
	oc := outstation.Config{LinkAddress: ic.LinkAddress, WhPerCount: ic.WhPerCount, IdleTimeout: ic.IdleTimeout.D()}
	if ic.Timezone != "" {
		loc, err := time.LoadLocation(ic.Timezone)
		if err != nil {
			return oc, fmt.Errorf("iec102.timezone: %w", err)
		}
		oc.Location = loc
	}
	for i, p := range ic.AllowedMasters {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			return oc, fmt.Errorf("iec102.allowed_masters[%d] %q: want a CIDR prefix such as 10.0.0.0/8 or 192.0.2.7/32", i, p)
		}
		oc.AllowedMasters = append(oc.AllowedMasters, pfx)
	}
	known := map[string]bool{}
	for _, m := range c.Meters() {
		known[m.Bus+"."+m.Address] = true
	}
	for i, p := range ic.Points {
		if !known[p.Meter] {
			return oc, fmt.Errorf("iec102.points[%d].meter %q: not a configured meter (<bus>.<address>)", i, p.Meter)
		}
		pw, err := strconv.ParseUint(p.Password.Value(), 10, 32)
		if err != nil {
			return oc, fmt.Errorf("iec102.points[%d].password: want a decimal number up to 4294967295", i)
		}
		oc.Points = append(oc.Points, outstation.Point{Address: p.Address, Password: uint32(pw), Meter: meterdata.MeterID(c.ID + "." + p.Meter)})
	}
	if err := oc.Validate(); err != nil {
		return oc, fmt.Errorf("iec102: %w", err)
	}
	return oc, nil
}

// Meters returns the descriptors of every configured meter.
func (c *Config) Meters() []meterdata.Meter {
	var ms []meterdata.Meter
	for _, b := range c.Buses {
		proto := meterdata.ProtocolDLT645
		if b.ModbusTCP != "" {
			proto = meterdata.ProtocolModbus
		}
		for _, m := range b.Meters {
			id, _ := meterdata.NewMeterID(c.ID, b.Name, m.Address)
			ms = append(ms, meterdata.Meter{ID: id, Terminal: c.ID, Bus: b.Name, Address: m.Address,
				Protocol: proto, Description: m.Description})
		}
	}
	return ms
}

// modbusMap returns the bus's register map: a built-in name, or a YAML file.
func (b BusConfig) modbusMap() (modbusmap.Map, error) {
	name := b.ModbusMap
	if name == "" {
		name = "eastron-sdm630"
	}
	if m, err := modbusmap.Builtin(name); err == nil {
		return m, nil
	}
	m, err := modbusmap.LoadFile(name)
	if err != nil {
		return modbusmap.Map{}, fmt.Errorf("bus %s: modbus_map %q: not a built-in map (%v) and not loadable: %w", b.Name, name, modbusmap.BuiltinNames(), err)
	}
	return m, nil
}

// location returns the meters' time zone. zones, unless nil, keeps the zones loaded by
// name: a thousand buses then share one copy of the zone's rules (about 1 KB each).
func (b BusConfig) location(zones map[string]*time.Location) (*time.Location, error) {
	name := b.MeterTimezone
	if name == "" {
		name = "Asia/Shanghai"
	}
	if loc, ok := zones[name]; ok {
		return loc, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("meter_timezone %q: %w", name, err)
	}
	if zones != nil {
		zones[name] = loc
	}
	return loc, nil
}
