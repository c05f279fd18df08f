package privacy

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/fedgo/fedgo/fl"
)

// countClient trains to a fixed update and reports its example count as
// the weight, as fl.Update's doc asks of a host.
type countClient struct {
	delta []float64
	count float64
}

func (c countClient) Train(context.Context, []float64, fl.Config) (fl.Update, error) {
	return fl.Update{Delta: append([]float64(nil), c.delta...), Weight: c.count}, nil
}

func (c countClient) Evaluate(context.Context, []float64) (fl.Metrics, error) { return nil, nil }

// trainReply runs one train round through h and returns the reply.
func trainReply(t *testing.T, h fl.Handler) *fl.Message {
	t.Helper()
	r, err := h.Handle(context.Background(), &fl.Message{Type: fl.TypeTrain, Round: 1, Params: []float64{0, 0}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func phi(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// TestLocalNoisedWeightHidesCount mounts the leak a weight can carry: the
// server guesses which of two clients it is talking to, one with 1 example
// and one with B, from the weight of their replies. Sent raw (what an
// fl.Update's Weight is), the weight gives the answer every time; the
// constant weight gives nothing (accuracy ½); the noised weight gives what
// the Gaussian mechanism with its noise z·B/√ρ allows and no more: the
// midpoint threshold is the optimal test for a Gaussian shift, with
// accuracy Φ(μ/2), μ = (B−1)√ρ/(zB).
func TestLocalNoisedWeightHidesCount(t *testing.T) {
	const (
		B     = 1000.0
		z     = 1.0
		share = 0.25
		n     = 1500 // releases per client
	)
	lo, hi := countClient{[]float64{0.5, 0}, 1}, countClient{[]float64{0.5, 0}, B}
	accuracy := func(hLo, hHi fl.Handler) float64 {
		right := 0
		for range n {
			if trainReply(t, hLo).Weight <= (1+B)/2 {
				right++
			}
			if trainReply(t, hHi).Weight > (1+B)/2 {
				right++
			}
		}
		return float64(right) / (2 * n)
	}
	// Raw: the attack works.
	if a := accuracy(fl.NewHandler(lo, lo), fl.NewHandler(hi, hi)); a != 1 {
		t.Fatalf("raw weights: attack accuracy %v, want 1 (the attack is broken)", a)
	}
	newH := func(c countClient, mech Mechanism, seed uint64, bound float64) fl.Handler {
		cfg := LocalConfig{ClipNorm: 1, NoiseMultiplier: z, Mechanism: mech, Random: seeded(seed)}
		if bound > 0 {
			cfg.WeightBound, cfg.WeightShare = bound, share
		}
		l, err := NewLocal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return fl.Wrap(fl.NewHandler(c, c), l.Middleware())
	}
	// Constant weight: nothing.
	if a := accuracy(newH(lo, MechanismDiscreteGaussian, 1, 0), newH(hi, MechanismDiscreteGaussian, 2, 0)); a != 0.5 {
		t.Errorf("constant weight: attack accuracy %v, want ½", a)
	}
	mu := (B - 1) * math.Sqrt(share) / (z * B)
	want := phi(mu / 2)
	se := math.Sqrt(want * (1 - want) / (2 * n))
	for i, mech := range []Mechanism{MechanismDiscreteGaussian, MechanismGaussian} {
		a := accuracy(newH(lo, mech, uint64(10+2*i), B), newH(hi, mech, uint64(11+2*i), B))
		t.Logf("%v: attack accuracy %.4f, Gaussian optimum Φ(μ/2) = %.4f", mech, a, want)
		// Too high: less noise than accounted (z·B without the √ρ would give
		// Φ(μ/(2√ρ)) = 0.69 here); too low: more noise than documented.
		if math.Abs(a-want) > 4*se {
			t.Errorf("%v: attack accuracy %.4f, the accounted Gaussian allows %.4f ± %.4f", mech, a, want, 4*se)
		}
	}
}

// TestLocalNoisedWeightBudgetSplit checks the split that keeps the
// accounting unchanged: the update's noise is 2C·z/√(1−ρ) and the count's
// z·B/√ρ (measured), so the pair's μ² = (2C/σ_u)² + (B/σ_w)² is the 1/z²
// of one release at multiplier z, and the spent ε equals the constant-weight
// client's release for release.
func TestLocalNoisedWeightBudgetSplit(t *testing.T) {
	const (
		C     = 1.0
		z     = 0.05
		share = 0.25
		B     = 1000.0
	)
	for i, mech := range []Mechanism{MechanismDiscreteGaussian, MechanismGaussian} {
		// The update's noise, from 2 releases of a zero update in d = 20000.
		l, err := NewLocal(LocalConfig{ClipNorm: C, NoiseMultiplier: z, WeightBound: B, WeightShare: share, Mechanism: mech, Random: seeded(uint64(30 + i))})
		if err != nil {
			t.Fatal(err)
		}
		big := countClient{make([]float64, 20000), 500}
		h := fl.Wrap(fl.NewHandler(big, big), l.Middleware())
		var sq float64
		var k int
		for range 2 {
			for _, x := range trainReply(t, h).Params {
				sq += x * x
				k++
			}
		}
		su := math.Sqrt(sq / float64(k))
		wantU := 2 * C * z / math.Sqrt(1-share)
		if math.Abs(su/wantU-1) > 0.02 {
			t.Errorf("%v: update noise %.5f, want 2Cz/√(1−ρ) = %.5f", mech, su, wantU)
		}
		// The count's noise, from 2000 releases of count 500 (5σ inside
		// [1, B], so the clamp does not bias it).
		small := countClient{[]float64{0}, 500}
		h = fl.Wrap(fl.NewHandler(small, small), l.Middleware())
		var s1, s2 float64
		const n = 2000
		for range n {
			w := trainReply(t, h).Weight
			s1 += w
			s2 += w * w
		}
		mean := s1 / n
		sw := math.Sqrt(s2/n - mean*mean)
		wantW := z * B / math.Sqrt(share)
		if math.Abs(mean-500) > 4*wantW/math.Sqrt(n) || math.Abs(sw/wantW-1) > 0.07 {
			t.Errorf("%v: count released with mean %.2f and σ %.2f, want 500 and zB/√ρ = %.2f", mech, mean, sw, wantW)
		}
		mu2 := (2*C/su)*(2*C/su) + (B/sw)*(B/sw)
		t.Logf("%v: σ_u = %.5f (want %.5f), σ_w = %.2f (want %.2f), μ²z² = %.4f", mech, su, wantU, sw, wantW, mu2*z*z)
		if math.Abs(mu2*z*z-1) > 0.15 {
			t.Errorf("%v: measured μ² = %.1f, the accounted release has 1/z² = %.1f", mech, mu2, 1/(z*z))
		}
	}
	// The accounting: a noised-weight client and a constant-weight one with
	// the same z and budget spend the same ε and allow the same releases.
	var eps [2]float64
	var maxP [2]int
	for i, bound := range []float64{0, B} {
		l, err := NewLocal(LocalConfig{ClipNorm: C, NoiseMultiplier: 3, TargetEpsilon: 10, WeightBound: bound, Random: seeded(40)})
		if err != nil {
			t.Fatal(err)
		}
		c := countClient{[]float64{0.1, 0.2}, 7}
		h := fl.Wrap(fl.NewHandler(c, c), l.Middleware())
		for range 5 {
			trainReply(t, h)
		}
		if l.Participations() != 5 {
			t.Errorf("WeightBound %v: 5 train replies accounted as %d releases", bound, l.Participations())
		}
		if eps[i], err = l.Epsilon(); err != nil {
			t.Fatal(err)
		}
		maxP[i] = l.MaxParticipations()
	}
	if eps[0] != eps[1] || maxP[0] != maxP[1] {
		t.Errorf("ε after 5 releases %v (constant) vs %v (noised weight); budget allows %d vs %d", eps[0], eps[1], maxP[0], maxP[1])
	}
}

// TestLocalNoisedWeightReply: the reply carries a whole-number weight in
// [1, B], never the raw count; a NaN count releases nothing and spends
// nothing; out-of-range counts are clamped before the noise.
func TestLocalNoisedWeightReply(t *testing.T) {
	const B = 50.0
	for _, mech := range []Mechanism{MechanismDiscreteGaussian, MechanismGaussian} {
		l, err := NewLocal(LocalConfig{ClipNorm: 1, NoiseMultiplier: 0.001, WeightBound: B, Mechanism: mech, Random: seeded(50)})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ count, want float64 }{{17, 17}, {-5, 1}, {1e9, B}, {0, 1}} {
			c := countClient{[]float64{0.3, 0}, tc.count}
			r := trainReply(t, fl.Wrap(fl.NewHandler(c, c), l.Middleware()))
			// σ_w = zB/√ρ ≈ 0.16 here: the released weight is the clamped count
			// up to a step or two (exactly, for the discrete mechanism, an integer).
			if r.Weight < 1 || r.Weight > B || math.Abs(r.Weight-tc.want) > 1.5 {
				t.Errorf("%v: count %v released as weight %v, want ≈ %v in [1, %v]", mech, tc.count, r.Weight, tc.want, B)
			}
			if mech == MechanismDiscreteGaussian && r.Weight != math.Trunc(r.Weight) {
				t.Errorf("discrete: weight %v is not a whole number", r.Weight)
			}
			if len(r.Metrics) != 0 {
				t.Errorf("reply carries metrics %v", r.Metrics)
			}
		}
		before := l.Participations()
		c := countClient{[]float64{0.3, 0}, math.NaN()}
		if _, err := fl.Wrap(fl.NewHandler(c, c), l.Middleware()).Handle(context.Background(), &fl.Message{Type: fl.TypeTrain, Params: []float64{0, 0}}); !errors.Is(err, fl.ErrNotFinite) {
			t.Errorf("NaN count: err = %v, want fl.ErrNotFinite", err)
		}
		if l.Participations() != before {
			t.Errorf("a refused NaN count was accounted")
		}
	}
}

func TestLocalNoisedWeightValidate(t *testing.T) {
	for name, c := range map[string]LocalConfig{
		"fractional bound":    {ClipNorm: 1, NoiseMultiplier: 1, WeightBound: 10.5},
		"negative bound":      {ClipNorm: 1, NoiseMultiplier: 1, WeightBound: -1},
		"huge bound":          {ClipNorm: 1, NoiseMultiplier: 1, WeightBound: 1 << 50},
		"NaN bound":           {ClipNorm: 1, NoiseMultiplier: 1, WeightBound: math.NaN()},
		"constant and noised": {ClipNorm: 1, NoiseMultiplier: 1, WeightBound: 10, Weight: 2},
		"share without bound": {ClipNorm: 1, NoiseMultiplier: 1, WeightShare: 0.2},
		"share 1":             {ClipNorm: 1, NoiseMultiplier: 1, WeightBound: 10, WeightShare: 1},
		"negative share":      {ClipNorm: 1, NoiseMultiplier: 1, WeightBound: 10, WeightShare: -0.1},
		"NaN share":           {ClipNorm: 1, NoiseMultiplier: 1, WeightBound: 10, WeightShare: math.NaN()},
	} {
		if _, err := NewLocal(c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
	if _, err := NewLocal(LocalConfig{ClipNorm: 1, NoiseMultiplier: 1, WeightBound: 10}); err != nil {
		t.Errorf("default share: %v", err)
	}
}
