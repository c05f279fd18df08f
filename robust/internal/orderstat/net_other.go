//go:build !amd64 || purego

package orderstat

// hasAVX2 is false: the kernels of sortnet_amd64.s exist only on amd64.
const hasAVX2 = false

func useNet(int) bool { return false }

type netScratch struct{}

func (*netScratch) ranks(x, y []float64, rows [][]float64, lo, k1, k2 int, tied *bool) (int, bool) {
	return 0, true
}

func maskedSumSIMD(row, x, y, sum []float64, le, lt []int64) bool {
	return maskedSumGo(row, x, y, sum, le, lt)
}

func maskedSum4SIMD(rows *[4][]float64, x, y, sum []float64, le, lt []int64) bool {
	ok := true
	for _, r := range rows {
		ok = maskedSumGo(r, x, y, sum, le, lt) && ok
	}
	return ok
}

type aroundScratch struct{}

func (*netScratch) aroundMedian(as *aroundScratch, dst []float64, rows [][]float64, lo, beta int) (int, bool) {
	return 0, true
}

func keptSums(rows [][]float64, lo int, x, y, sum []float64) { panic("orderstat: no SIMD kernels") }
