package terminal

import (
	"errors"
	"fmt"
	"net"
	"time"

	"gridmeter/internal/config"
	"gridmeter/internal/meterdata"
)

// Config is the terminal's configuration file (see configs/terminal.example.yaml).
type Config struct {
	ID          string            `yaml:"id"`
	JournalPath string            `yaml:"journal_path"`
	MQTT        MQTTConfig        `yaml:"mqtt"`
	Acquisition AcquisitionConfig `yaml:"acquisition"`
	Buses       []BusConfig       `yaml:"buses"`
}

// MQTTConfig is the terminal's broker login; the username and client id are the terminal id.
type MQTTConfig struct {
	URL      string        `yaml:"url"`
	Password config.Secret `yaml:"password"`
}

// AcquisitionConfig is the acquisition plan.
type AcquisitionConfig struct {
	InstantInterval config.Duration `yaml:"instant_interval"`
}

// BusConfig is one bus: a DL/T 645 bus reached through a transparent TCP gateway.
type BusConfig struct {
	Name            string          `yaml:"name"`
	DLT645TCP       string          `yaml:"dlt645_tcp"`
	ResponseTimeout config.Duration `yaml:"response_timeout"`
	Retries         int             `yaml:"retries"`
	Meters          []MeterConfig   `yaml:"meters"`
}

// MeterConfig is one meter on a bus.
type MeterConfig struct {
	Address     string `yaml:"address"`
	Description string `yaml:"description"`
}

// Defaults returns a configuration with every default filled in.
func Defaults() Config {
	return Config{Acquisition: AcquisitionConfig{InstantInterval: config.Duration(time.Minute)}}
}

// Validate names the first bad field.
func (c *Config) Validate() error {
	if err := meterdata.ValidateTerminalID(c.ID); err != nil {
		return fmt.Errorf("id: %w", err)
	}
	if c.JournalPath == "" {
		return errors.New("journal_path: empty")
	}
	if c.MQTT.URL == "" {
		return errors.New("mqtt.url: empty")
	}
	if c.MQTT.Password == "" {
		return errors.New("mqtt.password: empty")
	}
	if d := c.Acquisition.InstantInterval.D(); d < time.Second || d > 24*time.Hour {
		return fmt.Errorf("acquisition.instant_interval %s: want 1s to 24h", d)
	}
	if len(c.Buses) == 0 {
		return errors.New("buses: none configured")
	}
	buses := map[string]bool{}
	for i, b := range c.Buses {
		if err := meterdata.ValidateBusName(b.Name); err != nil {
			return fmt.Errorf("buses[%d].name: %w", i, err)
		}
		if buses[b.Name] {
			return fmt.Errorf("buses[%d].name %q: listed twice", i, b.Name)
		}
		buses[b.Name] = true
		if _, _, err := net.SplitHostPort(b.DLT645TCP); err != nil {
			return fmt.Errorf("buses[%d] %s: dlt645_tcp %q: want host:port", i, b.Name, b.DLT645TCP)
		}
		if b.ResponseTimeout < 0 || b.Retries < 0 || b.Retries > 5 {
			return fmt.Errorf("buses[%d] %s: response_timeout must not be negative and retries must be 0..5", i, b.Name)
		}
		if len(b.Meters) == 0 || len(b.Meters) > 255 {
			return fmt.Errorf("buses[%d] %s: meters: %d, want 1 to 255", i, b.Name, len(b.Meters))
		}
		addrs := map[string]bool{}
		for j, m := range b.Meters {
			if len(m.Address) != 12 {
				return fmt.Errorf("buses[%d] %s: meters[%d].address %q: want 12 decimal digits (DL/T 645)", i, b.Name, j, m.Address)
			}
			if err := meterdata.ValidateAddress(m.Address); err != nil {
				return fmt.Errorf("buses[%d] %s: meters[%d]: %w", i, b.Name, j, err)
			}
			if addrs[m.Address] {
				return fmt.Errorf("buses[%d] %s: meters[%d].address %s: listed twice", i, b.Name, j, m.Address)
			}
			addrs[m.Address] = true
		}
	}
	return nil
}

// Meters returns the descriptors of every configured meter.
func (c *Config) Meters() []meterdata.Meter {
	var ms []meterdata.Meter
	for _, b := range c.Buses {
		for _, m := range b.Meters {
			id, _ := meterdata.NewMeterID(c.ID, b.Name, m.Address)
			ms = append(ms, meterdata.Meter{ID: id, Terminal: c.ID, Bus: b.Name, Address: m.Address,
				Protocol: meterdata.ProtocolDLT645, Description: m.Description})
		}
	}
	return ms
}
