// Package orderstat computes the coordinate-wise order statistics of
// package robust — the median and the trimmed mean of every column of n
// vectors — and holds the selection routines the other rules use.
//
// # API
//
// A [Scratch] is one goroutine's buffers. [Scratch.Median] and
// [Scratch.TrimmedMean] take rows (the n vectors) and a first column lo,
// and write the statistic of columns lo, lo+1, …, lo+len(dst)−1 to dst;
// callers cut the coordinates into blocks of at most [MaxBlock] columns and
// give each goroutine its own Scratch. [SelectK], [Select2], [SelectIdx],
// [SortIdx] and [MedianInPlace] are the in-place selections on one slice.
// [Scratch.MeanAroundMedian] is the coordinate-wise step of Bulyan and
// Meamed.
//
// # Definitions (the same bits on every path)
//
// With x and y the values of ranks k1 and k2 of a column (0-based, exact
// order statistics, so the same on every path):
//
//   - median: x for odd n (k1 = k2 = n/2), x/2 + y/2 for even n
//     (k1 = n/2 − 1, k2 = n/2);
//   - trimmed mean with f = 0: s/n, where s is the sum of the column in
//     row order (((v₀ + v₁) + v₂) + …, starting from +0);
//   - trimmed mean with f > 0 (k1 = f, k2 = n−f−1): x if x = y, otherwise
//     (s + x·(le − f) + y·(n − f − lt)) / (n − 2f), where s is the sum in
//     row order of the values strictly between x and y (+0 for the others),
//     le counts the values ≤ x and lt those < y: the kept copies of x are
//     those of rank ≥ f, the kept copies of y those of rank ≤ n−f−1.
//
// Every result then has +0 added, which turns −0 into +0 (the sorting
// networks, with VMINPD/VMAXPD, do not order −0 and +0 as the scalar
// selection does; the values are equal, the signs are not) and changes
// nothing else.
//
// # Paths
//
// On amd64 with AVX2 (golang.org/x/sys/cpu), for 9 ≤ n ≤ 128, four adjacent
// columns at a time go through sorting networks of VMINPD/VMAXPD on ymm
// registers (sortnet_amd64.s, written by robust/internal/sortnetgen): the
// first A rows (A the largest power of two below n) are sorted ascending,
// the other n − A, padded with +Inf to a multiple of 8, descending, by
// networks that leave out the comparators of the padding they know of, and
// the value of rank k is the least over i of max(A[i−1], B[k−i−1]) for the
// two sorted runs A and B. The sums of the trimmed mean run over the rows
// in row order, four columns a vector (maskedSumAVX2; keptSumAVX2, without
// the counts, where the ranks f+1 and n−f−2 show that x and y have no
// copies beyond their ranks). [Scratch.MeanAroundMedian] sorts, after the
// values, every row's distances to the medians by the same networks to
// find the beta-th least distance r, then sums in row order the values
// nearer than r and the first of those at r. Everywhere else (other n,
// the last len(dst) mod 4 columns, other processors, the purego build tag)
// the columns are gathered into a transposed buffer and selected by a
// scalar quickselect, and the sums run over the rows in the same order in
// Go. Tests run both paths on the same inputs and compare the bits.
package orderstat

import (
	"math"
	"slices"
)

// MaxBlock is the most columns one call handles.
const MaxBlock = 512

// Scratch is one goroutine's buffers. The zero value is ready to use; it
// grows on first use and does not allocate afterwards for the same n.
type Scratch struct {
	// portable forces the portable path (tests).
	portable bool

	buf       []float64 // transposed columns: MaxBlock × colStride(n)
	x, y, sum [MaxBlock]float64
	le, lt    [MaxBlock]int64
	net       *netScratch
	around    *aroundScratch // MeanAroundMedian's networks
	tmp, key  []float64      // MeanAroundMedian: n values each
	idx       []int32
}

// colStride returns the distance between the columns of m values in the
// transposed buffer: m rounded up to a multiple of 8, so that every group
// of 8 rows fills whole cache lines.
func colStride(m int) int { return (m + 7) &^ 7 }

// check panics unless rows can serve columns [lo, lo+nc).
func check(rows [][]float64, lo, nc int) {
	if len(rows) == 0 || nc > MaxBlock || lo < 0 {
		panic("orderstat: no rows, or more than MaxBlock columns")
	}
	for _, r := range rows {
		if len(r) < lo+nc {
			panic("orderstat: row shorter than lo+len(dst)")
		}
	}
}

// Median writes to dst[c] the median of rows[i][lo+c] over the rows i, for
// c < len(dst) ≤ MaxBlock, and reports whether every value it read was
// finite (dst is unspecified otherwise). It panics if a row has fewer than
// lo+len(dst) values.
func (s *Scratch) Median(dst []float64, rows [][]float64, lo int) bool {
	nc := len(dst)
	check(rows, lo, nc)
	n := len(rows)
	k1, k2 := n/2, n/2
	if n%2 == 0 {
		k1--
	}
	if !s.ranks(rows, lo, nc, k1, k2) {
		return false
	}
	for c := range dst {
		if n%2 == 1 {
			dst[c] = s.x[c] + 0
		} else {
			dst[c] = s.x[c]/2 + s.y[c]/2 + 0
		}
	}
	return true
}

// TrimmedMean writes to dst[c] the mean of rows[i][lo+c] over the rows i
// without the f smallest and f largest values, for c < len(dst) ≤ MaxBlock,
// and reports whether every value it read was finite (dst is unspecified
// otherwise). It panics if n ≤ 2f or a row has fewer than lo+len(dst)
// values.
func (s *Scratch) TrimmedMean(dst []float64, rows [][]float64, lo, f int) bool {
	nc := len(dst)
	check(rows, lo, nc)
	n := len(rows)
	if f < 0 || n <= 2*f {
		panic("orderstat: TrimmedMean needs 0 ≤ f and n > 2f")
	}
	// Sub-blocks of sumBlock columns, so that the rows the ranks were
	// read from are still in cache when the sums read them again.
	for b := 0; b < nc; b += sumBlock {
		if !s.trimmedBlock(dst[b:min(b+sumBlock, nc)], rows, lo+b, f) {
			return false
		}
	}
	return true
}

// sumBlock is the width of TrimmedMean's sub-blocks: 100 rows of 64
// columns are 50 KiB.
const sumBlock = 64

func (s *Scratch) trimmedBlock(dst []float64, rows [][]float64, lo, f int) bool {
	nc, n := len(dst), len(rows)
	x, y := s.x[:nc], s.y[:nc]
	if f == 0 {
		for c := range x {
			x[c], y[c] = math.Inf(-1), math.Inf(1)
		}
		if !s.sums(rows, lo, nc) {
			return false
		}
	} else {
		// The networks' columns sum over the rows; the others over the
		// transposed columns the selection left in s.buf, in the same
		// order.
		tied := false
		done, ok := s.ranksN(rows, lo, nc, f, n-f-1, &tied)
		if !ok {
			return false
		}
		if tied {
			if !s.sums(rows, lo, done) {
				return false
			}
		} else {
			s.keptSums(rows, lo, done, f)
		}
		s.sumsFromBuf(n, done, nc)
	}
	for c := range dst {
		switch {
		case f == 0:
			dst[c] = s.sum[c]/float64(n) + 0
		case x[c] == y[c]:
			dst[c] = x[c] + 0
		default:
			// The conversions round each product, so that no GOARCH fuses
			// them into the sums (the spec allows it; arm64 does).
			kept := s.sum[c] + float64(x[c]*float64(s.le[c]-int64(f))) + float64(y[c]*float64(int64(n-f)-s.lt[c]))
			dst[c] = kept/float64(n-2*f) + 0
		}
	}
	return true
}

// ranks sets s.x[c] and s.y[c] to the values of ranks k1 ≤ k2 of column
// lo+c, for c < nc, and reports whether the values were finite.
func (s *Scratch) ranks(rows [][]float64, lo, nc, k1, k2 int) bool {
	_, ok := s.ranksN(rows, lo, nc, k1, k2, nil)
	return ok
}

// ranksN is ranks, also returning how many leading columns the networks
// did (the others are in s.buf, transposed, in row order) and, if tied is
// not nil, setting *tied as [netScratch.ranks] does for those columns.
func (s *Scratch) ranksN(rows [][]float64, lo, nc, k1, k2 int, tied *bool) (int, bool) {
	done := 0
	if !s.portable && useNet(len(rows)) {
		if s.net == nil {
			s.net = new(netScratch)
		}
		var ok bool
		done, ok = s.net.ranks(s.x[:nc], s.y[:nc], rows, lo, k1, k2, tied)
		if !ok {
			return 0, false
		}
	}
	if done == nc {
		return done, true
	}
	return done, s.ranksPortable(rows, lo+done, s.x[done:nc], s.y[done:nc], k1, k2)
}

// ranksPortable is ranks for columns lo, …, lo+len(x)−1 by gathering them
// into a transposed buffer and selecting in place.
func (s *Scratch) ranksPortable(rows [][]float64, lo int, x, y []float64, k1, k2 int) bool {
	n := len(rows)
	st := colStride(n)
	s.buf = grow(s.buf, MaxBlock*st)
	if !gather(s.buf, st, rows, lo, lo+len(x)) {
		return false
	}
	s.tmp = grow(s.tmp, n)
	for c := range x {
		// Select on a copy: the column stays in row order for the sums.
		col := s.tmp[:n]
		copy(col, s.buf[c*st:c*st+n])
		if k1 == k2 {
			SelectK(col, k1)
		} else {
			Select2(col, k1, k2)
		}
		x[c], y[c] = col[k1], col[k2]
	}
	return true
}

// sumsFromBuf sets s.sum, s.le and s.lt of the columns at, …, nc−1 from
// their copies in s.buf (column c − at, in row order), as maskedSumGo does
// over the rows: the same sums in the same order. Four columns go at once,
// so that four additions are in flight.
func (s *Scratch) sumsFromBuf(n, at, nc int) {
	st := colStride(n)
	c := at
	for ; c+4 <= nc; c += 4 {
		b := s.buf[(c-at)*st:]
		c0, c1, c2, c3 := b[:n], b[st:st+n], b[2*st:2*st+n], b[3*st:3*st+n]
		var s0, s1, s2, s3 float64
		var e0, e1, e2, e3, t0, t1, t2, t3 int64
		x0, x1, x2, x3 := s.x[c], s.x[c+1], s.x[c+2], s.x[c+3]
		y0, y1, y2, y3 := s.y[c], s.y[c+1], s.y[c+2], s.y[c+3]
		for i := range c0 {
			v0, v1, v2, v3 := c0[i], c1[i], c2[i], c3[i]
			s0 += math.Float64frombits(math.Float64bits(v0) & -(b2u(x0 < v0) & b2u(v0 < y0)))
			s1 += math.Float64frombits(math.Float64bits(v1) & -(b2u(x1 < v1) & b2u(v1 < y1)))
			s2 += math.Float64frombits(math.Float64bits(v2) & -(b2u(x2 < v2) & b2u(v2 < y2)))
			s3 += math.Float64frombits(math.Float64bits(v3) & -(b2u(x3 < v3) & b2u(v3 < y3)))
			e0 += int64(b2u(v0 <= x0))
			e1 += int64(b2u(v1 <= x1))
			e2 += int64(b2u(v2 <= x2))
			e3 += int64(b2u(v3 <= x3))
			t0 += int64(b2u(v0 < y0))
			t1 += int64(b2u(v1 < y1))
			t2 += int64(b2u(v2 < y2))
			t3 += int64(b2u(v3 < y3))
		}
		s.sum[c], s.sum[c+1], s.sum[c+2], s.sum[c+3] = s0, s1, s2, s3
		s.le[c], s.le[c+1], s.le[c+2], s.le[c+3] = e0, e1, e2, e3
		s.lt[c], s.lt[c+1], s.lt[c+2], s.lt[c+3] = t0, t1, t2, t3
	}
	for ; c < nc; c++ {
		col := s.buf[(c-at)*st : (c-at)*st+n]
		var sum float64
		var le, lt int64
		x, y := s.x[c], s.y[c]
		for _, v := range col {
			sum += math.Float64frombits(math.Float64bits(v) & -(b2u(x < v) & b2u(v < y)))
			le += int64(b2u(v <= x))
			lt += int64(b2u(v < y))
		}
		s.sum[c], s.le[c], s.lt[c] = sum, le, lt
	}
}

// sums sets s.sum, s.le and s.lt of columns lo, …, lo+nc−1 from s.x and
// s.y, over the rows in row order, and reports whether the values were
// finite.
func (s *Scratch) sums(rows [][]float64, lo, nc int) bool {
	clear(s.sum[:nc])
	clear(s.le[:nc])
	clear(s.lt[:nc])
	done := 0
	if !s.portable && hasAVX2 {
		done = nc &^ 3
	}
	ok := true
	i := 0
	if done > 0 { // four rows at a time through the vector kernel, in order
		var four [4][]float64
		for ; i+4 <= len(rows); i += 4 {
			for k := range four {
				four[k] = rows[i+k][lo : lo+done]
			}
			ok = maskedSum4SIMD(&four, s.x[:done], s.y[:done], s.sum[:done], s.le[:done], s.lt[:done]) && ok
		}
	}
	for ; i < len(rows); i++ {
		r := rows[i][lo : lo+done]
		if done > 0 && !maskedSumSIMD(r, s.x[:done], s.y[:done], s.sum[:done], s.le[:done], s.lt[:done]) {
			ok = false
		}
	}
	if done < nc {
		for _, r := range rows {
			ok = maskedSumGo(r[lo+done:lo+nc], s.x[done:nc], s.y[done:nc], s.sum[done:nc], s.le[done:nc], s.lt[done:nc]) && ok
		}
	}
	return ok
}

// keptSums is sums for the first nc columns of a trimmed mean with f > 0
// whose values the networks have read (so they are finite) and whose ranks
// f and n−f−1 hold the only copies of x and y beyond them: then f + 1
// values are ≤ x and n − f − 1 are < y, and only the sums need the rows.
func (s *Scratch) keptSums(rows [][]float64, lo, nc, f int) {
	if nc == 0 {
		return
	}
	n := len(rows)
	for c := range nc {
		s.le[c], s.lt[c] = int64(f+1), int64(n-f-1)
	}
	keptSums(rows, lo, s.x[:nc], s.y[:nc], s.sum[:nc])
}

// maskedSumGo is the portable maskedSumAVX2: for every c,
// sum[c] += row[c] if x[c] < row[c] < y[c] (else += +0), le[c] counts
// row[c] ≤ x[c] and lt[c] counts row[c] < y[c]. It reports whether every
// row[c] is finite.
func maskedSumGo(row, x, y, sum []float64, le, lt []int64) bool {
	var acc float64 // stays 0 unless some v − v is NaN: v is NaN or ±Inf
	x, y, sum, le, lt = x[:len(row)], y[:len(row)], sum[:len(row)], le[:len(row)], lt[:len(row)]
	for c, v := range row {
		acc += v - v
		// Without branches (they mispredict on data): keep is all ones
		// when x < v < y, and v & keep is v or +0.
		keep := -(b2u(x[c] < v) & b2u(v < y[c]))
		sum[c] += math.Float64frombits(math.Float64bits(v) & keep)
		le[c] += int64(b2u(v <= x[c]))
		lt[c] += int64(b2u(v < y[c]))
	}
	return acc == 0
}

// b2u is 1 for true and 0 for false, compiled to a flag set, not a branch.
func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// gather sets buf[k*st+i] = rows[i][b+k] for b ≤ b+k < e and every row i,
// and reports whether all those values are finite. It reads eight rows at a
// time, so that each pass over the block writes eight consecutive values of
// every column: whole cache lines, since st is a multiple of 8.
func gather(buf []float64, st int, rows [][]float64, b, e int) bool {
	m := len(rows)
	var acc float64 // stays 0 unless some v − v is NaN: v is NaN or ±Inf
	i := 0
	for ; i+8 <= m; i += 8 {
		r0, r1, r2, r3 := rows[i][b:e], rows[i+1][b:e], rows[i+2][b:e], rows[i+3][b:e]
		r4, r5, r6, r7 := rows[i+4][b:e], rows[i+5][b:e], rows[i+6][b:e], rows[i+7][b:e]
		n := len(r0)
		r1, r2, r3, r4, r5, r6, r7 = r1[:n], r2[:n], r3[:n], r4[:n], r5[:n], r6[:n], r7[:n]
		for k := range n {
			o := buf[k*st+i : k*st+i+8]
			v0, v1, v2, v3, v4, v5, v6, v7 := r0[k], r1[k], r2[k], r3[k], r4[k], r5[k], r6[k], r7[k]
			o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7] = v0, v1, v2, v3, v4, v5, v6, v7
			acc += ((v0 - v0) + (v1 - v1)) + ((v2 - v2) + (v3 - v3)) + ((v4 - v4) + (v5 - v5)) + ((v6 - v6) + (v7 - v7))
		}
	}
	for ; i < m; i++ {
		for k, v := range rows[i][b:e] {
			buf[k*st+i] = v
			acc += v - v
		}
	}
	return acc == 0
}

// MedianInPlace returns the median of v (the mean of the two middle values
// for even len(v), as x/2 + y/2), reordering v.
func MedianInPlace(v []float64) float64 {
	n := len(v)
	h := n / 2
	if n%2 == 1 {
		SelectK(v, h)
		return v[h]
	}
	Select2(v, h-1, h)
	return v[h-1]/2 + v[h]/2
}

// grow returns s resized to n, reallocating only when its capacity is short.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// MeanAroundMedian writes to dst[c] the mean of the beta values of column
// lo+c closest to the column's median (as [Scratch.Median] defines it),
// ties broken by the lower row, summed in row order: the coordinate-wise
// step of Bulyan (El Mhamdi et al. 2018) and, with beta = n − f, Meamed
// (Xie et al. 2018). It reports whether every value it read was finite
// and panics unless 1 ≤ beta ≤ n. The networks take it where they take
// the median (netScratch.aroundMedian, the same bits).
func (s *Scratch) MeanAroundMedian(dst []float64, rows [][]float64, lo, beta int) bool {
	nc := len(dst)
	check(rows, lo, nc)
	n := len(rows)
	if beta < 1 || beta > n {
		panic("orderstat: MeanAroundMedian needs 1 ≤ beta ≤ n")
	}
	if !s.portable && useNet(n) {
		if s.net == nil {
			s.net = new(netScratch)
		}
		if s.around == nil {
			s.around = new(aroundScratch)
		}
		done, ok := s.net.aroundMedian(s.around, dst, rows, lo, beta)
		if !ok {
			return false
		}
		dst, lo, nc = dst[done:], lo+done, nc-done
		if nc == 0 {
			return true
		}
	}
	st := colStride(n)
	s.buf = grow(s.buf, MaxBlock*st)
	s.tmp = grow(s.tmp, n)
	s.key = grow(s.key, n)
	s.idx = grow(s.idx, n)
	if !gather(s.buf, st, rows, lo, lo+nc) {
		return false
	}
	for c := range dst {
		v := s.buf[c*st : c*st+n]
		copy(s.tmp, v)
		med := MedianInPlace(s.tmp)
		for i, x := range v {
			s.key[i] = math.Abs(x - med)
			s.idx[i] = int32(i)
		}
		SelectIdx(s.idx, s.key, beta)
		sel := s.idx[:beta]
		slices.Sort(sel) // sum in row order
		var sum float64
		for _, i := range sel {
			sum += v[i]
		}
		dst[c] = sum / float64(beta)
	}
	return true
}
