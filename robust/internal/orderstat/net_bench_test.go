//go:build amd64 && !purego

package orderstat

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkSortRunsHot sorts the same four columns of 100 rows (in L1)
// into the runs of 64 and 40: the cost of the networks themselves.
func BenchmarkSortRunsHot(b *testing.B) {
	if !hasAVX2 {
		b.Skip("needs AVX2")
	}
	rows := testRows(rand.New(rand.NewPCG(1, 1)), "uniform", 100, 4)
	var ns netScratch
	a, bb := runSizes(100)
	for b.Loop() {
		ns.sortRuns(rows, 0, a, bb)
	}
}
