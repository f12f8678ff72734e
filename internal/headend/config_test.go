package headend

import (
	"strings"
	"testing"

	"gridmeter/internal/auth"
	"gridmeter/internal/broker"
	"gridmeter/internal/config"
)

func TestExampleConfigLoads(t *testing.T) {
	cfg := Defaults()
	if err := config.Load("../../configs/headend.example.yaml", &cfg); err != nil {
		t.Fatal(err)
	}
	// The example's documented secrets match its hashes.
	if !auth.CheckPassword(cfg.Users[0].PasswordHash, "change-me") {
		t.Error("users[0].password_hash is not the hash of the documented password")
	}
	if cfg.Terminals[0].SecretSHA256 != broker.HashSecret("change-me-T1-secret") {
		t.Error("terminals[0].secret_sha256 is not the hash of the documented secret")
	}
	if cfg.MQTT.Embedded == nil || cfg.Storage.Backend != "sqlite" {
		t.Errorf("example: %+v", cfg)
	}
}

func TestConfigRefusesBadFields(t *testing.T) {
	base := func() Config {
		c := Defaults()
		c.MQTT.Embedded = &EmbeddedBrokerConfig{Listen: "127.0.0.1:0"}
		c.MQTT.Password = "x"
		c.Users = []UserConfig{{Name: "a", Role: "admin", PasswordHash: "pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}
		return c
	}
	if c := base(); c.Validate() != nil {
		t.Fatalf("base config invalid: %v", c.Validate())
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"http listen", func(c *Config) { c.HTTP.Listen = "8480" }, `http.listen "8480"`},
		{"backend", func(c *Config) { c.Storage.Backend = "mysql" }, `storage.backend "mysql"`},
		{"postgres without dsn", func(c *Config) { c.Storage.Backend = "postgres" }, "storage.postgres_dsn: empty"},
		{"no broker", func(c *Config) { c.MQTT.Embedded = nil }, "mqtt: set mqtt.embedded.listen"},
		{"embedded without password", func(c *Config) { c.MQTT.Password = "" }, "mqtt.password: empty"},
		{"terminal id", func(c *Config) { c.Terminals = []TerminalConfig{{ID: "T 1", SecretSHA256: strings.Repeat("a", 64)}} }, "terminals[0].id"},
		{"terminal twice", func(c *Config) {
			c.Terminals = []TerminalConfig{{ID: "T1", SecretSHA256: strings.Repeat("a", 64)}, {ID: "T1", SecretSHA256: strings.Repeat("a", 64)}}
		}, `terminals[1].id "T1": listed twice`},
		{"terminal secret", func(c *Config) { c.Terminals = []TerminalConfig{{ID: "T1", SecretSHA256: "abc"}} }, `terminals[0] "T1": secret_sha256`},
		{"no users", func(c *Config) { c.Users = nil }, "users: none configured"},
		{"bad role", func(c *Config) { c.Users[0].Role = "root" }, `role "root"`},
		{"bad hash", func(c *Config) { c.Users[0].PasswordHash = "plain" }, `users[0] "a": password hash`},
		{"iec102 addr", func(c *Config) {
			c.IEC102 = &IEC102Config{Targets: []IEC102TargetConfig{{Name: "T1", Addr: "nowhere", Points: []IEC102PointConfig{{Address: 1, Password: "1", Meter: "T1.bus1.1"}}}}}
		}, `iec102.targets[0] T1: addr "nowhere"`},
		{"iec102 meter", func(c *Config) {
			c.IEC102 = &IEC102Config{Targets: []IEC102TargetConfig{{Name: "T1", Addr: "127.0.0.1:20102", Points: []IEC102PointConfig{{Address: 1, Password: "1", Meter: "bus1.1"}}}}}
		}, "iec102.targets[0] T1: points[0].meter"},
		{"iec102 no points", func(c *Config) {
			c.IEC102 = &IEC102Config{Targets: []IEC102TargetConfig{{Name: "T1", Addr: "127.0.0.1:20102"}}}
		}, "points: none"},
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
