package accountant

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/dsp/fourier"
)

// PLDConfig configures a [PLDAccountant]. Zero fields mean the default.
type PLDConfig struct {
	// ValueDiscretization is the grid step h of privacy-loss values, in
	// nats (default 1e-4, dp_accounting's default). A finer grid is
	// tighter and slower. When the composed loss spans more than MaxBins
	// grid steps the accountant coarsens h (still an upper bound).
	ValueDiscretization float64
	// TailMass is the probability mass τ allowed to fall outside the
	// truncated ranges (default 1e-15). Upper tails are moved to +∞ and
	// cyclic-convolution aliasing is charged 2τ in δ, so truncation never
	// lowers ε.
	TailMass float64
	// MaxBins bounds the FFT length (default 1<<21, 16 MiB per buffer).
	MaxBins int
}

// DefaultPLDConfig returns the defaults described on [PLDConfig].
func DefaultPLDConfig() PLDConfig {
	return PLDConfig{ValueDiscretization: 1e-4, TailMass: 1e-15, MaxBins: 1 << 21}
}

func (c PLDConfig) withDefaults() PLDConfig {
	d := DefaultPLDConfig()
	if c.ValueDiscretization == 0 {
		c.ValueDiscretization = d.ValueDiscretization
	}
	if c.TailMass == 0 {
		c.TailMass = d.TailMass
	}
	if c.MaxBins == 0 {
		c.MaxBins = d.MaxBins
	}
	return c
}

// Validate reports a field out of range, after filling zero fields with
// defaults: ValueDiscretization in (0, 1], TailMass in (0, 1e-6],
// MaxBins in [1<<10, 1<<26].
func (c PLDConfig) Validate() error {
	c = c.withDefaults()
	h := c.ValueDiscretization
	if math.IsNaN(h) || h <= 0 || h > 1 {
		return fmt.Errorf("%w: ValueDiscretization %v not in (0, 1]", ErrInvalidConfig, h)
	}
	if math.IsNaN(c.TailMass) || c.TailMass <= 0 || c.TailMass > 1e-6 {
		return fmt.Errorf("%w: TailMass %v not in (0, 1e-6]", ErrInvalidConfig, c.TailMass)
	}
	if c.MaxBins < 1<<10 || c.MaxBins > 1<<26 {
		return fmt.Errorf("%w: MaxBins %d not in [1024, 1<<26]", ErrInvalidConfig, c.MaxBins)
	}
	return nil
}

// MaxPLDSteps bounds the total number of steps a [PLDAccountant] holds, so
// that loss-grid indices stay within int64.
const MaxPLDSteps = 1 << 40

// PLDAccountant tracks privacy loss distributions (PLDs) of sampled
// Gaussian steps and composes them by FFT; see the package documentation for
// the discretization, the symmetric PLD used for fixed-size sampling, and
// why its ε is an upper bound.
//
// Compose is cheap (it records the step); the composition runs on the first
// Epsilon or Delta call after a change and is cached. It is not safe for
// concurrent use.
type PLDAccountant struct {
	cfg    PLDConfig
	groups []pldGroup
	cache  *pldPair
}

type pldGroup struct {
	sigma, q float64
	count    int
	fixed    bool // FixedSize sampling (replace-one adjacency)
}

// NewPLD returns an empty accountant. It returns an error wrapping
// [ErrInvalidConfig] if cfg does not validate; cfg is copied.
func NewPLD(cfg PLDConfig) (*PLDAccountant, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &PLDAccountant{cfg: cfg.withDefaults()}, nil
}

// Compose records count applications of s, with Poisson sampling
// (add/remove adjacency) or FixedSize sampling (replace-one adjacency). The
// two adjacencies bound different pairs of datasets, so one accountant
// holds steps of one kind only: composing a step of the other kind returns
// an error wrapping [ErrUnsupported] and leaves the accountant unchanged.
func (a *PLDAccountant) Compose(s Step, count int) error {
	if err := validateCount(count); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return err
	}
	if s.Discrete != nil {
		return fmt.Errorf("%w: the PLD accountant bounds the Gaussian mechanism only; account %v noise with the RDP accountant",
			ErrUnsupported, s.Discrete.Kind)
	}
	fixed := s.Sampling == FixedSize
	if len(a.groups) > 0 && a.groups[0].fixed != fixed {
		return fmt.Errorf("%w: a PLD accountant holding %v steps cannot compose a %v step (different adjacency)",
			ErrUnsupported, a.groups[0].sampling(), s.Sampling)
	}
	if count == 0 {
		return nil
	}
	total := count
	for _, g := range a.groups {
		total += g.count
		if total > MaxPLDSteps || total < 0 {
			return fmt.Errorf("%w: more than MaxPLDSteps = %d steps in a PLD accountant", ErrInvalidCount, MaxPLDSteps)
		}
	}
	if count > MaxPLDSteps {
		return fmt.Errorf("%w: more than MaxPLDSteps = %d steps in a PLD accountant", ErrInvalidCount, MaxPLDSteps)
	}
	a.cache = nil
	for i := range a.groups {
		g := &a.groups[i]
		if g.sigma == s.NoiseMultiplier && g.q == s.SampleRate {
			g.count += count
			return nil
		}
	}
	a.groups = append(a.groups, pldGroup{sigma: s.NoiseMultiplier, q: s.SampleRate, count: count, fixed: fixed})
	return nil
}

func (g pldGroup) sampling() Sampling {
	if g.fixed {
		return FixedSize
	}
	return Poisson
}

// Epsilon returns the smallest ε with δ(ε) <= delta for the composed steps,
// an upper bound on the true ε. It returns an error wrapping
// [ErrInvalidDelta], or [ErrUnreachable] if the mass the discretization
// sends to infinite loss already exceeds delta.
func (a *PLDAccountant) Epsilon(delta float64) (float64, error) {
	if err := validateDelta(delta); err != nil {
		return 0, err
	}
	p, err := a.pair()
	if err != nil {
		return math.Inf(1), err // fail closed, even for a caller that ignores err
	}
	if p.gaussMu >= 0 {
		e, ok := gaussianEpsilon(p.gaussMu, delta)
		if !ok {
			return math.Inf(1), fmt.Errorf("%w: no finite ε for δ=%v (μ=%v)", ErrUnreachable, delta, p.gaussMu)
		}
		return e, nil
	}
	e1, ok1 := p.remove.epsilon(delta)
	e2, ok2 := p.add.epsilon(delta)
	if !ok1 || !ok2 {
		return math.Inf(1), fmt.Errorf("%w: delta %v is below the discretization's infinite-loss mass", ErrUnreachable, delta)
	}
	return math.Max(e1, e2), nil
}

// Delta returns δ(eps), the hockey-stick divergence of the composed
// (pessimistically discretized) PLD, maximised over the add and remove
// directions (one symmetric PLD for FixedSize); an upper bound on the true
// δ(eps).
func (a *PLDAccountant) Delta(eps float64) (float64, error) {
	if err := validateEpsilon(eps); err != nil {
		return 0, err
	}
	p, err := a.pair()
	if err != nil {
		return 1, err // fail closed
	}
	if p.gaussMu >= 0 {
		return gaussianDelta(p.gaussMu, eps), nil
	}
	return math.Min(1, math.Max(p.remove.delta(eps), p.add.delta(eps))), nil
}

// pldPair is the composed PLD in both directions, or a pure Gaussian
// (gaussMu >= 0) when every step has q = 1. For FixedSize steps the PLD is
// symmetric and remove == add.
type pldPair struct {
	gaussMu     float64
	remove, add *composedPLD
}

func (a *PLDAccountant) pair() (*pldPair, error) {
	if a.cache != nil {
		return a.cache, nil
	}
	allGauss := true
	mu2 := 0.0
	for _, g := range a.groups {
		if g.q != 1 {
			allGauss = false
		}
		mu2 += float64(g.count) / (g.sigma * g.sigma)
	}
	if allGauss {
		// Composition of Gaussian mechanisms is the Gaussian mechanism with
		// μ = sqrt(Σ count/σ²) (Dong, Roth, Su 2019): exact, no grid needed.
		a.cache = &pldPair{gaussMu: math.Sqrt(mu2)}
		return a.cache, nil
	}
	h := a.cfg.ValueDiscretization
	for attempt := 0; attempt < 8; attempt++ {
		r, need := composeDirection(a.groups, dirRemove, h, a.cfg)
		if r == nil {
			h *= math.Ceil(float64(need)/float64(a.cfg.MaxBins)) + 1
			continue
		}
		if r.err != nil {
			return nil, r.err
		}
		if a.groups[0].fixed { // one kind per accountant; the pair is symmetric
			a.cache = &pldPair{gaussMu: -1, remove: r, add: r}
			return a.cache, nil
		}
		ad, need := composeDirection(a.groups, dirAdd, h, a.cfg)
		if ad == nil {
			h *= math.Ceil(float64(need)/float64(a.cfg.MaxBins)) + 1
			continue
		}
		if ad.err != nil {
			return nil, ad.err
		}
		a.cache = &pldPair{gaussMu: -1, remove: r, add: ad}
		return a.cache, nil
	}
	return nil, fmt.Errorf("%w: composed privacy loss too wide for MaxBins %d", ErrUnreachable, a.cfg.MaxBins)
}

// gaussianDelta is the exact δ(ε) of the Gaussian mechanism with
// sensitivity/σ = μ (Balle & Wang 2018, Theorem 8):
// δ = Φ(-ε/μ + μ/2) - e^ε Φ(-ε/μ - μ/2).
func gaussianDelta(mu, eps float64) float64 {
	if mu == 0 {
		return 0
	}
	t1 := normSF(eps/mu - mu/2)
	t2 := math.Exp(eps + logNormSF(eps/mu+mu/2))
	return math.Min(1, math.Max(0, t1-t2))
}

// gaussianEpsilon inverts gaussianDelta by bisection, returning the upper
// end of the final bracket (so δ(ε) <= delta up to rounding); ok is false if
// no finite ε is found (μ infinite or beyond 1e300).
func gaussianEpsilon(mu, delta float64) (float64, bool) {
	if math.IsInf(mu, 0) || math.IsNaN(mu) {
		return math.Inf(1), false
	}
	if gaussianDelta(mu, 0) <= delta {
		return 0, true
	}
	lo, hi := 0.0, 1.0
	for !(gaussianDelta(mu, hi) <= delta) {
		if hi > 1e300 {
			return math.Inf(1), false
		}
		lo, hi = hi, 2*hi
	}
	for i := 0; i < 200 && hi-lo > 1e-13*hi; i++ {
		m := 0.5 * (lo + hi)
		if gaussianDelta(mu, m) > delta {
			lo = m
		} else {
			hi = m
		}
	}
	return hi, true
}

type direction int

const (
	dirRemove direction = iota // pair (P, Q) = ((1-q)N(0,σ²)+qN(1,σ²), N(0,σ²))
	dirAdd                     // pair (Q, P)
)

// discretePLD is a sub-probability mass on losses (lo+k)·h plus a mass at +∞.
type discretePLD struct {
	lo  int64
	p   []float64
	inf float64
}

// survival returns A(L > ε) and B(L > ε) for the pair (A, B) of direction d,
// where L = log(dA/dB) is the privacy loss.
func survival(d direction, sigma, q, eps float64) (sa, sb float64) {
	// x(e) solves log(1-q+q·exp((2x-1)/(2σ²))) = e; none if e <= log(1-q).
	xr := func(e float64) (float64, bool) {
		u := math.Expm1(e) + q
		if u <= 0 {
			return 0, false
		}
		return sigma*sigma*math.Log(u/q) + 0.5, true
	}
	if d == dirRemove {
		x, ok := xr(eps)
		if !ok {
			return 1, 1
		}
		sb = normSF(x / sigma)
		return (1-q)*sb + q*normSF((x-1)/sigma), sb
	}
	x, ok := xr(-eps)
	if !ok {
		return 0, 0
	}
	sa = normCDF(x / sigma)
	return sa, (1-q)*sa + q*normCDF((x-1)/sigma)
}

// loss returns log(1-q+q·exp((2x-1)/(2σ²))), the remove-direction loss at x.
func loss(sigma, q, x float64) float64 {
	return math.Log1p(q * math.Expm1((2*x-1)/(2*sigma*sigma)))
}

// tailZ returns z with P(Z > z) <= tau for a standard normal Z.
func tailZ(tau float64) float64 {
	lo, hi := 0.0, 40.0
	for range 100 {
		m := 0.5 * (lo + hi)
		if normSF(m) > tau {
			lo = m
		} else {
			hi = m
		}
	}
	return hi
}

const maxLossValue = 500 // losses above are sent to +∞ (pessimistic)

// discretize builds the connect-the-dots PLD (Doroshenko et al. 2022) of
// one step in direction d on the grid ε_k = k·h: the A- and B-mass of each
// loss interval (ε_k, ε_{k+1}] is split between its two end points so that
// both masses are preserved, which makes the discrete δ(ε) the chord
// interpolation (in e^ε) of the convex true δ(ε), hence never below it. The
// lower tail below the grid is moved up to its first point; the upper tail
// above it goes to +∞.
func discretize(d direction, sigma, q, h, tau float64) (discretePLD, int64) {
	z := tailZ(tau)
	var elo, ehi float64
	if d == dirRemove {
		elo, ehi = loss(sigma, q, -sigma*z), loss(sigma, q, 1+sigma*z)
	} else {
		elo, ehi = -loss(sigma, q, sigma*z), -loss(sigma, q, -sigma*z)
	}
	elo = math.Max(elo, -maxLossValue)
	ehi = math.Min(math.Max(ehi, elo), maxLossValue)
	ilo := int64(math.Floor(elo / h))
	ihi := int64(math.Ceil(ehi / h))
	n := ihi - ilo + 1
	if n > 1<<26 {
		return discretePLD{}, n
	}
	if n < 2 {
		n = 2
	}
	p := make([]float64, n)
	eh := math.Exp(h)
	sa0, sb0 := survival(d, sigma, q, float64(ilo)*h)
	p[0] = 1 - sa0
	for k := int64(0); k+1 < n; k++ {
		ek := float64(ilo+k) * h
		sa1, sb1 := survival(d, sigma, q, ek+h)
		ma, mb := math.Max(sa0-sa1, 0), math.Max(sb0-sb1, 0)
		// A-mass going to the upper end: x_{k+1}(A(I) - x_k B(I))/(x_{k+1}-x_k).
		up := (ma - math.Exp(ek)*mb) * eh / (eh - 1)
		up = math.Min(math.Max(up, 0), ma)
		p[k+1] += up
		p[k] += ma - up
		sa0, sb0 = sa1, sb1
	}
	return discretePLD{lo: ilo, p: p, inf: sa0}, n
}

// discretizeFixed builds the PLD of one fixed-size step: the symmetric pair
// (P*, Q*) whose privacy profile is δ*(ε) = H_{e^ε}(A‖B) for ε >= 0 and
// 1 - e^ε + e^ε·δ*(-ε) for ε < 0, with A = (1-q)N(0,σ²)+qN(1,σ²) and
// B = N(0,σ²) (see the package documentation). Its loss distribution under
// P* is the remove direction's on losses ℓ > 0, e^{-ℓ} times it at -ℓ, and an
// atom at 0 holding the rest; it is built here from the positive part of the
// connect-the-dots remove PLD, so its δ(ε) is that PLD's chord for ε >= 0
// and the same chord mirrored for ε < 0, never below δ*. deficit is the
// (round-off) amount by which the atom at 0 would be negative, to be charged
// in δ.
func discretizeFixed(sigma, q, h, tau float64) (d discretePLD, deficit float64, n int64) {
	r, n := discretize(dirRemove, sigma, q, h, tau)
	if r.p == nil {
		return r, 0, n
	}
	top := max(r.lo+int64(len(r.p))-1, 0) // largest grid index
	n = 2*top + 1
	if n > 1<<26 {
		return discretePLD{}, 0, n
	}
	p := make([]float64, n) // p[top+k] is the mass at loss k·h
	sum, comp := 0.0, 0.0   // Neumaier summation of the off-zero mass
	add := func(v float64) {
		t := sum + v
		if math.Abs(sum) >= math.Abs(v) {
			comp += (sum - t) + v
		} else {
			comp += (v - t) + sum
		}
		sum = t
	}
	for k := int64(1); k <= top; k++ {
		i := k - r.lo
		if i < 0 || i >= int64(len(r.p)) {
			continue
		}
		v := r.p[i]
		p[top+k] = v
		p[top-k] = v * math.Exp(-float64(k)*h)
		add(v)
		add(p[top-k])
	}
	p0 := 1 - r.inf - (sum + comp)
	if p0 < 0 {
		deficit, p0 = -p0, 0
	}
	p[top] = p0
	return discretePLD{lo: -top, p: p, inf: r.inf}, deficit, n
}

// logMGFs returns log Σ_k p_k e^{t·s_k} over the finite part for each t.
func (d discretePLD) logMGFs(ts []float64, h float64) []float64 {
	idx := make([]int, 0, len(d.p))
	lp := make([]float64, 0, len(d.p))
	for k, v := range d.p {
		if v > 0 {
			idx = append(idx, k)
			lp = append(lp, math.Log(v))
		}
	}
	out := make([]float64, len(ts))
	for j, t := range ts {
		m := math.Inf(-1)
		for i, k := range idx {
			m = math.Max(m, lp[i]+t*float64(d.lo+int64(k))*h)
		}
		if math.IsInf(m, -1) {
			out[j] = m
			continue
		}
		s := 0.0
		for i, k := range idx {
			s += math.Exp(lp[i] + t*float64(d.lo+int64(k))*h - m)
		}
		out[j] = m + math.Log(s)
	}
	return out
}

// composedPLD is the composition of every group in one direction.
type composedPLD struct {
	lo    int64
	h     float64
	p     []float64
	inf   float64 // mass at +∞
	slack float64 // aliasing and rounding allowance added to δ
	err   error   // a numerical failure: the PLD must not be used
}

// composeDirection composes the groups' discretized PLDs by one real FFT of
// each, raising its coefficients to the group's count by repeated squaring.
// If the window would exceed cfg.MaxBins it returns nil and the bins needed.
func composeDirection(groups []pldGroup, d direction, h float64, cfg PLDConfig) (*composedPLD, int64) {
	tau := cfg.TailMass
	pl := make([]discretePLD, len(groups))
	var smin, smax int64
	logNoInf := 0.0
	deficit := 0.0
	for i, g := range groups {
		var dp discretePLD
		var n int64
		if g.fixed {
			var def float64
			dp, def, n = discretizeFixed(g.sigma, g.q, h, tau)
			deficit += float64(g.count) * def
		} else {
			dp, n = discretize(d, g.sigma, g.q, h, tau)
		}
		if dp.p == nil || n > int64(cfg.MaxBins) {
			return nil, n
		}
		pl[i] = dp
		c := int64(g.count)
		smin += c * dp.lo
		smax += c * (dp.lo + int64(len(dp.p)) - 1)
		logNoInf += float64(g.count) * math.Log1p(-dp.inf)
	}
	// Chernoff bounds on the composed loss S: P(S >= a) <= exp(K(t) - t·a)
	// and P(S <= a) <= exp(K(-t) + t·a), K = Σ count·logMGF.
	var ts []float64
	for k := -8; k <= 8; k++ {
		ts = append(ts, math.Ldexp(1, k), -math.Ldexp(1, k))
	}
	cum := make([]float64, len(ts))
	for i, g := range groups {
		for j, v := range pl[i].logMGFs(ts, h) {
			cum[j] += float64(g.count) * v
		}
	}
	ahi, alo := math.Inf(1), math.Inf(-1)
	lt := math.Log(tau)
	for j := 0; j < len(ts); j += 2 {
		t := ts[j]
		ahi = math.Min(ahi, (cum[j]-lt)/t)
		alo = math.Max(alo, (lt-cum[j+1])/t)
	}
	lo, hi := smin, smax
	if v := math.Floor(alo / h); !math.IsNaN(v) && v > float64(lo) {
		lo = int64(v)
	}
	if v := math.Ceil(ahi / h); !math.IsNaN(v) && v < float64(hi) {
		hi = int64(v)
	}
	if hi < lo {
		hi = lo
	}
	nb := hi - lo + 1
	if nb > int64(cfg.MaxBins) {
		return nil, nb
	}
	n := 2
	for int64(n) < nb {
		n *= 2
	}
	fft := fourier.NewFFT(n)
	seq := make([]float64, n)
	acc := make([]complex128, n/2+1)
	coef := make([]complex128, n/2+1)
	rb := newRoundoffBound(n)
	for i := range acc {
		acc[i] = 1
	}
	for i, g := range groups {
		clear(seq)
		for k, v := range pl[i].p { // fold modulo n: cyclic convolution commutes with it
			seq[k%n] += v
		}
		fft.Coefficients(coef, seq)
		rb.addGroup(coef, seq, g.count)
		for j, c := range coef {
			acc[j] *= cpow(c, g.count)
		}
	}
	binErr := rb.perBin(acc)
	fft.Sequence(seq, acc)
	out := make([]float64, n)
	base := ((smin-lo)%int64(n) + int64(n)) % int64(n)
	neg, mass := 0.0, 0.0
	inv := 1 / float64(n)
	for k, v := range seq {
		v *= inv
		if v < 0 {
			neg -= v
			v = 0
		}
		mass += v
		out[(base+int64(k))%int64(n)] = v
	}
	c := &composedPLD{
		lo:    lo,
		h:     h,
		p:     out, // positions past hi are real losses above the window
		inf:   -math.Expm1(logNoInf),
		slack: 2*tau + neg + deficit,
	}
	c.err = c.checkMass(mass, neg)
	// Charge round-off in the positive bins too: each computed mass may be
	// below the true one by up to binErr, so every bin is raised by it
	// (δ is then an upper bound despite the FFT's rounding).
	if math.IsNaN(binErr) || math.IsInf(binErr, 0) {
		if c.err == nil {
			c.err = fmt.Errorf("%w: the FFT round-off bound is not finite", ErrUnreachable)
		}
	} else if binErr > 0 {
		for k := range c.p {
			c.p[k] += binErr
		}
	}
	return c, nb
}

// roundoffBound accumulates a bound on the absolute error of each bin of
// the FFT composition. For a real FFT of length n the computed
// coefficients satisfy ‖ĉ − c‖₂ ≤ κ·log₂n·u·‖c‖₂ = κ·log₂n·u·√n·‖x‖₂ =: e
// over the whole spectrum (u = 2^-53, κ = 10 covering the twiddle factors
// and the butterflies), so each coefficient is off by at most e too.
// Raising to the power k moves a coefficient by at most
// k·(|ĉ|+e)^{k−1}·|ĉ−c| plus the rounding of the repeated squaring,
// 4·log₂(k+1)·u·(|ĉ|+e)^k; over the groups, with a_{g,j} = |ĉ_{g,j}|+e_g and
// U_j = Π_g a_{g,j}^{k_g},
//
//	|âcc_j − acc_j| ≤ U_j·Σ_g (k_g·|ĉ_{g,j}−c_{g,j}|/a_{g,j} + 4·log₂(k_g+1)·u).
//
// The inverse transform spreads these over the bins, each of which is off
// by at most (1/n)·Σ_j w_j·|âcc_j − acc_j| (w_j = 2 for a coefficient that
// stands for a conjugate pair), which Cauchy–Schwarz bounds by
//
//	(1/n)·Σ_g k_g·e_g·√(Σ_j w_j·(U_j/a_{g,j})²) + (1/n)·Σ_j w_j·U_j·Σ_g 4·log₂(k_g+1)·u,
//
// plus the inverse FFT's own rounding, κ·log₂n·u·√(Σ_j w_j·|acc_j|²)/n.
type roundoffBound struct {
	n      int
	a      [][]float64 // a_{g,j}
	k, e   []float64   // k_g, e_g
	logU   []float64   // log U_j
	powErr float64     // Σ_g 4·log₂(k_g+1)·u
}

const (
	fftKappa     = 10
	unitRoundoff = 0x1p-53
)

func newRoundoffBound(n int) *roundoffBound {
	return &roundoffBound{n: n, logU: make([]float64, n/2+1)}
}

func (r *roundoffBound) addGroup(coef []complex128, x []float64, count int) {
	var x2 float64
	for _, v := range x {
		x2 += v * v
	}
	e := fftKappa * math.Log2(float64(r.n)) * unitRoundoff * math.Sqrt(float64(r.n)) * math.Sqrt(x2)
	k := float64(count)
	a := make([]float64, len(coef))
	for j, c := range coef {
		a[j] = cmplxAbs(c) + e
		r.logU[j] += k * math.Log(a[j])
	}
	r.a = append(r.a, a)
	r.k = append(r.k, k)
	r.e = append(r.e, e)
	r.powErr += 4 * math.Log2(k+1) * unitRoundoff
}

// perBin returns the bound on each bin's absolute error.
func (r *roundoffBound) perBin(acc []complex128) float64 {
	n := float64(r.n)
	last := len(r.logU) - 1
	weight := func(j int) float64 {
		if j == 0 || (j == last && r.n%2 == 0) {
			return 1
		}
		return 2
	}
	var sumU, sumA2 float64
	for j, lu := range r.logU {
		w := weight(j)
		sumU += w * math.Exp(lu)
		a := cmplxAbs(acc[j])
		sumA2 += w * a * a
	}
	b := sumU*r.powErr/n + fftKappa*math.Log2(n)*unitRoundoff*math.Sqrt(sumA2)/n
	for g, a := range r.a {
		var s2 float64
		for j, lu := range r.logU {
			v := math.Exp(lu) / a[j]
			s2 += weight(j) * v * v
		}
		b += r.k[g] * r.e[g] * math.Sqrt(s2) / n
	}
	return b
}

func cmplxAbs(c complex128) float64 { return math.Hypot(real(c), imag(c)) }

// maxMassError is the largest excess of composed probability mass over 1
// accepted as round-off; beyond it the composition has failed numerically.
const maxMassError = 1e-5

// checkMass fails closed on a composition that lost its meaning in floating
// point (astronomically long compositions: coefficients raised to a power
// of 10^9 overflow, underflow or turn NaN): a non-finite value or a total
// mass above 1 + maxMassError is an error, never an ε. Mass missing below
// 1 (underflow) is charged to δ as if it sat at +∞.
func (c *composedPLD) checkMass(mass, neg float64) error {
	if math.IsNaN(mass) || math.IsInf(mass, 0) || math.IsNaN(neg) || math.IsInf(neg, 0) || math.IsNaN(c.inf) {
		return fmt.Errorf("%w: the FFT composition is not finite (too many steps for the PLD accountant)", ErrUnreachable)
	}
	total := mass + c.inf
	if total > 1+maxMassError {
		return fmt.Errorf("%w: the FFT composition holds mass %v > 1 (round-off beyond %v)", ErrUnreachable, total, maxMassError)
	}
	if total < 1 {
		c.slack += 1 - total
	}
	return nil
}

// cpow returns z^k by repeated squaring (k >= 1).
func cpow(z complex128, k int) complex128 {
	r := complex(1, 0)
	for k > 0 {
		if k&1 == 1 {
			r *= z
		}
		z *= z
		k >>= 1
	}
	return r
}

// delta returns inf + slack + Σ_{s_k > ε} p_k (1 - e^{ε - s_k}).
func (c *composedPLD) delta(eps float64) float64 {
	d := c.inf + c.slack
	for k := len(c.p) - 1; k >= 0; k-- {
		s := float64(c.lo+int64(k)) * c.h
		if s <= eps {
			break
		}
		d += c.p[k] * -math.Expm1(eps-s)
	}
	return d
}

// epsilon returns the smallest ε >= 0 with delta(ε) <= target; ok is false
// when no finite ε does.
func (c *composedPLD) epsilon(target float64) (float64, bool) {
	base := c.inf + c.slack
	if base >= target {
		return math.Inf(1), false
	}
	// Walk down the grid keeping SP = Σ_{j>k} p_j and SE = Σ_{j>k} p_j e^{s_k - s_j}.
	sp, se := 0.0, 0.0
	eh := math.Exp(-c.h)
	for k := len(c.p) - 1; k >= 0; k-- {
		s := float64(c.lo+int64(k)) * c.h
		if k < len(c.p)-1 {
			se = (se + c.p[k+1]) * eh
			sp += c.p[k+1]
		}
		if base+sp-se > target || s <= 0 {
			// δ(ε) = base + sp - e^{ε-s}·se on [s, s+h]; solve for ε.
			e := s + c.h
			if se > 0 {
				e = s + math.Log((base+sp-target)/se)
			}
			if math.IsNaN(e) || e < s {
				e = s
			}
			e = math.Min(e, s+c.h)
			return math.Max(e, 0), true
		}
	}
	// Every grid point lies above 0 and δ(s_0) <= target: solve on [0, s_0],
	// where δ(ε) = base + SP - e^{ε-s_0}·SE with the sums over all points.
	if len(c.p) == 0 {
		return 0, true
	}
	s0 := float64(c.lo) * c.h
	sp, se = 0, 0
	for k := len(c.p) - 1; k >= 0; k-- {
		sp += c.p[k]
		se = se*math.Exp(-c.h) + c.p[k]
	}
	e := s0
	if se > 0 {
		e = math.Min(s0, s0+math.Log((base+sp-target)/se))
	}
	if math.IsNaN(e) {
		e = 0
	}
	return math.Max(e, 0), true
}
