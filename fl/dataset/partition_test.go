package dataset

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// requirePartition checks that parts hold every index of 0…n−1 exactly
// once and that no part is empty.
func requirePartition(t *testing.T, parts [][]int, n int) {
	t.Helper()
	seen := make([]int, n)
	for c, p := range parts {
		require.NotEmpty(t, p, "client %d is empty", c)
		for _, i := range p {
			require.True(t, i >= 0 && i < n, "index %d out of range", i)
			seen[i]++
		}
	}
	for i, s := range seen {
		require.Equal(t, 1, s, "index %d appears %d times", i, s)
	}
}

// labelsBalanced returns perClass examples of each of classes labels, in
// interleaved order.
func labelsBalanced(classes, perClass int) []int {
	y := make([]int, classes*perClass)
	for i := range y {
		y[i] = i % classes
	}
	return y
}

func TestIID(t *testing.T) {
	for _, tc := range []struct{ n, clients int }{{10, 3}, {100, 10}, {7, 7}, {1000, 33}, {5, 1}} {
		parts, err := IID(newRand(1), tc.n, tc.clients)
		require.NoError(t, err)
		require.Len(t, parts, tc.clients)
		requirePartition(t, parts, tc.n)
		for _, p := range parts {
			require.InDelta(t, float64(tc.n)/float64(tc.clients), len(p), 1)
		}
		again, err := IID(newRand(1), tc.n, tc.clients)
		require.NoError(t, err)
		require.Equal(t, parts, again, "deterministic for the seed")
	}
	parts, err := IID(newRand(2), 1000, 10)
	require.NoError(t, err)
	require.False(t, slices.IsSorted(parts[0]), "IID shuffles")
	for _, bad := range []struct{ n, clients int }{{3, 4}, {10, 0}, {-1, 1}} {
		_, err := IID(newRand(1), bad.n, bad.clients)
		require.ErrorIs(t, err, ErrInvalid)
	}
}

// TestGammaMoments checks the Gamma(k, 1) sampler against E = Var = k.
func TestGammaMoments(t *testing.T) {
	rng := newRand(3)
	for _, k := range []float64{0.05, 0.3, 1, 4.5} {
		const n = 40000
		var s, s2 float64
		for range n {
			g := math.Exp(logGamma(rng, k))
			s += g
			s2 += g * g
		}
		mean := s / n
		variance := s2/n - mean*mean
		// Standard error of the mean √(k/n); of the variance about
		// √((6/k+2)/n)·k for a gamma. Allow ~5 standard errors.
		require.InDelta(t, k, mean, 5*math.Sqrt(k/n), "shape %v mean", k)
		require.InEpsilon(t, k, variance, 5*math.Sqrt((6/k+2)/n), "shape %v variance", k)
	}
}

// TestDirichletMoments checks the symmetric Dirichlet sampler against the
// moments of its Beta(α, (K−1)α) marginals: mean 1/K and variance
// (K−1)/(K²(Kα+1)).
func TestDirichletMoments(t *testing.T) {
	t.Parallel() // seconds of sampling; independent of the other tests
	rng := newRand(4)
	for _, tc := range []struct {
		k     int
		alpha float64
	}{{5, 0.1}, {10, 1}, {3, 20}, {4, 0.001}} {
		const n = 20000
		p := make([]float64, tc.k)
		var s, s2 float64
		for range n {
			dirichlet(rng, p, tc.alpha)
			sum := 0.0
			for _, v := range p {
				require.True(t, v >= 0 && v <= 1)
				sum += v
			}
			require.InDelta(t, 1, sum, 1e-12)
			s += p[0]
			s2 += p[0] * p[0]
		}
		k := float64(tc.k)
		wantMean := 1 / k
		wantVar := (k - 1) / (k * k * (k*tc.alpha + 1))
		mean := s / n
		require.InDelta(t, wantMean, mean, 5*math.Sqrt(wantVar/n), "K=%d α=%v", tc.k, tc.alpha)
		require.InEpsilon(t, wantVar, s2/n-mean*mean, 0.1, "K=%d α=%v", tc.k, tc.alpha)
	}
}

// clientLabelCounts returns counts[c][y] for the partition.
func clientLabelCounts(parts [][]int, labels []int, classes int) [][]int {
	counts := make([][]int, len(parts))
	for c, p := range parts {
		counts[c] = make([]int, classes)
		for _, i := range p {
			counts[c][labels[i]]++
		}
	}
	return counts
}

func distinct(counts []int) int {
	d := 0
	for _, v := range counts {
		if v > 0 {
			d++
		}
	}
	return d
}

func TestDirichlet(t *testing.T) {
	labels := labelsBalanced(10, 500)
	for _, alpha := range []float64{0.05, 0.5, 100} {
		parts, err := Dirichlet(newRand(5), labels, 10, 20, alpha)
		require.NoError(t, err)
		require.Len(t, parts, 20)
		requirePartition(t, parts, len(labels))
		again, err := Dirichlet(newRand(5), labels, 10, 20, alpha)
		require.NoError(t, err)
		require.Equal(t, parts, again)
	}

	// Small α: a class's examples go to few clients, so clients see few
	// labels. Large α: each client's label distribution is close to the
	// global one (uniform here).
	small, err := Dirichlet(newRand(6), labels, 10, 20, 0.01)
	require.NoError(t, err)
	meanDistinct := 0.0
	for _, c := range clientLabelCounts(small, labels, 10) {
		meanDistinct += float64(distinct(c)) / 20
	}
	require.Less(t, meanDistinct, 2.0, "α=0.01: mean labels per client")

	large, err := Dirichlet(newRand(7), labels, 10, 20, 1000)
	require.NoError(t, err)
	for c, counts := range clientLabelCounts(large, labels, 10) {
		n := len(large[c])
		require.InDelta(t, 250, n, 25, "α=1000: client sizes near equal")
		for y, k := range counts {
			// Share of class y ~ Beta(1000, 19000): sd ≈ 0.0016; plus
			// flooring. The client's share of label y is near 1/10.
			require.InDelta(t, 0.1, float64(k)/float64(n), 0.03, "client %d label %d", c, y)
		}
	}

	// Per class, the shares across clients follow Dir(α): the average
	// over classes of Σ_c p_c² is K·(Var + 1/K²) = (α+1)/(Kα+1).
	for _, alpha := range []float64{0.1, 1} {
		const clients = 8
		var sumSq float64
		trials := 0
		for seed := range uint64(40) {
			parts, err := Dirichlet(newRand(100+seed), labels, 10, clients, alpha)
			require.NoError(t, err)
			counts := clientLabelCounts(parts, labels, 10)
			for y := range 10 {
				for c := range clients {
					p := float64(counts[c][y]) / 500
					sumSq += p * p
				}
				trials++
			}
		}
		want := (alpha + 1) / (clients*alpha + 1)
		require.InEpsilon(t, want, sumSq/float64(trials), 0.1, "α=%v: E Σ p²", alpha)
	}
}

func TestDirichletRepairsEmptyClients(t *testing.T) {
	// 2 classes, 60 clients, α tiny: every draw leaves clients empty, so
	// the repair step must fill them.
	labels := labelsBalanced(2, 100)
	parts, err := Dirichlet(newRand(8), labels, 2, 60, 0.001)
	require.NoError(t, err)
	requirePartition(t, parts, len(labels))
}

func TestDirichletErrors(t *testing.T) {
	labels := labelsBalanced(3, 4)
	for _, tc := range []struct {
		name    string
		labels  []int
		classes int
		clients int
		alpha   float64
	}{
		{"label out of range", []int{0, 3}, 3, 1, 1},
		{"negative label", []int{0, -1}, 3, 1, 1},
		{"zero classes", labels, 0, 2, 1},
		{"zero clients", labels, 3, 0, 1},
		{"too many clients", labels, 3, 13, 1},
		{"alpha zero", labels, 3, 2, 0},
		{"alpha NaN", labels, 3, 2, math.NaN()},
		{"alpha Inf", labels, 3, 2, math.Inf(1)},
	} {
		_, err := Dirichlet(newRand(1), tc.labels, tc.classes, tc.clients, tc.alpha)
		require.ErrorIs(t, err, ErrInvalid, tc.name)
	}
}

// TestShards checks the partition against the definition: the index list
// sorted stably by label, cut into equal consecutive shards, and each
// client holding shardsPerClient whole shards.
func TestShards(t *testing.T) {
	rng := newRand(9)
	labels := make([]int, 1000)
	for i := range labels {
		labels[i] = rng.IntN(10)
	}
	const clients, spc = 20, 3
	parts, err := Shards(newRand(10), labels, clients, spc)
	require.NoError(t, err)
	requirePartition(t, parts, len(labels))

	// Naive reference: sort (label, index) pairs.
	order := make([]int, len(labels))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if labels[a] != labels[b] {
			return labels[a] - labels[b]
		}
		return a - b
	})
	pos := make([]int, len(labels))
	for p, i := range order {
		pos[i] = p
	}
	size := len(labels) / (clients * spc) // 16, remainder 40: sizes 17 and 16
	for c, p := range parts {
		require.Contains(t, []int{spc * size, spc*size + 1, spc*size + 2, spc*size + 3}, len(p))
		// The client's positions in sorted order form spc runs.
		ps := make([]int, len(p))
		for k, i := range p {
			ps[k] = pos[i]
		}
		slices.Sort(ps)
		runs := 1
		for k := 1; k < len(ps); k++ {
			if ps[k] != ps[k-1]+1 {
				runs++
			}
		}
		require.LessOrEqual(t, runs, spc, "client %d", c)
		// Every class has ≥ one shard's worth, so a shard spans ≤ 2 labels.
		require.LessOrEqual(t, distinct(clientLabelCounts([][]int{p}, labels, 10)[0]), 2*spc)
	}
	again, err := Shards(newRand(10), labels, clients, spc)
	require.NoError(t, err)
	require.Equal(t, parts, again)
}

// TestShardsMNISTLayout is the McMahan et al. setting in miniature: class
// sizes are multiples of the shard size, so every shard holds one label
// and a client sees at most shardsPerClient labels.
func TestShardsMNISTLayout(t *testing.T) {
	labels := labelsBalanced(10, 60) // 600 examples, 6000 in the paper
	parts, err := Shards(newRand(11), labels, 10, 2)
	require.NoError(t, err) // 20 shards of 30: 2 per class
	requirePartition(t, parts, len(labels))
	many := 0
	for _, counts := range clientLabelCounts(parts, labels, 10) {
		d := distinct(counts)
		require.LessOrEqual(t, d, 2)
		require.GreaterOrEqual(t, d, 1)
		if d == 2 {
			many++
		}
	}
	require.Positive(t, many, "shards are dealt at random, not in order")
}

func TestShardsErrors(t *testing.T) {
	labels := labelsBalanced(3, 4)
	for _, tc := range []struct {
		name         string
		labels       []int
		clients, spc int
	}{
		{"zero clients", labels, 0, 1},
		{"zero shards", labels, 2, 0},
		{"too few examples", labels, 7, 2},
		{"negative label", []int{0, -2, 1}, 1, 1},
		{"overflow", labels, math.MaxInt / 2, 3},
	} {
		_, err := Shards(newRand(1), tc.labels, tc.clients, tc.spc)
		require.ErrorIs(t, err, ErrInvalid, tc.name)
	}
}

func TestDirichletBalanced(t *testing.T) {
	labels := labelsBalanced(10, 500) // N = 5000
	const clients = 10
	capSize := len(labels) / clients
	for _, alpha := range []float64{0.1, 0.5, 5} {
		parts, err := DirichletBalanced(newRand(11), labels, 10, clients, alpha, 10)
		require.NoError(t, err)
		requirePartition(t, parts, len(labels))
		again, err := DirichletBalanced(newRand(11), labels, 10, clients, alpha, 10)
		require.NoError(t, err)
		require.Equal(t, parts, again)

		counts := clientLabelCounts(parts, labels, 10)
		for c := range clients {
			require.GreaterOrEqual(t, len(parts[c]), 10, "α=%v client %d: minimum size", alpha, c)
			// The cap, read back from the result: classes are dealt in
			// order, so a client that holds class k held fewer than N/clients
			// examples of the classes before k.
			before := 0
			for k := range 10 {
				// (The last client may get the one example that flooring
				// the cumulative sum below 1 leaves over, as in NIID-Bench.)
				if counts[c][k] > 1 || counts[c][k] == 1 && c != clients-1 {
					require.Less(t, before, capSize, "α=%v client %d got class %d while at the cap", alpha, c, k)
				}
				before += counts[c][k]
			}
			// Hence no client exceeds the cap by more than one class.
			require.Less(t, len(parts[c]), capSize+500, "α=%v client %d", alpha, c)
		}
	}

	// Class 0 is dealt before any client can reach the cap, so its shares
	// are Dir(α): E Σ_c p_c² = (α+1)/(Kα+1), averaged over seeds.
	for _, alpha := range []float64{0.3, 2} {
		var sumSq float64
		const seeds = 200
		for seed := range uint64(seeds) {
			parts, err := DirichletBalanced(newRand(300+seed), labels, 10, clients, alpha, 1)
			require.NoError(t, err)
			for _, cnt := range clientLabelCounts(parts, labels, 10) {
				p := float64(cnt[0]) / 500
				sumSq += p * p
			}
		}
		want := (alpha + 1) / (clients*alpha + 1)
		require.InEpsilon(t, want, sumSq/seeds, 0.1, "α=%v: E Σ p² of class 0", alpha)
	}

	// Without the cap, small α leaves some client far above the mean size;
	// with it, none: the largest client over 20 seeds, α = 0.1.
	largest := func(f func(seed uint64) ([][]int, error)) int {
		m := 0
		for seed := range uint64(20) {
			parts, err := f(seed)
			require.NoError(t, err)
			for _, p := range parts {
				m = max(m, len(p))
			}
		}
		return m
	}
	free := largest(func(s uint64) ([][]int, error) { return Dirichlet(newRand(500+s), labels, 10, clients, 0.1) })
	capped := largest(func(s uint64) ([][]int, error) {
		return DirichletBalanced(newRand(500+s), labels, 10, clients, 0.1, 10)
	})
	require.Greater(t, free, capSize+500, "uncapped Dirichlet: some client above cap + one class")
	require.Less(t, capped, capSize+500)
}

func TestDirichletBalancedErrors(t *testing.T) {
	labels := labelsBalanced(10, 100)
	for _, tc := range []struct {
		name             string
		clients, minSize int
		alpha            float64
	}{
		{"minSize 0", 10, 0, 1},
		{"minSize above N/clients", 10, 101, 1},
		{"alpha 0", 10, 1, 0},
		{"alpha NaN", 10, 1, math.NaN()},
		{"more clients than examples", 2000, 1, 1},
		// α tiny: each class goes (almost) whole to one client, so 100
		// clients cannot all get 10 examples: an error, not an endless loop.
		{"unreachable minimum", 100, 10, 1e-4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DirichletBalanced(newRand(1), labels, 10, tc.clients, tc.alpha, tc.minSize)
			require.ErrorIs(t, err, ErrInvalid)
		})
	}
}
