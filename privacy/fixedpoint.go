package privacy

import (
	"errors"
	"fmt"
	"math"
	"math/big"
)

// Mechanism selects the noise that [CentralDP] and [Local] add.
type Mechanism int

const (
	// MechanismDiscreteGaussian (the default) adds the exact discrete
	// Gaussian in fixed point: the clipped vector is scaled to integers on
	// a grid of step γ (the Resolution), rounded, the integer noise of
	// [DiscreteGaussian] is added, and the result is scaled back by γ. Every
	// value released is a deterministic function of an integer vector that
	// is the sum of the rounded data and exact discrete Gaussian noise, so
	// the low-order bits of a float carry nothing beyond that integer
	// vector (Canonne, Kamath, Steinke 2020). The rounding is accounted:
	// see [RoundingMargin].
	MechanismDiscreteGaussian Mechanism = iota
	// MechanismGaussian adds floating-point Gaussian noise
	// ([Source.AddGaussian]). Its low-order bits leak (Mironov 2012): it is
	// kept for comparison and for hosts that accept that caveat.
	MechanismGaussian
)

// String returns "discrete-gaussian" or "gaussian".
func (m Mechanism) String() string {
	switch m {
	case MechanismDiscreteGaussian:
		return "discrete-gaussian"
	case MechanismGaussian:
		return "gaussian"
	}
	return fmt.Sprintf("Mechanism(%d)", int(m))
}

func (m Mechanism) valid() bool { return m == MechanismDiscreteGaussian || m == MechanismGaussian }

// ErrRange is returned when a vector scaled to the fixed-point grid does not
// fit the exactly representable integers (|x/γ| ≥ 2^52), or the rounding
// margin is not smaller than the clip norm: the release is refused and
// nothing is accounted.
var ErrRange = errors.New("privacy: value out of the fixed-point range")

// resolutionBits sets the default grid: γ ≤ C/(√d·2^resolutionBits), so
// the rounding margin γ(√d/2 + 1) costs at most about
// 2^-(resolutionBits+1) of the clip norm.
const resolutionBits = 10

// maxGridInt bounds the integers of the fixed-point grid: every integer of
// magnitude ≤ 2^53 is a float64, so sums of rounded values below this bound
// are exact.
const maxGridInt = 1 << 52

// GridStep returns the fixed-point resolution γ used for clip norm c in
// dimension d: resolution if it is > 0, otherwise c/2^k with 2^k the
// smallest power of two ≥ √d·2^10. The default keeps c/γ = 2^k exact, so
// the noise in grid units does not change when an adaptive clip norm
// does, and the rounding margin is at most about 2^-11 of c. It panics if
// c is not finite and positive or d < 1.
func GridStep(resolution, c float64, d int) float64 {
	if !finitePos(c) || d < 1 {
		panic("privacy: GridStep: clip norm must be finite and > 0, d ≥ 1")
	}
	if resolution > 0 {
		return resolution
	}
	_, e := math.Frexp(math.Sqrt(float64(d)) * (1 << resolutionBits)) // = f·2^e, f in [0.5, 1)
	return math.Ldexp(c, -e)
}

// RoundingMargin returns γ(√d/2 + 1): a vector of L2 norm ≤ c − margin,
// rounded coordinate-wise to the nearest multiple of γ, has norm ≤ c (each
// coordinate moves by at most γ/2, so the norm by at most γ√d/2; the extra
// γ absorbs the few ulps by which a float clip can overshoot). Clipping to
// c − margin before rounding keeps the sensitivity of the rounded sum at
// exactly the accounted c.
func RoundingMargin(gamma float64, d int) float64 {
	return gamma * (math.Sqrt(float64(d))/2 + 1)
}

// QuantizedSensitivity returns c + step·√d, the L2 norm a vector clipped
// to c can reach after stochastic (or any) rounding to a grid of the given
// step in dimension d: each coordinate moves by less than step. Use it as
// the sensitivity of a sum of rounded vectors (secure aggregation of
// quantized updates), or clip to [QuantizedClipNorm] instead.
func QuantizedSensitivity(c, step float64, d int) float64 {
	return c + step*math.Sqrt(float64(d))
}

// QuantizedClipNorm returns c − step·√d, the clip norm that keeps a vector
// within norm c after rounding to a grid of the given step in dimension
// d. It returns an error wrapping [ErrRange] if that is not positive.
func QuantizedClipNorm(c, step float64, d int) (float64, error) {
	m := c - step*math.Sqrt(float64(d))
	if !(m > 0) {
		return 0, fmt.Errorf("%w: rounding step %v in dimension %d moves a vector by up to %v ≥ clip norm %v",
			ErrRange, step, d, step*math.Sqrt(float64(d)), c)
	}
	return m, nil
}

// fixedClip returns the clip norm to apply before rounding to the grid so
// that the rounded vector has norm ≤ c, or an error wrapping [ErrRange].
func fixedClip(c, gamma float64, d int) (float64, error) {
	m := RoundingMargin(gamma, d)
	if !(m < c) {
		return 0, fmt.Errorf("%w: resolution %v in dimension %d needs a rounding margin %v ≥ clip norm %v",
			ErrRange, gamma, d, m, c)
	}
	return c - m, nil
}

// discreteFor returns the discrete Gaussian N_Z(0, ⌈σ²⌉) for σ = sigma in
// grid units: the exact square rounded up to an integer, never less noise
// than accounted, and an integer σ² takes the sampler's allocation-free
// path.
func discreteFor(sigma float64) (*DiscreteGaussian, error) {
	if !finitePos(sigma) {
		return nil, fmt.Errorf("%w: sigma = %v", ErrInvalidSigma, sigma)
	}
	s := new(big.Rat).SetFloat64(sigma)
	s.Mul(s, s)
	q, r := new(big.Int).QuoRem(s.Num(), s.Denom(), new(big.Int))
	if r.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	return NewDiscreteGaussian(new(big.Rat).SetInt(q))
}

// dgCache keeps the last discrete Gaussian built for a σ, so that a
// mechanism whose σ does not change builds it once.
type dgCache struct {
	sigma float64
	g     *DiscreteGaussian
}

func (c *dgCache) get(sigma float64) (*DiscreteGaussian, error) {
	if c.g != nil && c.sigma == sigma {
		return c.g, nil
	}
	g, err := discreteFor(sigma)
	if err != nil {
		return nil, err
	}
	c.sigma, c.g = sigma, g
	return g, nil
}

// addDiscreteGrid adds exact discrete Gaussian noise N_Z(0, σ²) (σ in grid
// units) to v, which must hold integers of magnitude ≤ maxGridInt, and then
// writes v[j]·scale. Each output is a deterministic function of the noised
// integer. It returns an error wrapping [ErrRange] (v then holds partial
// results and must not be released) if a noised integer leaves the exact
// range, which at the scales used here does not happen in practice.
func addDiscreteGrid(v []float64, g *DiscreteGaussian, s *Source, scale float64) error {
	g.prepare(len(v))
	for j, x := range v {
		y := int64(x) + g.Sample(s)
		if y > maxGridInt || y < -maxGridInt {
			return fmt.Errorf("%w: noised coordinate %d is %d", ErrRange, j, y)
		}
		v[j] = float64(y) * scale
	}
	return nil
}

// roundToGrid replaces each v[j] by round(f·v[j]/γ) (ties to even), an
// integer held exactly in a float64, and returns an error wrapping
// [ErrRange] if one exceeds limit in magnitude.
func roundToGrid(v []float64, f, gamma, limit float64) error {
	inv := 1 / gamma
	for j, x := range v {
		r := math.RoundToEven(f * x * inv)
		if !(math.Abs(r) <= limit) {
			return fmt.Errorf("%w: coordinate %d is %v grid steps", ErrRange, j, r)
		}
		v[j] = r
	}
	return nil
}
