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
// columns a wire; work holds −Inf, the two sorted runs and −Inf again (the
// sentinels A[−1] and B[−1] of kth), tmp a run being sorted.
type netScratch struct {
	work [netMax + 2][4]float64
	tmp  [64][4]float64
}

// aroundScratch holds every row's four distances to the medians, and rows
// that the networks read them through: apart (in Scratch), so that the
// median and the trimmed mean keep netScratch as it was, without pointers,
// which measured up to a fifth faster (n = 100, d = 10⁵, one core).
type aroundScratch struct {
	dist     [netMax][4]float64
	distRows [netMax][]float64
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
// runs A (ns.work[1:a+1]) and B (ns.work[a+1:a+b+1]) and reports whether
// the values were finite.
func (ns *netScratch) sortRuns(rows [][]float64, off, a, b int) bool {
	n := len(rows)
	out := ns.work[1:]
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
//
// With ties set and k1 < k2, it also reports in *tied whether some column
// holds a copy of x[c] at a rank above k1 or of y[c] at a rank below k2
// (the values of ranks k1+1 and k2−1 tell): where none does, exactly
// k1 + 1 values are ≤ x[c] and k2 values are < y[c].
func (ns *netScratch) ranks(x, y []float64, rows [][]float64, lo, k1, k2 int, tied *bool) (int, bool) {
	a, b := runSizes(len(rows))
	nc := len(x) &^ 3
	ns.sentinels(a, b)
	var t [4]float64
	for c := 0; c < nc; c += 4 {
		if !ns.sortRuns(rows, 8*(lo+c), a, b) {
			return c, false
		}
		xc, yc := (*[4]float64)(x[c:c+4]), (*[4]float64)(y[c:c+4])
		ns.kth(a, b, k1+1, xc)
		if k2 == k1 {
			*yc = *xc
		} else {
			ns.kth(a, b, k2+1, yc)
		}
		if tied == nil || *tied {
			continue
		}
		if k2 == k1 {
			*tied = true
			continue
		}
		ns.kth(a, b, k1+2, &t)
		*tied = t[0] == xc[0] || t[1] == xc[1] || t[2] == xc[2] || t[3] == xc[3]
		ns.kth(a, b, k2, &t)
		*tied = *tied || t[0] == yc[0] || t[1] == yc[1] || t[2] == yc[2] || t[3] == yc[3]
	}
	return nc, true
}

// sentinels sets A[−1] and B[−1] of kth, around runs of a and b.
func (ns *netScratch) sentinels(a, b int) {
	inf := math.Inf(-1)
	ns.work[0] = [4]float64{inf, inf, inf, inf}
	ns.work[a+b+1] = ns.work[0]
}

// aroundMedian is [Scratch.MeanAroundMedian] for the whole fours of
// columns of dst, four at a time: the medians from the sorted runs of the
// values, every row's distances to them, whose runs the networks sort
// too, give r, the beta-th smallest distance; the mean is then of the
// values nearer than r and of the first (in row order) of those at r,
// as many as make beta, summed in row order. That is the portable path's
// selection (the beta least distances, ties to the lower row) and sum. It
// returns how many columns it did and whether every value was finite.
func (ns *netScratch) aroundMedian(as *aroundScratch, dst []float64, rows [][]float64, lo, beta int) (int, bool) {
	n := len(rows)
	a, b := runSizes(n)
	ns.sentinels(a, b)
	if as.distRows[0] == nil {
		for i := range as.distRows {
			as.distRows[i] = as.dist[i][:]
		}
	}
	k1, k2 := n/2, n/2
	if n%2 == 0 {
		k1--
	}
	nc := len(dst) &^ 3
	dist := as.dist[:n]
	for c := 0; c < nc; c += 4 {
		if !ns.sortRuns(rows, 8*(lo+c), a, b) {
			return c, false
		}
		var x, y, r [4]float64
		ns.kth(a, b, k1+1, &x)
		if k2 != k1 {
			ns.kth(a, b, k2+1, &y)
			for l := range x {
				x[l] = x[l]/2 + y[l]/2
			}
		}
		distAVX2(&rows[0], n, 8*(lo+c), &x, &dist[0])
		// The distances of finite values may overflow to +Inf, which the
		// networks sort as any other value: their finiteness flag does
		// not matter here.
		ns.sortRuns(as.distRows[:n], 0, a, b)
		ns.kth(a, b, beta, &r)
		var sum [4]float64
		keptAroundAVX2(&rows[0], n, 8*(lo+c), &dist[0], &r, beta, &sum)
		for l := range sum {
			dst[c+l] = sum[l] / float64(beta)
		}
	}
	return nc, true
}

// kth writes to out, in every lane, the k-th smallest (1-based) of the
// ascending run A = work[1:a+1] and the descending run work[a+1:a+b+1] (B
// ascending is B[j] = work[a+b−j]): the least, over i from max(0, k−b) to
// min(k, a), of max(A[i−1], B[k−i−1]), where A[−1] = work[0] and
// B[−1] = work[a+b+1] are −∞. (Of the k smallest values, i come from A and
// k − i from B for some i; that i gives the k-th smallest, every other i a
// value at least as large.)
func (ns *netScratch) kth(a, b, k int, out *[4]float64) {
	lo, hi := max(0, k-b), min(k, a)
	// A[i−1] = work[i], B[k−i−1] = work[a+b−k+i+1].
	minMaxAVX2(&ns.work[lo], &ns.work[a+b-k+lo+1], hi-lo+1, out)
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

// keptSums sets sum[c], for c < len(sum) (a multiple of 4), to the sum in
// row order of the values rows[i][lo+c] with x[c] < v < y[c], as
// maskedSumGo would from +0.
func keptSums(rows [][]float64, lo int, x, y, sum []float64) {
	n := len(sum)
	for _, r := range rows {
		_ = r[lo+n-1]
	}
	_, _ = x[n-1], y[n-1]
	keptSumAVX2(&rows[0], len(rows), 8*lo, &x[0], &y[0], &sum[0], n)
}

func maskedSumSIMD(row, x, y, sum []float64, le, lt []int64) bool {
	n := len(row)
	_, _, _, _, _ = x[n-1], y[n-1], sum[n-1], le[n-1], lt[n-1]
	return maskedSumAVX2(&row[0], &x[0], &y[0], &sum[0], &le[0], &lt[0], n)
}

// sort<S>AscAVX2 and sort<S>DescAVX2 sort, lane by lane, the four values
// at byte offset off of rows[i] for i < n (+Inf for n ≤ i < S; the
// ascending ones, always given whole runs, need n = S) into out,
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

// distAVX2 sets dist[i][l] = |v − med[l]| for i < n (n ≥ 1) and every
// lane l, v the value at byte offset off + 8l of rows[i].
//
//go:noescape
func distAVX2(rows *[]float64, n, off int, med, dist *[4]float64)

// keptAroundAVX2 sets out, in every lane, to the sum in row order of the
// values at byte offset off of rows[i], i < n (n ≥ 1), whose distance
// dist[i] is below r, and of the first beta − #{dist < r} of those whose
// distance is r.
//
//go:noescape
func keptAroundAVX2(rows *[]float64, n, off int, dist, r *[4]float64, beta int, out *[4]float64)

// minMaxAVX2 sets, in every lane, out = the least over j < cnt of
// max(a[j], b[j]); cnt ≥ 1.
//
//go:noescape
func minMaxAVX2(a, b *[4]float64, cnt int, out *[4]float64)

// maskedSum4AVX2 is maskedSumGo over four rows, in order, and n (a
// multiple of 4) columns.
//
//go:noescape
func maskedSum4AVX2(rows *[4]*float64, x, y, sum *float64, le, lt *int64, n int) (finite bool)

// keptSumAVX2 sets sum[c], for c < n (a multiple of 4), to the sum in row
// order, from +0, of the values v at byte offset off + 8c of rows[i] for
// i < nrows with x[c] < v < y[c] (maskedSumGo's sums, without the counts
// and the finiteness check).
//
//go:noescape
func keptSumAVX2(rows *[]float64, nrows, off int, x, y, sum *float64, n int)

// maskedSumAVX2 is maskedSumGo over n (a multiple of 4) columns.
//
//go:noescape
func maskedSumAVX2(row, x, y, sum *float64, le, lt *int64, n int) (finite bool)
