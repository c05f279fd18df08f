package personal_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/drift"
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/fl/personal"
)

// quad is a client with the loss F(v) = ½ Σ_j a_j (v_j − b_j)², trained by
// k full-gradient steps per epoch at lr (the round's fl.KeyLR and
// fl.KeyEpochs override them), with the proximal term μ(v − anchor).
type quad struct {
	a, b   []float64
	k      int
	lr     float64
	weight float64
}

func (q *quad) TrainFrom(_ context.Context, start, anchor []float64, cfg fl.Config) (fl.Update, error) {
	if len(start) != len(q.a) || len(anchor) != len(q.a) {
		return fl.Update{}, fmt.Errorf("quad: %d, %d params, want %d", len(start), len(anchor), len(q.a))
	}
	lr, mu := cfg.Get(fl.KeyLR, q.lr), cfg.Get(fl.KeyMu, 0)
	steps := q.k * int(cfg.Get(fl.KeyEpochs, 1))
	v := append([]float64(nil), start...)
	for range steps {
		for j := range v {
			v[j] -= lr * (q.a[j]*(v[j]-q.b[j]) + mu*(v[j]-anchor[j]))
		}
	}
	for j := range v {
		v[j] -= start[j]
	}
	return fl.Update{Delta: v, Weight: q.weight, Metrics: fl.Metrics{fl.KeyLoss: 0, fl.KeyExamples: q.weight}}, nil
}

func (q *quad) Train(ctx context.Context, x []float64, cfg fl.Config) (fl.Update, error) {
	return q.TrainFrom(ctx, x, x, cfg)
}

// Evaluate reports the loss F(v) as "loss" and −F(v) as "accuracy".
func (q *quad) Evaluate(_ context.Context, v []float64) (fl.Metrics, error) {
	var f float64
	for j := range v {
		f += 0.5 * q.a[j] * (v[j] - q.b[j]) * (v[j] - q.b[j])
	}
	return fl.Metrics{fl.KeyLoss: f, fl.KeyAccuracy: -f, fl.KeyExamples: q.weight}, nil
}

// conn delivers messages to a handler in process.
type conn struct {
	id string
	h  fl.Handler
}

func (c conn) ID() string { return c.id }
func (c conn) Send(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	return c.h.Handle(ctx, m)
}

// spy records every message a client sends and receives.
type spy struct {
	mu      sync.Mutex
	in, out []*fl.Message
}

func (s *spy) wrap(h fl.Handler) fl.Handler {
	return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
		r, err := h.Handle(ctx, m)
		s.mu.Lock()
		defer s.mu.Unlock()
		in := *m
		in.Params = slices.Clone(m.Params) // the server steps its vector in place
		s.in = append(s.in, &in)
		if r != nil {
			s.out = append(s.out, r)
		}
		return r, err
	})
}

func newPool(t testing.TB, conns ...fl.Conn) fl.Pool {
	t.Helper()
	p, err := fl.NewPool(conns...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func near(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for j := range got {
		if math.Abs(got[j]-want[j]) > tol*math.Max(1, math.Abs(want[j])) {
			t.Fatalf("%s[%d] = %.17g, want %.17g", what, j, got[j], want[j])
		}
	}
}

// rotated returns n examples x ~ N(0, I₂) labelled 1 when x lies on the
// positive side of the direction at angle θ: client-specific concepts, so
// that no single model fits every client (the extreme of concept shift).
func rotated(seed uint64, n int, theta float64) *dataset.Dataset {
	rng := rand.New(rand.NewPCG(seed, 77))
	d := &dataset.Dataset{X: make([]float64, 2*n), Y: make([]int, n), Dim: 2, Classes: 2}
	c, s := math.Cos(theta), math.Sin(theta)
	for i := range n {
		x0, x1 := rng.NormFloat64(), rng.NormFloat64()
		d.X[2*i], d.X[2*i+1] = x0, x1
		if c*x0+s*x1 > 0 {
			d.Y[i] = 1
		}
	}
	return d
}

// smallMLP is a Sequential with a hidden layer: base (the first dense
// layer) and head (the last).
func smallMLP() model.Sequential {
	return model.Sequential{
		Input:   model.Shape{C: 2, H: 1, W: 1},
		Layers:  []model.Layer{model.Dense{Units: 16}, model.ReLU{}, model.Dense{Units: 2}},
		Classes: 2,
	}
}

// trainers returns one model.Trainer per client of the rotated-concept
// federation: client i's concept is at angle 2πi/n, with 80 training and
// 100 held-out examples.
func trainers(t testing.TB, m model.Model, n int) []*model.Trainer {
	t.Helper()
	var trs []*model.Trainer
	for i := range n {
		theta := 2 * math.Pi * float64(i) / float64(n)
		tr, err := model.NewTrainer(model.TrainerConfig{
			Model: m, ID: fmt.Sprintf("c%d", i), Train: rotated(uint64(i), 80, theta), Test: rotated(uint64(100+i), 100, theta),
			LR: 0.1, BatchSize: 10, Seed: uint64(i + 1),
		})
		if err != nil {
			t.Fatal(err)
		}
		trs = append(trs, tr)
	}
	return trs
}

func initial(m model.Model, seed uint64) []float64 {
	p := make([]float64, m.NumParams())
	m.Init(rand.New(rand.NewPCG(seed, 0)), p)
	return p
}

// runServer runs a server of cfg on pool from w0 to the end and returns it
// with its history.
func runServer(t testing.TB, cfg fl.ServerConfig, pool fl.Pool, w0 []float64) (*fl.Server, *fl.History) {
	t.Helper()
	s, err := fl.NewServer(cfg, pool, w0)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s, h
}

// labelSkewRun is one comparison of FedAvg, Ditto and FedPer on clients
// holding parts of all: each part is split by Split(PCG(i, SplitSeed),
// TestFrac) into training and held-out data, trained with lr 0.05 and
// minibatches of Batch, for Rounds rounds from Initial() (called once per
// algorithm), FedPer keeping the parameters of Mask personal.
type labelSkewRun struct {
	Model     model.Model
	Mask      personal.Mask
	All       *dataset.Dataset
	Parts     [][]int
	SplitSeed uint64
	TestFrac  float64
	Batch     int
	Rounds    int
	Initial   func() []float64
}

// run returns the last round's central metrics of each algorithm, keyed
// "fedavg", "ditto" and "fedper".
func (r labelSkewRun) run(t *testing.T) map[string]fl.Metrics {
	t.Helper()
	results := map[string]fl.Metrics{}
	for _, alg := range []string{"fedavg", "ditto", "fedper"} {
		store := &drift.MemoryStore{}
		var conns []fl.Conn
		for i, idx := range r.Parts {
			train, test, err := r.All.Subset(idx).Split(rand.New(rand.NewPCG(uint64(i), r.SplitSeed)), r.TestFrac)
			if err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprintf("c%d", i)
			tr, err := model.NewTrainer(model.TrainerConfig{Model: r.Model, ID: id, Train: train, Test: test, LR: 0.05, BatchSize: r.Batch, Seed: uint64(i + 1)})
			if err != nil {
				t.Fatal(err)
			}
			var h fl.Handler = fl.NewHandler(tr, tr)
			switch alg {
			case "ditto":
				h = &personal.DittoClient{ID: id, Global: h, Personal: tr, Evaluator: tr, Store: store}
			case "fedper":
				h = &personal.FedPerClient{ID: id, Mask: r.Mask, Trainer: tr, Evaluator: tr, Store: store}
			}
			conns = append(conns, conn{id, h})
		}
		pool := newPool(t, conns...)
		cfg := fl.DefaultServerConfig()
		cfg.Rounds, cfg.Seed = r.Rounds, 1
		cfg.ClientConfig = fl.Config{personal.KeyLambda: 0.1}
		if alg == "fedper" {
			cfg.Exchange = &personal.FedPer{Mask: r.Mask}
		}
		cfg.Evaluate = (&personal.Evaluation{Pool: pool}).Evaluate
		_, h := runServer(t, cfg, pool, r.Initial())
		c := h.Rounds[len(h.Rounds)-1].Central
		results[alg] = c
		t.Logf("%-6s per-client accuracy: mean %.3f, weighted %.3f, p10 %.3f, p50 %.3f, p90 %.3f",
			alg, c["accuracy_mean"], c["accuracy_wmean"], c["accuracy_p10"], c["accuracy_p50"], c["accuracy_p90"])
	}
	return results
}

// personalBeatsGlobal fails the test unless Ditto's and FedPer's
// per-client accuracy beats FedAvg's by margin at least, in the mean and
// at p10.
func personalBeatsGlobal(t *testing.T, results map[string]fl.Metrics, margin float64) {
	t.Helper()
	fedavg := results["fedavg"]
	for _, alg := range []string{"ditto", "fedper"} {
		c := results[alg]
		if c["accuracy_mean"] < fedavg["accuracy_mean"]+margin || c["accuracy_p10"] < fedavg["accuracy_p10"]+margin {
			t.Errorf("%s: per-client accuracy mean %.3f p10 %.3f; FedAvg's global model: mean %.3f p10 %.3f",
				alg, c["accuracy_mean"], c["accuracy_p10"], fedavg["accuracy_mean"], fedavg["accuracy_p10"])
		}
	}
}
