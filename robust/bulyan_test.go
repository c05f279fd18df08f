package robust_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/robust"
)

func scalarUpdates(vs ...float64) []fl.Update {
	ups := make([]fl.Update, len(vs))
	for i, v := range vs {
		ups[i] = fl.Update{Client: fmt.Sprint(i), Delta: []float64{v}, Weight: 1}
	}
	return ups
}

// TestBulyanPaperExample works El Mhamdi et al. (2018)'s procedure by hand
// on [1, 6, 5, 7, 2, 0, 3] with f = 1 (n = 7, θ = 5, β = 3). Krum within
// the remaining set R scores over max(|R| − 3, 1) neighbours:
//
//	|R| = 7, 4 neighbours: 2 scores 1+1+4+9 = 15, the least → select 2
//	|R| = 6, 3 neighbours: 5 scores 1+4+4 = 9 → select 5
//	|R| = 5, 2 neighbours: 1 scores 1+4 = 5 → select 1
//	|R| = 4, 1 neighbour: 6 and 7 score 1, tie to the lower index → 6
//	|R| = 3, 1 neighbour: 0 and 3 score 9, tie to the lower index → 0
//
// The selection {0, 1, 2, 5, 6} has median 2, and its β = 3 values
// closest to 2 are 2, 1, 0: the result is 1. Scoring over 0 neighbours in
// the last two steps (every score 0, the lowest index wins) selects 6 and 7
// instead, and gives 6.
func TestBulyanPaperExample(t *testing.T) {
	a := &robust.Bulyan{F: 1}
	dst := make([]float64, 1)
	if err := a.Aggregate(dst, scalarUpdates(1, 6, 5, 7, 2, 0, 3)); err != nil {
		t.Fatal(err)
	}
	if dst[0] != 1 {
		t.Fatalf("Bulyan{F: 1} of [1 6 5 7 2 0 3] = %v, want 1", dst[0])
	}
}

// TestBulyanAgainstReference compares Bulyan with the naive reference of
// the paper's procedure for every f from 0 to 5 at n from 4f + 3 to
// 4f + 6, in one and several dimensions, with small integer values (many
// ties) and continuous ones.
func TestBulyanAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 1))
	for f := 0; f <= 5; f++ {
		for n := 4*f + 3; n <= 4*f+6; n++ {
			for _, d := range []int{1, 3, 40} {
				for trial := range 4 {
					ups := make([]fl.Update, n)
					for i := range ups {
						v := make([]float64, d)
						for j := range v {
							if trial%2 == 0 {
								v[j] = float64(rng.IntN(9))
							} else {
								v[j] = rng.NormFloat64()
							}
						}
						ups[i] = fl.Update{Client: fmt.Sprint(i), Delta: v, Weight: 1}
					}
					dst := make([]float64, d)
					if err := (&robust.Bulyan{F: f}).Aggregate(dst, ups); err != nil {
						t.Fatal(err)
					}
					closeTo(t, fmt.Sprintf("f=%d n=%d d=%d trial %d", f, n, d, trial), dst, refBulyan(vecs(ups), f), 1e-12)
				}
			}
		}
	}
}
