package accountant

import (
	"errors"
	"math"
	"testing"
)

// refGaussianDelta is the analytic Gaussian mechanism's δ(ε) with μ =
// sensitivity/σ (Balle & Wang 2018, Theorem 8), written here independently
// of the package: δ = Φ(-ε/μ + μ/2) - e^ε Φ(-ε/μ - μ/2).
func refGaussianDelta(mu, eps float64) float64 {
	phi := func(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
	return phi(-eps/mu+mu/2) - math.Exp(eps)*phi(-eps/mu-mu/2)
}

func refGaussianEpsilon(mu, delta float64) float64 {
	lo, hi := 0.0, 200.0
	for range 200 {
		m := (lo + hi) / 2
		if refGaussianDelta(mu, m) > delta {
			lo = m
		} else {
			hi = m
		}
	}
	return hi
}

// refHockeyStick integrates δ(ε) = ∫ (A(z) - e^ε B(z))_+ dz for one step of
// the Poisson-sampled Gaussian, for the pair (A, B) = (μ, μ0) (remove) or
// (μ0, μ) (add), with μ0 = N(0,σ²), μ = (1-q)μ0 + qN(1,σ²). The ratio A/B is
// monotone in z, so the positive part is one half-line, found by bisection
// on the sign of the integrand; Simpson's rule integrates the smooth part.
func refHockeyStick(sigma, q, eps float64, remove bool) float64 {
	pdf := func(z, m float64) float64 {
		return math.Exp(-(z-m)*(z-m)/(2*sigma*sigma)) / (sigma * math.Sqrt(2*math.Pi))
	}
	f := func(z float64) float64 {
		a, b := (1-q)*pdf(z, 0)+q*pdf(z, 1), pdf(z, 0)
		if !remove {
			a, b = b, a
		}
		return a - math.Exp(eps)*b
	}
	lo, hi := -40*sigma, 1+40*sigma
	// Bisection for the sign change (positive side: right for remove, left for add).
	a, b := lo, hi
	for range 200 {
		m := (a + b) / 2
		if (f(m) > 0) == remove {
			b = m
		} else {
			a = m
		}
	}
	from, to := b, hi
	if !remove {
		from, to = lo, a
	}
	if to <= from {
		return 0
	}
	n := 200000 // even
	h := (to - from) / float64(n)
	sum := math.Max(f(from), 0) + math.Max(f(to), 0)
	for k := 1; k < n; k++ {
		w := 2.0
		if k%2 == 1 {
			w = 4
		}
		sum += w * math.Max(f(from+float64(k)*h), 0)
	}
	return sum * h / 3
}

// TestPLDGaussianDiscretized drives the discretized FFT path with q = 1
// steps (the public API would use the closed form) and compares with the
// exact Gaussian ε: never below it, within 1%.
func TestPLDGaussianDiscretized(t *testing.T) {
	cfg := DefaultPLDConfig()
	for _, tc := range []struct {
		sigma float64
		count int
		delta float64
	}{{5, 100, 1e-5}, {10, 300, 1e-6}, {2, 10, 1e-5}} {
		groups := []pldGroup{{sigma: tc.sigma, q: 1, count: tc.count}}
		r, _ := composeDirection(groups, dirRemove, cfg.ValueDiscretization, cfg)
		a, _ := composeDirection(groups, dirAdd, cfg.ValueDiscretization, cfg)
		if r == nil || a == nil {
			t.Fatal("window too large")
		}
		e1, ok1 := r.epsilon(tc.delta)
		e2, ok2 := a.epsilon(tc.delta)
		if !ok1 || !ok2 {
			t.Fatal("unreachable")
		}
		got := math.Max(e1, e2)
		want := refGaussianEpsilon(math.Sqrt(float64(tc.count))/tc.sigma, tc.delta)
		if got < want*(1-1e-9) || got > want*1.01 {
			t.Errorf("σ=%v n=%d: PLD ε %v, exact %v", tc.sigma, tc.count, got, want)
		}
	}
}

// TestPLDGaussianClosedForm: with only q = 1 steps the accountant is exact.
func TestPLDGaussianClosedForm(t *testing.T) {
	p, _ := NewPLD(PLDConfig{})
	_ = p.Compose(Step{NoiseMultiplier: 2, SampleRate: 1}, 30)
	_ = p.Compose(Step{NoiseMultiplier: 4, SampleRate: 1}, 40)
	mu := math.Sqrt(30.0/4 + 40.0/16)
	eps, err := p.Epsilon(1e-5)
	if err != nil {
		t.Fatal(err)
	}
	if want := refGaussianEpsilon(mu, 1e-5); relErr(eps, want) > 1e-9 {
		t.Errorf("ε = %v, want %v", eps, want)
	}
	for _, e := range []float64{0, 0.5, 3} {
		d, _ := p.Delta(e)
		if want := refGaussianDelta(mu, e); math.Abs(d-want) > 1e-12 {
			t.Errorf("δ(%v) = %v, want %v", e, d, want)
		}
	}
	// No overflow: q = 1, σ = 0.5, 10^5 steps.
	g, _ := NewPLD(PLDConfig{})
	_ = g.Compose(Step{NoiseMultiplier: 0.5, SampleRate: 1}, 100000)
	if eps, err := g.Epsilon(1e-5); err != nil || math.IsInf(eps, 0) || math.IsNaN(eps) || eps < 1000 {
		t.Errorf("q=1 σ=0.5 1e5 steps: %v %v", eps, err)
	}
}

// TestPLDSingleStepDominatesExact: one step's discretized δ(ε) is never
// below the hockey-stick divergence integrated from the definition, and
// is close to it.
func TestPLDSingleStepDominatesExact(t *testing.T) {
	for _, tc := range []struct{ sigma, q float64 }{{1, 0.1}, {0.7, 0.5}, {2, 0.01}} {
		p, _ := NewPLD(PLDConfig{})
		if err := p.Compose(Step{NoiseMultiplier: tc.sigma, SampleRate: tc.q}, 1); err != nil {
			t.Fatal(err)
		}
		for _, e := range []float64{0, 0.00005, 0.013, 0.31234, 1.07} {
			got, err := p.Delta(e)
			if err != nil {
				t.Fatal(err)
			}
			want := math.Max(refHockeyStick(tc.sigma, tc.q, e, true), refHockeyStick(tc.sigma, tc.q, e, false))
			if got < want-1e-12 || got > want+1e-4*math.Max(want, 1e-3) {
				t.Errorf("σ=%v q=%v ε=%v: PLD δ %v, exact %v", tc.sigma, tc.q, e, got, want)
			}
		}
	}
}

// TestPLDTighterThanRDPAndConverged: PLD ε is below RDP ε, and refining
// the grid 2× changes it by less than 1% and never raises it.
func TestPLDTighterThanRDPAndConverged(t *testing.T) {
	for _, tc := range []struct {
		sigma, q float64
		count    int
	}{{1, 0.01, 1000}, {1.1, 256.0 / 60000, 2000}, {0.8, 0.1, 20}} {
		s := Step{NoiseMultiplier: tc.sigma, SampleRate: tc.q}
		r, _ := NewRDP(nil)
		_ = r.Compose(s, tc.count)
		er, _, _ := r.Epsilon(1e-5)
		var eps [2]float64
		for i, h := range []float64{1e-4, 5e-5} {
			p, _ := NewPLD(PLDConfig{ValueDiscretization: h})
			if err := p.Compose(s, tc.count); err != nil {
				t.Fatal(err)
			}
			e, err := p.Epsilon(1e-5)
			if err != nil {
				t.Fatal(err)
			}
			eps[i] = e
		}
		if eps[0] > er {
			t.Errorf("%+v: PLD ε %v > RDP ε %v", tc, eps[0], er)
		}
		if eps[1] > eps[0]*(1+1e-9) || eps[0] > eps[1]*1.01 {
			t.Errorf("%+v: ε(h=1e-4) = %v, ε(h=5e-5) = %v", tc, eps[0], eps[1])
		}
	}
}

// TestPLDComposition: heterogeneous composition is order-independent and
// Compose(s, a) + Compose(s, b) equals Compose(s, a+b); Delta inverts Epsilon.
func TestPLDComposition(t *testing.T) {
	s1 := Step{NoiseMultiplier: 1, SampleRate: 0.02}
	s2 := Step{NoiseMultiplier: 1.5, SampleRate: 0.05}
	p, _ := NewPLD(PLDConfig{})
	_ = p.Compose(s1, 30)
	_ = p.Compose(s2, 20)
	_ = p.Compose(s1, 20)
	q, _ := NewPLD(PLDConfig{})
	_ = q.Compose(s2, 20)
	_ = q.Compose(s1, 50)
	ep, err1 := p.Epsilon(1e-6)
	eq, err2 := q.Epsilon(1e-6)
	if err1 != nil || err2 != nil || relErr(ep, eq) > 1e-9 {
		t.Errorf("order dependence: %v %v (%v %v)", ep, eq, err1, err2)
	}
	d, _ := p.Delta(ep)
	if d > 1e-6*(1+1e-6) || d < 1e-6*0.99 {
		t.Errorf("Delta(Epsilon(1e-6)) = %v", d)
	}
	// Composition makes things worse, never better.
	one, _ := NewPLD(PLDConfig{})
	_ = one.Compose(s1, 50)
	e1, _ := one.Epsilon(1e-6)
	if e1 >= ep {
		t.Errorf("adding steps lowered ε: %v >= %v", e1, ep)
	}
	// Empty accountant.
	z, _ := NewPLD(PLDConfig{})
	if e, err := z.Epsilon(1e-5); e != 0 || err != nil {
		t.Errorf("empty: %v %v", e, err)
	}
}

func TestPLDValidation(t *testing.T) {
	p, _ := NewPLD(PLDConfig{})
	if err := p.Compose(Step{NoiseMultiplier: 1, SampleRate: 0.1, Sampling: FixedSize, Population: 10}, 1); !errors.Is(err, ErrUnsupported) {
		t.Errorf("fixed-size: %v", err)
	}
	if err := p.Compose(Step{NoiseMultiplier: 0, SampleRate: 0.1}, 1); !errors.Is(err, ErrInvalidNoise) {
		t.Errorf("σ=0: %v", err)
	}
	if err := p.Compose(Step{NoiseMultiplier: 1, SampleRate: 0.1}, -3); !errors.Is(err, ErrInvalidCount) {
		t.Errorf("count: %v", err)
	}
	if _, err := p.Epsilon(math.NaN()); !errors.Is(err, ErrInvalidDelta) {
		t.Errorf("NaN δ: %v", err)
	}
	if _, err := p.Delta(-1); !errors.Is(err, ErrInvalidEpsilon) {
		t.Errorf("negative ε: %v", err)
	}
	for _, c := range []PLDConfig{
		{ValueDiscretization: -1}, {ValueDiscretization: math.NaN()}, {TailMass: 0.5}, {MaxBins: 10},
	} {
		if _, err := NewPLD(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewPLD(%+v): %v", c, err)
		}
	}
	// δ below the infinite-loss mass is unreachable, with an error, not NaN.
	u, _ := NewPLD(PLDConfig{TailMass: 1e-6})
	_ = u.Compose(Step{NoiseMultiplier: 1, SampleRate: 0.5}, 10)
	if e, err := u.Epsilon(1e-9); !errors.Is(err, ErrUnreachable) || !math.IsInf(e, 1) {
		t.Errorf("unreachable δ: %v %v", e, err)
	}
}

// TestPLDWideLoss: very small noise with heavy sampling exercises the
// coarsening of the grid; the result stays finite and below RDP.
func TestPLDWideLoss(t *testing.T) {
	s := Step{NoiseMultiplier: 0.5, SampleRate: 0.9}
	p, _ := NewPLD(PLDConfig{MaxBins: 1 << 16})
	if err := p.Compose(s, 2000); err != nil {
		t.Fatal(err)
	}
	e, err := p.Epsilon(1e-5)
	r, _ := NewRDP(nil)
	_ = r.Compose(s, 2000)
	er, _, _ := r.Epsilon(1e-5)
	if err != nil || math.IsNaN(e) || math.IsInf(e, 0) || e > er {
		t.Errorf("ε = %v (%v), RDP %v", e, err, er)
	}
}

// TestPLDDPAccountingKnownAnswers reproduces values asserted in
// dp_accounting's pld/pld_privacy_accountant_test.py, at their tolerance.
func TestPLDDPAccountingKnownAnswers(t *testing.T) {
	// test_poisson_subsampled_gaussian / test_self_composed_subsampled_gaussian:
	// PoissonSampledDpEvent(0.2, GaussianDpEvent(0.5)) composed 3 times,
	// δ(1) = 0.15594 and ε(0.15594) = 1, both to within 1e-3.
	p, _ := NewPLD(PLDConfig{})
	s := Step{NoiseMultiplier: 0.5, SampleRate: 0.2}
	_ = p.Compose(s, 1)
	_ = p.Compose(s, 2)
	if d, err := p.Delta(1); err != nil || math.Abs(d-0.15594) > 1e-3 {
		t.Errorf("subsampled Gaussian δ(1) = %v (%v), want 0.15594", d, err)
	}
	if e, err := p.Epsilon(0.15594); err != nil || math.Abs(e-1) > 1e-3 {
		t.Errorf("subsampled Gaussian ε(0.15594) = %v (%v), want 1", e, err)
	}
	// test_gaussian_basic: GaussianDpEvent(√3) composed 3 times,
	// δ(1) = 0.126936 and ε(0.126936) = 1 to within 1e-3.
	g, _ := NewPLD(PLDConfig{})
	_ = g.Compose(Step{NoiseMultiplier: math.Sqrt(3), SampleRate: 1}, 3)
	if d, err := g.Delta(1); err != nil || math.Abs(d-0.126936) > 1e-3 {
		t.Errorf("Gaussian δ(1) = %v (%v), want 0.126936", d, err)
	}
	if e, err := g.Epsilon(0.126936); err != nil || math.Abs(e-1) > 1e-3 {
		t.Errorf("Gaussian ε(0.126936) = %v (%v), want 1", e, err)
	}
}

// refTwoStepDelta computes δ(ε) of two compositions of the Poisson-sampled
// Gaussian exactly (to quadrature accuracy), for one direction: the
// positive part of A(z1)A(z2) - e^ε B(z1)B(z2) is, for fixed z1, a
// half-line in z2 (the loss is monotone), whose end t is found by bisection;
// the z2 integral is then a Gaussian tail and the z1 integral is smooth
// (Simpson's rule).
func refTwoStepDelta(sigma, q, eps float64, remove bool) float64 {
	L := func(z float64) float64 { // remove-direction loss log(A/B)(z)
		return math.Log1p(q * math.Expm1((2*z-1)/(2*sigma*sigma)))
	}
	sf := func(x float64) float64 { return 0.5 * math.Erfc(x/math.Sqrt2) }
	pdf := func(z, m float64) float64 {
		return math.Exp(-(z-m)*(z-m)/(2*sigma*sigma)) / (sigma * math.Sqrt(2*math.Pi))
	}
	// solve L(t) = target by bisection; ok false if target <= inf L = log(1-q).
	solve := func(target float64) (float64, bool) {
		if target <= math.Log1p(-q) {
			return 0, false
		}
		lo, hi := -100*sigma-100, 100*sigma+100
		for range 200 {
			m := (lo + hi) / 2
			if L(m) < target {
				lo = m
			} else {
				hi = m
			}
		}
		return (lo + hi) / 2, true
	}
	c := math.Exp(eps)
	f := func(z1 float64) float64 {
		a1 := (1-q)*pdf(z1, 0) + q*pdf(z1, 1)
		b1 := pdf(z1, 0)
		if remove { // region L(z1)+L(z2) > ε, i.e. z2 > t
			t, ok := solve(eps - L(z1))
			if !ok {
				return a1 - c*b1
			}
			sa := (1-q)*sf(t/sigma) + q*sf((t-1)/sigma)
			return math.Max(a1*sa-c*b1*sf(t/sigma), 0)
		}
		// add: pair (B, A), region L(z1)+L(z2) < -ε, i.e. z2 < t
		t, ok := solve(-eps - L(z1))
		if !ok {
			return 0
		}
		sb := sf(-t / sigma)
		sa := (1-q)*sf(-t/sigma) + q*sf(-(t-1)/sigma)
		return math.Max(b1*sb-c*a1*sa, 0)
	}
	lo, hi := -14*sigma, 1+14*sigma
	n := 8000 // the z1 integrand has kinks: error ~ 7e-11 here
	h := (hi - lo) / float64(n)
	sum := f(lo) + f(hi)
	for k := 1; k < n; k++ {
		w := 2.0
		if k%2 == 1 {
			w = 4
		}
		sum += w * f(lo+float64(k)*h)
	}
	return sum * h / 3
}

// TestPLDTwoStepsDominateExact: the FFT composition of two steps is never
// below the exact two-step δ(ε), and close to it.
func TestPLDTwoStepsDominateExact(t *testing.T) {
	for _, tc := range []struct{ sigma, q float64 }{{0.8, 0.2}, {1.5, 0.5}} {
		p, _ := NewPLD(PLDConfig{})
		_ = p.Compose(Step{NoiseMultiplier: tc.sigma, SampleRate: tc.q}, 2)
		for _, e := range []float64{0.1, 0.5, 1.3} {
			got, err := p.Delta(e)
			if err != nil {
				t.Fatal(err)
			}
			want := math.Max(refTwoStepDelta(tc.sigma, tc.q, e, true), refTwoStepDelta(tc.sigma, tc.q, e, false))
			if got < want-1.5e-10 || got > want*(1+1e-4)+1e-12 {
				t.Errorf("σ=%v q=%v ε=%v: PLD δ %.12g, exact %.12g", tc.sigma, tc.q, e, got, want)
			}
		}
	}
}
