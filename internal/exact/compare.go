package exact

import "math/big"

// LessExp draws U uniform on [0, 1) and reports whether
// A + B·U < C·exp(−n/d), exactly, for A, C ≥ 0, B > 0, n ≥ 0 and d > 0:
// true with probability clamp((C·exp(−n/d) − A)/B, 0, 1).
//
// U is drawn lazily, 64 bits at a time: after j bits, U lies in
// [u/2^j, (u+1)/2^j), and exp(−n/d) in [lo/2^p, hi/2^p] by [ExpBounds] at
// precision p = j. The answer is true once A + B·(u+1)/2^j ≤ C·lo/2^p
// (then A + B·U < C·exp(−n/d) for every U in the interval), false once
// A + B·u/2^j ≥ C·hi/2^p; otherwise it draws 64 more bits and raises the
// precision by 64. The interval of U shrinks by 2^−64 and the
// bracket of exp(−n/d) to a few units of 2^−p each step, so the answer is
// undecided after a step only if U falls within a vanishing distance of
// the threshold (C·exp(−n/d) − A)/B: the loop ends with probability 1, and
// after one step almost always. The answer is a function of U alone, so
// its probability is exactly the measure of {U : A + B·U < C·exp(−n/d)}.
// It panics on arguments out of range.
func LessExp(s Source, a, b, c, n, d *big.Int) bool {
	if a.Sign() < 0 || b.Sign() <= 0 || c.Sign() < 0 || n.Sign() < 0 || d.Sign() <= 0 {
		panic("exact: LessExp: argument out of range")
	}
	var u, lhs, rhs, t big.Int
	for j := uint(64); ; j += 64 {
		u.Lsh(&u, 64)
		u.Or(&u, t.SetUint64(s.Uint64()))
		lo, hi := ExpBounds(n, d, j)
		// Compare (A·2^j + B·u [+ B])·2^p with C·e·2^j, p = j: divide
		// both sides by 2^j: A·2^j + B·u [+ B] against C·e.
		lhs.Lsh(a, j)
		lhs.Add(&lhs, t.Mul(b, &u))
		rhs.Mul(c, hi)
		if lhs.Cmp(&rhs) >= 0 {
			return false
		}
		lhs.Add(&lhs, b)
		rhs.Mul(c, lo)
		if lhs.Cmp(&rhs) <= 0 {
			return true
		}
	}
}
