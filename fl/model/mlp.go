package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fedgo/fedgo/internal/detmath"
)

// MLP is a multilayer perceptron: fully connected layers of the sizes
// Dim → Hidden[0] → … → Hidden[len(Hidden)-1] → Classes, with ReLU after
// every hidden layer and the softmax cross-entropy on the output scores.
//
// The parameter vector holds the layers in order, each as its weights W
// (out×in, row-major: the weights into unit j are W[j*in:(j+1)*in])
// followed by its bias b (out). Layer l maps in = sizes[l] to out =
// sizes[l+1], where sizes = [Dim, Hidden..., Classes]; NumParams is
// Σ_l out·(in+1). An MLP without hidden layers is the same model, with the
// same layout, as [Softmax].
type MLP struct {
	Dim     int   // features per example, ≥ 1
	Hidden  []int // hidden layer widths, each ≥ 1; may be empty
	Classes int   // ≥ 2
}

var _ Model = MLP{}

// sizes returns [Dim, Hidden..., Classes].
func (m MLP) sizes() []int {
	s := make([]int, 0, len(m.Hidden)+2)
	s = append(s, m.Dim)
	s = append(s, m.Hidden...)
	return append(s, m.Classes)
}

// NumParams returns Σ_l out·(in+1) over the layers.
func (m MLP) NumParams() int {
	n := 0
	in := m.Dim
	for _, out := range m.Hidden {
		n += out * (in + 1)
		in = out
	}
	return n + m.Classes*(in+1)
}

// Shape returns Dim and Classes.
func (m MLP) Shape() (dim, classes int) { return m.Dim, m.Classes }

// Validate reports an error wrapping [ErrInvalidModel] if Dim < 1, a hidden
// width < 1, Classes < 2, or the model is too large to index.
func (m MLP) Validate() error {
	switch {
	case m.Dim < 1:
		return fmt.Errorf("%w: MLP Dim %d < 1", ErrInvalidModel, m.Dim)
	case m.Classes < 2:
		return fmt.Errorf("%w: MLP Classes %d < 2", ErrInvalidModel, m.Classes)
	}
	total := 0.0
	s := m.sizes()
	for l := range len(s) - 1 {
		if s[l+1] < 1 {
			return fmt.Errorf("%w: MLP Hidden[%d] = %d < 1", ErrInvalidModel, l, s[l+1])
		}
		total += float64(float64(s[l+1]) * float64(s[l]+1))
	}
	if total > maxParams {
		return fmt.Errorf("%w: MLP has too many parameters (%g)", ErrInvalidModel, total)
	}
	return nil
}

// Init draws the weights of the hidden layers from He et al.'s (2015)
// normal distribution, N(0, 2/in), and those of the output layer from
// Glorot and Bengio's (2010) uniform distribution on ±√(6/(in+out)); biases
// are zero. It panics if len(params) != NumParams().
func (m MLP) Init(rng *rand.Rand, params []float64) {
	if len(params) != m.NumParams() {
		panic("model: MLP.Init: wrong params length")
	}
	s := m.sizes()
	off := 0
	for l := range len(s) - 1 {
		in, out := s[l], s[l+1]
		w := params[off : off+out*in]
		if l < len(s)-2 {
			std := math.Sqrt(2 / float64(in))
			for i := range w {
				w[i] = std * detmath.Normal(rng)
			}
		} else {
			lim := math.Sqrt(6 / float64(in+out))
			for i := range w {
				w[i] = lim * (float64(2*rng.Float64()) - 1) // float64(·): never fused (FMA)
			}
		}
		off += out * in
		clear(params[off : off+out])
		off += out
	}
}

// NewWorkspace returns a Workspace for minibatches of up to maxBatch
// examples. It copies the shape, so later changes to m.Hidden do not affect
// it. It panics if maxBatch < 1.
func (m MLP) NewWorkspace(maxBatch int) Workspace {
	if maxBatch < 1 {
		panic("model: MLP.NewWorkspace: maxBatch < 1")
	}
	s := m.sizes()
	nl := len(s) - 1
	w := &mlpWorkspace{
		sizes:    s,
		offW:     make([]int, nl),
		offB:     make([]int, nl),
		acts:     make([][]float64, nl+1),
		maxBatch: maxBatch,
		nparams:  m.NumParams(),
	}
	off, widest := 0, 0
	for l := range nl {
		w.offW[l] = off
		off += s[l+1] * s[l]
		w.offB[l] = off
		off += s[l+1]
		w.acts[l+1] = make([]float64, maxBatch*s[l+1])
		if l+1 < nl {
			widest = max(widest, s[l+1])
		}
	}
	if widest > 0 {
		w.delta[0] = make([]float64, maxBatch*widest)
		w.delta[1] = make([]float64, maxBatch*widest)
	}
	return w
}

type mlpWorkspace struct {
	sizes      []int       // [Dim, Hidden..., Classes]
	offW, offB []int       // offsets of each layer's W and b in params
	acts       [][]float64 // acts[l] is the b×sizes[l] output of layer l-1 (acts[0] unused: the input)
	delta      [2][]float64
	maxBatch   int
	nparams    int
}

// batch checks the shapes of a minibatch and returns its size.
func (w *mlpWorkspace) batch(params, x []float64, y []int) int {
	b := len(y)
	if b == 0 || b > w.maxBatch || len(x) != b*w.sizes[0] || len(params) != w.nparams {
		panic("model: MLP workspace: minibatch or params of the wrong shape")
	}
	return b
}

// forward computes the layers' outputs for b examples and returns the
// b×Classes output scores (aliasing the workspace).
func (w *mlpWorkspace) forward(params, x []float64, b int) []float64 {
	nl := len(w.sizes) - 1
	in := x
	for l := range nl {
		k, n := w.sizes[l], w.sizes[l+1]
		out := w.acts[l+1][:b*n]
		mulABtBias(out, in, params[w.offW[l]:w.offW[l]+n*k], params[w.offB[l]:w.offB[l]+n], b, n, k)
		if l < nl-1 {
			for i, v := range out {
				if v < 0 {
					out[i] = 0
				}
			}
		}
		in = out
	}
	return in
}

// LossGrad implements [Workspace] by backpropagation.
func (w *mlpWorkspace) LossGrad(grad, params, x []float64, y []int) float64 {
	b := w.batch(params, x, y)
	if len(grad) != len(params) {
		panic("model: MLP workspace: grad of the wrong length")
	}
	classes := w.sizes[len(w.sizes)-1]
	scores := w.forward(params, x, b)
	inv := 1 / float64(b)
	var loss float64
	for r := range b {
		z := scores[r*classes : (r+1)*classes]
		zy := z[y[r]]
		loss = runningMean(loss, softmaxInPlace(z)-zy, 1, r+1)
		// The scores become ∂L/∂z = (p − onehot(y))/b for the batch mean L.
		z[y[r]]--
		for j := range z {
			z[j] *= inv
		}
	}
	dz := scores
	nl := len(w.sizes) - 1
	for l := nl - 1; l >= 0; l-- {
		k, n := w.sizes[l], w.sizes[l+1]
		in := x
		if l > 0 {
			in = w.acts[l][:b*k]
		}
		gw := grad[w.offW[l] : w.offW[l]+n*k]
		gb := grad[w.offB[l] : w.offB[l]+n]
		clear(gw)
		clear(gb)
		addAtB(gw, gb, dz, in, b, n, k)
		if l == 0 {
			break
		}
		// Back through W and the ReLU of layer l-1: its output in is
		// positive exactly where the unit was on.
		da := w.delta[l%2][:b*k]
		mulAB(da, dz, params[w.offW[l]:w.offW[l]+n*k], b, n, k)
		for i, a := range in {
			if a <= 0 {
				da[i] = 0
			}
		}
		dz = da
	}
	return loss
}

// Eval implements [Workspace].
func (w *mlpWorkspace) Eval(params, x []float64, y []int) (loss float64, correct int) {
	b := w.batch(params, x, y)
	classes := w.sizes[len(w.sizes)-1]
	scores := w.forward(params, x, b)
	for r := range b {
		z := scores[r*classes : (r+1)*classes]
		lse, arg := logSumExp(z)
		loss = runningMean(loss, lse-z[y[r]], 1, r+1)
		if arg == y[r] {
			correct++
		}
	}
	return loss, correct
}
