package model_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/model"
)

// sizesOf returns the layer sizes of the models under test.
func sizesOf(m model.Model) []int {
	switch m := m.(type) {
	case model.Softmax:
		return []int{m.Dim, m.Classes}
	case model.MLP:
		return append(append([]int{m.Dim}, m.Hidden...), m.Classes)
	}
	panic("unknown model")
}

var gradModels = []struct {
	name string
	m    model.Model
}{
	{"softmax-4x3", model.Softmax{Dim: 4, Classes: 3}},
	{"softmax-1x2", model.Softmax{Dim: 1, Classes: 2}},
	{"mlp-3-5-3", model.MLP{Dim: 3, Hidden: []int{5}, Classes: 3}},
	{"mlp-4-6-5-4", model.MLP{Dim: 4, Hidden: []int{6, 5}, Classes: 4}},
	{"mlp-3-2", model.MLP{Dim: 3, Classes: 2}},
}

// randomBatch returns b examples with N(0,1) features and uniform labels.
func randomBatch(rng *rand.Rand, b, dim, classes int) *dataset.Dataset {
	d := &dataset.Dataset{X: randomParams(rng, b*dim, 1), Y: make([]int, b), Dim: dim, Classes: classes}
	for i := range d.Y {
		d.Y[i] = rng.IntN(classes)
	}
	return d
}

// TestLossGradFiniteDifferences checks each Workspace's loss against the
// naive definition and its gradient against central differences of that
// naive loss.
func TestLossGradFiniteDifferences(t *testing.T) {
	for k, tc := range gradModels {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, uint64(k)))
			dim, classes := tc.m.Shape()
			sizes := sizesOf(tc.m)
			for trial := range 3 {
				b := 1 + trial*3
				d := randomBatch(rng, b, dim, classes)
				params := randomParams(rng, tc.m.NumParams(), 0.7)
				grad := make([]float64, len(params))
				ws := tc.m.NewWorkspace(8)
				loss := ws.LossGrad(grad, params, d.X, d.Y)
				if want := naiveMeanLoss(sizes, params, d); math.Abs(loss-want) > 1e-12*math.Max(1, want) {
					t.Fatalf("batch %d: loss %v, naive %v", b, loss, want)
				}
				const h = 1e-6
				for i := range params {
					p0 := params[i]
					params[i] = p0 + h
					fp := naiveMeanLoss(sizes, params, d)
					params[i] = p0 - h
					fm := naiveMeanLoss(sizes, params, d)
					params[i] = p0
					fd := (fp - fm) / (2 * h)
					if math.Abs(grad[i]-fd) > 1e-6*math.Max(1, math.Abs(fd)) {
						t.Errorf("batch %d: grad[%d] = %.10g, central difference %.10g", b, i, grad[i], fd)
					}
				}
			}
		})
	}
}

// TestSoftmaxEqualsMLPWithoutHidden compares two independent
// implementations of the same model.
func TestSoftmaxEqualsMLPWithoutHidden(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sm := model.Softmax{Dim: 7, Classes: 5}
	mlp := model.MLP{Dim: 7, Classes: 5}
	if sm.NumParams() != mlp.NumParams() {
		t.Fatalf("NumParams %d vs %d", sm.NumParams(), mlp.NumParams())
	}
	d := randomBatch(rng, 9, 7, 5)
	params := randomParams(rng, sm.NumParams(), 1)
	g1 := make([]float64, len(params))
	g2 := make([]float64, len(params))
	l1 := sm.NewWorkspace(9).LossGrad(g1, params, d.X, d.Y)
	l2 := mlp.NewWorkspace(9).LossGrad(g2, params, d.X, d.Y)
	if math.Abs(l1-l2) > 1e-13 {
		t.Errorf("loss %v vs %v", l1, l2)
	}
	for i := range g1 {
		if math.Abs(g1[i]-g2[i]) > 1e-13 {
			t.Errorf("grad[%d] %v vs %v", i, g1[i], g2[i])
		}
	}
}

// TestZeroSoftmaxLoss: with zero parameters every class has probability
// 1/C, so each example's loss is ln C, and every score ties, so the
// prediction is class 0.
func TestZeroSoftmaxLoss(t *testing.T) {
	for _, classes := range []int{2, 3, 7, 10, 62} {
		m := model.Softmax{Dim: 5, Classes: classes}
		params := make([]float64, m.NumParams())
		m.Init(nil, params)
		d := blobs(uint64(classes), 50, 5, classes, 3)
		want := math.Log(float64(classes))
		ws := m.NewWorkspace(1)
		grad := make([]float64, len(params))
		for i := range 5 {
			if got := ws.LossGrad(grad, params, d.Row(i), d.Y[i:i+1]); got != want {
				t.Errorf("C=%d: LossGrad of one example = %v, want ln C = %v exactly", classes, got, want)
			}
			if got, _ := ws.Eval(params, d.Row(i), d.Y[i:i+1]); got != want {
				t.Errorf("C=%d: Eval of one example = %v, want ln C = %v exactly", classes, got, want)
			}
		}
		loss, acc, err := model.Evaluate(m, params, d)
		if err != nil {
			t.Fatal(err)
		}
		if loss != want {
			t.Errorf("C=%d: mean loss %v, want ln C = %v exactly", classes, loss, want)
		}
		zeros := 0
		for _, y := range d.Y {
			if y == 0 {
				zeros++
			}
		}
		if wantAcc := float64(zeros) / float64(d.Len()); acc != wantAcc {
			t.Errorf("C=%d: accuracy %v, want the share of class 0 %v", classes, acc, wantAcc)
		}
	}
}

// TestEvaluateMatchesNaive compares Evaluate with a loop over the examples
// written from the definition, on more examples than one chunk.
func TestEvaluateMatchesNaive(t *testing.T) {
	for k, tc := range gradModels {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, uint64(k)))
			dim, classes := tc.m.Shape()
			d := blobs(uint64(k), 301, dim, classes, 1.5)
			params := randomParams(rng, tc.m.NumParams(), 1)
			loss, acc, err := model.Evaluate(tc.m, params, d)
			if err != nil {
				t.Fatal(err)
			}
			wantLoss, wantAcc := naiveEvaluate(sizesOf(tc.m), params, d)
			if math.Abs(loss-wantLoss) > 1e-12*wantLoss {
				t.Errorf("loss %v, naive %v", loss, wantLoss)
			}
			if acc != wantAcc {
				t.Errorf("accuracy %v, naive %v", acc, wantAcc)
			}
		})
	}
}

func TestEvaluateErrors(t *testing.T) {
	m := model.Softmax{Dim: 3, Classes: 2}
	good := blobs(1, 10, 3, 2, 2)
	params := make([]float64, m.NumParams())
	withNaN := append([]float64(nil), params...)
	withNaN[2] = math.NaN()
	withInf := append([]float64(nil), params...)
	withInf[7] = math.Inf(-1)
	badLabel := blobs(1, 10, 3, 2, 2)
	badLabel.Y[4] = 2
	negLabel := blobs(1, 10, 3, 2, 2)
	negLabel.Y[0] = -1
	nanX := blobs(1, 10, 3, 2, 2)
	nanX.X[5] = math.NaN()
	infX := blobs(1, 10, 3, 2, 2)
	infX.X[29] = math.Inf(-1)
	short := blobs(1, 10, 3, 2, 2)
	short.X = short.X[:29]
	for _, tc := range []struct {
		name   string
		m      model.Model
		params []float64
		d      *dataset.Dataset
		want   error
	}{
		{"nil model", nil, params, good, model.ErrInvalidModel},
		{"bad model", model.Softmax{Dim: 3, Classes: 1}, params, good, model.ErrInvalidModel},
		{"bad mlp", model.MLP{Dim: 3, Hidden: []int{0}, Classes: 2}, params, good, model.ErrInvalidModel},
		{"short params", m, params[:7], good, model.ErrParamsLength},
		{"long params", m, append(params, 0), good, model.ErrParamsLength},
		{"NaN param", m, withNaN, good, model.ErrNotFinite},
		{"Inf param", m, withInf, good, model.ErrNotFinite},
		{"nil data", m, params, nil, model.ErrInvalidData},
		{"empty data", m, params, &dataset.Dataset{Dim: 3, Classes: 2}, model.ErrInvalidData},
		{"wrong dim", m, params, blobs(1, 10, 4, 2, 2), model.ErrInvalidData},
		{"more classes", m, params, blobs(1, 10, 3, 3, 2), model.ErrInvalidData},
		{"label too big", m, params, badLabel, model.ErrInvalidData},
		{"negative label", m, params, negLabel, model.ErrInvalidData},
		{"NaN feature", m, params, nanX, model.ErrInvalidData},
		{"Inf feature", m, params, infX, model.ErrInvalidData},
		{"short X", m, params, short, model.ErrInvalidData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := model.Evaluate(tc.m, tc.params, tc.d)
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestModelValidateAndNumParams(t *testing.T) {
	for _, tc := range []struct {
		name    string
		m       model.Model
		ok      bool
		nparams int
	}{
		{"softmax", model.Softmax{Dim: 60, Classes: 10}, true, 610},
		{"softmax dim 0", model.Softmax{Dim: 0, Classes: 10}, false, 0},
		{"softmax 1 class", model.Softmax{Dim: 5, Classes: 1}, false, 0},
		{"softmax huge", model.Softmax{Dim: math.MaxInt / 4, Classes: 1 << 20}, false, 0},
		{"mlp", model.MLP{Dim: 784, Hidden: []int{128}, Classes: 10}, true, 128*785 + 10*129},
		{"mlp two hidden", model.MLP{Dim: 2, Hidden: []int{3, 4}, Classes: 2}, true, 3*3 + 4*4 + 2*5},
		{"mlp no hidden", model.MLP{Dim: 2, Classes: 3}, true, 9},
		{"mlp hidden 0", model.MLP{Dim: 2, Hidden: []int{3, 0}, Classes: 2}, false, 0},
		{"mlp negative", model.MLP{Dim: 2, Hidden: []int{-3}, Classes: 2}, false, 0},
		{"mlp dim 0", model.MLP{Dim: 0, Hidden: []int{3}, Classes: 2}, false, 0},
		{"mlp 1 class", model.MLP{Dim: 2, Hidden: []int{3}, Classes: 1}, false, 0},
		{"mlp huge", model.MLP{Dim: 1 << 20, Hidden: []int{1 << 20}, Classes: 2}, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.m.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok {
				if !errors.Is(err, model.ErrInvalidModel) {
					t.Errorf("Validate() = %v, want ErrInvalidModel", err)
				}
				return
			}
			if got := tc.m.NumParams(); got != tc.nparams {
				t.Errorf("NumParams() = %d, want %d", got, tc.nparams)
			}
		})
	}
}

// TestMLPInit checks the initial distributions: He normal for hidden
// layers, Glorot uniform for the output layer, zero biases.
func TestMLPInit(t *testing.T) {
	m := model.MLP{Dim: 200, Hidden: []int{100}, Classes: 10}
	params := make([]float64, m.NumParams())
	for i := range params {
		params[i] = math.NaN()
	}
	m.Init(rand.New(rand.NewPCG(1, 1)), params)
	w1, b1 := params[:100*200], params[100*200:100*201]
	w2, b2 := params[100*201:100*201+10*100], params[100*201+10*100:]
	if len(b2) != 10 {
		t.Fatalf("layout: output bias has %d entries", len(b2))
	}
	for _, b := range [][]float64{b1, b2} {
		for _, v := range b {
			if v != 0 {
				t.Fatalf("bias %v, want 0", v)
			}
		}
	}
	meanVar := func(w []float64) (mean, v float64) {
		for _, x := range w {
			mean += x
		}
		mean /= float64(len(w))
		for _, x := range w {
			v += (x - mean) * (x - mean)
		}
		return mean, v / float64(len(w))
	}
	// 20000 draws: the sample variance is within ~1% (one standard error)
	// of the true one; allow 5%.
	if mean, v := meanVar(w1); math.Abs(v/(2.0/200)-1) > 0.05 || math.Abs(mean) > 0.01 {
		t.Errorf("hidden weights: mean %v variance %v, want 0 and %v", mean, v, 2.0/200)
	}
	lim := math.Sqrt(6.0 / 110)
	for _, x := range w2 {
		if math.Abs(x) > lim {
			t.Fatalf("output weight %v outside ±%v", x, lim)
		}
	}
	if _, v := meanVar(w2); math.Abs(v/(lim*lim/3)-1) > 0.15 {
		t.Errorf("output weights: variance %v, want %v", v, lim*lim/3)
	}
}

func TestWorkspaceNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, tc := range []struct {
		name string
		m    model.Model
	}{
		{"softmax", model.Softmax{Dim: 60, Classes: 10}},
		{"mlp", model.MLP{Dim: 784, Hidden: []int{128}, Classes: 10}},
		{"mlp2", model.MLP{Dim: 20, Hidden: []int{16, 8}, Classes: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dim, classes := tc.m.Shape()
			d := randomBatch(rng, 10, dim, classes)
			params := randomParams(rng, tc.m.NumParams(), 0.1)
			grad := make([]float64, len(params))
			ws := tc.m.NewWorkspace(10)
			if a := testing.AllocsPerRun(20, func() { ws.LossGrad(grad, params, d.X, d.Y) }); a != 0 {
				t.Errorf("LossGrad: %v allocs, want 0", a)
			}
			if a := testing.AllocsPerRun(20, func() { ws.Eval(params, d.X, d.Y) }); a != 0 {
				t.Errorf("Eval: %v allocs, want 0", a)
			}
		})
	}
}

// TestHugeFiniteFeatures: features whose sum overflows are still finite and
// must be accepted (the finiteness check has a fast path through a sum).
func TestHugeFiniteFeatures(t *testing.T) {
	m := model.Softmax{Dim: 2, Classes: 2}
	d := &dataset.Dataset{X: []float64{1e308, 1e308, 1e308, -1e308}, Y: []int{0, 1}, Dim: 2, Classes: 2}
	loss, _, err := model.Evaluate(m, make([]float64, m.NumParams()), d)
	if err != nil || loss != math.Ln2 {
		t.Errorf("Evaluate = %v, %v; want ln 2, nil", loss, err)
	}
	if _, err := model.NewTrainer(model.TrainerConfig{Model: m, Train: d}); err != nil {
		t.Errorf("NewTrainer: %v", err)
	}
}
