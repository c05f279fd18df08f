package accountant

import (
	"errors"
	"math"
	"testing"
)

var sentinels = []error{
	ErrInvalidDelta, ErrInvalidEpsilon, ErrInvalidNoise, ErrInvalidSampleRate,
	ErrInvalidCount, ErrInvalidOrders, ErrInvalidSampling, ErrInvalidConfig,
	ErrUnsupported, ErrUnreachable, ErrInvalidDiscrete,
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

// FuzzDiscreteArguments: any discrete step gives either a known error or
// finite-or-+Inf, non-negative RDP and a non-NaN ε; never a panic.
func FuzzDiscreteArguments(f *testing.F) {
	nan, inf := math.NaN(), math.Inf(1)
	f.Add(uint8(1), 100, 400.0, 60.0, 10.0, 1<<14, 0.01, uint8(0), 0, 2.5, 100, 1e-5)
	f.Add(uint8(2), 10, 40.0, 3.0, 2.0, 0, 1.0, uint8(1), 10, 63.0, 1, 1e-6)
	f.Add(uint8(1), 1, 1e-300, 1e300, 1e-300, 0, 0.5, uint8(1), 4, 1.01, 1<<30, 1e-300)
	f.Add(uint8(1), 1<<30, 1e9, 1.0, 1.0, 1, 0.001, uint8(0), 0, 65536.0, 5, 0.5)
	f.Add(uint8(0), 0, nan, inf, -1.0, -1, nan, uint8(9), -1, nan, -1, nan)
	f.Add(uint8(2), 3, 0.5, 1e-9, 1e9, 7, 0.999999, uint8(0), 0, 1024.0, 1000, 1e-10)
	f.Fuzz(func(t *testing.T, kind uint8, shares int, variance, l1, l2 float64, dim int, q float64,
		sampling uint8, pop int, order float64, count int, delta float64) {
		if shares > 1<<22 {
			shares = 1 << 22 // τ costs O(min(n, 2^20)); keep the body fast
		}
		d := DiscreteNoise{Kind: DiscreteKind(kind % 4), Shares: shares, Variance: variance, L1: l1, L2: l2, Dim: dim}
		orders := []float64{order, 2, 32}
		if r, err := DiscreteRDP(d, orders); err != nil {
			if !knownError(err) {
				t.Fatalf("DiscreteRDP: unknown error %v", err)
			}
		} else {
			for _, v := range r {
				if math.IsNaN(v) || v < 0 {
					t.Fatalf("DiscreteRDP(%+v, %v) = %v", d, orders, r)
				}
			}
		}
		s := Step{Discrete: &d, SampleRate: q, Sampling: Sampling(sampling % 3), Population: pop}
		a, err := NewRDP(orders)
		if err != nil {
			a, _ = NewRDP(nil)
		}
		if err := a.Compose(s, count); err != nil && !knownError(err) {
			t.Fatalf("Compose: %v", err)
		}
		if e, _, err := a.Epsilon(delta); err != nil {
			if !knownError(err) {
				t.Fatalf("Epsilon: %v", err)
			}
		} else if math.IsNaN(e) || e < 0 {
			t.Fatalf("Epsilon(%v) = %v", delta, e)
		}
		p, _ := NewPLD(PLDConfig{})
		if err := p.Compose(s, count); err == nil || !knownError(err) {
			t.Fatalf("PLD Compose(discrete) = %v, want a known error", err)
		}
	})
}

// FuzzCalibrateDiscrete: calibration never panics, and a returned variance
// meets the target.
func FuzzCalibrateDiscrete(f *testing.F) {
	f.Add(3.0, 1e-5, 0.01, 100, uint8(1), 100, 30.0, 10.0, 1000)
	f.Add(1.0, 1e-6, 1.0, 10, uint8(2), 5, 3.0, 2.0, 0)
	f.Add(0.01, 1e-9, 0.5, 1000, uint8(1), 2, 1.0, 1.0, 1)
	f.Add(math.NaN(), 1e-5, 0.01, 100, uint8(1), 1, 1.0, 1.0, 1)
	f.Add(5.0, 1e-5, 0.1, 10, uint8(3), 1, 1.0, 1.0, 1)
	f.Fuzz(func(t *testing.T, eps, delta, q float64, steps int, kind uint8, shares int, l1, l2 float64, dim int) {
		steps = min(steps, 1e6)
		shares = min(shares, 1e4)
		tg := Target{Epsilon: eps, Delta: delta, SampleRate: q, Steps: steps}
		d := DiscreteNoise{Kind: DiscreteKind(kind % 4), Shares: shares, L1: l1, L2: l2, Dim: dim}
		v, err := CalibrateDiscrete(tg, d)
		if err != nil {
			if !knownError(err) {
				t.Fatalf("unknown error %v", err)
			}
			return
		}
		if math.IsNaN(v) || v <= 0 || math.IsInf(v, 0) {
			t.Fatalf("variance %v", v)
		}
		d.Variance = v
		a, _ := NewRDP(nil)
		if err := a.Compose(Step{Discrete: &d, SampleRate: q}, steps); err != nil {
			t.Fatal(err)
		}
		if e, _, err := a.Epsilon(delta); err != nil || e > eps {
			t.Fatalf("ε(variance %v) = %v (%v) > %v", v, e, err, eps)
		}
	})
}
