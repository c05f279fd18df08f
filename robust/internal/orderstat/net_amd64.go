//go:build !purego

package orderstat

import (
	"math"

	"golang.org/x/sys/cpu"
)

//go:generate go run ../sortnetgen -out sortnet_amd64.s

// hasAVX2 reports whether the processor and the operating system support
// AVX2, which the kernels of sortnet_amd64.s use.
var hasAVX2 = cpu.X86.HasAVX2

// netMin and netMax bound the number of rows the sorting networks take.
const netMin, netMax = 9, 128

// useNet reports whether columns of n values go through the networks.
func useNet(n int) bool { return hasAVX2 && n >= netMin && n <= netMax }

// netScratch is the workspace of the sorting networks: one vector of four
// columns a wire.
type netScratch struct {
	work [netMax][4]float64
	acc  [4]float64
}

// ranks sets x[c] and y[c] to the values of ranks k1 ≤ k2 of column lo+c
// for the whole fours of columns of x, four at a time, and returns how many
// columns it did and whether every value it read was finite.
func (ns *netScratch) ranks(x, y []float64, rows [][]float64, lo, k1, k2 int) (int, bool) {
	n := len(rows)
	size := 16
	for size < n {
		size *= 2
	}
	half := size / 2
	nc := len(x) &^ 3
	for c := 0; c < nc; c += 4 {
		off := 8 * (lo + c)
		var finite bool
		switch size {
		case 16:
			finite = halves16AVX2(&rows[0], n, off, (*[16][4]float64)(ns.work[:16]))
		case 32:
			finite = halves32AVX2(&rows[0], n, off, (*[32][4]float64)(ns.work[:32]))
		case 64:
			finite = halves64AVX2(&rows[0], n, off, (*[64][4]float64)(ns.work[:64]))
		default:
			finite = halves128AVX2(&rows[0], n, off, &ns.work)
		}
		if !finite {
			return c, false
		}
		ns.kth(half, k1+1, (*[4]float64)(x[c:c+4]))
		if k2 == k1 {
			copy(y[c:c+4], x[c:c+4])
		} else {
			ns.kth(half, k2+1, (*[4]float64)(y[c:c+4]))
		}
	}
	return nc, true
}

// kth writes to out, in every lane, the k-th smallest (1-based) of the
// ascending run A = work[:half] and the descending run work[half:2·half]
// (B ascending is B[j] = work[2·half−1−j]): the least, over i from
// max(0, k−half) to min(k, half), of max(A[i−1], B[k−i−1]), where
// A[−1] = B[−1] = −∞. (Of the k smallest values, i come from A and k − i
// from B for some i; that i gives the k-th smallest, every other i a value
// at least as large.)
func (ns *netScratch) kth(half, k int, out *[4]float64) {
	w := &ns.work
	lo, hi := max(0, k-half), min(k, half)
	acc := &ns.acc
	*acc = [4]float64{math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1)}
	if lo == 0 { // i = 0: B[k−1] alone
		for l := range acc {
			acc[l] = min(acc[l], w[2*half-k][l])
		}
		lo = 1
	}
	if hi == k { // i = k: A[k−1] alone
		for l := range acc {
			acc[l] = min(acc[l], w[k-1][l])
		}
		hi = k - 1
	}
	// i in [lo, hi]: A[i−1] = w[i−1], B[k−i−1] = w[2·half−k+i].
	if hi >= lo {
		minMaxAVX2(&w[lo-1], &w[2*half-k+lo], hi-lo+1, acc)
	}
	*out = *acc
}

func maskedSumSIMD(row, x, y, sum []float64, le, lt []int64) bool {
	n := len(row)
	_, _, _, _, _ = x[n-1], y[n-1], sum[n-1], le[n-1], lt[n-1]
	return maskedSumAVX2(&row[0], &x[0], &y[0], &sum[0], &le[0], &lt[0], n)
}

// halves<S>AVX2 load the four values at byte offset off of rows[i] into
// work[i] for i < n (+Inf up to S), sort every lane of the first S/2
// vectors of work ascending and of the last S/2 descending, and report
// whether the values loaded are all finite.
//
//go:noescape
func halves16AVX2(rows *[]float64, n, off int, work *[16][4]float64) (finite bool)

//go:noescape
func halves32AVX2(rows *[]float64, n, off int, work *[32][4]float64) (finite bool)

//go:noescape
func halves64AVX2(rows *[]float64, n, off int, work *[64][4]float64) (finite bool)

//go:noescape
func halves128AVX2(rows *[]float64, n, off int, work *[128][4]float64) (finite bool)

// minMaxAVX2 sets, in every lane, acc = min(acc, max(a[j], b[j])) for
// j < cnt.
//
//go:noescape
func minMaxAVX2(a, b *[4]float64, cnt int, acc *[4]float64)

// maskedSumAVX2 is maskedSumGo over n (a multiple of 4) columns.
//
//go:noescape
func maskedSumAVX2(row, x, y, sum *float64, le, lt *int64, n int) (finite bool)
