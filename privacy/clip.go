package privacy

import "math"

// L2Norm returns the Euclidean norm of v, computed with scaling so that it
// neither overflows nor underflows for finite inputs (as math.Hypot does for
// two values). It returns NaN if v holds a NaN and +Inf if v holds an Inf.
func L2Norm(v []float64) float64 {
	// Fast path: the plain sum of squares is exact enough whenever it
	// neither overflows nor underflows.
	var s float64
	for _, x := range v {
		s += x * x
	}
	if s > 0x1p-900 && s < 0x1p900 {
		return math.Sqrt(s)
	}
	if math.IsNaN(s) {
		return math.NaN()
	}
	// Slow path: scale by the largest magnitude.
	var m float64
	for _, x := range v {
		a := math.Abs(x)
		if math.IsNaN(a) {
			return math.NaN()
		}
		m = max(m, a)
	}
	if m == 0 || math.IsInf(m, 1) {
		return m
	}
	s = 0
	for _, x := range v {
		y := x / m
		s += y * y
	}
	return m * math.Sqrt(s)
}

// ClipFactor returns min(1, c/norm), the factor that scales a vector of L2
// norm norm to norm at most c. It is 1 for norm = 0.
func ClipFactor(norm, c float64) float64 {
	if norm <= c {
		return 1
	}
	return c / norm
}

// ClipL2 writes v scaled to L2 norm at most c to dst (dst = v·min(1,
// c/‖v‖₂)) and returns ‖v‖₂, the norm before clipping. dst and v may be the
// same slice. A v with NaN or Inf returns that norm (NaN or +Inf) and leaves
// dst with undefined contents; callers reject such vectors first (see
// [fl.CheckUpdate]).
//
// It panics if len(dst) != len(v) or if c is negative or NaN. It does not
// allocate.
func ClipL2(dst, v []float64, c float64) float64 {
	if len(dst) != len(v) {
		panic("privacy: ClipL2: length mismatch")
	}
	if !(c >= 0) {
		panic("privacy: ClipL2: negative or NaN clip norm")
	}
	n := L2Norm(v)
	f := ClipFactor(n, c)
	if f == 1 {
		copy(dst, v)
		return n
	}
	for i, x := range v {
		dst[i] = f * x
	}
	return n
}
