package robust_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/robust"
)

// refMeamed: per coordinate, the n − f values closest to the median (a
// stable sort by distance: ties to the lower index), averaged.
func refMeamed(xs [][]float64, f int) []float64 {
	n := len(xs)
	med := refMedian(xs)
	out := make([]float64, len(xs[0]))
	for j := range out {
		idx := allIndices(n)
		sort.SliceStable(idx, func(a, b int) bool {
			return math.Abs(xs[idx[a]][j]-med[j]) < math.Abs(xs[idx[b]][j]-med[j])
		})
		var s float64
		for _, i := range idx[:n-f] {
			s += xs[i][j]
		}
		out[j] = s / float64(n-f)
	}
	return out
}

// refMoNNA: the n − f updates nearest the pivot (stable: ties to the
// lower index), averaged.
func refMoNNA(xs [][]float64, f, pivot int) ([]float64, []int) {
	idx := allIndices(len(xs))
	sort.SliceStable(idx, func(a, b int) bool {
		return refSqDist(xs[pivot], xs[idx[a]]) < refSqDist(xs[pivot], xs[idx[b]])
	})
	sel := append([]int(nil), idx[:len(xs)-f]...)
	sort.Ints(sel)
	return refMeanOf(xs, sel), sel
}

// refCovMaxEig returns the largest eigenvalue and a unit eigenvector of
// the weighted covariance Σ cᵢ(xᵢ − μ)(xᵢ − μ)ᵀ / Σc, built as a d×d matrix
// and solved by gonum's symmetric eigensolver, with μ.
func refCovMaxEig(xs [][]float64, c []float64) (float64, []float64, []float64) {
	d := len(xs[0])
	var sum float64
	mu := make([]float64, d)
	for i, x := range xs {
		sum += c[i]
		for j := range mu {
			mu[j] += c[i] * x[j]
		}
	}
	for j := range mu {
		mu[j] /= sum
	}
	cov := mat.NewSymDense(d, nil)
	for i, x := range xs {
		for a := range d {
			for b := a; b < d; b++ {
				cov.SetSym(a, b, cov.At(a, b)+c[i]*(x[a]-mu[a])*(x[b]-mu[b])/sum)
			}
		}
	}
	var es mat.EigenSym
	if !es.Factorize(cov, true) {
		panic("eigen")
	}
	vals := es.Values(nil)
	var vecs mat.Dense
	es.VectorsTo(&vecs)
	v := make([]float64, d)
	for a := range d {
		v[a] = vecs.At(a, d-1)
	}
	return vals[d-1], v, mu
}

func refSMEA(xs [][]float64, f int) ([]float64, []int) {
	n := len(xs)
	var best []int
	bestL := math.Inf(1)
	combinations(n, n-f, func(s []int) {
		sub := make([][]float64, len(s))
		w := make([]float64, len(s))
		for k, i := range s {
			sub[k], w[k] = xs[i], 1
		}
		if l, _, _ := refCovMaxEig(sub, w); l < bestL {
			bestL, best = l, append([]int(nil), s...)
		}
	})
	return refMeanOf(xs, best), best
}

func refCAF(xs [][]float64, f int) []float64 {
	n := len(xs)
	c := make([]float64, n)
	for i := range c {
		c[i] = 1
	}
	var best []float64
	bestL := math.Inf(1)
	for {
		var sum float64
		for _, v := range c {
			sum += v
		}
		if sum <= float64(n-2*f) {
			break
		}
		l, v, mu := refCovMaxEig(xs, c)
		if l < bestL {
			bestL, best = l, mu
		}
		tau := make([]float64, n)
		var tmax float64
		for i, x := range xs {
			var p float64
			for j := range v {
				p += (x[j] - mu[j]) * v[j]
			}
			tau[i] = p * p
			tmax = math.Max(tmax, tau[i])
		}
		for i := range c {
			c[i] *= 1 - tau[i]/tmax
		}
	}
	return best
}

// TestNewRulesAgainstReference compares Meamed, MoNNA, SMEA and CAF with
// naive references written from their papers' definitions (SMEA and CAF
// with d×d covariance matrices and gonum's eigensolver).
func TestNewRulesAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 7))
	for _, sz := range []struct{ n, d, f int }{{7, 3, 1}, {9, 5, 2}, {11, 4, 3}, {10, 1, 2}} {
		for trial := range 3 {
			ups := randUpdates(rng, sz.n, sz.d, sz.f)
			xs := vecs(ups)
			what := fmt.Sprintf("n=%d d=%d f=%d trial %d", sz.n, sz.d, sz.f, trial)
			dst := make([]float64, sz.d)

			if err := (&robust.Meamed{F: sz.f}).Aggregate(dst, ups); err != nil {
				t.Fatal(err)
			}
			closeTo(t, what+" meamed", dst, refMeamed(xs, sz.f), 1e-12)

			pivot := trial % sz.n
			mo := &robust.MoNNA{F: sz.f, Pivot: pivot}
			if err := mo.Aggregate(dst, ups); err != nil {
				t.Fatal(err)
			}
			want, sel := refMoNNA(xs, sz.f, pivot)
			closeTo(t, what+" monna", dst, want, 1e-12)
			if got := mo.Explain().Selected; !slices.Equal(got, sel) {
				t.Fatalf("%s: MoNNA selected %v, want %v", what, got, sel)
			}

			sm := &robust.SMEA{F: sz.f}
			if err := sm.Aggregate(dst, ups); err != nil {
				t.Fatal(err)
			}
			want, sel = refSMEA(xs, sz.f)
			closeTo(t, what+" smea", dst, want, 1e-9)
			if got := sm.Explain().Selected; !slices.Equal(got, sel) {
				t.Fatalf("%s: SMEA selected %v, want %v", what, got, sel)
			}

			if err := (&robust.CAF{F: sz.f}).Aggregate(dst, ups); err != nil {
				t.Fatal(err)
			}
			closeTo(t, what+" caf", dst, refCAF(xs, sz.f), 1e-6)
		}
	}
}

// TestNewRulesResistOutliers: with f updates far away, every new rule
// stays near the honest mean (CAF and SMEA filter on the spread, Meamed
// and MoNNA on distances).
func TestNewRulesResistOutliers(t *testing.T) {
	const n, d, f = 11, 30, 3
	ups := randUpdates(rand.New(rand.NewPCG(16, 8)), n, d, f)
	honest := refMean(vecs(ups)[:n-f])
	for _, agg := range []fl.Aggregator{&robust.Meamed{F: f}, &robust.MoNNA{F: f}, &robust.SMEA{F: f}, &robust.CAF{F: f}} {
		dst := make([]float64, d)
		if err := agg.Aggregate(dst, ups); err != nil {
			t.Fatal(err)
		}
		if dist := math.Sqrt(refSqDist(dst, honest)); dist > 0.5*math.Sqrt(d) {
			t.Errorf("%T: %.3g from the honest mean", agg, dist)
		}
	}
}
