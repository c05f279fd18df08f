package robust

import (
	"github.com/fedgo/fedgo/fl"
)

// meanBlock is the number of coordinates summed over all rows before moving
// on, so that the block of dst stays in L1 cache.
const meanBlock = 1024

// Mean is the unweighted mean of the updates, dst = (1/n) Σ Δᵢ, the
// non-robust baseline (for the example-weighted mean use fl.FedAvg). It
// ignores Update.Weight.
//
// Each coordinate is summed over the updates in their given order and then
// divided by n, so the result does not depend on how the work is split. A
// Mean holds no state and is safe for concurrent use.
type Mean struct{}

var _ fl.Aggregator = (*Mean)(nil)

// Validate reports an error if n < 1.
func (*Mean) Validate(n int) error {
	if n < 1 {
		return tooFew("Mean", n, "n ≥ 1", 1)
	}
	return nil
}

// Aggregate writes the mean of the updates to dst. It returns an error,
// leaving dst unspecified, if there are no updates, a length differs from
// len(dst), or a value is NaN or Inf.
func (*Mean) Aggregate(dst []float64, updates []fl.Update) error {
	if err := checkShape(dst, updates); err != nil {
		return err
	}
	meanRows(dst, updates, nil)
	if checkResult(dst) != nil {
		// A NaN or Inf input propagates to the sum; name it.
		if err := checkFinite(updates); err != nil {
			return err
		}
		return checkResult(dst)
	}
	return nil
}

// meanRows sets dst to the mean of the deltas of updates, or of the updates
// listed in sel when sel is not nil, summing each coordinate in the listed
// order and dividing by the count. It allocates its job; rules that must
// not allocate keep a rowsJob in their scratch and call its mean method.
func meanRows(dst []float64, updates []fl.Update, sel []int) {
	var j rowsJob
	j.mean(dst, updates, sel)
}

// weightedRows sets dst = Σ coef[k]·vecs[k], each coordinate summed in the
// order of vecs, in parallel over coordinates. It allocates its job, as
// meanRows does.
func weightedRows(dst []float64, vecs [][]float64, coef []float64) {
	var j rowsJob
	j.weighted(dst, vecs, coef)
}

// A rowsJob is the state of a parallel sum over rows, kept by a rule so
// that starting its workers allocates nothing.
type rowsJob struct {
	dst     []float64
	updates []fl.Update // mean: the rows, or those listed in sel
	sel     []int
	vecs    [][]float64 // weighted: the rows and their coefficients
	coef    []float64
}

// mean is meanRows.
func (j *rowsJob) mean(dst []float64, updates []fl.Update, sel []int) {
	m := len(updates)
	if sel != nil {
		m = len(sel)
	}
	j.dst, j.updates, j.sel = dst, updates, sel
	j.run(len(dst) * m)
}

// weighted is weightedRows.
func (j *rowsJob) weighted(dst []float64, vecs [][]float64, coef []float64) {
	j.dst, j.vecs, j.coef = dst, vecs, coef
	j.run(len(dst) * len(vecs))
}

func (j *rowsJob) run(work int) {
	blocks := (len(j.dst) + meanBlock - 1) / meanBlock
	workers := min(workersFor(work, 1<<17), blocks)
	parallel(blocks, workers, j)
	*j = rowsJob{}
}

func (j *rowsJob) do(_, lo, hi int) {
	d := len(j.dst)
	for b := lo * meanBlock; b < min(hi*meanBlock, d); b += meanBlock {
		e := min(b+meanBlock, d)
		out := j.dst[b:e]
		if j.vecs != nil {
			clear(out)
			for k, v := range j.vecs {
				axpy(out, j.coef[k], v[b:e])
			}
			continue
		}
		m := len(j.updates)
		if j.sel != nil {
			m = len(j.sel)
		}
		row := func(k int) []float64 {
			if j.sel != nil {
				return j.updates[j.sel[k]].Delta[b:e]
			}
			return j.updates[k].Delta[b:e]
		}
		copy(out, row(0))
		for k := 1; k < m; k++ {
			add(out, row(k))
		}
		inv := float64(m)
		for i := range out {
			out[i] /= inv
		}
	}
}

// add sets dst += x.
func add(dst, x []float64) {
	x = x[:len(dst)]
	i := 0
	for ; i+4 <= len(dst); i += 4 {
		dst[i] += x[i]
		dst[i+1] += x[i+1]
		dst[i+2] += x[i+2]
		dst[i+3] += x[i+3]
	}
	for ; i < len(dst); i++ {
		dst[i] += x[i]
	}
}

// axpy sets dst += a·x, each product rounded before the addition (see dot).
func axpy(dst []float64, a float64, x []float64) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += float64(a * x[i])
	}
}

// dot returns Σ a[i]·b[i] in four interleaved partial sums. Here and in
// every kernel of the package a product added to a sum is converted with
// float64(…), which rounds it: without that the Go spec lets a compiler
// fuse the two into one FMA (arm64 does), and the bits would differ from
// amd64's.
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += float64(a[i] * b[i])
		s1 += float64(a[i+1] * b[i+1])
		s2 += float64(a[i+2] * b[i+2])
		s3 += float64(a[i+3] * b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += float64(a[i] * b[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// sqDist returns ‖a − b‖².
func sqDist(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		d0, d1, d2, d3 := a[i]-b[i], a[i+1]-b[i+1], a[i+2]-b[i+2], a[i+3]-b[i+3]
		s0 += float64(d0 * d0)
		s1 += float64(d1 * d1)
		s2 += float64(d2 * d2)
		s3 += float64(d3 * d3)
	}
	for ; i < len(a); i++ {
		d0 := a[i] - b[i]
		s0 += float64(d0 * d0)
	}
	return (s0 + s1) + (s2 + s3)
}

// perRow runs fn(i) for i in [0, n) in parallel, each call on one goroutine;
// cost is the work of one call in coordinates.
func perRow(n, cost int, fn func(i int)) {
	workers := min(workersFor(n*cost, 1<<16), n)
	parallel(n, workers, rangeFunc(func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			fn(i)
		}
	}))
}
