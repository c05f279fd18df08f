package drift_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/drift"
	"github.com/fedgo/fedgo/fl/model"
)

// oneClass returns n examples of class label around (±2, ±2).
func oneClass(seed uint64, n, label int) *dataset.Dataset {
	rng := rand.New(rand.NewPCG(seed, 0))
	d := &dataset.Dataset{X: make([]float64, 2*n), Y: make([]int, n), Dim: 2, Classes: 2}
	c := float64(4*label - 2)
	for i := range n {
		d.X[2*i], d.X[2*i+1], d.Y[i] = c+rng.NormFloat64(), c+rng.NormFloat64(), label
	}
	return d
}

// simulation builds four clients that each hold one class (the extreme
// non-IID split) around model.Trainer, answering through handler, and a
// centralized test accuracy.
func simulation(handler func(id string, tr *model.Trainer) fl.Handler) (fl.Pool, func(ctx context.Context, p []float64) (fl.Metrics, error), error) {
	m := model.Softmax{Dim: 2, Classes: 2}
	var conns []fl.Conn
	for i := range 4 {
		id := fmt.Sprintf("client-%d", i)
		tr, err := model.NewTrainer(model.TrainerConfig{Model: m, ID: id, Train: oneClass(uint64(i), 40, i%2), LR: 0.05, BatchSize: 10, Seed: uint64(i)})
		if err != nil {
			return nil, nil, err
		}
		conns = append(conns, conn{id, handler(id, tr)})
	}
	pool, err := fl.NewPool(conns...)
	if err != nil {
		return nil, nil, err
	}
	test := oneClass(9, 50, 0)
	more := oneClass(10, 50, 1)
	test.X, test.Y = append(test.X, more.X...), append(test.Y, more.Y...)
	eval, err := model.NewTrainer(model.TrainerConfig{Model: m, Train: test})
	if err != nil {
		return nil, nil, err
	}
	return pool, eval.Evaluate, nil
}

// SCAFFOLD in a simulation: the clients' control variates live in one
// MemoryStore, which the server checkpoints with its own c.
func ExampleScaffold() {
	store := &drift.MemoryStore{}
	pool, evaluate, err := simulation(func(id string, tr *model.Trainer) fl.Handler {
		return &drift.ScaffoldClient{ID: id, Trainer: tr, Store: store, Next: fl.NewHandler(tr, tr)}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.Seed = 10, 2, 1
	cfg.Exchange = &drift.Scaffold{Clients: 4}
	cfg.State = map[string]fl.Stateful{"clients": store}
	cfg.Evaluate = evaluate
	s, err := fl.NewServer(cfg, pool, make([]float64, 6))
	if err != nil {
		fmt.Println(err)
		return
	}
	h, err := s.Run(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	last := h.Rounds[len(h.Rounds)-1]
	fmt.Println("clients with a control variate:", store.Len())
	fmt.Println("test accuracy ≥ 0.95:", last.Central[fl.KeyAccuracy] >= 0.95)
	// Output:
	// clients with a control variate: 4
	// test accuracy ≥ 0.95: true
}

// run runs cfg over pool to the end and prints whether the final
// centralized test accuracy reaches 0.95, or the error.
func run(cfg fl.ServerConfig, pool fl.Pool) {
	s, err := fl.NewServer(cfg, pool, make([]float64, 6))
	if err != nil {
		fmt.Println(err)
		return
	}
	h, err := s.Run(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("test accuracy ≥ 0.95:", h.Rounds[len(h.Rounds)-1].Central[fl.KeyAccuracy] >= 0.95)
}

// FedNova over plain clients: model.Trainer reports its local steps τ, and
// the round's momentum enters ‖a_i‖₁.
func ExampleFedNova() {
	pool, evaluate, err := simulation(func(id string, tr *model.Trainer) fl.Handler { return fl.NewHandler(tr, tr) })
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.Seed = 10, 2, 1
	cfg.Exchange = &drift.FedNova{Clients: 4}
	cfg.ClientConfig = fl.Config{model.KeyMomentum: 0.5}
	cfg.Evaluate = evaluate
	run(cfg, pool)
	// Output:
	// test accuracy ≥ 0.95: true
}

// FedDyn in a simulation: each client's ∇L_k(θ_k) lives in the store.
func ExampleFedDyn() {
	store := &drift.MemoryStore{}
	pool, evaluate, err := simulation(func(id string, tr *model.Trainer) fl.Handler {
		return &drift.FedDynClient{ID: id, Trainer: tr, Store: store}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.Seed = 10, 2, 1
	cfg.Exchange = &drift.FedDyn{Clients: 4, Alpha: 0.1}
	cfg.State = map[string]fl.Stateful{"clients": store}
	cfg.Evaluate = evaluate
	run(cfg, pool)
	// Output:
	// test accuracy ≥ 0.95: true
}
