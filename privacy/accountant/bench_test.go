package accountant

import (
	"fmt"
	"testing"
)

// BenchmarkRDPEpsilon: a fresh accountant, one Compose of n identical steps
// (one RDP vector over DefaultOrders, scaled by n) and one Epsilon.
func BenchmarkRDPEpsilon(b *testing.B) {
	for _, tc := range []struct {
		name  string
		sigma float64
		q     float64
	}{{"q=0.004,σ=1.1", 1.1, 256.0 / 60000}, {"q=0.1,σ=1", 1, 0.1}, {"q=0.5,σ=0.8", 0.8, 0.5}} {
		b.Run(tc.name+",n=1e4", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a, _ := NewRDP(nil)
				_ = a.Compose(Step{NoiseMultiplier: tc.sigma, SampleRate: tc.q}, 10000)
				if _, _, err := a.Epsilon(1e-5); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRDPEpsilonOnly: ε of an accountant already holding 10^4 steps.
func BenchmarkRDPEpsilonOnly(b *testing.B) {
	a, _ := NewRDP(nil)
	_ = a.Compose(Step{NoiseMultiplier: 1.1, SampleRate: 0.01}, 10000)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := a.Epsilon(1e-5); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPLDEpsilon: n compositions of one Poisson-sampled Gaussian step
// (discretization, FFT composition and ε), at several n.
func BenchmarkPLDEpsilon(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("q=0.01,σ=1,n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, _ := NewPLD(PLDConfig{})
				_ = p.Compose(Step{NoiseMultiplier: 1, SampleRate: 0.01}, n)
				if _, err := p.Epsilon(1e-5); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCalibrateNoise(b *testing.B) {
	tg := Target{Epsilon: 3, Delta: 1e-5, SampleRate: 256.0 / 60000, Steps: 14062}
	b.Run("rdp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := CalibrateNoise(tg, KindRDP); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pld,n=1000", func(b *testing.B) {
		t := tg
		t.Steps = 1000
		b.ReportAllocs()
		for b.Loop() {
			if _, err := CalibrateNoise(t, KindPLD); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRDPMethod times one RDP vector over DefaultOrders per method.
func BenchmarkRDPMethod(b *testing.B) {
	for _, tc := range []struct {
		name     string
		sigma, q float64
	}{{"q=0.004,σ=1.1", 1.1, 256.0 / 60000}, {"q=0.5,σ=5", 5, 0.5}} {
		for _, m := range []RDPMethod{RDPExact, RDPOpacus, RDPDPAccounting} {
			b.Run(tc.name+","+m.String(), func(b *testing.B) {
				b.ReportAllocs()
				st := Step{NoiseMultiplier: tc.sigma, SampleRate: tc.q}
				orders := DefaultOrders()
				b.SetBytes(int64(8 * len(orders)))
				for b.Loop() {
					if _, err := RDPWith(st, orders, m); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRDPFixedSize times one fixed-size RDP vector over DefaultOrders
// (Theorem 27 with its forward differences) at small and large σ.
func BenchmarkRDPFixedSize(b *testing.B) {
	for _, sigma := range []float64{1, 30, 1000} {
		b.Run(fmt.Sprintf("σ=%v", sigma), func(b *testing.B) {
			st := Step{NoiseMultiplier: sigma, SampleRate: 0.01, Sampling: FixedSize, Population: 10000}
			orders := DefaultOrders()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := RDP(st, orders); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRDPEpsilonDiscrete: as BenchmarkRDPEpsilon for discrete steps
// (the baseline is the Gaussian step of BenchmarkRDPEpsilon): a fresh
// accountant, one Compose of 10^4 fixed-size-sampled steps over
// DefaultOrders, and one Epsilon. τ of the distributed discrete Gaussian
// costs O(Shares) per Compose.
func BenchmarkRDPEpsilonDiscrete(b *testing.B) {
	for _, tc := range []struct {
		name string
		d    DiscreteNoise
	}{
		{"ddg,n=100", DiscreteNoise{Kind: DistributedDiscreteGaussian, Shares: 100, Variance: 1e6, L1: 1e5, L2: 1e3, Dim: 1 << 20}},
		{"skellam,n=100", DiscreteNoise{Kind: DistributedSkellam, Shares: 100, Variance: 1e6, L1: 1e5, L2: 1e3}},
	} {
		b.Run(tc.name+",q=0.01,n=1e4", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a, _ := NewRDP(nil)
				if err := a.Compose(Step{Discrete: &tc.d, SampleRate: 0.01, Sampling: FixedSize, Population: 10000}, 10000); err != nil {
					b.Fatal(err)
				}
				if _, _, err := a.Epsilon(1e-5); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCalibrateDiscrete(b *testing.B) {
	tg := Target{Epsilon: 3, Delta: 1e-5, SampleRate: 0.01, Steps: 1000, Sampling: FixedSize, Population: 10000}
	d := DiscreteNoise{Kind: DistributedSkellam, Shares: 100, L1: 1e5, L2: 1e3}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CalibrateDiscrete(tg, d); err != nil {
			b.Fatal(err)
		}
	}
}
