package ddp

import (
	"bytes"
	"math"
	"os"
	"testing"

	"github.com/fedgo/fedgo/privacy"
)

func seeded(t testing.TB, b byte) *privacy.Source {
	t.Helper()
	s, err := privacy.NewSource(bytes.NewReader(bytes.Repeat([]byte{b}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// poissonPMF is e^{−λ}λ^k/k!, computed in log space.
func poissonPMF(lambda float64, k int) float64 {
	lg, _ := math.Lgamma(float64(k) + 1)
	return math.Exp(-lambda + float64(k)*math.Log(lambda) - lg)
}

// chiSquare bins the draws (tail bins merged until the expected count is
// ≥ 5) and returns the statistic and its degrees of freedom.
func chiSquare(counts map[int64]int, n int, pmf func(int64) float64, lo, hi int64) (stat float64, dof int) {
	var obs, exp float64
	flush := func() {
		stat += (obs - exp) * (obs - exp) / exp
		dof++
		obs, exp = 0, 0
	}
	// Left tail up to lo.
	for k, c := range counts {
		if k < lo {
			obs += float64(c)
		}
	}
	for k := lo - 1; k >= lo-4000 && k > -1<<40; k-- {
		exp += float64(n) * pmf(k)
	}
	flush()
	for k := lo; k <= hi; k++ {
		obs += float64(counts[k])
		exp += float64(n) * pmf(k)
		if exp >= 5 {
			flush()
		}
	}
	for k, c := range counts {
		if k > hi {
			obs += float64(c)
		}
	}
	for k := hi + 1; k <= hi+4000; k++ {
		exp += float64(n) * pmf(k)
	}
	flush()
	return stat, dof - 1
}

// chiCritical is the 0.999 quantile of χ² with dof degrees of freedom
// (Wilson–Hilferty).
func chiCritical(dof int) float64 {
	k := float64(dof)
	z := 3.090 // Φ^{-1}(0.999)
	h := 1 - 2/(9*k) + z*math.Sqrt(2/(9*k))
	return k * h * h * h
}

// TestPoissonPMF: the table sampler at λ from 1 to 10^7 (the Skellam
// shares of 16-bit rounds of 100 and 10 clients among them) and the
// rejection sampler it falls back to (the reference, O(√λ)) fit the
// Poisson pmf.
func TestPoissonPMF(t *testing.T) {
	for _, lambda := range []uint64{1, 2, 7, 30, 1000, 171926, 2236857, 10_000_000} {
		p, err := newPoisson(lambda)
		if err != nil {
			t.Fatal(err)
		}
		s := seeded(t, byte(lambda))
		n := 60000
		counts := map[int64]int{}
		for range n {
			counts[p.sample(s)]++
		}
		poissonChi2(t, counts, n, lambda)
		if lambda > 1000 && os.Getenv("CI") != "true" {
			continue // the reference costs O(√λ) per draw
		}
		n = 15000
		clear(counts)
		for range n {
			counts[p.sampleReject(s)]++
		}
		poissonChi2(t, counts, n, lambda)
	}
}

// TestSkellamMoments checks the mean 0, the variance 2λ and the fourth
// cumulant 2λ of Sk(λ) (every even cumulant of Sk(λ) is 2λ).
func TestSkellamMoments(t *testing.T) {
	for _, lambda := range []uint64{3, 500} {
		p, err := newPoisson(lambda)
		if err != nil {
			t.Fatal(err)
		}
		s := seeded(t, 9)
		n := 150000.0
		if testing.Short() && lambda > 3 {
			n = 30000
		}
		var m1, m2, m4 float64
		for range int(n) {
			x := float64(p.skellam(s))
			m1 += x
			m2 += x * x
			m4 += x * x * x * x
		}
		m1, m2, m4 = m1/n, m2/n, m4/n
		l := float64(lambda)
		v := 2 * l
		if se := math.Sqrt(v / n); math.Abs(m1) > 5*se {
			t.Errorf("λ = %d: mean %v, want 0 ± %v", lambda, m1, 5*se)
		}
		// Var of the sample second moment is about (μ4 − v²)/n.
		mu4 := v + 3*v*v
		if se := math.Sqrt((mu4 - v*v) / n); math.Abs(m2-v) > 5*se {
			t.Errorf("λ = %d: variance %v, want %v ± %v", lambda, m2, v, 5*se)
		}
		// The sample fourth moment has standard error about √(μ8/n), μ8 ≈ 105v⁴.
		if k4, se := m4-3*m2*m2, math.Sqrt(105*v*v*v*v/n); math.Abs(k4-v) > 5*se || lambda == 3 && se > v/2 {
			t.Errorf("λ = %d: fourth cumulant %v, want %v", lambda, k4, v)
		}
	}
}

func TestPoissonRange(t *testing.T) {
	for _, l := range []uint64{0, maxLambda + 1} {
		if _, err := newPoisson(l); err == nil {
			t.Errorf("λ = %d accepted", l)
		}
	}
}

// TestGeometricBlocks: the blocked geometric proposal has P[G = g] =
// (1−ρ)ρ^g, ρ = (s−1)/s.
func TestGeometricBlocks(t *testing.T) {
	for _, lambda := range []uint64{1, 50, 1 << 20} {
		p, err := newPoisson(lambda)
		if err != nil {
			t.Fatal(err)
		}
		s := seeded(t, 3)
		n := 40000
		counts := map[int64]int{}
		for range n {
			counts[int64(p.geometric(s))]++
		}
		rho := float64(p.s-1) / float64(p.s)
		mean := rho / (1 - rho)
		stat, dof := chiSquare(counts, n, func(g int64) float64 {
			if g < 0 {
				return 0
			}
			return (1 - rho) * math.Pow(rho, float64(g))
		}, 0, int64(6*mean)+5)
		if crit := chiCritical(dof); stat > crit {
			t.Errorf("s = %d (k = %d): χ² = %.1f with %d dof, critical %.1f", p.s, p.k, stat, dof, crit)
		}
	}
}
