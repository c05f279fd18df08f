package secagg

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Fixed-point encoding of real vectors for secure aggregation.
//
// With clip c > 0, b bits and at most n summands, Quantize uses
//
//	L = min(⌊(2^b - 1)/n⌋, 2^53)   levels above zero,
//	step = 2c / L,
//	q(x) = SR((clamp(x, -c, c) + c) / step) ∈ {0, …, L},
//
// where SR is stochastic rounding: ⌊z⌋ + 1 with probability z - ⌊z⌋, else
// ⌊z⌋, so E[q(x)]·step - c = clamp(x, -c, c) (unbiased) and the error of one
// coordinate is below step (plus float64 rounding, a few ulps of c, which
// matters only when step approaches 2^-52·c). Because every encoded value is at most L and
// n·L ≤ 2^b - 1, the sum of up to n encoded vectors never wraps modulo 2^b,
// and Dequantize maps a sum S of m vectors back to S·step - m·c, whose
// error per coordinate is below m·step (and has zero mean). The 2^53 cap
// keeps the grid exact in float64.

// QuantLevels returns L, the largest encoded value for n summands of b bits,
// or 0 when 2^b - 1 < n.
func QuantLevels(bits, n int) uint64 {
	if bits < 1 || bits > 64 || n < 1 {
		return 0
	}
	return min(wordMask(bits)/uint64(n), 1<<53)
}

// QuantStep returns the grid step 2·clip/L (see [Quantize]), or NaN when the
// arguments are out of range (those Quantize refuses).
func QuantStep(clip float64, bits, n int) float64 {
	l, err := quantArgs(clip, bits, n)
	if err != nil {
		return math.NaN()
	}
	return 2 * clip / float64(l)
}

func quantArgs(clip float64, bits, n int) (uint64, error) {
	if !(clip > 0) || math.IsInf(clip, 0) {
		return 0, fmt.Errorf("%w: clip = %v, want finite and positive", ErrRange, clip)
	}
	if bits < 1 || bits > 64 || n < 1 {
		return 0, fmt.Errorf("%w: bits = %d, n = %d", ErrRange, bits, n)
	}
	l := QuantLevels(bits, n)
	if l == 0 {
		return 0, fmt.Errorf("%w: %d bits cannot hold the sum of %d values", ErrRange, bits, n)
	}
	// Degenerate clips: the step 2c/L must be a normal float64 (else the
	// grid loses precision and the scale L/2c overflows), and twice the
	// largest decoded magnitude, 4·n·c, must be finite (a margin for the
	// rounding of S·step).
	if step := 2 * clip / float64(l); step < 0x1p-1022 || math.IsInf(float64(l)/(2*clip), 0) {
		return 0, fmt.Errorf("%w: clip = %v is too small for %d levels (step %v)", ErrRange, clip, l, step)
	}
	if math.IsInf(4*float64(n)*clip, 0) {
		return 0, fmt.Errorf("%w: clip = %v is too large for the sum of %d values", ErrRange, clip, n)
	}
	return l, nil
}

// Quantize clips each coordinate of v to [-clip, clip] and encodes it as an
// element of Z_{2^bits} (see the mapping above) with stochastic rounding
// drawn from rng, writing dst, which it returns. n is the largest number
// of vectors that will be summed. It returns an error wrapping [ErrRange]
// for a NaN or Inf coordinate or out-of-range arguments (dst is then
// unspecified), among them a degenerate clip: one whose step 2·clip/L is
// not a normal float64, or for which 4·n·clip overflows. It panics if len(dst) != len(v).
func Quantize(dst []uint64, v []float64, clip float64, bits, n int, rng *rand.Rand) ([]uint64, error) {
	if len(dst) != len(v) {
		panic("secagg: Quantize: length mismatch")
	}
	l, err := quantArgs(clip, bits, n)
	if err != nil {
		return dst, err
	}
	scale := float64(l) / (2 * clip)
	fl := float64(l)
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return dst, fmt.Errorf("%w: v[%d] = %v", ErrRange, i, x)
		}
		x = max(-clip, min(clip, x))
		z := min((x+clip)*scale, fl)
		f := math.Floor(z)
		if rng.Float64() < z-f {
			f++
		}
		dst[i] = uint64(min(f, fl))
	}
	return dst, nil
}

// Dequantize decodes sum, the sum mod 2^bits of count vectors encoded by
// Quantize with the same clip, bits and n (count ≤ n), into dst:
// dst[i] = sum[i]·step - count·clip. It returns dst. It returns an error
// wrapping [ErrRange] for out-of-range arguments. It panics if
// len(dst) != len(sum).
func Dequantize(dst []float64, sum []uint64, clip float64, bits, n, count int) ([]float64, error) {
	if len(dst) != len(sum) {
		panic("secagg: Dequantize: length mismatch")
	}
	if _, err := quantArgs(clip, bits, n); err != nil {
		return dst, err
	}
	if count < 0 || count > n {
		return dst, fmt.Errorf("%w: count = %d, want 0..%d", ErrRange, count, n)
	}
	step := QuantStep(clip, bits, n)
	off := float64(count) * clip
	for i, s := range sum {
		dst[i] = float64(s)*step - off
	}
	return dst, nil
}
