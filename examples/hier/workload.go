package main

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/model"
)

// workload is the quickstart's, wired the same way (examples/quickstart):
// the clients' data, the model, and the pooled test set.
type workload struct {
	ids   []string
	train []*dataset.Dataset // by client, in the order of ids
	test  *dataset.Dataset
	model model.Model
}

// loadWorkload loads or generates the data, splits it over the clients
// and chooses the model.
func loadWorkload(o *options) (*workload, error) {
	train, test, err := loadData(o)
	if err != nil {
		return nil, err
	}
	w := &workload{train: train, test: test, model: model.Softmax{Dim: test.Dim, Classes: test.Classes}}
	if o.model == "mlp" {
		w.model = model.MLP{Dim: test.Dim, Hidden: o.hidden, Classes: test.Classes}
	}
	for i := range train {
		w.ids = append(w.ids, fmt.Sprintf("client-%05d", i))
	}
	return w, w.model.Validate()
}

// loadData returns each client's training data and the pooled test set.
// Synthetic data comes split by device; Fashion-MNIST is split IID or by
// Dirichlet label skew (Hsu et al. 2019).
func loadData(o *options) (train []*dataset.Dataset, test *dataset.Dataset, err error) {
	if o.dataset == "synthetic" {
		splits, err := dataset.Synthetic(dataset.SyntheticConfig{
			Alpha: o.alpha, Beta: o.beta, IID: o.iid, Clients: o.clients, Seed: o.seed,
		})
		if err != nil {
			return nil, nil, err
		}
		tests := make([]*dataset.Dataset, len(splits))
		for i, s := range splits {
			train, tests[i] = append(train, s.Train), s.Test
		}
		test, err = dataset.Concat(tests...)
		return train, test, err
	}
	all, test, err := dataset.LoadFashionMNIST(o.dataDir)
	if err != nil {
		return nil, nil, err
	}
	rng := rand.New(rand.NewPCG(o.seed, 0x5eed))
	var parts [][]int
	if o.iid {
		parts, err = dataset.IID(rng, all.Len(), o.clients)
	} else {
		parts, err = dataset.Dirichlet(rng, all.Y, all.Classes, o.clients, o.dirichlet)
	}
	for _, p := range parts {
		train = append(train, all.Subset(p))
	}
	return train, test, err
}

// factory returns the clients' factory for a pool: client i is a
// model.Trainer on its own data behind the client runtime fl.NewHandler,
// built when it is called.
func (w *workload) factory(o *options) func(id string) (fl.Handler, error) {
	index := make(map[string]int, len(w.ids))
	for i, id := range w.ids {
		index[id] = i
	}
	return func(id string) (fl.Handler, error) {
		i, ok := index[id]
		if !ok {
			return nil, fmt.Errorf("unknown client %q", id)
		}
		t, err := model.NewTrainer(model.TrainerConfig{
			Model: w.model, ID: id, Train: w.train[i],
			LR: o.lr, Epochs: o.epochs, BatchSize: min(o.batch, w.train[i].Len()),
			Seed: o.seed ^ (uint64(i+1) * 0x9e3779b97f4a7c15), // each client shuffles its own way
		})
		if err != nil {
			return nil, err
		}
		return fl.NewHandler(t, t), nil
	}
}

// init returns the initial global parameters, drawn from the seed.
func (w *workload) init(o *options) []float64 {
	p := make([]float64, w.model.NumParams())
	w.model.Init(rand.New(rand.NewPCG(o.seed, 0x1417)), p)
	return p
}

// evaluate scores params on the pooled test set; it has the signature of
// fl.ServerConfig.Evaluate.
func (w *workload) evaluate(_ context.Context, params []float64) (fl.Metrics, error) {
	loss, acc, err := model.Evaluate(w.model, params, w.test)
	return fl.Metrics{fl.KeyLoss: loss, fl.KeyAccuracy: acc, fl.KeyExamples: float64(w.test.Len())}, err
}
