package robust_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/fedgo/fedgo/robust"
)

// TestBulyanExplainPaperExample: the selection order worked by hand in
// TestBulyanPaperExample (values 2, 5, 1, 6, 0 at indices 4, 2, 0, 1, 5).
func TestBulyanExplainPaperExample(t *testing.T) {
	a := &robust.Bulyan{F: 1}
	if err := a.Aggregate(make([]float64, 1), scalarUpdates(1, 6, 5, 7, 2, 0, 3)); err != nil {
		t.Fatal(err)
	}
	if got, want := a.Explain().Selected, []int{4, 2, 0, 1, 5}; !slices.Equal(got, want) {
		t.Fatalf("Bulyan selection %v, want %v", got, want)
	}
}

// TestKrumNeighboursAndExplain: Krum and Multi-Krum with the paper's
// n − f − 2 neighbours, ByzFL's n − f − 1 (NeighboursNF1) and an explicit
// count report the reference's scores and choices.
func TestKrumNeighboursAndExplain(t *testing.T) {
	const n, d, f = 13, 20, 3
	rng := rand.New(rand.NewPCG(16, 4))
	for _, q := range []int{0, robust.NeighboursNF1, 1, 5, n - 1} {
		want := q
		switch q {
		case 0:
			want = n - f - 2
		case robust.NeighboursNF1:
			want = n - f - 1
		}
		for trial := range 3 {
			ups := randUpdates(rng, n, d, f)
			xs := vecs(ups)
			scores := refKrumScores(xs, allIndices(n), want)
			order := allIndices(n)
			sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] < scores[order[b]] })
			k := &robust.Krum{F: f, Neighbours: q}
			dst := make([]float64, d)
			if err := k.Aggregate(dst, ups); err != nil {
				t.Fatal(err)
			}
			e := k.Explain()
			what := fmt.Sprintf("q=%d trial %d", q, trial)
			if !slices.Equal(e.Selected, order[:1]) || !slices.Equal(dst, xs[order[0]]) {
				t.Fatalf("%s: Krum chose %v, want %d", what, e.Selected, order[0])
			}
			closeTo(t, what+" scores", e.Scores, scores, 1e-9)
			mk := &robust.MultiKrum{F: f, Neighbours: q, M: 5}
			if err := mk.Aggregate(dst, ups); err != nil {
				t.Fatal(err)
			}
			if got := mk.Explain().Selected; !slices.Equal(got, order[:5]) {
				t.Fatalf("%s: Multi-Krum chose %v, want %v", what, got, order[:5])
			}
			closeTo(t, what+" multikrum", dst, refMeanOf(xs, order[:5]), 1e-12)
		}
	}
	for _, q := range []int{-2, n} {
		if err := (&robust.Krum{F: f, Neighbours: q}).Validate(n); err == nil {
			t.Errorf("Neighbours = %d accepted for n = %d", q, n)
		}
	}
}

// TestNNMAndMDAExplain: NNM reports each output's neighbour set and MDA
// its subset, as the references find them.
func TestNNMAndMDAExplain(t *testing.T) {
	const n, d, f = 9, 6, 2
	rng := rand.New(rand.NewPCG(16, 5))
	ups := randUpdates(rng, n, d, f)
	xs := vecs(ups)
	nnm := &robust.NNM{F: f}
	if _, err := nnm.Apply(ups); err != nil {
		t.Fatal(err)
	}
	e := nnm.Explain()
	for i := range n {
		var others []int
		for j := range n {
			if j != i {
				others = append(others, j)
			}
		}
		sort.SliceStable(others, func(a, b int) bool {
			return refSqDist(xs[i], xs[others[a]]) < refSqDist(xs[i], xs[others[b]])
		})
		if want := append([]int{i}, others[:n-f-1]...); !slices.Equal(e.Neighbours[i], want) {
			t.Fatalf("NNM output %d mixes %v, want %v", i, e.Neighbours[i], want)
		}
	}
	mda := &robust.MDA{F: f}
	if err := mda.Aggregate(make([]float64, d), ups); err != nil {
		t.Fatal(err)
	}
	var best []int
	bestDiam := math.Inf(1)
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
	if got := mda.Explain().Selected; !slices.Equal(got, best) {
		t.Fatalf("MDA chose %v, want %v", got, best)
	}
}
