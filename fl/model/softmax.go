package model

import (
	"fmt"
	"math/rand/v2"
)

// maxParams bounds the parameter count of the models in this package, so
// that a hostile or mistaken shape is an error rather than an overflow or a
// huge allocation.
const maxParams = 1 << 36

// Softmax is multinomial logistic regression: the scores of an example x
// are W·x + b and the loss is the softmax cross-entropy.
//
// The parameter vector is W (Classes×Dim, row-major: the weights of class c
// are params[c*Dim:(c+1)*Dim]) followed by b (Classes), NumParams =
// Classes·(Dim+1). It is the same layout as an [MLP] without hidden layers.
type Softmax struct {
	Dim     int // features per example, ≥ 1
	Classes int // ≥ 2
}

var _ Model = Softmax{}

// NumParams returns Classes·(Dim+1).
func (m Softmax) NumParams() int { return m.Classes * (m.Dim + 1) }

// Shape returns Dim and Classes.
func (m Softmax) Shape() (dim, classes int) { return m.Dim, m.Classes }

// Validate reports an error wrapping [ErrInvalidModel] if Dim < 1,
// Classes < 2 or the model is too large to index.
func (m Softmax) Validate() error {
	switch {
	case m.Dim < 1:
		return fmt.Errorf("%w: softmax Dim %d < 1", ErrInvalidModel, m.Dim)
	case m.Classes < 2:
		return fmt.Errorf("%w: softmax Classes %d < 2", ErrInvalidModel, m.Classes)
	case float64(m.Classes)*float64(m.Dim+1) > maxParams:
		return fmt.Errorf("%w: softmax %d×%d has too many parameters", ErrInvalidModel, m.Classes, m.Dim)
	}
	return nil
}

// Init sets params to zero (every class equally likely, loss ln Classes).
// It draws nothing from rng. It panics if len(params) != NumParams().
func (m Softmax) Init(_ *rand.Rand, params []float64) {
	if len(params) != m.NumParams() {
		panic("model: Softmax.Init: wrong params length")
	}
	clear(params)
}

// NewWorkspace returns a Workspace for minibatches of up to maxBatch
// examples. It panics if maxBatch < 1.
func (m Softmax) NewWorkspace(maxBatch int) Workspace {
	if maxBatch < 1 {
		panic("model: Softmax.NewWorkspace: maxBatch < 1")
	}
	return &softmaxWorkspace{m: m, maxBatch: maxBatch, z: make([]float64, m.Classes)}
}

// softmaxWorkspace computes one example at a time with unit-stride dot
// products and axpys (assembly in gonum's floats); for the small Dim of the
// quickstart workload this beats a general matrix product.
type softmaxWorkspace struct {
	m        Softmax
	maxBatch int
	z        []float64 // scores, then probabilities, of one example
}

// batch checks the shapes of a minibatch and returns its size.
func (w *softmaxWorkspace) batch(params, x []float64, y []int) int {
	b := len(y)
	if b == 0 || b > w.maxBatch || len(x) != b*w.m.Dim || len(params) != w.m.NumParams() {
		panic("model: softmax workspace: minibatch or params of the wrong shape")
	}
	return b
}

// LossGrad implements [Workspace].
func (w *softmaxWorkspace) LossGrad(grad, params, x []float64, y []int) float64 {
	b := w.batch(params, x, y)
	if len(grad) != len(params) {
		panic("model: softmax workspace: grad of the wrong length")
	}
	dim, classes := w.m.Dim, w.m.Classes
	weights, bias := params[:classes*dim], params[classes*dim:]
	gw, gb := grad[:classes*dim], grad[classes*dim:]
	clear(grad)
	inv := 1 / float64(b)
	z := w.z
	var loss float64
	for r := range b {
		xr := x[r*dim : (r+1)*dim]
		for c := range classes {
			z[c] = bias[c] + dot(weights[c*dim:(c+1)*dim], xr)
		}
		label := y[r]
		zy := z[label]
		loss = runningMean(loss, softmaxInPlace(z)-zy, 1, r+1)
		// ∂ℓ/∂z = p − onehot(y); the minibatch mean divides by b.
		z[label]--
		for c := range classes {
			g := float64(z[c] * inv) // rounded: never fused into gb[c] += g
			gb[c] += g
			axpy(g, xr, gw[c*dim:(c+1)*dim])
		}
	}
	return loss
}

// Eval implements [Workspace].
func (w *softmaxWorkspace) Eval(params, x []float64, y []int) (loss float64, correct int) {
	b := w.batch(params, x, y)
	dim, classes := w.m.Dim, w.m.Classes
	weights, bias := params[:classes*dim], params[classes*dim:]
	z := w.z
	for r := range b {
		xr := x[r*dim : (r+1)*dim]
		for c := range classes {
			z[c] = bias[c] + dot(weights[c*dim:(c+1)*dim], xr)
		}
		lse, arg := logSumExp(z)
		loss = runningMean(loss, lse-z[y[r]], 1, r+1)
		if arg == y[r] {
			correct++
		}
	}
	return loss, correct
}
