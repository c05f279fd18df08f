package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fedgo/fedgo/internal/detmath"
)

// maxActivation bounds the number of values in the input or output of one
// layer for one example, so that a mistaken shape is an error rather than
// an overflow.
const maxActivation = 1 << 28

// Shape is the shape of one example's tensor: C channels of H×W values,
// stored channel by channel, row by row (C×H×W, PyTorch's order). A flat
// vector of n features is the Shape {n, 1, 1}.
type Shape struct {
	C, H, W int
}

// Size returns C·H·W.
func (s Shape) Size() int { return s.C * s.H * s.W }

func (s Shape) String() string { return fmt.Sprintf("%d×%d×%d", s.C, s.H, s.W) }

// validate reports whether every dimension is positive and the size
// bounded.
func (s Shape) validate() error {
	if s.C < 1 || s.H < 1 || s.W < 1 {
		return fmt.Errorf("%w: shape %v has a dimension < 1", ErrInvalidModel, s)
	}
	if float64(s.C)*float64(s.H)*float64(s.W) > maxActivation {
		return fmt.Errorf("%w: shape %v is too large", ErrInvalidModel, s)
	}
	return nil
}

// Layer is one stage of a [Sequential] network: [Conv2D], [MaxPool2D],
// [ReLU], [Flatten] or [Dense]. The set is closed (the unexported method):
// each layer's forward and backward pass is written once, in this package,
// and serves both training and evaluation.
type Layer interface {
	// OutShape returns the shape of the layer's output for one example of
	// shape in, or an error wrapping [ErrInvalidModel] if the layer cannot
	// take that input.
	OutShape(in Shape) (Shape, error)
	// NumParams returns the number of parameters of the layer for inputs of
	// shape in (0 for the layers without any).
	NumParams(in Shape) int
	// newKernel returns the layer's forward and backward pass for inputs of
	// shape in and minibatches of up to maxBatch examples, with its own
	// scratch space. in has been validated with OutShape.
	newKernel(in Shape, maxBatch int) kernel
}

// A kernel is a layer's computation on a minibatch of b examples. Inside
// a minibatch a tensor of shape {C, H, W} is stored as C×b×H×W: channel
// by channel, then example by example, so that a convolution over the
// whole minibatch is one matrix product (Chellapilla et al. 2006; the
// layout of Caffe's batched im2col), and a flat vector {n, 1, 1} is n×b,
// feature by feature.
type kernel interface {
	// forward computes out from in with the parameters p.
	forward(p, in, out []float64, b int)
	// backward overwrites g (the layer's slice of the gradient) with the
	// gradient of the loss with respect to p, and din, unless it is nil,
	// with the gradient with respect to in, given in, out (as forward left
	// them) and dout, the gradient with respect to out.
	backward(p, g, in, out, dout, din []float64, b int)
}

// Sequential is a feed-forward network: Layers applied in order to an
// input of shape Input, whose last output must be Classes scores (shape
// {Classes, 1, 1}), followed by the softmax cross-entropy.
//
// An example's features (a dataset.Dataset row of Dim = Input.Size()
// values) are read in C×H×W order: channel by channel, each channel row
// by row. A grayscale image of H×W pixels, as the IDX loaders give, is
// therefore the Input {1, H, W}.
//
// The parameter vector holds the layers' parameters in order, each
// layer's as its type documents; the layouts are PyTorch's (Conv2d's
// weight Cout×Cin×K×K then bias, Linear's weight out×in then bias, and
// Flatten's C×H×W order), so the parameters of the equivalent PyTorch
// module, concatenated in the order of its state_dict, are this model's
// parameters.
type Sequential struct {
	Input   Shape
	Layers  []Layer
	Classes int // ≥ 2
}

var _ Model = Sequential{}

// NIIDBenchCNN returns the convolutional network of Flower's niid_bench
// baseline (after Li, Diao, Chen and He, "Federated Learning on Non-IID
// Data Silos: An Experimental Study", ICDE 2022), for inputs of shape in
// and the given number of classes:
//
//	conv 6@5×5 (valid, stride 1) → ReLU → max-pool 2×2
//	→ conv 16@5×5 (valid, stride 1) → ReLU → max-pool 2×2 → flatten
//	→ dense 120 → ReLU → dense 84 → ReLU → dense classes
//
// The convolutions have no padding, as in niid_bench's CNNMnist and CNN
// (nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)): a 28×28×1 Fashion-MNIST
// image flattens to 16·4·4 = 256 features and the model has 44,426
// parameters; a 32×32×3 CIFAR-10 image flattens to 400.
func NIIDBenchCNN(in Shape, classes int) Sequential {
	return Sequential{
		Input: in,
		Layers: []Layer{
			Conv2D{Filters: 6, Kernel: 5}, ReLU{}, MaxPool2D{Size: 2},
			Conv2D{Filters: 16, Kernel: 5}, ReLU{}, MaxPool2D{Size: 2},
			Flatten{},
			Dense{Units: 120}, ReLU{},
			Dense{Units: 84}, ReLU{},
			Dense{Units: classes},
		},
		Classes: classes,
	}
}

// shapes returns the input shape of every layer and the output shape of
// the last, or the first error.
func (m Sequential) shapes() ([]Shape, error) {
	if err := m.Input.validate(); err != nil {
		return nil, fmt.Errorf("Sequential Input: %w", err)
	}
	s := make([]Shape, 0, len(m.Layers)+1)
	s = append(s, m.Input)
	for i, l := range m.Layers {
		if l == nil {
			return nil, fmt.Errorf("%w: Sequential layer %d is nil", ErrInvalidModel, i)
		}
		out, err := l.OutShape(s[i])
		if err != nil {
			return nil, fmt.Errorf("Sequential layer %d (%T): %w", i, l, err)
		}
		if err := out.validate(); err != nil {
			return nil, fmt.Errorf("Sequential layer %d (%T) output: %w", i, l, err)
		}
		s = append(s, out)
	}
	return s, nil
}

// Validate reports an error wrapping [ErrInvalidModel] if Classes < 2,
// there are no layers, a layer does not fit its input (a kernel larger
// than the padded image, [Dense] on a tensor that was not flattened, …),
// the last output is not {Classes, 1, 1}, or the model is too large.
func (m Sequential) Validate() error {
	if m.Classes < 2 {
		return fmt.Errorf("%w: Sequential Classes %d < 2", ErrInvalidModel, m.Classes)
	}
	if len(m.Layers) == 0 {
		return fmt.Errorf("%w: Sequential has no layers", ErrInvalidModel)
	}
	s, err := m.shapes()
	if err != nil {
		return err
	}
	if out := s[len(s)-1]; out != (Shape{m.Classes, 1, 1}) {
		return fmt.Errorf("%w: Sequential output is %v, want %d scores (end with Dense{Units: %d})", ErrInvalidModel, out, m.Classes, m.Classes)
	}
	total := 0.0
	for i, l := range m.Layers {
		total += float64(l.NumParams(s[i]))
	}
	if total > maxParams {
		return fmt.Errorf("%w: Sequential has too many parameters (%g)", ErrInvalidModel, total)
	}
	return nil
}

// NumParams returns the sum of the layers' parameter counts. It panics if
// the model is not valid.
func (m Sequential) NumParams() int {
	s, err := m.shapes()
	if err != nil {
		panic("model: Sequential.NumParams: " + err.Error())
	}
	n := 0
	for i, l := range m.Layers {
		n += l.NumParams(s[i])
	}
	return n
}

// Shape returns Input.Size() and Classes.
func (m Sequential) Shape() (dim, classes int) { return m.Input.Size(), m.Classes }

// Init draws the parameters as [MLP.Init] does, layer by layer: the
// weights of every convolution and dense layer but the last from He et
// al.'s (2015) normal distribution N(0, 2/fanIn), suited to the ReLUs that
// follow them, and those of the last layer from Glorot and Bengio's (2010)
// uniform distribution on ±√(6/(fanIn+fanOut)); biases are zero. fanIn is
// the number of inputs of one output unit (C·K² for a convolution, n for a
// dense layer) and fanOut the number of units. (PyTorch's default, uniform
// on ±1/√fanIn, has a sixth of He's variance; through five layers the
// signal shrinks so much that SGD idles for the first hundreds of steps.)
// It panics if the model is not valid or len(params) != NumParams().
func (m Sequential) Init(rng *rand.Rand, params []float64) {
	if len(params) != m.NumParams() {
		panic("model: Sequential.Init: wrong params length")
	}
	s, _ := m.shapes()
	last := -1
	for i, l := range m.Layers {
		if l.NumParams(s[i]) > 0 {
			last = i
		}
	}
	off := 0
	for i, l := range m.Layers {
		n := l.NumParams(s[i])
		p := params[off : off+n]
		off += n
		if n == 0 {
			continue
		}
		units := s[i+1].C
		fanIn := n/units - 1
		w, b := p[:units*fanIn], p[units*fanIn:]
		if i == last {
			lim := math.Sqrt(6 / float64(fanIn+units))
			for j := range w {
				w[j] = lim * (float64(2*rng.Float64()) - 1) // float64(·): never fused (FMA)
			}
		} else {
			std := math.Sqrt(2 / float64(fanIn))
			for j := range w {
				w[j] = std * detmath.Normal(rng)
			}
		}
		clear(b)
	}
}

// NewWorkspace returns a Workspace for minibatches of up to maxBatch
// examples. It copies the layers, so later changes to m.Layers do not
// affect it. It panics if maxBatch < 1 or the model is not valid.
func (m Sequential) NewWorkspace(maxBatch int) Workspace {
	if maxBatch < 1 {
		panic("model: Sequential.NewWorkspace: maxBatch < 1")
	}
	if err := m.Validate(); err != nil {
		panic("model: Sequential.NewWorkspace: " + err.Error())
	}
	s, _ := m.shapes()
	nl := len(m.Layers)
	w := &seqWorkspace{
		shapes:   s,
		kernels:  make([]kernel, nl),
		off:      make([]int, nl+1),
		acts:     make([][]float64, nl+1),
		maxBatch: maxBatch,
		z:        make([]float64, m.Classes),
	}
	widest := 0
	for i, l := range m.Layers {
		w.kernels[i] = l.newKernel(s[i], maxBatch)
		w.off[i+1] = w.off[i] + l.NumParams(s[i])
		w.acts[i+1] = make([]float64, maxBatch*s[i+1].Size())
		widest = max(widest, s[i+1].Size())
		if i > 0 {
			widest = max(widest, s[i].Size())
		}
	}
	if s[0].C > 1 {
		w.acts[0] = make([]float64, maxBatch*s[0].Size())
	}
	w.delta[0] = make([]float64, maxBatch*widest)
	w.delta[1] = make([]float64, maxBatch*widest)
	return w
}

type seqWorkspace struct {
	shapes   []Shape     // shapes[i] is the input of layer i, shapes[len] the scores
	kernels  []kernel    // one per layer
	off      []int       // off[i] is the offset of layer i's parameters
	acts     [][]float64 // acts[i] is the input of layer i, in the C×b×H×W layout
	delta    [2][]float64
	z        []float64 // one example's scores
	maxBatch int
}

// batch checks the shapes of a minibatch and returns its size.
func (w *seqWorkspace) batch(params, x []float64, y []int) int {
	b := len(y)
	if b == 0 || b > w.maxBatch || len(x) != b*w.shapes[0].Size() || len(params) != w.off[len(w.off)-1] {
		panic("model: Sequential workspace: minibatch or params of the wrong shape")
	}
	return b
}

// forward runs the layers on the b examples of x and returns the
// Classes×b scores (aliasing the workspace).
func (w *seqWorkspace) forward(params, x []float64, b int) []float64 {
	in := w.shapes[0]
	if in.C == 1 {
		// b×H×W is already 1×b×H×W; the layers never write their input.
		w.acts[0] = x
	} else {
		// Each example is C×H×W; the minibatch wants C×b×H×W.
		hw := in.H * in.W
		a := w.acts[0][:b*in.Size()]
		for r := range b {
			for c := range in.C {
				copy(a[(c*b+r)*hw:(c*b+r+1)*hw], x[r*in.Size()+c*hw:r*in.Size()+(c+1)*hw])
			}
		}
	}
	for i, k := range w.kernels {
		k.forward(params[w.off[i]:w.off[i+1]], w.acts[i][:b*w.shapes[i].Size()], w.acts[i+1][:b*w.shapes[i+1].Size()], b)
	}
	return w.acts[len(w.acts)-1][:b*len(w.z)]
}

// LossGrad implements [Workspace] by backpropagation through the layers.
func (w *seqWorkspace) LossGrad(grad, params, x []float64, y []int) float64 {
	b := w.batch(params, x, y)
	if len(grad) != len(params) {
		panic("model: Sequential workspace: grad of the wrong length")
	}
	scores := w.forward(params, x, b)
	classes := len(w.z)
	nl := len(w.kernels)
	dz := w.delta[nl%2][:classes*b]
	inv := 1 / float64(b)
	var loss float64
	z := w.z
	for r := range b {
		for c := range z {
			z[c] = scores[c*b+r]
		}
		zy := z[y[r]]
		loss = runningMean(loss, softmaxInPlace(z)-zy, 1, r+1)
		// ∂L/∂z = (p − onehot(y))/b for the minibatch mean L.
		z[y[r]]--
		for c, v := range z {
			dz[c*b+r] = v * inv
		}
	}
	for i := nl - 1; i >= 0; i-- {
		var din []float64
		if i > 0 {
			din = w.delta[i%2][:b*w.shapes[i].Size()]
		}
		w.kernels[i].backward(params[w.off[i]:w.off[i+1]], grad[w.off[i]:w.off[i+1]],
			w.acts[i][:b*w.shapes[i].Size()], w.acts[i+1][:b*w.shapes[i+1].Size()], dz, din, b)
		dz = din
	}
	return loss
}

// Eval implements [Workspace].
func (w *seqWorkspace) Eval(params, x []float64, y []int) (loss float64, correct int) {
	b := w.batch(params, x, y)
	scores := w.forward(params, x, b)
	z := w.z
	for r := range b {
		for c := range z {
			z[c] = scores[c*b+r]
		}
		lse, arg := logSumExp(z)
		loss = runningMean(loss, lse-z[y[r]], 1, r+1)
		if arg == y[r] {
			correct++
		}
	}
	return loss, correct
}
