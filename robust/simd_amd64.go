//go:build !purego

package robust

import "math"

// partAVX512 moves the values x of src[:n] with x < p to lt and the others
// to ge, both in input order, and returns how many went to lt. lt and ge
// need room for n+8 values.
//
//go:noescape
func partAVX512(src, lt, ge *float64, n int, p float64) (nlt int)

// sumBetweenAVX512 returns the sum of the values x of src[:n] with
// a < x < b, in a fixed order of the positions, and the numbers of values
// x ≤ a and x < b.
//
//go:noescape
func sumBetweenAVX512(src *float64, n int, a, b float64) (sum float64, leA, ltB int)

// ranksSmallAVX512 returns the values of ranks k1 and k2 of src[:n],
// 0 ≤ k1, k2 < n ≤ 16.
//
//go:noescape
func ranksSmallAVX512(src *float64, n, k1, k2 int) (x1, x2 float64)

// gather8AVX512 sets dst[k*st+r] = rows[r][k] for k < n (a multiple of 8)
// and r < 8, and reports whether all those values are finite.
//
//go:noescape
func gather8AVX512(dst *float64, st int, rows *[8]*float64, n int) (finite bool)

func cpuid(eax, ecx uint32) (a, b, c, d uint32)

func xgetbv0() (eax uint32)

// hasAVX512 reports whether the processor and the operating system support
// the AVX-512 foundation instructions (and POPCNT) that the kernels use.
var hasAVX512 = detectAVX512()

func detectAVX512() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, c1, _ := cpuid(1, 0)
	const osxsave, popcnt = 1 << 27, 1 << 23
	if c1&osxsave == 0 || c1&popcnt == 0 {
		return false
	}
	// XCR0: SSE, AVX, opmask, upper halves of ZMM0–15, ZMM16–31.
	const state = 1<<1 | 1<<2 | 1<<5 | 1<<6 | 1<<7
	if xgetbv0()&state != state {
		return false
	}
	_, b7, _, _ := cpuid(7, 0)
	const avx512f = 1 << 16
	return b7&avx512f != 0
}

func partSIMD(src, lt, ge []float64, p float64, orEqual bool) int {
	if len(src) == 0 {
		return 0
	}
	_ = lt[len(src)+7]
	_ = ge[len(src)+7]
	if orEqual { // x ≤ p is x < the next float above p, for finite x
		p = math.Nextafter(p, math.Inf(1))
	}
	return partAVX512(&src[0], &lt[0], &ge[0], len(src), p)
}

func sumBetweenSIMD(src []float64, a, b float64) (sum float64, leA, ltB int) {
	if len(src) == 0 {
		return 0, 0, 0
	}
	return sumBetweenAVX512(&src[0], len(src), a, b)
}

func ranksSmallSIMD(a []float64, k1, k2 int) (float64, float64) {
	_, _ = a[k1], a[k2]
	if len(a) > 16 {
		panic("robust: ranksSmallSIMD: more than 16 values")
	}
	return ranksSmallAVX512(&a[0], len(a), k1, k2)
}

// gather8SIMD is gather8AVX512 over the first n/8*8 columns of the eight
// rows r (each with at least n values); it returns how many columns it
// did and whether their values are all finite.
func gather8SIMD(dst []float64, st int, r *[8][]float64, n int) (done int, finite bool) {
	n8 := n &^ 7
	if n8 == 0 {
		return 0, true
	}
	var p [8]*float64
	for i := range p {
		_ = r[i][n8-1]
		p[i] = &r[i][0]
	}
	_ = dst[(n8-1)*st+7]
	return n8, gather8AVX512(&dst[0], st, &p, n8)
}
