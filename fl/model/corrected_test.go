package model_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/model"
)

// One full-batch step with a correction c is w − lr(∇F(w) + c): the
// corrected delta equals the plain one minus lr·c. Two steps are checked
// against a hand-rolled loop of the same steps, with the gradient from
// a plain one-step Train at each point.
func TestTrainCorrectedStep(t *testing.T) {
	d := blobs(5, 24, 3, 3, 2)
	m := model.Softmax{Dim: 3, Classes: 3}
	rng := rand.New(rand.NewPCG(3, 4))
	global := randomParams(rng, m.NumParams(), 0.3)
	corr := randomParams(rng, m.NumParams(), 0.5)
	const lr = 0.1
	one := fl.Config{fl.KeyLR: lr, fl.KeyBatchSize: 24, fl.KeyEpochs: 1}
	tr := newTrainer(t, model.TrainerConfig{Model: m, Train: d})
	plain := train(t, tr, global, one)
	got, err := tr.TrainCorrected(context.Background(), global, one, corr)
	if err != nil {
		t.Fatal(err)
	}
	for i := range corr {
		if want := plain.Delta[i] - lr*corr[i]; math.Abs(got.Delta[i]-want) > 1e-15 {
			t.Fatalf("delta[%d] = %v, want %v", i, got.Delta[i], want)
		}
	}
	if got.Metrics[model.KeySteps] != 1 || got.Metrics[model.KeyStepLR] != lr {
		t.Errorf("metrics %v, want 1 step at lr %v", got.Metrics, lr)
	}

	// Two epochs: w2 = w1 − lr(∇F(w1) + c), with ∇F(w1) = −Δ_plain(w1)/lr.
	two := fl.Config{fl.KeyLR: lr, fl.KeyBatchSize: 24, fl.KeyEpochs: 2}
	got2, err := tr.TrainCorrected(context.Background(), global, two, corr)
	if err != nil {
		t.Fatal(err)
	}
	w1 := add(global, got.Delta)
	g1 := train(t, tr, w1, one).Delta // −lr∇F(w1)
	for i := range corr {
		want := got.Delta[i] + g1[i] - lr*corr[i]
		if math.Abs(got2.Delta[i]-want) > 1e-14 {
			t.Fatalf("two steps: delta[%d] = %v, want %v", i, got2.Delta[i], want)
		}
	}
	if got2.Metrics[model.KeySteps] != 2 {
		t.Errorf("steps %v, want 2", got2.Metrics[model.KeySteps])
	}
	// τ = epochs × ⌈n/b⌉.
	u := train(t, tr, global, fl.Config{fl.KeyBatchSize: 10, fl.KeyEpochs: 3})
	if u.Metrics[model.KeySteps] != 9 {
		t.Errorf("steps %v, want 3 × ⌈24/10⌉ = 9", u.Metrics[model.KeySteps])
	}
}

func TestTrainCorrectedRejectsBadCorrection(t *testing.T) {
	d := blobs(5, 24, 3, 3, 2)
	m := model.Softmax{Dim: 3, Classes: 3}
	tr := newTrainer(t, model.TrainerConfig{Model: m, Train: d})
	global := make([]float64, m.NumParams())
	if _, err := tr.TrainCorrected(context.Background(), global, nil, make([]float64, 3)); !errors.Is(err, model.ErrParamsLength) {
		t.Errorf("short correction: %v, want ErrParamsLength", err)
	}
	bad := make([]float64, m.NumParams())
	bad[2] = math.NaN()
	if _, err := tr.TrainCorrected(context.Background(), global, nil, bad); !errors.Is(err, model.ErrNotFinite) {
		t.Errorf("NaN correction: %v, want ErrNotFinite", err)
	}
}
