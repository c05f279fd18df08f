package model_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/model"
)

// naiveLayer applies one layer to one example (C×H×W) straight from the
// definitions in the layers' doc comments: no im2col, no batching.
func naiveLayer(l model.Layer, in model.Shape, p, x []float64) (model.Shape, []float64) {
	switch l := l.(type) {
	case model.Conv2D:
		s := max(l.Stride, 1)
		k := l.Kernel
		var oh, ow, pt, pl int
		if l.Padding == model.Same {
			oh, ow = (in.H+s-1)/s, (in.W+s-1)/s
			pt = max((oh-1)*s+k-in.H, 0) / 2
			pl = max((ow-1)*s+k-in.W, 0) / 2
		} else {
			oh, ow = (in.H-k)/s+1, (in.W-k)/s+1
		}
		out := make([]float64, l.Filters*oh*ow)
		wlen := l.Filters * in.C * k * k
		for f := range l.Filters {
			for y := range oh {
				for xx := range ow {
					v := p[wlen+f]
					for c := range in.C {
						for i := range k {
							for j := range k {
								iy, ix := y*s+i-pt, xx*s+j-pl
								if iy < 0 || iy >= in.H || ix < 0 || ix >= in.W {
									continue
								}
								v += p[((f*in.C+c)*k+i)*k+j] * x[(c*in.H+iy)*in.W+ix]
							}
						}
					}
					out[(f*oh+y)*ow+xx] = v
				}
			}
		}
		return model.Shape{C: l.Filters, H: oh, W: ow}, out
	case model.MaxPool2D:
		s := l.Stride
		if s == 0 {
			s = l.Size
		}
		oh, ow := (in.H-l.Size)/s+1, (in.W-l.Size)/s+1
		out := make([]float64, in.C*oh*ow)
		for c := range in.C {
			for y := range oh {
				for xx := range ow {
					m := math.Inf(-1)
					for i := range l.Size {
						for j := range l.Size {
							m = math.Max(m, x[(c*in.H+y*s+i)*in.W+xx*s+j])
						}
					}
					out[(c*oh+y)*ow+xx] = m
				}
			}
		}
		return model.Shape{C: in.C, H: oh, W: ow}, out
	case model.ReLU:
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = math.Max(v, 0)
		}
		return in, out
	case model.Flatten:
		return model.Shape{C: in.Size(), H: 1, W: 1}, append([]float64(nil), x...)
	case model.Dense:
		n := in.Size()
		out := make([]float64, l.Units)
		for j := range out {
			out[j] = p[l.Units*n+j]
			for i := range n {
				out[j] += p[j*n+i] * x[i]
			}
		}
		return model.Shape{C: l.Units, H: 1, W: 1}, out
	}
	panic("unknown layer")
}

// naiveSeqScores returns the scores of one example.
func naiveSeqScores(m model.Sequential, params, x []float64) []float64 {
	s := m.Input
	off := 0
	for _, l := range m.Layers {
		n := l.NumParams(s)
		s, x = naiveLayer(l, s, params[off:off+n], x)
		off += n
	}
	return x
}

// naiveSeqLoss is the mean cross-entropy of the naive forward pass.
func naiveSeqLoss(m model.Sequential, params []float64, d *dataset.Dataset) float64 {
	var sum float64
	for i := range d.Len() {
		sum += naiveLoss(naiveSeqScores(m, params, d.Row(i)), d.Y[i])
	}
	return sum / float64(d.Len())
}

// layerNets exercise each layer type, each in the middle of a network so
// that both its parameter gradient and its input gradient (through the
// parameters of the layers before it) are checked.
var layerNets = []struct {
	name string
	m    model.Sequential
}{
	{"conv-valid", model.Sequential{Input: model.Shape{C: 2, H: 6, W: 5}, Classes: 3, Layers: []model.Layer{
		model.Conv2D{Filters: 2, Kernel: 2}, model.Conv2D{Filters: 3, Kernel: 3}, model.Flatten{}, model.Dense{Units: 3}}}},
	{"conv-same-stride2", model.Sequential{Input: model.Shape{C: 1, H: 7, W: 6}, Classes: 2, Layers: []model.Layer{
		model.Conv2D{Filters: 2, Kernel: 3, Padding: model.Same}, model.Conv2D{Filters: 2, Kernel: 4, Stride: 2, Padding: model.Same}, model.Flatten{}, model.Dense{Units: 2}}}},
	{"conv-same-kernel-larger-than-input", model.Sequential{Input: model.Shape{C: 2, H: 3, W: 2}, Classes: 2, Layers: []model.Layer{
		model.Conv2D{Filters: 2, Kernel: 2}, model.Conv2D{Filters: 2, Kernel: 5, Padding: model.Same}, model.Conv2D{Filters: 1, Kernel: 3, Stride: 2, Padding: model.Same}, model.Flatten{}, model.Dense{Units: 2}}}},
	{"conv-valid-stride3", model.Sequential{Input: model.Shape{C: 3, H: 8, W: 9}, Classes: 2, Layers: []model.Layer{
		model.Conv2D{Filters: 2, Kernel: 1}, model.Conv2D{Filters: 2, Kernel: 2, Stride: 3}, model.Flatten{}, model.Dense{Units: 2}}}},
	{"maxpool", model.Sequential{Input: model.Shape{C: 1, H: 9, W: 8}, Classes: 3, Layers: []model.Layer{
		model.Conv2D{Filters: 2, Kernel: 2}, model.MaxPool2D{Size: 2}, model.Flatten{}, model.Dense{Units: 3}}}},
	{"maxpool-overlap", model.Sequential{Input: model.Shape{C: 2, H: 7, W: 7}, Classes: 2, Layers: []model.Layer{
		model.Conv2D{Filters: 2, Kernel: 2}, model.MaxPool2D{Size: 3, Stride: 2}, model.Flatten{}, model.Dense{Units: 2}}}},
	{"relu", model.Sequential{Input: model.Shape{C: 1, H: 5, W: 5}, Classes: 3, Layers: []model.Layer{
		model.Conv2D{Filters: 3, Kernel: 2}, model.ReLU{}, model.Flatten{}, model.Dense{Units: 3}}}},
	{"dense", model.Sequential{Input: model.Shape{C: 6, H: 1, W: 1}, Classes: 4, Layers: []model.Layer{
		model.Dense{Units: 5}, model.Dense{Units: 7}, model.ReLU{}, model.Dense{Units: 4}}}},
	{"flatten", model.Sequential{Input: model.Shape{C: 3, H: 3, W: 2}, Classes: 2, Layers: []model.Layer{
		model.Flatten{}, model.Dense{Units: 2}}}},
	{"niid-small", model.Sequential{Input: model.Shape{C: 1, H: 12, W: 12}, Classes: 3, Layers: []model.Layer{
		model.Conv2D{Filters: 2, Kernel: 3}, model.ReLU{}, model.MaxPool2D{Size: 2},
		model.Conv2D{Filters: 3, Kernel: 3}, model.ReLU{}, model.MaxPool2D{Size: 2},
		model.Flatten{}, model.Dense{Units: 5}, model.ReLU{}, model.Dense{Units: 3}}}},
}

// TestSequentialMatchesNaive compares the im2col forward pass, through
// Eval, with the naive one, on minibatches of several sizes (the chunking
// of the columns and the batch layout both change with the size).
func TestSequentialMatchesNaive(t *testing.T) {
	for k, tc := range layerNets {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(21, uint64(k)))
			dim, classes := tc.m.Shape()
			params := randomParams(rng, tc.m.NumParams(), 0.5)
			ws := tc.m.NewWorkspace(70)
			for _, b := range []int{1, 3, 70} {
				d := randomBatch(rng, b, dim, classes)
				loss, correct := ws.Eval(params, d.X, d.Y)
				want := naiveSeqLoss(tc.m, params, d)
				if math.Abs(loss-want) > 1e-12*math.Max(1, want) {
					t.Errorf("b=%d: loss %v, naive %v", b, loss, want)
				}
				wantCorrect := 0
				for i := range b {
					if naiveArgmax(naiveSeqScores(tc.m, params, d.Row(i))) == d.Y[i] {
						wantCorrect++
					}
				}
				if correct != wantCorrect {
					t.Errorf("b=%d: correct %d, naive %d", b, correct, wantCorrect)
				}
			}
		})
	}
}

// TestSequentialFiniteDifferences checks each layer's backward pass
// against central differences of the naive loss.
func TestSequentialFiniteDifferences(t *testing.T) {
	for k, tc := range layerNets {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(22, uint64(k)))
			dim, classes := tc.m.Shape()
			for _, b := range []int{1, 5} {
				d := randomBatch(rng, b, dim, classes)
				params := randomParams(rng, tc.m.NumParams(), 0.7)
				grad := make([]float64, len(params))
				for i := range grad {
					grad[i] = math.NaN() // overwritten
				}
				ws := tc.m.NewWorkspace(5)
				loss := ws.LossGrad(grad, params, d.X, d.Y)
				if want := naiveSeqLoss(tc.m, params, d); math.Abs(loss-want) > 1e-12*math.Max(1, want) {
					t.Fatalf("b=%d: loss %v, naive %v", b, loss, want)
				}
				const h = 1e-6
				for i := range params {
					p0 := params[i]
					params[i] = p0 + h
					fp := naiveSeqLoss(tc.m, params, d)
					params[i] = p0 - h
					fm := naiveSeqLoss(tc.m, params, d)
					params[i] = p0
					fd := (fp - fm) / (2 * h)
					if !(math.Abs(grad[i]-fd) <= 1e-6*math.Max(1, math.Abs(fd))) {
						t.Errorf("b=%d: grad[%d] = %.10g, central difference %.10g", b, i, grad[i], fd)
					}
				}
			}
		})
	}
}

// TestNIIDBenchCNNShape: the parameter count of niid_bench's CNNMnist,
// added up by hand from its PyTorch modules: conv1 6·(1·25)+6 = 156,
// conv2 16·(6·25)+16 = 2416, fc1 120·256+120 = 30840, fc2 84·120+84 =
// 10164, fc3 10·84+10 = 850.
func TestNIIDBenchCNNShape(t *testing.T) {
	m := model.NIIDBenchCNN(model.Shape{C: 1, H: 28, W: 28}, 10)
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if got, want := m.NumParams(), 156+2416+30840+10164+850; got != want {
		t.Errorf("NumParams = %d, want %d", got, want)
	}
	if dim, classes := m.Shape(); dim != 784 || classes != 10 {
		t.Errorf("Shape = %d, %d", dim, classes)
	}
	// niid_bench's CNN for CIFAR-10: fc1 takes 16·5·5 = 400 features.
	c := model.NIIDBenchCNN(model.Shape{C: 3, H: 32, W: 32}, 10)
	if got, want := c.NumParams(), 6*76+16*151+120*401+84*121+10*85; got != want {
		t.Errorf("CIFAR NumParams = %d, want %d", got, want)
	}
}

func TestSequentialValidate(t *testing.T) {
	in := model.Shape{C: 1, H: 8, W: 8}
	for _, tc := range []struct {
		name string
		m    model.Sequential
	}{
		{"no layers", model.Sequential{Input: in, Classes: 2}},
		{"one class", model.Sequential{Input: in, Classes: 1, Layers: []model.Layer{model.Flatten{}, model.Dense{Units: 1}}}},
		{"bad input", model.Sequential{Input: model.Shape{C: 0, H: 8, W: 8}, Classes: 2, Layers: []model.Layer{model.Flatten{}, model.Dense{Units: 2}}}},
		{"huge input", model.Sequential{Input: model.Shape{C: 1 << 20, H: 1 << 20, W: 1 << 20}, Classes: 2, Layers: []model.Layer{model.Flatten{}, model.Dense{Units: 2}}}},
		{"wrong output", model.Sequential{Input: in, Classes: 3, Layers: []model.Layer{model.Flatten{}, model.Dense{Units: 2}}}},
		{"no flatten", model.Sequential{Input: in, Classes: 2, Layers: []model.Layer{model.Dense{Units: 2}}}},
		{"spatial output", model.Sequential{Input: model.Shape{C: 2, H: 1, W: 2}, Classes: 2, Layers: []model.Layer{model.ReLU{}}}},
		{"nil layer", model.Sequential{Input: in, Classes: 2, Layers: []model.Layer{nil, model.Flatten{}, model.Dense{Units: 2}}}},
		{"kernel too large", model.Sequential{Input: in, Classes: 2, Layers: []model.Layer{model.Conv2D{Filters: 1, Kernel: 9}, model.Flatten{}, model.Dense{Units: 2}}}},
		{"no filters", model.Sequential{Input: in, Classes: 2, Layers: []model.Layer{model.Conv2D{Kernel: 3}, model.Flatten{}, model.Dense{Units: 2}}}},
		{"negative stride", model.Sequential{Input: in, Classes: 2, Layers: []model.Layer{model.Conv2D{Filters: 1, Kernel: 3, Stride: -1}, model.Flatten{}, model.Dense{Units: 2}}}},
		{"bad padding", model.Sequential{Input: in, Classes: 2, Layers: []model.Layer{model.Conv2D{Filters: 1, Kernel: 3, Padding: 7}, model.Flatten{}, model.Dense{Units: 2}}}},
		{"pool too large", model.Sequential{Input: in, Classes: 2, Layers: []model.Layer{model.MaxPool2D{Size: 9}, model.Flatten{}, model.Dense{Units: 2}}}},
		{"pool zero", model.Sequential{Input: in, Classes: 2, Layers: []model.Layer{model.MaxPool2D{}, model.Flatten{}, model.Dense{Units: 2}}}},
		{"dense zero", model.Sequential{Input: in, Classes: 2, Layers: []model.Layer{model.Flatten{}, model.Dense{}, model.Dense{Units: 2}}}},
		{"too many params", model.Sequential{Input: model.Shape{C: 1 << 20, H: 1, W: 1}, Classes: 2, Layers: []model.Layer{model.Dense{Units: 1 << 20}, model.Dense{Units: 2}}}},
	} {
		if err := tc.m.Validate(); !errors.Is(err, model.ErrInvalidModel) {
			t.Errorf("%s: Validate = %v, want ErrInvalidModel", tc.name, err)
		}
		// A trainer refuses it with the same error, never a panic.
		d := &dataset.Dataset{X: []float64{0}, Y: []int{0}, Dim: 1, Classes: 2}
		if n := tc.m.Input.Size(); n > 0 && n < 1<<20 {
			d = &dataset.Dataset{X: make([]float64, n), Y: []int{0}, Dim: n, Classes: 2}
		}
		if _, err := model.NewTrainer(model.TrainerConfig{Model: tc.m, Train: d}); !errors.Is(err, model.ErrInvalidModel) {
			t.Errorf("%s: NewTrainer = %v, want ErrInvalidModel", tc.name, err)
		}
	}
	// The same-padded output of a stride-2 convolution is ⌈H/2⌉.
	s, err := model.Conv2D{Filters: 4, Kernel: 3, Stride: 2, Padding: model.Same}.OutShape(model.Shape{C: 1, H: 7, W: 8})
	if err != nil || s != (model.Shape{C: 4, H: 4, W: 4}) {
		t.Errorf("same stride 2 OutShape = %v, %v; want 4×4×4", s, err)
	}
}

// TestSequentialInit: He's normal N(0, 2/fanIn) for the weights of the
// layers followed by ReLU, Glorot's uniform ±√(6/(fanIn+fanOut)) for the
// output layer, zero biases; checked per layer by its variance (and bound)
// with fans counted by hand for the niid_bench CNN.
func TestSequentialInit(t *testing.T) {
	m := model.NIIDBenchCNN(model.Shape{C: 1, H: 28, W: 28}, 10)
	p := make([]float64, m.NumParams())
	m.Init(rand.New(rand.NewPCG(1, 2)), p)
	layers := []struct{ units, fan int }{{6, 25}, {16, 150}, {120, 256}, {84, 120}, {10, 84}}
	off := 0
	for k, l := range layers {
		w := p[off : off+l.units*l.fan]
		b := p[off+l.units*l.fan : off+l.units*(l.fan+1)]
		off += l.units * (l.fan + 1)
		var sq float64
		for _, v := range w {
			sq += v * v
		}
		want := 2 / float64(l.fan)
		if k == len(layers)-1 {
			lim := math.Sqrt(6 / float64(l.fan+l.units))
			for _, v := range w {
				if math.Abs(v) > lim {
					t.Fatalf("output weight %v outside ±%v", v, lim)
				}
			}
			want = lim * lim / 3
		}
		if v := sq / float64(len(w)); math.Abs(v/want-1) > 4/math.Sqrt(float64(len(w))) {
			t.Errorf("layer %d: weight variance %v, want %v", k, v, want)
		}
		for _, v := range b {
			if v != 0 {
				t.Fatalf("layer %d: bias %v, want 0", k, v)
			}
		}
	}
	if off != len(p) {
		t.Fatalf("layers cover %d of %d parameters", off, len(p))
	}
	q := make([]float64, len(p))
	m.Init(rand.New(rand.NewPCG(1, 2)), q)
	for i := range p {
		if p[i] != q[i] {
			t.Fatal("Init is not determined by its source")
		}
	}
}

func TestSequentialWorkspaceNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, m := range []model.Sequential{
		model.NIIDBenchCNN(model.Shape{C: 1, H: 28, W: 28}, 10),
		layerNets[0].m, // two input channels: the layout copy
	} {
		dim, classes := m.Shape()
		d := randomBatch(rng, 16, dim, classes)
		params := randomParams(rng, m.NumParams(), 0.1)
		grad := make([]float64, len(params))
		ws := m.NewWorkspace(16)
		if a := testing.AllocsPerRun(5, func() { ws.LossGrad(grad, params, d.X, d.Y) }); a != 0 {
			t.Errorf("LossGrad: %v allocs, want 0", a)
		}
		if a := testing.AllocsPerRun(5, func() { ws.Eval(params, d.X, d.Y) }); a != 0 {
			t.Errorf("Eval: %v allocs, want 0", a)
		}
	}
}

// TestSequentialBitsIndependentOfWorkspace: the gradient of a minibatch
// is the same bits from workspaces of any capacity, fresh or reused, so
// nothing but the data and the parameters decides it.
func TestSequentialBitsIndependentOfWorkspace(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	m := model.NIIDBenchCNN(model.Shape{C: 1, H: 28, W: 28}, 10)
	params := make([]float64, m.NumParams())
	m.Init(rng, params)
	d := randomBatch(rng, 9, 784, 10)
	other := randomBatch(rng, 20, 784, 10)
	want := make([]float64, len(params))
	wantLoss := m.NewWorkspace(9).LossGrad(want, params, d.X, d.Y)
	ws := m.NewWorkspace(20)
	ws.LossGrad(make([]float64, len(params)), params, other.X, other.Y) // dirty its buffers
	got := make([]float64, len(params))
	if loss := ws.LossGrad(got, params, d.X, d.Y); math.Float64bits(loss) != math.Float64bits(wantLoss) {
		t.Errorf("loss %v vs %v", loss, wantLoss)
	}
	for i := range got {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("grad[%d] %v vs %v", i, got[i], want[i])
		}
	}
}

// TestConvRandomShapes compares random convolution and pooling stacks —
// image sizes, kernels larger than the image under same padding, strides
// beyond the kernel — with the naive forward pass, and their gradients with
// central differences on every tenth.
func TestConvRandomShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 1))
	tried := 0
	for tried < 150 {
		in := model.Shape{C: 1 + rng.IntN(3), H: 1 + rng.IntN(9), W: 1 + rng.IntN(9)}
		conv := model.Conv2D{Filters: 1 + rng.IntN(3), Kernel: 1 + rng.IntN(6), Stride: rng.IntN(4), Padding: model.Padding(rng.IntN(2))}
		layers := []model.Layer{conv, model.ReLU{}}
		if rng.IntN(2) == 0 {
			layers = append(layers, model.MaxPool2D{Size: 1 + rng.IntN(3), Stride: rng.IntN(3)})
		}
		if rng.IntN(2) == 0 {
			layers = append([]model.Layer{model.Conv2D{Filters: 2, Kernel: 1 + rng.IntN(2), Padding: model.Same}}, layers...)
		}
		m := model.Sequential{Input: in, Classes: 2, Layers: append(layers, model.Flatten{}, model.Dense{Units: 2})}
		if m.Validate() != nil {
			continue // a kernel or window larger than a valid input
		}
		tried++
		params := randomParams(rng, m.NumParams(), 0.5)
		b := 1 + rng.IntN(4)
		d := randomBatch(rng, b, in.Size(), 2)
		ws := m.NewWorkspace(b)
		loss, _ := ws.Eval(params, d.X, d.Y)
		if want := naiveSeqLoss(m, params, d); math.Abs(loss-want) > 1e-12*math.Max(1, want) {
			t.Fatalf("%+v: loss %v, naive %v", m, loss, want)
		}
		if tried%10 != 0 {
			continue
		}
		grad := make([]float64, len(params))
		ws.LossGrad(grad, params, d.X, d.Y)
		fd := fdGrad(func(p []float64) float64 { return naiveSeqLoss(m, p, d) }, params)
		for i := range grad {
			if !(math.Abs(grad[i]-fd[i]) <= 1e-6*math.Max(1, math.Abs(fd[i]))) {
				t.Fatalf("%+v: grad[%d] = %v, central difference %v", m, i, grad[i], fd[i])
			}
		}
	}
}
