package drift_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/drift"
	"github.com/fedgo/fedgo/fl/model"
)

// stepTrainer returns a fixed delta, so that the benchmarks measure the
// exchange and the client's control-variate work, not training.
type stepTrainer struct{ delta []float64 }

func (s stepTrainer) TrainCorrected(_ context.Context, x []float64, _ fl.Config, _ []float64) (fl.Update, error) {
	return fl.Update{Delta: append([]float64(nil), s.delta...), Weight: 1, Metrics: fl.Metrics{model.KeySteps: 10, model.KeyStepLR: 0.1}}, nil
}

func (s stepTrainer) Train(ctx context.Context, x []float64, cfg fl.Config) (fl.Update, error) {
	return s.TrainCorrected(ctx, x, cfg, nil)
}

// BenchmarkExchange runs one round of 10 in-process clients at dimension
// d: SCAFFOLD (c out, Δy and Δc back, c_i in a MemoryStore) against the
// plain FedAvg exchange, its floor. Bytes are the dense parameters of one
// client.
func BenchmarkExchange(b *testing.B) {
	for _, d := range []int{1_000, 100_000} {
		delta := make([]float64, d)
		for j := range delta {
			delta[j] = float64(j%7) * 1e-3
		}
		x := make([]float64, d)
		for _, alg := range []string{"fedavg", "scaffold"} {
			b.Run(fmt.Sprintf("%s/d=%d", alg, d), func(b *testing.B) {
				store := &drift.MemoryStore{}
				var conns []fl.Conn
				for i := range 10 {
					id := fmt.Sprint(i)
					var h fl.Handler = fl.NewHandler(stepTrainer{delta}, nil)
					if alg == "scaffold" {
						h = &drift.ScaffoldClient{ID: id, Trainer: stepTrainer{delta}, Store: store}
					}
					conns = append(conns, conn{id, h})
				}
				var ex fl.Exchange = &fl.TrainExchange{}
				if alg == "scaffold" {
					ex = &drift.Scaffold{Clients: 10}
				}
				dst := make([]float64, d)
				b.SetBytes(int64(8 * d))
				b.ReportAllocs()
				for n := 1; b.Loop(); n++ {
					if _, err := ex.Run(context.Background(), fl.NewRound(n, x, nil, conns, nil), dst); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
