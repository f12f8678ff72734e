package outstation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"gridmeter/internal/iec102"
	"gridmeter/internal/journal"
	"gridmeter/internal/meterdata"
)

// Defaults for Config.
const (
	DefaultIdleTimeout     = 2 * time.Minute
	DefaultWriteTimeout    = 10 * time.Second
	DefaultMaxConns        = 8
	DefaultMaxAuthFailures = 3
	DefaultMaxPeriods      = 2000
)

// Point is one measuring point: the ASDU common address a master names, the meter
// behind it and the password that opens a session for it.
type Point struct {
	Address  uint16 // IEC 102 common address (CA), the REE measuring point
	Password uint32 // C_AC_NA_2 access key ("clave de acceso")
	Meter    meterdata.MeterID
}

// Source is what the outstation needs of the terminal's journal; *journal.Journal
// implements it. Both methods must be safe for concurrent use.
type Source interface {
	// Latest returns the newest entry of (meter, kind) at or before at, false if none.
	Latest(ctx context.Context, meter meterdata.MeterID, kind meterdata.Kind, at time.Time) (journal.Entry, bool, error)
	// Readings returns up to limit entries of (meter, kind) with from <= time < to, in
	// time order.
	Readings(ctx context.Context, meter meterdata.MeterID, kind meterdata.Kind, from, to time.Time, limit int) ([]journal.Entry, error)
}

// Event is one entry of an outstation event log, sent as a single-point information
// object (M_SP_TA_2) under its record address.
type Event struct {
	Time    time.Time
	Record  iec102.RecordAddress // event log: 52–55 or 128–133
	Address uint8                // single-point address (REE: event group)
	Code    uint8                // event code, 0–127
	On      bool                 // SPI
}

// EventSource provides event logs. Events returns up to limit events of one meter and
// record address with from <= time <= to, oldest first.
type EventSource interface {
	Events(ctx context.Context, meter meterdata.MeterID, record iec102.RecordAddress, from, to time.Time, limit int) ([]Event, error)
}

// Config configures an outstation. Zero durations and counts take the defaults above.
type Config struct {
	LinkAddress uint16  // IEC 102 link address ("dirección de enlace")
	Points      []Point // at least one; addresses unique
	// AllowedMasters lists the networks masters may connect from; a connection from any
	// other address is closed at once. It must not be empty (list 127.0.0.1/32 for a
	// local demo). IPv4-mapped IPv6 addresses are matched as IPv4.
	AllowedMasters []netip.Prefix
	// Identity answers C_RD_NA_2: manufacturer code, product or serial code, and the date
	// of the protocol specification (0 means 0x24, April 2002, the REE protocol's).
	Identity iec102.ProductInfo
	// Location is the time zone of every time tag (REE masters: Europe/Madrid); nil
	// means UTC.
	Location *time.Location
	// WhPerCount is the energy of one counter unit: 1 (the default) sends Wh, 1000 kWh.
	// Powers go in W per WhPerCount.
	WhPerCount int64
	// IdleTimeout closes a connection that sent no frame for that long.
	IdleTimeout time.Duration
	// WriteTimeout bounds writing one answer.
	WriteTimeout time.Duration
	// MaxConns bounds the connections served at once; more are closed at once.
	MaxConns int
	// MaxAuthFailures is how many wrong passwords one connection may send before it is
	// closed.
	MaxAuthFailures int
	// MaxPeriods bounds the periods (data ASDUs) one range read answers.
	MaxPeriods int
	// Events serves C_SP_NB_2; nil refuses it (COT 14).
	Events EventSource
	// SetClock serves C_CS_TA_2 by setting the terminal's clock; nil refuses it (COT 14).
	SetClock func(ctx context.Context, t time.Time) error
	// Now is the clock C_TI_NA_2 reports and current values are taken at; nil means
	// time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Validate names the first bad field.
func (c Config) Validate() error {
	if c.LinkAddress == 0xFFFF {
		return errors.New("outstation: LinkAddress 65535 is the broadcast address")
	}
	if len(c.Points) == 0 {
		return errors.New("outstation: Points: none configured")
	}
	seen := map[uint16]bool{}
	for i, p := range c.Points {
		if seen[p.Address] {
			return fmt.Errorf("outstation: Points[%d]: address %d configured twice", i, p.Address)
		}
		seen[p.Address] = true
		if err := p.Meter.Validate(); err != nil {
			return fmt.Errorf("outstation: Points[%d]: %w", i, err)
		}
	}
	if len(c.AllowedMasters) == 0 {
		return errors.New("outstation: AllowedMasters: empty, no master could connect")
	}
	for i, p := range c.AllowedMasters {
		if !p.IsValid() {
			return fmt.Errorf("outstation: AllowedMasters[%d]: invalid prefix", i)
		}
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"WhPerCount", c.WhPerCount}, {"IdleTimeout", int64(c.IdleTimeout)}, {"WriteTimeout", int64(c.WriteTimeout)},
		{"MaxConns", int64(c.MaxConns)}, {"MaxAuthFailures", int64(c.MaxAuthFailures)}, {"MaxPeriods", int64(c.MaxPeriods)},
	} {
		if f.v < 0 {
			return fmt.Errorf("outstation: %s %d: want >= 0", f.name, f.v)
		}
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Identity.SpecDate == 0 {
		c.Identity.SpecDate = 0x24
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.WhPerCount == 0 {
		c.WhPerCount = 1
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxAuthFailures == 0 {
		c.MaxAuthFailures = DefaultMaxAuthFailures
	}
	if c.MaxPeriods == 0 {
		c.MaxPeriods = DefaultMaxPeriods
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// allowed reports whether a master at addr may connect.
func (c *Config) allowed(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range c.AllowedMasters {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
