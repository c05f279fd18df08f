//go:build amd64 && !purego

package orderstat

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHalvesSorted checks the networks themselves: after halvesS, both
// halves of every lane are sorted (ascending, then descending) and hold
// the loaded values and the +Inf padding.
func TestHalvesSorted(t *testing.T) {
	if !hasAVX2 {
		t.Skip("needs AVX2 (amd64 without the purego tag) to run the sorting networks")
	}
	rng := rand.New(rand.NewPCG(4, 16))
	var ns netScratch
	for n := netMin; n <= netMax; n++ {
		rows := testRows(rng, []string{"uniform", "ints"}[n%2], n, 4)
		size := 16
		for size < n {
			size *= 2
		}
		if _, ok := ns.ranks(make([]float64, 4), make([]float64, 4), rows, 0, 0, 0); !ok {
			t.Fatal("finite values reported as not finite")
		}
		for l := range 4 {
			var got, want []float64
			for i := range size {
				got = append(got, ns.work[i][l])
				if i < n {
					want = append(want, rows[i][l])
				} else {
					want = append(want, math.Inf(1))
				}
			}
			h := size / 2
			if !slices.IsSorted(got[:h]) || !slices.IsSortedFunc(got[h:], func(a, b float64) int { return -cmpF(a, b) }) {
				t.Fatalf("n=%d lane %d: halves not sorted: %v", n, l, got)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("n=%d lane %d: values changed", n, l)
			}
		}
	}
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
