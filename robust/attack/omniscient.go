package attack

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/internal/detmath"
)

// ALIE is "A Little Is Enough" of Baruch, Baruch and Goldberg (2019),
// NeurIPS, Algorithm 3: every Byzantine client sends μ − z·σ, with μ and σ
// the coordinate-wise mean and standard deviation of the honest updates
// (σ with divisor h − 1). Z = 0 means the paper's z_max for the round's
// n = h + f clients: s = ⌊n/2 + 1⌋ − f, z = Φ⁻¹((n − s)/n) (see [ALIEZ]),
// unless ZSet says Z is meant as given (z = 0 sends the honest mean).
type ALIE struct {
	Z float64
	// ZSet makes Craft use Z as given, 0 included.
	ZSet bool
}

// Name returns "alie".
func (ALIE) Name() string { return "alie" }

// ALIEZ returns z_max = Φ⁻¹((n − s)/n) with s = ⌊n/2 + 1⌋ − f, the largest
// shift, in standard deviations, that the paper shows stays hidden among n
// clients of which f are Byzantine. It returns an error wrapping
// [ErrParam] unless 0 < f < n and 0 < (n − s)/n < 1.
func ALIEZ(n, f int) (float64, error) {
	if f <= 0 || f >= n {
		return 0, fmt.Errorf("%w: ALIE needs 0 < f < n, got n = %d, f = %d", ErrParam, n, f)
	}
	s := n/2 + 1 - f
	p := float64(n-s) / float64(n)
	if !(p > 0 && p < 1) {
		return 0, fmt.Errorf("%w: ALIE: (n−s)/n = %v for n = %d, f = %d", ErrParam, p, n, f)
	}
	return math.Sqrt2 * detmath.Erfinv(2*p-1), nil
}

// Craft returns f copies of μ − z·σ.
func (a ALIE) Craft(_ *rand.Rand, honest []fl.Update, f int) ([][]float64, error) {
	d, err := check(honest, f)
	if err != nil || f == 0 {
		return [][]float64{}, err
	}
	z := a.Z
	if z == 0 && !a.ZSet {
		if z, err = ALIEZ(len(honest)+f, f); err != nil {
			return nil, err
		}
	}
	if math.IsNaN(z) || math.IsInf(z, 0) {
		return nil, fmt.Errorf("%w: ALIE.Z = %v", ErrParam, z)
	}
	mu := mean(honest, d)
	sd := std(honest, mu)
	for j := range mu {
		mu[j] -= float64(z * sd[j])
	}
	return copies(mu, f), nil
}

// IPM is the inner product manipulation attack of Xie, Koyejo and Gupta
// (2020), "Fall of Empires: Breaking Byzantine-tolerant SGD by Inner Product
// Manipulation", UAI: every Byzantine client sends −ε·μ, so that the inner
// product of the honest mean with the aggregate turns negative. Epsilon 0
// means 0.1, the paper's choice against median-like rules (it uses large ε,
// such as 100, against Krum).
type IPM struct {
	Epsilon float64
}

// Name returns "ipm".
func (IPM) Name() string { return "ipm" }

// Craft returns f copies of −ε·μ.
func (a IPM) Craft(_ *rand.Rand, honest []fl.Update, f int) ([][]float64, error) {
	d, err := check(honest, f)
	if err != nil {
		return nil, err
	}
	eps := a.Epsilon
	if eps == 0 {
		eps = 0.1
	}
	if !(eps > 0) || math.IsInf(eps, 0) {
		return nil, fmt.Errorf("%w: IPM.Epsilon = %v", ErrParam, a.Epsilon)
	}
	mu := mean(honest, d)
	for j := range mu {
		mu[j] *= -eps
	}
	return copies(mu, f), nil
}

// Direction is the perturbation ∇p of [MinMax] and [MinSum].
type Direction int

// Perturbation directions of Shejwalkar and Houmansadr (2021), Section 4.
const (
	InverseStd  Direction = iota // ∇p = −σ, the coordinate-wise standard deviation
	InverseUnit                  // ∇p = −μ/‖μ‖
	InverseSign                  // ∇p = −sign(μ)
)

// DefaultTol is the default relative tolerance of the γ search: tight
// enough that γ is the supremum to about 12 digits (each halving of the
// bracket costs O(h)).
const DefaultTol = 1e-12

// MinMax is the min-max attack of Shejwalkar and Houmansadr (2021),
// "Manipulating the Byzantine: Optimizing Model Poisoning Attacks and
// Defenses for Federated Learning", NDSS, Eq. (4): every Byzantine client
// sends μ + γ·∇p with the largest γ ≥ 0 such that
//
//	maxᵢ ‖μ + γ∇p − Δᵢ‖ ≤ max_{i,j} ‖Δᵢ − Δⱼ‖
//
// over the honest updates. The search doubles γ from Start (0 means 1, the
// paper's γ_init is its choice) while the condition holds and then bisects
// until the bracket is within Tol (relative) of γ, returning the feasible
// end. (The paper's Algorithm 1 halves its step from
// γ_init, which caps γ at 2γ_init; doubling first removes the cap. The
// condition holds on an interval [0, γ*] because its left side is convex
// in γ, so the search finds γ* to the tolerance.) Each test of γ costs
// O(h) after one O(h·d) pass; the threshold costs O(h²·d).
type MinMax struct {
	Dir Direction
	// Tol is the relative tolerance on γ; 0 means DefaultTol.
	Tol float64
	// Start is the first γ the search tries, > 0; 0 means 1.
	Start float64
}

// MinSum is the min-sum attack of the same paper: as [MinMax] with the
// condition
//
//	Σᵢ ‖μ + γ∇p − Δᵢ‖² ≤ minᵢ Σⱼ ‖Δᵢ − Δⱼ‖²,
//
// the bound of the authors' released code (github.com/vrt1shjwlkr/
// NDSS21-Model-Poisoning, the min_score of its min-sum notebooks), which
// produced the paper's figures: the malicious update's sum of squared
// distances stays below that of the most central honest update. Eq. (5)
// as printed bounds it by the largest honest sum instead, maxᵢ Σⱼ, a
// weaker constraint and a larger γ; Bound selects it.
type MinSum struct {
	Dir Direction
	// Tol is the relative tolerance on γ; 0 means DefaultTol.
	Tol float64
	// Start is the first γ the search tries, > 0; 0 means 1.
	Start float64
	// Bound is MinSumCode (the zero value: minᵢ) or MinSumPaper (maxᵢ).
	Bound MinSumBound
}

// MinSumBound selects the right side of [MinSum]'s condition.
type MinSumBound int

// The bounds of [MinSum].
const (
	MinSumCode  MinSumBound = iota // minᵢ Σⱼ ‖Δᵢ − Δⱼ‖², the released code
	MinSumPaper                    // maxᵢ Σⱼ ‖Δᵢ − Δⱼ‖², Eq. (5) as printed
)

// search is what craftOpt needs of a MinMax or MinSum.
type search struct {
	dir        Direction
	tol, start float64
	sum        bool
	bound      MinSumBound
}

func (a MinMax) search() search { return search{dir: a.Dir, tol: a.Tol, start: a.Start} }

func (a MinSum) search() search {
	return search{dir: a.Dir, tol: a.Tol, start: a.Start, sum: true, bound: a.Bound}
}

// Name returns "minmax".
func (MinMax) Name() string { return "minmax" }

// Name returns "minsum".
func (MinSum) Name() string { return "minsum" }

// Craft returns f copies of μ + γ∇p.
func (a MinMax) Craft(_ *rand.Rand, honest []fl.Update, f int) ([][]float64, error) {
	return craftOpt(honest, f, a.search())
}

// Craft returns f copies of μ + γ∇p.
func (a MinSum) Craft(_ *rand.Rand, honest []fl.Update, f int) ([][]float64, error) {
	return craftOpt(honest, f, a.search())
}

// Gamma returns the γ that Craft uses for these honest updates.
func (a MinMax) Gamma(honest []fl.Update) (float64, error) {
	g, _, err := optGamma(honest, a.search())
	return g, err
}

// Gamma returns the γ that Craft uses for these honest updates.
func (a MinSum) Gamma(honest []fl.Update) (float64, error) {
	g, _, err := optGamma(honest, a.search())
	return g, err
}

func craftOpt(honest []fl.Update, f int, sr search) ([][]float64, error) {
	if _, err := check(honest, f); err != nil {
		return nil, err
	}
	_, m, err := optGamma(honest, sr)
	if err != nil {
		return nil, err
	}
	return copies(m, f), nil
}

// optGamma returns γ and μ + γ∇p.
func optGamma(honest []fl.Update, sr search) (float64, []float64, error) {
	d, err := check(honest, 0)
	if err != nil {
		return 0, nil, err
	}
	dir, tol, start, sum := sr.dir, sr.tol, sr.start, sr.sum
	if tol == 0 {
		tol = DefaultTol
	}
	if start == 0 {
		start = 1
	}
	if !(tol > 0 && tol < 1) || !(start > 0) || math.IsInf(start, 0) {
		return 0, nil, fmt.Errorf("%w: Tol = %v, Start = %v", ErrParam, sr.tol, sr.start)
	}
	if sr.bound != MinSumCode && sr.bound != MinSumPaper {
		return 0, nil, fmt.Errorf("%w: MinSum.Bound = %d", ErrParam, sr.bound)
	}
	mu := mean(honest, d)
	p := make([]float64, d)
	switch dir {
	case InverseStd:
		for j, s := range std(honest, mu) {
			p[j] = -s
		}
	case InverseUnit:
		var n2 float64
		for _, v := range mu {
			n2 += float64(v * v)
		}
		if n2 > 0 {
			nrm := math.Sqrt(n2)
			for j, v := range mu {
				p[j] = -v / nrm
			}
		}
	case InverseSign:
		for j, v := range mu {
			switch {
			case v > 0:
				p[j] = -1
			case v < 0:
				p[j] = 1
			}
		}
	default:
		return 0, nil, fmt.Errorf("%w: direction %d", ErrParam, dir)
	}
	// ‖μ + γp − Δᵢ‖² = aᵢ + 2γbᵢ + γ²c.
	h := len(honest)
	a := make([]float64, h)
	b := make([]float64, h)
	var c float64
	for _, v := range p {
		c += float64(v * v)
	}
	for i, u := range honest {
		for j, v := range u.Delta {
			e := mu[j] - v
			a[i] += float64(e * e)
			b[i] += float64(e * p[j])
		}
	}
	// The thresholds, from explicit pairs.
	threshold := 0.0
	if sum && sr.bound == MinSumCode {
		threshold = math.Inf(1)
	}
	for i := range honest {
		var rowSum float64
		for k := range honest {
			var s float64
			for j, v := range honest[i].Delta {
				e := v - honest[k].Delta[j]
				s += float64(e * e)
			}
			rowSum += s
			if !sum {
				threshold = max(threshold, s)
			}
		}
		switch {
		case sum && sr.bound == MinSumCode:
			threshold = min(threshold, rowSum)
		case sum:
			threshold = max(threshold, rowSum)
		}
	}
	feasible := func(g float64) bool {
		if sum {
			var s float64
			for i := range a {
				s += a[i] + float64(2*g*b[i]) + float64(g*g*c)
			}
			return s <= threshold
		}
		for i := range a {
			if a[i]+float64(2*g*b[i])+float64(g*g*c) > threshold {
				return false
			}
		}
		return true
	}
	var gamma float64
	if c > 0 {
		lo, hi := 0.0, start
		for feasible(hi) {
			lo, hi = hi, 2*hi
			if math.IsInf(hi, 0) {
				return 0, nil, fmt.Errorf("%w: γ does not stay bounded", ErrParam)
			}
		}
		for hi-lo > float64(tol*hi) { // rounded: the same number of steps on every GOARCH
			mid := lo + (hi-lo)/2
			if feasible(mid) {
				lo = mid
			} else {
				hi = mid
			}
		}
		gamma = lo
	}
	for j := range mu {
		mu[j] += float64(gamma * p[j])
	}
	return gamma, mu, nil
}
