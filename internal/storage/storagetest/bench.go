package storagetest

import (
	"fmt"
	"testing"
	"time"

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// BenchBatchSize is how many readings each batch of BenchStoreBatch carries.
const BenchBatchSize = 1000

// benchChannels are the 15 channels of a typical three-phase instant reading.
var benchChannels = []string{"u_a", "u_b", "u_c", "i_a", "i_b", "i_c", "p", "p_a", "p_b", "p_c", "q", "pf", "f", "e_imp", "e_exp"}

// BenchStoreBatch measures StoreBatch on s with batches of 1,000 new instant readings of 15
// channels (50 meters times 20 slots) and reports readings/s, timing StoreBatch alone. s
// should be empty and is filled with b.N batches.
func BenchStoreBatch(b *testing.B, s storage.Store) {
	b.Helper()
	const meters, slots = 50, BenchBatchSize / 50
	ids := make([]meterdata.MeterID, meters)
	for i := range ids {
		id, err := meterdata.NewMeterID("B1", "rs485-1", fmt.Sprintf("%012d", i+1))
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = id
	}
	makeBatch := func(n int) storage.Batch {
		rs := make([]meterdata.Reading, 0, BenchBatchSize)
		for j := range slots {
			si := n*slots + j
			at := base.Add(time.Duration(si) * slot)
			for k, id := range ids {
				v := make(map[string]int64, len(benchChannels))
				for c, name := range benchChannels {
					v[name] = int64(si)*1_000_003 + int64(k)*7_919 + int64(c)*104_729
				}
				rs = append(rs, meterdata.Reading{Meter: id, Kind: meterdata.KindInstant, Time: at, Values: v})
			}
		}
		first := uint64(n*BenchBatchSize + 1)
		return storage.Batch{Terminal: "B1", FirstSeq: first, LastSeq: first + BenchBatchSize - 1, Readings: rs}
	}
	b.ReportAllocs()
	var stored time.Duration
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		bt := makeBatch(n)
		b.StartTimer()
		start := time.Now()
		res, err := s.StoreBatch(b.Context(), bt)
		stored += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if res.Inserted != BenchBatchSize {
			b.Fatalf("batch %d: %+v, want %d inserted", n, res, BenchBatchSize)
		}
	}
	b.ReportMetric(float64(b.N*BenchBatchSize)/stored.Seconds(), "readings/s")
}

// BenchCommands measures a command's life as the head-end drives it: CreateCommand, then
// UpdateCommand to accepted and to succeeded, and reports commands/s. s should be empty.
func BenchCommands(b *testing.B, s storage.Store) {
	b.Helper()
	m, err := meterdata.NewMeterID("B1", "rs485-1", "000000000001")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	start := time.Now()
	for n := 0; b.Loop(); n++ {
		c := storage.Command{ID: fmt.Sprintf("bench%d", n), Terminal: "B1", Meter: m, Action: "relay_open", IssuedBy: "bench",
			Params: map[string]string{"delay_s": "0"}, Issued: base.Add(time.Duration(n) * time.Millisecond)}
		c.Expires = c.Issued.Add(time.Hour)
		if err := s.CreateCommand(b.Context(), c); err != nil {
			b.Fatal(err)
		}
		for _, state := range []string{storage.CommandAccepted, storage.CommandSucceeded} {
			if _, changed, err := s.UpdateCommand(b.Context(), storage.CommandUpdate{ID: c.ID, State: state, Result: map[string]int64{"status3": 0}}); err != nil || !changed {
				b.Fatalf("UpdateCommand(%s to %s) = %t, %v", c.ID, state, changed, err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commands/s")
}
