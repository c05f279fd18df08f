package gram

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkAdd: the Gram matrix of 100 rows of 256 values, the size of one
// block of robust's pairwise distances at n = 100.
func BenchmarkAdd(b *testing.B) {
	for _, portable := range []bool{false, true} {
		name := "avx2fma"
		if portable || !hasFMA {
			name = "portable"
		}
		b.Run(name, func(b *testing.B) {
			x := randX(rand.New(rand.NewPCG(1, 1)), 100, 256)
			g := make([]float64, 100*100)
			b.SetBytes(8 * 100 * 256)
			b.ReportAllocs()
			start := processCPU()
			for b.Loop() {
				add(g, x, 100, 256, portable || !hasFMA, nil, 0, 0)
			}
			b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}
