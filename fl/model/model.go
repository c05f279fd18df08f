package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/internal/detmath"
	"gonum.org/v1/gonum/floats"
)

// Sentinel errors. Errors returned by this package wrap one of them (test
// with [errors.Is]) and add the detail.
var (
	// ErrInvalidModel reports a Model whose shape is not usable (a
	// non-positive dimension, fewer than two classes).
	ErrInvalidModel = errors.New("model: invalid model")
	// ErrInvalidData reports a data set that does not fit the model: empty,
	// wrong feature length, a label out of range, a NaN or Inf feature.
	ErrInvalidData = errors.New("model: invalid data set")
	// ErrParamsLength reports a parameter vector whose length is not the
	// model's NumParams.
	ErrParamsLength = errors.New("model: parameter vector has the wrong length")
	// ErrNotFinite reports a NaN or Inf in a parameter vector.
	ErrNotFinite = errors.New("model: parameter is NaN or Inf")
	// ErrInvalidConfig reports a TrainerConfig or a per-round fl.Config
	// value that is out of range.
	ErrInvalidConfig = errors.New("model: invalid configuration")
	// ErrDiverged reports local training whose loss or parameters became
	// NaN or Inf (usually a learning rate that is too large).
	ErrDiverged = errors.New("model: training diverged")
)

// Model is an architecture for classification: it knows its parameter count
// and how to compute the cross-entropy loss and its gradient. Parameters are
// always one flat []float64 of length NumParams, laid out as the
// implementation documents.
//
// Softmax and MLP are the implementations in this package; a host may write
// its own.
type Model interface {
	// NumParams returns the length of the parameter vector.
	NumParams() int
	// Shape returns the number of input features and of classes.
	Shape() (dim, classes int)
	// Validate reports whether the architecture is usable.
	Validate() error
	// Init writes initial parameters to params, drawing any randomness from
	// rng. It panics if len(params) != NumParams().
	Init(rng *rand.Rand, params []float64)
	// NewWorkspace returns scratch space for minibatches of up to maxBatch
	// examples. It panics if maxBatch < 1.
	NewWorkspace(maxBatch int) Workspace
}

// Workspace computes losses and gradients of one Model on minibatches,
// reusing its buffers: once allocated it does not allocate. A Workspace is
// not safe for concurrent use.
//
// A minibatch is b examples: x holds b rows of dim features (row-major,
// len(x) == b*dim) and y their labels. The methods panic if b is 0 or larger
// than the workspace's maxBatch, if len(x) != b*dim, if len(params) or
// len(grad) is not NumParams, or if a label is out of range: these are
// programmer errors, as the callers in this package check the data first.
type Workspace interface {
	// LossGrad overwrites grad with the gradient, with respect to params,
	// of the mean cross-entropy over the minibatch, and returns that mean.
	LossGrad(grad, params, x []float64, y []int) (loss float64)
	// Eval returns the mean cross-entropy over the minibatch and the
	// number of examples whose highest-scoring class (the lowest index
	// among ties) is the label.
	Eval(params, x []float64, y []int) (loss float64, correct int)
}

// evalChunk is the number of examples Evaluate scores at a time.
const evalChunk = 128

// Evaluate returns the mean cross-entropy and the accuracy of the model m
// with parameters params on the data set d. The predicted class is the one
// with the highest score, the lowest index among ties.
//
// It returns an error wrapping [ErrInvalidModel], [ErrParamsLength],
// [ErrNotFinite] or [ErrInvalidData] when the inputs do not fit together.
// It allocates one Workspace per call; [Trainer.Evaluate] reuses its own.
func Evaluate(m Model, params []float64, d *dataset.Dataset) (loss, accuracy float64, err error) {
	if m == nil {
		return 0, 0, fmt.Errorf("%w: nil", ErrInvalidModel)
	}
	if err := m.Validate(); err != nil {
		return 0, 0, err
	}
	if err := checkParams(m, params); err != nil {
		return 0, 0, err
	}
	if err := checkData(m, d, "data"); err != nil {
		return 0, 0, err
	}
	ws := m.NewWorkspace(min(evalChunk, d.Len()))
	loss, accuracy = evalAll(ws, params, d, func() error { return nil })
	return loss, accuracy, nil
}

// evalAll scores d in chunks of at most evalChunk examples, calling stop
// between chunks; it returns early (with zero results) if stop returns an
// error, which the caller then reports.
func evalAll(ws Workspace, params []float64, d *dataset.Dataset, stop func() error) (loss, accuracy float64) {
	n := d.Len()
	var correct int
	for lo := 0; lo < n; lo += evalChunk {
		if stop() != nil {
			return 0, 0
		}
		hi := min(lo+evalChunk, n)
		l, c := ws.Eval(params, d.X[lo*d.Dim:hi*d.Dim], d.Y[lo:hi])
		loss = runningMean(loss, l, hi-lo, hi)
		correct += c
	}
	return loss, float64(correct) / float64(n)
}

// runningMean returns the mean of seen values, given the mean of the first
// seen−b of them and the mean of the last b. Unlike a sum divided by a
// count, it returns x exactly when all the values are x (the mean loss of
// a zero softmax is exactly ln C).
func runningMean(mean, batchMean float64, b, seen int) float64 {
	if b == seen {
		return batchMean
	}
	// The conversion rounds the product before the add: no fused
	// multiply-add, so every GOARCH gives the same bits.
	return mean + float64((batchMean-mean)*(float64(b)/float64(seen)))
}

// checkParams reports whether params has m's length and only finite values.
func checkParams(m Model, params []float64) error {
	if len(params) != m.NumParams() {
		return fmt.Errorf("%w: got %d, want %d", ErrParamsLength, len(params), m.NumParams())
	}
	for i, v := range params {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: params[%d] = %v", ErrNotFinite, i, v)
		}
	}
	return nil
}

// checkData reports whether d is a non-empty data set that m can score:
// matching feature dimension, labels in range, finite features. name
// identifies d in the error.
func checkData(m Model, d *dataset.Dataset, name string) error {
	dim, classes := m.Shape()
	switch {
	case d == nil:
		return fmt.Errorf("%w: %s is nil", ErrInvalidData, name)
	case d.Len() == 0:
		return fmt.Errorf("%w: %s is empty", ErrInvalidData, name)
	case d.Dim != dim:
		return fmt.Errorf("%w: %s has Dim %d, model wants %d", ErrInvalidData, name, d.Dim, dim)
	case d.Classes > classes:
		return fmt.Errorf("%w: %s has %d classes, model has %d", ErrInvalidData, name, d.Classes, classes)
	case len(d.X) != d.Len()*d.Dim:
		return fmt.Errorf("%w: %s has %d features for %d examples of Dim %d", ErrInvalidData, name, len(d.X), d.Len(), d.Dim)
	}
	for i, y := range d.Y {
		if y < 0 || y >= classes {
			return fmt.Errorf("%w: %s label %d is %d, outside [0, %d)", ErrInvalidData, name, i, y, classes)
		}
	}
	// A NaN or Inf anywhere makes the sum NaN or Inf, so a finite sum
	// (gonum's assembly, the fast path) clears every feature; a sum that
	// overflowed sends us to the exact loop.
	if s := floats.Sum(d.X); !math.IsNaN(s) && !math.IsInf(s, 0) {
		return nil
	}
	for i, v := range d.X {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: %s example %d feature %d is %v", ErrInvalidData, name, i/dim, i%dim, v)
		}
	}
	return nil
}

// softmaxInPlace turns the scores z into their softmax probabilities in place
// and returns the log-sum-exp of the original scores. It subtracts the
// maximum first, so that no exp overflows.
func softmaxInPlace(z []float64) (lse float64) {
	mx := z[0]
	for _, v := range z[1:] {
		if v > mx {
			mx = v
		}
	}
	var s float64
	for j, v := range z {
		e := detmath.Exp(v - mx)
		z[j] = e
		s += e
	}
	inv := 1 / s
	for j := range z {
		z[j] *= inv
	}
	return mx + detmath.Log(s)
}

// logSumExp returns log Σ exp(z[j]) without overflow, and the index of the
// largest z[j] (the lowest among ties).
func logSumExp(z []float64) (lse float64, argmax int) {
	mx := z[0]
	for j, v := range z[1:] {
		if v > mx {
			mx, argmax = v, j+1
		}
	}
	var s float64
	for _, v := range z {
		s += detmath.Exp(v - mx)
	}
	return mx + detmath.Log(s), argmax
}
