package terminal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gridmeter/internal/acquisition"
	"gridmeter/internal/journal"
	"gridmeter/internal/message"
	"gridmeter/internal/transport"
)

// Commands run in their own goroutine group, apart from the uplink (the seed's two threads):
//
//   - the receiver takes commands off the MQTT client (a bounded hand-off: the client's
//     reader never blocks), decodes them strictly, makes each durable in the journal and
//     answers "accepted", or "rejected" with the reason for a malformed one. A command it
//     has already (the head-end re-sends until it has the final result) is answered with
//     its current state and not run again;
//   - the executor runs the journal's open commands in the order received, each on its
//     meter's bus ahead of the polls (acquisition.Scheduler.Exec), makes the final state
//     durable, then publishes it. A command found past its expiry is not run: expired.
//
// A command open when the terminal stops is run after the restart (or expires). A command
// cut off mid-run by a crash runs again: every action is idempotent at the meter (a relay
// trip on an open relay, a freeze, a time sync, a read).

// commandBus is what a bus offers beyond reading for the head-end's commands (DL/T 645).
type commandBus interface {
	Relay(ctx context.Context, address string, open bool, validUntil time.Time) (status3 int64, err error)
	TimeSync(ctx context.Context, address string) (driftBefore time.Duration, err error)
	Freeze(ctx context.Context, address string) error
	SetParam(ctx context.Context, address, name, value string) error
}

// Command timing.
const (
	commandQueue   = 64               // received commands waiting to be journaled
	commandTimeout = 2 * time.Minute  // the longest one command may run
	commandRecheck = 10 * time.Second // open commands are looked at this often (expiry)
)

// onCommand hands a received command to the receiver without blocking the MQTT reader; a
// full queue drops it (counted): the head-end sends it again.
func (t *Terminal) onCommand(payload []byte) {
	select {
	case t.cmdIn <- payload:
	default:
		t.cmdDropped.Add(1)
		t.log.Warn("command queue full: command dropped, the head-end will re-send it")
	}
}

// receiveCommands journals and answers received commands until ctx ends.
func (t *Terminal) receiveCommands(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case p := <-t.cmdIn:
			t.receiveCommand(ctx, p)
		}
	}
}

func (t *Terminal) receiveCommand(ctx context.Context, p []byte) {
	c, err := message.DecodeCommand(t.cfg.ID, p)
	if err != nil {
		t.cmdRejected.Add(1)
		t.log.Warn("command refused", "err", err)
		if c.ID != "" { // the id was readable: tell the head-end which command and why
			t.publishResult(ctx, message.CommandResult{ID: c.ID, State: message.CmdRejected, Reason: err.Error(), Time: message.Time{Time: time.Now()}})
		}
		return
	}
	kept, added, err := t.journal.AddCommand(ctx, journal.Command{ID: c.ID, Meter: c.Meter, Action: c.Action, Params: c.Params,
		Issued: c.Issued.Time, Expires: c.Expires.Time})
	if err != nil {
		// Not durable, so not accepted: the head-end's next re-send tries again.
		t.log.Error("command not journaled", "id", c.ID, "err", err)
		return
	}
	if added {
		t.cmdReceived.Add(1)
		t.log.Info("command accepted", "id", c.ID, "meter", c.Meter, "action", c.Action)
		select {
		case t.cmdWake <- struct{}{}:
		default:
		}
	}
	t.publishResult(ctx, resultOf(kept))
}

// resultOf is the report of a kept command's current state.
func resultOf(c journal.Command) message.CommandResult {
	return message.CommandResult{ID: c.ID, Meter: c.Meter, Action: c.Action, State: c.State, Reason: c.Reason,
		Time: message.Time{Time: c.Updated}, Values: c.Values}
}

// publishResult publishes a command's state, QoS 1; while disconnected it is not sent (the
// head-end's re-send of the command brings the answer again).
func (t *Terminal) publishResult(ctx context.Context, r message.CommandResult) {
	r.Terminal = t.cfg.ID
	p, err := r.Encode()
	if err != nil {
		t.log.Error("command result not encoded", "id", r.ID, "err", err)
		return
	}
	if !t.conn.Connected() {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := t.conn.Publish(pctx, transport.Message{Topic: message.Topic(t.cfg.ID, message.UpCmdResult), Payload: p, QoS: 1}); err != nil {
		t.log.Warn("command result not published; the head-end's re-send brings it again", "id", r.ID, "err", err)
	}
}

// executeCommands runs open commands until ctx ends.
func (t *Terminal) executeCommands(ctx context.Context) error {
	tick := time.NewTicker(commandRecheck)
	defer tick.Stop()
	for {
		open, err := t.journal.OpenCommands(ctx)
		if err != nil && ctx.Err() == nil {
			t.log.Error("open commands not read", "err", err)
		}
		for _, c := range open {
			if ctx.Err() != nil {
				return nil
			}
			t.execute(ctx, c)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.cmdWake:
		case <-tick.C:
		}
	}
}

// execute runs one command, records its final state and publishes it.
func (t *Terminal) execute(ctx context.Context, c journal.Command) {
	state, reason, values := message.CmdSucceeded, "", map[string]int64(nil)
	if !time.Now().Before(c.Expires) {
		state, reason = message.CmdExpired, fmt.Sprintf("not executed before its expiry %s", c.Expires.Format(time.RFC3339))
	} else {
		deadline := time.Now().Add(commandTimeout)
		if c.Expires.Before(deadline) {
			deadline = c.Expires
		}
		cctx, cancel := context.WithDeadline(ctx, deadline)
		var err error
		values, err = t.run(cctx, c)
		expired := cctx.Err() != nil && ctx.Err() == nil
		cancel()
		switch {
		case ctx.Err() != nil:
			return // stopping: the command stays open and runs after the restart
		case err != nil && expired:
			state, reason = message.CmdFailed, fmt.Sprintf("ran out of time (expiry or %s): %v", commandTimeout, err)
		case err != nil:
			state, reason = message.CmdFailed, err.Error()
		}
	}
	kept, err := t.journal.FinishCommand(ctx, c.ID, state, reason, values)
	if err != nil {
		t.log.Error("command result not journaled", "id", c.ID, "err", err)
		return
	}
	t.cmdDone.Add(1)
	t.log.Info("command done", "id", c.ID, "meter", c.Meter, "action", c.Action, "state", kept.State, "reason", kept.Reason)
	t.publishResult(ctx, resultOf(kept))
}

// run carries out a command on its meter's bus, ahead of the polls.
func (t *Terminal) run(ctx context.Context, c journal.Command) (map[string]int64, error) {
	_, _, address, err := c.Meter.Parts()
	if err != nil {
		return nil, err
	}
	var values map[string]int64
	fn := func(ctx context.Context, r acquisition.MeterReader) error {
		if c.Action == message.ActionReadNow {
			vs, err := r.ReadInstant(ctx, address)
			values = vs
			return err
		}
		cb, ok := r.(commandBus)
		if !ok {
			return fmt.Errorf("action %s: not supported on this bus (Modbus meters take read_now only)", c.Action)
		}
		switch c.Action {
		case message.ActionRelayOpen, message.ActionRelayClose:
			s3, err := cb.Relay(ctx, address, c.Action == message.ActionRelayOpen, c.Expires)
			values = map[string]int64{"status3": s3}
			return err
		case message.ActionTimeSync:
			d, err := cb.TimeSync(ctx, address)
			values = map[string]int64{"drift_ms": d.Milliseconds()}
			return err
		case message.ActionFreeze:
			return cb.Freeze(ctx, address)
		case message.ActionSetParam:
			return cb.SetParam(ctx, address, c.Params["param"], c.Params["value"])
		}
		return fmt.Errorf("action %q: unknown", c.Action)
	}
	// The scheduler is replaced when a new plan is applied: try the new one.
	for {
		err = t.scheduler().Exec(ctx, c.Meter, fn)
		if !errors.Is(err, acquisition.ErrStopped) {
			return values, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
