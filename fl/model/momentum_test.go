package model_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/model"
)

// TestTrainMomentumFollowsReference runs one to three full-batch steps
// with momentum and checks them against torch.optim.SGD's update written
// from its documentation (dampening 0, not Nesterov): d = ∇f(w) + λw,
// v ← βv + d (v₀ = 0), w ← w − lr·v, where ∇f is the central-difference
// gradient of the naive objective (mean cross-entropy plus the FedProx
// term) and the buffer starts at zero on every Train call.
func TestTrainMomentumFollowsReference(t *testing.T) {
	const lr = 0.1
	for k, m := range []model.Model{
		model.Softmax{Dim: 3, Classes: 3},
		model.MLP{Dim: 3, Hidden: []int{4}, Classes: 3},
	} {
		for _, reg := range []struct{ beta, l2, mu float64 }{{0.9, 0, 0}, {0.5, 0.05, 0}, {0.9, 0.01, 0.3}} {
			rng := rand.New(rand.NewPCG(31, uint64(k)))
			d := randomBatch(rng, 12, 3, 3)
			global := randomParams(rng, m.NumParams(), 0.5)
			sizes := sizesOf(m)
			loss := func(w []float64) float64 {
				f := naiveMeanLoss(sizes, w, d)
				for i, v := range w {
					f += reg.mu / 2 * (v - global[i]) * (v - global[i])
				}
				return f
			}
			tr := newTrainer(t, model.TrainerConfig{Model: m, Train: d, LR: lr, BatchSize: d.Len(), Seed: 4,
				Momentum: reg.beta, L2: reg.l2, Mu: reg.mu})
			w := append([]float64(nil), global...)
			v := make([]float64, len(w))
			for steps := 1; steps <= 3; steps++ {
				g := fdGrad(loss, w)
				for i := range w {
					v[i] = reg.beta*v[i] + g[i] + reg.l2*w[i]
					w[i] -= lr * v[i]
				}
				got := add(global, train(t, tr, global, fl.Config{fl.KeyRound: 2, fl.KeyEpochs: float64(steps)}).Delta)
				for i := range w {
					if math.Abs(got[i]-w[i]) > 1e-8 {
						t.Fatalf("%T %+v: after %d steps w[%d] = %.12g, want %.12g", m, reg, steps, i, got[i], w[i])
					}
				}
			}
		}
	}
}

// TestTrainConfigKeysOverride: the round's momentum and weight_decay keys
// give the same bits as the same values in TrainerConfig, and differ from
// training without them.
func TestTrainConfigKeysOverride(t *testing.T) {
	d := blobs(4, 50, 5, 3, 1)
	m := model.MLP{Dim: 5, Hidden: []int{6}, Classes: 3}
	global := make([]float64, m.NumParams())
	m.Init(rand.New(rand.NewPCG(1, 1)), global)
	base := model.TrainerConfig{Model: m, Train: d, BatchSize: 8, Seed: 3}
	set := base
	set.Momentum, set.L2 = 0.9, 0.01
	viaCfg := train(t, newTrainer(t, base), global, fl.Config{fl.KeyRound: 1, model.KeyMomentum: 0.9, model.KeyWeightDecay: 0.01})
	viaField := train(t, newTrainer(t, set), global, fl.Config{fl.KeyRound: 1})
	plain := train(t, newTrainer(t, base), global, fl.Config{fl.KeyRound: 1})
	off := train(t, newTrainer(t, set), global, fl.Config{fl.KeyRound: 1, model.KeyMomentum: 0, model.KeyWeightDecay: 0})
	same := func(a, b []float64) bool {
		for i := range a {
			if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
				return false
			}
		}
		return true
	}
	if !same(viaCfg.Delta, viaField.Delta) {
		t.Error("config keys and TrainerConfig fields differ")
	}
	if same(viaCfg.Delta, plain.Delta) {
		t.Error("momentum and weight decay changed nothing")
	}
	if !same(off.Delta, plain.Delta) {
		t.Error("keys set to 0 do not turn the fields off")
	}
}

func TestMomentumConfigErrors(t *testing.T) {
	d := blobs(4, 20, 3, 2, 1)
	m := model.Softmax{Dim: 3, Classes: 2}
	for _, beta := range []float64{-0.1, 1, 1.5, math.NaN(), math.Inf(1)} {
		if _, err := model.NewTrainer(model.TrainerConfig{Model: m, Train: d, Momentum: beta}); !errors.Is(err, model.ErrInvalidConfig) {
			t.Errorf("Momentum %v: NewTrainer = %v, want ErrInvalidConfig", beta, err)
		}
	}
	tr := newTrainer(t, model.TrainerConfig{Model: m, Train: d})
	global := make([]float64, m.NumParams())
	for _, cfg := range []fl.Config{
		{model.KeyMomentum: 1}, {model.KeyMomentum: -0.5}, {model.KeyMomentum: math.NaN()},
		{model.KeyWeightDecay: -1}, {model.KeyWeightDecay: math.Inf(1)}, {model.KeyWeightDecay: math.NaN()},
	} {
		if _, err := tr.Train(context.Background(), global, cfg); !errors.Is(err, model.ErrInvalidConfig) {
			t.Errorf("%v: Train = %v, want ErrInvalidConfig", cfg, err)
		}
	}
}

// bars is a small image task: 8×8 images holding one horizontal (class 0)
// or vertical (class 1) bar of two pixels' width anywhere, on noise.
func bars(seed uint64, n int) *dataset.Dataset {
	rng := rand.New(rand.NewPCG(seed, 77))
	d := &dataset.Dataset{X: make([]float64, n*64), Y: make([]int, n), Dim: 64, Classes: 2}
	for i := range n {
		x := d.X[i*64 : (i+1)*64]
		for j := range x {
			x[j] = 0.2 * rng.Float64()
		}
		y, at := rng.IntN(2), rng.IntN(7)
		for u := range 8 {
			for v := at; v < at+2; v++ {
				if y == 0 {
					x[v*8+u] += 1
				} else {
					x[u*8+v] += 1
				}
			}
		}
		d.Y[i] = y
	}
	return d
}

var barsCNN = model.Sequential{Input: model.Shape{C: 1, H: 8, W: 8}, Classes: 2, Layers: []model.Layer{
	model.Conv2D{Filters: 4, Kernel: 3, Padding: model.Same}, model.ReLU{}, model.MaxPool2D{Size: 2},
	model.Flatten{}, model.Dense{Units: 2},
}}

// TestCNNTrainer: a Sequential network plugs into the Trainer like the
// other models, learns the bars, and its rounds are bit-for-bit
// reproducible from the seed.
func TestCNNTrainer(t *testing.T) {
	train1, test := bars(1, 400), bars(2, 200)
	m := barsCNN
	global := make([]float64, m.NumParams())
	m.Init(rand.New(rand.NewPCG(3, 3)), global)
	cfg := model.TrainerConfig{Model: m, Train: train1, Test: test, LR: 0.05, Momentum: 0.9, L2: 1e-5, BatchSize: 16, Epochs: 2, Seed: 9}
	tr := newTrainer(t, cfg)
	w := append([]float64(nil), global...)
	var first fl.Update
	for r := range 3 {
		u := train(t, tr, w, fl.Config{fl.KeyRound: float64(r)})
		if r == 0 {
			first = u
		}
		w = add(w, u.Delta)
	}
	met, err := tr.Evaluate(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	if acc := met[fl.KeyAccuracy]; acc < 0.95 {
		t.Errorf("CNN accuracy on bars %v, want ≥ 0.95", acc)
	}
	again := train(t, newTrainer(t, cfg), global, fl.Config{fl.KeyRound: 0})
	for i := range first.Delta {
		if math.Float64bits(first.Delta[i]) != math.Float64bits(again.Delta[i]) {
			t.Fatalf("delta[%d] differs between two trainers of the same seed", i)
		}
	}
}

// TestLargeMinibatchIsChunked: a minibatch larger than the workspace
// (128 examples) is computed in chunks, and the step is still the full
// minibatch's gradient step, checked against central differences of the
// naive loss over all 300 examples.
func TestLargeMinibatchIsChunked(t *testing.T) {
	const lr = 0.3
	m := model.MLP{Dim: 3, Hidden: []int{4}, Classes: 3}
	rng := rand.New(rand.NewPCG(41, 1))
	d := randomBatch(rng, 300, 3, 3)
	global := randomParams(rng, m.NumParams(), 0.5)
	tr := newTrainer(t, model.TrainerConfig{Model: m, Train: d, LR: lr, BatchSize: 300, Seed: 1})
	u := train(t, tr, global, fl.Config{fl.KeyRound: 1})
	g := fdGrad(func(w []float64) float64 { return naiveMeanLoss(sizesOf(m), w, d) }, global)
	for i, v := range u.Delta {
		if want := -lr * g[i]; math.Abs(v-want) > 1e-8 {
			t.Fatalf("delta[%d] = %.12g, want %.12g", i, v, want)
		}
	}
	if want := naiveMeanLoss(sizesOf(m), global, d); math.Abs(u.Metrics[fl.KeyLoss]-want) > 1e-12 {
		t.Errorf("loss %v, want %v", u.Metrics[fl.KeyLoss], want)
	}
}

// TestTrainMemoryBoundedByChunk plays a server that asks for one
// minibatch of all 600 local examples on the CNN: without chunking the
// workspace alone would take about 88 MB (146 KB per example); with it
// the whole call must stay under 40 MB.
func TestTrainMemoryBoundedByChunk(t *testing.T) {
	m := model.NIIDBenchCNN(model.Shape{C: 1, H: 28, W: 28}, 10)
	rng := rand.New(rand.NewPCG(42, 1))
	d := randomBatch(rng, 600, 784, 10)
	global := make([]float64, m.NumParams())
	m.Init(rng, global)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	tr := newTrainer(t, model.TrainerConfig{Model: m, Train: d, LR: 0.01, Seed: 1})
	train(t, tr, global, fl.Config{fl.KeyBatchSize: 1e9, fl.KeyRound: 1})
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 40<<20 {
		t.Errorf("Train allocated %d MB, want < 40", got>>20)
	}
}

// goldenDeltas are the SHA-256 digests of the bits of one round's delta
// (see TestTrainGoldenBits), recorded on amd64 with gonum's assembly; the
// same program built for 386 (portable kernels, no FMA-capable exp) gave
// the same digests. `go test -tags noasm` runs the portable kernels here.
var goldenDeltas = map[string]string{
	"cnn": "13073c621fdc51361534655c65cc46a530d3ec9aebc851adc0d0f803abc8cba6",
	"mlp": "df3b85659118adbf8f287d0ec3458036562575bd3419a7e2fbdbc52b81abf7e8",
}

// TestTrainGoldenBits trains one round of the niid_bench CNN and of an
// MLP (momentum, weight decay and the proximal term on, minibatches of
// 32 and a last one of 4) from seeded data and compares the digest of the
// delta with the recorded one: the fast and the portable kernels, and any
// GOARCH, must produce these bits.
func TestTrainGoldenBits(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    model.Model
	}{
		{"cnn", model.NIIDBenchCNN(model.Shape{C: 1, H: 28, W: 28}, 10)},
		{"mlp", model.MLP{Dim: 784, Hidden: []int{32}, Classes: 10}},
	} {
		rng := rand.New(rand.NewPCG(99, 1))
		d := randomBatch(rng, 100, 784, 10)
		global := make([]float64, tc.m.NumParams())
		tc.m.Init(rng, global)
		tr := newTrainer(t, model.TrainerConfig{Model: tc.m, Train: d, LR: 0.01, Momentum: 0.9, L2: 1e-5, Mu: 0.01, BatchSize: 32, Seed: 5})
		u := train(t, tr, global, fl.Config{fl.KeyRound: 3})
		h := sha256.New()
		for _, v := range u.Delta {
			h.Write(binary.LittleEndian.AppendUint64(nil, math.Float64bits(v)))
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != goldenDeltas[tc.name] {
			t.Errorf("%s: delta digest %s, want %s", tc.name, got, goldenDeltas[tc.name])
		}
	}
}
