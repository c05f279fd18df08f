package privacy

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"sync"
	"sync/atomic"
)

// ErrInvalidSigma is returned for a discrete Gaussian scale that is not
// finite and positive, or too large to sample.
var ErrInvalidSigma = errors.New("privacy: discrete Gaussian sigma² must be finite, > 0 and < 2^120")

// DiscreteGaussian samples the discrete Gaussian N_Z(0, σ²), the
// distribution on the integers with P[X = x] ∝ exp(−x²/(2σ²)), exactly: the
// sampler of Canonne, Kamath and Steinke 2020 ("The Discrete Gaussian for
// Differential Privacy", Algorithms 1–3) draws only uniform integers from a
// [Source] and does every comparison in exact rational arithmetic, so its
// output distribution is the discrete Gaussian with no floating-point
// error. Use it for noise that must be an integer (with secure
// aggregation over a finite group, for example).
//
// For σ² < 2^28 it also has an exact table sampler ([dgTable]: an alias
// table over y ≥ 0 with integer weights bounded by rigorous evaluation of
// the exponential, a rest column whose residuals and tail are decided by
// exact lazy comparison) that draws in expected O(1) time, about 10×
// faster than Algorithm 3 (BenchmarkDiscreteGaussianSample). It is built
// once, by [DiscreteGaussian.UseTable] or by an AddTo large enough to pay
// for it, and holds 10(⌊σ⌋+1) + 41 entries of 24 bytes (3.9 MB at the
// bound). Both samplers are exact; they give different values from one
// seeded Source (see UseTable).
//
// A DiscreteGaussian is safe for concurrent use (the table is built once,
// under a sync.Once); the Source it draws from is not.
type DiscreteGaussian struct {
	sigma2   *big.Rat
	num, den *big.Int // σ² = num/den, in lowest terms
	t        uint64   // ⌊σ⌋ + 1, the scale of the discrete Laplace proposal
	// γ(y) = (|y|·t·den − num)² / (2·num·den·t²) (Algorithm 3's
	// (|Y| − σ²/t)²/(2σ²) with σ² = num/den); gden is its denominator.
	td, gden *big.Int
	fast     bool // σ² is an integer below maxFastSigma2: sampleFast
	// σ² < maxTableSigma2: Sample and AddTo draw from tab once it is
	// built (by UseTable, or by an AddTo of at least tabMin values).
	useTab  bool
	tabMin  int
	tabOnce sync.Once
	tab     atomic.Pointer[dgTable]
}

// maxSigma2Bits bounds σ² so that t fits comfortably in 64 bits.
const maxSigma2Bits = 120

// NewDiscreteGaussian returns a sampler of N_Z(0, sigma2) for the exact
// rational variance parameter sigma2 (copied). It returns an error
// wrapping [ErrInvalidSigma] if sigma2 ≤ 0 or σ² ≥ 2^120.
func NewDiscreteGaussian(sigma2 *big.Rat) (*DiscreteGaussian, error) {
	if sigma2 == nil || sigma2.Sign() <= 0 {
		return nil, fmt.Errorf("%w: got %v", ErrInvalidSigma, sigma2)
	}
	s2 := new(big.Rat).Set(sigma2)
	num, den := new(big.Int).Set(s2.Num()), new(big.Int).Set(s2.Denom())
	fl := new(big.Int).Quo(num, den) // ⌊σ²⌋
	if fl.BitLen() >= maxSigma2Bits {
		return nil, fmt.Errorf("%w: got %v", ErrInvalidSigma, s2.FloatString(3))
	}
	// ⌊σ⌋ = ⌊√⌊σ²⌋⌋ exactly, since m ≤ √x ⇔ m² ≤ x ⇔ m² ≤ ⌊x⌋ for integer m.
	t := new(big.Int).Sqrt(fl).Uint64() + 1
	bt := new(big.Int).SetUint64(t)
	td := new(big.Int).Mul(bt, den)
	gden := new(big.Int).Mul(num, den)
	gden.Mul(gden, bt).Mul(gden, bt).Lsh(gden, 1)
	fast := den.IsInt64() && den.Int64() == 1 && num.IsUint64() && num.Uint64() < maxFastSigma2
	g := &DiscreteGaussian{sigma2: s2, num: num, den: den, t: t, td: td, gden: gden, fast: fast}
	if num.Cmp(new(big.Int).Mul(den, big.NewInt(maxTableSigma2))) < 0 {
		g.useTab, g.tabMin = true, int(10*t+40)/tableBuildRatio
	}
	return g, nil
}

// NewDiscreteGaussianFloat returns a sampler of N_Z(0, σ²) where σ² is the
// exact square of the float64 sigma, converted without rounding (as
// Canonne et al.'s reference code does with Fraction(sigma)**2). It returns
// an error wrapping [ErrInvalidSigma] if sigma is not finite and positive.
func NewDiscreteGaussianFloat(sigma float64) (*DiscreteGaussian, error) {
	if !(sigma > 0) || math.IsInf(sigma, 0) {
		return nil, fmt.Errorf("%w: sigma = %v", ErrInvalidSigma, sigma)
	}
	s := new(big.Rat).SetFloat64(sigma)
	return NewDiscreteGaussian(s.Mul(s, s))
}

// Sigma2 returns a copy of σ².
func (g *DiscreteGaussian) Sigma2() *big.Rat { return new(big.Rat).Set(g.sigma2) }

// tableBuildRatio: an AddTo of at least (table entries)/tableBuildRatio
// values builds the table; fewer draws cost less by Canonne et al.'s
// sampler than building it (about 100 ns per entry against about 300 per
// CKS draw and 25 per table draw, BenchmarkDiscreteGaussianSample).
const tableBuildRatio = 2

// Sample returns one draw from N_Z(0, σ²): from the table once it is built
// (see [DiscreteGaussian.UseTable]), else by Canonne et al.'s Algorithm 3.
func (g *DiscreteGaussian) Sample(s *Source) int64 {
	if t := g.tab.Load(); t != nil {
		return t.sample(s)
	}
	return g.sampleCKS(s)
}

// UseTable builds the table sampler now if σ² < 2^28 (once; safe for
// concurrent use) and reports whether [DiscreteGaussian.Sample] and
// [DiscreteGaussian.AddTo] draw from it from now on. The table holds
// 10(⌊σ⌋+1) + 41 entries of 24 bytes (8 of them read per draw): 3.9 MB at
// σ² = 2^28, 24 kB at σ² = 10^4. Both samplers give N_Z(0, σ²) exactly,
// but not the same values from one seeded [Source]: a host that needs the
// values a seed gives to be independent of the order of calls (several
// goroutines sharing one sampler, a sampler used for single draws and then
// in bulk) calls UseTable before the first draw. AddTo builds the table
// itself when it draws at least half as many values as the table has
// entries.
func (g *DiscreteGaussian) UseTable() bool {
	if !g.useTab {
		return false
	}
	g.tabOnce.Do(func() {
		if t := newDGTable(g.num, g.den, g.t); t != nil {
			g.tab.Store(t)
		}
	})
	return g.tab.Load() != nil
}

// prepare builds the table for a bulk draw of n values when that pays.
func (g *DiscreteGaussian) prepare(n int) {
	if g.useTab && n >= g.tabMin && g.tab.Load() == nil {
		g.UseTable()
	}
}

// sampleCKS returns one draw from N_Z(0, σ²) by Canonne et al. 2020,
// Algorithm 3.
func (g *DiscreteGaussian) sampleCKS(s *Source) int64 {
	if g.fast {
		return g.sampleFast(s)
	}
	var y, a, gnum big.Int
	for {
		v := s.discreteLaplace(g.t)
		y.SetInt64(v).Abs(&y)
		// γ = (|y|·t·den − num)² / (2·num·den·t²)
		a.Mul(&y, g.td).Sub(&a, g.num)
		gnum.Mul(&a, &a)
		if s.bernoulliExpBig(&gnum, g.gden) {
			return v
		}
	}
}

// AddTo adds an independent draw to every element of dst and returns dst;
// for at least half as many values as the table has entries it builds
// the table first
// (see [DiscreteGaussian.UseTable]).
func (g *DiscreteGaussian) AddTo(dst []int64, s *Source) []int64 {
	g.prepare(len(dst))
	if t := g.tab.Load(); t != nil {
		t.addTo(dst, s)
		return dst
	}
	for i := range dst {
		dst[i] += g.Sample(s)
	}
	return dst
}

// discreteLaplace returns a draw from the discrete Laplace distribution
// with scale t, P[X = x] ∝ exp(−|x|/t) (Canonne et al. 2020, Algorithm 2
// with s = 1).
func (s *Source) discreteLaplace(t uint64) int64 {
	for {
		u := s.uint64n(t)
		if !s.bernoulliExp(u, t) {
			continue
		}
		v := uint64(0)
		for s.bernoulliExp(1, 1) {
			v++
		}
		x := u + t*v // t < 2^61 and v is tiny, so this cannot overflow in practice
		if x > math.MaxInt64 {
			continue
		}
		neg := s.c.Uint64()&1 == 1
		if neg && x == 0 {
			continue
		}
		if neg {
			return -int64(x)
		}
		return int64(x)
	}
}

// bernoulliExp returns true with probability exp(−n/d), exactly
// (Canonne et al. 2020, Algorithm 1). d must be > 0.
func (s *Source) bernoulliExp(n, d uint64) bool {
	for n > d {
		if !s.bernoulliExp01(1, 1) {
			return false
		}
		n -= d
	}
	return s.bernoulliExp01(n, d)
}

// bernoulliExp01 returns true with probability exp(−n/d) for n ≤ d: draw
// A_k ~ Bernoulli(γ/k) for k = 1, 2, … until one is 0, and return whether
// that k is odd.
func (s *Source) bernoulliExp01(n, d uint64) bool {
	k := uint64(1)
	if n == d {
		k = 2 // A_1 ~ Bernoulli(1) needs no draw
	}
	for {
		hi, lo := bits.Mul64(d, k)
		if hi != 0 {
			// d·k overflows 64 bits: continue in big arithmetic.
			var bn, bd, bk big.Int
			bn.SetUint64(n)
			bd.SetUint64(d)
			bk.SetUint64(k)
			bd.Mul(&bd, &bk)
			if !s.bernoulliBig(&bn, &bd) {
				return k%2 == 1
			}
		} else if s.uint64n(lo) >= n {
			return k%2 == 1
		}
		k++
	}
}

// bernoulliExpBig is bernoulliExp for big n and d > 0.
func (s *Source) bernoulliExpBig(n, d *big.Int) bool {
	if n.IsUint64() && d.IsUint64() {
		return s.bernoulliExp(n.Uint64(), d.Uint64())
	}
	var q, r big.Int
	q.QuoRem(n, d, &r)
	// ⌊γ⌋ rounds of Bernoulli(exp(−1)); each fails with probability 1−1/e,
	// so the loop ends quickly whatever ⌊γ⌋ is.
	for one := big.NewInt(1); q.Sign() > 0; q.Sub(&q, one) {
		if !s.bernoulliExp01(1, 1) {
			return false
		}
	}
	var dk, kk big.Int
	for k := int64(1); ; k++ {
		dk.Mul(d, kk.SetInt64(k))
		if !s.bernoulliBig(&r, &dk) {
			return k%2 == 1
		}
	}
}

// bernoulliBig returns true with probability n/d for 0 ≤ n ≤ d, d > 0.
func (s *Source) bernoulliBig(n, d *big.Int) bool {
	if d.IsUint64() {
		return s.uint64n(d.Uint64()) < n.Uint64()
	}
	return s.uniformBig(d).Cmp(n) < 0
}

// uniformBig returns a uniform integer in [0, d) for d > 0, by rejection
// from the smallest power of two ≥ d.
func (s *Source) uniformBig(d *big.Int) *big.Int {
	nbits := d.BitLen()
	words := (nbits + 63) / 64
	buf := make([]big.Word, 0, words*2)
	x := new(big.Int)
	for {
		buf = buf[:0]
		for i := 0; i < words; i++ {
			w := s.c.Uint64()
			if bits.UintSize == 32 {
				buf = append(buf, big.Word(w), big.Word(w>>32))
			} else {
				buf = append(buf, big.Word(w))
			}
		}
		x.SetBits(buf)
		if extra := len(buf)*bits.UintSize - nbits; extra > 0 {
			x.Rsh(x, uint(extra))
		}
		if x.Cmp(d) < 0 {
			return x
		}
		buf = make([]big.Word, 0, words*2) // x now owns the old buffer
	}
}

// u128 is an unsigned 128-bit integer for the allocation-free path of
// [DiscreteGaussian.Sample].
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

func (a u128) sub(b u128) u128 {
	lo, borrow := bits.Sub64(a.lo, b.lo, 0)
	hi, _ := bits.Sub64(a.hi, b.hi, borrow)
	return u128{hi, lo}
}

// mul64 returns a·k and whether it overflowed 128 bits.
func (a u128) mul64(k uint64) (u128, bool) {
	h1, l1 := bits.Mul64(a.lo, k)
	h2, l2 := bits.Mul64(a.hi, k)
	hi, carry := bits.Add64(h1, l2, 0)
	return u128{hi, l1}, h2 != 0 || carry != 0
}

func (a u128) bitLen() int {
	if a.hi != 0 {
		return 64 + bits.Len64(a.hi)
	}
	return bits.Len64(a.lo)
}

// uniform128 returns a uniform value in [0, m) for m > 0, by rejection
// from the smallest power of two ≥ m.
func (s *Source) uniform128(m u128) u128 {
	if m.hi == 0 {
		return u128{0, s.uint64n(m.lo)}
	}
	hb := uint(m.bitLen() - 64) // bits of the high word
	for {
		x := u128{s.c.Uint64() >> (64 - hb), s.c.Uint64()}
		if x.less(m) {
			return x
		}
	}
}

// bernoulliExp128 returns true with probability exp(−n/d), exactly, for
// d > 0 (Canonne et al. 2020, Algorithm 1, in 128-bit arithmetic; big
// integers take over in the unreachable case that d·k overflows).
func (s *Source) bernoulliExp128(n, d u128) bool {
	for !n.less(d) { // n ≥ d: one Bernoulli(exp(−1)) per whole unit
		if !s.bernoulliExp01(1, 1) {
			return false
		}
		n = n.sub(d)
	}
	// n < d: draw A_k ~ Bernoulli(n/(d·k)) until one is 0.
	for k := uint64(1); ; k++ {
		dk, over := d.mul64(k)
		if over {
			// k ≥ 2^14 at d < 2^114: probability below 1/2^14!, but stay exact.
			var bn, bd, bk big.Int
			bn.SetUint64(n.hi).Lsh(&bn, 64).Or(&bn, new(big.Int).SetUint64(n.lo))
			bd.SetUint64(d.hi).Lsh(&bd, 64).Or(&bd, new(big.Int).SetUint64(d.lo))
			bd.Mul(&bd, bk.SetUint64(k))
			if !s.bernoulliBig(&bn, &bd) {
				return k%2 == 1
			}
			continue
		}
		if !s.uniform128(dk).less(n) {
			return k%2 == 1
		}
	}
}

// maxFastSigma2 bounds an integer σ² for the 128-bit path: t = ⌊σ⌋ + 1 <
// 2^28 + 1, so 2σ²t² < 2^114 and |y|·t fits 64 bits for every y the
// discrete Laplace proposal produces short of a 2^-200 tail.
const maxFastSigma2 = 1 << 56

// sampleFast is Algorithm 3 for an integer σ² = num < 2^56 without
// allocation: γ = (|y|·t − σ²)² / (2σ²t²) in 128-bit integers. A proposal
// with |y|·t ≥ 2^64 (|y| > 2^8σ, probability below e^-256) is decided in
// big integers, so the output is exact.
func (g *DiscreteGaussian) sampleFast(s *Source) int64 {
	num, t := g.num.Uint64(), g.t
	hi, lo := bits.Mul64(num, t*t)
	d := u128{hi<<1 | lo>>63, lo << 1} // 2σ²t²
	for {
		v := s.discreteLaplace(t)
		y := uint64(v)
		if v < 0 {
			y = uint64(-v)
		}
		yh, yt := bits.Mul64(y, t)
		if yh != 0 {
			var a, gnum big.Int
			a.SetUint64(y).Mul(&a, g.td).Sub(&a, g.num)
			gnum.Mul(&a, &a)
			if s.bernoulliExpBig(&gnum, g.gden) {
				return v
			}
			continue
		}
		var a uint64
		if yt >= num {
			a = yt - num
		} else {
			a = num - yt
		}
		ah, al := bits.Mul64(a, a)
		if s.bernoulliExp128(u128{ah, al}, d) {
			return v
		}
	}
}

// uint64n returns a uniform integer in [0, n) for n > 0, by Lemire's
// multiply-and-reject method on the ChaCha8 stream directly. It consumes
// the stream exactly as math/rand/v2's Rand.Uint64N does on a 64-bit
// platform (so a seeded source gives the same draws), without the
// interface call per word. It panics if n is 0, as Rand.Uint64N does.
func (s *Source) uint64n(n uint64) uint64 {
	if n == 0 {
		panic("privacy: Uint64N: n = 0")
	}
	if n&(n-1) == 0 { // a power of two: mask
		return s.c.Uint64() & (n - 1)
	}
	hi, lo := bits.Mul64(s.c.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(s.c.Uint64(), n)
		}
	}
	return hi
}
