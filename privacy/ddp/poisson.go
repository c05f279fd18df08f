package ddp

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"

	"github.com/fedgo/fedgo/internal/exact"
	"github.com/fedgo/fedgo/privacy"
)

// maxLambda bounds the Poisson mean so that every rational factor below
// fits 64 bits.
const maxLambda = 1 << 40

// errLambda is returned for a Poisson mean out of range.
var errLambda = errors.New("ddp: Poisson mean must be an integer in [1, 2^40]")

// poisson samples Poisson(λ) exactly for an integer λ ≥ 1, from uniform
// integers only, by rejection from a two-sided geometric proposal centred
// at the mode λ whose ratio ρ = (s−1)/s, s = ⌈√λ⌉+1, is rational.
//
// Write R(y) = P[X = λ+y]/P[X = λ]: R(y) = Π_{j=1..y} λ/(λ+j) for y > 0 and
// R(y) = Π_{j=0..|y|−1} (λ−j)/λ for y < 0 (0 below −λ). On each side the
// factors of R(y)/ρ^{|y|} are > 1 up to an index y*± and < 1 after it, so
// C± = sup R(y)/ρ^{|y|} is the product of the factors up to y*±, and the
// acceptance probability R(y)/(C±·ρ^{|y|}) is a product of rational factors
// each ≤ 1 (the reciprocals of the factors between y and y*±, or the
// factors beyond y*±): a chain of exact Bernoulli trials that stops at the
// first failure. The proposal picks the side + (y ≥ 0) with probability
// C+/(C+ + ρ·C−), then y = G or y = −1−G with G geometric of ratio ρ. The
// output distribution is Poisson(λ) exactly; expected cost O(√λ) uniform
// draws. This is [poisson.sampleReject]; for λ ≤ maxTableLambda,
// [poisson.sample] draws from a [poissonTable] instead, in
// expected O(1) draws.
type poisson struct {
	lambda, s     uint64
	yPlus, yMinus uint64      // y*+ and y*−
	side          exact.Ratio // P[side +]
	// The geometric proposal in blocks of k: powS[r] = s^r and
	// powS1[r] = (s−1)^r for r ≤ k, s^k < 2^63.
	k           uint64
	powS, powS1 []uint64
	tab         *poissonTable // nil above maxTableLambda
}

func newPoisson(lambda uint64) (*poisson, error) {
	if lambda < 1 || lambda > maxLambda {
		return nil, fmt.Errorf("%w: got %d", errLambda, lambda)
	}
	s := uint64(math.Ceil(math.Sqrt(float64(lambda)))) + 1
	p := &poisson{lambda: lambda, s: s, powS: []uint64{1}, powS1: []uint64{1}}
	for {
		hi, lo := bits.Mul64(p.powS[p.k], s)
		if hi != 0 || lo >= 1<<63 {
			break
		}
		p.powS, p.powS1 = append(p.powS, lo), append(p.powS1, p.powS1[p.k]*(s-1))
		p.k++
	}
	// + side: term_j = λs/((λ+j)(s−1)) > 1 ⟺ j(s−1) < λ.
	p.yPlus = (lambda - 1) / (s - 1) // largest j ≥ 0 with j(s−1) < λ
	// − side: term_j = (λ−j)s/(λ(s−1)) > 1 ⟺ js < λ, for j = 0, 1, ...
	p.yMinus = (lambda-1)/s + 1 // count of j ≥ 0 with js < λ
	// C+ = Π_{j=1..y*+} λs/((λ+j)(s−1)) = N+/D+ and
	// C− = Π_{j=0..y*−−1} (λ−j)s/(λ(s−1)) = N−/D−, so with ρ = (s−1)/s
	// P[+] = C+/(C+ + ρC−) = N+·D−·s / (N+·D−·s + (s−1)·N−·D+).
	np := prodPow(lambda*s, p.yPlus)
	dp := prod(func(j uint64) uint64 { return lambda + j + 1 }, p.yPlus)
	dp.Mul(dp, prodPow(s-1, p.yPlus))
	nm := prod(func(j uint64) uint64 { return lambda - j }, p.yMinus)
	nm.Mul(nm, prodPow(s, p.yMinus))
	dm := prodPow(lambda, p.yMinus)
	dm.Mul(dm, prodPow(s-1, p.yMinus))
	num := new(big.Int).Mul(np, dm)
	num.Mul(num, new(big.Int).SetUint64(s))
	den := new(big.Int).Mul(nm, dp)
	den.Mul(den, new(big.Int).SetUint64(s-1))
	den.Add(den, num)
	p.side = exact.NewRatio(num, den)
	if lambda <= maxTableLambda {
		p.tab = newPoissonTable(p)
	}
	return p, nil
}

// prod returns Π_{j<n} f(j) by a product tree.
func prod(f func(uint64) uint64, n uint64) *big.Int {
	var rec func(lo, hi uint64) *big.Int
	rec = func(lo, hi uint64) *big.Int {
		if hi-lo <= 8 {
			r := big.NewInt(1)
			for j := lo; j < hi; j++ {
				r.Mul(r, new(big.Int).SetUint64(f(j)))
			}
			return r
		}
		mid := lo + (hi-lo)/2
		return new(big.Int).Mul(rec(lo, mid), rec(mid, hi))
	}
	return rec(0, n)
}

// prodPow returns x^n.
func prodPow(x, n uint64) *big.Int {
	return new(big.Int).Exp(new(big.Int).SetUint64(x), new(big.Int).SetUint64(n), nil)
}

// chain is a product of Bernoulli trials of probabilities num/den, each
// num ≤ den < 2^64, merged into one draw while the products fit 64 bits
// (the trial of a product of probabilities is the product of the trials,
// in distribution). It is true when every trial so far succeeded.
type chain struct {
	s      *privacy.Source
	ok     bool
	nu, de uint64
}

func newChain(s *privacy.Source) chain { return chain{s: s, ok: true, nu: 1, de: 1} }

// mul multiplies in the trial num/den; it returns false once a trial
// failed.
func (c *chain) mul(num, den uint64) bool {
	nh, nl := bits.Mul64(c.nu, num)
	dh, dl := bits.Mul64(c.de, den)
	if nh != 0 || dh != 0 {
		if !c.flush() {
			return false
		}
		c.nu, c.de = num, den
		return true
	}
	c.nu, c.de = nl, dl
	return true
}

// flush draws the pending product and reports whether it succeeded.
func (c *chain) flush() bool {
	if c.ok && c.de > 1 {
		c.ok = c.s.Uint64N(c.de) < c.nu
	}
	c.nu, c.de = 1, 1
	return c.ok
}

// geometric returns G with P[G = g] = (1−ρ)ρ^g, ρ = (s−1)/s, as
// G = k·B + R with B and R independent (so it is for a geometric
// variable): B geometric of ratio ρ^k, one uniform draw per block, and R
// on {0, …, k−1} with P[R = r] ∝ ρ^r, by rejection from the uniform
// (acceptance ρ^r ≥ ρ^k).
func (p *poisson) geometric(s *privacy.Source) uint64 {
	k := p.k
	b := uint64(0)
	for s.Uint64N(p.powS[k]) < p.powS1[k] {
		b++
	}
	for {
		r := s.Uint64N(k)
		if s.Uint64N(p.powS[r]) < p.powS1[r] {
			return b*k + r
		}
	}
}

// sample returns one draw of Poisson(λ): from the table sampler when
// there is one, else by [poisson.sampleReject].
func (p *poisson) sample(s *privacy.Source) int64 {
	if p.tab != nil {
		return p.tab.sample(p, s)
	}
	return p.sampleReject(s)
}

// sampleReject returns one draw of Poisson(λ) by rejection from the
// two-sided geometric proposal alone: O(√λ) uniform draws.
func (p *poisson) sampleReject(s *privacy.Source) int64 {
	l := p.lambda
	for {
		plus := p.side.Bernoulli(s)
		g := p.geometric(s)
		if plus {
			if p.acceptPlus(g, s) {
				return int64(l + g)
			}
			continue
		}
		k := g + 1 // y = −k
		if k > l {
			continue // below zero: probability 0
		}
		if p.acceptMinus(k, s) {
			return int64(l - k)
		}
	}
}

// acceptPlus draws the acceptance R(y)/(C+·ρ^y) of y ≥ 0.
func (p *poisson) acceptPlus(y uint64, s *privacy.Source) bool {
	l, sq, s1 := p.lambda, p.s, p.s-1
	c := newChain(s)
	if y <= p.yPlus {
		// Π_{j=y+1..y*+} (λ+j)(s−1)/(λs)
		for j := y + 1; j <= p.yPlus && c.mul((l+j)*s1, l*sq); j++ {
		}
	} else {
		// Π_{j=y*++1..y} λs/((λ+j)(s−1))
		for j := p.yPlus + 1; j <= y && c.mul(l*sq, (l+j)*s1); j++ {
		}
	}
	return c.flush()
}

// acceptMinus draws the acceptance R(−k)/(C−·ρ^k) of y = −k, 1 ≤ k ≤ λ.
func (p *poisson) acceptMinus(k uint64, s *privacy.Source) bool {
	l, sq, s1 := p.lambda, p.s, p.s-1
	c := newChain(s)
	if k <= p.yMinus {
		// Π_{j=k..y*−−1} λ(s−1)/((λ−j)s)
		for j := k; j < p.yMinus && c.mul(l*s1, (l-j)*sq); j++ {
		}
	} else {
		// Π_{j=y*−..k−1} (λ−j)s/(λ(s−1))
		for j := p.yMinus; j < k && c.mul((l-j)*sq, l*s1); j++ {
		}
	}
	return c.flush()
}

// skellam samples Sk(λ) = Poisson(λ) − Poisson(λ), exactly.
func (p *poisson) skellam(s *privacy.Source) int64 {
	a := p.sample(s)
	b := p.sample(s) // independent of a: the source moved on
	return a - b
}
