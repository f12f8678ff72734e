// Package message is the MQTT contract between terminals and the head-end, version 1: the
// topic tree and the JSON payloads, with strict decoders that refuse bad input with an error
// naming the field. It knows no MQTT library; the transport packages carry its bytes.
//
// docs/mqtt.md is the human-readable form of this contract; change both together and bump
// Version for any incompatible change.
package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gridmeter/internal/meterdata"
)

// Version is the contract version carried in every payload ("v") and in the topic root.
const Version = 1

// Root is the topic root of contract version 1.
const Root = "gridmeter/v1"

// Limits on what a decoder accepts.
const (
	MaxPayload      = 4 << 20 // bytes
	MaxBatchLen     = 10000   // readings per batch
	MaxMetersLen    = 4096    // meters per inventory message
	maxErrorMessage = 1024
)

// Topic suffixes below a terminal's up-link and down-link trees.
const (
	UpReadings = "up/readings" // QoS 1, not retained: ReadingBatch
	UpStatus   = "up/status"   // QoS 1, retained: Status (last will: Status{State: offline})
	UpMeters   = "up/meters"   // QoS 1, retained: Meters
	DownAck    = "down/ack"    // QoS 1, not retained: Ack
)

// Topic returns the topic of a terminal for a suffix such as UpReadings.
func Topic(terminal, suffix string) string { return Root + "/" + terminal + "/" + suffix }

// DownTree is a terminal's down-link filter; a broker ACL lets terminal X publish only below
// Root/X/up/ and subscribe only to DownTree(X).
func DownTree(terminal string) string { return Root + "/" + terminal + "/down/#" }

// AllTerminals returns the filter matching a suffix for every terminal ("gridmeter/v1/+/up/readings").
func AllTerminals(suffix string) string { return Root + "/+/" + suffix }

// ParseTopic splits a contract topic into terminal id and suffix.
func ParseTopic(topic string) (terminal, suffix string, err error) {
	rest, ok := strings.CutPrefix(topic, Root+"/")
	if !ok {
		return "", "", fmt.Errorf("topic %q: not under %s/", topic, Root)
	}
	terminal, suffix, ok = strings.Cut(rest, "/")
	if !ok {
		return "", "", fmt.Errorf("topic %q: no suffix after the terminal id", topic)
	}
	if err := meterdata.ValidateTerminalID(terminal); err != nil {
		return "", "", fmt.Errorf("topic %q: %w", topic, err)
	}
	return terminal, suffix, nil
}

// ErrVersion is returned for a payload of a contract version this build does not speak.
var ErrVersion = errors.New("unsupported contract version")

// decodeStrict decodes one JSON object into v, refusing unknown fields, trailing data and
// oversize input, and checks the version field.
func decodeStrict(what string, b []byte, v any, version func() int) error {
	if len(b) > MaxPayload {
		return fmt.Errorf("%s: payload of %d bytes exceeds %d", what, len(b), MaxPayload)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", what, describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%s: trailing data after the JSON object", what)
	}
	if got := version(); got != Version {
		return fmt.Errorf("%s: v=%d: %w (this build speaks v=%d)", what, got, ErrVersion, Version)
	}
	return nil
}

func describeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %q: got JSON %s, want %s", te.Field, te.Value, te.Type)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d: %w", se.Offset, err)
	}
	if errors.Is(err, io.EOF) {
		return errors.New("empty payload")
	}
	return err
}

// Time is a UTC instant encoded as RFC 3339 with milliseconds ("2026-11-24T04:15:00.000Z").
type Time struct{ time.Time }

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON encodes the time in UTC with milliseconds.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.UTC().Format(timeLayout) + `"`), nil
}

// UnmarshalJSON accepts any RFC 3339 time and keeps it in UTC, truncated to milliseconds.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("time: want an RFC 3339 string")
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("time %q: want RFC 3339 (2006-01-02T15:04:05Z)", s)
	}
	t.Time = v.UTC().Truncate(time.Millisecond)
	return nil
}
