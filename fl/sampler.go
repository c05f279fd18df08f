package fl

import (
	"math"
	"math/rand/v2"
)

// Sampler picks the clients of a round from a population of n registered
// clients, using rng as its only source of randomness. It returns indices
// into the population (sorted ids), distinct, in the order drawn; the
// server asks the clients in that order and aggregates in it.
//
// A sampler's cost should depend on the clients it picks, not on n: the
// server may draw from a population of millions.
type Sampler interface {
	Sample(rng *rand.Rand, n int) []int
}

// Uniform samples clients uniformly without replacement: Count of them, or
// ⌈Fraction·N⌉ when Count is 0 (at least one), or everyone when both are 0.
// The result is in the order drawn (a partial Fisher–Yates shuffle over a
// sparse permutation, so its cost is O(Count), not O(N)). Uniform values
// are comparable: a server with a privacy budget checks that its sampler
// equals the one the budget accounts.
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

// Sample returns Size(n) distinct indices in [0, n).
func (s Uniform) Sample(rng *rand.Rand, n int) []int {
	k := s.Size(n)
	out := make([]int, k)
	// Fisher–Yates on the identity permutation, storing only the entries
	// that differ from it.
	moved := make(map[int]int, 2*k)
	at := func(i int) int {
		if v, ok := moved[i]; ok {
			return v
		}
		return i
	}
	for i := 0; i < k; i++ {
		j := i + rng.IntN(n-i)
		vi, vj := at(i), at(j)
		moved[j] = vi
		out[i] = vj
	}
	return out
}

// Poisson samples each client independently with probability Q, so the
// number of clients in a round is Binomial(N, Q) and may be zero. This is
// the sampling that the privacy amplification of DP-FedAvg assumes
// (McMahan et al. 2018). The result is in population order. Sample skips
// from one sampled client to the next with geometric gaps, so its cost is
// O(Q·N).
type Poisson struct {
	Q float64
}

var _ Sampler = Poisson{}

// Sample returns the clients drawn, in population order.
func (s Poisson) Sample(rng *rand.Rand, n int) []int {
	switch {
	case !(s.Q > 0) || n == 0:
		return nil
	case s.Q >= 1:
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	var out []int
	// The gap before the next sampled client is Geometric(Q): the number of
	// failures before a success, floor(log U / log(1−Q)) for U uniform in
	// (0, 1].
	l := math.Log1p(-s.Q)
	for i := -1; ; {
		u := 1 - rng.Float64() // in (0, 1]
		gap := math.Floor(math.Log(u) / l)
		if gap >= float64(n-1-i) {
			return out
		}
		i += 1 + int(gap)
		out = append(out, i)
	}
}
