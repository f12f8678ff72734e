package headend

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"gridmeter/internal/auth"
	"gridmeter/internal/broker"
	"gridmeter/internal/config"
	"gridmeter/internal/dispatch"
	"gridmeter/internal/iec102/master"
	"gridmeter/internal/meterdata"
)

// Config is the head-end's configuration file (see configs/headend.example.yaml).
type Config struct {
	HTTP      HTTPConfig       `yaml:"http"`
	Storage   StorageConfig    `yaml:"storage"`
	MQTT      MQTTConfig       `yaml:"mqtt"`
	Terminals []TerminalConfig `yaml:"terminals"`
	Users     []UserConfig     `yaml:"users"`
	// IEC102 is the IEC 60870-5-102 master: terminals polled over TCP.
	IEC102 *IEC102Config `yaml:"iec102"`
	// Commands tunes the down-link of operators' commands.
	Commands CommandsConfig `yaml:"commands"`
}

// CommandsConfig tunes commands to meters.
type CommandsConfig struct {
	// Resend is how often commands without a final result are published again; default 1m.
	Resend config.Duration `yaml:"resend"`
	// DefaultTTL is a command's lifetime when the operator gives none; default 15m.
	DefaultTTL config.Duration `yaml:"default_ttl"`
}

// IEC102Config configures the IEC 102 master.
type IEC102Config struct {
	Concurrency int                  `yaml:"concurrency"` // sessions at once; default 16
	Targets     []IEC102TargetConfig `yaml:"targets"`
}

// IEC102TargetConfig is one outstation the master polls.
type IEC102TargetConfig struct {
	Name         string              `yaml:"name"`
	Addr         string              `yaml:"addr"` // host:port
	LinkAddress  uint16              `yaml:"link_address"`
	Interval     config.Duration     `yaml:"interval"` // schedule; default 15m
	Timeout      config.Duration     `yaml:"timeout"`
	Retries      int                 `yaml:"retries"`
	Timezone     string              `yaml:"timezone"`     // of the outstation's time tags; default UTC
	WhPerCount   int64               `yaml:"wh_per_count"` // 1 (Wh, default) or 1000 (kWh)
	CorrectClock bool                `yaml:"correct_clock"`
	Points       []IEC102PointConfig `yaml:"points"`
}

// IEC102PointConfig maps a measuring point to a meter id.
type IEC102PointConfig struct {
	Address  uint16        `yaml:"address"`
	Password config.Secret `yaml:"password"` // decimal access key
	Meter    string        `yaml:"meter"`    // meter id <terminal>.<bus>.<address>
}

// iec102Targets turns the configuration into master targets.
func (c *Config) iec102Targets() ([]master.Target, error) {
	var ts []master.Target
	for i, tc := range c.IEC102.Targets {
		if tc.Name == "" {
			return nil, fmt.Errorf("iec102.targets[%d].name: empty", i)
		}
		if _, _, err := net.SplitHostPort(tc.Addr); err != nil {
			return nil, fmt.Errorf("iec102.targets[%d] %s: addr %q: want host:port", i, tc.Name, tc.Addr)
		}
		t := master.Target{Name: tc.Name, Addr: tc.Addr, LinkAddress: tc.LinkAddress, Interval: tc.Interval.D(), Timeout: tc.Timeout.D(),
			Retries: tc.Retries, WhPerCount: tc.WhPerCount, CorrectClock: tc.CorrectClock}
		if tc.Timezone != "" {
			loc, err := time.LoadLocation(tc.Timezone)
			if err != nil {
				return nil, fmt.Errorf("iec102.targets[%d] %s: timezone: %w", i, tc.Name, err)
			}
			t.Location = loc
		}
		if len(tc.Points) == 0 {
			return nil, fmt.Errorf("iec102.targets[%d] %s: points: none", i, tc.Name)
		}
		for j, p := range tc.Points {
			if err := meterdata.MeterID(p.Meter).Validate(); err != nil {
				return nil, fmt.Errorf("iec102.targets[%d] %s: points[%d].meter: %w", i, tc.Name, j, err)
			}
			pw, err := strconv.ParseUint(p.Password.Value(), 10, 32)
			if err != nil {
				return nil, fmt.Errorf("iec102.targets[%d] %s: points[%d].password: want a decimal number up to 4294967295", i, tc.Name, j)
			}
			t.Points = append(t.Points, master.Point{Address: p.Address, Password: uint32(pw), Meter: meterdata.MeterID(p.Meter)})
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// HTTPConfig is the API and web server.
type HTTPConfig struct {
	Listen string `yaml:"listen"`
}

// StorageConfig selects the backend.
type StorageConfig struct {
	Backend     string        `yaml:"backend"` // "sqlite" (default) or "postgres"
	SQLitePath  string        `yaml:"sqlite_path"`
	PostgresDSN config.Secret `yaml:"postgres_dsn"`
}

// MQTTConfig is the broker (embedded, or external) and the head-end's own client.
type MQTTConfig struct {
	// Embedded, when set, runs the embedded broker on this address and the head-end
	// connects to it; otherwise URL names an external broker.
	Embedded *EmbeddedBrokerConfig `yaml:"embedded"`
	URL      string                `yaml:"url"`
	ClientID string                `yaml:"client_id"`
	Username string                `yaml:"username"`
	Password config.Secret         `yaml:"password"`
	// TLS is the head-end's own client TLS: for a tls:// external broker, or the embedded
	// broker when it listens with TLS.
	TLS *config.ClientTLS `yaml:"tls"`
	// ShareGroup, if set, subscribes through $share/<group>/ so several head-ends split ingest.
	ShareGroup string `yaml:"share_group"`
}

// EmbeddedBrokerConfig configures the embedded broker.
type EmbeddedBrokerConfig struct {
	Listen string `yaml:"listen"`
	// TLS makes the broker listen with TLS 1.2+; with client_ca_file, clients must present a
	// certificate whose CN is their username (the terminal id).
	TLS *config.ServerTLS `yaml:"tls"`
}

// TerminalConfig is a terminal's broker login (used by the embedded broker).
type TerminalConfig struct {
	ID string `yaml:"id"`
	// SecretSHA256 is the hex SHA-256 of the terminal's MQTT password.
	SecretSHA256 string `yaml:"secret_sha256"`
}

// UserConfig is an API user.
type UserConfig struct {
	Name         string    `yaml:"name"`
	Role         auth.Role `yaml:"role"`
	PasswordHash string    `yaml:"password_hash"`
}

// Defaults returns a configuration with every default filled in.
func Defaults() Config {
	return Config{
		HTTP:    HTTPConfig{Listen: "127.0.0.1:8480"},
		Storage: StorageConfig{Backend: "sqlite", SQLitePath: "headend.db"},
		MQTT:    MQTTConfig{ClientID: "headend", Username: "headend"},
	}
}

// Validate names the first bad field.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
		return fmt.Errorf("http.listen %q: want host:port", c.HTTP.Listen)
	}
	if d := c.Commands.Resend.D(); d < 0 || (d > 0 && d < time.Second) {
		return fmt.Errorf("commands.resend %s: want at least 1s", d)
	}
	if d := c.Commands.DefaultTTL.D(); d < 0 || (d > 0 && (d < dispatch.MinTTL || d > dispatch.MaxTTL)) {
		return fmt.Errorf("commands.default_ttl %s: want %s to %s", d, dispatch.MinTTL, dispatch.MaxTTL)
	}
	switch c.Storage.Backend {
	case "sqlite":
		if c.Storage.SQLitePath == "" {
			return errors.New("storage.sqlite_path: empty")
		}
	case "postgres":
		if c.Storage.PostgresDSN == "" {
			return errors.New("storage.postgres_dsn: empty")
		}
	default:
		return fmt.Errorf("storage.backend %q: want sqlite or postgres", c.Storage.Backend)
	}
	if c.MQTT.Embedded == nil && c.MQTT.URL == "" {
		return errors.New("mqtt: set mqtt.embedded.listen (embedded broker) or mqtt.url (external broker)")
	}
	if c.MQTT.Embedded != nil {
		if _, _, err := net.SplitHostPort(c.MQTT.Embedded.Listen); err != nil {
			return fmt.Errorf("mqtt.embedded.listen %q: want host:port", c.MQTT.Embedded.Listen)
		}
		if c.MQTT.Password == "" {
			return errors.New("mqtt.password: empty (the head-end's own login to the embedded broker)")
		}
		if t := c.MQTT.Embedded.TLS; t != nil {
			if _, err := t.Config(); err != nil {
				return fmt.Errorf("mqtt.embedded.tls: %w", err)
			}
		}
	}
	if c.MQTT.TLS != nil {
		if _, err := c.MQTT.TLS.Config(); err != nil {
			return fmt.Errorf("mqtt.tls: %w", err)
		}
	}
	if c.MQTT.ClientID == "" {
		return errors.New("mqtt.client_id: empty")
	}
	seen := map[string]bool{}
	for i, t := range c.Terminals {
		if err := meterdata.ValidateTerminalID(t.ID); err != nil {
			return fmt.Errorf("terminals[%d].id: %w", i, err)
		}
		if seen[t.ID] {
			return fmt.Errorf("terminals[%d].id %q: listed twice", i, t.ID)
		}
		seen[t.ID] = true
		if len(t.SecretSHA256) != 64 {
			return fmt.Errorf("terminals[%d] %q: secret_sha256: want 64 hex digits (sha256sum of the terminal's password)", i, t.ID)
		}
	}
	if c.IEC102 != nil {
		if _, err := c.iec102Targets(); err != nil {
			return err
		}
	}
	if len(c.Users) == 0 {
		return errors.New("users: none configured: nobody could log in")
	}
	if _, err := c.users(); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	return nil
}

func (c *Config) users() (*auth.Users, error) {
	us := make([]auth.User, len(c.Users))
	for i, u := range c.Users {
		us[i] = auth.User{Name: u.Name, Role: u.Role, PasswordHash: u.PasswordHash}
	}
	return auth.NewUsers(us)
}

func (c *Config) brokerCredentials() []broker.Credential {
	creds := []broker.Credential{{Username: c.MQTT.Username, SecretHash: broker.HashSecret(c.MQTT.Password.Value())}}
	for _, t := range c.Terminals {
		creds = append(creds, broker.Credential{Username: t.ID, SecretHash: t.SecretSHA256, Terminal: t.ID})
	}
	return creds
}
