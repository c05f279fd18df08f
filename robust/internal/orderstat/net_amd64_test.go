//go:build amd64 && !purego

package orderstat

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRunsSorted checks the networks themselves for every n they take:
// after sortRuns, run A of every lane is ascending, run B descending, and
// together they hold the loaded values and B's +Inf padding.
func TestRunsSorted(t *testing.T) {
	if !hasAVX2 {
		t.Skip("needs AVX2 (amd64 without the purego tag) to run the sorting networks")
	}
	rng := rand.New(rand.NewPCG(4, 16))
	var ns netScratch
	for n := netMin; n <= netMax; n++ {
		rows := testRows(rng, []string{"uniform", "ints", "zeros"}[n%3], n, 4)
		a, b := runSizes(n)
		if a+b < n || b%8 != 0 || a < n-a {
			t.Fatalf("n=%d: runs %d and %d", n, a, b)
		}
		if !ns.sortRuns(rows, 0, a, b) {
			t.Fatal("finite values reported as not finite")
		}
		for l := range 4 {
			var got, want []float64
			for i := range a + b {
				got = append(got, ns.work[1+i][l])
			}
			for i := range a + b {
				if i < n {
					want = append(want, rows[i][l])
				} else {
					want = append(want, math.Inf(1))
				}
			}
			if !slices.IsSortedFunc(got[:a], cmpF) || !slices.IsSortedFunc(got[a:], func(x, y float64) int { return -cmpF(x, y) }) {
				t.Fatalf("n=%d lane %d: runs not sorted: %v", n, l, got)
			}
			slices.SortFunc(got, cmpF)
			slices.SortFunc(want, cmpF)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("n=%d lane %d: values changed", n, l)
				}
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
