package hier_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/hier"
)

// BenchmarkAggregate compares the exact fixed-point mean with fl.FedAvg
// (the float64 weighted mean) on the same updates; SetBytes counts the
// update bytes read once.
func BenchmarkAggregate(b *testing.B) {
	for _, n := range []int{10, 100} {
		for _, d := range []int{1000, 100000} {
			rng := rand.New(rand.NewPCG(1, 2))
			updates := make([]fl.Update, n)
			for i := range updates {
				delta := make([]float64, d)
				for j := range delta {
					delta[j] = rng.NormFloat64()
				}
				updates[i] = fl.Update{Client: fmt.Sprint(i), Delta: delta, Weight: float64(1 + i%9)}
			}
			dst := make([]float64, d)
			for _, agg := range []struct {
				name string
				a    fl.Aggregator
			}{{"fedavg", &fl.FedAvg{}}, {"exact", &hier.ExactFedAvg{}}} {
				b.Run(fmt.Sprintf("%s/n=%d/d=%d", agg.name, n, d), func(b *testing.B) {
					b.SetBytes(int64(8 * n * d))
					b.ReportAllocs()
					for range b.N {
						if err := agg.a.Aggregate(dst, updates); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
