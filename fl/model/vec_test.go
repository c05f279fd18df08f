package model

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestVecFastEqualsGo compares the kernels the models run on (gonum's
// assembly on amd64) with their portable definitions, bit for bit, on
// random vectors of every length up to 40 and a few long ones, with values
// spread over many magnitudes so that the order of the additions shows.
func TestVecFastEqualsGo(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the fast path is amd64's (SSE2); elsewhere axpy and dot are the portable code")
	}
	rng := rand.New(rand.NewPCG(7, 7))
	val := func() float64 { return rng.NormFloat64() * math.Pow(10, float64(rng.IntN(17)-8)) }
	for _, n := range append([]int{1000, 1001, 1002, 1003, 4099}, seq(41)...) {
		x := make([]float64, n)
		y := make([]float64, n)
		for i := range x {
			x[i], y[i] = val(), val()
		}
		if got, want := dot(x, y), dotGo(x, y); math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("n=%d: dot %v, dotGo %v", n, got, want)
		}
		alpha := val()
		y1 := append([]float64(nil), y...)
		y2 := append([]float64(nil), y...)
		axpy(alpha, x, y1)
		axpyGo(alpha, x, y2)
		for i := range y1 {
			if math.Float64bits(y1[i]) != math.Float64bits(y2[i]) {
				t.Fatalf("n=%d: axpy[%d] %v, axpyGo %v", n, i, y1[i], y2[i])
			}
		}
	}
}

// TestDotGoOrder: the partial sums show when they cancel. For
// x = (1, 1e16, 1, −1e16, 1)·1 the partial sums are s₀ = 1 + 1 (the fifth
// product joins s₀), s₁ = 1e16, s₂ = 1, s₃ = −1e16, so the dot is
// (2 + 1) + 0 = 3; added in order, 1 + 1e16 rounds to 1e16 (half-way, to
// even) and so does the next + 1, so the sum is 1.
func TestDotGoOrder(t *testing.T) {
	x := []float64{1, 1e16, 1, -1e16, 1}
	if got := dotGo(x, []float64{1, 1, 1, 1, 1}); got != 3 {
		t.Errorf("dotGo = %v, want 3", got)
	}
	if got := sum(x); got != 1 {
		t.Errorf("sum = %v, want 1", got)
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}
