package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestPool2MatchesGeneral: the unrolled 2×2 max-pool gives the values and
// argmax indices of the general loop — ties (the first wins), zeros of
// both signs, ±Inf and NaN among the inputs — for strides 1, 2 and 3.
func TestPool2MatchesGeneral(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	pick := []float64{0, math.Copysign(0, -1), 1, 1, -1, math.Inf(1), math.Inf(-1), math.NaN(), 2.5}
	for _, in := range []Shape{{1, 2, 2}, {1, 5, 7}, {1, 24, 24}, {1, 9, 4}} {
		for _, stride := range []int{1, 2, 3} {
			l := MaxPool2D{Size: 2, Stride: stride}
			if _, err := l.OutShape(in); err != nil {
				continue
			}
			k := l.newKernel(in, 1).(*poolKernel)
			src := make([]float64, in.H*in.W)
			for i := range src {
				src[i] = pick[rng.IntN(len(pick))]
			}
			n := k.oh * k.ow
			d1, d2 := make([]float64, n), make([]float64, n)
			a1, a2 := make([]int32, n), make([]int32, n)
			k.forward2(src, d1, a1)
			k.forwardPlane(src, d2, a2)
			for i := range d1 {
				if !sameBits(d1[i], d2[i]) || a1[i] != a2[i] {
					t.Fatalf("%v stride %d: output %d = %v at %d, general loop %v at %d", in, stride, i, d1[i], a1[i], d2[i], a2[i])
				}
			}
		}
	}
}

// TestReLUBackwardBits: the gradient passes dout's bits exactly (−0,
// NaN payloads included) where the input is > 0, and is +0 elsewhere,
// NaN inputs included.
func TestReLUBackwardBits(t *testing.T) {
	nan := math.Float64frombits(0x7ff8000000000123)
	in := []float64{1, -1, 0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), 5e-324, 2}
	dout := []float64{math.Copysign(0, -1), 3, 4, 5, 6, nan, 7, -8, math.Inf(-1)}
	din := make([]float64, len(in))
	for i := range din {
		din[i] = 99
	}
	reluKernel{}.backward(nil, nil, in, nil, dout, din, 1)
	for i, v := range in {
		want := 0.0
		if v > 0 {
			want = dout[i]
		}
		if math.Float64bits(din[i]) != math.Float64bits(want) {
			t.Errorf("in %v, dout %v: din %v (%#x), want %v", v, dout[i], din[i], math.Float64bits(din[i]), want)
		}
	}
}
