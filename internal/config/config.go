// Package config loads gridmeter's YAML configuration files strictly: an unknown key is an
// error naming it and its line, defaults live in code, and Validate methods name the bad
// field. Secrets are of type Secret, which redacts itself when printed or logged.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Secret is a string that never prints itself.
type Secret string

// String redacts the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString redacts the secret in %#v.
func (s Secret) GoString() string { return `config.Secret("[redacted]")` }

// LogValue redacts the secret in structured logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalYAML redacts the secret when a configuration is printed.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// Value returns the secret itself, for the one place that needs it.
func (s Secret) Value() string { return string(s) }

// Duration is a time.Duration written as "30s", "5m" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a duration such as 30s or 5m", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: duration %q: want a duration such as 30s or 5m", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Decode decodes YAML into v strictly: unknown keys and trailing documents are errors.
func Decode(r io.Reader, v any) error {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty configuration")
		}
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	return nil
}

// Validator is a configuration that checks itself.
type Validator interface{ Validate() error }

// Load reads, decodes and validates a configuration file; v's fields hold the defaults.
func Load(path string, v Validator) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := Decode(bytes.NewReader(b), v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := v.Validate(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
