package journal

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"gridmeter/internal/meterdata"
)

// BenchmarkAppend measures durable appends (synchronous=FULL: one WAL fsync per batch) of
// readings with 15 channels, in batches of 1 and of 100.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			ctx := context.Background()
			j, err := Open(ctx, filepath.Join(b.TempDir(), "journal.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			batch := make([]meterdata.Reading, size)
			n := 0
			b.ResetTimer()
			for b.Loop() {
				for k := range batch {
					batch[k] = reading(meterA, n, int64(n))
					n++
				}
				if _, _, err := j.Append(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "readings/s")
		})
	}
}
