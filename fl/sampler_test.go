package fl

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// checkIndices fails unless idx are distinct and in [0, n).
func checkIndices(t *testing.T, what string, idx []int, n int) {
	t.Helper()
	seen := map[int]bool{}
	for _, i := range idx {
		if i < 0 || i >= n || seen[i] {
			t.Fatalf("%s: index %d out of range or repeated (n = %d)", what, i, n)
		}
		seen[i] = true
	}
}

func TestUniformSample(t *testing.T) {
	const n = 50
	for _, tc := range []struct {
		s    Uniform
		want int
	}{{Uniform{Count: 10}, 10}, {Uniform{Fraction: 0.1}, 5}, {Uniform{Fraction: 0.01}, 1}, {Uniform{}, 50}, {Uniform{Count: 80}, 50}} {
		got := tc.s.Sample(rand.New(rand.NewPCG(1, 1)), n)
		if len(got) != tc.want {
			t.Errorf("%+v: %d clients, want %d", tc.s, len(got), tc.want)
		}
		checkIndices(t, "uniform", got, n)
	}
	// Every client is drawn with probability k/N: over T rounds its count
	// is Binomial(T, k/N). A chi-square statistic over the 50 clients has
	// 49 degrees of freedom; 100 is far in its tail (p < 1e-5).
	const T, k = 4000, 10
	counts := make([]int, n)
	rng := rand.New(rand.NewPCG(7, 7))
	for range T {
		for _, i := range (Uniform{Count: k}).Sample(rng, n) {
			counts[i]++
		}
	}
	if chi := chiSquare(counts, float64(T*k)/n); chi > 100 {
		t.Errorf("uniform sampling chi-square = %.1f over 49 dof", chi)
	}
	// The cost is O(Count): a sample from a population of 2^40 works
	// (a dense permutation would need 8 TiB).
	got := (Uniform{Count: 5}).Sample(rng, 1<<40)
	checkIndices(t, "huge population", got, 1<<40)
}

func chiSquare(counts []int, exp float64) float64 {
	chi := 0.0
	for _, c := range counts {
		d := float64(c) - exp
		chi += d * d / exp
	}
	return chi
}

func TestPoissonSample(t *testing.T) {
	const n, q, T = 1000, 0.03, 2000
	rng := rand.New(rand.NewPCG(9, 9))
	var sum, sum2 float64
	counts := make([]int, n)
	for range T {
		idx := Poisson{Q: q}.Sample(rng, n)
		checkIndices(t, "poisson", idx, n)
		if !slices.IsSorted(idx) {
			t.Fatalf("Poisson sample not in population order: %v", idx)
		}
		for _, i := range idx {
			counts[i]++
		}
		k := float64(len(idx))
		sum += k
		sum2 += k * k
	}
	mean := sum / T
	vr := sum2/T - mean*mean
	// Binomial(1000, 0.03): mean 30, variance 29.1. The sample mean's
	// standard error is √(29.1/2000) ≈ 0.12; allow 5 of them. The sample
	// variance's relative standard error is about √(2/T) ≈ 3%; allow 15%.
	if math.Abs(mean-30) > 0.6 {
		t.Errorf("mean clients per round = %.3f, want 30", mean)
	}
	if math.Abs(vr-29.1)/29.1 > 0.15 {
		t.Errorf("variance of clients per round = %.2f, want 29.1", vr)
	}
	// Each client's count is Binomial(T, q) (mean 60, variance 58.2): the
	// chi-square over 1000 clients (scaled by 1−q) has 999 dof; mean 999,
	// sd 44.7; 1250 is 5.6 sd out.
	if chi := chiSquare(counts, T*q) / (1 - q); chi > 1250 {
		t.Errorf("per-client Poisson rate chi-square = %.1f over 999 dof", chi)
	}
	if got := (Poisson{Q: 1}).Sample(rng, n); len(got) != n {
		t.Errorf("q=1 drew %d of %d", len(got), n)
	}
	if got := (Poisson{Q: 0}).Sample(rng, n); len(got) != 0 {
		t.Errorf("q=0 drew %d", len(got))
	}
	if got := (Poisson{Q: 0.5}).Sample(rng, 0); len(got) != 0 {
		t.Errorf("empty population drew %d", len(got))
	}
}
