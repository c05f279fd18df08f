//go:build !amd64 || purego

package robust

// hasAVX512 is false: the vectorised kernels exist only on amd64.
const hasAVX512 = false

func partSIMD(src, lt, ge []float64, p float64, orEqual bool) int {
	return partGo(src, lt, ge, p, orEqual)
}

func sumBetweenSIMD(src []float64, a, b float64) (sum float64, leA, ltB int) {
	return sumBetweenGo(src, a, b)
}

func ranksSmallSIMD(a []float64, k1, k2 int) (float64, float64) {
	return ranksSmallGo(a, k1, k2)
}

func gather8SIMD(dst []float64, st int, r *[8][]float64, n int) (done int, finite bool) {
	return 0, true
}

// netMin and netMax: no sorting networks here (netMin > netMax).
const netMin, netMax = 1, 0

type netSel struct{}

func (ns *netSel) columns(out []float64, rows [][]float64, b, e, op, f int) (int, bool) {
	return b, true
}
