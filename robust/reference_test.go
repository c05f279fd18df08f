package robust_test

// Naive reference implementations written from each paper's definition:
// full sorting and explicit loops over pairs, no shared code with the
// package.

import (
	"math"
	"math/rand/v2"
	"sort"

	"github.com/fedgo/fedgo/fl"
)

func vecs(ups []fl.Update) [][]float64 {
	out := make([][]float64, len(ups))
	for i, u := range ups {
		out[i] = u.Delta
	}
	return out
}

func refMean(xs [][]float64) []float64 {
	out := make([]float64, len(xs[0]))
	for _, x := range xs {
		for j, v := range x {
			out[j] += v
		}
	}
	for j := range out {
		out[j] /= float64(len(xs))
	}
	return out
}

func refMeanOf(xs [][]float64, sel []int) []float64 {
	sub := make([][]float64, len(sel))
	for k, i := range sel {
		sub[k] = xs[i]
	}
	return refMean(sub)
}

func column(xs [][]float64, j int) []float64 {
	c := make([]float64, len(xs))
	for i, x := range xs {
		c[i] = x[j]
	}
	return c
}

func refMedian(xs [][]float64) []float64 {
	out := make([]float64, len(xs[0]))
	for j := range out {
		c := column(xs, j)
		sort.Float64s(c)
		n := len(c)
		if n%2 == 1 {
			out[j] = c[n/2]
		} else {
			out[j] = (c[n/2-1] + c[n/2]) / 2
		}
	}
	return out
}

func refTrimmedMean(xs [][]float64, f int) []float64 {
	out := make([]float64, len(xs[0]))
	for j := range out {
		c := column(xs, j)
		sort.Float64s(c)
		var s float64
		for _, v := range c[f : len(c)-f] {
			s += v
		}
		out[j] = s / float64(len(c)-2*f)
	}
	return out
}

func refSqDist(a, b []float64) float64 {
	var s float64
	for j := range a {
		s += float64((a[j] - b[j]) * (a[j] - b[j])) // rounded: never fused
	}
	return s
}

// refKrumScores returns the Krum score of every member of set within set:
// the sum of the squared distances to its q closest other members.
func refKrumScores(xs [][]float64, set []int, q int) []float64 {
	scores := make([]float64, len(set))
	for p, i := range set {
		var ds []float64
		for _, j := range set {
			if j != i {
				ds = append(ds, refSqDist(xs[i], xs[j]))
			}
		}
		sort.Float64s(ds)
		for k := 0; k < q && k < len(ds); k++ {
			scores[p] += ds[k]
		}
	}
	return scores
}

func allIndices(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// refKrumOrder returns the indices sorted by (Krum score, index).
func refKrumOrder(xs [][]float64, f int) []int {
	n := len(xs)
	sc := refKrumScores(xs, allIndices(n), n-f-2)
	idx := allIndices(n)
	sort.SliceStable(idx, func(a, b int) bool { return sc[idx[a]] < sc[idx[b]] })
	return idx
}

func refKrum(xs [][]float64, f int) []float64 {
	return append([]float64(nil), xs[refKrumOrder(xs, f)[0]]...)
}

func refMultiKrum(xs [][]float64, f, m int) []float64 {
	return refMeanOf(xs, refKrumOrder(xs, f)[:m])
}

// refBulyan is El Mhamdi et al. (2018), Section 4: θ = n − 2f selections
// by Krum within the remaining set R, scoring over max(|R| − f − 2, 1)
// neighbours, then per coordinate the mean of the β = θ − 2f selected
// values closest to their median.
func refBulyan(xs [][]float64, f int) []float64 {
	n := len(xs)
	theta := n - 2*f
	rem := allIndices(n)
	var sel []int
	for len(sel) < theta {
		sc := refKrumScores(xs, rem, max(len(rem)-f-2, 1))
		best := 0
		for p := range rem {
			if sc[p] < sc[best] {
				best = p
			}
		}
		sel = append(sel, rem[best])
		rem = append(append([]int(nil), rem[:best]...), rem[best+1:]...)
	}
	sort.Ints(sel)
	beta := theta - 2*f
	out := make([]float64, len(xs[0]))
	for j := range out {
		c := make([]float64, len(sel))
		for p, i := range sel {
			c[p] = xs[i][j]
		}
		s := append([]float64(nil), c...)
		sort.Float64s(s)
		med := s[theta/2]
		if theta%2 == 0 {
			med = (s[theta/2-1] + s[theta/2]) / 2
		}
		pos := allIndices(len(c))
		sort.SliceStable(pos, func(a, b int) bool {
			return math.Abs(c[pos[a]]-med) < math.Abs(c[pos[b]]-med)
		})
		var sum float64
		for _, p := range pos[:beta] {
			sum += c[p]
		}
		out[j] = sum / float64(beta)
	}
	return out
}

// refGeoMed runs the smoothed Weiszfeld iteration for a fixed, large number
// of steps.
func refGeoMed(xs [][]float64, w []float64, nu float64, steps int) []float64 {
	d := len(xs[0])
	var tw float64
	for _, v := range w {
		tw += v
	}
	v := make([]float64, d)
	for i, x := range xs {
		for j := range v {
			v[j] += w[i] / tw * x[j]
		}
	}
	for range steps {
		next := make([]float64, d)
		var sb float64
		for i, x := range xs {
			b := w[i] / tw / math.Max(nu, math.Sqrt(refSqDist(v, x)))
			sb += b
			for j := range next {
				next[j] += b * x[j]
			}
		}
		for j := range next {
			next[j] /= sb
		}
		v = next
	}
	return v
}

func refCC(xs [][]float64, center []float64, tau float64, iters int) []float64 {
	v := append([]float64(nil), center...)
	n := float64(len(xs))
	for range iters {
		step := make([]float64, len(v))
		for _, x := range xs {
			r := math.Sqrt(refSqDist(x, v))
			c := math.Min(1, tau/r)
			for j := range step {
				step[j] += (x[j] - v[j]) * c / n
			}
		}
		for j := range v {
			v[j] += step[j]
		}
	}
	return v
}

func norm(x []float64) float64 { return math.Sqrt(refSqDist(x, make([]float64, len(x)))) }

func refNormBound(xs [][]float64, m float64) []float64 {
	out := make([]float64, len(xs[0]))
	for _, x := range xs {
		s := 1 / math.Max(1, norm(x)/m)
		for j := range out {
			out[j] += s * x[j] / float64(len(xs))
		}
	}
	return out
}

func refFLTrust(xs [][]float64, g0 []float64) []float64 {
	out := make([]float64, len(g0))
	var tsum float64
	for _, x := range xs {
		var dp float64
		for j := range x {
			dp += x[j] * g0[j]
		}
		nx, n0 := norm(x), norm(g0)
		ts := math.Max(0, dp/(nx*n0))
		tsum += ts
		for j := range out {
			out[j] += ts * n0 / nx * x[j]
		}
	}
	for j := range out {
		out[j] /= tsum
	}
	return out
}

// combinations calls fn with every k-subset of [0, n) in lexicographic
// order.
func combinations(n, k int, fn func([]int)) {
	c := allIndices(k)
	for {
		fn(c)
		i := k - 1
		for i >= 0 && c[i] == n-k+i {
			i--
		}
		if i < 0 {
			return
		}
		c[i]++
		for j := i + 1; j < k; j++ {
			c[j] = c[j-1] + 1
		}
	}
}

func refMDA(xs [][]float64, f int) []float64 {
	n := len(xs)
	best, bestDiam := []int(nil), math.Inf(1)
	combinations(n, n-f, func(c []int) {
		var diam float64
		for _, i := range c {
			for _, j := range c {
				diam = math.Max(diam, refSqDist(xs[i], xs[j]))
			}
		}
		if diam < bestDiam {
			best, bestDiam = append([]int(nil), c...), diam
		}
	})
	return refMeanOf(xs, best)
}

func refNNM(xs [][]float64, f int) [][]float64 {
	n := len(xs)
	out := make([][]float64, n)
	for i := range xs {
		var others []int
		for j := range xs {
			if j != i {
				others = append(others, j)
			}
		}
		sort.SliceStable(others, func(a, b int) bool {
			return refSqDist(xs[i], xs[others[a]]) < refSqDist(xs[i], xs[others[b]])
		})
		out[i] = refMeanOf(xs, append([]int{i}, others[:n-f-1]...))
	}
	return out
}

// refBucketing draws the permutation as documented: a PCG source seeded
// with (seed, 0), one Shuffle per round.
func refBucketing(xs [][]float64, s int, rng *rand.Rand) [][]float64 {
	n := len(xs)
	perm := allIndices(n)
	rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	var out [][]float64
	for k := 0; k < n; k += s {
		out = append(out, refMeanOf(xs, perm[k:min(k+s, n)]))
	}
	return out
}
