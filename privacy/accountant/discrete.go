package accountant

import (
	"fmt"
	"math"
)

// DiscreteKind names an integer noise mechanism whose noise is the sum of
// Shares independent shares, as in distributed DP under secure aggregation:
// each surviving client adds one share to its integer update before masking,
// so the unmasked sum carries the whole noise.
type DiscreteKind int

const (
	// DistributedDiscreteGaussian: each share is N_Z(0, Variance/Shares)
	// per coordinate, the discrete Gaussian with parameter σ² =
	// Variance/Shares (Kairouz, Liu, Steinke 2021, "The Distributed
	// Discrete Gaussian Mechanism for Federated Learning with Secure
	// Aggregation", arXiv 2102.06387). Its true variance is slightly below
	// σ² (Canonne, Kamath, Steinke 2020); Variance is the parameter, not
	// the measured variance. With Shares = 1 this is the
	// central discrete Gaussian of Canonne, Kamath, Steinke (2020).
	DistributedDiscreteGaussian DiscreteKind = iota + 1
	// DistributedSkellam: each share is Sk(Variance/(2·Shares)) per
	// coordinate, the difference of two independent Poisson(Variance/
	// (2·Shares)) variables; the sum of Shares shares is exactly the
	// symmetric Skellam of variance Variance (Agarwal, Kairouz, Liu 2021,
	// "The Skellam Mechanism for Differentially Private Federated
	// Learning", arXiv 2110.04995).
	DistributedSkellam
)

// String returns "ddg", "skellam" or DiscreteKind(n).
func (k DiscreteKind) String() string {
	switch k {
	case DistributedDiscreteGaussian:
		return "ddg"
	case DistributedSkellam:
		return "skellam"
	}
	return fmt.Sprintf("DiscreteKind(%d)", int(k))
}

// DiscreteNoise describes the noise of one release in integer units (after
// the client's scaling by 1/γ and rounding).
//
// Adjacency: distributed noise (Shares > 1) is accounted with [FixedSize]
// sampling only (replace-one: the neighbouring sums carry the same shares
// and differ by a shift); under Poisson add/remove the added client's own
// share changes the noise law, and such a step returns [ErrUnsupported]
// (see the package doc).
//
// Sensitivities: L1 and L2 bound the norms of ONE client's integer
// contribution (after rounding, with the rounding's norm inflation
// included). For [Poisson] steps (add/remove adjacency) the sum moves by
// that contribution; for [FixedSize] steps (replace-one adjacency) it moves
// by the difference of two contributions, and the accountant uses 2·L1 and
// 2·L2 itself. Because the shift is an integer vector, the accountant also
// uses ‖Δ‖₂ <= ‖Δ‖₁, ‖Δ‖₁ <= ‖Δ‖₂² and, when Dim is set, ‖Δ‖₁ <= √d·‖Δ‖₂:
// it bounds with min(L2, L1) and min(L1, L2², √d·L2), which are valid
// whatever the host passes.
type DiscreteNoise struct {
	Kind DiscreteKind
	// Shares is n, the number of noise shares in the sum: the MINIMUM
	// number of surviving clients whose shares reach the unmasked sum
	// (the secure-aggregation threshold), >= 1. Fewer shares mean less
	// noise; more survivors only add noise, so ε stays an upper bound
	// whatever happens between the threshold and the sampled count.
	Shares int
	// Variance is the total variance of the summed noise per coordinate,
	// finite and > 0 (for the discrete Gaussian, n times the shares'
	// parameter σ²). For the distributed discrete Gaussian with Shares >= 2
	// the bound needs σ² = Variance/Shares >= 1/4 (Proposition 14 of
	// Kairouz, Liu, Steinke).
	Variance float64
	// L1 and L2 bound the L1 and L2 norms of one client's integer
	// contribution, finite and > 0.
	L1, L2 float64
	// Dim is d, the number of coordinates. The distributed discrete
	// Gaussian with Shares >= 2 needs it (its bound has a τ·d term);
	// elsewhere 0 means unknown and only tightens L1 when set.
	Dim int
}

// minShareVariance is the smallest per-share parameter σ² of the
// distributed discrete Gaussian for which Proposition 14 of Kairouz, Liu,
// Steinke holds (σ >= 1/2).
const minShareVariance = 0.25

// maxExactTauTerms bounds the terms of τ summed one by one; beyond them each
// term is bounded by the last one summed (the terms decrease in k), which
// keeps τ an upper bound.
const maxExactTauTerms = 1 << 20

// Validate reports a field out of range, wrapping [ErrInvalidDiscrete].
func (d DiscreteNoise) Validate() error {
	switch d.Kind {
	case DistributedDiscreteGaussian, DistributedSkellam:
	default:
		return fmt.Errorf("%w: unknown kind %v", ErrInvalidDiscrete, d.Kind)
	}
	if d.Shares < 1 {
		return fmt.Errorf("%w: Shares must be >= 1, got %d", ErrInvalidDiscrete, d.Shares)
	}
	if !finitePositive(d.Variance) {
		return fmt.Errorf("%w: Variance must be finite and > 0, got %v", ErrInvalidDiscrete, d.Variance)
	}
	if !finitePositive(d.L1) || !finitePositive(d.L2) {
		return fmt.Errorf("%w: L1 and L2 must be finite and > 0, got %v, %v", ErrInvalidDiscrete, d.L1, d.L2)
	}
	if d.Dim < 0 {
		return fmt.Errorf("%w: Dim must be >= 0, got %d", ErrInvalidDiscrete, d.Dim)
	}
	if d.Kind == DistributedDiscreteGaussian && d.Shares > 1 {
		if d.Dim < 1 {
			return fmt.Errorf("%w: the distributed discrete Gaussian with %d shares needs Dim >= 1", ErrInvalidDiscrete, d.Shares)
		}
		if d.Variance/float64(d.Shares) < minShareVariance {
			return fmt.Errorf("%w: the distributed discrete Gaussian needs Variance/Shares >= 1/4 (share σ >= 1/2), got %v",
				ErrInvalidDiscrete, d.Variance/float64(d.Shares))
		}
	}
	return nil
}

func finitePositive(x float64) bool { return x > 0 && !math.IsInf(x, 1) }

// DiscreteRDP returns the Rényi DP of ONE unsampled release of d at each
// order, in nats, for the add/remove adjacency (the sum moves by one
// client's contribution, of norms at most L1 and L2):
//
//   - [DistributedDiscreteGaussian]: Kairouz, Liu, Steinke (2021),
//     Proposition 14, Eq. (17), with σ² = Variance/n the shares' parameter
//     and τ = 10·Σ_{k=1}^{n-1} exp(-2π²σ²·k/(k+1)) (their Theorem 1):
//
//     D_α <= min{ α‖Δ‖₂²/(2nσ²) + τd,
//     (α/2)(‖Δ‖₂²/(nσ²) + 2τ‖Δ‖₁/√(nσ²) + τ²d),
//     (α/2)(‖Δ‖₂/√(nσ²) + τ√d)² }.
//
//     With n = 1, τ = 0 and this is α‖Δ‖₂²/(2σ²), the discrete Gaussian's
//     RDP (Canonne, Kamath, Steinke 2020: it is (‖Δ‖₂²/(2σ²))-concentrated
//     DP), valid at every real α; the tests check it is exact at integer α.
//
//   - [DistributedSkellam]: Agarwal, Kairouz, Liu (2021), Theorem 3.5 (as
//     Corollary 3.6 states it for the sum of the shares), at integer α > 1
//     with μ = Variance:
//
//     D_α <= α‖Δ‖₂²/(2μ) + min{ ((2α-1)‖Δ‖₂² + 6‖Δ‖₁)/(4μ²), 3‖Δ‖₁/(2μ) }.
//
// Both noises are symmetric, so the bound holds in both orders of the pair.
// Where a bound is stated at integer orders only (Skellam; the distributed
// discrete Gaussian with n >= 2, whose statement the tests check at integer
// orders), a fractional α gets the linear interpolation of the cumulant
// (α-1)·D_α between ⌊α⌋ and ⌈α⌉ (with 0 at α = 1): the cumulant
// log E[(P/Q)^α] is convex in α, so the chord bounds it (the argument of
// Wang, Balle, Kasiviswanathan 2019, Corollary 10).
//
// Sampling is applied by [RDP] and [RDPAccountant.Compose] with a [Step]
// whose Discrete field is set (FixedSize for Shares > 1).
func DiscreteRDP(d DiscreteNoise, orders []float64) ([]float64, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if err := validateOrders(orders); err != nil {
		return nil, err
	}
	c := newDiscreteCurve(d, 1)
	dst := make([]float64, len(orders))
	for i, a := range orders {
		dst[i] = sanitizeRDP(c.at(a))
	}
	return dst, nil
}

// discreteCurve evaluates the unsampled RDP bound of one discrete
// mechanism for one adjacency.
type discreteCurve struct {
	kind   DiscreteKind
	v      float64 // total variance
	l1, l2 float64 // effective sensitivities
	tau    float64 // DDG: τ of Theorem 1 (0 for one share)
	dim    float64 // d (DDG with n >= 2)
	direct bool    // the bound holds at every real α >= 1
}

// newDiscreteCurve prepares the curve of a validated d; factor is 1 for
// add/remove and 2 for replace-one.
func newDiscreteCurve(d DiscreteNoise, factor float64) discreteCurve {
	L1, L2 := factor*d.L1, factor*d.L2
	l2 := math.Min(L2, L1)
	l1 := math.Min(L1, l2*l2)
	if d.Dim > 0 {
		l1 = math.Min(l1, math.Sqrt(float64(d.Dim))*l2)
	}
	c := discreteCurve{kind: d.Kind, v: d.Variance, l1: l1, l2: l2, dim: float64(d.Dim)}
	if d.Kind == DistributedDiscreteGaussian {
		c.tau = ddgTau(d.Variance/float64(d.Shares), d.Shares)
		c.direct = d.Shares == 1
	}
	return c
}

// ddgTau returns τ = 10·Σ_{k=1}^{n-1} exp(-2π²σ²·k/(k+1)) (Kairouz, Liu,
// Steinke 2021, Theorem 1), or an upper bound on it when n is above
// maxExactTauTerms: the terms decrease in k, so every term past the last
// one summed is bounded by it.
func ddgTau(s2 float64, n int) float64 {
	c := 2 * math.Pi * math.Pi * s2
	sum := 0.0
	last := 0.0
	for k := 1; k < n && k <= maxExactTauTerms; k++ {
		fk := float64(k)
		last = math.Exp(-c * fk / (fk + 1))
		sum += last
	}
	if n-1 > maxExactTauTerms {
		sum += float64(n-1-maxExactTauTerms) * last
	}
	return 10 * sum
}

// eval returns the bound at order α as the paper states it (integer α, or
// any α >= 1 when direct).
func (c discreteCurve) eval(a float64) float64 {
	switch c.kind {
	case DistributedDiscreteGaussian:
		s := math.Sqrt(c.v)
		l2s, l1s := c.l2/s, c.l1/s
		if c.tau == 0 {
			return a / 2 * l2s * l2s
		}
		t, d := c.tau, c.dim
		t1 := a/2*l2s*l2s + t*d
		t2 := a / 2 * (l2s*l2s + 2*l1s*t + t*t*d)
		u := l2s + math.Sqrt(d)*t
		t3 := a / 2 * u * u
		return math.Min(t1, math.Min(t2, t3))
	default: // DistributedSkellam
		mu := c.v
		l22 := c.l2 * c.l2
		extra := math.Min(((2*a-1)*l22+6*c.l1)/(4*mu*mu), 3*c.l1/(2*mu))
		return a*l22/(2*mu) + extra
	}
}

// at returns the bound at any order α > 1: eval where it holds, the
// interpolated cumulant otherwise.
func (c discreteCurve) at(a float64) float64 {
	fl, ce := math.Floor(a), math.Ceil(a)
	if c.direct || fl == ce {
		return c.eval(a)
	}
	return interpolateCumulant(a, func(j int) float64 { return float64(j-1) * c.eval(float64(j)) })
}

// interpolateCumulant returns the RDP at fractional α from the chord of the
// cumulant K(j) = (j-1)·D_j between ⌊α⌋ and ⌈α⌉, K(1) = 0.
func interpolateCumulant(a float64, k func(j int) float64) float64 {
	fl := math.Floor(a)
	w := a - fl
	lo := 0.0
	if fl > 1 {
		lo = k(int(fl))
	}
	return ((1-w)*lo + w*k(int(fl)+1)) / (a - 1)
}

// sanitizeRDP maps rounding below 0 to 0 and NaN to +Inf (no bound).
func sanitizeRDP(r float64) float64 {
	if math.IsNaN(r) {
		return math.Inf(1)
	}
	return math.Max(r, 0)
}

// rdpDiscreteInto writes the RDP of a validated step whose Discrete is set:
// the unsampled curve at q = 1; otherwise, at integer orders, the minimum of
// the unsampled curve and the sampling bound (Zhu & Wang 2019, Theorem 6,
// for Poisson; Wang, Balle, Kasiviswanathan 2019, Theorem 9, for
// FixedSize), and at fractional orders the interpolated cumulant of those
// integer bounds (their Corollary 10), also capped by the unsampled curve.
func rdpDiscreteInto(dst []float64, step Step, orders []float64) {
	factor := 1.0
	if step.Sampling == FixedSize {
		factor = 2 // replace-one: the sum moves by the difference of two contributions
	}
	c := newDiscreteCurve(*step.Discrete, factor)
	q := step.SampleRate
	if q == 1 {
		for i, a := range orders {
			dst[i] = sanitizeRDP(c.at(a))
		}
		return
	}
	maxJ := 2
	for _, a := range orders {
		maxJ = max(maxJ, int(math.Ceil(a)))
	}
	eps := make([]float64, maxJ+1)
	for j := 2; j <= maxJ; j++ {
		eps[j] = c.eval(float64(j))
	}
	memo := map[int]float64{}
	cumulant := func(j int) float64 { // bound on (j-1)·D_j of the sampled step
		if v, ok := memo[j]; ok {
			return v
		}
		var la float64
		if step.Sampling == FixedSize {
			la = logAWORGeneric(q, eps, j)
		} else {
			la = logAPoissonGeneric(q, eps, j)
		}
		v := math.Min(la, float64(j-1)*eps[j])
		memo[j] = v
		return v
	}
	for i, a := range orders {
		var r float64
		if a == math.Trunc(a) {
			r = cumulant(int(a)) / (a - 1)
		} else {
			r = math.Min(interpolateCumulant(a, cumulant), c.at(a))
		}
		dst[i] = sanitizeRDP(r)
	}
}

// logAPoissonGeneric returns the log of the bound of Zhu & Wang (2019,
// "Poisson Subsampled Rényi Differential Privacy", Theorem 6, the general
// upper bound) on exp((α-1)·D_α) of any mechanism with RDP eps[ℓ] at the
// integer orders ℓ = 2..α, Poisson-sampled with rate q < 1 (add/remove
// adjacency, both orders of the pair):
//
//	(1-q)^{α-1}(αq-q+1) + C(α,2)q²(1-q)^{α-2}e^{ε(2)}
//	  + 3·Σ_{ℓ=3}^{α} C(α,ℓ)(1-q)^{α-ℓ}q^ℓ e^{(ℓ-1)ε(ℓ)}.
//
// It is the bound the authors of both discrete mechanisms used
// (google-research/federated, distributed_dp/accounting_utils.py,
// _compute_rdp_subsampled).
func logAPoissonGeneric(q float64, eps []float64, alpha int) float64 {
	a := float64(alpha)
	lq, l1q := math.Log(q), math.Log1p(-q)
	acc := (a-1)*l1q + math.Log1p(q*(a-1))
	lc := math.Log(a) + math.Log(a-1) - math.Ln2 // log C(α,2)
	acc = logAddExp(acc, lc+2*lq+(a-2)*l1q+eps[2])
	for l := 3; l <= alpha; l++ {
		fl := float64(l)
		lc += math.Log(a-fl+1) - math.Log(fl)
		acc = logAddExp(acc, math.Log(3)+lc+fl*lq+(a-fl)*l1q+(fl-1)*eps[l])
	}
	return acc
}

// logAWORGeneric returns the log of the bound of Wang, Balle,
// Kasiviswanathan (2019), Theorem 9, on exp((α-1)·D_α) of any mechanism
// with RDP eps[j] at the integer orders j = 2..α (and ε(∞) = ∞, as for
// every unbounded noise), sampled without replacement with rate q < 1
// (replace-one adjacency):
//
//	1 + q²C(α,2)·min{4(e^{ε(2)}-1), 2e^{ε(2)}} + Σ_{j=3}^{α} q^j C(α,j)·2e^{(j-1)ε(j)}.
func logAWORGeneric(q float64, eps []float64, alpha int) float64 {
	a := float64(alpha)
	lq := math.Log(q)
	e2 := eps[2]
	t2 := math.Min(math.Log(4)+math.Log(math.Expm1(e2)), math.Ln2+e2)
	lc := math.Log(a) + math.Log(a-1) - math.Ln2
	acc := logAddExp(0, 2*lq+lc+t2)
	for j := 3; j <= alpha; j++ {
		fj := float64(j)
		lc += math.Log(a-fj+1) - math.Log(fj)
		acc = logAddExp(acc, fj*lq+lc+math.Ln2+(fj-1)*eps[j])
	}
	return acc
}
