package model_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/model"
)

func newTrainer(t testing.TB, cfg model.TrainerConfig) *model.Trainer {
	t.Helper()
	tr, err := model.NewTrainer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func train(t testing.TB, tr *model.Trainer, global []float64, cfg fl.Config) fl.Update {
	t.Helper()
	u, err := tr.Train(context.Background(), global, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func add(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] + b[i]
	}
	return out
}

// fdGrad is the central-difference gradient of f at w.
func fdGrad(f func([]float64) float64, w []float64) []float64 {
	const h = 1e-6
	w = slices.Clone(w)
	g := make([]float64, len(w))
	for i := range w {
		w0 := w[i]
		w[i] = w0 + h
		fp := f(w)
		w[i] = w0 - h
		fm := f(w)
		w[i] = w0
		g[i] = (fp - fm) / (2 * h)
	}
	return g
}

// TestTrainStepsFollowObjective runs one and two full-batch steps and
// checks each against a step along the central-difference gradient of the
// objective written from its definition: the mean cross-entropy, plus
// λ/2‖w‖², plus the FedProx term μ/2‖w − wᵗ‖² (Li et al. 2020, (2)).
func TestTrainStepsFollowObjective(t *testing.T) {
	const lr = 0.2
	for k, m := range []model.Model{
		model.Softmax{Dim: 3, Classes: 3},
		model.MLP{Dim: 3, Hidden: []int{4}, Classes: 3},
	} {
		for _, reg := range []struct{ l2, mu float64 }{{0, 0}, {0.05, 0}, {0, 0.7}, {0.05, 0.7}, {0, 5}} {
			rng := rand.New(rand.NewPCG(21, uint64(k)))
			d := randomBatch(rng, 12, 3, 3)
			global := randomParams(rng, m.NumParams(), 0.5)
			sizes := sizesOf(m)
			objective := func(w []float64) float64 {
				f := naiveMeanLoss(sizes, w, d)
				for i, v := range w {
					f += reg.l2/2*v*v + reg.mu/2*(v-global[i])*(v-global[i])
				}
				return f
			}
			cfg := model.TrainerConfig{Model: m, Train: d, LR: lr, BatchSize: d.Len(), L2: reg.l2, Mu: reg.mu, Seed: 4}
			tr := newTrainer(t, cfg)

			w1 := add(global, train(t, tr, global, fl.Config{fl.KeyRound: 1}).Delta)
			g0 := fdGrad(objective, global)
			for i := range w1 {
				if want := global[i] - lr*g0[i]; math.Abs(w1[i]-want) > 1e-8 {
					t.Fatalf("%T l2=%v mu=%v: step 1 w[%d] = %.12g, want %.12g", m, reg.l2, reg.mu, i, w1[i], want)
				}
			}
			w2 := add(global, train(t, tr, global, fl.Config{fl.KeyRound: 1, fl.KeyEpochs: 2}).Delta)
			g1 := fdGrad(objective, w1)
			for i := range w2 {
				if want := w1[i] - lr*g1[i]; math.Abs(w2[i]-want) > 1e-8 {
					t.Fatalf("%T l2=%v mu=%v: step 2 w[%d] = %.12g, want %.12g", m, reg.l2, reg.mu, i, w2[i], want)
				}
			}
		}
	}
}

// federate runs rounds of FedAvg with one client (global += delta) and
// returns the final global model.
func federate(t *testing.T, tr *model.Trainer, global []float64, rounds int, cfg fl.Config) []float64 {
	for r := range rounds {
		c := fl.Config{fl.KeyRound: float64(r)}
		for k, v := range cfg {
			c[k] = v
		}
		global = add(global, train(t, tr, global, c).Delta)
	}
	return global
}

func TestSoftmaxLearnsBlobs(t *testing.T) {
	trainSet, testSet := split(blobs(1, 600, 5, 3, 4), 300)
	m := model.Softmax{Dim: 5, Classes: 3}
	global := make([]float64, m.NumParams())
	m.Init(nil, global)
	cfg := model.DefaultTrainerConfig()
	cfg.Model, cfg.Train, cfg.Test = m, trainSet, testSet
	tr := newTrainer(t, cfg)
	global = federate(t, tr, global, 5, nil)
	got, err := tr.Evaluate(context.Background(), global)
	if err != nil {
		t.Fatal(err)
	}
	if got[fl.KeyAccuracy] < 0.97 || got[fl.KeyLoss] > 0.1 {
		t.Errorf("held-out metrics %v, want accuracy ≥ 0.97 and loss ≤ 0.1", got)
	}
	if got[fl.KeyExamples] != 300 {
		t.Errorf("examples %v, want 300", got[fl.KeyExamples])
	}
}

// TestMLPLearnsXOR: a ReLU hidden layer separates XOR-like data, which no
// linear model (softmax) can.
func TestMLPLearnsXOR(t *testing.T) {
	trainSet, testSet := split(xor(7, 800), 400)
	run := func(m model.Model) fl.Metrics {
		global := make([]float64, m.NumParams())
		m.Init(rand.New(rand.NewPCG(1, 2)), global)
		tr := newTrainer(t, model.TrainerConfig{Model: m, Train: trainSet, Test: testSet, LR: 0.1, Seed: 3})
		global = federate(t, tr, global, 10, fl.Config{fl.KeyEpochs: 2})
		got, err := tr.Evaluate(context.Background(), global)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	mlp := run(model.MLP{Dim: 2, Hidden: []int{16}, Classes: 2})
	soft := run(model.Softmax{Dim: 2, Classes: 2})
	t.Logf("XOR held-out accuracy: MLP %.3f, softmax %.3f", mlp[fl.KeyAccuracy], soft[fl.KeyAccuracy])
	if mlp[fl.KeyAccuracy] < 0.95 {
		t.Errorf("MLP accuracy %v, want ≥ 0.95", mlp[fl.KeyAccuracy])
	}
	if soft[fl.KeyAccuracy] > 0.8 {
		t.Errorf("softmax accuracy %v on XOR, want ≤ 0.8 (no linear separator)", soft[fl.KeyAccuracy])
	}
}

func TestTrainDeterministic(t *testing.T) {
	d := blobs(2, 97, 6, 4, 1)
	m := model.MLP{Dim: 6, Hidden: []int{8}, Classes: 4}
	global := make([]float64, m.NumParams())
	m.Init(rand.New(rand.NewPCG(5, 5)), global)
	cfg := model.TrainerConfig{Model: m, Train: d, Seed: 42, Epochs: 2, BatchSize: 8}
	a := newTrainer(t, cfg)
	r3 := train(t, a, global, fl.Config{fl.KeyRound: 3})
	r5 := train(t, a, global, fl.Config{fl.KeyRound: 5})
	r3again := train(t, a, global, fl.Config{fl.KeyRound: 3})
	fresh := train(t, newTrainer(t, cfg), global, fl.Config{fl.KeyRound: 3})
	cfg.Seed = 43
	otherSeed := train(t, newTrainer(t, cfg), global, fl.Config{fl.KeyRound: 3})

	bitsEqual := func(x, y []float64) bool {
		for i := range x {
			if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
				return false
			}
		}
		return len(x) == len(y)
	}
	if !bitsEqual(r3.Delta, r3again.Delta) {
		t.Error("same trainer, same round: deltas differ")
	}
	if !bitsEqual(r3.Delta, fresh.Delta) {
		t.Error("fresh trainer, same seed and round: deltas differ")
	}
	if r3.Metrics[fl.KeyLoss] != fresh.Metrics[fl.KeyLoss] {
		t.Error("same seed and round: losses differ")
	}
	if bitsEqual(r3.Delta, r5.Delta) {
		t.Error("rounds 3 and 5 gave the same delta: the shuffle ignores the round")
	}
	if bitsEqual(r3.Delta, otherSeed.Delta) {
		t.Error("seeds 42 and 43 gave the same delta: the shuffle ignores the seed")
	}
}

// TestFedProxShrinksDelta: the proximal term pulls the local model back to
// the global one, the more so the larger μ.
func TestFedProxShrinksDelta(t *testing.T) {
	d := blobs(3, 200, 10, 5, 1.5)
	m := model.Softmax{Dim: 10, Classes: 5}
	global := make([]float64, m.NumParams())
	tr := newTrainer(t, model.TrainerConfig{Model: m, Train: d, Epochs: 5, Seed: 1})
	prev := math.Inf(1)
	for _, mu := range []float64{0, 0.01, 0.1, 1, 10} {
		u := train(t, tr, global, fl.Config{fl.KeyMu: mu, fl.KeyRound: 1})
		n := norm2(u.Delta)
		t.Logf("μ=%v: ‖Δ‖ = %.4f", mu, n)
		if !(n < prev) {
			t.Errorf("μ=%v: ‖Δ‖ = %v, not below %v for the smaller μ", mu, n, prev)
		}
		prev = n
	}
}

func TestTrainUpdateFields(t *testing.T) {
	d := blobs(4, 30, 3, 2, 2)
	m := model.Softmax{Dim: 3, Classes: 2}
	global := randomParams(rand.New(rand.NewPCG(1, 1)), m.NumParams(), 0.3)
	before := slices.Clone(global)
	tr := newTrainer(t, model.TrainerConfig{Model: m, Train: d, ID: "client-7"})
	u := train(t, tr, global, fl.Config{fl.KeyRound: 2})
	if !slices.Equal(global, before) {
		t.Error("Train modified global")
	}
	if u.Client != "client-7" || u.Weight != 30 || u.Metrics[fl.KeyExamples] != 30 || len(u.Delta) != m.NumParams() {
		t.Errorf("update %+v, want client-7, weight 30, 30 examples, %d deltas", u, m.NumParams())
	}
	// A second call must not alias the first's Delta.
	d0 := slices.Clone(u.Delta)
	train(t, tr, global, fl.Config{fl.KeyRound: 3})
	if !slices.Equal(d0, u.Delta) {
		t.Error("a later Train changed an earlier update's Delta")
	}
}

// TestTrainLossMetric: with a negligible learning rate the parameters stay
// put, so the reported loss is the mean cross-entropy of the data at
// global, whatever the minibatches (here of 7, 7, 7, 7 and 2 examples).
func TestTrainLossMetric(t *testing.T) {
	d := randomBatch(rand.New(rand.NewPCG(8, 8)), 30, 4, 3)
	m := model.MLP{Dim: 4, Hidden: []int{5}, Classes: 3}
	global := randomParams(rand.New(rand.NewPCG(8, 9)), m.NumParams(), 1)
	tr := newTrainer(t, model.TrainerConfig{Model: m, Train: d, LR: 1e-200, BatchSize: 7, Epochs: 2})
	u := train(t, tr, global, nil)
	if want := naiveMeanLoss(sizesOf(m), global, d); math.Abs(u.Metrics[fl.KeyLoss]-want) > 1e-13 {
		t.Errorf("loss metric %v, want the mean loss %v", u.Metrics[fl.KeyLoss], want)
	}
}

// TestBatchLargerThanData: a minibatch larger than the data set is the
// full batch.
func TestBatchLargerThanData(t *testing.T) {
	d := blobs(5, 30, 3, 2, 2)
	m := model.Softmax{Dim: 3, Classes: 2}
	global := make([]float64, m.NumParams())
	tr := newTrainer(t, model.TrainerConfig{Model: m, Train: d})
	full := train(t, tr, global, fl.Config{fl.KeyBatchSize: 30})
	big := train(t, tr, global, fl.Config{fl.KeyBatchSize: 1e6})
	if !slices.Equal(full.Delta, big.Delta) {
		t.Error("batch 1e6 differs from batch 30 on 30 examples")
	}
}

func TestTrainErrors(t *testing.T) {
	d := blobs(6, 20, 3, 2, 2)
	m := model.Softmax{Dim: 3, Classes: 2}
	good := make([]float64, m.NumParams())
	nan := slices.Clone(good)
	nan[3] = math.NaN()
	inf := slices.Clone(good)
	inf[0] = math.Inf(1)
	tr := newTrainer(t, model.TrainerConfig{Model: m, Train: d})
	for _, tc := range []struct {
		name   string
		global []float64
		cfg    fl.Config
		want   error
	}{
		{"short global", good[:5], nil, model.ErrParamsLength},
		{"long global", append(slices.Clone(good), 1), nil, model.ErrParamsLength},
		{"nil global", nil, nil, model.ErrParamsLength},
		{"NaN global", nan, nil, model.ErrNotFinite},
		{"Inf global", inf, nil, model.ErrNotFinite},
		{"lr 0", good, fl.Config{fl.KeyLR: 0}, model.ErrInvalidConfig},
		{"lr negative", good, fl.Config{fl.KeyLR: -1}, model.ErrInvalidConfig},
		{"lr NaN", good, fl.Config{fl.KeyLR: math.NaN()}, model.ErrInvalidConfig},
		{"lr Inf", good, fl.Config{fl.KeyLR: math.Inf(1)}, model.ErrInvalidConfig},
		{"epochs 0", good, fl.Config{fl.KeyEpochs: 0}, model.ErrInvalidConfig},
		{"epochs fractional", good, fl.Config{fl.KeyEpochs: 1.5}, model.ErrInvalidConfig},
		{"epochs NaN", good, fl.Config{fl.KeyEpochs: math.NaN()}, model.ErrInvalidConfig},
		{"epochs huge", good, fl.Config{fl.KeyEpochs: 1e18}, model.ErrInvalidConfig},
		{"batch 0", good, fl.Config{fl.KeyBatchSize: 0}, model.ErrInvalidConfig},
		{"batch negative", good, fl.Config{fl.KeyBatchSize: -4}, model.ErrInvalidConfig},
		{"batch fractional", good, fl.Config{fl.KeyBatchSize: 2.5}, model.ErrInvalidConfig},
		{"batch Inf", good, fl.Config{fl.KeyBatchSize: math.Inf(1)}, model.ErrInvalidConfig},
		{"mu negative", good, fl.Config{fl.KeyMu: -0.1}, model.ErrInvalidConfig},
		{"mu NaN", good, fl.Config{fl.KeyMu: math.NaN()}, model.ErrInvalidConfig},
		{"round negative", good, fl.Config{fl.KeyRound: -1}, model.ErrInvalidConfig},
		{"round fractional", good, fl.Config{fl.KeyRound: 0.5}, model.ErrInvalidConfig},
		{"round NaN", good, fl.Config{fl.KeyRound: math.NaN()}, model.ErrInvalidConfig},
		{"diverges", good, fl.Config{fl.KeyLR: 1e200, fl.KeyMu: 10, fl.KeyEpochs: 3}, model.ErrDiverged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := tr.Train(context.Background(), tc.global, tc.cfg)
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if u.Delta != nil {
				t.Error("error with a non-nil Delta")
			}
		})
	}
	// The trainer still works after the errors.
	if _, err := tr.Train(context.Background(), good, nil); err != nil {
		t.Errorf("after errors: %v", err)
	}
}

func TestNewTrainerErrors(t *testing.T) {
	m := model.Softmax{Dim: 3, Classes: 2}
	d := blobs(6, 20, 3, 2, 2)
	nanX := blobs(6, 20, 3, 2, 2)
	nanX.X[0] = math.NaN()
	base := model.TrainerConfig{Model: m, Train: d}
	for _, tc := range []struct {
		name string
		edit func(*model.TrainerConfig)
		want error
	}{
		{"nil model", func(c *model.TrainerConfig) { c.Model = nil }, model.ErrInvalidModel},
		{"bad model", func(c *model.TrainerConfig) { c.Model = model.Softmax{Dim: 3} }, model.ErrInvalidModel},
		{"nil train", func(c *model.TrainerConfig) { c.Train = nil }, model.ErrInvalidData},
		{"empty train", func(c *model.TrainerConfig) { c.Train = &dataset.Dataset{Dim: 3, Classes: 2} }, model.ErrInvalidData},
		{"train dim", func(c *model.TrainerConfig) { c.Train = blobs(6, 20, 4, 2, 2) }, model.ErrInvalidData},
		{"train NaN", func(c *model.TrainerConfig) { c.Train = nanX }, model.ErrInvalidData},
		{"test dim", func(c *model.TrainerConfig) { c.Test = blobs(6, 20, 4, 2, 2) }, model.ErrInvalidData},
		{"test classes", func(c *model.TrainerConfig) { c.Test = blobs(6, 20, 3, 5, 2) }, model.ErrInvalidData},
		{"LR negative", func(c *model.TrainerConfig) { c.LR = -0.1 }, model.ErrInvalidConfig},
		{"LR NaN", func(c *model.TrainerConfig) { c.LR = math.NaN() }, model.ErrInvalidConfig},
		{"Mu negative", func(c *model.TrainerConfig) { c.Mu = -1 }, model.ErrInvalidConfig},
		{"L2 Inf", func(c *model.TrainerConfig) { c.L2 = math.Inf(1) }, model.ErrInvalidConfig},
		{"Epochs negative", func(c *model.TrainerConfig) { c.Epochs = -1 }, model.ErrInvalidConfig},
		{"BatchSize negative", func(c *model.TrainerConfig) { c.BatchSize = -1 }, model.ErrInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.edit(&cfg)
			if err := cfg.Validate(); !errors.Is(err, tc.want) {
				t.Errorf("Validate() = %v, want %v", err, tc.want)
			}
			if tr, err := model.NewTrainer(cfg); !errors.Is(err, tc.want) || tr != nil {
				t.Errorf("NewTrainer() = %v, %v, want nil, %v", tr, err, tc.want)
			}
		})
	}
}

func TestTrainerDefaults(t *testing.T) {
	d := blobs(6, 20, 3, 2, 2)
	got := newTrainer(t, model.TrainerConfig{Model: model.Softmax{Dim: 3, Classes: 2}, Train: d}).Config()
	def := model.DefaultTrainerConfig()
	if got.LR != def.LR || got.Epochs != def.Epochs || got.BatchSize != def.BatchSize || got.Mu != 0 || got.L2 != 0 {
		t.Errorf("zero config became %+v, want the defaults %+v", got, def)
	}
	if def.LR != model.DefaultLR || def.Epochs != 1 || def.BatchSize != 10 || def.Mu != 0 {
		t.Errorf("DefaultTrainerConfig() = %+v", def)
	}
}

// cancelAfter is a context whose Err reports cancellation from its
// (after+1)th call on; it counts the calls.
type cancelAfter struct {
	context.Context
	after, calls int64
}

func (c *cancelAfter) Err() error {
	if atomic.AddInt64(&c.calls, 1) > c.after {
		return context.Canceled
	}
	return nil
}

func TestTrainCancel(t *testing.T) {
	d := blobs(6, 100, 3, 2, 2)
	m := model.Softmax{Dim: 3, Classes: 2}
	global := make([]float64, m.NumParams())
	tr := newTrainer(t, model.TrainerConfig{Model: m, Train: d, BatchSize: 10, Epochs: 3})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.Train(ctx, global, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before: err = %v", err)
	}
	if _, err := tr.Evaluate(ctx, global); !errors.Is(err, context.Canceled) {
		t.Errorf("Evaluate cancelled before: err = %v", err)
	}
	// 30 minibatches in all; cancel during the 5th: Train must stop there.
	c := &cancelAfter{Context: context.Background(), after: 5}
	u, err := tr.Train(c, global, nil)
	if !errors.Is(err, context.Canceled) || u.Delta != nil {
		t.Errorf("cancelled during: %v, %v", u, err)
	}
	if c.calls > 6 {
		t.Errorf("Train asked ctx.Err %d times after cancellation at call 6", c.calls)
	}
}

// TestTrainAllocs: once warm, a Train call allocates the same (small)
// amount whatever the number of minibatches: nothing per minibatch.
func TestTrainAllocs(t *testing.T) {
	for _, m := range []model.Model{
		model.Softmax{Dim: 20, Classes: 4},
		model.MLP{Dim: 20, Hidden: []int{16}, Classes: 4},
	} {
		d := blobs(9, 200, 20, 4, 1)
		global := make([]float64, m.NumParams())
		tr := newTrainer(t, model.TrainerConfig{Model: m, Train: d, BatchSize: 10, Mu: 0.1, L2: 1e-4})
		allocs := func(epochs float64) float64 {
			cfg := fl.Config{fl.KeyEpochs: epochs}
			train(t, tr, global, cfg) // warm
			return testing.AllocsPerRun(5, func() { train(t, tr, global, cfg) })
		}
		one, four := allocs(1), allocs(4)
		if one != four || one > 4 {
			t.Errorf("%T: %v allocs for 20 minibatches, %v for 80; want equal and ≤ 4", m, one, four)
		}
	}
}

func TestTrainerEvaluate(t *testing.T) {
	trainSet, testSet := split(blobs(10, 250, 4, 3, 1), 150)
	m := model.MLP{Dim: 4, Hidden: []int{6}, Classes: 3}
	params := make([]float64, m.NumParams())
	m.Init(rand.New(rand.NewPCG(2, 2)), params)
	for _, tc := range []struct {
		name string
		test *dataset.Dataset
		want *dataset.Dataset
	}{{"test set", testSet, testSet}, {"no test set", nil, trainSet}} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTrainer(t, model.TrainerConfig{Model: m, Train: trainSet, Test: tc.test})
			got, err := tr.Evaluate(context.Background(), params)
			if err != nil {
				t.Fatal(err)
			}
			loss, acc, err := model.Evaluate(m, params, tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if got[fl.KeyLoss] != loss || got[fl.KeyAccuracy] != acc || got[fl.KeyExamples] != float64(tc.want.Len()) {
				t.Errorf("metrics %v, want loss %v accuracy %v examples %d", got, loss, acc, tc.want.Len())
			}
			if _, err := tr.Evaluate(context.Background(), params[1:]); !errors.Is(err, model.ErrParamsLength) {
				t.Errorf("short params: %v", err)
			}
			bad := slices.Clone(params)
			bad[0] = math.NaN()
			if _, err := tr.Evaluate(context.Background(), bad); !errors.Is(err, model.ErrNotFinite) {
				t.Errorf("NaN params: %v", err)
			}
		})
	}
}

// constGradModel is a Model whose loss is always 0 and whose gradient is
// always −1: each SGD step adds lr to every parameter.
type constGradModel struct{}

func (constGradModel) NumParams() int                                  { return 3 }
func (constGradModel) Shape() (int, int)                               { return 1, 2 }
func (constGradModel) Validate() error                                 { return nil }
func (constGradModel) Init(_ *rand.Rand, p []float64)                  { clear(p) }
func (constGradModel) NewWorkspace(int) model.Workspace                { return constGradModel{} }
func (constGradModel) Eval([]float64, []float64, []int) (float64, int) { return 0, 0 }
func (constGradModel) LossGrad(g, _, _ []float64, _ []int) float64 {
	for i := range g {
		g[i] = -1
	}
	return 0
}

// TestTrainDeltaOverflow: local parameters that stay finite but whose
// difference from global overflows must not yield an Inf delta. From
// −1.7e308, two steps of +1e308 reach 0.3e308, a delta of 2e308 = +Inf.
func TestTrainDeltaOverflow(t *testing.T) {
	d := &dataset.Dataset{X: []float64{0, 0}, Y: []int{0, 1}, Dim: 1, Classes: 2}
	tr := newTrainer(t, model.TrainerConfig{Model: constGradModel{}, Train: d, BatchSize: 1})
	global := []float64{-1.7e308, -1.7e308, -1.7e308}
	if _, err := tr.Train(context.Background(), global, fl.Config{fl.KeyLR: 1e308}); !errors.Is(err, model.ErrDiverged) {
		t.Errorf("err = %v, want ErrDiverged", err)
	}
	// For contrast, a finite case: from −0.8e308, two steps of +0.8e308
	// end at 0.8e308, a delta of 1.6e308.
	global = []float64{-0.8e308, -0.8e308, -0.8e308}
	u, err := tr.Train(context.Background(), global, fl.Config{fl.KeyLR: 0.8e308})
	if err != nil || u.Delta[0] != 1.6e308 {
		t.Errorf("finite case: delta %v, err %v; want 1.6e308", u.Delta, err)
	}
}
