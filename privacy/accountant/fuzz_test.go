package accountant

import (
	"errors"
	"math"
	"testing"
)

var sentinels = []error{
	ErrInvalidDelta, ErrInvalidEpsilon, ErrInvalidNoise, ErrInvalidSampleRate,
	ErrInvalidCount, ErrInvalidOrders, ErrInvalidSampling, ErrInvalidConfig,
	ErrUnsupported, ErrUnreachable,
}

func knownError(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzAccountantArguments: any arguments give either a known error or
// finite, non-negative numbers (δ <= 1); never NaN, never a panic.
func FuzzAccountantArguments(f *testing.F) {
	nan, inf := math.NaN(), math.Inf(1)
	f.Add(1.0, 0.01, 100, 1e-5, 1.0, 2.5, uint8(0), 0)
	f.Add(0.5, 1.0, 100000, 1e-5, 10.0, 63.0, uint8(0), 0)
	f.Add(nan, 0.1, 1, 1e-5, 1.0, 2.0, uint8(0), 0)
	f.Add(1.0, nan, 1, 1e-5, 1.0, 2.0, uint8(1), 100)
	f.Add(1.0, 0.1, -1, 1e-5, 1.0, 2.0, uint8(0), 0)
	f.Add(1.0, 0.1, 1, nan, nan, nan, uint8(0), 0)
	f.Add(inf, 0.1, 1, 0.0, -1.0, 1.0, uint8(0), 0)
	f.Add(1e-300, 1e-300, 1<<40, 1e-300, 1e300, 1e300, uint8(1), 1<<40)
	f.Add(3.0, 0.25, 10, 0.999999, 0.0, 1.000001, uint8(1), 8)
	f.Add(-1.0, 2.0, 5, 1.0, inf, -inf, uint8(7), -3)
	f.Add(1e-300, 1.0, 5, 1e-5, 1.0, 2.0, uint8(0), 0) // μ overflows: unreachable, not NaN
	f.Add(0.3, 0.999, 40, 1e-5, 2.0, 3.5, uint8(0), 0) // wide PLD grid
	f.Fuzz(func(t *testing.T, sigma, q float64, count int, delta, eps, order float64, sampling uint8, pop int) {
		s := Step{NoiseMultiplier: sigma, SampleRate: q, Sampling: Sampling(sampling % 3), Population: pop}
		orders := []float64{order, 2, 32}
		r, err := RDP(s, orders)
		if err != nil {
			if !knownError(err) {
				t.Fatalf("RDP: unknown error %v", err)
			}
		} else {
			for _, v := range r {
				if math.IsNaN(v) || v < 0 {
					t.Fatalf("RDP(%+v, %v) = %v", s, orders, r)
				}
			}
		}
		a, err := NewRDP(orders)
		if err != nil {
			if !knownError(err) {
				t.Fatalf("NewRDP: %v", err)
			}
			a, _ = NewRDP(nil)
		}
		if err := a.Compose(s, count); err != nil && !knownError(err) {
			t.Fatalf("Compose: %v", err)
		}
		if e, o, err := a.Epsilon(delta); err != nil {
			if !knownError(err) {
				t.Fatalf("Epsilon: %v", err)
			}
		} else if math.IsNaN(e) || e < 0 || math.IsNaN(o) {
			t.Fatalf("Epsilon(%v) = %v, %v", delta, e, o)
		}
		if d, err := a.Delta(eps); err != nil {
			if !knownError(err) {
				t.Fatalf("Delta: %v", err)
			}
		} else if math.IsNaN(d) || d < 0 || d > 1 {
			t.Fatalf("Delta(%v) = %v", eps, d)
		}
		// PLD: validation always; the full computation only for cheap steps.
		p, _ := NewPLD(PLDConfig{MaxBins: 1 << 14})
		c := count
		if s.Validate() == nil && q != 1 && (sigma < 0.3 || count > 50) {
			c = -1 // keep the fuzz body fast: exercise the error path instead
		}
		if err := p.Compose(s, c); err != nil {
			if !knownError(err) {
				t.Fatalf("PLD Compose: %v", err)
			}
			return
		}
		if e, err := p.Epsilon(delta); err != nil {
			if !knownError(err) {
				t.Fatalf("PLD Epsilon: %v", err)
			}
		} else if math.IsNaN(e) || e < 0 {
			t.Fatalf("PLD Epsilon(%v) = %v", delta, e)
		}
		if d, err := p.Delta(eps); err != nil {
			if !knownError(err) {
				t.Fatalf("PLD Delta: %v", err)
			}
		} else if math.IsNaN(d) || d < 0 || d > 1 {
			t.Fatalf("PLD Delta(%v) = %v", eps, d)
		}
	})
}

// FuzzCalibrateNoise: calibration never panics, never returns NaN, and a
// returned σ meets the target.
func FuzzCalibrateNoise(f *testing.F) {
	f.Add(1.0, 1e-5, 0.01, 100)
	f.Add(0.01, 1e-5, 0.01, 100)
	f.Add(math.NaN(), 1e-5, 0.01, 100)
	f.Add(100.0, 0.5, 1.0, 1)
	f.Add(1.0, 1e-5, 1e-9, 1000000)
	f.Add(1.0, 1e-5, 0.5, 0)
	f.Fuzz(func(t *testing.T, eps, delta, q float64, steps int) {
		if steps > 1e7 {
			steps = 1e7
		}
		tg := Target{Epsilon: eps, Delta: delta, SampleRate: q, Steps: steps}
		sigma, err := CalibrateNoise(tg, KindRDP)
		if err != nil {
			if !knownError(err) {
				t.Fatalf("unknown error %v", err)
			}
			return
		}
		if math.IsNaN(sigma) || sigma <= 0 || math.IsInf(sigma, 0) {
			t.Fatalf("σ = %v", sigma)
		}
		a, _ := NewRDP(nil)
		_ = a.Compose(Step{NoiseMultiplier: sigma, SampleRate: q}, steps)
		if e, _, err := a.Epsilon(delta); err != nil || e > eps {
			t.Fatalf("ε(σ=%v) = %v (%v) > %v", sigma, e, err, eps)
		}
	})
}
