package personal_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/drift"
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/fl/personal"
)

// concept returns n points of N(0, I₂) labelled by the side of the
// direction at angle θ: each client has its own concept.
func concept(seed uint64, n int, theta float64) *dataset.Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := &dataset.Dataset{X: make([]float64, 2*n), Y: make([]int, n), Dim: 2, Classes: 2}
	for i := range n {
		x, y := rng.NormFloat64(), rng.NormFloat64()
		d.X[2*i], d.X[2*i+1] = x, y
		if math.Cos(theta)*x+math.Sin(theta)*y > 0 {
			d.Y[i] = 1
		}
	}
	return d
}

// clients builds four clients with conflicting concepts, each answering
// through handler, and returns their pool.
func clients(m model.Model, handler func(id string, tr *model.Trainer) fl.Handler) (fl.Pool, error) {
	var conns []fl.Conn
	for i := range 4 {
		id := fmt.Sprintf("client-%d", i)
		theta := math.Pi / 2 * float64(i)
		tr, err := model.NewTrainer(model.TrainerConfig{
			Model: m, ID: id, Train: concept(uint64(i), 80, theta), Test: concept(uint64(10+i), 100, theta),
			LR: 0.1, BatchSize: 10, Seed: uint64(i),
		})
		if err != nil {
			return nil, err
		}
		conns = append(conns, conn{id, handler(id, tr)})
	}
	return fl.NewPool(conns...)
}

// runAndReport runs cfg and prints the per-client evaluation of the last
// round.
func runAndReport(cfg fl.ServerConfig, pool fl.Pool, initial []float64, keys ...string) {
	s, err := fl.NewServer(cfg, pool, initial)
	if err != nil {
		fmt.Println(err)
		return
	}
	h, err := s.Run(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	c := h.Rounds[len(h.Rounds)-1].Central
	fmt.Println("clients evaluated:", c["clients"])
	for _, k := range keys {
		fmt.Printf("%s: mean ≥ 0.9 %v, p10 ≥ 0.8 %v\n", k, c[k+"_mean"] >= 0.9, c[k+"_p10"] >= 0.8)
	}
}

// Ditto in a simulation: the global model is trained by the plain
// exchange (FedAvg), each client keeps its personal model v_k in one
// MemoryStore, which the server checkpoints, and an Evaluation reports
// how each client's personal model and the global one do on the client's
// own held-out data.
func ExampleDittoClient() {
	m := model.Softmax{Dim: 2, Classes: 2}
	store := &drift.MemoryStore{}
	pool, err := clients(m, func(id string, tr *model.Trainer) fl.Handler {
		return &personal.DittoClient{ID: id, Global: fl.NewHandler(tr, tr), Personal: tr, Evaluator: tr, Store: store}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.Seed = 10, 1
	cfg.ClientConfig = fl.Config{personal.KeyLambda: 0.1}
	cfg.State = map[string]fl.Stateful{"clients": store}
	cfg.Evaluate = (&personal.Evaluation{Pool: pool}).Evaluate
	runAndReport(cfg, pool, make([]float64, m.NumParams()), "accuracy", "global_accuracy")
	fmt.Println("personal models kept:", store.Len())
	// Output:
	// clients evaluated: 4
	// accuracy: mean ≥ 0.9 true, p10 ≥ 0.8 true
	// global_accuracy: mean ≥ 0.9 false, p10 ≥ 0.8 false
	// personal models kept: 4
}

// FedPer on a small network: the last dense layer is personal, the
// server averages the first.
func ExampleFedPer() {
	m := model.Sequential{
		Input:   model.Shape{C: 2, H: 1, W: 1},
		Layers:  []model.Layer{model.Dense{Units: 16}, model.ReLU{}, model.Dense{Units: 2}},
		Classes: 2,
	}
	mask, err := personal.HeadMask(m, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d parameters, %d personal: %v\n", mask.Dim, mask.PersonalLen(), mask.Personal)
	store := &drift.MemoryStore{}
	pool, err := clients(m, func(id string, tr *model.Trainer) fl.Handler {
		return &personal.FedPerClient{ID: id, Mask: mask, Trainer: tr, Evaluator: tr, Store: store}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.Seed = 20, 1
	cfg.Exchange = &personal.FedPer{Mask: mask}
	cfg.State = map[string]fl.Stateful{"clients": store}
	cfg.Evaluate = (&personal.Evaluation{Pool: pool}).Evaluate
	w0 := make([]float64, m.NumParams())
	m.Init(rand.New(rand.NewPCG(1, 2)), w0)
	runAndReport(cfg, pool, w0, "accuracy")
	// Output:
	// 82 parameters, 34 personal: [{48 82}]
	// clients evaluated: 4
	// accuracy: mean ≥ 0.9 true, p10 ≥ 0.8 true
}

// A per-client report: mean, example-weighted mean and quantiles.
func ExampleReport_Summary() {
	r := &personal.Report{Clients: []personal.ClientMetrics{
		{Client: "a", Metrics: fl.Metrics{fl.KeyAccuracy: 0.9, fl.KeyExamples: 20}},
		{Client: "b", Metrics: fl.Metrics{fl.KeyAccuracy: 0.2, fl.KeyExamples: 10}},
		{Client: "c", Metrics: fl.Metrics{fl.KeyAccuracy: 1.0, fl.KeyExamples: 40}},
		{Client: "d", Metrics: fl.Metrics{fl.KeyAccuracy: 0.5, fl.KeyExamples: 30}},
	}}
	s, _ := r.Summary(fl.KeyAccuracy)
	fmt.Printf("mean %.2f, weighted %.2f, p10 %.2f, p50 %.2f, p90 %.2f\n", s.Mean, s.WeightedMean, s.P10, s.P50, s.P90)
	// Output:
	// mean 0.65, weighted 0.75, p10 0.29, p50 0.70, p90 0.97
}
