package model_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/model"
)

// TrainFrom(g, g) is Train(g) bit for bit, with and without the proximal
// term and momentum.
func TestTrainFromSameStartIsTrain(t *testing.T) {
	d := blobs(7, 30, 3, 3, 2)
	m := model.Softmax{Dim: 3, Classes: 3}
	g := randomParams(rand.New(rand.NewPCG(1, 1)), m.NumParams(), 0.4)
	for _, cfg := range []fl.Config{
		{fl.KeyRound: 2, fl.KeyEpochs: 2},
		{fl.KeyRound: 3, fl.KeyMu: 0.5, model.KeyMomentum: 0.9, model.KeyWeightDecay: 1e-3},
	} {
		tr := newTrainer(t, model.TrainerConfig{Model: m, Train: d, Seed: 4})
		want := train(t, tr, g, cfg)
		got, err := tr.TrainFrom(context.Background(), g, g, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Delta, want.Delta) || got.Weight != want.Weight {
			t.Fatalf("cfg %v: TrainFrom(g, g) differs from Train(g)", cfg)
		}
	}
}

// One full-batch step from v with the proximal term toward a is
// v − lr(∇F(v) + μ(v − a)), with ∇F(v) = −Δ/lr of a plain one-step Train
// at v; two steps repeat it from the new point. The delta is taken from
// the start v, and neither v nor a is modified.
func TestTrainFromProximalStep(t *testing.T) {
	d := blobs(5, 24, 3, 3, 2)
	m := model.Softmax{Dim: 3, Classes: 3}
	rng := rand.New(rand.NewPCG(3, 4))
	v := randomParams(rng, m.NumParams(), 0.3)
	a := randomParams(rng, m.NumParams(), 0.5)
	v0, a0 := slices.Clone(v), slices.Clone(a)
	const lr, mu = 0.1, 2.0
	plain := fl.Config{fl.KeyLR: lr, fl.KeyBatchSize: 24, fl.KeyEpochs: 1}
	prox := fl.Config{fl.KeyLR: lr, fl.KeyBatchSize: 24, fl.KeyEpochs: 1, fl.KeyMu: mu}
	tr := newTrainer(t, model.TrainerConfig{Model: m, Train: d})

	got, err := tr.TrainFrom(context.Background(), v, a, prox)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v, v0) || !slices.Equal(a, a0) {
		t.Fatal("TrainFrom modified start or anchor")
	}
	g0 := train(t, tr, v, plain).Delta // −lr∇F(v)
	want := make([]float64, len(v))
	for i := range v {
		want[i] = g0[i] - lr*mu*(v[i]-a[i])
	}
	near(t, "one step", got.Delta, want, 1e-15)

	two := fl.Config{fl.KeyLR: lr, fl.KeyBatchSize: 24, fl.KeyEpochs: 2, fl.KeyMu: mu}
	got2, err := tr.TrainFrom(context.Background(), v, a, two)
	if err != nil {
		t.Fatal(err)
	}
	v1 := add(v, got.Delta)
	g1 := train(t, tr, v1, plain).Delta
	for i := range v {
		want[i] = got.Delta[i] + g1[i] - lr*mu*(v1[i]-a[i])
	}
	near(t, "two steps", got2.Delta, want, 1e-14)
}

func near(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	for i := range want {
		if math.Abs(got[i]-want[i]) > tol {
			t.Fatalf("%s: [%d] = %.17g, want %.17g", what, i, got[i], want[i])
		}
	}
}

func TestTrainFromErrors(t *testing.T) {
	d := blobs(5, 24, 3, 3, 2)
	m := model.Softmax{Dim: 3, Classes: 3}
	tr := newTrainer(t, model.TrainerConfig{Model: m, Train: d})
	ok := make([]float64, m.NumParams())
	bad := make([]float64, m.NumParams())
	bad[1] = math.Inf(1)
	for name, tc := range map[string]struct {
		start, anchor []float64
		want          error
	}{
		"short start":  {ok[:3], ok, model.ErrParamsLength},
		"short anchor": {ok, ok[:3], model.ErrParamsLength},
		"Inf start":    {bad, ok, model.ErrNotFinite},
		"Inf anchor":   {ok, bad, model.ErrNotFinite},
	} {
		if _, err := tr.TrainFrom(context.Background(), tc.start, tc.anchor, nil); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}
