package dataset

import (
	"math"
	"math/rand/v2"

	"github.com/fedgo/fedgo/internal/detmath"
)

// splitmix64 is the SplitMix64 finaliser (Steele, Lea and Flood 2014); it
// turns (seed, stream) pairs into well-separated PCG seeds so that client
// k's stream does not depend on how many clients there are.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// streamRand returns a generator for the stream (seed, tag, k).
func streamRand(seed, tag, k uint64) *rand.Rand {
	a := splitmix64(seed ^ splitmix64(tag))
	b := splitmix64(a ^ splitmix64(k+0x51ed270b27a3f1c5))
	return rand.New(rand.NewPCG(a, b))
}

// logGamma draws log G for G ~ Gamma(shape, 1), shape > 0, by the method
// of Marsaglia and Tsang (2000); for shape < 1 it uses
// G = G' · U^{1/shape} with G' ~ Gamma(shape+1), kept in log space so that
// tiny shapes (Dirichlet α = 0.001) do not underflow to zero.
func logGamma(rng *rand.Rand, shape float64) float64 {
	if shape < 1 {
		u := 1 - rng.Float64() // (0, 1]
		return logGamma(rng, shape+1) + detmath.Log(u)/shape
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := detmath.Normal(rng)
		v := 1 + float64(c*x)
		if v <= 0 {
			continue
		}
		v = float64(v * v * v)
		u := rng.Float64()
		if u < 1-float64(0.0331*x*x*x*x) {
			return detmath.Log(d * v)
		}
		if detmath.Log(u) < float64(0.5*x*x)+float64(d*(1-v+detmath.Log(v))) {
			return detmath.Log(d * v)
		}
	}
}

// dirichlet fills dst with a draw from the symmetric Dirichlet(α, …, α)
// distribution of dimension len(dst) and returns dst.
func dirichlet(rng *rand.Rand, dst []float64, alpha float64) []float64 {
	m := math.Inf(-1)
	for i := range dst {
		dst[i] = logGamma(rng, alpha)
		m = max(m, dst[i])
	}
	s := 0.0
	for i := range dst {
		dst[i] = detmath.Exp(dst[i] - m)
		s += dst[i]
	}
	for i := range dst {
		dst[i] /= s
	}
	return dst
}
