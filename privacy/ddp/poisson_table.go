package ddp

import (
	"math"
	"math/big"
	"math/bits"

	"github.com/fedgo/fedgo/internal/exact"
	"github.com/fedgo/fedgo/privacy"
)

// maxTableLambda bounds the λ for which newPoisson builds the table
// sampler (about 20√λ + 80 entries of 8 bytes in the hot table: 1.9 MB at
// the bound); above it Poisson draws take the O(√λ) rejection sampler
// alone.
const maxTableLambda = 1 << 27

// poissonTable samples Poisson(λ) exactly in expected O(1) time: one
// uniform draw and one table read per sample almost always. It is the
// table method with exact acceptance (Devroye 1986, Non-Uniform Random
// Variate Generation, §II.3 "the alias method" after Walker 1977, Vose
// 1991, and §II.4 "the composition method"):
//
//   - The target weights are w(y) = P[X = λ+y]/P[X = λ] ≤ 1 (w(0) =
//     w(−1) = 1), rational. For every y in the table range [−K, Y]
//     (K = min(λ, Y), Y = 10⌈√λ⌉ + 40) setup computes integers lo(y) ≤
//     w(y)·2^63 ≤ hi(y) by the recurrences w(y) = w(y−1)·λ/(λ+y) and
//     w(−k) = w(−k+1)·(λ−k+1)/λ, rounding down for lo and up for hi, and
//     with an integer scale k, ℓ(y) = ⌊lo(y)·k/2^63⌋ ≤ k·w(y) ≤ h(y) =
//     ⌈hi(y)·k/2^63⌉.
//   - k·w is split as a composition: ℓ(y) (a sure part), k·w(y) − ℓ(y) on
//     the table (a residual below h(y) − ℓ(y), a unit or two) and k·w
//     beyond the table (below k·g±, the geometric envelopes of
//     [poissonTable.sampleTail], of rational mass A).
//   - An alias table of cols = n + 1 columns of capacity 2^q holds the
//     integers ℓ(y) and one rest column of weight R = cols·2^q − Σℓ, with
//     R ≥ Σ(h−ℓ) plus T = ⌈k·A⌉. One uniform draw in [0, cols·2^q) picks
//     a column and its threshold: a table column returns its y outright.
//   - The rest column (probability about 2^−20) draws v uniform in its
//     weight: below Σ(h−ℓ) it picks y ∝ h(y)−ℓ(y) and accepts with
//     probability (k·w(y) − ℓ(y))/(h(y) − ℓ(y)), computed exactly in big
//     integers; in the next T it confirms the tail with probability k·A/T
//     and draws from the tail envelope with exact acceptance; else it
//     starts over.
//
// Every decision compares uniform integers with exact integers, so the
// output is Poisson(λ) exactly. Timing: the common path takes the same
// steps whatever the output (the rare rest path does not), but the table
// entry it reads depends on the output, so a process sharing the CPU
// cache with the client could learn something of its noise, as with any
// table-based sampler; the rejection samplers' running time leaks too
// (see package privacy's doc).
type poissonTable struct {
	*exact.Table // ℓ, the residuals, the alias columns, T
	lambda       uint64
	y0           int64       // the y of entry 0 (−K)
	hiY          uint64      // hi(Y)
	hiK          uint64      // hi(−K)
	tailPlus     exact.Ratio // P[side + | tail]
	yMax, kMax   uint64      // Y and K
}

// newPoissonTable builds the table for p (λ ≤ maxTableLambda) over
// [−min(λ, Y), Y], Y = 10⌈√λ⌉ + 40: beyond it the Poisson mass is below
// e^−40.
func newPoissonTable(p *poisson) *poissonTable {
	return newPoissonTableY(p, 10*uint64(math.Ceil(math.Sqrt(float64(p.lambda))))+40)
}

// weightBounds returns lo(y) ≤ w(y)·2^63 ≤ hi(y) for y in [−K, Y] (index
// y + K).
func weightBounds(l, ymax, kmax uint64) (lo, hi []uint64) {
	n := kmax + ymax + 1
	lo, hi = make([]uint64, n), make([]uint64, n)
	const one = uint64(1) << 63
	lo[kmax], hi[kmax] = one, one
	for y := uint64(1); y <= ymax; y++ {
		lo[kmax+y] = mulDivFloor(lo[kmax+y-1], l, l+y)
		hi[kmax+y] = mulDivCeil(hi[kmax+y-1], l, l+y)
	}
	if kmax >= 1 {
		lo[kmax-1], hi[kmax-1] = one, one
	}
	for k := uint64(2); k <= kmax; k++ {
		lo[kmax-k] = mulDivFloor(lo[kmax-k+1], l-k+1, l)
		hi[kmax-k] = mulDivCeil(hi[kmax-k+1], l-k+1, l)
	}
	return lo, hi
}

// newPoissonTableY builds the table over [−min(λ, ymax), ymax]; tests
// take a small ymax to exercise the tail. It returns nil if the tail is
// too heavy for the table's integers (a tiny ymax).
func newPoissonTableY(p *poisson, ymax uint64) *poissonTable {
	l := p.lambda
	if ymax < 1 {
		return nil
	}
	kmax := min(l, ymax)
	lo, hi := weightBounds(l, ymax, kmax)
	t := &poissonTable{lambda: l, y0: -int64(kmax), yMax: ymax, kMax: kmax}
	// The tail envelopes (see sampleTail) and their masses A± = a±/den:
	// A+ = hi(Y)·λ/(2^63·(Y+1)), A− = hi(−K)·(λ−K)/(2^63·K) when K < λ
	// (else the target has no mass there).
	bu := func(x uint64) *big.Int { return new(big.Int).SetUint64(x) }
	t.hiY, t.hiK = hi[len(hi)-1], hi[0]
	aPlus := new(big.Int).Mul(bu(t.hiY), bu(l))
	aPlus.Mul(aPlus, bu(kmax))
	a := new(big.Int).Set(aPlus)
	if kmax < l {
		am := new(big.Int).Mul(bu(t.hiK), bu(l-kmax))
		a.Add(a, am.Mul(am, bu(ymax+1)))
	}
	den := new(big.Int).Lsh(bu(ymax+1), 63)
	den.Mul(den, bu(kmax))
	if t.Table = exact.Build(lo, hi, a, den); t.Table == nil {
		return nil
	}
	t.tailPlus = exact.NewRatio(aPlus, a)
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

// sample returns one draw of Poisson(λ).
func (t *poissonTable) sample(p *poisson, s *privacy.Source) int64 {
	if c := t.Pick(s.Uint64N(t.Range())); c != t.Rest() {
		return int64(t.lambda) + int64(c) + t.y0
	}
	return t.finishRest(p, s)
}

// addSkellam adds Sk(λ) = X1 − X2 to each dst[i] modulo mask + 1, X1 and
// X2 drawn one after the other as [poisson.skellam] draws them: sample's
// loop with the slot's uniform draw written out (the same draws, consuming
// the stream exactly as Source.Uint64N does, without two calls per value).
func (t *poissonTable) addSkellam(dst []uint64, mask uint64, p *poisson, s *privacy.Source) {
	n, rest := t.Range(), t.Rest()
	thresh := -n % n // Lemire's rejection threshold
	for i, z := range dst {
		var x [2]int64
		for j := range x {
			var r uint64
			if n&(n-1) == 0 {
				r = s.Uint64() & (n - 1)
			} else {
				hi, lo := bits.Mul64(s.Uint64(), n)
				for lo < thresh {
					hi, lo = bits.Mul64(s.Uint64(), n)
				}
				r = hi
			}
			if c := t.Pick(r); c != rest {
				x[j] = int64(t.lambda) + int64(c) + t.y0
			} else {
				x[j] = t.finishRest(p, s)
			}
		}
		dst[i] = (z + uint64(x[0]-x[1])) & mask
	}
}

// finishRest is sample after its slot fell in the rest column: the
// residual or the tail, else sample again.
func (t *poissonTable) finishRest(p *poisson, s *privacy.Source) int64 {
	switch kind, i := t.DrawRest(s); kind {
	case exact.RestEntry:
		if t.acceptResidual(i, s) {
			return int64(t.lambda) + int64(i) + t.y0
		}
	case exact.RestTail:
		if y, ok := t.sampleTail(p, s); ok {
			return int64(t.lambda) + y
		}
	}
	return t.sample(p, s)
}

// acceptResidual draws the acceptance (k·w(y) − ℓ(y))/(h(y) − ℓ(y)) of
// entry i, y = i + y0, exactly.
func (t *poissonTable) acceptResidual(i int, s *privacy.Source) bool {
	num, den := t.weight(int64(i) + t.y0)
	// (num·k − ℓ·den) / (width·den)
	r := new(big.Int).Mul(num, new(big.Int).SetUint64(t.K))
	r.Sub(r, new(big.Int).Mul(den, new(big.Int).SetUint64(t.Lo[i])))
	d := new(big.Int).Mul(den, new(big.Int).SetUint64(t.Width(i)))
	q := exact.NewRatio(r, d)
	return q.Bernoulli(s)
}

// weight returns w(y) = num/den exactly.
func (t *poissonTable) weight(y int64) (num, den *big.Int) {
	l := t.lambda
	if y >= 0 {
		return prodPow(l, uint64(y)), prod(func(j uint64) uint64 { return l + j + 1 }, uint64(y))
	}
	k := uint64(-y)
	return prod(func(j uint64) uint64 { return l - j }, k), prodPow(l, k)
}

// sampleTail draws y beyond the table, once the table has confirmed the
// tail. Beyond Y,
// w(y) ≤ w(Y)·ρ+^{y−Y} with ρ+ = λ/(λ+Y+1) (each further factor
// λ/(λ+j) ≤ ρ+), so g+(y) = hi(Y)/2^63·ρ+^{y−Y} is an envelope of mass
// A+; below −K, w(−k) ≤ w(−K)·ρ−^{k−K} with ρ− = (λ−K)/λ, so g−(−k) =
// hi(−K)/2^63·ρ−^{k−K}, of mass A−. The side is + with probability
// A+/(A+ + A−), the distance geometric, and the acceptance w/g± =
// (w(Y)·2^63/hi(Y))·Π_{j=Y+1..y} (λ+Y+1)/(λ+j) (or (w(−K)·2^63/hi(−K))·
// Π_{j=K..k−1} (λ−j)/(λ−K)), every factor ≤ 1, is drawn as a chain of
// exact trials. ok is false on rejection.
func (t *poissonTable) sampleTail(p *poisson, s *privacy.Source) (y int64, ok bool) {
	l, ymax, kmax := t.lambda, t.yMax, t.kMax
	if t.tailPlus.Bernoulli(s) {
		y := ymax + 1 + geometricRatio(s, l, l+ymax+1)
		c := newChain(s)
		for j := ymax + 1; j <= y && c.mul(l+ymax+1, l+j); j++ {
		}
		return int64(y), c.flush() && t.edgeTrial(int64(ymax), t.hiY, s)
	}
	k := kmax + 1 + geometricRatio(s, l-kmax, l)
	if k > l {
		return 0, false
	}
	c := newChain(s)
	for j := kmax; j < k && c.mul(l-j, l-kmax); j++ {
	}
	return -int64(k), c.flush() && t.edgeTrial(-int64(kmax), t.hiK, s)
}

// edgeTrial is true with probability w(y)·2^63/hi, hi ≥ w(y)·2^63.
func (t *poissonTable) edgeTrial(y int64, hi uint64, s *privacy.Source) bool {
	num, den := t.weight(y)
	num.Lsh(num, 63)
	r := exact.NewRatio(num, den.Mul(den, new(big.Int).SetUint64(hi)))
	return r.Bernoulli(s)
}

// geometricRatio returns G with P[G = g] = (1−ρ)ρ^g, ρ = a/b < 1: the
// number of successes of Bernoulli(a/b) trials before the first failure.
func geometricRatio(s *privacy.Source, a, b uint64) uint64 {
	g := uint64(0)
	for s.Uint64N(b) < a {
		g++
	}
	return g
}
