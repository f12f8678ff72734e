package storagetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// The CommandStore cases.

// newCommand returns a valid command to meter address addr of terminal term, issued at
// base plus minute minutes, expiring an hour later.
func newCommand(t *testing.T, id, term string, addr, minute int) storage.Command {
	t.Helper()
	issued := base.Add(time.Duration(minute) * time.Minute)
	return storage.Command{ID: id, Terminal: term, Meter: meter(t, term, addr), Action: "relay_open",
		IssuedBy: "alice", Issued: issued, Expires: issued.Add(time.Hour)}
}

func createCommand(t *testing.T, s storage.Store, c storage.Command) {
	t.Helper()
	if err := s.CreateCommand(t.Context(), c); err != nil {
		t.Fatalf("CreateCommand(%s): %v", c.ID, err)
	}
}

func getCommand(t *testing.T, s storage.Store, id string) storage.Command {
	t.Helper()
	c, err := s.Command(t.Context(), id)
	if err != nil {
		t.Fatalf("Command(%s): %v", id, err)
	}
	return c
}

func commands(t *testing.T, s storage.Store, q storage.CommandQuery) []storage.Command {
	t.Helper()
	cs, err := s.Commands(t.Context(), q)
	if err != nil {
		t.Fatalf("Commands(%+v): %v", q, err)
	}
	return cs
}

func updateCommand(t *testing.T, s storage.Store, u storage.CommandUpdate) (storage.Command, bool) {
	t.Helper()
	c, changed, err := s.UpdateCommand(t.Context(), u)
	if err != nil {
		t.Fatalf("UpdateCommand(%s to %s): %v", u.ID, u.State, err)
	}
	return c, changed
}

// createdCommand returns c as CreateCommand must store it: pending, no reason or result,
// Updated = Issued, times in UTC cut to the millisecond, empty Params as nil.
func createdCommand(c storage.Command) storage.Command {
	c.Issued = c.Issued.UTC().Truncate(time.Millisecond)
	c.Expires = c.Expires.UTC().Truncate(time.Millisecond)
	c.State, c.Reason, c.Result, c.Updated = storage.CommandPending, "", nil, c.Issued
	if len(c.Params) == 0 {
		c.Params = nil
	}
	return c
}

// updatedCommand returns c after the report u moved it on.
func updatedCommand(c storage.Command, u storage.CommandUpdate) storage.Command {
	c.State, c.Reason, c.Result, c.Updated = u.State, u.Reason, u.Result, u.At.UTC().Truncate(time.Millisecond)
	if len(c.Result) == 0 {
		c.Result = nil
	}
	return c
}

// sameCommand compares commands, times as instants that must be in UTC, nil maps apart
// from empty ones.
func sameCommand(got, want storage.Command) bool {
	for _, tm := range []time.Time{got.Issued, got.Expires, got.Updated} {
		if tm.Location() != time.UTC {
			return false
		}
	}
	return got.ID == want.ID && got.Terminal == want.Terminal && got.Meter == want.Meter && got.Action == want.Action &&
		maps.Equal(got.Params, want.Params) && (got.Params == nil) == (want.Params == nil) && got.IssuedBy == want.IssuedBy &&
		got.Issued.Equal(want.Issued) && got.Expires.Equal(want.Expires) && got.State == want.State && got.Reason == want.Reason &&
		maps.Equal(got.Result, want.Result) && (got.Result == nil) == (want.Result == nil) && got.Updated.Equal(want.Updated)
}

func showCommand(c storage.Command) string {
	return fmt.Sprintf("{%s %s %s %s %v by %q issued %s expires %s %s %.40q %v updated %s}", c.ID, c.Terminal, c.Meter, c.Action,
		c.Params, c.IssuedBy, c.Issued.Format(time.RFC3339Nano), c.Expires.Format(time.RFC3339Nano), c.State, c.Reason, c.Result,
		c.Updated.Format(time.RFC3339Nano))
}

func wantCommand(t *testing.T, got, want storage.Command) {
	t.Helper()
	if !sameCommand(got, want) {
		t.Errorf("command = %s,\nwant      %s", showCommand(got), showCommand(want))
	}
}

func wantCommands(t *testing.T, got, want []storage.Command) {
	t.Helper()
	if len(got) != len(want) {
		var ids []string
		for _, c := range got {
			ids = append(ids, c.ID)
		}
		t.Errorf("got %d commands %v, want %d", len(got), ids, len(want))
	}
	for i := range min(len(got), len(want)) {
		if !sameCommand(got[i], want[i]) {
			t.Errorf("command %d = %s,\nwant        %s", i, showCommand(got[i]), showCommand(want[i]))
		}
	}
}

// testCommands: the round trip of every field, what CreateCommand ignores, Params nil and
// empty, ErrExists, ErrNotFound.
func testCommands(t *testing.T, s storage.Store) {
	if _, err := s.Command(t.Context(), "c1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Command(unknown) error = %v, want ErrNotFound", err)
	}
	if cs := commands(t, s, storage.CommandQuery{}); len(cs) != 0 {
		t.Errorf("Commands on an empty store = %d, want none", len(cs))
	}
	cst := time.FixedZone("CST", 8*3600)
	maxParams := make(map[string]string, storage.MaxCommandParams)
	for i := range storage.MaxCommandParams - 1 {
		maxParams[fmt.Sprintf("p%02d", i)] = fmt.Sprint(i)
	}
	maxParams[strings.Repeat("n", storage.MaxCommandParamName)] = strings.Repeat("é", storage.MaxCommandParamValue/2)

	c1 := newCommand(t, "c1", "T1", 1, 0)
	// Sub-millisecond times in another zone; the fields CreateCommand ignores, set.
	c1.Issued = time.Date(2025, 3, 1, 8, 0, 0, 123_456_789, cst)
	c1.Expires = c1.Issued.Add(10*time.Minute + 999*time.Microsecond)
	c1.State, c1.Reason, c1.Result, c1.Updated = storage.CommandSucceeded, "ignored", map[string]int64{"x": 1}, base.Add(time.Hour)
	c2 := newCommand(t, "C-2_x", "T1", 2, 1)
	c2.Action, c2.IssuedBy = "set_param", "操作员 Zhang"
	c2.Params = map[string]string{"name": "ct_ratio", "value": "200", "说明": `电流互感器 <&> "quoted" \back`, "empty": "", "json": `{"a":[1]}`}
	c3 := newCommand(t, strings.Repeat("z", storage.MaxCommandID), "T2", 1, 2)
	c3.Action, c3.Params = "read_now", map[string]string{}
	c4 := newCommand(t, "c4", "T2", 2, 3)
	c4.Action, c4.Params, c4.IssuedBy = strings.Repeat("a", storage.MaxCommandAction), maxParams, strings.Repeat("u", storage.MaxUserName)
	c5 := newCommand(t, "c5", "T3", 1, 4)
	c5.Action, c5.Issued, c5.Expires = "time_sync", meterdata.EarliestTime, meterdata.LatestTime.Add(-time.Millisecond)
	in := []storage.Command{c1, c2, c3, c4, c5}
	for _, c := range in {
		createCommand(t, s, c)
	}
	for _, c := range in {
		t.Run("round trip "+c.ID[:min(len(c.ID), 8)], func(t *testing.T) {
			wantCommand(t, getCommand(t, s, c.ID), createdCommand(c))
		})
	}
	if got := getCommand(t, s, "c1"); got.Issued.Nanosecond()%int(time.Millisecond) != 0 || got.Expires.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("c1: Issued %v, Expires %v: want whole milliseconds", got.Issued, got.Expires)
	}

	t.Run("ErrExists", func(t *testing.T) {
		again := newCommand(t, "c1", "T2", 9, 30)
		again.Action = "freeze"
		err := s.CreateCommand(t.Context(), again)
		if !errors.Is(err, storage.ErrExists) {
			t.Fatalf("CreateCommand(taken id) error = %v, want ErrExists", err)
		}
		wantCommand(t, getCommand(t, s, "c1"), createdCommand(c1))
		// Also once the command has moved on.
		at := base.Add(2 * time.Hour)
		updateCommand(t, s, storage.CommandUpdate{ID: "c1", State: storage.CommandAccepted, At: at})
		if err := s.CreateCommand(t.Context(), c1); !errors.Is(err, storage.ErrExists) {
			t.Errorf("CreateCommand(taken id, accepted) error = %v, want ErrExists", err)
		}
		if got := getCommand(t, s, "c1"); got.State != storage.CommandAccepted || !got.Updated.Equal(at) {
			t.Errorf("after a refused create, c1 = %s; want it accepted at %v", showCommand(got), at)
		}
	})

	t.Run("IDs are case-sensitive", func(t *testing.T) {
		createCommand(t, s, newCommand(t, "C1", "T1", 1, 5))
		if got := getCommand(t, s, "C1"); got.ID != "C1" {
			t.Errorf("Command(C1) = %s", showCommand(got))
		}
		if _, err := s.Command(t.Context(), "c-1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Command(c-1) error = %v, want ErrNotFound", err)
		}
	})
}

// testCommandsRefused: a command breaking a rule of Command is refused with an error
// wrapping ErrInvalidCommand that names the field; nothing is stored.
func testCommandsRefused(t *testing.T, s storage.Store) {
	good := newCommand(t, "good", "T1", 1, 0)
	bad := func(f func(c *storage.Command)) storage.Command {
		c := good
		c.ID = "bad"
		f(&c)
		return c
	}
	params := func(n int) map[string]string {
		p := make(map[string]string, n)
		for i := range n {
			p[fmt.Sprintf("p%d", i)] = "v"
		}
		return p
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name  string
		ctx   context.Context
		c     storage.Command
		want  error
		about string
	}{
		{"empty id", t.Context(), bad(func(c *storage.Command) { c.ID = "" }), storage.ErrInvalidCommand, `id ""`},
		{"id with a dot", t.Context(), bad(func(c *storage.Command) { c.ID = "c.1" }), storage.ErrInvalidCommand, `id "c.1"`},
		{"id with a space", t.Context(), bad(func(c *storage.Command) { c.ID = "c 1" }), storage.ErrInvalidCommand, `id "c 1"`},
		{"id too long", t.Context(), bad(func(c *storage.Command) { c.ID = strings.Repeat("c", storage.MaxCommandID+1) }), storage.ErrInvalidCommand, "id"},
		{"malformed terminal", t.Context(), bad(func(c *storage.Command) { c.Terminal = "T.1" }), storage.ErrInvalidCommand, "terminal id"},
		{"empty terminal", t.Context(), bad(func(c *storage.Command) { c.Terminal = "" }), storage.ErrInvalidCommand, "terminal id"},
		{"malformed meter", t.Context(), bad(func(c *storage.Command) { c.Meter = "T1.rs485-1" }), storage.ErrInvalidCommand, "meter id"},
		{"empty meter", t.Context(), bad(func(c *storage.Command) { c.Meter = "" }), storage.ErrInvalidCommand, "meter id"},
		{"meter of another terminal", t.Context(), bad(func(c *storage.Command) { c.Meter = meter(t, "T2", 1) }), storage.ErrInvalidCommand, "not of terminal T1"},
		{"empty action", t.Context(), bad(func(c *storage.Command) { c.Action = "" }), storage.ErrInvalidCommand, "action"},
		{"action in capitals", t.Context(), bad(func(c *storage.Command) { c.Action = "Relay_Open" }), storage.ErrInvalidCommand, `action "Relay_Open"`},
		{"action with a digit", t.Context(), bad(func(c *storage.Command) { c.Action = "relay1" }), storage.ErrInvalidCommand, `action "relay1"`},
		{"action too long", t.Context(), bad(func(c *storage.Command) { c.Action = strings.Repeat("a", storage.MaxCommandAction+1) }), storage.ErrInvalidCommand, "action"},
		{"too many params", t.Context(), bad(func(c *storage.Command) { c.Params = params(storage.MaxCommandParams + 1) }), storage.ErrInvalidCommand, "params: 17 entries"},
		{"empty param name", t.Context(), bad(func(c *storage.Command) { c.Params = map[string]string{"": "v"} }), storage.ErrInvalidCommand, "empty params name"},
		{"param name too long", t.Context(), bad(func(c *storage.Command) { c.Params = map[string]string{strings.Repeat("n", 65): "v"} }), storage.ErrInvalidCommand, "params name of 65 bytes"},
		{"param name not UTF-8", t.Context(), bad(func(c *storage.Command) { c.Params = map[string]string{"n\xff": "v"} }), storage.ErrInvalidCommand, "params name"},
		{"param value too long", t.Context(), bad(func(c *storage.Command) { c.Params = map[string]string{"v": strings.Repeat("é", 128) + "x"} }), storage.ErrInvalidCommand, `params "v" value of 257 bytes`},
		{"param value not UTF-8", t.Context(), bad(func(c *storage.Command) { c.Params = map[string]string{"v": "bad \xff"} }), storage.ErrInvalidCommand, "UTF-8"},
		{"param value with NUL", t.Context(), bad(func(c *storage.Command) { c.Params = map[string]string{"v": "a\x00b"} }), storage.ErrInvalidCommand, "NUL"},
		{"no issuer", t.Context(), bad(func(c *storage.Command) { c.IssuedBy = "" }), storage.ErrInvalidCommand, "empty issued_by"},
		{"issuer too long", t.Context(), bad(func(c *storage.Command) { c.IssuedBy = strings.Repeat("u", storage.MaxUserName+1) }), storage.ErrInvalidCommand, "issued_by of 257 bytes"},
		{"issuer with NUL", t.Context(), bad(func(c *storage.Command) { c.IssuedBy = "a\x00" }), storage.ErrInvalidCommand, "issued_by"},
		{"zero issued", t.Context(), bad(func(c *storage.Command) { c.Issued = time.Time{} }), storage.ErrInvalidCommand, "issued 0001-01-01"},
		{"issued before 2000", t.Context(), bad(func(c *storage.Command) { c.Issued = meterdata.EarliestTime.Add(-time.Millisecond) }), storage.ErrInvalidCommand, "issued 1999-12-31"},
		{"zero expires", t.Context(), bad(func(c *storage.Command) { c.Expires = time.Time{} }), storage.ErrInvalidCommand, "expires 0001-01-01"},
		{"expires in 2100", t.Context(), bad(func(c *storage.Command) { c.Expires = meterdata.LatestTime }), storage.ErrInvalidCommand, "expires 2100-01-01"},
		{"expires at issued", t.Context(), bad(func(c *storage.Command) { c.Expires = c.Issued }), storage.ErrInvalidCommand, "want after issued"},
		{"expires before issued", t.Context(), bad(func(c *storage.Command) { c.Expires = c.Issued.Add(-time.Minute) }), storage.ErrInvalidCommand, "want after issued"},
		{"expires in the same millisecond", t.Context(), bad(func(c *storage.Command) { c.Expires = c.Issued.Add(999 * time.Microsecond) }), storage.ErrInvalidCommand, "want after issued"},
		{"context cancelled", cancelled, bad(func(*storage.Command) {}), context.Canceled, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.CreateCommand(tc.ctx, tc.c)
			if err == nil {
				t.Fatal("CreateCommand: want an error")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("CreateCommand error = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.about) {
				t.Errorf("CreateCommand error = %v, want it to say %q", err, tc.about)
			}
			if tc.want == storage.ErrInvalidCommand {
				if verr := tc.c.Validate(); !errors.Is(verr, storage.ErrInvalidCommand) || !strings.Contains(verr.Error(), tc.about) {
					t.Errorf("Validate = %v, want ErrInvalidCommand saying %q", verr, tc.about)
				}
			}
			if cs := commands(t, s, storage.CommandQuery{}); len(cs) != 0 {
				t.Errorf("after a refused create, %d commands stored", len(cs))
			}
		})
	}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate of a good command: %v", err)
	}
	createCommand(t, s, good)
	wantCommands(t, commands(t, s, storage.CommandQuery{}), []storage.Command{createdCommand(good)})
}

// testCommandStates: the state machine, forward only; what a report changes; a report
// that does not move the command changes nothing and is no error.
func testCommandStates(t *testing.T, s storage.Store) {
	type step struct {
		state   string
		changed bool
	}
	const (
		pending   = storage.CommandPending
		accepted  = storage.CommandAccepted
		succeeded = storage.CommandSucceeded
		failed    = storage.CommandFailed
		rejected  = storage.CommandRejected
		expired   = storage.CommandExpired
	)
	tests := []struct {
		name  string
		steps []step
	}{
		{"accepted then succeeded", []step{{accepted, true}, {succeeded, true}}},
		{"accepted then failed", []step{{accepted, true}, {failed, true}}},
		{"accepted then expired", []step{{accepted, true}, {expired, true}}},
		{"straight to succeeded", []step{{succeeded, true}}},
		{"straight to failed", []step{{failed, true}}},
		{"straight to rejected", []step{{rejected, true}}},
		{"straight to expired", []step{{expired, true}}},
		{"accepted repeated", []step{{accepted, true}, {accepted, false}, {succeeded, true}, {accepted, false}}},
		{"accepted after a final state", []step{{rejected, true}, {accepted, false}}},
		{"final state repeated", []step{{succeeded, true}, {succeeded, false}}},
		{"second final state", []step{{accepted, true}, {failed, true}, {succeeded, false}, {rejected, false}, {expired, false}, {failed, false}}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCommand(t, fmt.Sprintf("cmd%d", i), "T1", 1, i)
			createCommand(t, s, c)
			want := createdCommand(c)
			for j, st := range tc.steps {
				u := storage.CommandUpdate{ID: c.ID, State: st.state, Reason: fmt.Sprintf("report %d", j),
					Result: map[string]int64{"step": int64(j)}, At: c.Issued.Add(time.Duration(j+1)*time.Second + 500*time.Microsecond)}
				if st.changed {
					want = updatedCommand(want, u)
				}
				got, changed := updateCommand(t, s, u)
				if changed != st.changed {
					t.Errorf("step %d (%s): changed = %t, want %t", j, st.state, changed, st.changed)
				}
				wantCommand(t, got, want)
				wantCommand(t, getCommand(t, s, c.ID), want)
			}
		})
	}

	t.Run("report fields", func(t *testing.T) {
		c := newCommand(t, "fields", "T1", 1, 0)
		createCommand(t, s, c)
		at := time.Date(2025, 3, 1, 20, 0, 0, 999_999_999, time.FixedZone("CST", 8*3600))
		u := storage.CommandUpdate{ID: c.ID, State: accepted, Reason: "", Result: map[string]int64{}, At: at}
		got, _ := updateCommand(t, s, u)
		if got.Result != nil || !got.Updated.Equal(at.Truncate(time.Millisecond)) || got.Updated.Location() != time.UTC {
			t.Errorf("after accepted with an empty result: %s; want Result nil, Updated %v in UTC", showCommand(got), at)
		}
		// A final report replaces Reason and Result: a nil Result clears the stored one.
		u = storage.CommandUpdate{ID: c.ID, State: failed, Reason: strings.Repeat("é", storage.MaxCommandReason/2), At: at.Add(time.Second)}
		got, _ = updateCommand(t, s, u)
		wantCommand(t, got, updatedCommand(updatedCommand(createdCommand(c), storage.CommandUpdate{State: accepted, At: at}), u))
		// The report's time is taken as given, even before Issued (a terminal's clock).
		c2 := newCommand(t, "early", "T1", 1, 0)
		createCommand(t, s, c2)
		u = storage.CommandUpdate{ID: c2.ID, State: succeeded, Result: map[string]int64{"status3": 16, "neg": -1}, At: c2.Issued.Add(-time.Minute)}
		got, _ = updateCommand(t, s, u)
		wantCommand(t, got, updatedCommand(createdCommand(c2), u))
	})

	t.Run("zero At is now", func(t *testing.T) {
		c := newCommand(t, "now", "T1", 1, 0)
		createCommand(t, s, c)
		before := time.Now()
		got, _ := updateCommand(t, s, storage.CommandUpdate{ID: c.ID, State: accepted})
		after := time.Now()
		if !within(got.Updated, before, after) || got.Updated.Location() != time.UTC {
			t.Errorf("Updated = %v; want UTC within [%v, %v]", got.Updated, before, after)
		}
	})

	t.Run("refused", func(t *testing.T) {
		c := newCommand(t, "refused", "T1", 1, 0)
		createCommand(t, s, c)
		ok := storage.CommandUpdate{ID: c.ID, State: accepted, At: c.Issued.Add(time.Second)}
		bad := func(f func(u *storage.CommandUpdate)) storage.CommandUpdate {
			u := ok
			f(&u)
			return u
		}
		tooMany := make(map[string]int64, storage.MaxEventFigures+1)
		for i := range storage.MaxEventFigures + 1 {
			tooMany[fmt.Sprintf("f%d", i)] = 1
		}
		cancelled, cancel := context.WithCancel(t.Context())
		cancel()
		tests := []struct {
			name  string
			ctx   context.Context
			u     storage.CommandUpdate
			want  error
			about string
		}{
			{"unknown id", t.Context(), bad(func(u *storage.CommandUpdate) { u.ID = "nothing" }), storage.ErrNotFound, "nothing"},
			{"malformed id", t.Context(), bad(func(u *storage.CommandUpdate) { u.ID = "a b" }), storage.ErrInvalidCommand, `id "a b"`},
			{"pending", t.Context(), bad(func(u *storage.CommandUpdate) { u.State = pending }), storage.ErrInvalidCommand, `state "pending"`},
			{"unknown state", t.Context(), bad(func(u *storage.CommandUpdate) { u.State = "done" }), storage.ErrInvalidCommand, `state "done"`},
			{"empty state", t.Context(), bad(func(u *storage.CommandUpdate) { u.State = "" }), storage.ErrInvalidCommand, `state ""`},
			{"reason too long", t.Context(), bad(func(u *storage.CommandUpdate) { u.Reason = strings.Repeat("r", storage.MaxCommandReason+1) }), storage.ErrInvalidCommand, "reason of 1025 bytes"},
			{"reason not UTF-8", t.Context(), bad(func(u *storage.CommandUpdate) { u.Reason = "\xff" }), storage.ErrInvalidCommand, "reason"},
			{"reason with NUL", t.Context(), bad(func(u *storage.CommandUpdate) { u.Reason = "\x00" }), storage.ErrInvalidCommand, "NUL"},
			{"result name", t.Context(), bad(func(u *storage.CommandUpdate) { u.Result = map[string]int64{"Drift ms": 1} }), storage.ErrInvalidCommand, "result name"},
			{"empty result name", t.Context(), bad(func(u *storage.CommandUpdate) { u.Result = map[string]int64{"": 1} }), storage.ErrInvalidCommand, "empty result name"},
			{"too many figures", t.Context(), bad(func(u *storage.CommandUpdate) { u.Result = tooMany }), storage.ErrInvalidCommand, "65 result figures"},
			{"at before 2000", t.Context(), bad(func(u *storage.CommandUpdate) { u.At = meterdata.EarliestTime.Add(-time.Millisecond) }), storage.ErrInvalidCommand, "at 1999-12-31"},
			{"at in 2100", t.Context(), bad(func(u *storage.CommandUpdate) { u.At = meterdata.LatestTime }), storage.ErrInvalidCommand, "at 2100-01-01"},
			{"context cancelled", cancelled, ok, context.Canceled, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, changed, err := s.UpdateCommand(tc.ctx, tc.u)
				if err == nil || changed {
					t.Fatalf("UpdateCommand = %s, %t, %v; want an error", showCommand(got), changed, err)
				}
				if !errors.Is(err, tc.want) {
					t.Errorf("UpdateCommand error = %v, want %v", err, tc.want)
				}
				if !strings.Contains(err.Error(), tc.about) {
					t.Errorf("UpdateCommand error = %v, want it to say %q", err, tc.about)
				}
				wantCommand(t, getCommand(t, s, c.ID), createdCommand(c))
			})
		}
		if err := ok.Validate(); err != nil {
			t.Errorf("Validate of a good report: %v", err)
		}
		got, changed := updateCommand(t, s, ok)
		if !changed || got.State != accepted {
			t.Errorf("after the refusals, UpdateCommand = %s, %t; want it accepted", showCommand(got), changed)
		}
	})
}

// testCommandsQuery: filters, newest Issued first, ties by ID descending, Open, limits.
func testCommandsQuery(t *testing.T, s storage.Store) {
	type spec struct {
		id     string
		term   string
		addr   int
		minute int
		state  string // to report after creation; "" leaves it pending
	}
	specs := []spec{
		{"a", "T1", 1, 0, storage.CommandSucceeded},
		{"b", "T1", 2, 1, ""},
		{"c", "T2", 1, 2, storage.CommandAccepted},
		{"d", "T1", 1, 3, storage.CommandRejected},
		// Same Issued: ID descending, whatever the creation order.
		{"f", "T1", 1, 4, ""},
		{"e", "T2", 1, 4, storage.CommandExpired},
		{"g", "T1", 2, 4, storage.CommandAccepted},
		// Created last but issued first.
		{"z", "T1", 1, -10, ""},
		{"Z", "T1", 1, 5, storage.CommandFailed},
	}
	byID := map[string]storage.Command{}
	for _, sp := range specs {
		c := newCommand(t, sp.id, sp.term, sp.addr, sp.minute)
		createCommand(t, s, c)
		want := createdCommand(c)
		if sp.state != "" {
			u := storage.CommandUpdate{ID: sp.id, State: sp.state, At: c.Issued.Add(time.Second)}
			updateCommand(t, s, u)
			want = updatedCommand(want, u)
		}
		byID[sp.id] = want
	}
	// Newest Issued first, then ID descending ("Z" < "a" in byte order).
	order := []string{"Z", "g", "f", "e", "d", "c", "b", "a", "z"}
	var all []storage.Command
	for _, id := range order {
		all = append(all, byID[id])
	}
	where := func(f func(c storage.Command) bool) []storage.Command {
		var out []storage.Command
		for _, c := range all {
			if f(c) {
				out = append(out, c)
			}
		}
		return out
	}
	open := func(c storage.Command) bool { return !storage.CommandFinal(c.State) }
	m1 := meter(t, "T1", 1)
	tests := []struct {
		name string
		q    storage.CommandQuery
		want []storage.Command
	}{
		{"everything", storage.CommandQuery{}, all},
		{"terminal", storage.CommandQuery{Terminal: "T1"}, where(func(c storage.Command) bool { return c.Terminal == "T1" })},
		{"other terminal", storage.CommandQuery{Terminal: "T2"}, where(func(c storage.Command) bool { return c.Terminal == "T2" })},
		{"meter", storage.CommandQuery{Meter: m1}, where(func(c storage.Command) bool { return c.Meter == m1 })},
		{"open", storage.CommandQuery{Open: true}, where(open)},
		{"open of a terminal", storage.CommandQuery{Terminal: "T1", Open: true}, where(func(c storage.Command) bool { return c.Terminal == "T1" && open(c) })},
		{"open of a meter", storage.CommandQuery{Meter: m1, Open: true}, where(func(c storage.Command) bool { return c.Meter == m1 && open(c) })},
		{"terminal and meter", storage.CommandQuery{Terminal: "T1", Meter: m1}, where(func(c storage.Command) bool { return c.Meter == m1 })},
		{"meter of another terminal", storage.CommandQuery{Terminal: "T2", Meter: m1}, nil},
		{"unknown terminal", storage.CommandQuery{Terminal: "T9"}, nil},
		{"unknown meter", storage.CommandQuery{Meter: meter(t, "T1", 9)}, nil},
		{"limit, newest first", storage.CommandQuery{Limit: 3}, all[:3]},
		{"limit inside a tie", storage.CommandQuery{Limit: 2}, all[:2]},
		{"limit with a filter", storage.CommandQuery{Limit: 3, Terminal: "T1"}, where(func(c storage.Command) bool { return c.Terminal == "T1" })[:3]},
		{"limit with open", storage.CommandQuery{Open: true, Limit: 2}, where(open)[:2]},
		{"limit above count", storage.CommandQuery{Limit: 100}, all},
		{"negative limit is the default", storage.CommandQuery{Limit: -1}, all},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantCommands(t, commands(t, s, tc.q), tc.want)
		})
	}
}

// testCommandsConcurrency: of concurrent reports on one command, exactly one brings it to a
// final state and the command ends in that report's state; of concurrent creations with
// one ID, exactly one succeeds.
func testCommandsConcurrency(t *testing.T, s storage.Store) {
	const cmds = 12
	finals := []string{storage.CommandSucceeded, storage.CommandFailed, storage.CommandRejected, storage.CommandExpired}
	reports := append([]string{storage.CommandAccepted, storage.CommandAccepted}, finals...)
	for i := range cmds {
		createCommand(t, s, newCommand(t, fmt.Sprintf("c%02d", i), "T1", 1, i))
	}
	type outcome struct {
		report  string // the reporter's state and number, also sent as Reason
		state   string
		got     storage.Command
		changed bool
		err     error
	}
	results := make([][]outcome, cmds)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range cmds {
		id := fmt.Sprintf("c%02d", i)
		for r, state := range reports {
			wg.Go(func() {
				reason := fmt.Sprintf("%s by reporter %d", state, r)
				got, changed, err := s.UpdateCommand(t.Context(), storage.CommandUpdate{ID: id, State: state, Reason: reason,
					Result: map[string]int64{"reporter": int64(r)}, At: base.Add(time.Duration(r) * time.Second)})
				mu.Lock()
				results[i] = append(results[i], outcome{reason, state, got, changed, err})
				mu.Unlock()
			})
		}
	}
	// Concurrent creations of one new ID.
	created := make([]error, 8)
	for k := range created {
		wg.Go(func() {
			c := newCommand(t, "dup", "T2", 1, k)
			c.IssuedBy = fmt.Sprintf("creator%d", k)
			created[k] = s.CreateCommand(t.Context(), c)
		})
	}
	wg.Wait()

	for i, outs := range results {
		id := fmt.Sprintf("c%02d", i)
		final := getCommand(t, s, id)
		var winners, acceptances int
		for _, o := range outs {
			if o.err != nil {
				t.Errorf("%s: UpdateCommand(%s): %v", id, o.report, o.err)
				continue
			}
			if o.changed {
				if o.got.State != o.state || o.got.Reason != o.report {
					t.Errorf("%s: report %q changed it but returned %s", id, o.report, showCommand(o.got))
				}
				if storage.CommandFinal(o.state) {
					winners++
					if final.State != o.state || final.Reason != o.report || final.Result["reporter"] != o.got.Result["reporter"] {
						t.Errorf("%s: report %q won, but the command ended as %s", id, o.report, showCommand(final))
					}
				} else {
					acceptances++
				}
			} else if o.got.ID != id || o.got.State == storage.CommandPending {
				t.Errorf("%s: report %q changed nothing but returned %s; want the command as it stood", id, o.report, showCommand(o.got))
			}
		}
		if winners != 1 || acceptances > 1 || !storage.CommandFinal(final.State) {
			t.Errorf("%s: %d reports won the final state and %d the acceptance, ended %s; want exactly one final winner, at most one acceptance",
				id, winners, acceptances, showCommand(final))
		}
	}
	var ok int
	for k, err := range created {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, storage.ErrExists):
			t.Errorf("CreateCommand(dup) %d: %v, want nil or ErrExists", k, err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent creations of one ID succeeded, want 1", ok)
	}
	if cs := commands(t, s, storage.CommandQuery{Terminal: "T2"}); len(cs) != 1 {
		t.Errorf("%d commands stored for the duplicated ID, want 1", len(cs))
	}
}
