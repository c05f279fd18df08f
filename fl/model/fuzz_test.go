package model_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/model"
)

// FuzzTrainConfig feeds Train arbitrary round hyperparameters, as a
// hostile or buggy server could send: Train must return an error or a
// finite update of the right length, never panic. A context that cancels
// after 200 minibatches bounds the work of huge epoch counts.
func FuzzTrainConfig(f *testing.F) {
	f.Add(0.05, 1.0, 10.0, 0.0, 1.0, 0.0, 0.0)
	f.Add(0.0, 0.0, 0.0, -1.0, -1.0, -1.0, -1.0)
	f.Add(1e300, 3.0, 1.0, 1e300, 5.0, 0.999999, 1e300)
	f.Add(math.NaN(), math.Inf(1), math.Inf(-1), math.NaN(), 1e20, math.NaN(), math.Inf(1))
	f.Add(0.1, 1e6, 1e9, 0.5, 9007199254740992.0, 1.0, 0.0)
	f.Add(math.Copysign(0, -1), 2.5, 3.0, 1e-300, 0.5, 0.9, 1e-5)
	f.Add(0.5, 50.0, 1.0, 0.0, 2.0, 0.99, 0.0)
	d := blobs(1, 12, 3, 3, 2)
	m := model.MLP{Dim: 3, Hidden: []int{4}, Classes: 3}
	tr, err := model.NewTrainer(model.TrainerConfig{Model: m, Train: d, Seed: 1})
	if err != nil {
		f.Fatal(err)
	}
	global := make([]float64, m.NumParams())
	f.Fuzz(func(t *testing.T, lr, epochs, batch, mu, round, momentum, decay float64) {
		cfg := fl.Config{fl.KeyLR: lr, fl.KeyEpochs: epochs, fl.KeyBatchSize: batch, fl.KeyMu: mu, fl.KeyRound: round,
			model.KeyMomentum: momentum, model.KeyWeightDecay: decay}
		ctx := &cancelAfter{Context: context.Background(), after: 200}
		u, err := tr.Train(ctx, global, cfg)
		if err != nil {
			if !errors.Is(err, model.ErrInvalidConfig) && !errors.Is(err, model.ErrDiverged) && !errors.Is(err, context.Canceled) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if len(u.Delta) != m.NumParams() {
			t.Fatalf("delta length %d", len(u.Delta))
		}
		for i, v := range u.Delta {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("delta[%d] = %v", i, v)
			}
		}
		if l := u.Metrics[fl.KeyLoss]; math.IsNaN(l) || math.IsInf(l, 0) {
			t.Fatalf("loss %v", l)
		}
	})
}
