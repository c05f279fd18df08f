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
// columns a wire; work holds the two sorted runs, tmp a run being sorted.
type netScratch struct {
	work [netMax][4]float64
	tmp  [64][4]float64
	acc  [4]float64
}

// runSizes returns the sizes of the two runs the n rows are sorted in: A,
// the largest power of two below n (at least 8), ascending, and B, the
// other n − A rows rounded up to a multiple of 8 with +Inf, descending.
func runSizes(n int) (a, b int) {
	a = 8
	for 2*a < n {
		a *= 2
	}
	return a, (n - a + 7) &^ 7
}

// sortRuns sorts the four columns at byte offset off of the rows into the
// runs A (ns.work[:a]) and B (ns.work[a:a+b]) and reports whether the
// values were finite.
func (ns *netScratch) sortRuns(rows [][]float64, off, a, b int) bool {
	n := len(rows)
	out := &ns.work
	var okA, okB bool
	switch a {
	case 8:
		okA = sort8AscAVX2(&rows[0], a, off, &ns.tmp, (*[8][4]float64)(out[:8]))
	case 16:
		okA = sort16AscAVX2(&rows[0], a, off, &ns.tmp, (*[16][4]float64)(out[:16]))
	case 32:
		okA = sort32AscAVX2(&rows[0], a, off, &ns.tmp, (*[32][4]float64)(out[:32]))
	default:
		okA = sort64AscAVX2(&rows[0], a, off, &ns.tmp, (*[64][4]float64)(out[:64]))
	}
	r, m := &rows[a], n-a
	switch b {
	case 8:
		okB = sort8DescAVX2(r, m, off, &ns.tmp, (*[8][4]float64)(out[a:a+8]))
	case 16:
		okB = sort16DescAVX2(r, m, off, &ns.tmp, (*[16][4]float64)(out[a:a+16]))
	case 24:
		okB = sort24DescAVX2(r, m, off, &ns.tmp, (*[24][4]float64)(out[a:a+24]))
	case 32:
		okB = sort32DescAVX2(r, m, off, &ns.tmp, (*[32][4]float64)(out[a:a+32]))
	case 40:
		okB = sort40DescAVX2(r, m, off, &ns.tmp, (*[40][4]float64)(out[a:a+40]))
	case 48:
		okB = sort48DescAVX2(r, m, off, &ns.tmp, (*[48][4]float64)(out[a:a+48]))
	case 56:
		okB = sort56DescAVX2(r, m, off, &ns.tmp, (*[56][4]float64)(out[a:a+56]))
	default:
		okB = sort64DescAVX2(r, m, off, &ns.tmp, (*[64][4]float64)(out[a:a+64]))
	}
	return okA && okB
}

// ranks sets x[c] and y[c] to the values of ranks k1 ≤ k2 of column lo+c
// for the whole fours of columns of x, four at a time, and returns how many
// columns it did and whether every value it read was finite.
func (ns *netScratch) ranks(x, y []float64, rows [][]float64, lo, k1, k2 int) (int, bool) {
	a, b := runSizes(len(rows))
	nc := len(x) &^ 3
	for c := 0; c < nc; c += 4 {
		if !ns.sortRuns(rows, 8*(lo+c), a, b) {
			return c, false
		}
		ns.kth(a, b, k1+1, (*[4]float64)(x[c:c+4]))
		if k2 == k1 {
			copy(y[c:c+4], x[c:c+4])
		} else {
			ns.kth(a, b, k2+1, (*[4]float64)(y[c:c+4]))
		}
	}
	return nc, true
}

// kth writes to out, in every lane, the k-th smallest (1-based) of the
// ascending run A = work[:a] and the descending run work[a:a+b] (B
// ascending is B[j] = work[a+b−1−j]): the least, over i from max(0, k−b)
// to min(k, a), of max(A[i−1], B[k−i−1]), where A[−1] = B[−1] = −∞. (Of
// the k smallest values, i come from A and k − i from B for some i; that i
// gives the k-th smallest, every other i a value at least as large.)
func (ns *netScratch) kth(a, b, k int, out *[4]float64) {
	w := &ns.work
	lo, hi := max(0, k-b), min(k, a)
	acc := &ns.acc
	*acc = [4]float64{math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1)}
	if lo == 0 { // i = 0: B[k−1] alone
		for l := range acc {
			acc[l] = min(acc[l], w[a+b-k][l])
		}
		lo = 1
	}
	if hi == k { // i = k: A[k−1] alone
		for l := range acc {
			acc[l] = min(acc[l], w[k-1][l])
		}
		hi = k - 1
	}
	// i in [lo, hi]: A[i−1] = w[i−1], B[k−i−1] = w[a+b−k+i].
	if hi >= lo {
		minMaxAVX2(&w[lo-1], &w[a+b-k+lo], hi-lo+1, acc)
	}
	*out = *acc
}

func maskedSum4SIMD(rows *[4][]float64, x, y, sum []float64, le, lt []int64) bool {
	n := len(x)
	var p [4]*float64
	for i, r := range rows {
		_ = r[n-1]
		p[i] = &r[0]
	}
	_, _, _, _ = y[n-1], sum[n-1], le[n-1], lt[n-1]
	return maskedSum4AVX2(&p, &x[0], &y[0], &sum[0], &le[0], &lt[0], n)
}

func maskedSumSIMD(row, x, y, sum []float64, le, lt []int64) bool {
	n := len(row)
	_, _, _, _, _ = x[n-1], y[n-1], sum[n-1], le[n-1], lt[n-1]
	return maskedSumAVX2(&row[0], &x[0], &y[0], &sum[0], &le[0], &lt[0], n)
}

// sort<S>AscAVX2 and sort<S>DescAVX2 sort, lane by lane, the four values
// at byte offset off of rows[i] for i < n (+Inf for n ≤ i < S) into out,
// ascending or descending, using tmp between passes, and report whether
// the values loaded are all finite (sortnet_amd64.s, written by
// robust/internal/sortnetgen).
//
//go:noescape
func sort8AscAVX2(rows *[]float64, n, off int, tmp *[64][4]float64, out *[8][4]float64) (finite bool)

//
//go:noescape
func sort16AscAVX2(rows *[]float64, n, off int, tmp *[64][4]float64, out *[16][4]float64) (finite bool)

//
//go:noescape
func sort32AscAVX2(rows *[]float64, n, off int, tmp *[64][4]float64, out *[32][4]float64) (finite bool)

//
//go:noescape
func sort64AscAVX2(rows *[]float64, n, off int, tmp *[64][4]float64, out *[64][4]float64) (finite bool)

//
//go:noescape
func sort8DescAVX2(rows *[]float64, n, off int, tmp *[64][4]float64, out *[8][4]float64) (finite bool)

//
//go:noescape
func sort16DescAVX2(rows *[]float64, n, off int, tmp *[64][4]float64, out *[16][4]float64) (finite bool)

//
//go:noescape
func sort24DescAVX2(rows *[]float64, n, off int, tmp *[64][4]float64, out *[24][4]float64) (finite bool)

//
//go:noescape
func sort32DescAVX2(rows *[]float64, n, off int, tmp *[64][4]float64, out *[32][4]float64) (finite bool)

//
//go:noescape
func sort40DescAVX2(rows *[]float64, n, off int, tmp *[64][4]float64, out *[40][4]float64) (finite bool)

//
//go:noescape
func sort48DescAVX2(rows *[]float64, n, off int, tmp *[64][4]float64, out *[48][4]float64) (finite bool)

//
//go:noescape
func sort56DescAVX2(rows *[]float64, n, off int, tmp *[64][4]float64, out *[56][4]float64) (finite bool)

//
//go:noescape
func sort64DescAVX2(rows *[]float64, n, off int, tmp *[64][4]float64, out *[64][4]float64) (finite bool)

// minMaxAVX2 sets, in every lane, acc = min(acc, max(a[j], b[j])) for
// j < cnt.
//
//go:noescape
func minMaxAVX2(a, b *[4]float64, cnt int, acc *[4]float64)

// maskedSum4AVX2 is maskedSumGo over four rows, in order, and n (a
// multiple of 4) columns.
//
//go:noescape
func maskedSum4AVX2(rows *[4]*float64, x, y, sum *float64, le, lt *int64, n int) (finite bool)

// maskedSumAVX2 is maskedSumGo over n (a multiple of 4) columns.
//
//go:noescape
func maskedSumAVX2(row, x, y, sum *float64, le, lt *int64, n int) (finite bool)
