package privacy

import (
	"fmt"
	"math"
)

// Defaults of adaptive clipping, from Andrew et al. 2021 (Sec. 4): target
// quantile γ = 0.5 and clip learning rate η_C = 0.2 with the geometric
// update; the count noise σ_b is expected-clients/20.
const (
	DefaultTargetQuantile = 0.5
	DefaultClipLR         = 0.2
	DefaultCountNoiseFrac = 0.05
)

// UpdateNoiseMultiplier returns the noise multiplier z_Δ to put on the
// clipped updates so that releasing them together with a clipped count
// noised with standard deviation sigmaB costs exactly as much privacy as
// one release of the updates with noise multiplier z (Andrew et al. 2021,
// "Differentially Private Learning with Adaptive Clipping", Theorem 1):
//
//	z_Δ = (z^−2 − (sigmaB/countSens)^−2)^−1/2,
//
// where countSens is the L2 sensitivity of the count: 1/2 for centred bits
// bᵢ − 1/2 under add/remove adjacency (Poisson sampling), giving the
// paper's (z^−2 − (2σ_b)^−2)^−1/2, and 1 under replace-one adjacency
// (fixed-size sampling). The two releases form one Gaussian mechanism on
// the concatenated vector (Δ/(z_Δ·S), b/σ_b) with unit noise, whose L2
// sensitivity is √(z_Δ^−2 + (countSens/σ_b)²) = 1/z; see
// [EffectiveNoiseMultiplier].
//
// It returns an error wrapping [ErrConfig] unless 0 < z < sigmaB/countSens.
func UpdateNoiseMultiplier(z, sigmaB, countSens float64) (float64, error) {
	if !(z > 0) || math.IsInf(z, 0) || !(sigmaB > 0) || math.IsInf(sigmaB, 0) || !(countSens > 0) {
		return 0, fmt.Errorf("%w: adaptive clipping needs z > 0, σ_b > 0, got z=%v σ_b=%v", ErrConfig, z, sigmaB)
	}
	zb := sigmaB / countSens
	if z >= zb {
		return 0, fmt.Errorf("%w: noise multiplier %v must be below σ_b/sensitivity = %v: raise the count noise or lower z", ErrConfig, z, zb)
	}
	return 1 / math.Sqrt(1/(z*z)-1/(zb*zb)), nil
}

// EffectiveNoiseMultiplier is the inverse of [UpdateNoiseMultiplier]: the
// noise multiplier z of the joint release of updates noised with
// multiplier zDelta and a count of sensitivity countSens noised with
// standard deviation sigmaB, z = (z_Δ^−2 + (σ_b/countSens)^−2)^−1/2.
func EffectiveNoiseMultiplier(zDelta, sigmaB, countSens float64) float64 {
	zb := sigmaB / countSens
	return 1 / math.Sqrt(1/(zDelta*zDelta)+1/(zb*zb))
}

// GeometricClipUpdate returns the next clip norm of adaptive clipping
// (Andrew et al. 2021, Sec. 3, geometric update): C·exp(−η(b̃ − γ)), where
// b̃ is the noised fraction of updates whose norm was at most C and γ the
// target quantile. The norm shrinks when more than γ of the updates were
// unclipped and grows when fewer were.
func GeometricClipUpdate(c, lr, unclipped, target float64) float64 {
	return c * math.Exp(-lr*(unclipped-target))
}
