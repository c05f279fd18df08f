package privacy

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"
)

// BenchmarkAddGaussian measures Gaussian noise from a crypto/rand-keyed
// source; bytes are the 8 bytes of each float64 output.
func BenchmarkAddGaussian(b *testing.B) {
	for _, d := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("d=%d", d), func(b *testing.B) {
			s, err := NewSource(nil)
			if err != nil {
				b.Fatal(err)
			}
			v := make([]float64, d)
			b.SetBytes(int64(8 * d))
			b.ReportAllocs()
			for b.Loop() {
				s.AddGaussian(v, 1)
			}
		})
	}
}

func BenchmarkDiscreteGaussian(b *testing.B) {
	for _, sigma := range []float64{1, 100, 1e6} {
		b.Run(fmt.Sprintf("sigma=%g", sigma), func(b *testing.B) {
			g, err := NewDiscreteGaussianFloat(sigma)
			benchAddTo(b, g, err)
		})
	}
}

func BenchmarkClipL2(b *testing.B) {
	for _, d := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("d=%d", d), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			v := make([]float64, d)
			for i := range v {
				v[i] = r.NormFloat64()
			}
			dst := make([]float64, d)
			b.SetBytes(int64(8 * d))
			b.ReportAllocs()
			for b.Loop() {
				ClipL2(dst, v, 1)
			}
		})
	}
}

// BenchmarkCentralDPAggregate: n updates of dimension d, clipped, summed,
// noised; bytes are the n·d·8 bytes of input read.
func BenchmarkCentralDPAggregate(b *testing.B) {
	for _, c := range []struct {
		n, d int
		m    Mechanism
	}{{10, 100_000, MechanismGaussian}, {10, 100_000, MechanismDiscreteGaussian}, {100, 10_000, MechanismGaussian},
		{100, 10_000, MechanismDiscreteGaussian}, {100, 100_000, MechanismGaussian}, {100, 100_000, MechanismDiscreteGaussian}} {
		b.Run(fmt.Sprintf("%v/n=%d/d=%d", c.m, c.n, c.d), func(b *testing.B) {
			dp, err := NewCentralDP(CentralConfig{ClipNorm: 1, NoiseMultiplier: 1, Population: 10 * c.n, SampleRate: 0.1, Mechanism: c.m})
			if err != nil {
				b.Fatal(err)
			}
			ups := randomUpdates(rand.New(rand.NewPCG(1, 2)), c.n, c.d, 1)
			dst := make([]float64, c.d)
			b.SetBytes(int64(8 * c.n * c.d))
			b.ReportAllocs()
			for b.Loop() {
				if err := dp.Aggregate(dst, ups); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCentralDPNoise: the release alone (NoiseSum of a sum of
// dimension d): float Gaussian noise against the fixed-point discrete
// Gaussian; bytes are the 8·d bytes of the sum.
func BenchmarkCentralDPNoise(b *testing.B) {
	for _, d := range []int{10_000, 1_000_000} {
		for _, m := range []Mechanism{MechanismGaussian, MechanismDiscreteGaussian} {
			b.Run(fmt.Sprintf("%v/d=%d", m, d), func(b *testing.B) {
				dp, err := NewCentralDP(CentralConfig{ClipNorm: 1, NoiseMultiplier: 1, Population: 1000, SampleRate: 0.1,
					ClientClipped: true, Mechanism: m})
				if err != nil {
					b.Fatal(err)
				}
				v := make([]float64, d)
				b.SetBytes(int64(8 * d))
				b.ReportAllocs()
				for b.Loop() {
					clear(v)
					if err := dp.NoiseSum(v); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkDiscreteGaussianInt is the exact sampler at integer σ² (the
// allocation-free path the ddp shares take), σ from 10^2 to 10^6.
func BenchmarkDiscreteGaussianInt(b *testing.B) {
	for _, sigma2 := range []int64{1e4, 4_473_714, 1e8, 1e12} {
		b.Run(fmt.Sprintf("sigma2=%d", sigma2), func(b *testing.B) {
			g, err := NewDiscreteGaussian(big.NewRat(sigma2, 1))
			benchAddTo(b, g, err)
		})
	}
}

// benchAddTo measures g.AddTo on 1000 int64 coordinates, or fails b with
// err (the error of g's constructor).
func benchAddTo(b *testing.B, g *DiscreteGaussian, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
	s, _ := NewSource(nil)
	v := make([]int64, 1000)
	b.SetBytes(8 * 1000)
	b.ReportAllocs()
	for b.Loop() {
		g.AddTo(v, s)
	}
}

// BenchmarkDiscreteGaussianSample is one draw of N_Z(0, σ²) at integer σ²
// (1 to the ddp share scales, 4473714 is a 16-bit share at n = 10):
// "table" is the table sampler Sample uses once built, "cks" Canonne,
// Kamath and Steinke's sampler (the path before the table, and above
// σ² = 2^28); "build" is the table's construction.
func BenchmarkDiscreteGaussianSample(b *testing.B) {
	for _, sigma2 := range []int64{1, 100, 1e4, 4_473_714, 1e8} {
		g, err := NewDiscreteGaussian(big.NewRat(sigma2, 1))
		if err != nil {
			b.Fatal(err)
		}
		if !g.UseTable() {
			b.Fatalf("σ² = %d: no table", sigma2)
		}
		b.Run(fmt.Sprintf("table/sigma2=%d", sigma2), func(b *testing.B) {
			s, _ := NewSource(nil)
			b.ReportAllocs()
			for b.Loop() {
				g.Sample(s)
			}
		})
		b.Run(fmt.Sprintf("cks/sigma2=%d", sigma2), func(b *testing.B) {
			s, _ := NewSource(nil)
			b.ReportAllocs()
			for b.Loop() {
				g.sampleCKS(s)
			}
		})
		b.Run(fmt.Sprintf("build/sigma2=%d", sigma2), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				newDGTable(g.num, g.den, g.t)
			}
		})
	}
}
