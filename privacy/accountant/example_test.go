package accountant_test

import (
	"fmt"
	"math"

	"github.com/fedgo/fedgo/privacy/accountant"
)

// DP-SGD on MNIST as in the TF Privacy / Opacus tutorials: batches of 256
// out of 60 000 examples (Poisson rate 256/60000), noise multiplier 1.1,
// 60 epochs (14 062 steps), δ = 1e-5.
func ExampleRDPAccountant() {
	acct, err := accountant.NewRDP(nil) // Opacus's default orders
	if err != nil {
		panic(err)
	}
	step := accountant.Step{NoiseMultiplier: 1.1, SampleRate: 256.0 / 60000}
	if err := acct.Compose(step, 60*60000/256); err != nil {
		panic(err)
	}
	eps, order, err := acct.Epsilon(1e-5)
	if err != nil {
		panic(err)
	}
	fmt.Printf("ε = %.3f at order %.1f\n", eps, order)
	// Output: ε = 2.597 at order 8.1
}

// Heterogeneous composition: the noise is lowered for the last rounds.
func ExampleRDPAccountant_Compose() {
	acct, _ := accountant.NewRDP(nil)
	_ = acct.Compose(accountant.Step{NoiseMultiplier: 1.2, SampleRate: 0.01}, 800)
	_ = acct.Compose(accountant.Step{NoiseMultiplier: 0.9, SampleRate: 0.01}, 200)
	eps, _, _ := acct.Epsilon(1e-6)
	fmt.Printf("ε = %.2f\n", eps)
	// Output: ε = 2.45
}

// Federated rounds that pick exactly 100 of 10 000 clients.
func ExampleRDPAccountant_fixedSize() {
	acct, _ := accountant.NewRDP(accountant.DPAccountingOrders())
	step := accountant.Step{NoiseMultiplier: 1.0, SampleRate: 0.01, Sampling: accountant.FixedSize, Population: 10000}
	_ = acct.Compose(step, 1000)
	eps, _, _ := acct.Epsilon(1e-6)
	fmt.Printf("ε = %.2f\n", eps)
	// Output: ε = 4.02
}

func ExamplePLDAccountant() {
	acct, err := accountant.NewPLD(accountant.PLDConfig{}) // zero fields: defaults
	if err != nil {
		panic(err)
	}
	_ = acct.Compose(accountant.Step{NoiseMultiplier: 1.1, SampleRate: 256.0 / 60000}, 60*60000/256)
	eps, err := acct.Epsilon(1e-5)
	if err != nil {
		panic(err)
	}
	fmt.Printf("ε = %.2f\n", eps)
	// Output: ε = 2.38
}

func ExampleCalibrateNoise() {
	sigma, err := accountant.CalibrateNoise(accountant.Target{
		Epsilon: 3, Delta: 1e-5, SampleRate: 256.0 / 60000, Steps: 14062,
	}, accountant.KindRDP)
	if err != nil {
		panic(err)
	}
	fmt.Printf("σ = %.3f\n", sigma)
	// Output: σ = 1.014
}

func ExampleRDP() {
	rdp, _ := accountant.RDP(accountant.Step{NoiseMultiplier: 2, SampleRate: 1}, []float64{2, 8, 32})
	fmt.Println(rdp) // α/(2σ²) for the plain Gaussian mechanism
	// Output: [0.25 1 4]
}

// Distributed DP: each round picks 100 of 10 000 clients, each adds a
// Skellam share inside secure aggregation; at least 80 of them survive (the
// secure-aggregation threshold), so the noise is provisioned for 80 shares.
// Integer updates have L2 norm at most 1000 after scaling and rounding (L1
// at most 1000·√d); fixed-size sampling (replace-one), 1000 rounds, target
// (ε, δ) = (3, 1e-5).
func ExampleCalibrateDiscrete() {
	d := accountant.DiscreteNoise{Kind: accountant.DistributedSkellam, Shares: 80, L1: 1000 * 128, L2: 1000, Dim: 1 << 14}
	t := accountant.Target{Epsilon: 3, Delta: 1e-5, SampleRate: 0.01, Steps: 1000,
		Sampling: accountant.FixedSize, Population: 10000}
	v, err := accountant.CalibrateDiscrete(t, d)
	if err != nil {
		panic(err)
	}
	d.Variance = v
	acct, _ := accountant.NewRDP(nil)
	_ = acct.Compose(accountant.Step{Discrete: &d, SampleRate: 0.01, Sampling: accountant.FixedSize, Population: 10000}, 1000)
	eps, _, _ := acct.Epsilon(1e-5)
	fmt.Printf("total noise std %.4g (%.4g per share), ε = %.3f\n", math.Sqrt(v), math.Sqrt(v/80), eps)
	// Output: total noise std 2341 (261.7 per share), ε = 3.000
}

// The RDP of one unsampled release of the distributed discrete Gaussian:
// ten shares of parameter σ² = 0.5 (total 5) are not quite a discrete
// Gaussian of parameter 5; the τ term of Kairouz, Liu, Steinke charges the
// difference on top of the Gaussian α·Δ²/(2·5).
func ExampleDiscreteRDP() {
	d := accountant.DiscreteNoise{Kind: accountant.DistributedDiscreteGaussian, Shares: 10, Variance: 5, L1: 1, L2: 1, Dim: 1}
	rdp, _ := accountant.DiscreteRDP(d, []float64{2, 8})
	fmt.Printf("D_2 <= %.4f (Gaussian %.4f), D_8 <= %.4f (Gaussian %.4f)\n", rdp[0], 2/10.0, rdp[1], 8/10.0)
	// Output: D_2 <= 0.3051 (Gaussian 0.2000), D_8 <= 0.9051 (Gaussian 0.8000)
}
