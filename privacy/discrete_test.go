package privacy

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"testing"
)

// dgPMF returns the exact pmf of N_Z(0, σ²) on [-k, k], normalised over
// |x| ≤ 40σ+10 (the mass beyond is below 1e-300).
func dgPMF(sigma2 float64, k int) map[int]float64 {
	lim := int(40*math.Sqrt(sigma2)) + 10
	var z float64
	for x := -lim; x <= lim; x++ {
		z += math.Exp(-float64(x*x) / (2 * sigma2))
	}
	p := make(map[int]float64, 2*k+1)
	for x := -k; x <= k; x++ {
		p[x] = math.Exp(-float64(x*x)/(2*sigma2)) / z
	}
	return p
}

// chiSquareDG tests samples against the pmf of N_Z(0, sigma2): bins are the
// integers with expected count ≥ 20 plus the two tails merged. It returns
// the statistic, the degrees of freedom, and an error if the statistic
// exceeds a conservative 0.9999 quantile (Wilson–Hilferty).
func chiSquareDG(samples []int64, sigma2 float64) (float64, int, error) {
	n := float64(len(samples))
	k := 0
	pmf := dgPMF(sigma2, int(20*math.Sqrt(sigma2))+5)
	for n*pmf[k+1] >= 20 {
		k++
	}
	counts := map[int]int{}
	tail := 0
	for _, s := range samples {
		if s < int64(-k) || s > int64(k) {
			tail++
		} else {
			counts[int(s)]++
		}
	}
	var chi, inside float64
	for x := -k; x <= k; x++ {
		e := n * pmf[x]
		inside += pmf[x]
		o := float64(counts[x])
		chi += (o - e) * (o - e) / e
	}
	if et := n * (1 - inside); et > 0 {
		chi += (float64(tail) - et) * (float64(tail) - et) / et
	}
	df := 2*k + 1
	// Wilson–Hilferty: the q-quantile of χ²_df ≈ df(1 − 2/(9df) + z_q√(2/(9df)))³, z_0.9999 ≈ 3.719.
	f := float64(df)
	crit := f * math.Pow(1-2/(9*f)+3.719*math.Sqrt(2/(9*f)), 3)
	if chi > crit {
		return chi, df, fmt.Errorf("chi-square %.1f on %d degrees of freedom exceeds %.1f", chi, df, crit)
	}
	return chi, df, nil
}

func sampleDG(t *testing.T, g *DiscreteGaussian, seed uint64, n int) []int64 {
	t.Helper()
	return g.AddTo(make([]int64, n), newSeeded(t, seed))
}

// dgDraws are the ways of drawing under test: AddTo (which builds the
// table when σ² allows and the draw is large) and Canonne et al.'s sampler
// alone.
var dgDraws = []struct {
	name string
	draw func(*testing.T, *DiscreteGaussian, uint64, int) []int64
}{{"addto", sampleDG}, {"cks", cksSamples}}

func TestDiscreteGaussianMatchesPMF(t *testing.T) {
	cases := []struct {
		name   string
		sigma2 *big.Rat
	}{
		{"1/2", big.NewRat(1, 2)},
		{"1", big.NewRat(1, 1)},
		{"7/3", big.NewRat(7, 3)},
		{"10", big.NewRat(10, 1)},
		{"float 2.7^2", new(big.Rat).Mul(new(big.Rat).SetFloat64(2.7), new(big.Rat).SetFloat64(2.7))},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := NewDiscreteGaussian(c.sigma2)
			if err != nil {
				t.Fatal(err)
			}
			s2, _ := c.sigma2.Float64()
			for _, d := range dgDraws {
				x := d.draw(t, g, uint64(i+1), 40_000)
				if chi, df, err := chiSquareDG(x, s2); err != nil {
					t.Errorf("%s: %v", d.name, err)
				} else {
					t.Logf("%s: chi-square %.1f on %d df", d.name, chi, df)
				}
			}
		})
	}
}

// A sampler whose σ is 5% off must fail both the chi-square and the
// variance test against the intended σ.
func TestDiscreteGaussianCheckRejectsWrongSigma(t *testing.T) {
	const sigma = 3.0
	for _, f := range []float64{1.05, 0.95} {
		g, err := NewDiscreteGaussianFloat(sigma * f)
		if err != nil {
			t.Fatal(err)
		}
		x := sampleDG(t, g, 11, 40_000)
		if _, _, err := chiSquareDG(x, sigma*sigma); err == nil {
			t.Errorf("σ·%v passed the chi-square test for σ", f)
		}
		if err := dgMoments(x, sigma*sigma); err == nil {
			t.Errorf("σ·%v passed the moment test for σ", f)
		}
	}
}

// dgMoments checks the mean (0) and the variance against the exact
// variance of N_Z(0, σ²), Σ x² p(x), within 5 standard errors.
func dgMoments(x []int64, sigma2 float64) error {
	pmf := dgPMF(sigma2, int(40*math.Sqrt(sigma2))+10)
	var v, m4 float64
	for k, p := range pmf {
		v += float64(k*k) * p
		m4 += math.Pow(float64(k), 4) * p
	}
	n := float64(len(x))
	var sum, sq float64
	for _, s := range x {
		sum += float64(s)
		sq += float64(s) * float64(s)
	}
	if mean := sum / n; math.Abs(mean) > 5*math.Sqrt(v/n) {
		return fmt.Errorf("mean %v, want 0 ± %v", mean, 5*math.Sqrt(v/n))
	}
	se := math.Sqrt((m4 - v*v) / n)
	if got := sq / n; math.Abs(got-v) > 5*se {
		return fmt.Errorf("variance %v, want %v ± %v", got, v, 5*se)
	}
	return nil
}

func TestDiscreteGaussianMoments(t *testing.T) {
	for i, sigma := range []float64{0.3, 1, 5.5, 1000} {
		g, err := NewDiscreteGaussianFloat(sigma)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dgDraws {
			if err := dgMoments(d.draw(t, g, uint64(20+i), 30_000), sigma*sigma); err != nil {
				t.Errorf("%s: σ = %v: %v", d.name, sigma, err)
			}
		}
	}
}

func TestDiscreteGaussianExactConversion(t *testing.T) {
	g, err := NewDiscreteGaussianFloat(0.1)
	if err != nil {
		t.Fatal(err)
	}
	want := new(big.Rat).SetFloat64(0.1)
	want.Mul(want, want)
	if g.Sigma2().Cmp(want) != 0 {
		t.Errorf("σ² = %v, want the exact square of the double 0.1, %v", g.Sigma2(), want)
	}
	if g.Sigma2().Cmp(big.NewRat(1, 100)) == 0 {
		t.Error("σ² was rounded to 1/100")
	}
	// t = ⌊σ⌋ + 1, computed exactly: σ² = 4 - 2^-50 has ⌊σ⌋ = 1, σ² = 4 has 2.
	almost := new(big.Rat).Sub(big.NewRat(4, 1), new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), 50)))
	for _, c := range []struct {
		s2    *big.Rat
		wantT uint64
	}{{big.NewRat(4, 1), 3}, {almost, 2}, {big.NewRat(1, 4), 1}, {big.NewRat(99, 1), 10}} {
		g, err := NewDiscreteGaussian(c.s2)
		if err != nil {
			t.Fatal(err)
		}
		if g.t != c.wantT {
			t.Errorf("σ² = %v: t = %d, want %d", c.s2.FloatString(20), g.t, c.wantT)
		}
	}
}

func TestDiscreteGaussianRejectsBadSigma(t *testing.T) {
	huge := new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), 130))
	for _, s2 := range []*big.Rat{nil, big.NewRat(0, 1), big.NewRat(-1, 2), huge} {
		if _, err := NewDiscreteGaussian(s2); !errors.Is(err, ErrInvalidSigma) {
			t.Errorf("σ² = %v: err = %v, want ErrInvalidSigma", s2, err)
		}
	}
	for _, s := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, err := NewDiscreteGaussianFloat(s); !errors.Is(err, ErrInvalidSigma) {
			t.Errorf("σ = %v: err = %v, want ErrInvalidSigma", s, err)
		}
	}
}

// bernoulliExp must return true with probability exp(−n/d), including
// γ > 1 and denominators that overflow 64 bits in Algorithm 1's d·k.
func TestBernoulliExp(t *testing.T) {
	const trials = 40_000
	s := newSeeded(t, 30)
	check := func(name string, p float64, f func() bool) {
		t.Helper()
		hits := 0
		for i := 0; i < trials; i++ {
			if f() {
				hits++
			}
		}
		se := math.Sqrt(p * (1 - p) / trials)
		if got := float64(hits) / trials; math.Abs(got-p) > 5*se+1e-12 {
			t.Errorf("%s: frequency %v, want %v ± %v", name, got, p, 5*se)
		}
	}
	for _, c := range [][2]uint64{{0, 1}, {1, 3}, {1, 1}, {5, 2}, {7, 7}, {3, 1}} {
		n, d := c[0], c[1]
		check(fmt.Sprintf("exp(-%d/%d)", n, d), math.Exp(-float64(n)/float64(d)), func() bool { return s.bernoulliExp(n, d) })
	}
	big2 := uint64(1) << 63
	check("exp(-(2^63-1)/2^63) with overflow", math.Exp(-float64(big2-1)/float64(big2)), func() bool { return s.bernoulliExp(big2-1, big2) })
	// Big-integer path: γ = 3·2^70 / (2·2^70) = 1.5.
	bn := new(big.Int).Lsh(big.NewInt(3), 70)
	bd := new(big.Int).Lsh(big.NewInt(2), 70)
	check("big exp(-1.5)", math.Exp(-1.5), func() bool { return s.bernoulliExpBig(bn, bd) })
	// uniformBig below 3·2^64: the top third must get a third of the mass.
	d := new(big.Int).Lsh(big.NewInt(3), 64)
	third := new(big.Int).Lsh(big.NewInt(1), 65)
	check("uniformBig", 1.0/3, func() bool { return s.uniformBig(d).Cmp(third) >= 0 })
	// 128-bit path: γ = 3·2^100/(2·2^100) = 1.5 and γ = 2^100/(3·2^100),
	// and a uniform below 3·2^100 whose top third must get a third.
	n128, d128 := u128{3 << 36, 0}, u128{2 << 36, 0}
	check("128-bit exp(-1.5)", math.Exp(-1.5), func() bool { return s.bernoulliExp128(n128, d128) })
	check("128-bit exp(-1/3)", math.Exp(-1.0/3), func() bool { return s.bernoulliExp128(u128{1 << 36, 0}, u128{3 << 36, 0}) })
	check("uniform128", 1.0/3, func() bool { return !s.uniform128(u128{3 << 36, 0}).less(u128{2 << 36, 0}) })
}

// The allocation-free path (integer σ² < 2^56) against the exact PMF at a
// large σ², and its moments at the scale of the fixed-point mechanism.
func TestDiscreteGaussianFastPath(t *testing.T) {
	for i, s2 := range []int64{3, 1_000_003, 1 << 40} {
		g, err := NewDiscreteGaussian(big.NewRat(s2, 1))
		if err != nil {
			t.Fatal(err)
		}
		x := cksSamples(t, g, uint64(40+i), 30_000)
		if s2 < 1<<30 {
			if _, _, err := chiSquareDG(x, float64(s2)); err != nil {
				t.Errorf("σ² = %d: %v", s2, err)
			}
		}
		var sq float64
		for _, v := range x {
			sq += float64(v) * float64(v)
		}
		if v := sq / float64(len(x)); math.Abs(v/float64(s2)-1) > 5*math.Sqrt(2.0/float64(len(x))) {
			t.Errorf("σ² = %d: sample variance %v", s2, v)
		}
		s := newSeeded(t, 1)
		if a := testing.AllocsPerRun(100, func() { g.sampleCKS(s) }); a != 0 {
			t.Errorf("σ² = %d: %v allocations per sample", s2, a)
		}
	}
}

// TestUint64nMatchesRand: the inlined uniform draw consumes a seeded
// stream exactly as math/rand/v2's Rand.Uint64N, value for value.
func TestUint64nMatchesRand(t *testing.T) {
	a, b := newSeeded(t, 7), newSeeded(t, 7)
	for i, n := range []uint64{1, 2, 3, 7, 1 << 40, 1<<63 + 12345, 1000003, 6, math.MaxUint64} {
		for j := range 2000 {
			if x, y := a.uint64n(n), b.r.Uint64N(n); x != y {
				t.Fatalf("n = %d (case %d, draw %d): %d != %d", n, i, j, x, y)
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Uint64N(0) did not panic")
		}
	}()
	a.Uint64N(0)
}
