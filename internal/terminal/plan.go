package terminal

import (
	"context"
	"fmt"
	"time"

	"gridmeter/internal/acquisition"
	"gridmeter/internal/config"
	"gridmeter/internal/message"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/transport"
)

// The acquisition plan the head-end pushes (message.Plan, retained on down/config) replaces
// the polling intervals and the meter lists of the terminal's buses; the buses themselves
// stay as configured locally. A newer version is applied without a restart: the scheduler
// is stopped between two reads and a new one started over the same bus connections; the
// journal (and so the break point of every meter) is untouched, so nothing is read twice
// or skipped. The plan in force is kept in the journal and applies again after a restart.
// The outcome is reported, retained, on up/config, and the version runs in the status.

// planSetting is the journal setting holding the plan in force (its JSON as received).
const planSetting = "plan"

// plan is a plan in force: the document, and the settings it yields.
type plan struct {
	msg    *message.Plan // nil: the terminal's own configuration
	acq    AcquisitionConfig
	meters []meterdata.Meter // the inventory: every meter, active or not
	polled map[string][]meterdata.Meter
}

// version is the plan's version, 0 for the terminal's own configuration.
func (p *plan) version() int64 {
	if p.msg == nil {
		return 0
	}
	return p.msg.Version
}

// localPlan is the terminal's own configuration as a plan.
func (c *Config) localPlan() *plan {
	p := &plan{acq: c.Acquisition, meters: c.Meters(), polled: map[string][]meterdata.Meter{}}
	for _, m := range p.meters {
		p.polled[m.Bus] = append(p.polled[m.Bus], m)
	}
	return p
}

// applyPlan checks a received plan against the terminal's buses and returns what it yields.
func (c *Config) applyPlan(m message.Plan) (*plan, error) {
	p := c.localPlan()
	p.msg = &m
	iv := m.Intervals()
	set := func(has bool, d time.Duration, dst *config.Duration) {
		if has {
			*dst = config.Duration(d)
		}
	}
	set(iv.HasInstant, iv.Instant, &p.acq.InstantInterval)
	set(iv.HasDailyFrozen, iv.DailyFrozen, &p.acq.DailyFrozenInterval)
	set(iv.HasSettle, iv.Settlement, &p.acq.SettlementInterval)
	set(iv.HasStat, iv.Status, &p.acq.StatusInterval)
	if d := p.acq.InstantInterval.D(); d > 24*time.Hour {
		return nil, fmt.Errorf("plan v%d: acquisition.instant_interval %s: want at most 24h", m.Version, d)
	}
	if m.Meters == nil {
		return p, nil
	}
	buses := map[string]BusConfig{}
	for _, b := range c.Buses {
		buses[b.Name] = b
	}
	p.meters, p.polled = nil, map[string][]meterdata.Meter{}
	for i, pm := range m.Meters {
		b, ok := buses[pm.Bus]
		if !ok {
			return nil, fmt.Errorf("plan v%d: meters[%d].bus %q: not a bus of this terminal", m.Version, i, pm.Bus)
		}
		if err := b.checkAddress(pm.Address); err != nil {
			return nil, fmt.Errorf("plan v%d: meters[%d].%w (bus %s)", m.Version, i, err, pm.Bus)
		}
		id, _ := meterdata.NewMeterID(c.ID, pm.Bus, pm.Address) // checked by message.ValidatePlan
		mt := meterdata.Meter{ID: id, Terminal: c.ID, Bus: pm.Bus, Address: pm.Address, Protocol: b.protocol(), Description: pm.Description}
		p.meters = append(p.meters, mt)
		if pm.State != message.MeterInactive {
			if p.polled[pm.Bus] = append(p.polled[pm.Bus], mt); len(p.polled[pm.Bus]) > 255 {
				return nil, fmt.Errorf("plan v%d: bus %s: more than 255 active meters", m.Version, pm.Bus)
			}
		}
	}
	return p, nil
}

// newScheduler builds a scheduler polling the plan's meters over the terminal's buses.
func (t *Terminal) newScheduler(p *plan) (*acquisition.Scheduler, error) {
	var buses []acquisition.Bus
	for i, b := range t.cfg.Buses {
		ab := acquisition.Bus{Name: b.Name, Reader: t.buses[i], Remote: b.DLT645Serial == nil, Meters: p.polled[b.Name]}
		if b.ModbusTCP == "" {
			ab.RegisterWrap = acquisition.RegisterWrap // DL/T 645 XXXXXX.XX kWh registers
		}
		buses = append(buses, ab)
	}
	return acquisition.New(buses, t.journal, acquisition.Options{Interval: p.acq.InstantInterval.D(), Logger: t.log,
		FrozenInterval: p.acq.DailyFrozenInterval.D(), FirstFrozen: p.acq.FirstFrozenDays,
		RemoteConcurrency: p.acq.TCPConcurrency,
		Memory: acquisition.MemoryOptions{SettlementInterval: p.acq.SettlementInterval.D(), FirstSettlements: p.acq.FirstSettlements,
			LoadProfileDepth: p.acq.LoadProfileDepth.D(), LoadProfilePeriod: p.acq.LoadProfilePeriod.D(),
			StatusInterval: p.acq.StatusInterval.D()},
		OnAppended: func() {
			if up := t.up; up != nil {
				up.Wake()
			}
		}})
}

// scheduler returns the scheduler in force.
func (t *Terminal) scheduler() *acquisition.Scheduler {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sched
}

// currentPlan returns the plan in force.
func (t *Terminal) currentPlan() *plan {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.plan
}

// loadPlan returns the plan kept in the journal, or the local configuration if there is
// none or it no longer fits the local configuration (a bus removed).
func (t *Terminal) loadPlan(ctx context.Context) *plan {
	b, ok, err := t.journal.Setting(ctx, planSetting)
	if err != nil {
		t.log.Error("plan in force not read: running the local configuration", "err", err)
	}
	if !ok {
		return t.cfg.localPlan()
	}
	m, err := message.DecodePlan(t.cfg.ID, b)
	var p *plan
	if err == nil {
		p, err = t.cfg.applyPlan(m)
	}
	if err != nil {
		t.log.Error("kept plan does not fit this configuration: running the local configuration", "err", err)
		return t.cfg.localPlan()
	}
	return p
}

// onPlan hands a received plan to the plan goroutine; only the newest waiting one matters.
func (t *Terminal) onPlan(payload []byte) {
	for {
		select {
		case t.planIn <- payload:
			return
		default:
		}
		select {
		case <-t.planIn: // drop the older one waiting
		default:
		}
	}
}

// receivePlans applies received plans until ctx ends.
func (t *Terminal) receivePlans(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case b := <-t.planIn:
			t.receivePlan(ctx, b)
		}
	}
}

func (t *Terminal) receivePlan(ctx context.Context, b []byte) {
	cur := t.currentPlan()
	report := message.ConfigReport{Applied: cur.version(), Time: message.Time{Time: time.Now()}}
	m, err := message.DecodePlan(t.cfg.ID, b)
	var p *plan
	if err == nil {
		if m.Version <= cur.version() {
			// Already in force (the retained plan again after a reconnect) or older.
			report.Version, report.State = cur.version(), message.ConfigApplied
			t.publishConfig(ctx, report)
			return
		}
		p, err = t.cfg.applyPlan(m)
	}
	if err == nil {
		var s *acquisition.Scheduler
		if s, err = t.newScheduler(p); err == nil {
			if err = t.journal.SetSetting(ctx, planSetting, b); err != nil {
				t.log.Error("plan not kept in the journal: not applied", "version", m.Version, "err", err)
				return // not reported: the retained plan comes again after a reconnect
			}
			t.mu.Lock()
			t.plan, t.nextSched = p, s // acquire swaps the scheduler once the old one stopped
			t.mu.Unlock()
			select {
			case t.replan <- struct{}{}:
			default:
			}
			t.log.Info("acquisition plan applied", "version", m.Version, "interval", p.acq.InstantInterval.D(), "meters", len(p.meters))
			report.Applied, report.Version, report.State = m.Version, m.Version, message.ConfigApplied
			t.publishConfig(ctx, report)
			t.announce(ctx) // the inventory and the status carry the new plan
			return
		}
	}
	t.plansRejected.Add(1)
	t.log.Warn("acquisition plan refused", "version", m.Version, "err", err)
	report.Version, report.State, report.Error = m.Version, message.ConfigRejected, err.Error()
	t.publishConfig(ctx, report)
}

// publishConfig publishes the plan report, retained.
func (t *Terminal) publishConfig(ctx context.Context, r message.ConfigReport) {
	r.Terminal = t.cfg.ID
	p, _ := r.Encode()
	if !t.conn.Connected() {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := t.conn.Publish(pctx, transport.Message{Topic: message.Topic(t.cfg.ID, message.UpConfig), Payload: p, QoS: 1, Retain: true}); err != nil {
		t.log.Warn("plan report not published", "version", r.Version, "err", err)
	}
}

// acquire runs the scheduler in force, replacing it when a new plan is applied.
func (t *Terminal) acquire(ctx context.Context) error {
	for {
		s := t.scheduler()
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = s.Run(sctx)
		}()
		select {
		case <-ctx.Done():
			cancel()
			<-done
			return nil
		case <-t.replan:
			cancel()
			<-done
			t.mu.Lock()
			t.pastStats = t.pastStats.Plus(s.Stats()) // counters continue across plans
			if t.nextSched != nil {
				t.sched, t.nextSched = t.nextSched, nil
			}
			t.mu.Unlock()
		}
	}
}
