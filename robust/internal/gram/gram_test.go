package gram

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refAdd is the package doc's definition, written out pair by pair.
func refAdd(g, x []float64, n, w int) {
	for i := range n {
		for j := i; j < n; j++ {
			var l [4]float64
			for k := range w {
				p := float64(x[i*w+k] * x[j*w+k])
				l[k%4] += p
			}
			g[i*n+j] += (l[0] + l[1]) + (l[2] + l[3])
		}
	}
}

func randX(rng *rand.Rand, n, w int) []float64 {
	x := make([]float64, n*w)
	for i := range x {
		x[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(20)-10))
	}
	return x
}

// TestDefinition: both paths (AVX2 where the processor has it) equal the
// definition bit for bit over many shapes, accumulating onto a non-zero g.
func TestDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, portable := range []bool{true, false} {
		for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 13, 31} {
			for _, w := range []int{0, 4, 8, 12, 100, 512} {
				x := randX(rng, n, w)
				g0 := randX(rng, n, n)
				got, want := append([]float64(nil), g0...), append([]float64(nil), g0...)
				add(got, x, n, w, portable || !hasAVX2)
				refAdd(want, x, n, w)
				for i := range n {
					for j := i; j < n; j++ {
						if math.Float64bits(got[i*n+j]) != math.Float64bits(want[i*n+j]) {
							t.Fatalf("portable=%v n=%d w=%d: g[%d][%d] = %v, want %v", portable, n, w, i, j, got[i*n+j], want[i*n+j])
						}
					}
				}
			}
		}
	}
}

// TestPathsSameBits runs the AVX2 tiles and the portable loop on the same
// inputs and compares every bit.
func TestPathsSameBits(t *testing.T) {
	if !hasAVX2 {
		t.Skip("needs AVX2 (amd64 without the purego tag) to compare the tile kernel with the portable one")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 50 {
		n, w := 2+rng.IntN(40), 4*rng.IntN(200)
		x := randX(rng, n, w)
		a, b := make([]float64, n*n), make([]float64, n*n)
		add(a, x, n, w, false)
		add(b, x, n, w, true)
		for k := range a {
			if math.Float64bits(a[k]) != math.Float64bits(b[k]) {
				t.Fatalf("trial %d n=%d w=%d: entry %d: AVX2 %v, portable %v", trial, n, w, k, a[k], b[k])
			}
		}
	}
}
