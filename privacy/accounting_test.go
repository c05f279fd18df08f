package privacy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/privacy/accountant"
)

// gridStep is the step of one release of CentralDP's discrete mechanism
// written on a concrete grid, from the mechanism's parameters rather than
// the package's unit form: one client's rounded contribution has L2 norm at
// most l grid steps (and so L1 norm at most √d·l) in dimension d, and the
// noise is the discrete Gaussian of σ = z·f·l grid steps, f = 2 for
// fixed-size sampling (replace-one) and 1 for Poisson. The accountant
// doubles the sensitivities itself for fixed-size steps.
func gridStep(z float64, s accountant.Sampling, q float64, n int, l float64, d int) accountant.Step {
	f := 1.0
	if s == accountant.FixedSize {
		f = 2
	}
	sigma := z * f * l
	return accountant.Step{SampleRate: q, Sampling: s, Population: n, Discrete: &accountant.DiscreteNoise{
		Kind: accountant.DistributedDiscreteGaussian, Shares: 1, Variance: sigma * sigma,
		L2: l, L1: math.Sqrt(float64(d)) * l, Dim: d,
	}}
}

// l1 and l2 return the norms of v.
func l1(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += math.Abs(x)
	}
	return s
}

// roundedContribution returns one update's rounded contribution on the
// grid, as Aggregate sums it (clip to c less the rounding margin, weight,
// scale by 1/γ, round), and the step γ.
func roundedContribution(t *testing.T, d *CentralDP, u fl.Update) ([]float64, float64) {
	t.Helper()
	gamma, clip, err := d.grid(d.clip, len(u.Delta))
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, len(u.Delta))
	if _, err := d.sum(dst, []fl.Update{u}, d.clip, clip, 1/gamma); err != nil {
		t.Fatal(err)
	}
	return dst, gamma
}

// The sensitivity the discrete mechanism is accounted with holds against
// the worst rounding: an update at the clip norm whose every coordinate
// sits just above a half grid step, so that rounding moves each one
// outward by almost γ/2 (the most a rounding to nearest can), sent as is
// and far beyond the clip norm (the server clips it), with and without
// capped weights, on the default grid and on coarse ones. Every rounded
// contribution r has ‖r‖₂ ≤ L = C/γ and ‖r‖₁ ≤ √d·L — the L2 and L1 the
// accounting uses — and the attack does inflate the norm (‖r‖₂ > ‖x‖₂/γ).
func TestDiscreteSensitivityWorstCase(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	worst := 0.0
	for _, dim := range []int{1, 2, 3, 10, 257, 4096} {
		for _, c := range []float64{1, 0.37, 1e3} {
			for _, res := range []float64{0, c / (8 * (math.Sqrt(float64(dim)) + 4)), c / (math.Sqrt(float64(dim)) + 4)} {
				for _, capped := range []bool{false, true} {
					cfg := CentralConfig{ClipNorm: c, NoiseMultiplier: 1, Population: 100, SampleRate: 0.1, Resolution: res, Random: seeded(1)}
					if capped {
						cfg.WeightCap, cfg.TotalWeight = 10, 100
					}
					d := mustCentral(t, cfg)
					gamma, clip, err := d.grid(c, dim)
					if err != nil {
						t.Fatal(err)
					}
					L := c / gamma
					// Every coordinate at k + 1/2 + η grid steps, the
					// norm within the server's clip: it rounds to k+1.
					a := clip / (gamma * math.Sqrt(float64(dim)))
					k := math.Floor(a - 0.5 - 1e-6)
					x := make([]float64, dim)
					for j := range x {
						x[j] = (k + 0.5 + 1e-6) * gamma
						if r.IntN(2) == 0 {
							x[j] = -x[j]
						}
					}
					attacks := [][]float64{x, scaled(x, 1e6)}
					for range 20 { // random directions at and beyond the clip norm
						v := make([]float64, dim)
						for j := range v {
							v[j] = (float64(r.IntN(int(2*a)+2)) + 0.5 + 1e-9*r.Float64()) * gamma
							if r.IntN(2) == 0 {
								v[j] = -v[j]
							}
						}
						attacks = append(attacks, scaled(v, clip/L2Norm(v)), scaled(v, 1+r.Float64()*1e3))
					}
					for i, v := range attacks {
						w := 1.0
						if capped {
							w = 7 + 6*r.Float64() // weight above and below the cap
						}
						got, _ := roundedContribution(t, d, fl.Update{Client: "adversary", Delta: v, Weight: w})
						n2, n1 := L2Norm(got), l1(got)
						if n2 > L || n1 > math.Sqrt(float64(dim))*L {
							t.Fatalf("d=%d C=%v γ=%v attack %d: ‖r‖₂ = %v > L = %v or ‖r‖₁ = %v > √d·L = %v",
								dim, c, gamma, i, n2, L, n1, math.Sqrt(float64(dim))*L)
						}
						worst = max(worst, n2/L)
					}
					if !capped && res == 0 {
						got, _ := roundedContribution(t, d, fl.Update{Client: "adversary", Delta: x, Weight: 1})
						if !(L2Norm(got) > L2Norm(x)/gamma) {
							t.Errorf("d=%d C=%v: the rounding attack did not inflate the norm: %v ≤ %v", dim, c, L2Norm(got), L2Norm(x)/gamma)
						}
					}
				}
			}
		}
	}
	t.Logf("largest rounded norm / L: %.6f", worst)
}

func scaled(v []float64, f float64) []float64 {
	out := make([]float64, len(v))
	for j, x := range v {
		out[j] = f * x
	}
	return out
}

// NoiseSum rounds a sum it did not clip: two neighbouring sums, which
// differ by one client's contribution x (‖x‖₂ ≤ C), round to integer
// vectors that differ by at most L = C/γ + √d in L2 and √d·L in L1 — the
// sensitivity its noise and its accounting use. The attack puts each
// coordinate of one sum just below a half step and of the other just above
// one, so each rounded coordinate moves by almost |x_j|/γ + 1.
func TestNoiseSumSensitivityWorstCase(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for _, dim := range []int{1, 4, 100, 4096} {
		for _, c := range []float64{1, 3e-3} {
			gamma := GridStep(0, c, dim)
			L := c/gamma + math.Sqrt(float64(dim))
			for trial := range 10 {
				x := make([]float64, dim)
				s := make([]float64, dim)
				for j := range x {
					s[j] = (float64(r.IntN(1000)) + 0.5 - 1e-6) * gamma // rounds down
					x[j] = math.Abs(r.NormFloat64())
				}
				if trial == 0 {
					for j := range x {
						x[j] = 1
					}
				}
				x = scaled(x, c/L2Norm(x))
				for j := range x { // lower s+x to just above a half step
					m := math.Floor((s[j]+x[j])/gamma - 0.5 - 1e-6)
					x[j] = (m+0.5+1e-6)*gamma - s[j]
				}
				if n := L2Norm(x); n > c {
					x = scaled(x, c/n)
				}
				a, b := append([]float64(nil), s...), make([]float64, dim)
				for j := range b {
					b[j] = s[j] + x[j]
				}
				if err := roundToGrid(a, 1, gamma, maxGridInt/2); err != nil {
					t.Fatal(err)
				}
				if err := roundToGrid(b, 1, gamma, maxGridInt/2); err != nil {
					t.Fatal(err)
				}
				diff := make([]float64, dim)
				for j := range diff {
					diff[j] = b[j] - a[j]
				}
				if n2, n1 := L2Norm(diff), l1(diff); n2 > L || n1 > math.Sqrt(float64(dim))*L {
					t.Fatalf("d=%d C=%v: ‖Δ‖₂ = %v > %v or ‖Δ‖₁ = %v > %v", dim, c, n2, L, n1, math.Sqrt(float64(dim))*L)
				} else if inflated := L2Norm(x)/gamma + 0.99*math.Sqrt(float64(dim)); trial == 0 && !(n2 > inflated) {
					t.Errorf("d=%d: the rounding attack did not inflate the difference by √d: %v ≤ %v", dim, n2, inflated)
				}
			}
		}
	}
}

// zhuWangEpsilon is an independent evaluation of ε after k releases of a
// mechanism with RDP α·rho at integer orders (the discrete Gaussian:
// rho = (f·L)²/(2σ²)), Poisson-sampled with rate q: Zhu & Wang (2019),
// Theorem 6, written from the paper,
//
//	A_α = (1-q)^{α-1}(αq-q+1) + C(α,2)q²(1-q)^{α-2}e^{ε(2)}
//	      + 3·Σ_{ℓ=3}^{α} C(α,ℓ)(1-q)^{α-ℓ}q^ℓ e^{(ℓ-1)ε(ℓ)},
//
// capped by the unsampled (α-1)·α·rho, composed k times and converted with
// ε = min_α k·RDP_α − (log δ + log α)/(α−1) + log(1 − 1/α). Every term is
// summed in log space after subtracting the largest (no shared helper).
func zhuWangEpsilon(q, rho float64, k int, delta float64, orders []int) float64 {
	lbinom := func(n, r int) float64 {
		a, _ := math.Lgamma(float64(n + 1))
		b, _ := math.Lgamma(float64(r + 1))
		c, _ := math.Lgamma(float64(n - r + 1))
		return a - b - c
	}
	best := math.Inf(1)
	for _, a := range orders {
		fa := float64(a)
		terms := []float64{(fa-1)*math.Log1p(-q) + math.Log(fa*q-q+1),
			lbinom(a, 2) + 2*math.Log(q) + (fa-2)*math.Log1p(-q) + 2*rho}
		for l := 3; l <= a; l++ {
			fl := float64(l)
			terms = append(terms, math.Log(3)+lbinom(a, l)+(fa-fl)*math.Log1p(-q)+fl*math.Log(q)+(fl-1)*fl*rho)
		}
		m := math.Inf(-1)
		for _, x := range terms {
			m = math.Max(m, x)
		}
		s := 0.0
		for _, x := range terms {
			s += math.Exp(x - m)
		}
		logA := math.Min(m+math.Log(s), (fa-1)*fa*rho)
		rdp := float64(k) * logA / (fa - 1)
		best = math.Min(best, rdp-(math.Log(delta)+math.Log(fa))/(fa-1)+math.Log1p(-1/fa))
	}
	return math.Max(best, 0)
}

// release runs one release of d at dimension dim through Aggregate (a
// random update) or NoiseSum (a random sum).
func release(t *testing.T, d *CentralDP, dim int, viaNoiseSum bool, r *rand.Rand) {
	t.Helper()
	if viaNoiseSum {
		sum := make([]float64, dim)
		for j := range sum {
			sum[j] = r.NormFloat64()
		}
		if err := d.NoiseSum(sum); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := d.Aggregate(make([]float64, dim), randomUpdates(r, 3, dim, 1)); err != nil {
		t.Fatal(err)
	}
}

// The ε reported after k releases of the discrete mechanism equals the
// accountant's composition of the discrete Gaussian's bound for the
// release as it ran on its grid (L2 = L, L1 = √d·L, Dim = d, σ = z·f·L grid
// steps, L = C/γ for Aggregate and C/γ + √d for NoiseSum), is at least the
// composition at the σ² the sampler actually used (rounded up), and, for
// Poisson sampling at integer orders, equals an independent evaluation of
// Zhu–Wang's Theorem 6; unsampled (q = 1) it equals the closed form
// k·α/(2z²) converted to ε.
func TestDiscreteEpsilonIsComposedDiscreteBound(t *testing.T) {
	const delta, k, dim = 1e-5, 5, 7
	ints := make([]int, 0, 63)
	intOrders := make([]float64, 0, 63)
	for a := 2; a <= 64; a++ {
		ints, intOrders = append(ints, a), append(intOrders, float64(a))
	}
	for _, tc := range []struct {
		name     string
		cfg      CentralConfig
		noiseSum bool
	}{
		{"poisson", CentralConfig{NoiseMultiplier: 1.1, Population: 1000, SampleRate: 0.1}, false},
		{"poisson noise sum", CentralConfig{NoiseMultiplier: 0.8, Population: 1000, SampleRate: 0.05, ClientClipped: true}, true},
		{"fixed size", CentralConfig{NoiseMultiplier: 1.1, Population: 100, SampleRate: 0.1, Sampling: accountant.FixedSize}, false},
		{"fixed size noise sum", CentralConfig{NoiseMultiplier: 2, Population: 100, SampleRate: 0.2, Sampling: accountant.FixedSize, ClientClipped: true}, true},
		{"adaptive", CentralConfig{NoiseMultiplier: 1, Population: 1000, SampleRate: 0.1, Adaptive: true}, false},
		{"unsampled", CentralConfig{NoiseMultiplier: 3, Population: 10, SampleRate: 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.ClipNorm, cfg.Delta, cfg.Random = 0.7, delta, seeded(11)
			d := mustCentral(t, cfg)
			r := rand.New(rand.NewPCG(3, 4))
			for range k {
				release(t, d, dim, tc.noiseSum, r)
			}
			got, err := d.Epsilon()
			if err != nil {
				t.Fatal(err)
			}
			var stats fl.RoundStats
			d.Record(&stats)
			if stats.Extra[KeyEpsilon] != got {
				t.Errorf("recorded ε %v, Epsilon %v", stats.Extra[KeyEpsilon], got)
			}
			z, gamma := d.NoiseMultiplier(), GridStep(0, cfg.ClipNorm, dim)
			L := cfg.ClipNorm / gamma
			if tc.noiseSum {
				L += math.Sqrt(dim)
			}
			want := rdpEpsilon(t, gridStep(z, cfg.Sampling, cfg.SampleRate, cfg.Population, L, dim), k, delta)
			if math.Abs(got-want) > 1e-12*want {
				t.Errorf("ε = %.15g, the discrete bound on the grid composes to %.15g", got, want)
			}
			if cont := rdpEpsilon(t, accountant.Step{NoiseMultiplier: z, SampleRate: cfg.SampleRate, Sampling: cfg.Sampling, Population: cfg.Population}, k, delta); got < cont*(1-1e-12) {
				t.Errorf("ε = %v below the continuous Gaussian's %v", got, cont)
			}
			f := 1.0
			if cfg.Sampling == accountant.FixedSize {
				f = 2
			}
			// The updates' noise: σ = z_Δ·f·L grid steps (z_Δ = z unless
			// adaptive), its square rounded up.
			used, _ := d.noiseDG.g.Sigma2().Float64()
			if nominal := d.UpdateNoiseMultiplier() * f * L; used < nominal*nominal || used > nominal*nominal*(1+1e-9)+1 {
				t.Errorf("the sampler's σ² = %v, accounted %v", used, nominal*nominal)
			}
			if cfg.Adaptive {
				// The doubled count (one client moves it by 1) gets
				// N_Z(0, ⌈(2σ_b)²⌉); the two independent releases add
				// their Rényi divergences: 1/z_Δ² + 1/(2σ_b)² = 1/z².
				cnt, _ := d.countDG.g.Sigma2().Float64()
				sb := 2 * d.sigmaB
				if cnt < sb*sb || cnt > sb*sb+1 {
					t.Errorf("count σ² = %v, want ⌈%v⌉", cnt, sb*sb)
				}
				zd := d.UpdateNoiseMultiplier()
				if joint := 1/(zd*zd) + 1/(sb*sb); math.Abs(joint*z*z-1) > 1e-12 {
					t.Errorf("joint 1/z_Δ² + 1/(2σ_b)² = %v, want 1/z² = %v", joint, 1/(z*z))
				}
			} else {
				s := gridStep(z, cfg.Sampling, cfg.SampleRate, cfg.Population, L, dim)
				s.Discrete.Variance = used
				if e := rdpEpsilon(t, s, k, delta); e > got {
					t.Errorf("at the σ² used ε = %v exceeds the reported %v", e, got)
				}
			}
			switch {
			case cfg.SampleRate == 1:
				closed := math.Inf(1)
				for _, a := range accountant.DefaultOrders() {
					closed = math.Min(closed, k*a/(2*z*z)-(math.Log(delta)+math.Log(a))/(a-1)+math.Log1p(-1/a))
				}
				if math.Abs(got-closed) > 1e-12*closed {
					t.Errorf("unsampled ε = %.15g, closed form %.15g", got, closed)
				}
			case cfg.Sampling == accountant.Poisson:
				a, _ := accountant.NewRDP(intOrders)
				if err := a.Compose(d.AccountingStep(), k); err != nil {
					t.Fatal(err)
				}
				acc, _, _ := a.Epsilon(delta)
				naive := zhuWangEpsilon(cfg.SampleRate, 1/(2*z*z), k, delta, ints)
				if math.Abs(acc-naive) > 1e-9*naive {
					t.Errorf("integer orders: accountant ε %.12g, Zhu–Wang Theorem 6 by hand %.12g", acc, naive)
				}
			}
		})
	}
}

// The noise the discrete mechanism adds has the variance its accounting
// assumes: releases of a zero sum, scaled back to the grid, are integers
// whose sample variance matches the accounted σ² = (z·f·L)² grid steps
// within 5 standard errors of the variance estimator (√(2/n) relative).
func TestDiscreteNoiseVarianceIsAccounted(t *testing.T) {
	const dim, reps = 4096, 6 // 24,576 draws per case
	for _, tc := range []struct {
		name     string
		cfg      CentralConfig
		noiseSum bool
	}{
		{"poisson", CentralConfig{NoiseMultiplier: 1.3, Population: 1000, SampleRate: 0.1}, false},
		{"fixed size", CentralConfig{NoiseMultiplier: 0.9, Population: 100, SampleRate: 0.1, Sampling: accountant.FixedSize}, false},
		{"noise sum", CentralConfig{NoiseMultiplier: 1.1, Population: 1000, SampleRate: 0.1, ClientClipped: true}, true},
	} {
		cfg := tc.cfg
		cfg.ClipNorm, cfg.Delta, cfg.Random = 2.5, 1e-5, seeded(12)
		d := mustCentral(t, cfg)
		gamma := GridStep(0, cfg.ClipNorm, dim)
		L := cfg.ClipNorm / gamma
		if tc.noiseSum {
			L += math.Sqrt(dim)
		}
		f := 1.0
		if cfg.Sampling == accountant.FixedSize {
			f = 2
		}
		// The accounted σ, from the step the accounting composes: its
		// Variance/L2² is (z·f)² in units of the sensitivity.
		step := d.AccountingStep()
		sigma := math.Sqrt(step.Discrete.Variance/(step.Discrete.L2*step.Discrete.L2)) * L
		if want := d.NoiseMultiplier() * f * L; math.Abs(sigma-want) > 1e-12*want {
			t.Fatalf("%s: accounted σ %v, want z·f·L = %v", tc.name, sigma, want)
		}
		var sum, sq float64
		n := 0
		for range reps {
			v := make([]float64, dim)
			if tc.noiseSum {
				if err := d.NoiseSum(v); err != nil {
					t.Fatal(err)
				}
			} else if err := d.Aggregate(v, []fl.Update{{Client: "zero", Delta: make([]float64, dim), Weight: 1}}); err != nil {
				t.Fatal(err)
			}
			for _, x := range v {
				y := x * d.Denominator() / gamma
				if math.Abs(y-math.Round(y)) > 1e-6 {
					t.Fatalf("%s: output %v is not on the grid (%v steps)", tc.name, x, y)
				}
				sum += math.Round(y)
				sq += math.Round(y) * math.Round(y)
				n++
			}
		}
		mean := sum / float64(n)
		variance := sq/float64(n) - mean*mean
		tol := 5 * math.Sqrt(2/float64(n))
		if rel := variance/(sigma*sigma) - 1; math.Abs(rel) > tol {
			t.Errorf("%s: noise variance %.6g grid steps², accounted %.6g (relative %+.4f, tolerance %.4f)", tc.name, variance, sigma*sigma, rel, tol)
		}
		if se := sigma / math.Sqrt(float64(n)); math.Abs(mean) > 5*se {
			t.Errorf("%s: noise mean %v, want 0 ± %v", tc.name, mean, 5*se)
		}
	}
}

// The budget gate refuses the release that would overspend under the
// proven bound — including releases the continuous Gaussian's bound, which
// this mechanism used to be accounted with, would still have allowed.
func TestDiscreteBudgetGateUsesProvenBound(t *testing.T) {
	const z, q, delta = 1.1, 0.1, 1e-5
	disc := gridStep(z, accountant.Poisson, q, 0, 1<<12, 3)
	cont := accountant.Step{NoiseMultiplier: z, SampleRate: q}
	k := 0
	var target float64
	for i := 10; i <= 200 && k == 0; i++ {
		lo, hi := rdpEpsilon(t, disc, i, delta), rdpEpsilon(t, disc, i+1, delta)
		if mid := (lo + hi) / 2; rdpEpsilon(t, cont, i+1, delta) < mid {
			k, target = i, mid
		}
	}
	if k == 0 {
		t.Fatal("no k where the continuous bound would allow release k+1 and the discrete one does not")
	}
	d := mustCentral(t, CentralConfig{ClipNorm: 1, NoiseMultiplier: z, TargetEpsilon: target, Delta: delta,
		Population: 1000, SampleRate: q, Random: seeded(13)})
	if d.MaxRounds() != k {
		t.Fatalf("MaxRounds = %d, want %d", d.MaxRounds(), k)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for i := range k {
		if err := d.Check(i+1, 1000); err != nil {
			t.Fatalf("round %d: %v", i+1, err)
		}
		release(t, d, 3, i%2 == 1, r)
	}
	if err := d.Check(k+1, 1000); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("Check of round %d: %v, want ErrBudgetExhausted", k+1, err)
	}
	if err := d.Aggregate(make([]float64, 3), randomUpdates(r, 2, 3, 1)); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("Aggregate past the budget: %v", err)
	}
	if err := d.NoiseSum([]float64{0.1, 0.2, 0.3}); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("NoiseSum past the budget: %v", err)
	}
	if e, _ := d.Epsilon(); d.Rounds() != k || e > target {
		t.Errorf("%d releases, ε %v; want %d, ≤ %v", d.Rounds(), e, k, target)
	}
	t.Logf("target ε %.4f: %d releases allowed (the continuous bound would allow %d: ε(%d) = %.4f)", target, k, k+1, k+1, rdpEpsilon(t, cont, k+1, delta))
}

// The PLD accountant has no bound for the discrete Gaussian: the
// combination is refused before anything runs.
func TestDiscretePLDRefused(t *testing.T) {
	for _, cfg := range []CentralConfig{
		{ClipNorm: 1, NoiseMultiplier: 1, Population: 100, SampleRate: 0.1, Accountant: accountant.KindPLD},
		{ClipNorm: 1, TargetEpsilon: 3, Rounds: 10, Population: 100, SampleRate: 0.1, Accountant: accountant.KindPLD},
	} {
		if _, err := NewCentralDP(cfg); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "PLD") {
			t.Errorf("%+v: err = %v, want ErrConfig naming PLD", cfg, err)
		}
	}
	// Without noise nothing is accounted; with the Gaussian mechanism the
	// PLD applies.
	mustCentral(t, CentralConfig{ClipNorm: 1, Population: 100, SampleRate: 0.1, Accountant: accountant.KindPLD})
	mustCentral(t, CentralConfig{ClipNorm: 1, NoiseMultiplier: 1, Population: 100, SampleRate: 0.1, Accountant: accountant.KindPLD, Mechanism: MechanismGaussian})
}

// A checkpoint written by the previous format (version 2), which accounted
// the discrete mechanism with the continuous Gaussian's bounds: restoring
// it into the discrete mechanism is refused with ErrState, saying why and
// what its releases cost under the proven bound, and changes nothing. A
// version-2 state of the Gaussian mechanism, whose accounting did not
// change, restores with its releases and ε. (testdata: 3 releases each,
// z = 1, q = 0.1, N = 100, δ = 1e-5, budget ε = 8, written by the
// version-2 code.)
func TestCentralDPVersion2State(t *testing.T) {
	cfg := CentralConfig{ClipNorm: 1, NoiseMultiplier: 1, TargetEpsilon: 8, Delta: 1e-5, Population: 100, SampleRate: 0.1, Random: seeded(1)}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	d := mustCentral(t, cfg)
	err := d.UnmarshalBinary(read("central_state_v2_discrete.bin"))
	if !errors.Is(err, ErrState) || !strings.Contains(err.Error(), "version-2") || !strings.Contains(err.Error(), "proven bound") {
		t.Errorf("version-2 discrete state: err = %v, want ErrState explaining the accounting change", err)
	}
	want := rdpEpsilon(t, gridStep(1, accountant.Poisson, 0.1, 0, 1<<11, 2), 3, 1e-5)
	if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("ε = %.4g", want)) {
		t.Errorf("the refusal does not give the proven cost ε = %.4g: %v", want, err)
	}
	if d.Rounds() != 0 {
		t.Errorf("a refused state changed the mechanism: %d rounds", d.Rounds())
	}
	t.Log(err)
	cfg.Mechanism, cfg.Random = MechanismGaussian, seeded(1)
	g := mustCentral(t, cfg)
	if err := g.UnmarshalBinary(read("central_state_v2_gaussian.bin")); err != nil {
		t.Fatalf("version-2 Gaussian state: %v", err)
	}
	got, _ := g.Epsilon()
	if wantG := rdpEpsilon(t, accountant.Step{NoiseMultiplier: 1, SampleRate: 0.1}, 3, 1e-5); g.Rounds() != 3 || got != wantG {
		t.Errorf("restored %d releases, ε %v; want 3, %v", g.Rounds(), got, wantG)
	}
	// The current format round-trips for the discrete mechanism.
	cfg.Mechanism, cfg.Random = MechanismDiscreteGaussian, seeded(1)
	d = mustCentral(t, cfg)
	release(t, d, 2, false, rand.New(rand.NewPCG(1, 1)))
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Random = seeded(1)
	back := mustCentral(t, cfg)
	if err := back.UnmarshalBinary(b); err != nil || back.Rounds() != 1 {
		t.Errorf("version-3 round trip: %v, %d rounds", err, back.Rounds())
	}
}

// Through the server: a checkpoint whose privacy part is in the version-2
// format is refused by Restore (fl.ErrCheckpoint wrapping ErrState) when
// the server runs the discrete mechanism, so no run resumes with a budget
// that the continuous bounds measured; with the Gaussian mechanism it
// restores and the run goes on, its ε the Gaussian composition of every
// release.
func TestServerRestoreVersion2Privacy(t *testing.T) {
	const n, delta = 20, 1e-5
	for _, m := range []Mechanism{MechanismDiscreteGaussian, MechanismGaussian} {
		cfg := CentralConfig{ClipNorm: 1, NoiseMultiplier: 1.2, Delta: delta, Population: n, SampleRate: 0.5, Mechanism: m, Random: seeded(14)}
		first := newServer(t, mustCentral(t, cfg), 4, newPool(n, 5))
		for range 2 {
			if _, err := first.RunRound(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		cp, err := first.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		old := append([]byte(nil), cp.Parts[fl.PartPrivacy]...)
		old[len(stateMagic)] = stateVersionContinuous
		cp.Parts[fl.PartPrivacy] = old
		cfg.Random = seeded(14)
		dp := mustCentral(t, cfg)
		s := newServer(t, dp, 4, newPool(n, 5))
		err = s.Restore(cp)
		if m == MechanismDiscreteGaussian {
			if !errors.Is(err, fl.ErrCheckpoint) || !errors.Is(err, ErrState) || dp.Rounds() != 0 {
				t.Errorf("discrete: Restore = %v with %d releases, want ErrCheckpoint and ErrState, nothing restored", err, dp.Rounds())
			}
			continue
		}
		if err != nil {
			t.Fatalf("Gaussian: Restore = %v", err)
		}
		if _, err := s.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		got, _ := dp.Epsilon()
		if want := rdpEpsilon(t, accountant.Step{NoiseMultiplier: 1.2, SampleRate: 0.5}, 4, delta); dp.Rounds() != 4 || got != want {
			t.Errorf("Gaussian: %d releases, ε %v; want 4, %v", dp.Rounds(), got, want)
		}
	}
}
