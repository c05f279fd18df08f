package ddp

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/privacy/accountant"
)

// accountConfig is 100 clients a round out of 10,000 (q = 0.01), a
// budget over 50 rounds, noise provisioned for 41 shares.
func accountConfig(m Mechanism) Config {
	return Config{
		Mechanism: m, Bits: 20, ClipNorm: 1, Dim: 1000, Clients: 100, Threshold: 51, Colluders: 10,
		TargetEpsilon: 4, Rounds: 50, Delta: 1e-6,
		Population: 10000, SampleRate: 0.01, Sampling: accountant.FixedSize,
	}
}

// independentBound is Δ̃₂ of Kairouz, Liu, Steinke (2021), §4.1, for a
// vector of norm C/γ in dimension D, written out here from the paper.
func independentBound(clip, gamma float64, D int, beta float64) float64 {
	c := clip / gamma
	a := math.Sqrt(c*c + float64(D)/4 + math.Sqrt(2*math.Log(1/beta))*(c+math.Sqrt(float64(D))/2))
	return math.Min(a, c+math.Sqrt(float64(D)))
}

// TestCalibrationUsesOneClientNorms: the variance the mechanism
// provisions is what an independent CalibrateDiscrete call gives for ONE
// client's norms (the accountant doubles them itself for fixed-size
// sampling) and the padded dimension, rounded up to whole share
// parameters; the doubled norms would ask for about 4× the variance, so
// passing them (the old bug) fails this test.
func TestCalibrationUsesOneClientNorms(t *testing.T) {
	for _, m := range []Mechanism{DiscreteGaussian, Skellam} {
		t.Run(m.String(), func(t *testing.T) {
			c := accountConfig(m)
			d := mustNew(t, c)
			p := d.Params()
			if p.Padded != 1024 || p.Shares != 41 {
				t.Fatalf("padded %d shares %d", p.Padded, p.Shares)
			}
			l2 := independentBound(c.ClipNorm, p.Gamma, p.Padded, DefaultRoundingBeta)
			l1 := math.Min(l2*l2, math.Sqrt(float64(p.Padded))*l2)
			if math.Abs(p.L2-l2) > 1e-9*l2 || math.Abs(p.L1-l1) > 1e-9*l1 {
				t.Fatalf("sensitivities L2 %v L1 %v, want one client's %v %v", p.L2, p.L1, l2, l1)
			}
			kind := accountant.DistributedDiscreteGaussian
			if m == Skellam {
				kind = accountant.DistributedSkellam
			}
			target := accountant.Target{Epsilon: 4, Delta: 1e-6, SampleRate: 0.01, Steps: 50, Sampling: accountant.FixedSize, Population: 10000}
			want, err := accountant.CalibrateDiscrete(target, accountant.DiscreteNoise{Kind: kind, Shares: 41, L1: l1, L2: l2, Dim: 1024})
			if err != nil {
				t.Fatal(err)
			}
			per := want / 41
			if m == Skellam {
				per = 2 * math.Ceil(per/2)
			} else {
				per = math.Ceil(per)
			}
			if p.Variance != per*41 {
				t.Fatalf("provisioned variance %v, want %v (calibrated %v, rounded up per share)", p.Variance, per*41, want)
			}
			doubled, err := accountant.CalibrateDiscrete(target, accountant.DiscreteNoise{Kind: kind, Shares: 41, L1: 2 * l1, L2: 2 * l2, Dim: 1024})
			if err != nil {
				t.Fatal(err)
			}
			if r := doubled / p.Variance; r < 3 {
				t.Fatalf("doubled norms need only %.2f× the variance: the test could not tell them apart", r)
			}
		})
	}
}

// TestEpsilonIsTheAccountants: ε for the released models after k rounds
// is the RDP accountant's composition of k fixed-size sampled steps of
// the provisioned noise, and ε against the server is its composition of k
// unsampled steps (SampleRate 1: the server knows who took part), both
// built here from the parameters; the server's ε is larger (no
// amplification), and the budget gate admits exactly the rounds whose
// released ε is within the budget.
func TestEpsilonIsTheAccountants(t *testing.T) {
	c := accountConfig(DiscreteGaussian)
	d := mustNew(t, c)
	p := d.Params()
	noise := accountant.DiscreteNoise{Kind: accountant.DistributedDiscreteGaussian, Shares: p.Shares, Variance: p.Variance, L1: p.L1, L2: p.L2, Dim: p.Padded}
	compose := func(s accountant.Step, k int) float64 {
		a, err := accountant.NewRDP(accountant.DefaultOrders())
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Compose(s, k); err != nil {
			t.Fatal(err)
		}
		e, _, err := a.Epsilon(c.Delta)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	sampled := accountant.Step{Discrete: &noise, SampleRate: 0.01, Sampling: accountant.FixedSize, Population: 10000}
	server := accountant.Step{Discrete: &noise, SampleRate: 1, Sampling: accountant.FixedSize, Population: 100}
	for _, k := range []int{1, 7, 50} {
		got, err := d.EpsilonAfter(k)
		if err != nil {
			t.Fatal(err)
		}
		if want := compose(sampled, k); got != want {
			t.Errorf("EpsilonAfter(%d) = %v, accountant %v", k, got, want)
		}
		gs, err := d.ServerEpsilonAfter(k)
		if err != nil {
			t.Fatal(err)
		}
		if want := compose(server, k); gs != want {
			t.Errorf("ServerEpsilonAfter(%d) = %v, accountant %v", k, gs, want)
		}
		if !(gs > 2*got) {
			t.Errorf("k = %d: ε against the server %v not well above the sampled %v", k, gs, got)
		}
	}
	if e := compose(sampled, c.Rounds); e > c.TargetEpsilon {
		t.Fatalf("calibrated noise gives ε = %v > %v after the planned rounds", e, c.TargetEpsilon)
	}
	k := d.MaxRounds()
	if k < c.Rounds || compose(sampled, k) > c.TargetEpsilon || !(compose(sampled, k+1) > c.TargetEpsilon) {
		t.Fatalf("MaxRounds %d does not match the accountant's budget", k)
	}
	if e, _ := d.ServerEpsilon(); e != 0 {
		t.Fatalf("ε against the server before any release %v", e)
	}
}

// TestPoissonRefused: Poisson sampling (also the zero value of Sampling)
// is refused with a configuration error that says why; the accountant
// itself refuses the step.
func TestPoissonRefused(t *testing.T) {
	c := accountConfig(DiscreteGaussian)
	c.Sampling = accountant.Poisson
	_, err := New(c)
	if !errors.Is(err, fl.ErrConfig) || !errors.Is(err, ErrConfig) {
		t.Fatalf("Poisson: err = %v, want ErrConfig", err)
	}
	if !strings.Contains(err.Error(), "share") || !strings.Contains(err.Error(), "FixedSize") {
		t.Errorf("the error does not explain the refusal: %v", err)
	}
	c.NoiseMultiplier = 1 // no calibration needed: still refused
	if _, err := New(c); !errors.Is(err, fl.ErrConfig) {
		t.Fatalf("Poisson with a noise multiplier: %v", err)
	}
	noise := accountant.DiscreteNoise{Kind: accountant.DistributedDiscreteGaussian, Shares: 41, Variance: 1e4, L1: 10, L2: 10, Dim: 1024}
	if err := (accountant.Step{Discrete: &noise, SampleRate: 0.01}).Validate(); !errors.Is(err, accountant.ErrUnsupported) {
		t.Fatalf("the accountant accepts distributed noise under Poisson: %v", err)
	}
}
