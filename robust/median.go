package robust

import (
	"github.com/fedgo/fedgo/fl"
)

// Median is the coordinate-wise median of Yin et al. (2018), "Byzantine-
// Robust Distributed Learning: Towards Optimal Statistical Rates", ICML,
// Definition 1: coordinate j of the result is the median of the updates'
// j-th coordinates (the mean of the two middle values when n is even).
// It ignores Update.Weight, as the paper does.
//
// The medians come from robust/internal/orderstat: on amd64 with AVX2,
// four coordinates at a time through a sorting network in vector registers
// (9 ≤ n ≤ 128), elsewhere by quickselect; both give the same bits (see
// the package doc). Aggregate splits the coordinates among GOMAXPROCS
// goroutines and waits for them; it does not allocate once its scratch
// buffers are warm. The result does not depend on the order of the updates.
// A Median is not safe for concurrent use.
type Median struct {
	s coordScratch
}

var _ fl.Aggregator = (*Median)(nil)

// Validate reports an error if n < 1.
func (*Median) Validate(n int) error {
	if n < 1 {
		return tooFew("Median", n, "n ≥ 1", 1)
	}
	return nil
}

// Aggregate writes the coordinate-wise median of the updates to dst. It
// returns an error, leaving dst unspecified, if there are no updates, a
// length differs from len(dst), or a value is NaN or Inf.
func (a *Median) Aggregate(dst []float64, updates []fl.Update) error {
	if err := checkShape(dst, updates); err != nil {
		return err
	}
	a.s.setRows(updates)
	ok := a.s.run(dst, opMedian, 0)
	clear(a.s.rows)
	if !ok {
		return checkFinite(updates)
	}
	return nil
}

// TrimmedMean is the coordinate-wise trimmed mean of Yin et al. (2018),
// "Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates",
// ICML, Definition 2 with β = F/n: coordinate j of the result is the mean of
// the updates' j-th coordinates without the F largest and the F smallest.
// It needs n > 2F and ignores Update.Weight; with F = 0 it is the mean.
//
// With x and y the values of ranks F and n−F−1 of a coordinate, the
// result is x if x = y, and otherwise the sum of the values strictly
// between x and y, added in input order, plus the kept copies of x and y
// (x·(#{v ≤ x} − F) + y·(n − F − #{v < y})), divided by n − 2F; with F = 0
// it is the sum in input order divided by n. Every path (the AVX2 sorting
// networks and the portable quickselect of robust/internal/orderstat)
// computes exactly this, so the bits do not depend on the processor or on
// GOMAXPROCS; permuting the updates changes the result only by rounding.
// Aggregate splits the coordinates among GOMAXPROCS goroutines and waits
// for them; it does not allocate once its scratch buffers are warm. A
// TrimmedMean is not safe for concurrent use.
type TrimmedMean struct {
	// F is the number of values dropped at each end of every coordinate.
	F int

	s coordScratch
}

var _ fl.Aggregator = (*TrimmedMean)(nil)

// Validate reports an error unless F ≥ 0 and n > 2F.
func (a *TrimmedMean) Validate(n int) error {
	if err := checkMajority("TrimmedMean", n, a.F); err != nil {
		return err
	}
	return nil
}

// Aggregate writes the coordinate-wise trimmed mean of the updates to dst.
// It returns an error, leaving dst unspecified, if there are no updates,
// Validate fails, a length differs from len(dst), or a value is NaN or Inf.
func (a *TrimmedMean) Aggregate(dst []float64, updates []fl.Update) error {
	if err := checkShape(dst, updates); err != nil {
		return err
	}
	if err := a.Validate(len(updates)); err != nil {
		return err
	}
	a.s.setRows(updates)
	ok := a.s.run(dst, opTrimmed, a.F)
	clear(a.s.rows)
	if !ok {
		return checkFinite(updates)
	}
	return checkResult(dst)
}
