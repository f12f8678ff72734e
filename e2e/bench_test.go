package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"gridmeter/internal/config"
	"gridmeter/internal/journal"
	"gridmeter/internal/meterdata"
	"gridmeter/internal/terminal"
)

// BenchmarkPipelineCarry measures what the slice carries: a real terminal drains a journal
// of readings (21 channels each, as a three-phase meter's instant reading) through the
// embedded broker into the head-end's SQLite store, every batch acknowledged after its
// commit. Reported: readings/s from the terminal's start until its journal is fully acked.
func BenchmarkPipelineCarry(b *testing.B) {
	const readings = 20000
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		h := startHeadEnd(b, ctx, dir, log, "B1", "ts")

		tcfg := terminal.Defaults()
		tcfg.ID, tcfg.JournalPath = "B1", filepath.Join(dir, "B1.journal")
		tcfg.MQTT = terminal.MQTTConfig{URL: h.MQTTURL(), Password: "ts"}
		tcfg.Acquisition.InstantInterval = config.Duration(time.Hour)
		// The bus points at a closed port: acquisition finds nothing, the journal is the load.
		tcfg.Buses = []terminal.BusConfig{{Name: "bus1", DLT645TCP: "127.0.0.1:1", Meters: []terminal.MeterConfig{{Address: "000000000001"}}}}
		fillJournal(b, tcfg.JournalPath, readings)

		t, err := terminal.New(ctx, tcfg, log)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		done := make(chan struct{})
		go func() { t.Run(ctx); close(done) }()
		for {
			st, err := t.Journal().Stats(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if st.Unacked == 0 {
				break
			}
			if time.Since(start) > 2*time.Minute {
				b.Fatalf("not drained after 2 minutes: %+v", st)
			}
			time.Sleep(5 * time.Millisecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		if got := h.Ingest().Stats().Inserted; got != readings {
			b.Fatalf("head-end inserted %d readings, want %d", got, readings)
		}
		b.ReportMetric(float64(readings)/elapsed.Seconds(), "readings/s")
		cancel()
		<-done
		h.Close()
	}
}

func fillJournal(b *testing.B, path string, n int) {
	b.Helper()
	j, err := journal.Open(context.Background(), path, journal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	batch := make([]meterdata.Reading, 0, 1000)
	for i := 0; i < n; i++ {
		vals := map[string]int64{}
		for _, c := range meterdata.Channels[:21] {
			vals[c.Name] = int64(220000 + i%1000)
		}
		id := meterdata.MeterID(fmt.Sprintf("B1.bus1.%012d", i%100+1))
		batch = append(batch, meterdata.Reading{Meter: id, Kind: meterdata.KindInstant, Time: base.Add(time.Duration(i/100) * time.Second), Values: vals})
		if len(batch) == cap(batch) || i == n-1 {
			if _, _, err := j.Append(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}
