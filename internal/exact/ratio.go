package exact

import (
	"cmp"
	"math"
	"math/big"
)

// Ratio is a rational n/d in [0, 1] as big-endian 64-bit words of equal
// length, d > 0, for exact Bernoulli trials; top holds the bits of d's
// most significant word.
type Ratio struct {
	n, d []uint64
	top  uint
}

// NewRatio returns n/d for 0 ≤ n ≤ d, d > 0 (not checked beyond d > 0:
// n > d behaves as 1). It panics if d ≤ 0 or n < 0.
func NewRatio(n, d *big.Int) Ratio {
	if d.Sign() <= 0 || n.Sign() < 0 {
		panic("exact: NewRatio: d ≤ 0 or n < 0")
	}
	words := (d.BitLen() + 63) / 64
	if n.BitLen() > 64*words {
		n = d // n > d: probability 1
	}
	r := Ratio{n: make([]uint64, words), d: make([]uint64, words), top: uint(d.BitLen() - 64*(words-1))}
	fill := func(dst []uint64, x *big.Int) {
		mask := new(big.Int).SetUint64(math.MaxUint64)
		x = new(big.Int).Set(x)
		for i := words - 1; i >= 0; i-- {
			dst[i] = new(big.Int).And(x, mask).Uint64()
			x.Rsh(x, 64)
		}
	}
	fill(r.n, n)
	fill(r.d, d)
	return r
}

// Bernoulli returns true with probability n/d: it draws U uniform in
// [0, 2^bits(d)) word by word from the most significant, restarts when
// U ≥ d and answers U < n as soon as both comparisons are decided (almost
// always at the first word).
func (r *Ratio) Bernoulli(s Source) bool {
	for {
		dState, nState := 0, 0 // −1: U below, +1: U above, 0: equal so far
		for i := range r.d {
			u := s.Uint64()
			if i == 0 && r.top < 64 {
				u >>= 64 - r.top
			}
			if dState == 0 {
				dState = cmp.Compare(u, r.d[i])
			}
			if nState == 0 {
				nState = cmp.Compare(u, r.n[i])
			}
			if dState != 0 && nState != 0 {
				break
			}
		}
		if dState < 0 {
			return nState < 0
		}
	}
}

// Geometric returns G with P[G = g] = (1−ρ)·ρ^g for ρ = r's value < 1:
// the number of successes of independent trials r.Bernoulli before the
// first failure.
func Geometric(s Source, r *Ratio) uint64 {
	g := uint64(0)
	for r.Bernoulli(s) {
		g++
	}
	return g
}
