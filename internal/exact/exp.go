package exact

import "math/big"

// ExpBounds returns integers lo ≤ exp(−n/d)·2^prec ≤ hi, for n ≥ 0 and
// d > 0, with hi − lo at most a few units when n/d is moderate (the
// precision is absolute: exp(−n/d) below 2^−prec gives lo = 0).
//
// Method, rigorous at every step: with s the least integer such that
// g = n/(d·2^s) ≤ 1, the terms t_i = g^i/i! of the series of exp(−g) do not
// increase, so its partial sums bracket it: S_{2m+1} ≤ exp(−g) ≤ S_{2m}.
// Each term is bounded below and above in fixed point at W = prec + s + 16
// bits by the recurrence t_i = t_{i−1}·n/(d·2^s·i) rounded down and up, the
// lower bound of a partial sum takes the lower bounds of its positive terms
// and the upper bounds of its negative ones (and conversely). Then
// exp(−n/d) = exp(−g)^(2^s): s squarings, rounding lo down and hi up
// (lo ≤ x ≤ hi implies lo² ≤ x² ≤ hi² for non-negative values), and a
// final shift to prec bits, lo down and hi up. It panics if n < 0 or
// d ≤ 0.
func ExpBounds(n, d *big.Int, prec uint) (lo, hi *big.Int) {
	if n.Sign() < 0 || d.Sign() <= 0 {
		panic("exact: ExpBounds: n < 0 or d ≤ 0")
	}
	one := new(big.Int).Lsh(big.NewInt(1), prec)
	if n.Sign() == 0 {
		return one, new(big.Int).Set(one)
	}
	// s: least s ≥ 0 with n ≤ d·2^s.
	s := uint(0)
	if n.Cmp(d) > 0 {
		s = uint(n.BitLen() - d.BitLen())
		if s > 0 {
			s--
		}
		for new(big.Int).Lsh(d, s).Cmp(n) < 0 {
			s++
		}
	}
	w := prec + s + 16
	dd := new(big.Int).Lsh(d, s) // g = n/dd ≤ 1
	unit := new(big.Int).Lsh(big.NewInt(1), w)
	tLo, tHi := new(big.Int).Set(unit), new(big.Int).Set(unit)
	// sumLo and sumHi accumulate the lower and upper bound of the partial
	// sum S_i; lo takes S_i at odd i, hi at even i.
	sumLo, sumHi := new(big.Int).Set(unit), new(big.Int).Set(unit)
	var lo1, hi1 *big.Int
	var q, r, div big.Int
	hi1 = new(big.Int).Set(unit) // S_0 = 1
	for i := int64(1); ; i++ {
		div.Mul(dd, big.NewInt(i))
		// tLo_i = ⌊tLo_{i−1}·n/(dd·i)⌋, tHi_i = ⌈tHi_{i−1}·n/(dd·i)⌉.
		tLo.Mul(tLo, n)
		tLo.Quo(tLo, &div)
		q.Mul(tHi, n)
		q.QuoRem(&q, &div, &r)
		if r.Sign() != 0 {
			q.Add(&q, big.NewInt(1))
		}
		tHi.Set(&q)
		if i%2 == 1 { // S_i = S_{i−1} − t_i: a lower bound of exp(−g)
			sumLo.Sub(sumLo, tHi)
			sumHi.Sub(sumHi, tLo)
			lo1 = new(big.Int).Set(sumLo)
		} else { // S_i = S_{i−1} + t_i: an upper bound
			sumLo.Add(sumLo, tLo)
			sumHi.Add(sumHi, tHi)
			hi1 = new(big.Int).Set(sumHi)
		}
		// Stop once the terms are below one unit and both sides are set.
		if i >= 2 && tHi.Cmp(big.NewInt(1)) <= 0 {
			break
		}
	}
	if lo1.Sign() < 0 {
		lo1.SetInt64(0)
	}
	if hi1.Cmp(unit) > 0 {
		hi1.Set(unit)
	}
	for range s {
		lo1.Mul(lo1, lo1)
		lo1.Rsh(lo1, w)
		hi1.Mul(hi1, hi1)
		hi1 = shrCeil(hi1, w)
	}
	lo1.Rsh(lo1, w-prec)
	return lo1, shrCeil(hi1, w-prec)
}

// shrCeil returns ⌈x/2^k⌉ for x ≥ 0 (in x).
func shrCeil(x *big.Int, k uint) *big.Int {
	exact := x.TrailingZeroBits() >= k || x.Sign() == 0
	x.Rsh(x, k)
	if !exact {
		x.Add(x, big.NewInt(1))
	}
	return x
}
