package accountant

import (
	"errors"
	"math"
	"testing"
)

func epsilonOf(t *testing.T, kind Kind, tg Target, sigma float64) float64 {
	t.Helper()
	s := Step{NoiseMultiplier: sigma, SampleRate: tg.SampleRate, Sampling: tg.Sampling, Population: tg.Population}
	if kind == KindRDP {
		a, _ := NewRDP(nil)
		if err := a.Compose(s, tg.Steps); err != nil {
			t.Fatal(err)
		}
		e, _, err := a.Epsilon(tg.Delta)
		if err != nil {
			return math.Inf(1)
		}
		return e
	}
	p, _ := NewPLD(PLDConfig{})
	if err := p.Compose(s, tg.Steps); err != nil {
		t.Fatal(err)
	}
	e, err := p.Epsilon(tg.Delta)
	if err != nil {
		return math.Inf(1)
	}
	return e
}

// TestCalibrateRoundTrip: ε(σ*) meets the target and ε(σ*(1-tol)) misses it.
func TestCalibrateRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		tg   Target
	}{
		{"rdp poisson", KindRDP, Target{Epsilon: 3, Delta: 1e-5, SampleRate: 256.0 / 60000, Steps: 14062}},
		{"rdp small eps", KindRDP, Target{Epsilon: 0.5, Delta: 1e-6, SampleRate: 0.01, Steps: 1000}},
		{"rdp large eps", KindRDP, Target{Epsilon: 50, Delta: 1e-5, SampleRate: 1, Steps: 10}},
		{"rdp fixed-size", KindRDP, Target{Epsilon: 2, Delta: 1e-5, SampleRate: 0.01, Steps: 500, Sampling: FixedSize, Population: 10000}},
		{"pld poisson", KindPLD, Target{Epsilon: 2, Delta: 1e-5, SampleRate: 0.2, Steps: 10}},
		{"pld fixed-size", KindPLD, Target{Epsilon: 2, Delta: 1e-5, SampleRate: 0.01, Steps: 200, Sampling: FixedSize, Population: 10000}},
		{"pld fixed-size large q", KindPLD, Target{Epsilon: 1, Delta: 1e-6, SampleRate: 0.25, Steps: 20, Sampling: FixedSize, Population: 40}},
	}
	for _, tc := range tests {
		if !ci && (tc.name == "pld fixed-size" || tc.name == "pld poisson") {
			continue // CI=true only; "pld fixed-size large q" covers the PLD path
		}
		t.Run(tc.name, func(t *testing.T) {
			sigma, err := CalibrateNoise(tc.tg, tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			if e := epsilonOf(t, tc.kind, tc.tg, sigma); e > tc.tg.Epsilon {
				t.Errorf("ε(σ=%v) = %v > target %v", sigma, e, tc.tg.Epsilon)
			}
			if e := epsilonOf(t, tc.kind, tc.tg, sigma*(1-CalibrationTolerance)); e <= tc.tg.Epsilon {
				t.Errorf("ε(σ·(1-tol)) = %v <= target %v: σ=%v not minimal", e, tc.tg.Epsilon, sigma)
			}
		})
	}
}

// TestCalibratePLDNeedsLessNoise: the tighter accountant needs less noise,
// for both samplings.
func TestCalibratePLDNeedsLessNoise(t *testing.T) {
	if !ci {
		t.Skip("long calibration (two PLD calibrations, about 4 s): runs with CI=true")
	}
	for _, tg := range []Target{
		{Epsilon: 2, Delta: 1e-5, SampleRate: 0.3, Steps: 5},
		{Epsilon: 2, Delta: 1e-5, SampleRate: 0.3, Steps: 5, Sampling: FixedSize, Population: 10},
	} {
		sr, err1 := CalibrateNoise(tg, KindRDP)
		sp, err2 := CalibrateNoise(tg, KindPLD)
		if err1 != nil || err2 != nil || sp > sr {
			t.Errorf("%v: σ_RDP = %v (%v), σ_PLD = %v (%v)", tg.Sampling, sr, err1, sp, err2)
		}
	}
}

func TestCalibrateErrors(t *testing.T) {
	ok := Target{Epsilon: 1, Delta: 1e-5, SampleRate: 0.01, Steps: 100}
	mod := func(f func(*Target)) Target { c := ok; f(&c); return c }
	tests := []struct {
		name string
		tg   Target
		kind Kind
		want error
	}{
		{"eps zero", mod(func(t *Target) { t.Epsilon = 0 }), KindRDP, ErrInvalidEpsilon},
		{"eps nan", mod(func(t *Target) { t.Epsilon = math.NaN() }), KindRDP, ErrInvalidEpsilon},
		{"eps inf", mod(func(t *Target) { t.Epsilon = math.Inf(1) }), KindRDP, ErrInvalidEpsilon},
		{"delta 0", mod(func(t *Target) { t.Delta = 0 }), KindRDP, ErrInvalidDelta},
		{"delta 1", mod(func(t *Target) { t.Delta = 1 }), KindRDP, ErrInvalidDelta},
		{"q 0", mod(func(t *Target) { t.SampleRate = 0 }), KindRDP, ErrInvalidSampleRate},
		{"steps 0", mod(func(t *Target) { t.Steps = 0 }), KindRDP, ErrInvalidCount},
		{"steps neg", mod(func(t *Target) { t.Steps = -5 }), KindRDP, ErrInvalidCount},
		{"bad kind", ok, Kind(9), ErrUnsupported},
		{"pld fixed no population", mod(func(t *Target) { t.Sampling = FixedSize }), KindPLD, ErrInvalidSampling},
		{"pld fixed not whole", mod(func(t *Target) { t.Sampling, t.Population = FixedSize, 150 }), KindPLD, ErrInvalidSampling},
		{"pld fixed q 0", mod(func(t *Target) { t.Sampling, t.Population, t.SampleRate = FixedSize, 100, 0 }), KindPLD, ErrInvalidSampleRate},
		// The RDP conversion has a floor: with DefaultOrders and δ = 1e-5,
		// ε < min_α -(log δ + log α)/(α-1) + log(1-1/α) ≈ 0.103 is unreachable.
		{"rdp floor", mod(func(t *Target) { t.Epsilon = 0.05 }), KindRDP, ErrUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := CalibrateNoise(tc.tg, tc.kind)
			if !errors.Is(err, tc.want) {
				t.Errorf("got (%v, %v), want %v", s, err, tc.want)
			}
		})
	}
}
