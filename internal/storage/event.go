package storage

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"gridmeter/internal/meterdata"
)

// ErrInvalidEvent is wrapped by every error of Event.Validate, so that a caller can tell a
// refused event (its own mistake) from a failing store.
var ErrInvalidEvent = errors.New("invalid event")

// Validate reports whether the event may be appended, with an error naming the first field
// that breaks the rules stated on Event. ID is not checked (the store assigns it), nor is a
// zero At (the store's clock then gives it).
func (e Event) Validate() error {
	if err := validName("kind", e.Kind); err != nil {
		return err
	}
	switch e.Severity {
	case SeverityInfo, SeverityWarning, SeverityAlarm:
	default:
		return fmt.Errorf("%w: severity %.80q: want %q, %q or %q", ErrInvalidEvent, e.Severity, SeverityInfo, SeverityWarning, SeverityAlarm)
	}
	if !e.At.IsZero() && (e.At.Before(meterdata.EarliestTime) || !e.At.Before(meterdata.LatestTime)) {
		return fmt.Errorf("%w: at %s: want %s <= at < %s (or zero for now)", ErrInvalidEvent,
			e.At.UTC().Format("2006-01-02T15:04:05.000Z"), meterdata.EarliestTime.Format("2006-01-02"), meterdata.LatestTime.Format("2006-01-02"))
	}
	if e.Terminal != "" {
		if err := meterdata.ValidateTerminalID(e.Terminal); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidEvent, err)
		}
	}
	if e.Meter != "" {
		if err := e.Meter.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidEvent, err)
		}
	}
	switch {
	case len(e.Message) > MaxEventMessage:
		return fmt.Errorf("%w: message of %d bytes: want at most %d", ErrInvalidEvent, len(e.Message), MaxEventMessage)
	case !utf8.ValidString(e.Message):
		return fmt.Errorf("%w: message %.80q: not valid UTF-8", ErrInvalidEvent, e.Message)
	case strings.IndexByte(e.Message, 0) >= 0:
		return fmt.Errorf("%w: message %.80q: contains a NUL byte", ErrInvalidEvent, e.Message)
	}
	if len(e.Data) > MaxEventFigures {
		return fmt.Errorf("%w: %d data figures: want at most %d", ErrInvalidEvent, len(e.Data), MaxEventFigures)
	}
	for name := range e.Data {
		if err := validName("data name", name); err != nil {
			return err
		}
	}
	return nil
}

// validName checks an event kind or figure name: 1 to MaxEventKind bytes of a-z, 0-9, _.
func validName(what, s string) error { return validIdent(ErrInvalidEvent, what, s, MaxEventKind) }

// validIdent checks a lowercase identifier of 1 to maxLen bytes of a-z, 0-9, _; what names
// the field in the error, which wraps sentinel.
func validIdent(sentinel error, what, s string, maxLen int) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", sentinel, what)
	}
	if len(s) > maxLen {
		return fmt.Errorf("%w: %s of %d bytes: want at most %d", sentinel, what, len(s), maxLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return fmt.Errorf("%w: %s %.80q: want only a-z, 0-9 and _", sentinel, what, s)
		}
	}
	return nil
}
