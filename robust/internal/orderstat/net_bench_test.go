//go:build amd64 && !purego

package orderstat

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkHalves128Hot runs the 128-wire network on the same four columns
// (rows in L1): the cost of the network itself, per call.
func BenchmarkHalves128Hot(b *testing.B) {
	if !hasAVX2 {
		b.Skip("needs AVX2")
	}
	rows := testRows(rand.New(rand.NewPCG(1, 1)), "uniform", 100, 4)
	var ns netScratch
	for b.Loop() {
		halves128AVX2(&rows[0], 100, 0, &ns.work)
	}
}
