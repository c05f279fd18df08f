package privacy

import (
	"math"
	"math/rand/v2"
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
