package ddp

import (
	"math"
	mrand "math/rand/v2"
	"testing"
)

// fwhtRef is the textbook transform fwht replaced: stage by stage over
// the whole vector, then the scale.
func fwhtRef(x []float64) {
	n := len(x)
	for h := 1; h < n; h <<= 1 {
		for i := 0; i < n; i += h << 1 {
			for j := i; j < i+h; j++ {
				u, v := x[j], x[j+h]
				x[j], x[j+h] = u+v, u-v
			}
		}
	}
	s := 1 / math.Sqrt(float64(n))
	if log2(n)%2 == 0 {
		s = math.Ldexp(1, -log2(n)/2)
	}
	for i := range x {
		x[i] *= s
	}
}

// applySignsRef is the sign diagonal drawn word by word from the round's
// generator as the sequential code did.
func applySignsRef(x []float64, roundID [32]byte) {
	g := rotationSigns(roundID)
	for i := 0; i < len(x); i += 64 {
		w := g.Uint64()
		for j := i; j < min(i+64, len(x)); j++ {
			if w&1 == 1 {
				x[j] = -x[j]
			}
			w >>= 1
		}
	}
}

func sameBits(t *testing.T, what string, got, want []float64) {
	t.Helper()
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("%s: differs at %d: %v vs %v", what, i, got[i], want[i])
		}
	}
}

// TestFWHTParallelBits: the blocked, radix-4, parallel transform gives the
// same bits as the textbook sequential loop, for every length from 1 to
// 2^17 (below one block, one block, an even and an odd number of stages
// past the block) and 1, 2 and 3 workers; rotate and unrotate equal the
// sequential signs-then-transform and transform-then-signs.
func TestFWHTParallelBits(t *testing.T) {
	r := mrand.New(mrand.NewPCG(7, 8))
	for n := 1; n <= 1<<17; n <<= 1 {
		x := make([]float64, n)
		for i := range x {
			x[i] = r.NormFloat64() * math.Ldexp(1, r.IntN(40)-20)
		}
		want := append([]float64(nil), x...)
		fwhtRef(want)
		var id [32]byte
		id[0], id[1] = byte(n), byte(n>>8)
		wantRot := append([]float64(nil), x...)
		applySignsRef(wantRot, id)
		fwhtRef(wantRot)
		wantUn := append([]float64(nil), x...)
		fwhtRef(wantUn)
		applySignsRef(wantUn, id)
		for _, w := range []int{1, 2, 3} {
			got := append([]float64(nil), x...)
			fwhtWorkers(got, nil, nil, w)
			sameBits(t, "fwht", got, want)
			got = append(got[:0], x...)
			fwhtWorkers(got, signWords(n, id), nil, w)
			sameBits(t, "rotate", got, wantRot)
			got = append(got[:0], x...)
			fwhtWorkers(got, nil, signWords(n, id), w)
			sameBits(t, "unrotate", got, wantUn)
		}
		got := append([]float64(nil), x...)
		rotate(got, id)
		sameBits(t, "rotate (GOMAXPROCS)", got, wantRot)
		unrotate(got, id)
		rt := append([]float64(nil), x...)
		applySignsRef(rt, id)
		fwhtRef(rt)
		fwhtRef(rt)
		applySignsRef(rt, id)
		sameBits(t, "unrotate∘rotate", got, rt)
	}
}

// BenchmarkRotate is the rotation of D = 2^20 values: "ref" the
// sequential textbook loop, "par" rotate on GOMAXPROCS goroutines, "par1"
// its blocked radix-4 form on one.
func BenchmarkRotate(b *testing.B) {
	const n = 1 << 20
	x := randVec(mrand.New(mrand.NewPCG(1, 2)), n, 1)
	var id [32]byte
	b.Run("ref", func(b *testing.B) {
		b.SetBytes(8 * n)
		for b.Loop() {
			applySignsRef(x, id)
			fwhtRef(x)
		}
	})
	b.Run("par1", func(b *testing.B) {
		b.SetBytes(8 * n)
		b.ReportAllocs()
		for b.Loop() {
			fwhtWorkers(x, signWords(n, id), nil, 1)
		}
	})
	b.Run("par", func(b *testing.B) {
		b.SetBytes(8 * n)
		b.ReportAllocs()
		for b.Loop() {
			rotate(x, id)
		}
	})
}
