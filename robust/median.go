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
// Where the processor has AVX-512 (amd64) and 17 ≤ n ≤ 128, eight
// coordinates at a time go through a bitonic sorting network in vector
// registers that sorts two halves of the (padded) n values, and the middle
// ranks are read off the two sorted runs; otherwise each coordinate is
// found by quickselect on its n values (vectorised with AVX-512, or a
// branch-free scalar one). All give the same result. Aggregate splits the coordinates among GOMAXPROCS goroutines and waits for
// them; it does not allocate once its scratch buffers are warm. The result
// does not depend on the order of the updates. A Median is not safe for
// concurrent use.
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
// The values of ranks F and n−F−1 are found per coordinate (by the
// sorting networks described at [Median] where they apply, else by
// quickselect), and the kept values are summed in an order fixed by the
// input order: the result is deterministic for a given input order and
// independent of GOMAXPROCS, and permuting the updates changes it only by
// rounding. With AVX-512 the sum runs over the values strictly between the
// two ranks plus the copies of the two boundary values that are kept;
// elsewhere the kept values are summed in four partial sums over the order
// a scalar selection leaves them in. The paths can differ in the last
// bits. Aggregate splits
// the coordinates among GOMAXPROCS goroutines and waits for them; it does not
// allocate once its scratch buffers are warm. A TrimmedMean is not safe for
// concurrent use.
type TrimmedMean struct {
	// F is the number of values dropped at each end of every coordinate.
	F int

	s coordScratch
}

var _ fl.Aggregator = (*TrimmedMean)(nil)

// Validate reports an error unless F ≥ 0 and n > 2F.
func (a *TrimmedMean) Validate(n int) error {
	if err := checkF("TrimmedMean", a.F); err != nil {
		return err
	}
	if n <= 2*a.F {
		return tooFew("TrimmedMean", n, "n > 2f", 2*a.F+1)
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
