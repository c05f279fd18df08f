package privacy

import (
	"math"

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
