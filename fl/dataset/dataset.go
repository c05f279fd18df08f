package dataset

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Sentinel errors. Errors returned by this package wrap one of them, so
// callers test with [errors.Is].
var (
	// ErrInvalid reports a data set or argument that breaks a documented
	// rule: lengths that disagree, a label out of range, a NaN or Inf
	// feature, a non-positive client count.
	ErrInvalid = errors.New("dataset: invalid")
	// ErrMalformed reports input bytes that do not parse: bad magic number,
	// truncated data, trailing bytes, text that is not a number.
	ErrMalformed = errors.New("dataset: malformed input")
	// ErrTooLarge reports input that exceeds a configured limit
	// ([Limits], [CSVConfig.MaxRows]) or a size this package refuses.
	ErrTooLarge = errors.New("dataset: input exceeds limit")
	// ErrUnsupported reports a valid input this package does not handle,
	// such as an IDX element type other than unsigned byte.
	ErrUnsupported = errors.New("dataset: unsupported")
	// ErrNotFound reports data files that are not on disk.
	ErrNotFound = errors.New("dataset: not found")
)

// Dataset is a labelled classification data set held as one row-major
// matrix: row i is X[i*Dim:(i+1)*Dim] and its label is Y[i].
type Dataset struct {
	X       []float64 // Len()×Dim features, row-major
	Y       []int     // labels in [0, Classes)
	Dim     int       // features per example
	Classes int       // number of classes
}

// Len returns the number of examples.
func (d *Dataset) Len() int { return len(d.Y) }

// Row returns the features of example i, aliasing d.X.
func (d *Dataset) Row(i int) []float64 { return d.X[i*d.Dim : (i+1)*d.Dim] }

// Validate checks the invariants of d: Dim ≥ 1, Classes ≥ 1,
// len(X) = Len()·Dim, every label in [0, Classes) and every feature finite.
// The error wraps [ErrInvalid] and names the first offending example.
func (d *Dataset) Validate() error {
	if d == nil {
		return fmt.Errorf("%w: nil dataset", ErrInvalid)
	}
	if d.Dim < 1 {
		return fmt.Errorf("%w: Dim = %d, want ≥ 1", ErrInvalid, d.Dim)
	}
	if d.Classes < 1 {
		return fmt.Errorf("%w: Classes = %d, want ≥ 1", ErrInvalid, d.Classes)
	}
	if len(d.X) != len(d.Y)*d.Dim {
		return fmt.Errorf("%w: len(X) = %d, want Len()·Dim = %d·%d", ErrInvalid, len(d.X), len(d.Y), d.Dim)
	}
	for i, y := range d.Y {
		if y < 0 || y >= d.Classes {
			return fmt.Errorf("%w: example %d: label %d out of range [0, %d)", ErrInvalid, i, y, d.Classes)
		}
	}
	for j, v := range d.X {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: example %d: feature %d is %v", ErrInvalid, j/d.Dim, j%d.Dim, v)
		}
	}
	return nil
}

// Subset returns a new data set holding copies of the examples idx, in that
// order (an index may repeat). It panics if an index is out of range.
func (d *Dataset) Subset(idx []int) *Dataset {
	out := &Dataset{
		X:       make([]float64, len(idx)*d.Dim),
		Y:       make([]int, len(idx)),
		Dim:     d.Dim,
		Classes: d.Classes,
	}
	for k, i := range idx {
		if i < 0 || i >= len(d.Y) {
			panic(fmt.Sprintf("dataset: Subset index %d out of range [0, %d)", i, len(d.Y)))
		}
		copy(out.X[k*d.Dim:(k+1)*d.Dim], d.Row(i))
		out.Y[k] = d.Y[i]
	}
	return out
}

// Concat returns a new data set holding copies of the examples of ds, in
// order. All inputs must have the same Dim; the result's Classes is the
// largest of theirs. It returns an error wrapping [ErrInvalid] when ds is
// empty, holds nil, or the dimensions disagree.
func Concat(ds ...*Dataset) (*Dataset, error) {
	if len(ds) == 0 {
		return nil, fmt.Errorf("%w: Concat of no data sets", ErrInvalid)
	}
	n := 0
	out := &Dataset{}
	for i, d := range ds {
		if d == nil {
			return nil, fmt.Errorf("%w: Concat: data set %d is nil", ErrInvalid, i)
		}
		if i == 0 {
			out.Dim = d.Dim
		} else if d.Dim != out.Dim {
			return nil, fmt.Errorf("%w: Concat: data set %d has Dim %d, want %d", ErrInvalid, i, d.Dim, out.Dim)
		}
		if len(d.X) != len(d.Y)*d.Dim {
			return nil, fmt.Errorf("%w: Concat: data set %d has len(X) = %d, want %d", ErrInvalid, i, len(d.X), len(d.Y)*d.Dim)
		}
		out.Classes = max(out.Classes, d.Classes)
		n += d.Len()
	}
	out.X = make([]float64, 0, n*out.Dim)
	out.Y = make([]int, 0, n)
	for _, d := range ds {
		out.X = append(out.X, d.X...)
		out.Y = append(out.Y, d.Y...)
	}
	return out, nil
}

// Split returns copies of d split into a training set of
// ⌊(1−testFraction)·Len()⌋ examples and a test set of the rest, the split
// used by the FedProx data scripts. When rng is non-nil the examples are
// shuffled with it first; with a nil rng the first examples go to train.
// It returns an error wrapping [ErrInvalid] when testFraction is not in
// [0, 1].
func (d *Dataset) Split(rng *rand.Rand, testFraction float64) (train, test *Dataset, err error) {
	if !(testFraction >= 0 && testFraction <= 1) {
		return nil, nil, fmt.Errorf("%w: test fraction %v not in [0, 1]", ErrInvalid, testFraction)
	}
	n := d.Len()
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	if rng != nil {
		rng.Shuffle(n, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	}
	k := trainLen(n, testFraction)
	return d.Subset(idx[:k]), d.Subset(idx[k:]), nil
}

// trainLen is ⌊(1−f)·n⌋, with a tolerance for the rounding of 1−f so that
// f = 0.2 and n = 5 give 4.
func trainLen(n int, f float64) int {
	k := int(math.Floor(float64(float64(n)*(1-f)) + 1e-9)) // float64(): no fused multiply-add
	return min(max(k, 0), n)
}
