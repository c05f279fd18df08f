package model_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/model"
)

// twoBlobs returns n examples around (−2, −2) (class 0) and (2, 2) (class 1).
func twoBlobs(seed uint64, n int) *dataset.Dataset {
	rng := rand.New(rand.NewPCG(seed, 0))
	d := &dataset.Dataset{X: make([]float64, 2*n), Y: make([]int, n), Dim: 2, Classes: 2}
	for i := range n {
		c := float64(4*(i%2) - 2)
		d.X[2*i] = c + rng.NormFloat64()
		d.X[2*i+1] = c + rng.NormFloat64()
		d.Y[i] = i % 2
	}
	return d
}

// One client trains a softmax model for three rounds, applying each update
// to the global model as a one-client FedAvg would.
func ExampleNewTrainer() {
	m := model.Softmax{Dim: 2, Classes: 2}
	cfg := model.DefaultTrainerConfig()
	cfg.Model = m
	cfg.ID = "client-0"
	cfg.Train = twoBlobs(1, 100)
	cfg.Test = twoBlobs(2, 100)
	cfg.Seed = 7
	tr, err := model.NewTrainer(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	global := make([]float64, m.NumParams())
	m.Init(nil, global)
	for round := 1; round <= 3; round++ {
		u, err := tr.Train(ctx, global, fl.Config{fl.KeyRound: float64(round)})
		if err != nil {
			fmt.Println(err)
			return
		}
		for i, d := range u.Delta {
			global[i] += d
		}
		fmt.Printf("round %d: %s trained on %v examples\n", round, u.Client, u.Weight)
	}
	met, err := tr.Evaluate(ctx, global)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("held-out accuracy ≥ 0.95: %v\n", met[fl.KeyAccuracy] >= 0.95)
	// Output:
	// round 1: client-0 trained on 100 examples
	// round 2: client-0 trained on 100 examples
	// round 3: client-0 trained on 100 examples
	// held-out accuracy ≥ 0.95: true
}

// A zero softmax model gives every class the same probability, so its
// loss is ln(Classes).
func ExampleEvaluate() {
	m := model.Softmax{Dim: 2, Classes: 4}
	params := make([]float64, m.NumParams())
	d := &dataset.Dataset{X: []float64{1, 2, 3, 4, 5, 6}, Y: []int{0, 1, 3}, Dim: 2, Classes: 4}
	loss, acc, err := model.Evaluate(m, params, d)
	fmt.Printf("loss %.4f, accuracy %.4f, err %v\n", loss, acc, err)
	// Output: loss 1.3863, accuracy 0.3333, err <nil>
}

// The parameter count of a 784-128-10 MLP: 128·(784+1) + 10·(128+1).
func ExampleMLP() {
	m := model.MLP{Dim: 784, Hidden: []int{128}, Classes: 10}
	params := make([]float64, m.NumParams())
	m.Init(rand.New(rand.NewPCG(1, 2)), params)
	fmt.Println(m.NumParams(), m.Validate())
	// Output: 101770 <nil>
}

// With a large μ the FedProx proximal term keeps the local model close to
// the global one.
func ExampleTrainer_Train_fedProx() {
	m := model.Softmax{Dim: 2, Classes: 2}
	tr, err := model.NewTrainer(model.TrainerConfig{Model: m, Train: twoBlobs(1, 100), Epochs: 5})
	if err != nil {
		fmt.Println(err)
		return
	}
	global := make([]float64, m.NumParams())
	norm := func(mu float64) float64 {
		u, err := tr.Train(context.Background(), global, fl.Config{fl.KeyMu: mu})
		if err != nil {
			panic(err)
		}
		var s float64
		for _, d := range u.Delta {
			s += d * d
		}
		return s
	}
	fmt.Println(norm(1) < norm(0), norm(10) < norm(1))
	// Output: true true
}

// The CNN of Flower's niid_bench for 28×28 grayscale images: its layer
// shapes and parameter count.
func ExampleNIIDBenchCNN() {
	m := model.NIIDBenchCNN(model.Shape{C: 1, H: 28, W: 28}, 10)
	in := m.Input
	for _, l := range m.Layers {
		out, _ := l.OutShape(in)
		fmt.Printf("%T %v\n", l, out)
		in = out
	}
	fmt.Println(m.NumParams(), m.Validate())
	// Output:
	// model.Conv2D 6×24×24
	// model.ReLU 6×24×24
	// model.MaxPool2D 6×12×12
	// model.Conv2D 16×8×8
	// model.ReLU 16×8×8
	// model.MaxPool2D 16×4×4
	// model.Flatten 256×1×1
	// model.Dense 120×1×1
	// model.ReLU 120×1×1
	// model.Dense 84×1×1
	// model.ReLU 84×1×1
	// model.Dense 10×1×1
	// 44426 <nil>
}

// A small network of its own: same-padded convolution with stride 2,
// then a dense layer; trained with momentum and weight decay, set per
// round through the fl.Config keys.
func ExampleSequential() {
	m := model.Sequential{
		Input:   model.Shape{C: 1, H: 8, W: 8},
		Classes: 2,
		Layers: []model.Layer{
			model.Conv2D{Filters: 4, Kernel: 3, Stride: 2, Padding: model.Same}, model.ReLU{},
			model.Flatten{}, model.Dense{Units: 2},
		},
	}
	train := bars(1, 200)
	tr, err := model.NewTrainer(model.TrainerConfig{Model: m, Train: train, Test: bars(2, 100), BatchSize: 16, Epochs: 5, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	global := make([]float64, m.NumParams())
	m.Init(rand.New(rand.NewPCG(1, 1)), global)
	for r := range 3 {
		u, err := tr.Train(context.Background(), global, fl.Config{fl.KeyRound: float64(r), fl.KeyLR: 0.02,
			model.KeyMomentum: 0.9, model.KeyWeightDecay: 1e-5})
		if err != nil {
			fmt.Println(err)
			return
		}
		for i, d := range u.Delta {
			global[i] += d
		}
	}
	met, _ := tr.Evaluate(context.Background(), global)
	fmt.Println(m.NumParams(), met[fl.KeyAccuracy] > 0.9)
	// Output: 170 true
}
