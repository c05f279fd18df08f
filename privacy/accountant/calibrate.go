package accountant

import (
	"fmt"
	"math"
)

// Kind selects the accountant used by [CalibrateNoise].
type Kind int

const (
	// KindRDP uses an [RDPAccountant] with [DefaultOrders].
	KindRDP Kind = iota
	// KindPLD uses a [PLDAccountant] with [DefaultPLDConfig].
	KindPLD
)

// CalibrationTolerance is the relative width of the final bisection
// bracket of [CalibrateNoise]: the returned σ meets the target and
// σ·(1-CalibrationTolerance) does not.
const CalibrationTolerance = 1e-4

// maxNoise is the largest noise multiplier CalibrateNoise tries.
const maxNoise = 1e6

// Target is a privacy budget for a training run of Steps identical steps.
type Target struct {
	Epsilon    float64  // target ε, finite and > 0
	Delta      float64  // target δ in (0, 1)
	SampleRate float64  // q in (0, 1]
	Steps      int      // number of steps, >= 1
	Sampling   Sampling // Poisson or FixedSize
	Population int      // N, for FixedSize
}

// Validate reports an argument out of range.
func (t Target) Validate() error {
	if math.IsNaN(t.Epsilon) || math.IsInf(t.Epsilon, 0) || t.Epsilon <= 0 {
		return fmt.Errorf("%w: target must be finite and > 0, got %v", ErrInvalidEpsilon, t.Epsilon)
	}
	if err := validateDelta(t.Delta); err != nil {
		return err
	}
	if t.Steps < 1 {
		return fmt.Errorf("%w: target needs Steps >= 1, got %d", ErrInvalidCount, t.Steps)
	}
	return Step{NoiseMultiplier: 1, SampleRate: t.SampleRate, Sampling: t.Sampling, Population: t.Population}.Validate()
}

// CalibrateNoise returns the smallest noise multiplier σ (to relative
// [CalibrationTolerance]) such that Steps steps of the sampled Gaussian
// mechanism are (Epsilon, Delta)-DP according to the accountant of kind.
// It brackets σ by doubling/halving from 1 and bisects; ε is non-increasing
// in σ, and the returned σ is the upper end of the bracket, so it always
// meets the target. It returns an error wrapping [ErrUnreachable] when even
// σ = 1e6 does not (for RDP, targets below the conversion's floor
// min_α -(log δ + log α)/(α-1) + log(1-1/α) are unreachable).
func CalibrateNoise(t Target, kind Kind) (float64, error) {
	if err := t.Validate(); err != nil {
		return 0, err
	}
	if kind != KindRDP && kind != KindPLD {
		return 0, fmt.Errorf("%w: unknown accountant kind %d", ErrUnsupported, kind)
	}
	epsAt := func(sigma float64) (float64, error) {
		s := Step{NoiseMultiplier: sigma, SampleRate: t.SampleRate, Sampling: t.Sampling, Population: t.Population}
		var e float64
		var err error
		if kind == KindRDP {
			a, _ := NewRDP(nil)
			if err = a.Compose(s, t.Steps); err != nil {
				return 0, err
			}
			e, _, err = a.Epsilon(t.Delta)
		} else {
			a, _ := NewPLD(PLDConfig{})
			if err = a.Compose(s, t.Steps); err != nil {
				return 0, err
			}
			e, err = a.Epsilon(t.Delta)
		}
		if err != nil {
			return math.Inf(1), nil // no finite ε at this σ: treat as too little noise
		}
		return e, nil
	}
	meets := func(sigma float64) (bool, error) {
		e, err := epsAt(sigma)
		return e <= t.Epsilon, err
	}
	hi := 1.0
	ok, err := meets(hi)
	if err != nil {
		return 0, err
	}
	lo := hi / 2
	if ok {
		for i := 0; ; i++ {
			if i == 60 {
				return hi, nil // even σ = 2^-60 meets the target
			}
			ok, err := meets(lo)
			if err != nil {
				return 0, err
			}
			if !ok {
				break
			}
			hi, lo = lo, lo/2
		}
	} else {
		for !ok {
			lo = hi
			hi *= 2
			if hi > maxNoise {
				if ok, err = meets(maxNoise); err != nil || !ok {
					return 0, fmt.Errorf("%w: ε=%v at δ=%v not met even with noise multiplier %g", ErrUnreachable, t.Epsilon, t.Delta, maxNoise)
				}
				hi = maxNoise
				break
			}
			if ok, err = meets(hi); err != nil {
				return 0, err
			}
		}
	}
	// Invariant: meets(hi) and !meets(lo).
	for hi-lo > CalibrationTolerance*lo {
		mid := 0.5 * (lo + hi)
		ok, err := meets(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, nil
}
