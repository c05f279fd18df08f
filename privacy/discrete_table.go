package privacy

import (
	"math"
	"math/big"
	"math/bits"

	"github.com/fedgo/fedgo/internal/exact"
)

// maxTableSigma2 bounds the σ² for which a [DiscreteGaussian] samples from
// a table: Y + 1 entries, Y = 10(⌊σ⌋+1) + 40, of 8 bytes in the hot alias
// table and 16 more in the rarely read residual columns: at the bound
// (σ = 2^14) 1.3 MB hot, 3.9 MB in all. Above it the sampler is
// Canonne–Kamath–Steinke's alone.
const maxTableSigma2 = 1 << 28

// dgTable samples N_Z(0, σ²), σ² = num/den, exactly in expected O(1)
// time: one uniform draw and one table read per sample almost always. It
// is the table method with exact acceptance of [exact.Table] applied to
// the half-line weights
//
//	u(0) = 1/2, u(y) = w(y) = exp(−y²/(2σ²)) for y ≥ 1,
//
// with a uniform sign: P[X = 0] ∝ u(0) = 1/2 (either sign) and P[X = y] =
// P[X = −y] ∝ u(y)/2 = w(y)/2, in the ratio 1 : w(y), so X has
// P[X = x] ∝ exp(−x²/(2σ²)) on all of Z.
//
// Proof of exactness, step by step:
//
//   - Bounds (setup): lo(y) ≤ u(y)·2^63 ≤ hi(y) for y in [0, Y],
//     Y = 10(⌊σ⌋+1) + 40 (beyond it w < e^−50). u(0)·2^63 = 2^62 exactly.
//     For y ≥ 1, w(y) = w(y−1)·f(y) with f(y) = exp(−(2y−1)a), a =
//     1/(2σ²) = den/(2·num), and f(y+1) = f(y)·r with r = exp(−2a), f(1) =
//     exp(−a). [exact.ExpBounds] brackets exp(−a) and r rigorously at 127
//     bits; the recurrences then run in 128-bit fixed point, the lower
//     bounds multiplied with rounding down and the upper ones with rounding
//     up (products of non-negative bounds bound the product), and the
//     result is rounded to 2^63 (down for lo, up for hi). No float64 is
//     involved in any bound.
//   - The tail beyond Y: for y = Y + m, m ≥ 1, w(y) = w(Y)·Π_{j=Y+1..y}
//     f(j) ≤ w(Y)·ρ^m with ρ = exp(−(2Y+1)a) ≤ ρ' = 1/(1+(2Y+1)a) =
//     2num/(2num + (2Y+1)den) (e^x ≥ 1+x), so g(Y+m) = hi(Y)/2^63·ρ'^m ≥
//     w(Y+m) is an envelope of rational mass A = hi(Y)·2num/(2^63·(2Y+1)·
//     den). The table ([exact.Table]) confirms the tail with the exact
//     probability k·A/T; then m = 1 + G, G geometric of ratio ρ' (exact
//     Bernoulli trials of ρ'), is accepted with probability w(y)/g(y) =
//     2^63·(2num+(2Y+1)den)^m·exp(−y²a) / (hi(Y)·(2num)^m) ≤ 1.
//   - The residual of entry y is accepted with probability
//     (k·u(y) − ℓ(y))/(h(y) − ℓ(y)): for y ≥ 1 that is the event
//     ℓ + (h−ℓ)·U < k·exp(−y²a), for y = 0 the event 2ℓ + 2(h−ℓ)·U < k,
//     both decided exactly by [exact.LessExp] (a lazy comparison of a
//     uniform U against rigorous brackets of the exponential at growing
//     precision; exp(−y²a) is irrational for y ≥ 1, so the comparison ends
//     with probability 1, and the y = 0 case compares with exp(0) = 1
//     exactly).
//   - The sign is the low bit of the same uniform draw that picks the
//     column: r uniform in [0, 2·Range) gives r&1 and r>>1 independent and
//     uniform.
//
// Every decision compares uniform integers (or a lazily drawn uniform
// real) with exact quantities, so the output is N_Z(0, σ²) exactly,
// conditioned on |X| < 2^63 as Canonne et al.'s sampler is (a tail value
// beyond int64 is rejected; its mass is below exp(−2^124/σ²)).
//
// Timing: the common path takes the same steps whatever the output (the
// rare rest path does not), but the table entry it reads depends on the
// output, so a process sharing the CPU cache with the sampler could learn
// something of the noise, as with any table-based sampler (see package
// privacy's doc).
type dgTable struct {
	*exact.Table
	num, den *big.Int // σ² = num/den
	twoNum   *big.Int // 2·num
	ymax     uint64   // Y
	hiY      uint64   // hi(Y)
	rho      exact.Ratio
	rhoDen   *big.Int // 2num + (2Y+1)den, ρ' = twoNum/rhoDen
}

// newDGTable builds the table of N_Z(0, num/den) over [0, Y], Y =
// 10(⌊σ⌋+1) + 40 (t = ⌊σ⌋ + 1), or returns nil if it does not fit.
func newDGTable(num, den *big.Int, t uint64) *dgTable {
	return newDGTableY(num, den, 10*t+40)
}

// newDGTableY builds the table over [0, ymax]; tests take a small ymax to
// exercise the tail. It returns nil if the table cannot fit its integers.
func newDGTableY(num, den *big.Int, ymax uint64) *dgTable {
	if ymax < 1 || ymax+2 > exact.MaxColumns {
		return nil
	}
	lo, hi := dgBounds(num, den, ymax)
	t := &dgTable{num: num, den: den, twoNum: new(big.Int).Lsh(num, 1), ymax: ymax, hiY: hi[ymax]}
	// ρ' = 2num/(2num + (2Y+1)den); A = hi(Y)·2num/(2^63·(2Y+1)·den).
	y21 := new(big.Int).SetUint64(2*ymax + 1)
	t.rhoDen = new(big.Int).Mul(y21, den)
	t.rhoDen.Add(t.rhoDen, t.twoNum)
	t.rho = exact.NewRatio(t.twoNum, t.rhoDen)
	aNum := new(big.Int).Mul(new(big.Int).SetUint64(t.hiY), t.twoNum)
	aDen := new(big.Int).Mul(y21, den)
	aDen.Lsh(aDen, 63)
	if t.Table = exact.Build(lo, hi, aNum, aDen); t.Table == nil {
		return nil
	}
	return t
}

// dgBounds returns lo(y) ≤ u(y)·2^63 ≤ hi(y) for y in [0, ymax] (see
// [dgTable]).
func dgBounds(num, den *big.Int, ymax uint64) (lo, hi []uint64) {
	lo, hi = make([]uint64, ymax+1), make([]uint64, ymax+1)
	lo[0], hi[0] = 1<<62, 1<<62
	twoNum := new(big.Int).Lsh(num, 1)
	aLo, aHi := exact.ExpBounds(den, twoNum, 127) // exp(−a)·2^127
	rLo, rHi := exact.ExpBounds(den, num, 127)    // exp(−2a)·2^127
	fLo, fHi := toU128(aLo), toU128(aHi)
	rl, rh := toU128(rLo), toU128(rHi)
	one := u128{1 << 63, 0} // 2^127
	wLo, wHi := one, one
	for y := uint64(1); y <= ymax; y++ {
		wLo, wHi = mulFix127(wLo, fLo, false), mulFix127(wHi, fHi, true)
		lo[y] = wLo.hi // ⌊wLo/2^64⌋
		hi[y] = wHi.hi
		if wHi.lo != 0 {
			hi[y]++
		}
		fLo, fHi = mulFix127(fLo, rl, false), mulFix127(fHi, rh, true)
	}
	return lo, hi
}

// toU128 converts 0 ≤ x ≤ 2^127.
func toU128(x *big.Int) u128 {
	var lo, hi big.Int
	lo.And(x, new(big.Int).SetUint64(^uint64(0)))
	hi.Rsh(x, 64)
	return u128{hi.Uint64(), lo.Uint64()}
}

// mulFix127 returns ⌊a·b/2^127⌋, or ⌈a·b/2^127⌉ if up, for a, b ≤ 2^127.
func mulFix127(a, b u128, up bool) u128 {
	// The 256-bit product p3:p2:p1:p0.
	h00, l00 := bits.Mul64(a.lo, b.lo)
	h01, l01 := bits.Mul64(a.lo, b.hi)
	h10, l10 := bits.Mul64(a.hi, b.lo)
	h11, l11 := bits.Mul64(a.hi, b.hi)
	p0 := l00
	p1, c1 := bits.Add64(h00, l01, 0)
	p1, c2 := bits.Add64(p1, l10, 0)
	p2, c3 := bits.Add64(h01, h10, c1)
	p2, c4 := bits.Add64(p2, l11, c2)
	p3 := h11 + c3 + c4
	// Bits 127 and up.
	r := u128{p3<<1 | p2>>63, p2<<1 | p1>>63}
	if up && (p1&(1<<63-1) != 0 || p0 != 0) {
		r.lo++
		if r.lo == 0 {
			r.hi++
		}
	}
	return r
}

// sample returns one draw of N_Z(0, σ²).
func (t *dgTable) sample(s *Source) int64 {
	n2, rest := t.Range()<<1, t.Rest()
	for {
		r := s.uint64n(n2)
		y, ok := int64(t.Pick(r>>1)), true
		if int(y) == rest {
			y, ok = t.sampleRest(s)
		}
		if !ok {
			continue
		}
		if r&1 == 1 {
			return -y
		}
		return y
	}
}

// addTo adds an independent draw to each element of dst: sample's loop
// with the slot's uniform draw written out (the same draws, consuming the
// stream exactly as sample does, without a call per value).
func (t *dgTable) addTo(dst []int64, s *Source) {
	n2, rest := t.Range()<<1, t.Rest()
	thresh := -n2 % n2 // Lemire's rejection threshold, as uint64n
	for i := range dst {
		for {
			var r uint64
			if n2&(n2-1) == 0 {
				r = s.c.Uint64() & (n2 - 1)
			} else {
				hi, lo := bits.Mul64(s.c.Uint64(), n2)
				for lo < thresh {
					hi, lo = bits.Mul64(s.c.Uint64(), n2)
				}
				r = hi
			}
			c := t.Pick(r >> 1)
			y := int64(c)
			if c == rest {
				var ok bool
				if y, ok = t.sampleRest(s); !ok {
					continue
				}
			}
			if r&1 == 1 {
				y = -y
			}
			dst[i] += y
			break
		}
	}
}

// sampleRest draws from the rest column: a residual of the table, the
// tail, or nothing (ok false).
func (t *dgTable) sampleRest(s *Source) (y int64, ok bool) {
	switch kind, i := t.DrawRest(s); kind {
	case exact.RestEntry:
		return int64(i), t.acceptResidual(i, s)
	case exact.RestTail:
		return t.sampleTail(s)
	}
	return 0, false
}

// acceptResidual is true with probability (k·u(y) − ℓ(y))/(h(y) − ℓ(y)).
func (t *dgTable) acceptResidual(y int, s *Source) bool {
	l := new(big.Int).SetUint64(t.Lo[y])
	w := new(big.Int).SetUint64(t.Width(y))
	k := new(big.Int).SetUint64(t.K)
	if y == 0 { // 2ℓ + 2(h−ℓ)·U < k·exp(0)
		return exact.LessExp(s, l.Lsh(l, 1), w.Lsh(w, 1), k, new(big.Int), big.NewInt(1))
	}
	return exact.LessExp(s, l, w, k, t.gamma(uint64(y)), t.twoNum)
}

// gamma returns the numerator of y²a = y²·den/(2num) over 2num.
func (t *dgTable) gamma(y uint64) *big.Int {
	g := new(big.Int).SetUint64(y)
	g.Mul(g, g)
	return g.Mul(g, t.den)
}

// sampleTail draws y = Y + m, m = 1 + G with G geometric of ratio ρ', and
// accepts it with probability w(y)/g(y) (see [dgTable]).
func (t *dgTable) sampleTail(s *Source) (int64, bool) {
	m := 1 + exact.Geometric(s, &t.rho)
	y := t.ymax + m
	if y > math.MaxInt64 || y <= t.ymax {
		// Not representable: conditioned away, as the CKS sampler does
		// (the target's mass there is below exp(−2^124/σ²)).
		return 0, false
	}
	bm := new(big.Int).SetUint64(m)
	b := new(big.Int).Exp(t.twoNum, bm, nil)
	b.Mul(b, new(big.Int).SetUint64(t.hiY))
	c := new(big.Int).Exp(t.rhoDen, bm, nil)
	c.Lsh(c, 63)
	return int64(y), exact.LessExp(s, new(big.Int), b, c, t.gamma(y), t.twoNum)
}
