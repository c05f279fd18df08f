package fl_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport"
)

// zeroTrainer returns a zero delta at once: what remains is the engine.
type zeroTrainer struct{}

func (zeroTrainer) Train(_ context.Context, global []float64, _ fl.Config) (fl.Update, error) {
	return fl.Update{Delta: make([]float64, len(global)), Weight: 1}, nil
}

// BenchmarkEngineRound measures one round of 10 sampled clients over
// populations of 10^4 to 10^6 idle clients: the round's cost must not grow
// with the population. idle_B/client is the heap the population holds per
// client (the pool's sorted ids; connections are made on demand).
func BenchmarkEngineRound(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			h := fl.NewHandler(zeroTrainer{}, nil)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			ids := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprintf("c%07d", i)
			}
			pool, err := transport.NewMemory(transport.MemoryConfig{IDs: ids, Factory: func(string) (fl.Handler, error) { return h, nil }})
			if err != nil {
				b.Fatal(err)
			}
			ids = nil
			runtime.GC()
			runtime.ReadMemStats(&after)
			idle := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(n)
			cfg := fl.DefaultServerConfig()
			cfg.Rounds, cfg.ClientsPerRound, cfg.Seed = 1<<30, 10, 1
			s, err := fl.NewServer(cfg, pool, make([]float64, 10))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.RunRound(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(idle, "idle_B/client")
			runtime.KeepAlive(pool)
		})
	}
}
