package fl

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func population(n int) []string {
	p := make([]string, n)
	for i := range p {
		p[i] = fmt.Sprintf("c%05d", i)
	}
	return p
}

func TestUniformSample(t *testing.T) {
	pop := population(50)
	for _, tc := range []struct {
		s    Uniform
		want int
	}{{Uniform{Count: 10}, 10}, {Uniform{Fraction: 0.1}, 5}, {Uniform{Fraction: 0.01}, 1}, {Uniform{}, 50}, {Uniform{Count: 80}, 50}} {
		got := tc.s.Sample(rand.New(rand.NewPCG(1, 1)), pop)
		if len(got) != tc.want {
			t.Errorf("%+v: %d clients, want %d", tc.s, len(got), tc.want)
		}
		seen := map[string]bool{}
		for _, id := range got {
			if seen[id] {
				t.Fatalf("%+v: %s drawn twice", tc.s, id)
			}
			seen[id] = true
		}
	}
	// Every client is drawn with probability k/N: over T rounds its count
	// is Binomial(T, k/N). A chi-square statistic over the 50 clients has
	// 49 degrees of freedom; 100 is far in its tail (p < 1e-5).
	const T, k = 4000, 10
	counts := map[string]int{}
	rng := rand.New(rand.NewPCG(7, 7))
	for range T {
		for _, id := range (Uniform{Count: k}).Sample(rng, pop) {
			counts[id]++
		}
	}
	exp := float64(T * k / len(pop))
	chi := 0.0
	for _, id := range pop {
		d := float64(counts[id]) - exp
		chi += d * d / exp
	}
	if chi > 100 {
		t.Errorf("uniform sampling chi-square = %.1f over 49 dof", chi)
	}
	// The population is not modified.
	for i, id := range pop {
		if id != fmt.Sprintf("c%05d", i) {
			t.Fatal("Sample modified the population")
		}
	}
}

func TestPoissonSample(t *testing.T) {
	pop := population(1000)
	const q, T = 0.03, 2000
	rng := rand.New(rand.NewPCG(9, 9))
	var sum, sum2 float64
	for range T {
		n := float64(len(Poisson{Q: q}.Sample(rng, pop)))
		sum += n
		sum2 += n * n
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
	if got := (Poisson{Q: 1}).Sample(rng, pop); len(got) != len(pop) {
		t.Errorf("q=1 drew %d of %d", len(got), len(pop))
	}
	if got := (Poisson{Q: 0}).Sample(rng, pop); len(got) != 0 {
		t.Errorf("q=0 drew %d", len(got))
	}
}
