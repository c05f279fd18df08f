package robust

import (
	"slices"

	"github.com/fedgo/fedgo/fl"
)

// coordBlock is the number of coordinates gathered from every row into a
// worker's transposed buffer before the per-coordinate statistic runs.
const coordBlock = 128

// coordGrain is the least number of coordinates worth a goroutine.
const coordGrain = 4 * coordBlock

// Kinds of coordinate-wise statistics.
const (
	opMedian = iota
	opTrimmed
	opBulyan
)

// coordScratch holds a worker's buffers for coordinate-wise rules.
type coordScratch struct {
	rows [][]float64 // the vectors being aggregated
	buf  [][]float64 // per worker: coordBlock×len(rows), transposed
	tmp  [][]float64 // per worker: len(rows), for Bulyan
	key  [][]float64 // per worker: len(rows), for Bulyan
	idx  [][]int32   // per worker: len(rows), for Bulyan
	bad  []bool      // per worker: saw a NaN or Inf

	// The arguments of the running call.
	dst   []float64
	op, p int
}

// setRows points s.rows at the updates' deltas.
func (s *coordScratch) setRows(updates []fl.Update) {
	s.rows = grow(s.rows, len(updates))
	for i := range updates {
		s.rows[i] = updates[i].Delta
	}
}

// run writes the statistic op (with parameter p) of every coordinate of
// s.rows to dst. It reports false if it met a NaN or Inf, leaving dst
// unspecified.
func (s *coordScratch) run(dst []float64, op, p int) bool {
	m := len(s.rows)
	d := len(dst)
	blocks := (d + coordBlock - 1) / coordBlock
	workers := workersFor(d, coordGrain)
	s.buf = growRows(s.buf, workers, coordBlock*m)
	if op == opBulyan {
		s.tmp = growRows(s.tmp, workers, m)
		s.key = growRows(s.key, workers, m)
		s.idx = growRows(s.idx, workers, m)
	}
	s.bad = grow(s.bad, workers)
	s.dst, s.op, s.p = dst, op, p
	parallel(blocks, workers, s)
	s.dst = nil
	for _, b := range s.bad {
		if b {
			return false
		}
	}
	return true
}

func (s *coordScratch) do(w, lo, hi int) {
	d := len(s.dst)
	s.bad[w] = !s.runBlocks(w, s.dst, lo*coordBlock, min(hi*coordBlock, d), s.op, s.p)
}

func (s *coordScratch) runBlocks(w int, dst []float64, lo, hi, op, p int) bool {
	m := len(s.rows)
	buf := s.buf[w]
	var acc float64
	for b := lo; b < hi; b += coordBlock {
		e := min(b+coordBlock, hi)
		// Gather the block transposed: buf[k*m+i] = rows[i][b+k].
		for i, r := range s.rows {
			r = r[b:e]
			for k, v := range r {
				buf[k*m+i] = v
				acc += v - v
			}
		}
		if acc != 0 {
			return false
		}
		out := dst[b:e]
		switch op {
		case opMedian:
			for k := range out {
				out[k] = median(buf[k*m : (k+1)*m])
			}
		case opTrimmed:
			for k := range out {
				out[k] = trimmedMean(buf[k*m:(k+1)*m], p)
			}
		case opBulyan:
			for k := range out {
				out[k] = closestToMedian(buf[k*m:(k+1)*m], p, s.tmp[w], s.key[w], s.idx[w])
			}
		}
	}
	return true
}

// median returns the median of v, reordering v: the middle value for odd
// len(v), the mean of the two middle values for even len(v).
func median(v []float64) float64 {
	n := len(v)
	h := n / 2
	if n%2 == 1 {
		selectK(v, h)
		return v[h]
	}
	select2(v, h-1, h)
	return v[h-1]/2 + v[h]/2
}

// trimmedMean returns the mean of v without its f smallest and f largest
// values, reordering v. It needs len(v) > 2f. After the selection the kept
// values are v[f:n-f], in an order fixed by the input order; they are summed
// by sum4.
func trimmedMean(v []float64, f int) float64 {
	n := len(v)
	if f > 0 {
		select2(v, f, n-f-1)
	}
	return sum4(v[f:n-f]) / float64(n-f-f)
}

// sum4 returns the sum of w in four interleaved partial sums, s_r over the
// positions i ≡ r (mod 4) in order, added as (s_0+s_1)+(s_2+s_3). The four
// independent chains hide the latency of floating-point addition; the order
// depends only on w.
func sum4(w []float64) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(w); i += 4 {
		s0 += w[i]
		s1 += w[i+1]
		s2 += w[i+2]
		s3 += w[i+3]
	}
	for ; i < len(w); i++ {
		s0 += w[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// closestToMedian returns the mean of the beta values of v closest to their
// median, ties broken by the lower position in v. tmp, key and idx are
// scratch of len(v).
func closestToMedian(v []float64, beta int, tmp, key []float64, idx []int32) float64 {
	copy(tmp, v)
	med := median(tmp)
	for i, x := range v {
		key[i] = abs(x - med)
		idx[i] = int32(i)
	}
	selectIdx(idx, key, beta)
	sel := idx[:beta]
	slices.Sort(sel) // sum in input order
	var s float64
	for _, i := range sel {
		s += v[i]
	}
	return s / float64(beta)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
