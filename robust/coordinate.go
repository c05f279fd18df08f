package robust

//go:generate go run ./internal/sortnetgen -out sortnet_amd64.s

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/fedgo/fedgo/fl"
)

// coordBlock is the number of coordinates gathered from every row into a
// worker's transposed buffer before the per-coordinate statistic runs. The
// buffer (coordBlock × 104 values at n = 100, 416 KiB) stays in L2 while
// every row is read in runs of 4 KiB. (Measured at n = 100, d = 10⁶ on a
// 1 MiB-L2 machine, gathering alone: 128 coordinates one row at a time took
// 150 ms, 512 coordinates eight rows at a time 67 ms, against FedAvg's
// 40 ms.)
const coordBlock = 512

// useVector says whether Median and TrimmedMean use the vectorised
// selection of vecselect.go (where the processor has AVX-512) rather than
// the in-place scalar one. Tests turn it off to check the scalar path.
var useVector = hasAVX512

// useNet reports whether the statistic op over m updates runs on the
// sorting networks (AVX-512, netMin ≤ m ≤ netMax), eight coordinates at a
// time, with no transposed block; the columns left over at the end of a
// block take the selection path.
func useNet(op, m int) bool {
	return useVector && (op == opMedian || op == opTrimmed) && m >= netMin && m <= netMax
}

// coordGrain is the least number of coordinates worth a goroutine.
const coordGrain = coordBlock

// Kinds of coordinate-wise statistics.
const (
	opMedian = iota
	opTrimmed
	opBulyan
)

// coordScratch holds a worker's buffers for coordinate-wise rules.
type coordScratch struct {
	rows [][]float64 // the vectors being aggregated
	buf  [][]float64 // per worker: coordBlock×colStride(len(rows)), transposed
	tmp  [][]float64 // per worker: len(rows), for Bulyan
	key  [][]float64 // per worker: len(rows), for Bulyan
	idx  [][]int32   // per worker: len(rows), for Bulyan
	bad  []bool      // per worker: saw a NaN or Inf
	vec  []*vecSel   // per worker, where the vector kernels run
	net  []*netSel   // per worker, for the sorting networks

	// The running call: its arguments, the next block to take, the next
	// worker number, and the helpers to wait for. work is made once, so
	// that starting a helper allocates nothing.
	dst    []float64
	op, p  int
	next   atomic.Int64
	nextW  atomic.Int32
	wg     sync.WaitGroup
	work   func()
	self   *coordScratch // the s that work belongs to
	blocks int
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
//
// The coordinates are cut into blocks of coordBlock, which the workers
// take in turn from a shared counter, so that a worker whose core is busy
// with something else takes fewer blocks instead of delaying the call.
// Every block's results depend only on its coordinates, so they do not
// depend on which worker computes them, or on GOMAXPROCS.
func (s *coordScratch) run(dst []float64, op, p int) bool {
	m := len(s.rows)
	d := len(dst)
	workers := workersFor(d, coordGrain)
	s.buf = growRows(s.buf, workers, coordBlock*colStride(m))
	if op == opBulyan {
		s.tmp = growRows(s.tmp, workers, m)
		s.key = growRows(s.key, workers, m)
		s.idx = growRows(s.idx, workers, m)
	}
	s.bad = grow(s.bad, workers)
	clear(s.bad)
	if useNet(op, m) {
		s.net = grow(s.net, workers)
		for w, v := range s.net {
			if v == nil {
				s.net[w] = new(netSel)
			}
		}
	}
	if useVector && op != opBulyan {
		s.vec = grow(s.vec, workers)
		for w, v := range s.vec {
			if v == nil || len(v.buf[0]) != m+8 {
				s.vec[w] = newVecSel(m, true)
			}
		}
	}
	s.dst, s.op, s.p = dst, op, p
	s.blocks = (d + coordBlock - 1) / coordBlock
	s.next.Store(0)
	s.nextW.Store(0)
	if workers > 1 && s.self != s { // first use, or s was copied
		s.self = s
		s.work = func() {
			defer s.wg.Done()
			s.takeBlocks(int(s.nextW.Add(1)))
		}
	}
	for range workers - 1 {
		s.wg.Add(1)
		go s.work()
	}
	s.takeBlocks(0)
	s.wg.Wait()
	s.dst = nil
	for _, b := range s.bad {
		if b {
			return false
		}
	}
	return true
}

// takeBlocks computes blocks as worker w until none is left.
func (s *coordScratch) takeBlocks(w int) {
	d := len(s.dst)
	for {
		b := int(s.next.Add(1)) - 1
		if b >= s.blocks {
			return
		}
		if !s.runBlocks(w, s.dst, b*coordBlock, min((b+1)*coordBlock, d), s.op, s.p) {
			s.bad[w] = true
			s.next.Store(int64(s.blocks)) // stop the others early
			return
		}
	}
}

// colStride returns the distance between the columns of m values in a
// transposed buffer: m rounded up to a multiple of 8, so that every group
// of 8 rows fills whole cache lines.
func colStride(m int) int { return (m + 7) &^ 7 }

func (s *coordScratch) runBlocks(w int, dst []float64, lo, hi, op, p int) bool {
	m := len(s.rows)
	st := colStride(m)
	buf := s.buf[w]
	net := useNet(op, m)
	for b0 := lo; b0 < hi; b0 += coordBlock {
		b, e := b0, min(b0+coordBlock, hi)
		if net { // whole eights of columns; the rest below
			g, ok := s.net[w].columns(dst[b:e], s.rows, b, e, op, p)
			if !ok {
				return false
			}
			if b = g; b == e {
				continue
			}
		}
		if !gather(buf, st, s.rows, b, e) {
			return false
		}
		out := dst[b:e]
		switch {
		case useVector && op == opMedian:
			v := s.vec[w]
			for k := range out {
				out[k] = v.median(buf[k*st : k*st+m])
			}
		case useVector && op == opTrimmed:
			v := s.vec[w]
			for k := range out {
				out[k] = v.trimmedMean(buf[k*st:k*st+m], p)
			}
		case op == opMedian:
			for k := range out {
				out[k] = median(buf[k*st : k*st+m])
			}
		case op == opTrimmed:
			for k := range out {
				out[k] = trimmedMean(buf[k*st:k*st+m], p)
			}
		case op == opBulyan:
			for k := range out {
				out[k] = closestToMedian(buf[k*st:k*st+m], p, s.tmp[w], s.key[w], s.idx[w])
			}
		}
	}
	return true
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
		k0 := 0
		if useVector {
			var ok bool
			k0, ok = gather8SIMD(buf[i:], st, &[8][]float64{r0, r1, r2, r3, r4, r5, r6, r7}, n)
			if !ok {
				acc = math.NaN()
			}
		}
		for k := k0; k < n; k++ {
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
