//go:build !purego

package robust

import "math"

// netMin and netMax bound the number of updates for which Median and
// TrimmedMean use the sorting networks of sortnet_amd64.s.
const netMin, netMax = 17, 128

// netSel is a worker's scratch for the sorting-network selection: the
// columns of eight coordinates, one vector a update (padded with +Inf to
// the network's size), and the lanes of the results.
type netSel struct {
	work      [netMax][8]float64
	x, y, sum [8]float64
	cnt       [16]int64
}

// columns writes to out (= dst[b:e]) the statistic op (opMedian, or
// opTrimmed with parameter f) of the columns of rows from b on, eight at a
// time: it loads the eight coordinates of every update, sorts both halves
// of the padded vectors with a bitonic network, and finds the ranks it
// needs as the k-th smallest of two sorted runs. It returns the first
// column it did not do (fewer than eight remain) and whether every value
// it read was finite.
func (ns *netSel) columns(out []float64, rows [][]float64, b, e, op, f int) (int, bool) {
	m := len(rows)
	size := 32
	for size < m {
		size *= 2
	}
	half := size / 2
	w := &ns.work[0]
	if op == opTrimmed && f == 0 {
		for l := range ns.x {
			ns.x[l], ns.y[l] = math.Inf(-1), math.Inf(1)
		}
	}
	c := b
	for ; c+8 <= e; c += 8 {
		var finite bool
		switch size {
		case 32:
			finite = halves32AVX512(&rows[0], m, 8*c, (*[32][8]float64)(ns.work[:32]))
		case 64:
			finite = halves64AVX512(&rows[0], m, 8*c, (*[64][8]float64)(ns.work[:64]))
		default:
			finite = halves128AVX512(&rows[0], m, 8*c, &ns.work)
		}
		if !finite {
			return c, false
		}
		o := out[c-b : c-b+8]
		switch {
		case op == opMedian && m%2 == 1:
			kthAVX512(w, half, m/2+1, &ns.x)
			copy(o, ns.x[:])
		case op == opMedian:
			kthAVX512(w, half, m/2, &ns.x)
			kthAVX512(w, half, m/2+1, &ns.y)
			for l := range o {
				o[l] = ns.x[l]/2 + ns.y[l]/2
			}
		case f == 0: // the mean: every value lies strictly between ∓Inf
			sumColsAVX512(w, size, &ns.x, &ns.y, &ns.sum, &ns.cnt)
			for l := range o {
				o[l] = ns.sum[l] / float64(m)
			}
		default:
			kthAVX512(w, half, f+1, &ns.x)
			kthAVX512(w, half, m-f, &ns.y)
			sumColsAVX512(w, size, &ns.x, &ns.y, &ns.sum, &ns.cnt)
			for l := range o {
				x, y := ns.x[l], ns.y[l]
				if x == y {
					o[l] = x
					continue
				}
				o[l] = trimmedFromParts(m, f, x, y, ns.sum[l], int(ns.cnt[l]), int(ns.cnt[8+l]))
			}
		}
	}
	return c, true
}
