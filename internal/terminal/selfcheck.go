package terminal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gridmeter/internal/acquisition"
	"gridmeter/internal/journal"
	"gridmeter/internal/message"
)

// openJournal opens the journal; a corrupt file is moved aside and a new journal started,
// so the terminal keeps acquiring (degraded: what the old file held unacknowledged is lost,
// and the check says so).
func openJournal(ctx context.Context, path string, opt journal.Options, log *slog.Logger) (*journal.Journal, message.Check, error) {
	j, err := journal.Open(ctx, path, opt)
	if errors.Is(err, journal.ErrCorrupt) {
		moved, qerr := journal.Quarantine(path)
		if qerr != nil {
			return nil, message.Check{}, fmt.Errorf("journal %s is corrupt (%v) and could not be moved aside: %w", path, err, qerr)
		}
		log.Error("journal corrupt: moved aside, starting a new journal; its unacknowledged readings are lost", "path", path, "moved_to", moved, "err", err)
		if j, err = journal.Open(ctx, path, opt); err != nil {
			return nil, message.Check{}, err
		}
		return j, message.Check{Name: "journal", OK: false,
			Detail: fmt.Sprintf("corrupt journal moved to %s (unacknowledged readings in it are lost); a new journal started", moved)}, nil
	}
	if err != nil {
		return nil, message.Check{}, err
	}
	st, err := j.Stats(ctx)
	if err != nil {
		j.Close()
		return nil, message.Check{}, err
	}
	return j, message.Check{Name: "journal", OK: true,
		Detail: fmt.Sprintf("%d entries, %d unacknowledged, last seq %d", st.Entries, st.Unacked, st.LastSeq)}, nil
}

// earliestPlausible is before any clock this software can meet honestly.
var earliestPlausible = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// checkClock judges the terminal's clock: before this software existed, or behind the
// journal's newest entry (set back, or lost on a box without a backed-up clock).
func checkClock(ctx context.Context, j *journal.Journal, now time.Time) message.Check {
	if now.Before(earliestPlausible) {
		return message.Check{Name: "clock", OK: false, Detail: fmt.Sprintf("clock reads %s: not set", now.UTC().Format(time.RFC3339))}
	}
	st, err := j.Stats(ctx)
	if err == nil && st.LastSeq > 0 {
		if es, err := j.Entries(ctx, st.LastSeq-1, 1); err == nil && len(es) == 1 {
			if behind := es[0].Appended.Sub(now); behind > time.Minute {
				return message.Check{Name: "clock", OK: false,
					Detail: fmt.Sprintf("clock is %s behind the journal's newest entry: it was set back", behind.Round(time.Second))}
			}
		}
	}
	return message.Check{Name: "clock", OK: true, Detail: now.UTC().Format(time.RFC3339)}
}

// prober is a bus that can check its meters.
type prober interface {
	// Probe asks one meter something cheap and says what it found (e.g. clock drift).
	Probe(ctx context.Context, address string) (string, error)
}

// selfCheck probes every bus (in parallel) and its meters (in turn: a bus is half-duplex).
// TCP buses are probed tcp_concurrency at a time, as they are polled: a thousand
// single-meter buses would otherwise all dial at once, each on a goroutine of its own.
func (t *Terminal) selfCheck(ctx context.Context) []message.Check {
	checks := []message.Check{t.journalCheck, checkClock(ctx, t.journal, time.Now())}
	perBus := make([][]message.Check, len(t.cfg.Buses))
	var wg sync.WaitGroup
	meters := t.cfg.Meters()
	n := t.currentPlan().acq.TCPConcurrency
	if n <= 0 {
		n = acquisition.DefaultRemoteConcurrency
	}
	tcp := make(chan struct{}, n)
	for i, b := range t.cfg.Buses {
		remote := b.DLT645Serial == nil
		if remote {
			select {
			case tcp <- struct{}{}:
			case <-ctx.Done():
				wg.Wait()
				return nil
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if remote {
				defer func() { <-tcp }()
			}
			p, ok := t.buses[i].(prober)
			if !ok {
				return
			}
			var out []message.Check
			answered, total := 0, 0
			for _, m := range meters {
				if m.Bus != b.Name {
					continue
				}
				total++
				pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				detail, err := p.Probe(pctx, m.Address)
				cancel()
				c := message.Check{Name: "meter " + string(m.ID), OK: err == nil, Detail: detail}
				if err != nil {
					c.Detail = truncate("faulty: "+err.Error(), 1024)
				} else {
					answered++
				}
				out = append(out, c)
			}
			bc := message.Check{Name: "bus " + b.Name, OK: answered > 0, Detail: fmt.Sprintf("%d of %d meters answered", answered, total)}
			perBus[i] = append([]message.Check{bc}, out...)
		}()
	}
	wg.Wait()
	for _, cs := range perBus {
		checks = append(checks, cs...)
	}
	return checks
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
