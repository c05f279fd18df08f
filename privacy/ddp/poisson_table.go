package ddp

import (
	"math"
	"math/big"
	"math/bits"

	"github.com/fedgo/fedgo/privacy"
)

// maxTableLambda bounds the λ for which newPoisson builds the table
// sampler (about 20√λ entries of 32 bytes: 7 MB at the bound); above it
// Poisson draws take the O(√λ) rejection sampler alone.
const maxTableLambda = 1 << 27

// poissonTable samples Poisson(λ) exactly in expected O(1) time by
// rejection from a tabulated envelope, the "table method with exact
// acceptance" (Devroye 1986, Non-Uniform Random Variate Generation, §III.3
// and §II.3; Walker 1977 / Vose 1991 for the alias table):
//
//   - The target weights are w(y) = P[X = λ+y]/P[X = λ] ≤ 1 (w(0) =
//     w(−1) = 1), rational. For every y in the table range [−K, Y]
//     (K = min(λ, Y), Y ≈ 10√λ) setup computes integers lo(y) ≤
//     w(y)·2^63 ≤ hi(y) by the recurrences w(y) = w(y−1)·λ/(λ+y) and
//     w(−k) = w(−k+1)·(λ−k+1)/λ, rounding down for lo and up for hi.
//   - The envelope on the table is h(y)·2^−P with h(y) = ⌈hi(y)/2^(63−P)⌉,
//     an integer; beyond the table it is the geometric envelope g(y) of
//     [poisson] (C±·ρ^|y|), whose mass there is rational. The alias table
//     holds the integers h(y) and one more column of integer weight
//     T ≥ 2^P·(mass of g beyond the table); picking it is confirmed by an
//     exact Bernoulli trial of probability 2^P·mass/T.
//   - A table value y is accepted with probability w(y)·2^63/H(y),
//     H(y) = h(y)·2^(63−P) ≥ hi(y): with u uniform in [0, H) and U = u+V
//     (V uniform in [0, 1)), accept iff U < w(y)·2^63. u < lo(y) accepts
//     and u ≥ hi(y) rejects outright; in between (probability about
//     |y|·2^−63/w(y)) w(y)·2^63 = N/D is computed exactly in big integers
//     and V < (N − u·D)/D is drawn exactly.
//   - A tail value is accepted by the exact Bernoulli chain of [poisson].
//
// Every decision compares uniform integers with exact integers; the
// output is Poisson(λ) exactly. The expected number of proposals is
// (envelope mass)/(target mass) < 1 + 2^−30 (about 3 uniform draws per
// sample).
type poissonTable struct {
	lambda uint64
	y0     int64  // the y of entry 0 (−K)
	prec   uint   // P
	total  uint64 // W = Σ h + T
	ent    []tabEntry
	tail   int // column of the tail
	// tailOK = 2^P·(mass of g beyond the table)/T; tailPlus = P[side + |
	// tail].
	tailOK, tailPlus ratio
	yMax, kMax       uint64 // Y and K
}

// tabEntry is one alias column: the column keeps its own value when the
// alias draw is < prob, else gives alias; lo and hi bound w(y)·2^63.
type tabEntry struct {
	prob, lo, hi uint64
	alias        uint32
}

// newPoissonTable builds the table for p (λ ≤ maxTableLambda) over
// [−min(λ, Y), Y], Y = 10⌈√λ⌉ + 40: beyond it the Poisson mass is below
// e^−40.
func newPoissonTable(p *poisson) *poissonTable {
	return newPoissonTableY(p, 10*uint64(math.Ceil(math.Sqrt(float64(p.lambda))))+40)
}

// newPoissonTableY builds the table over [−min(λ, ymax), ymax]; tests
// take a small ymax to exercise the tail.
func newPoissonTableY(p *poisson, ymax uint64) *poissonTable {
	l := p.lambda
	kmax := min(l, ymax)
	n := int(kmax + ymax + 1)
	t := &poissonTable{lambda: l, y0: -int64(kmax), yMax: ymax, kMax: kmax, ent: make([]tabEntry, n+1), tail: n}
	t.prec = uint(60 - bits.Len(uint(n+1)))
	const one = uint64(1) << 63
	// Bounds on w(y)·2^63.
	at := func(y int64) *tabEntry { return &t.ent[y-t.y0] }
	at(0).lo, at(0).hi = one, one
	for y := uint64(1); y <= ymax; y++ {
		prev := at(int64(y) - 1)
		e := at(int64(y))
		e.lo = mulDivFloor(prev.lo, l, l+y)
		e.hi = mulDivCeil(prev.hi, l, l+y)
	}
	if kmax >= 1 {
		at(-1).lo, at(-1).hi = one, one
	}
	for k := uint64(2); k <= kmax; k++ {
		prev := at(-int64(k) + 1)
		e := at(-int64(k))
		e.lo = mulDivFloor(prev.lo, l-k+1, l)
		e.hi = mulDivCeil(prev.hi, l-k+1, l)
	}
	// The mass of g beyond the table, as A = a/den (see poisson: g(y) =
	// C+ρ^y for y ≥ 0, g(−k) = C−ρ^k, ρ = (s−1)/s, C± = N±/D±): the +
	// tail is C+ρ^{Y+1}·s, the − tail C−ρ^{K+1}·s when K < λ (else the
	// target has no mass there).
	s := new(big.Int).SetUint64(p.s)
	s1 := new(big.Int).SetUint64(p.s - 1)
	pow := func(x *big.Int, e uint64) *big.Int { return new(big.Int).Exp(x, new(big.Int).SetUint64(e), nil) }
	// + part over denominator D+·s^{Y+1}: N+·(s−1)^{Y+1}·s.
	plusNum := new(big.Int).Mul(p.cPlusN, pow(s1, ymax+1))
	plusNum.Mul(plusNum, s)
	plusDen := new(big.Int).Mul(p.cPlusD, pow(s, ymax+1))
	minusNum, minusDen := new(big.Int), big.NewInt(1)
	if kmax < l {
		minusNum.Mul(p.cMinusN, pow(s1, kmax+1))
		minusNum.Mul(minusNum, s)
		minusDen.Mul(p.cMinusD, pow(s, kmax+1))
	}
	// a/den = plusNum/plusDen + minusNum/minusDen.
	aPlus := new(big.Int).Mul(plusNum, minusDen)
	aMinus := new(big.Int).Mul(minusNum, plusDen)
	a := new(big.Int).Add(aPlus, aMinus)
	den := new(big.Int).Mul(plusDen, minusDen)
	// T = ⌈a·2^P/den⌉, with P lowered until cols·T < 2^62 (a tiny ymax).
	var a2p, tw *big.Int
	for ; ; t.prec-- {
		a2p = new(big.Int).Lsh(a, t.prec)
		var r big.Int
		tw, _ = new(big.Int).QuoRem(a2p, den, &r)
		if r.Sign() != 0 || tw.Sign() == 0 {
			tw.Add(tw, big.NewInt(1))
		}
		if tw.IsUint64() && tw.Uint64() <= (1<<62)/uint64(n+1) {
			break
		}
		if t.prec == 1 {
			return nil
		}
	}
	t.tailOK = newRatio(a2p, new(big.Int).Mul(tw, den))
	t.tailPlus = newRatio(aPlus, a)
	// Alias table (Vose 1991) over the integer weights h(y) and T, in
	// exact integers: column capacity W, scaled heights n'·h.
	cols := n + 1
	h := make([]uint64, cols)
	for i := range n {
		h[i] = ceilShift(t.ent[i].hi, 63-t.prec)
	}
	h[n] = tw.Uint64()
	for _, x := range h {
		t.total += x
	}
	var small, large []int
	sc := make([]uint64, cols)
	for i, x := range h {
		sc[i] = x * uint64(cols)
		if sc[i] < t.total {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		sm := small[len(small)-1]
		small = small[:len(small)-1]
		lg := large[len(large)-1]
		t.ent[sm].prob, t.ent[sm].alias = sc[sm], uint32(lg)
		sc[lg] -= t.total - sc[sm]
		if sc[lg] < t.total {
			large = large[:len(large)-1]
			small = append(small, lg)
		}
	}
	// What remains holds exactly W (Σ sc = cols·W is conserved).
	for _, i := range append(small, large...) {
		t.ent[i].prob, t.ent[i].alias = t.total, uint32(i)
	}
	return t
}

// mulDivFloor returns ⌊x·a/b⌋ for a ≤ b.
func mulDivFloor(x, a, b uint64) uint64 {
	hi, lo := bits.Mul64(x, a)
	q, _ := bits.Div64(hi, lo, b)
	return q
}

// mulDivCeil returns ⌈x·a/b⌉ for a ≤ b.
func mulDivCeil(x, a, b uint64) uint64 {
	hi, lo := bits.Mul64(x, a)
	q, r := bits.Div64(hi, lo, b)
	if r != 0 {
		q++
	}
	return q
}

// ceilShift returns ⌈x/2^k⌉, at least 1.
func ceilShift(x uint64, k uint) uint64 {
	q := x >> k
	if x&(1<<k-1) != 0 || q == 0 {
		q++
	}
	return q
}

// sample returns one draw of Poisson(λ).
func (t *poissonTable) sample(p *poisson, s *privacy.Source) int64 {
	cols := uint64(len(t.ent))
	for {
		c := s.Uint64N(cols)
		if s.Uint64N(t.total) >= t.ent[c].prob {
			c = uint64(t.ent[c].alias)
		}
		if int(c) == t.tail {
			if y, ok := t.sampleTail(p, s); ok {
				return int64(t.lambda) + y
			}
			continue
		}
		y := int64(c) + t.y0
		if t.accept(y, s) {
			return int64(t.lambda) + y
		}
	}
}

// accept draws the acceptance of table value y: true with probability
// w(y)·2^63/H(y).
func (t *poissonTable) accept(y int64, s *privacy.Source) bool {
	e := &t.ent[y-t.y0]
	hh := ceilShift(e.hi, 63-t.prec) << (63 - t.prec)
	u := s.Uint64N(hh)
	if u < e.lo {
		return true
	}
	if u >= e.hi {
		return false
	}
	return t.acceptExact(y, u, s)
}

// acceptExact decides U = u + V < w(y)·2^63 = N/D for V uniform in [0, 1),
// in big integers.
func (t *poissonTable) acceptExact(y int64, u uint64, s *privacy.Source) bool {
	num, den := t.weight(y)
	// V < (N − u·D)/D.
	r := new(big.Int).Mul(den, new(big.Int).SetUint64(u))
	r.Sub(num, r)
	if r.Sign() <= 0 {
		return false
	}
	if r.Cmp(den) >= 0 {
		return true
	}
	q := newRatio(r, den)
	return q.bernoulli(s)
}

// weight returns w(y)·2^63 = num/den exactly.
func (t *poissonTable) weight(y int64) (num, den *big.Int) {
	l := t.lambda
	if y >= 0 {
		num = prodPow(l, uint64(y))
		den = prod(func(j uint64) uint64 { return l + j + 1 }, uint64(y))
	} else {
		k := uint64(-y)
		num = prod(func(j uint64) uint64 { return l - j }, k)
		den = prodPow(l, k)
	}
	num.Lsh(num, 63)
	return num, den
}

// sampleTail confirms the tail column and draws y beyond the table from
// g, accepted by the exact chain of [poisson]; ok is false on rejection.
func (t *poissonTable) sampleTail(p *poisson, s *privacy.Source) (y int64, ok bool) {
	if !t.tailOK.bernoulli(s) {
		return 0, false
	}
	g := p.geometric(s)
	if t.tailPlus.bernoulli(s) {
		y := t.yMax + 1 + g
		return int64(y), p.acceptPlus(y, s)
	}
	k := t.kMax + 1 + g
	if k > t.lambda {
		return 0, false
	}
	return -int64(k), p.acceptMinus(k, s)
}
