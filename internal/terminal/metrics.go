package terminal

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// writeMetrics writes the terminal's metrics in the Prometheus text format: acquisition
// (reads, failures and last good read per meter, cycles, overruns), journal (size, queue
// depth = unacknowledged entries, drops) and uplink counters. Values are read at scrape time.
func (t *Terminal) writeMetrics(w io.Writer) {
	s := metrics.NewSet()
	st := t.Stats()
	counter := func(name string, v uint64) { s.NewCounter(name).Set(v) }
	counter("gridmeter_terminal_reads_total", st.Acquisition.Reads)
	counter("gridmeter_terminal_read_failures_total", st.Acquisition.Failures)
	counter("gridmeter_terminal_cycles_total", st.Acquisition.Cycles)
	counter("gridmeter_terminal_overruns_total", st.Acquisition.Overruns)
	counter("gridmeter_terminal_frozen_readings_total", st.Acquisition.Frozen)
	counter("gridmeter_terminal_frozen_gaps_total", st.Acquisition.FrozenGaps)
	counter("gridmeter_terminal_counter_faults_total", st.Acquisition.CounterFaults)
	counter("gridmeter_terminal_settlement_readings_total", st.Acquisition.Settlements)
	counter("gridmeter_terminal_settlement_gaps_total", st.Acquisition.SettlementGaps)
	counter("gridmeter_terminal_profile_backfilled_total", st.Acquisition.ProfileBackfilled)
	counter("gridmeter_terminal_profile_gap_slots_total", st.Acquisition.ProfileGaps)
	counter("gridmeter_terminal_status_readings_total", st.Acquisition.Statuses)
	s.NewGauge("gridmeter_terminal_last_cycle_seconds", func() float64 { return st.Acquisition.LastCycle.Seconds() })
	counter("gridmeter_terminal_published_total", st.Uplink.Published)
	counter("gridmeter_terminal_acked_total", st.Uplink.Acked)
	counter("gridmeter_terminal_rejected_batches_total", st.Uplink.Rejected)
	counter("gridmeter_terminal_resends_total", st.Uplink.Resends)
	counter("gridmeter_terminal_commands_received_total", st.CommandsReceived)
	counter("gridmeter_terminal_commands_done_total", st.CommandsDone)
	counter("gridmeter_terminal_commands_rejected_total", st.CommandsRejected)
	counter("gridmeter_terminal_commands_dropped_total", st.CommandsDropped)
	counter("gridmeter_terminal_plans_rejected_total", st.PlansRejected)
	planVersion := float64(t.currentPlan().version())
	s.NewGauge("gridmeter_terminal_plan_version", func() float64 { return planVersion })
	s.NewGauge("gridmeter_terminal_batches_in_flight", func() float64 { return float64(st.Uplink.InFlight) })
	connected := 0.0
	if t.conn != nil && t.conn.Connected() {
		connected = 1
	}
	s.NewGauge("gridmeter_terminal_mqtt_connected", func() float64 { return connected })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if js, err := t.journal.Stats(ctx); err == nil {
		s.NewGauge("gridmeter_terminal_journal_entries", func() float64 { return float64(js.Entries) })
		s.NewGauge("gridmeter_terminal_queue_depth", func() float64 { return float64(js.Unacked) })
		s.NewGauge("gridmeter_terminal_journal_bytes", func() float64 { return float64(js.Bytes) })
		counter("gridmeter_terminal_journal_dropped_total", js.Dropped)
	}
	sched := t.scheduler()
	for _, m := range t.currentPlan().meters {
		ms, ok := sched.Meter(m.ID)
		if !ok {
			continue
		}
		label := fmt.Sprintf(`{meter=%q}`, string(m.ID))
		counter("gridmeter_terminal_meter_failures_total"+label, ms.Failures)
		if !ms.LastGood.IsZero() {
			last := float64(ms.LastGood.UnixMilli()) / 1000
			s.NewGauge("gridmeter_terminal_meter_last_good_read_timestamp_seconds"+label, func() float64 { return last })
		}
	}
	s.WritePrometheus(w)
}
