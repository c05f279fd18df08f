package fl

import (
	"math"
	"math/rand/v2"
)

// Uniform samples clients uniformly without replacement: Count of them, or
// ⌈Fraction·N⌉ when Count is 0 (at least one), or everyone when both are 0.
// The result is in the order drawn (a partial Fisher–Yates shuffle).
type Uniform struct {
	Count    int
	Fraction float64
}

var _ Sampler = Uniform{}

// Size returns how many clients Sample picks from a population of n.
func (s Uniform) Size(n int) int {
	k := n
	switch {
	case s.Count > 0:
		k = s.Count
	case s.Fraction > 0:
		k = max(1, int(math.Ceil(s.Fraction*float64(n)-1e-9)))
	}
	return min(k, n)
}

// Sample returns Size(len(population)) distinct clients.
func (s Uniform) Sample(rng *rand.Rand, population []string) []string {
	k := s.Size(len(population))
	perm := make([]string, len(population))
	copy(perm, population)
	for i := 0; i < k; i++ {
		j := i + rng.IntN(len(perm)-i)
		perm[i], perm[j] = perm[j], perm[i]
	}
	return perm[:k:k]
}

// Poisson samples each client independently with probability Q, so the
// number of clients in a round is Binomial(N, Q) and may be zero. This is
// the sampling that the privacy amplification of DP-FedAvg assumes
// (McMahan et al. 2018). The result is in population order.
type Poisson struct {
	Q float64
}

var _ Sampler = Poisson{}

// Sample returns the clients drawn, in population order.
func (s Poisson) Sample(rng *rand.Rand, population []string) []string {
	var out []string
	for _, id := range population {
		if rng.Float64() < s.Q {
			out = append(out, id)
		}
	}
	return out
}
