package headend

import (
	"errors"
	"fmt"
	"net"

	"gridmeter/internal/auth"
	"gridmeter/internal/broker"
	"gridmeter/internal/config"
	"gridmeter/internal/meterdata"
)

// Config is the head-end's configuration file (see configs/headend.example.yaml).
type Config struct {
	HTTP      HTTPConfig       `yaml:"http"`
	Storage   StorageConfig    `yaml:"storage"`
	MQTT      MQTTConfig       `yaml:"mqtt"`
	Terminals []TerminalConfig `yaml:"terminals"`
	Users     []UserConfig     `yaml:"users"`
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
