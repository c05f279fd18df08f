package model_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/model"
)

var benchWorkloads = []struct {
	name  string
	m     model.Model
	n     int
	batch int
}{
	{"softmax-60x10/n=200", model.Softmax{Dim: 60, Classes: 10}, 200, 10}, // the quickstart workload
	{"softmax-784x10/n=600", model.Softmax{Dim: 784, Classes: 10}, 600, 10},
	{"mlp-784-128-10/n=600", model.MLP{Dim: 784, Hidden: []int{128}, Classes: 10}, 600, 10},
	{"mlp-784-128-10/n=600/batch=64", model.MLP{Dim: 784, Hidden: []int{128}, Classes: 10}, 600, 64},
	{"mlp-60-32-10/n=200", model.MLP{Dim: 60, Hidden: []int{32}, Classes: 10}, 200, 10},
}

// BenchmarkTrainEpoch measures one local epoch of Trainer.Train, the time
// a simulation spends per client and round. SetBytes counts the features
// read.
func BenchmarkTrainEpoch(b *testing.B) {
	for _, w := range benchWorkloads {
		b.Run(w.name, func(b *testing.B) {
			dim, classes := w.m.Shape()
			d := blobs(1, w.n, dim, classes, 1)
			global := make([]float64, w.m.NumParams())
			w.m.Init(rand.New(rand.NewPCG(1, 1)), global)
			tr, err := model.NewTrainer(model.TrainerConfig{Model: w.m, Train: d, BatchSize: w.batch, LR: 0.01})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			cfg := fl.Config{fl.KeyRound: 1}
			if _, err := tr.Train(ctx, global, cfg); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(8 * w.n * dim))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tr.Train(ctx, global, cfg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(w.n*b.N)/b.Elapsed().Seconds(), "examples/s")
		})
	}
}

// BenchmarkEvaluate measures Trainer.Evaluate over the local data.
func BenchmarkEvaluate(b *testing.B) {
	for _, w := range benchWorkloads[:3] {
		b.Run(w.name, func(b *testing.B) {
			dim, classes := w.m.Shape()
			d := blobs(1, w.n, dim, classes, 1)
			params := make([]float64, w.m.NumParams())
			w.m.Init(rand.New(rand.NewPCG(1, 1)), params)
			tr, err := model.NewTrainer(model.TrainerConfig{Model: w.m, Train: d})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(8 * w.n * dim))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tr.Evaluate(context.Background(), params); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(w.n*b.N)/b.Elapsed().Seconds(), "examples/s")
		})
	}
}

// BenchmarkNewTrainer measures building a Trainer, which checks every
// feature of its data: simulations that build a client's trainer afresh
// each round pay it once per client and round.
func BenchmarkNewTrainer(b *testing.B) {
	for _, w := range benchWorkloads[:3] {
		b.Run(w.name, func(b *testing.B) {
			dim, classes := w.m.Shape()
			d := blobs(1, w.n, dim, classes, 1)
			b.SetBytes(int64(8 * w.n * dim))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := model.NewTrainer(model.TrainerConfig{Model: w.m, Train: d}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
