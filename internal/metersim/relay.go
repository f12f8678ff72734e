package metersim

import (
	"time"

	"gridmeter/internal/dlt645"
)

// relayState is the meter's load switch and the commands that drive it (跳合闸、报警、
// 保电, control 1CH).
//
//   - trip (1AH) opens the relay at once: the load is off, power and current read 0;
//   - close allowed (1BH) clears the trip command; the relay stays open until the
//     customer presses the meter's button, modelled as CloseDelay later;
//   - direct close (1CH) closes at once;
//   - keep-on (3AH) makes the meter refuse trips (abnormal reply, 01H) until released
//     (3BH); given while the relay is open it acts as close allowed;
//   - alarm on and off (2AH, 2BH) set the alarm, which the meter shows on its display
//     only: no status bit reports it.
//
// Run status word 3 reports the relay (bit 4), the trip command (bit 6) and keep-on
// (bit 12, the State Grid assignment).
type relayState struct {
	open    bool  // contacts open: no load
	cmdOpen bool  // the last relay command was a trip
	closeAt int64 // true instant the customer closes the relay, Unix ms; 0 none
	keepOn  bool
	alarm   bool
}

func (r relayState) status3() dlt645.StatusWord3 {
	var s dlt645.StatusWord3
	if r.open {
		s |= dlt645.Status3RelayOpen
	}
	if r.cmdOpen {
		s |= dlt645.Status3RelayCommandOpen
	}
	if r.keepOn {
		s |= dlt645.Status3KeepOn
	}
	return s
}

// RelayState is the relay as a master would see it, plus the alarm.
type RelayState struct {
	Open        bool // the load is off
	TripCommand bool // the last relay command was a trip
	KeepOn      bool
	Alarm       bool
	CloseAt     time.Time // when the customer will close it after close allowed; zero if not pending
}

// Relay returns the relay's state at t.
func (m *Meter) Relay(t time.Time) RelayState {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(t.UnixMilli())
	r := RelayState{Open: m.relay.open, TripCommand: m.relay.cmdOpen, KeepOn: m.relay.keepOn, Alarm: m.relay.alarm}
	if m.relay.closeAt > 0 {
		r.CloseAt = time.UnixMilli(m.relay.closeAt).In(m.loc)
	}
	return r
}

// Control carries out a control command at t as the meter would, after checking its
// credentials (level 02 and the meter's password; a meter with EncryptedControl refuses
// every plain command) and its valid-until time against the meter's clock. It returns 0
// when the meter accepts, else the error information word of its abnormal reply.
func (m *Meter) Control(t time.Time, cred dlt645.Credentials, cmd dlt645.ControlCommand) dlt645.ErrorCode {
	m.mu.Lock()
	defer m.mu.Unlock()
	t = m.present(t)
	if code := m.authorise(cred); code != 0 {
		return code
	}
	if !cmd.Action.Valid() || cmd.ValidUntil.Before(m.clock(t)) {
		return dlt645.ErrCodeOther // unknown action, or the command has expired
	}
	r := &m.relay
	closeLater := func() {
		r.cmdOpen = false
		if r.open && r.closeAt == 0 {
			r.closeAt = m.at + m.closeDelay
		}
	}
	switch cmd.Action {
	case dlt645.ActionTrip:
		if r.keepOn {
			return dlt645.ErrCodeOther
		}
		r.open, r.cmdOpen, r.closeAt = true, true, 0
	case dlt645.ActionCloseAllowed:
		closeLater()
	case dlt645.ActionClose:
		r.open, r.cmdOpen, r.closeAt = false, false, 0
	case dlt645.ActionAlarm:
		r.alarm = true
	case dlt645.ActionAlarmOff:
		r.alarm = false
	case dlt645.ActionKeepOn:
		r.keepOn = true
		closeLater()
	case dlt645.ActionKeepOnRelease:
		r.keepOn = false
	}
	return 0
}

// authorise checks plain credentials: 0, or ErrCodeUnauthorized.
func (m *Meter) authorise(cred dlt645.Credentials) dlt645.ErrorCode {
	if m.spec.EncryptedControl || cred.Level != 0x02 || cred.Password != m.password {
		return dlt645.ErrCodeUnauthorized
	}
	return 0
}
