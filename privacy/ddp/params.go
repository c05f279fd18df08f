package ddp

import (
	"fmt"
	"math"

	"github.com/fedgo/fedgo/privacy/accountant"
)

// Params are the parameters a [Config] resolves to (see [DDP.Params]). All
// norms and variances are in grid units (multiples of γ).
type Params struct {
	Mechanism Mechanism
	Bits      int     // b
	Dim       int     // d
	Padded    int     // D, the smallest power of two ≥ d
	Gamma     float64 // γ, the grid step
	Stddevs   float64 // k: the scale keeps k standard deviations of the sum within 2^b
	Shares    int     // noise shares provisioned: Threshold − Colluders
	// Bound is Δ̃₂, the L2 norm a client's rounded vector may reach (the
	// conditional rounding bound), and NormSquaredMax = ⌊Δ̃₂²⌋ (rounded
	// down a little), which the client checks exactly.
	Bound          float64
	NormSquaredMax uint64
	// L1 and L2 bound the norms of ONE client's integer contribution,
	// given to the accountant: L2 = Δ̃₂ and L1 = min(Δ̃₂², √D·Δ̃₂). The
	// accountant doubles both itself for fixed-size sampling
	// (replace-one: the sum moves by the difference of two contributions).
	L1, L2 float64
	// Variance is the total variance of the noise of Shares clients;
	// ShareVariance the variance of one client's share per coordinate
	// (an integer: σ² of N_Z for DiscreteGaussian, 2λ for Skellam).
	Variance      float64
	ShareVariance uint64
}

// Noise returns the accountant's description of one release: the
// mechanism, the provisioned shares and total variance, one client's
// sensitivities and the padded dimension D (the coordinates the noise is
// added to; the distributed discrete Gaussian's bound has a τ·D term).
func (p *Params) Noise() accountant.DiscreteNoise {
	return accountant.DiscreteNoise{Kind: p.Mechanism.kind(), Shares: p.Shares, Variance: p.Variance, L1: p.L1, L2: p.L2, Dim: p.Padded}
}

// maxGrid caps C/γ: a rounded coordinate stays below 2^31 in magnitude
// so that the exact norm check cannot overflow.
const maxGrid = 1 << 31

// roundingBound returns Δ̃₂ for a vector of norm ≤ c (grid units) in
// dimension D after conditional randomized rounding with parameter β
// (Kairouz, Liu, Steinke 2021, §4.1): min{√(c² + D/4 + √(2 ln(1/β))·(c +
// √D/2)), c + √D}. The second term holds for every rounding (each
// coordinate moves by less than 1); the first with probability ≥ 1 − β,
// which is why the client retries.
func roundingBound(c float64, D int, beta float64) float64 {
	sd := math.Sqrt(float64(D))
	a := math.Sqrt(c*c + float64(D)/4 + math.Sqrt(2*math.Log(1/beta))*(c+sd/2))
	return min(a, c+sd)
}

// scaleFor returns 1/γ for the total noise standard deviation sigma (in
// the model's units) of Shares shares, following the sub-Gaussian
// heuristic of Kairouz et al. §4 (as TFF's distributed DP chose it): k
// standard deviations of each coordinate of the noised sum of n rotated
// vectors fit in 2^b, 2^b = 2k·√(C²n²/D + n(γ²/4 + σ²/Shares))/γ. It is
// capped so that C/γ ≤ 2^31.
func scaleFor(c Config, D int, k, sigma float64, shares int) (float64, error) {
	n := float64(c.Clients)
	num := math.Ldexp(1, 2*c.Bits) - n*k*k
	if !(num > 0) {
		return 0, fmt.Errorf("%w: %d bits cannot hold %.3g standard deviations of the sum of %d clients (need 2^2b > n·k²)", ErrConfig, c.Bits, k, c.Clients)
	}
	local2 := sigma * sigma / float64(shares)
	den := 2 * k * math.Sqrt(c.ClipNorm*c.ClipNorm*n*n/float64(D)+n*local2)
	inv := math.Sqrt(num) / den
	if !(inv > 0) || math.IsInf(inv, 0) {
		return 0, fmt.Errorf("%w: the scale 1/γ = %v is not finite and positive", ErrConfig, inv)
	}
	return min(inv, maxGrid/c.ClipNorm), nil
}

// resolve computes the mechanism's parameters from a config with
// defaults applied.
func resolve(c Config) (Params, error) {
	p := Params{Mechanism: c.Mechanism, Bits: c.Bits, Dim: c.Dim, Padded: padLen(c.Dim), Shares: c.Threshold - c.Colluders}
	if c.Bits < 63 && 1<<c.Bits < c.Clients {
		return p, fmt.Errorf("%w: %d bits < log2(%d clients): the sum cannot be represented", ErrConfig, c.Bits, c.Clients)
	}
	p.Stddevs = math.Sqrt2 * math.Erfcinv(c.ModClipProb)
	// Replace-one neighbours (fixed-size sampling, the only one accepted):
	// the sum moves by the difference of two contributions, so a noise
	// multiplier is relative to twice one client's norm, as in central DP.
	// The accountant is given one client's norms and doubles them itself.
	const sens = 2
	target := accountant.Target{Epsilon: c.TargetEpsilon, Delta: c.Delta, SampleRate: c.SampleRate, Steps: c.Rounds,
		Sampling: c.Sampling, Population: c.Population}
	// A first guess of the total noise: the continuous Gaussian's.
	sigma := c.NoiseMultiplier * sens * c.ClipNorm
	if c.NoiseMultiplier == 0 {
		z, err := accountant.CalibrateNoise(target, accountant.KindRDP)
		if err != nil {
			return p, fmt.Errorf("%w: calibrating: %w", ErrConfig, err)
		}
		sigma = z * sens * c.ClipNorm
	}
	D := p.Padded
	for range 4 {
		inv, err := scaleFor(c, D, p.Stddevs, sigma, p.Shares)
		if err != nil {
			return p, err
		}
		p.Gamma = 1 / inv
		p.Bound = roundingBound(c.ClipNorm*inv, D, c.RoundingBeta)
		p.L2 = p.Bound
		p.L1 = min(p.Bound*p.Bound, math.Sqrt(float64(D))*p.Bound)
		var v float64
		if c.NoiseMultiplier > 0 {
			v = c.NoiseMultiplier * sens * p.L2
			v *= v
		} else {
			v, err = accountant.CalibrateDiscrete(target, accountant.DiscreteNoise{Kind: c.Mechanism.kind(), Shares: p.Shares, Variance: 1, L1: p.L1, L2: p.L2, Dim: D})
			if err != nil {
				return p, fmt.Errorf("%w: calibrating the %v noise: %w", ErrConfig, c.Mechanism, err)
			}
		}
		if err := p.setVariance(v); err != nil {
			return p, err
		}
		sigma = math.Sqrt(p.Variance) * p.Gamma
	}
	p.NormSquaredMax = uint64(math.Floor(p.Bound * p.Bound * (1 - 1e-12)))
	// Magnitudes: a rounded coordinate is below 2^31 + √D and a noise
	// share beyond 2^40 standard deviations has probability far below
	// 2^-1000; int64 arithmetic holds both.
	return p, nil
}

// Limits of the samplers' fast, exact paths.
const (
	maxShareVarianceDG = 1 << 56
	maxShareVarianceSk = 2 * maxLambda
)

// setVariance rounds the total variance v up so that each share has an
// integer parameter (σ² of the discrete Gaussian, λ of the Poissons):
// never less noise than calibrated, and the exact samplers' integer
// paths. The accounted Variance is the rounded one.
func (p *Params) setVariance(v float64) error {
	if !(v > 0) || math.IsInf(v, 0) {
		return fmt.Errorf("%w: noise variance %v", ErrConfig, v)
	}
	per := v / float64(p.Shares)
	switch p.Mechanism {
	case Skellam:
		lambda := math.Ceil(per / 2)
		if lambda > maxLambda {
			return fmt.Errorf("%w: Skellam share λ = %.4g exceeds 2^40 (too many bits for this noise)", ErrConfig, lambda)
		}
		p.ShareVariance = 2 * uint64(lambda)
	default:
		s2 := math.Ceil(per)
		if s2 >= maxShareVarianceDG {
			return fmt.Errorf("%w: discrete Gaussian share σ² = %.4g exceeds 2^56", ErrConfig, s2)
		}
		p.ShareVariance = uint64(s2)
	}
	p.Variance = float64(p.ShareVariance) * float64(p.Shares)
	return nil
}
