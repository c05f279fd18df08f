package gram

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// refAdd is the package doc's definition, written out pair by pair, with
// each fused multiply-add computed by math/big independently of math.FMA:
// the exact product (106 bits hold it) plus the lane, rounded once to 53
// bits, to nearest even.
func refAdd(g, x []float64, n, w int) {
	for i := range n {
		for j := i; j < n; j++ {
			var l [4]float64
			for k := range w {
				l[k%4] = bigFMA(x[i*w+k], x[j*w+k], l[k%4])
			}
			g[i*n+j] += (l[0] + l[1]) + (l[2] + l[3])
		}
	}
}

// bigFMA returns a·b + c rounded once, for finite values whose result is
// normal or zero (randX's range: no underflow to subnormals).
func bigFMA(a, b, c float64) float64 {
	p := new(big.Float).SetPrec(106).Mul(big.NewFloat(a), big.NewFloat(b))
	s := new(big.Float).SetPrec(53).SetMode(big.ToNearestEven).Add(p, big.NewFloat(c))
	f, _ := s.Float64()
	if f == 0 {
		return a*b + c // the sign of an exact zero: +0 unless both terms are −0
	}
	return f
}

// TestBigFMA: the reference's fused multiply-add rounds once where two
// roundings differ (1 + 2⁻³⁰)² − 1 − 2⁻²⁹ = 2⁻⁶⁰ exactly, lost by a·b + c.
func TestBigFMA(t *testing.T) {
	a := 1 + math.Ldexp(1, -30)
	c := -(1 + math.Ldexp(1, -29))
	if got, want := bigFMA(a, a, c), math.Ldexp(1, -60); got != want {
		t.Fatalf("bigFMA = %g, want %g", got, want)
	}
	if got := float64(a*a) + c; got == math.Ldexp(1, -60) {
		t.Fatalf("a·a + c rounded the product away too: test does not discriminate (%g)", got)
	}
	if got := bigFMA(a, a, c); got != math.FMA(a, a, c) {
		t.Fatalf("bigFMA %g ≠ math.FMA %g", got, math.FMA(a, a, c))
	}
}

func randX(rng *rand.Rand, n, w int) []float64 {
	x := make([]float64, n*w)
	for i := range x {
		x[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(20)-10))
	}
	return x
}

// TestDefinition: both paths (AVX2+FMA where the processor has it) equal the
// definition bit for bit over many shapes (n < 4, n not a multiple of the
// 3×4 tile, so that the last tiles overlap), accumulating onto a non-zero g
// (an entry added twice or not at all fails), leaving the lower triangle.
func TestDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, portable := range []bool{true, false} {
		for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 31, 34} {
			for _, w := range []int{0, 4, 8, 12, 100, 512} {
				x := randX(rng, n, w)
				g0 := randX(rng, n, n)
				got, want := append([]float64(nil), g0...), append([]float64(nil), g0...)
				add(got, x, n, w, portable || !hasFMA, nil, 0, 0)
				refAdd(want, x, n, w)
				for i := range n {
					for j := range i { // below the diagonal: untouched
						if math.Float64bits(got[i*n+j]) != math.Float64bits(g0[i*n+j]) {
							t.Fatalf("portable=%v n=%d w=%d: g[%d][%d] changed below the diagonal", portable, n, w, i, j)
						}
					}
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
	if !hasFMA {
		t.Skip("needs AVX2 and FMA (amd64 without the purego tag) to compare the tile kernel with the portable one")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 50 {
		n, w := 2+rng.IntN(40), 4*rng.IntN(200)
		x := randX(rng, n, w)
		a, b := make([]float64, n*n), make([]float64, n*n)
		add(a, x, n, w, false, nil, 0, 0)
		add(b, x, n, w, true, nil, 0, 0)
		for k := range a {
			if math.Float64bits(a[k]) != math.Float64bits(b[k]) {
				t.Fatalf("trial %d n=%d w=%d: entry %d: FMA kernel %v, portable %v", trial, n, w, k, a[k], b[k])
			}
		}
	}
}

// TestAddPrefetch: asking for the next block changes no bit, whatever the
// rows' lengths and offsets, and a row too short for the request panics
// instead of being read past its end.
func TestAddPrefetch(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := range 20 {
		n, w := 1+rng.IntN(30), 4*rng.IntN(70)
		x := randX(rng, n, w)
		next := make([][]float64, rng.IntN(40))
		off, nw := rng.IntN(9), rng.IntN(300)
		for i := range next {
			next[i] = randX(rng, 1, off+nw+rng.IntN(3))
		}
		a, b := make([]float64, n*n), make([]float64, n*n)
		Add(a, x, n, w)
		AddPrefetch(b, x, n, w, next, off, nw)
		for k := range a {
			if math.Float64bits(a[k]) != math.Float64bits(b[k]) {
				t.Fatalf("trial %d n=%d w=%d: entry %d: with prefetch %v, without %v", trial, n, w, k, b[k], a[k])
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("AddPrefetch read past a short row without panicking")
		}
	}()
	AddPrefetch(make([]float64, 16), randX(rng, 4, 8), 4, 8, [][]float64{make([]float64, 10)}, 4, 8)
}
