package model_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/model"
)

// loadFashion loads the real Fashion-MNIST from where the Debian package
// dataset-fashion-mnist installs it. When the files are absent the test
// skips, naming the package to install, except under CI=true (which
// installs them), where their absence fails the test; files that are
// there but do not load always fail it.
func loadFashion(t *testing.T) (train, test *dataset.Dataset) {
	t.Helper()
	train, test, err := dataset.LoadFashionMNIST(dataset.DefaultFashionMNISTDir)
	switch {
	case err == nil:
		return train, test
	case errors.Is(err, dataset.ErrNotFound) && os.Getenv("CI") != "true":
		t.Skipf("Fashion-MNIST not installed at %s: apt-get install -y %s", dataset.DefaultFashionMNISTDir, dataset.FashionMNISTPackage)
	case errors.Is(err, dataset.ErrNotFound):
		t.Fatalf("Fashion-MNIST is required under CI=true (apt-get install -y %s): %v", dataset.FashionMNISTPackage, err)
	}
	t.Fatalf("Fashion-MNIST at %s does not load: %v", dataset.DefaultFashionMNISTDir, err)
	return nil, nil
}

// fashionRun is a scaled-down FedAvg run on real Fashion-MNIST.
type fashionRun struct {
	train, test             int // images used, drawn at random
	clients, rounds, epochs int
	batch                   int
	lr, momentum            float64
}

// fedAvgFashion trains each model by FedAvg on the same IID split of the
// same images (clients side by side, the sum in client order, so the
// result does not depend on the schedule) and returns its test accuracy.
func fedAvgFashion(t *testing.T, cfg fashionRun, models map[string]model.Model) map[string]float64 {
	trainSet, test := loadFashion(t)
	rng := rand.New(rand.NewPCG(18, 1))
	trainSet = trainSet.Subset(rng.Perm(trainSet.Len())[:cfg.train])
	test = test.Subset(rng.Perm(test.Len())[:cfg.test])
	parts, err := dataset.IID(rng, trainSet.Len(), cfg.clients)
	if err != nil {
		t.Fatal(err)
	}
	acc := map[string]float64{}
	for name, m := range models {
		global := make([]float64, m.NumParams())
		m.Init(rand.New(rand.NewPCG(18, 2)), global)
		trainers := make([]*model.Trainer, cfg.clients)
		for i, p := range parts {
			trainers[i] = newTrainer(t, model.TrainerConfig{Model: m, Train: trainSet.Subset(p), LR: cfg.lr, Momentum: cfg.momentum,
				L2: 1e-5, Epochs: cfg.epochs, BatchSize: cfg.batch, Seed: uint64(i)})
		}
		for r := range cfg.rounds {
			ups := make([]fl.Update, cfg.clients)
			errs := make([]error, cfg.clients)
			var wg sync.WaitGroup
			for i, tr := range trainers {
				wg.Go(func() { ups[i], errs[i] = tr.Train(context.Background(), global, fl.Config{fl.KeyRound: float64(r)}) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			sum := make([]float64, len(global))
			var weight float64
			for _, u := range ups {
				for j, v := range u.Delta {
					sum[j] += u.Weight * v
				}
				weight += u.Weight
			}
			for j := range global {
				global[j] += sum[j] / weight
			}
		}
		_, a, err := model.Evaluate(m, global, test)
		if err != nil {
			t.Fatal(err)
		}
		acc[name] = a
		t.Logf("%s: test accuracy %.4f", name, a)
	}
	return acc
}

// TestCNNBeatsMLPOnFashionMNIST trains the niid_bench CNN, an MLP
// (784-128-10) and softmax regression by FedAvg on the same IID split of
// real Fashion-MNIST, with the same rounds, local epochs, minibatches and
// optimizer, and asserts that the CNN's test accuracy is above both. The
// configuration is the quickstart's CNN recipe: 5 rounds of 10 clients,
// all per round, 2 local epochs, minibatches of 64, SGD with learning rate
// 0.02, momentum 0.9 and weight decay 1e-5. The CNN needs that much to
// pull ahead clearly (at 8,000 images seen three times the three models
// are within a point of each other; after one round it trails the MLP,
// after three it led by 0.3 points; after five it measured 0.8605
// against 0.8530 and 0.8316); it takes about four minutes of CPU, so it
// runs under CI=true, and the default run is the smoke test below.
func TestCNNBeatsMLPOnFashionMNIST(t *testing.T) {
	if os.Getenv("CI") != "true" || testing.Short() {
		t.Skip("four minutes of CPU: runs under CI=true without -short; TestCNNLearnsFashionMNIST is the short version")
	}
	acc := fedAvgFashion(t, fashionRun{train: 60000, test: 10000, clients: 10, rounds: 5, epochs: 2, batch: 64, lr: 0.02, momentum: 0.9},
		map[string]model.Model{
			"cnn":     model.NIIDBenchCNN(model.Shape{C: 1, H: 28, W: 28}, 10),
			"mlp":     model.MLP{Dim: 784, Hidden: []int{128}, Classes: 10},
			"softmax": model.Softmax{Dim: 784, Classes: 10},
		})
	if acc["cnn"] <= acc["mlp"] || acc["cnn"] <= acc["softmax"] {
		t.Errorf("CNN accuracy %.4f does not beat MLP %.4f and softmax %.4f", acc["cnn"], acc["mlp"], acc["softmax"])
	}
}

// TestCNNLearnsFashionMNIST is the default, short version: one epoch of
// the CNN over 3,000 real images must reach 60% on 1,000 test images
// (chance is 10%; it measured 68.8%).
func TestCNNLearnsFashionMNIST(t *testing.T) {
	acc := fedAvgFashion(t, fashionRun{train: 3000, test: 1000, clients: 1, rounds: 1, epochs: 1, batch: 32, lr: 0.02, momentum: 0.9},
		map[string]model.Model{"cnn": model.NIIDBenchCNN(model.Shape{C: 1, H: 28, W: 28}, 10)})
	if acc["cnn"] < 0.6 {
		t.Errorf("CNN accuracy %.4f after one epoch over 3,000 images, want ≥ 0.6", acc["cnn"])
	}
}
