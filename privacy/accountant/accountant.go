package accountant

import (
	"errors"
	"fmt"
	"math"
)

// Sentinel errors. Every error returned by this package wraps one of them, so
// callers test with [errors.Is].
var (
	// ErrInvalidDelta: δ is NaN or outside the open interval (0, 1).
	ErrInvalidDelta = errors.New("accountant: delta must be in (0, 1)")
	// ErrInvalidEpsilon: ε is NaN, infinite or negative.
	ErrInvalidEpsilon = errors.New("accountant: epsilon must be finite and >= 0")
	// ErrInvalidNoise: the noise multiplier is NaN, infinite or <= 0.
	ErrInvalidNoise = errors.New("accountant: noise multiplier must be finite and > 0")
	// ErrInvalidSampleRate: the sampling rate is NaN or outside (0, 1].
	ErrInvalidSampleRate = errors.New("accountant: sample rate must be in (0, 1]")
	// ErrInvalidCount: a negative number of steps.
	ErrInvalidCount = errors.New("accountant: step count must be >= 0")
	// ErrInvalidOrders: an RDP order that is NaN, <= 1 or > [MaxOrder], or an empty list.
	ErrInvalidOrders = errors.New("accountant: RDP orders must be finite and > 1")
	// ErrInvalidSampling: an unknown [Sampling], or a FixedSize step whose
	// Population and SampleRate do not describe m of N clients.
	ErrInvalidSampling = errors.New("accountant: invalid sampling scheme")
	// ErrInvalidConfig: a [PLDConfig] field out of range, or an unknown
	// [RDPMethod].
	ErrInvalidConfig = errors.New("accountant: invalid config")
	// ErrUnsupported: the accountant cannot bound this mechanism (for
	// example mixing Poisson and fixed-size steps in one PLD accountant).
	ErrUnsupported = errors.New("accountant: unsupported mechanism for this accountant")
	// ErrUnreachable: no finite ε meets the requested δ, or no noise
	// multiplier meets the requested (ε, δ).
	ErrUnreachable = errors.New("accountant: privacy target unreachable")
	// ErrInvalidDiscrete: a [DiscreteNoise] field out of range, or a [Step]
	// with both Discrete and a NoiseMultiplier.
	ErrInvalidDiscrete = errors.New("accountant: invalid discrete noise")
)

// Sampling says how the clients (or examples) of one step are chosen.
type Sampling int

const (
	// Poisson sampling: each of the N clients takes part independently with
	// probability SampleRate. Neighbouring datasets differ by adding or
	// removing one client (add/remove adjacency).
	Poisson Sampling = iota
	// FixedSize sampling: exactly m = SampleRate·Population clients are drawn
	// uniformly without replacement. Neighbouring datasets differ by
	// replacing one client (replace-one adjacency, N public), as in Wang,
	// Balle and Kasiviswanathan (2019); the NoiseMultiplier is then the noise
	// standard deviation over the replace-one L2 sensitivity.
	FixedSize
)

// String returns "poisson" or "fixed-size".
func (s Sampling) String() string {
	switch s {
	case Poisson:
		return "poisson"
	case FixedSize:
		return "fixed-size"
	}
	return fmt.Sprintf("Sampling(%d)", int(s))
}

// A Step is one application of the sampled Gaussian mechanism: sample clients
// with rate SampleRate, sum their clipped contributions (L2 sensitivity 1
// after scaling by the clip norm) and add N(0, NoiseMultiplier²) noise —
// or, when Discrete is set, add the integer noise it describes to the
// integer sum.
type Step struct {
	NoiseMultiplier float64  // σ / sensitivity, > 0; must be 0 when Discrete is set
	SampleRate      float64  // q in (0, 1]
	Sampling        Sampling // Poisson (default) or FixedSize
	Population      int      // N, required for FixedSize: SampleRate·N must be an integer m in [1, N]
	// Discrete, when not nil, is the integer noise of the step instead of
	// the Gaussian of NoiseMultiplier (nil: the Gaussian, as before). The
	// [RDPAccountant] composes its RDP ([DiscreteRDP]) with the step's
	// sampling: FixedSize for any Shares; Poisson only for Shares = 1
	// (noise added once, by a party whose share does not depend on who
	// takes part). Distributed noise (Shares > 1) under Poisson sampling
	// returns [ErrUnsupported]: with add/remove neighbours the added
	// client's own share changes the noise law — n+1 shares against n,
	// which the energy of the noise reveals in high dimension — so the
	// neighbours are not a shift of one another and no bound here applies.
	// The [PLDAccountant] returns [ErrUnsupported] for every discrete step.
	Discrete *DiscreteNoise
}

// Validate reports whether s describes a mechanism this package can account.
func (s Step) Validate() error {
	if s.Discrete != nil {
		if s.NoiseMultiplier != 0 {
			return fmt.Errorf("%w: a step with Discrete noise must have NoiseMultiplier 0, got %v", ErrInvalidDiscrete, s.NoiseMultiplier)
		}
		if err := s.Discrete.Validate(); err != nil {
			return err
		}
	} else if math.IsNaN(s.NoiseMultiplier) || math.IsInf(s.NoiseMultiplier, 0) || s.NoiseMultiplier <= 0 {
		return fmt.Errorf("%w: got %v", ErrInvalidNoise, s.NoiseMultiplier)
	}
	if math.IsNaN(s.SampleRate) || s.SampleRate <= 0 || s.SampleRate > 1 {
		return fmt.Errorf("%w: got %v", ErrInvalidSampleRate, s.SampleRate)
	}
	switch s.Sampling {
	case Poisson:
	case FixedSize:
		if s.Population < 1 {
			return fmt.Errorf("%w: fixed-size sampling needs Population >= 1, got %d", ErrInvalidSampling, s.Population)
		}
		m := s.SampleRate * float64(s.Population)
		if math.Abs(m-math.Round(m)) > 1e-6*math.Max(1, m) || math.Round(m) < 1 {
			return fmt.Errorf("%w: SampleRate·Population = %v is not a whole number of clients", ErrInvalidSampling, m)
		}
	default:
		return fmt.Errorf("%w: %v", ErrInvalidSampling, s.Sampling)
	}
	if s.Discrete != nil && s.Sampling == Poisson && s.Discrete.Shares > 1 {
		return fmt.Errorf("%w: %v noise from %d shares under Poisson (add/remove) adjacency: the added client "+
			"adds a share too, so the noise law differs between the neighbours (not a shift); account "+
			"distributed noise with FixedSize sampling (replace-one)", ErrUnsupported, s.Discrete.Kind, s.Discrete.Shares)
	}
	return nil
}

// DefaultOrders returns Opacus's default RDP orders
// (RDPAccountant.DEFAULT_ALPHAS): 1.1, 1.2, …, 10.9, then 12, 13, …, 63.
// The slice is fresh; callers may modify it.
func DefaultOrders() []float64 {
	o := make([]float64, 0, 99+52)
	for x := 1; x < 100; x++ {
		o = append(o, 1+float64(x)/10)
	}
	for a := 12; a < 64; a++ {
		o = append(o, float64(a))
	}
	return o
}

// DPAccountingOrders returns dp_accounting's DEFAULT_RDP_ORDERS (the same as
// TF Privacy's): 1.1, 1.2, …, 10.9, then 11, 12, …, 63, then 128, 256, 512,
// 1024. The slice is fresh; callers may modify it.
func DPAccountingOrders() []float64 {
	o := make([]float64, 0, 99+53+4)
	for x := 1; x < 100; x++ {
		o = append(o, 1+float64(x)/10)
	}
	for a := 11; a < 64; a++ {
		o = append(o, float64(a))
	}
	return append(o, 128, 256, 512, 1024)
}

func validateOrders(orders []float64) error {
	if len(orders) == 0 {
		return fmt.Errorf("%w: empty list", ErrInvalidOrders)
	}
	for _, a := range orders {
		if math.IsNaN(a) || math.IsInf(a, 0) || a <= 1 || a > MaxOrder {
			return fmt.Errorf("%w: got %v (orders must be in (1, %d])", ErrInvalidOrders, a, MaxOrder)
		}
	}
	return nil
}

func validateDelta(delta float64) error {
	if math.IsNaN(delta) || delta <= 0 || delta >= 1 {
		return fmt.Errorf("%w: got %v", ErrInvalidDelta, delta)
	}
	return nil
}

func validateEpsilon(eps float64) error {
	if math.IsNaN(eps) || math.IsInf(eps, 0) || eps < 0 {
		return fmt.Errorf("%w: got %v", ErrInvalidEpsilon, eps)
	}
	return nil
}

func validateCount(count int) error {
	if count < 0 {
		return fmt.Errorf("%w: got %d", ErrInvalidCount, count)
	}
	return nil
}
