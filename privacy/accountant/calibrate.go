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
	return bracket(meets, 1, 0, 60, maxNoise, func() error {
		return fmt.Errorf("%w: ε=%v at δ=%v not met even with noise multiplier %g", ErrUnreachable, t.Epsilon, t.Delta, maxNoise)
	})
}

// maxDiscreteNoise is the largest total standard deviation, in units of the
// step's L2 sensitivity, that [CalibrateDiscrete] tries.
const maxDiscreteNoise = maxNoise

// CalibrateDiscrete returns the smallest total Variance (to relative
// [CalibrationTolerance]) such that t.Steps releases of the discrete
// mechanism d, sampled as t describes (SampleRate, Sampling, Population),
// are (t.Epsilon, t.Delta)-DP according to an [RDPAccountant] with
// [DefaultOrders]. d.Variance is ignored; the other fields of d must be
// valid. ε is non-increasing in the variance (every bound used is), so the
// variance is bracketed by doubling/halving from L2² and bisected; the
// returned variance meets the target and variance·(1-CalibrationTolerance)
// does not — except for the distributed discrete Gaussian with Shares >= 2,
// whose bound needs Variance/Shares >= 1/4: if that smallest admissible
// variance already meets the target it is returned. An error wraps
// [ErrUnreachable] when even a standard deviation of 10^6·L2 does not meet
// the target.
func CalibrateDiscrete(t Target, d DiscreteNoise) (float64, error) {
	if err := t.Validate(); err != nil {
		return 0, err
	}
	floor := 0.0
	if d.Kind == DistributedDiscreteGaussian && d.Shares > 1 {
		floor = minShareVariance * float64(d.Shares)
	}
	start := d.L2 * d.L2
	if !(start >= floor) { // also catches NaN; Validate below reports bad fields
		start = floor
	}
	d.Variance = start
	if err := d.Validate(); err != nil {
		return 0, err
	}
	meets := func(v float64) (bool, error) {
		dv := d
		dv.Variance = v
		a, _ := NewRDP(nil)
		s := Step{Discrete: &dv, SampleRate: t.SampleRate, Sampling: t.Sampling, Population: t.Population}
		if err := a.Compose(s, t.Steps); err != nil {
			return false, err
		}
		e, _, err := a.Epsilon(t.Delta)
		if err != nil {
			return false, nil // no finite ε at this variance: too little noise
		}
		return e <= t.Epsilon, nil
	}
	maxV := maxDiscreteNoise * maxDiscreteNoise * d.L2 * d.L2
	return bracket(meets, start, floor, 200, maxV, func() error {
		return fmt.Errorf("%w: ε=%v at δ=%v not met by %v noise even with variance %g",
			ErrUnreachable, t.Epsilon, t.Delta, d.Kind, maxV)
	})
}

// bracket returns the smallest x in [floor, max] (to relative
// [CalibrationTolerance]) with meets(x), for a meets that is monotone (false
// below some threshold, true above). From start it halves (at most halvings
// times, never below floor) or doubles (up to max; unreachable() when even
// max does not meet) until the threshold is bracketed, then bisects.
func bracket(meets func(float64) (bool, error), start, floor float64, halvings int, max float64, unreachable func() error) (float64, error) {
	hi := start
	ok, err := meets(hi)
	if err != nil {
		return 0, err
	}
	var lo float64
	if ok {
		for i := 0; ; i++ {
			if hi == floor || i == halvings {
				return hi, nil // the smallest value tried already meets the target
			}
			lo = math.Max(hi/2, floor)
			if ok, err = meets(lo); err != nil {
				return 0, err
			}
			if !ok {
				break
			}
			hi = lo
		}
	} else {
		for !ok {
			lo = hi
			hi *= 2
			if hi > max {
				if ok, err = meets(max); err != nil || !ok {
					return 0, unreachable()
				}
				hi = max
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
