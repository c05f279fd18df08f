package accountant

import (
	"fmt"
	"math"
)

// MaxOrder is the largest RDP order accepted. Integer orders cost O(α) terms,
// so the bound keeps one call fast; dp_accounting's largest default is 1024.
const MaxOrder = 1 << 16

// maxSeriesTerms bounds the fractional-order series of Mironov et al. (2019);
// an order whose series has not converged by then is integrated numerically.
const maxSeriesTerms = 1000

// RDP returns the Rényi DP of ONE application of step at each order, in
// nats: rdp[i] = D_{orders[i]}. The values are upper bounds on the Rényi
// divergence between the outputs on neighbouring datasets; +Inf marks an
// order whose bound could not be computed (it is never used for ε).
//
// Poisson sampling uses the exact expression of Mironov, Talwar and Zhang
// (2019, Sec. 3.3); FixedSize sampling uses Theorem 27 of Wang, Balle and
// Kasiviswanathan (2019) at integer orders up to 256 (Theorem 9 above, as
// dp_accounting does) and their Corollary 10 (linear interpolation of the
// cumulant (α-1)·D_α, which is convex in α) between the neighbouring
// integers at fractional orders — what dp_accounting's RDP accountant
// computes for a SampledWithoutReplacementDpEvent (see [worTable]).
//
// It uses [RDPExact]; [RDPWith] selects another [RDPMethod].
func RDP(step Step, orders []float64) ([]float64, error) {
	return RDPWith(step, orders, RDPExact)
}

// RDPWith is [RDP] with the evaluation of the Poisson-sampled Gaussian at
// fractional orders chosen by method. An unknown method returns an error
// wrapping [ErrInvalidConfig].
func RDPWith(step Step, orders []float64, method RDPMethod) ([]float64, error) {
	if err := method.validate(); err != nil {
		return nil, err
	}
	if err := step.Validate(); err != nil {
		return nil, err
	}
	if err := validateOrders(orders); err != nil {
		return nil, err
	}
	dst := make([]float64, len(orders))
	rdpInto(dst, step, orders, method)
	return dst, nil
}

// RDPMethod selects how the RDP of a Poisson-sampled Gaussian step is
// evaluated at FRACTIONAL orders. Every method gives the same value at
// integer orders (the exact binomial sum), at q = 1 (α/(2σ²)) and for
// FixedSize sampling (Wang et al. Theorem 9 / Corollary 10); every method
// gives a valid upper bound on the Rényi divergence, hence on ε.
type RDPMethod int

const (
	// RDPExact (the default) evaluates A_α as Mironov, Talwar, Zhang (2019,
	// Sec. 3.3) define it: the signed two-series formula with its remainder
	// bounded, or a quadrature of the definition where the series is slow.
	// It is the tightest of the methods.
	RDPExact RDPMethod = iota
	// RDPOpacus reproduces _compute_log_a_for_frac_alpha of Opacus
	// (opacus/accountants/analysis/rdp.py), itself TF Privacy's
	// _compute_log_a_frac (tensorflow_privacy/privacy/analysis/
	// rdp_accountant.py) and dp_accounting's up to 0.4.3: the same signed
	// series, summed term by term in log space, stopped after the first
	// term i whose two parts are both below e^-30 (absolute; no remainder
	// is added). It differs from RDPExact only by that truncation and by
	// rounding (|Δ log A_α| of order 1e-13).
	RDPOpacus
	// RDPDPAccounting reproduces dp_accounting's _compute_log_a_frac from
	// 0.4.4 on (used by TF Privacy's compute_dp_sgd_privacy): the same
	// series with the ABSOLUTE VALUES of its terms (log|C(α,i)| from
	// log-gamma), all added, with the same stopping rule. A sum of
	// magnitudes bounds the signed sum, so it over-estimates A_α (by 3% at
	// α = 1.5, σ = 2.5, q = 0.01) and stays an upper bound.
	RDPDPAccounting
)

// String returns the method's name.
func (m RDPMethod) String() string {
	switch m {
	case RDPExact:
		return "exact"
	case RDPOpacus:
		return "opacus"
	case RDPDPAccounting:
		return "dp_accounting"
	}
	return fmt.Sprintf("RDPMethod(%d)", int(m))
}

// ParseRDPMethod returns the method whose [RDPMethod.String] is name
// ("exact", "opacus" or "dp_accounting"); other names return an error
// wrapping [ErrInvalidConfig].
func ParseRDPMethod(name string) (RDPMethod, error) {
	for m := RDPExact; m <= RDPDPAccounting; m++ {
		if m.String() == name {
			return m, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown RDP method %q (want exact, opacus or dp_accounting)", ErrInvalidConfig, name)
}

func (m RDPMethod) validate() error {
	if m < RDPExact || m > RDPDPAccounting {
		return fmt.Errorf("%w: unknown RDP method %d", ErrInvalidConfig, int(m))
	}
	return nil
}

// rdpInto writes the one-step RDP of a validated step at validated orders.
func rdpInto(dst []float64, step Step, orders []float64, method RDPMethod) {
	if step.Discrete != nil {
		rdpDiscreteInto(dst, step, orders)
		return
	}
	sigma, q := step.NoiseMultiplier, step.SampleRate
	var grid *quadGrid
	var tab *intTable
	var wor *worTable
	for i, a := range orders {
		switch {
		case q == 1:
			dst[i] = a / (2 * sigma * sigma)
		case step.Sampling == FixedSize:
			if wor == nil {
				wor = newWORTable(sigma, orders)
			}
			dst[i] = wor.rdp(q, a)
		case a == math.Trunc(a):
			if tab == nil {
				tab = newIntTable(sigma, orders)
			}
			dst[i] = tab.logA(q, int(a)) / (a - 1)
		case method != RDPExact:
			dst[i] = logAFracPublished(q, sigma, a, method == RDPDPAccounting) / (a - 1)
		case seriesIsFast(q, sigma):
			la, ok := logAFrac(q, sigma, a)
			if !ok {
				la = logAQuad(q, sigma, a)
			}
			dst[i] = la / (a - 1)
		default:
			if grid == nil {
				amax := a // the largest fractional order
				for _, b := range orders {
					if b != math.Trunc(b) {
						amax = math.Max(amax, b)
					}
				}
				grid = newQuadGrid(q, sigma, math.Min(amax, 64))
			}
			if grid == nil {
				dst[i] = math.Inf(1)
			} else if a <= grid.alphaMax {
				dst[i] = grid.logA(a) / (a - 1)
			} else {
				dst[i] = logAQuad(q, sigma, a) / (a - 1)
			}
		}
		if dst[i] < 0 { // rounding only: the divergence is >= 0
			dst[i] = 0
		}
		if math.IsNaN(dst[i]) { // extreme arguments (σ near 0): no finite bound
			dst[i] = math.Inf(1)
		}
	}
}

// intTable computes log A_α for integer α >= 2 and 0 < q < 1, where
// A_α = Σ_{i=0}^{α} C(α,i) (1-q)^{α-i} q^i exp((i²-i)/(2σ²))
// (Mironov, Talwar, Zhang 2019, Sec. 3.3). Since the binomial weights sum to
// 1 and the i = 0, 1 exponents vanish, A_α - 1 = Σ_{i>=2} C(α,i)(1-q)^{α-i}
// q^i expm1((i²-i)/(2σ²)), a sum of positive terms summed in log space
// (log-sum-exp); this keeps full relative precision when the divergence is
// tiny. The table holds the α-independent parts, log k! and
// log expm1((i²-i)/(2σ²)), for every integer order of one call.
type intTable struct {
	logFact []float64 // log k!
	logEx   []float64 // log expm1((i²-i)/(2σ²))
	terms   []float64 // scratch
}

func newIntTable(sigma float64, orders []float64) *intTable {
	m := 2
	for _, a := range orders {
		if a == math.Trunc(a) && a > float64(m) && a <= MaxOrder {
			m = int(a)
		}
	}
	t := &intTable{logFact: make([]float64, m+1), logEx: make([]float64, m+1), terms: make([]float64, 0, m+1)}
	inv := 1 / (2 * sigma * sigma)
	for k := 1; k <= m; k++ {
		t.logFact[k], _ = math.Lgamma(float64(k) + 1)
		x := float64(k*k-k) * inv
		t.logEx[k] = x + math.Log(-math.Expm1(-x))
	}
	return t
}

func (t *intTable) logA(q float64, alpha int) float64 {
	lq, l1q := math.Log(q), math.Log1p(-q)
	a := float64(alpha)
	m := math.Inf(-1)
	t.terms = t.terms[:0]
	for i := 2; i <= alpha; i++ {
		fi := float64(i)
		v := t.logFact[alpha] - t.logFact[i] - t.logFact[alpha-i] + fi*lq + (a-fi)*l1q + t.logEx[i]
		t.terms = append(t.terms, v)
		m = math.Max(m, v)
	}
	if math.IsInf(m, 0) || math.IsNaN(m) {
		return log1pExp(m)
	}
	sum := 0.0
	for _, v := range t.terms {
		sum += math.Exp(v - m)
	}
	return log1pExp(m + math.Log(sum))
}

// log1pExp returns log(1 + e^x).
func log1pExp(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// logAFrac returns log A_α for fractional α > 1 and 0 < q < 1 from the two
// series of Mironov, Talwar, Zhang (2019, Sec. 3.3): A_α = A0 + A1 with
//
//	A0 = Σ_i C(α,i) q^i (1-q)^{α-i} e^{(i²-i)/(2σ²)} · ½erfc((i-z0)/(√2σ))
//	A1 = Σ_i C(α,i) q^{α-i} (1-q)^i e^{(j²-j)/(2σ²)} · ½erfc((z0-j)/(√2σ)),  j = α-i
//
// and z0 = σ² log(1/q - 1) + ½. Binomial coefficients of a fractional α
// alternate in sign for i > α+1; positive and negative terms are accumulated
// separately in log space and subtracted once. Once the terms alternate and
// decrease, the remainder is bounded by the last term, which is added
// (conservatively) when the series stops. The terms decay only polynomially
// (like i^{-α-2}) once i passes z0, so when q is large the series is slow:
// ok is false if the series has not converged after maxSeriesTerms terms
// (the caller then integrates the definition with logAQuad).
func logAFrac(q, sigma, alpha float64) (float64, bool) {
	lq, l1q := math.Log(q), math.Log1p(-q)
	s2 := sigma * sigma
	inv := 1 / (2 * s2)
	z0 := s2*math.Log(1/q-1) + 0.5
	rs := math.Sqrt2 * sigma
	pos, neg := math.Inf(-1), math.Inf(-1)
	lc, sign := 0.0, 1.0 // log|C(α,0)|, sign
	last := math.Inf(1)
	for i := 0; i < maxSeriesTerms; i++ {
		fi := float64(i)
		j := alpha - fi
		s0 := lc + fi*lq + j*l1q + (fi*fi-fi)*inv + logErfc((fi-z0)/rs) - math.Ln2
		s1 := lc + j*lq + fi*l1q + (j*j-j)*inv + logErfc((z0-j)/rs) - math.Ln2
		t := logAddExp(s0, s1)
		if sign > 0 {
			pos = logAddExp(pos, t)
		} else {
			neg = logAddExp(neg, t)
		}
		if fi > alpha+1 && t < last && t < pos-37 {
			return logSubExp(logAddExp(pos, t), neg), true
		}
		last = t
		d := alpha - fi
		if d < 0 {
			sign = -sign
		}
		lc += math.Log(math.Abs(d)) - math.Log(fi+1)
	}
	return math.Inf(1), false
}

// maxPublishedTerms bounds the series of [RDPOpacus] and [RDPDPAccounting],
// whose reference code loops without a bound. Their terms decay at least
// like i^{-α-2} past z0, so below e^-30 within about e^{30/3} ≈ 2·10^4
// terms at α = 1.1 in the slowest case (q near 1/2, σ large).
const maxPublishedTerms = 1 << 21

// logAFracPublished evaluates log A_α for fractional α > 1 and 0 < q < 1 as
// Opacus / TF Privacy (abs false) or dp_accounting >= 0.4.4 (abs true) do:
// the series of [logAFrac], each part accumulated in log space term by term
// (log-add for positive binomial coefficients; log-subtract for negative
// ones unless abs), until both parts of a term are below e^-30. Opacus
// raises an error when a subtraction would go negative; the order is then
// reported as +Inf (no bound), as it is if the loop does not end within
// maxPublishedTerms terms.
func logAFracPublished(q, sigma, alpha float64, abs bool) float64 {
	la0, la1 := math.Inf(-1), math.Inf(-1)
	s2 := sigma * sigma
	z0 := s2*math.Log(1/q-1) + 0.5
	lq, l1q := math.Log(q), math.Log(1-q) // log(1-q) as the reference code, not log1p
	rs := math.Sqrt2 * sigma
	lhalf := math.Log(0.5)
	lgA, _ := math.Lgamma(alpha + 1)
	for i := 0; i < maxPublishedTerms; i++ {
		fi := float64(i)
		j := alpha - fi
		lgi, _ := math.Lgamma(fi + 1)
		lgj, sg := math.Lgamma(j + 1)
		lc := lgA - lgi - lgj // log|C(α,i)|; its sign is sg, Γ(α+1), Γ(i+1) > 0
		lt0 := lc + fi*lq + j*l1q
		lt1 := lc + j*lq + fi*l1q
		le0 := lhalf + logErfc((fi-z0)/rs)
		le1 := lhalf + logErfc((z0-j)/rs)
		ls0 := lt0 + (fi*fi-fi)/(2*s2) + le0
		ls1 := lt1 + (j*j-j)/(2*s2) + le1
		if sg > 0 || abs {
			la0 = pyLogAdd(la0, ls0)
			la1 = pyLogAdd(la1, ls1)
		} else {
			var ok0, ok1 bool
			la0, ok0 = pyLogSub(la0, ls0)
			la1, ok1 = pyLogSub(la1, ls1)
			if !ok0 || !ok1 {
				return math.Inf(1)
			}
		}
		if math.Max(ls0, ls1) < -30 {
			return pyLogAdd(la0, la1)
		}
		if math.IsNaN(ls0) || math.IsNaN(ls1) {
			return math.Inf(1)
		}
	}
	return math.Inf(1)
}

// pyLogAdd is the reference code's _log_add: log(e^x + e^y).
func pyLogAdd(x, y float64) float64 {
	a, b := math.Min(x, y), math.Max(x, y)
	if math.IsInf(a, -1) {
		return b
	}
	return math.Log1p(math.Exp(a-b)) + b
}

// pyLogSub is the reference code's _log_sub: log(e^x - e^y), ok false where
// it raises (x < y).
func pyLogSub(x, y float64) (float64, bool) {
	switch {
	case x < y:
		return 0, false
	case math.IsInf(y, -1):
		return x, true
	case x == y:
		return math.Inf(-1), true
	}
	v := math.Expm1(x - y)
	if math.IsInf(v, 1) { // Python's OverflowError branch
		return x, true
	}
	return math.Log(v) + y, true
}

// seriesIsFast reports whether the fractional-order series of Mironov et
// al. converges quickly: its terms fall geometrically until i ≈ z0 and then
// only polynomially, from a plateau of about exp(-z0²/(2σ²)).
func seriesIsFast(q, sigma float64) bool {
	z0 := sigma*sigma*math.Log(1/q-1) + 0.5
	return z0*z0/(2*sigma*sigma) > 45
}

// quadGrid holds the α-independent parts of the trapezoidal rule for
// A_α = E_{z∼N(0,σ²)}[(1-q+q·e^{(2z-1)/(2σ²)})^α], shared by all fractional
// orders up to alphaMax. The integrand is analytic in the strip
// |Im z| < πσ² (the branch points of log(1-q+q·e^w)) and decays like a
// Gaussian of width σ, so the trapezoidal rule converges geometrically: its
// error is about exp(d²/(2σ²) - 2πd/h) for any strip half-width d < πσ²
// (the first term is the growth of the Gaussian off the real axis). With
// h = min(σ/3, σ²/2.5), taking d = min(πσ², 6σ) puts it below e^{-45}
// relatively for every σ; the range [-12σ, α+12σ] covers every mode (the binomial
// components peak at z = 0, 1, …, α) with tails below e^{-72}. The tests
// check it against the series and a 40 000-point rule.
type quadGrid struct {
	alphaMax float64
	h        float64
	lphi, lr []float64 // log φ_σ(z_k), log(μ/μ0)(z_k)
	phiSum   float64   // Σ_k w_k φ(z_k) ≈ 1
}

func newQuadGrid(q, sigma, alphaMax float64) *quadGrid {
	s2 := sigma * sigma
	h := math.Min(sigma/3, s2/2.5)
	lo, hi := -12*sigma, alphaMax+12*sigma
	nf := math.Ceil((hi - lo) / h)
	if !(nf <= maxQuadPoints) { // σ so small that σ² underflows: no finite bound
		return nil
	}
	n := int(nf)
	h = (hi - lo) / float64(n)
	g := &quadGrid{alphaMax: alphaMax, h: h, lphi: make([]float64, n+1), lr: make([]float64, n+1)}
	lnorm := -math.Log(sigma * math.Sqrt(2*math.Pi))
	for k := range g.lphi {
		z := lo + float64(k)*h
		g.lphi[k] = lnorm - z*z/(2*s2)
		g.lr[k] = math.Log1p(q * math.Expm1((2*z-1)/(2*s2)))
		w := h
		if k == 0 || k == n {
			w /= 2
		}
		g.phiSum += w * math.Exp(g.lphi[k])
	}
	return g
}

// logA returns log A_α by the trapezoidal rule. A_α - 1 is integrated
// directly (keeping the relative precision of tiny divergences) unless the
// integrand is large, when it is summed in log space.
func (g *quadGrid) logA(alpha float64) float64 {
	n := len(g.lphi) - 1
	m := math.Inf(-1)
	for k := range g.lphi {
		m = math.Max(m, g.lphi[k]+alpha*g.lr[k])
	}
	if m < 30 {
		sum := 0.0
		for k := range g.lphi {
			var v float64
			if x := alpha * g.lr[k]; math.Abs(x) < 1 {
				v = math.Exp(g.lphi[k]) * math.Expm1(x)
			} else {
				v = math.Exp(g.lphi[k]+x) - math.Exp(g.lphi[k])
			}
			if k == 0 || k == n {
				v /= 2
			}
			sum += v
		}
		return math.Log1p(sum * g.h)
	}
	sf := 0.0
	for k := range g.lphi {
		v := math.Exp(g.lphi[k] + alpha*g.lr[k] - m)
		if k == 0 || k == n {
			v /= 2
		}
		sf += v
	}
	lsf := m + math.Log(sf*g.h)
	return lsf + math.Log1p(-g.phiSum*math.Exp(-lsf))
}

// maxQuadPoints bounds the quadrature grid. Quadrature is used only when the
// series is slow, which needs σ² >= z0²/90 (σ above about 0.03), so the bound
// is reached only when σ² underflows; the RDP is then reported as +Inf.
const maxQuadPoints = 1 << 20

// logAQuad returns log A_α by the trapezoidal rule on a grid of its own
// (+Inf if the grid would be too large).
func logAQuad(q, sigma, alpha float64) float64 {
	g := newQuadGrid(q, sigma, alpha)
	if g == nil {
		return math.Inf(1)
	}
	return g.logA(alpha)
}

// epsilonFromRDP applies the conversion of Balle et al. (2020, Theorem 21)
// and Canonne, Kamath, Steinke (2020), as Opacus's get_privacy_spent and
// dp_accounting's compute_epsilon do:
//
//	ε = min_α  rdp_α - (log δ + log α)/(α-1) + log((α-1)/α)
//
// clamped at 0. It returns the minimising order; ok is false when every
// order has an infinite bound.
func epsilonFromRDP(orders, rdp []float64, delta float64) (eps, order float64, ok bool) {
	eps = math.Inf(1)
	ld := math.Log(delta)
	for i, a := range orders {
		r := rdp[i]
		if math.IsInf(r, 1) || math.IsNaN(r) {
			continue
		}
		e := r - (ld+math.Log(a))/(a-1) + math.Log1p(-1/a)
		if e < eps {
			eps, order = e, a
		}
	}
	if math.IsInf(eps, 1) {
		return eps, 0, false
	}
	return math.Max(eps, 0), order, true
}

// deltaFromRDP inverts the same conversion: δ = min_α exp((α-1)(rdp_α - ε +
// log(1-1/α)) - log α), capped at 1.
func deltaFromRDP(orders, rdp []float64, eps float64) float64 {
	best := 0.0 // log 1
	for i, a := range orders {
		r := rdp[i]
		if math.IsInf(r, 1) || math.IsNaN(r) {
			continue
		}
		ld := (a-1)*(r-eps+math.Log1p(-1/a)) - math.Log(a)
		if ld < best {
			best = ld
		}
	}
	return math.Exp(best)
}

// RDPAccountant tracks the Rényi DP of a sequence of heterogeneous steps by
// summing their RDP at a fixed list of orders (composition theorem of
// Mironov 2017, Proposition 1).
//
// It is not safe for concurrent use; guard it with a mutex if several
// goroutines compose into one accountant.
type RDPAccountant struct {
	method RDPMethod
	orders []float64
	total  []float64
	one    []float64 // scratch for one step's RDP
	steps  int
	// sampling is the adjacency of the composed steps (Poisson: add/remove,
	// FixedSize: replace-one), fixed by the first step composed.
	sampling    Sampling
	hasSampling bool
}

// NewRDP returns an empty accountant over a copy of orders; nil orders mean
// [DefaultOrders]. It returns an error wrapping [ErrInvalidOrders] if an
// order is NaN, infinite, <= 1 or > [MaxOrder].
func NewRDP(orders []float64) (*RDPAccountant, error) {
	return NewRDPWith(orders, RDPExact)
}

// NewRDPWith is [NewRDP] with the [RDPMethod] used for Poisson-sampled
// steps at fractional orders: [RDPOpacus] or [RDPDPAccounting] reproduce
// those libraries' RDP (and so their ε with the same orders and δ). An
// unknown method returns an error wrapping [ErrInvalidConfig].
func NewRDPWith(orders []float64, method RDPMethod) (*RDPAccountant, error) {
	if err := method.validate(); err != nil {
		return nil, err
	}
	if orders == nil {
		orders = DefaultOrders()
	} else {
		orders = append([]float64(nil), orders...)
	}
	if err := validateOrders(orders); err != nil {
		return nil, err
	}
	return &RDPAccountant{
		method: method,
		orders: orders,
		total:  make([]float64, len(orders)),
		one:    make([]float64, len(orders)),
	}, nil
}

// Compose records count applications of s. The RDP of one step is computed
// once and multiplied by count, so the cost does not depend on count. On
// error the accountant is unchanged.
//
// Poisson steps bound add/remove neighbours and FixedSize steps replace-one
// neighbours; a sum of RDP bounds for different adjacencies bounds neither,
// so one accountant holds steps of one sampling kind, fixed by the first
// step composed (until [RDPAccountant.Reset]): a step of the other kind
// returns an error wrapping [ErrUnsupported].
func (a *RDPAccountant) Compose(s Step, count int) error {
	if err := validateCount(count); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return err
	}
	if a.hasSampling && s.Sampling != a.sampling {
		return fmt.Errorf("%w: an RDP accountant holding %v steps cannot compose a %v step (different adjacency)",
			ErrUnsupported, a.sampling, s.Sampling)
	}
	if count == 0 {
		return nil
	}
	a.sampling, a.hasSampling = s.Sampling, true
	rdpInto(a.one, s, a.orders, a.method)
	c := float64(count)
	for i, r := range a.one {
		a.total[i] += c * r
	}
	a.steps += count
	return nil
}

// Epsilon returns the smallest ε over the orders such that the composed
// steps are (ε, δ)-DP, and the order that attains it. It is an upper bound
// on the true ε. An error wraps [ErrInvalidDelta] or, if no order gives a
// finite bound, [ErrUnreachable].
func (a *RDPAccountant) Epsilon(delta float64) (eps, order float64, err error) {
	if err := validateDelta(delta); err != nil {
		return 0, 0, err
	}
	eps, order, ok := epsilonFromRDP(a.orders, a.total, delta)
	if !ok {
		return math.Inf(1), 0, fmt.Errorf("%w: every order has an infinite RDP bound", ErrUnreachable)
	}
	return eps, order, nil
}

// Delta returns the smallest δ over the orders such that the composed steps
// are (eps, δ)-DP; an upper bound on the true δ(ε), at most 1.
func (a *RDPAccountant) Delta(eps float64) (float64, error) {
	if err := validateEpsilon(eps); err != nil {
		return 0, err
	}
	return deltaFromRDP(a.orders, a.total, eps), nil
}

// Method returns the accountant's [RDPMethod].
func (a *RDPAccountant) Method() RDPMethod { return a.method }

// Orders returns a copy of the accountant's RDP orders.
func (a *RDPAccountant) Orders() []float64 { return append([]float64(nil), a.orders...) }

// RDP returns a copy of the accumulated RDP at each order.
func (a *RDPAccountant) RDP() []float64 { return append([]float64(nil), a.total...) }

// Steps returns the number of steps composed so far.
func (a *RDPAccountant) Steps() int { return a.steps }

// Reset forgets every composed step, keeping the orders.
func (a *RDPAccountant) Reset() {
	clear(a.total)
	a.steps = 0
	a.hasSampling = false
}
