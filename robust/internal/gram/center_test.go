package gram

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCenter: both paths write rows[i][off+k] − c[k] and +0 padding over
// many widths (the 16-value rounds, the 4-value rounds and the scalar tail
// of the fast path), onto a dst full of garbage, and report non-finite input
// wherever a NaN or an Inf sits (the first, a middle and the last value of
// every width).
func TestCenter(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, portable := range []bool{true, false} {
		for _, n := range []int{1, 3, 7} {
			for w := 0; w <= 70; w++ {
				w4 := (w+3)&^3 + 4*rng.IntN(2)
				off := rng.IntN(5)
				rows := make([][]float64, n)
				for i := range rows {
					rows[i] = randX(rng, 1, off+w+rng.IntN(3))
				}
				c := randX(rng, 1, w)
				dst := randX(rng, n, w4)
				if !center(dst, rows, off, c, w4, portable || !hasFMA) {
					t.Fatalf("portable=%v n=%d w=%d: finite input reported non-finite", portable, n, w)
				}
				for i := range n {
					for k := range w4 {
						want := 0.0
						if k < w {
							want = rows[i][off+k] - c[k]
						}
						if math.Float64bits(dst[i*w4+k]) != math.Float64bits(want) {
							t.Fatalf("portable=%v n=%d w=%d w4=%d: dst[%d][%d] = %v, want %v", portable, n, w, w4, i, k, dst[i*w4+k], want)
						}
					}
				}
				if w == 0 {
					continue
				}
				for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
					for _, k := range []int{0, w / 2, w - 1} {
						i := rng.IntN(n)
						keep := rows[i][off+k]
						rows[i][off+k] = bad
						if center(dst, rows, off, c, w4, portable || !hasFMA) {
							t.Fatalf("portable=%v n=%d w=%d: %v at row %d value %d not reported", portable, n, w, bad, i, k)
						}
						rows[i][off+k] = keep
					}
				}
			}
		}
	}
}

// TestCenterHuge: finite values whose difference overflows are finite
// input (the report is about the values read, not about the result).
func TestCenterHuge(t *testing.T) {
	for _, portable := range []bool{true, false} {
		rows := [][]float64{{math.MaxFloat64, 1, 2, 3, 4, 5, 6, 7}}
		c := []float64{-math.MaxFloat64, 0, 0, 0, 0, 0, 0, 0}
		dst := make([]float64, 8)
		if !center(dst, rows, 0, c, 8, portable || !hasFMA) {
			t.Fatalf("portable=%v: finite input reported non-finite", portable)
		}
		if !math.IsInf(dst[0], 1) {
			t.Fatalf("portable=%v: dst[0] = %v, want +Inf", portable, dst[0])
		}
	}
}
