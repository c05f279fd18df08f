package fedround_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/secagg/fedround"
	"github.com/fedgo/fedgo/transport"
)

// BenchmarkRound: one secure round (train with a constant trainer, all
// protocol steps, unmasking) over the in-memory transport, SecAgg+
// parameters from the search. Bytes are the clients' float64 deltas
// aggregated (8·n·d); up_B/client is the wire bytes a client sends.
func BenchmarkRound(b *testing.B) {
	for _, n := range []int{10, 50} {
		for _, d := range []int{1000, 10000} {
			b.Run(fmt.Sprintf("n=%d/d=%d", n, d), func(b *testing.B) {
				ids := make([]string, n)
				states := map[string]*fedround.ClientState{}
				for i := range ids {
					ids[i] = fmt.Sprintf("c%03d", i)
					states[ids[i]] = &fedround.ClientState{}
				}
				pool, err := transport.NewMemory(transport.MemoryConfig{
					IDs: ids,
					Factory: func(id string) (fl.Handler, error) {
						cfg := fedround.ClientConfig{Rand: rand.NewChaCha8([32]byte{id[1], id[2], id[3]})}
						return fl.Wrap(fl.NewHandler(constTrainer(0.01), nil), fedround.Middleware(states[id], cfg)), nil
					},
				})
				if err != nil {
					b.Fatal(err)
				}
				cfg := fedround.DefaultConfig()
				cfg.Rand = seeded(1)
				wf, err := fedround.New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				params := make([]float64, d)
				dst := make([]float64, d)
				b.SetBytes(int64(8 * n * d))
				b.ReportAllocs()
				up0, _ := pool.Traffic()
				for i := 0; b.Loop(); i++ {
					rc := fl.NewRound(i+1, params, fl.Config{}, fl.Reachable(pool), nil)
					if _, err := wf.Run(context.Background(), rc, dst); err != nil {
						b.Fatal(err)
					}
				}
				up1, _ := pool.Traffic()
				b.ReportMetric(float64(up1-up0)/float64(b.N*n), "up_B/client")
			})
		}
	}
}
