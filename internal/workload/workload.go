// Package workload builds the federated workloads that examples/worker,
// examples/hier and the simulation tests of fl and secagg/fedround share
// (examples/quickstart, dp, compression, secagg, compare and
// network/server/client wire the same workload inline on the public API,
// with the same seeds, so that the same flags give the same bits): the data set (Synthetic(α,β) or
// Fashion-MNIST), its split over clients, the reference model, the
// per-client trainers, the centralized test set, and the server strategy
// named on a command line.
package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/fl/report"
	"github.com/fedgo/fedgo/transport"
)

// Config names a workload.
type Config struct {
	Dataset    string  // "synthetic" (default) or "fashion-mnist"
	DataDir    string  // where Fashion-MNIST lives; "" means the Debian package's directory
	Model      string  // "softmax" (default) or "mlp"
	Hidden     []int   // MLP hidden layer widths; nil means {128} (Fashion-MNIST) or {64} (synthetic)
	Clients    int     // number of clients
	Alpha      float64 // Synthetic(α, β)
	Beta       float64
	IID        bool    // Synthetic-IID, or an IID split of Fashion-MNIST
	Dirichlet  float64 // Fashion-MNIST label skew Dir(α) when not IID; 0 means 0.5
	MaxSamples int     // caps a synthetic device's samples; 0 means none
	// Resplit generates Synthetic-IID, pools the devices' training data and
	// splits it again over the clients: IID when IID is set, else by
	// Dirichlet(Dirichlet) label skew (Hsu et al. 2019).
	Resplit bool
	Seed    uint64
}

// Workload is a data set split over clients, with a model to train on it.
type Workload struct {
	Model model.Model
	IDs   []string
	Train []*dataset.Dataset // by client, in the order of IDs
	Test  *dataset.Dataset   // the pooled held-out data, for centralized evaluation
	index map[string]int
	seed  uint64
}

// Build loads or generates the data and splits it over cfg.Clients clients.
func Build(cfg Config) (*Workload, error) {
	if cfg.Clients <= 0 {
		return nil, fmt.Errorf("workload: %d clients", cfg.Clients)
	}
	w := &Workload{seed: cfg.Seed}
	switch cfg.Dataset {
	case "", "synthetic":
		splits, err := dataset.Synthetic(dataset.SyntheticConfig{
			Alpha: cfg.Alpha, Beta: cfg.Beta, Clients: cfg.Clients, IID: cfg.IID || cfg.Resplit,
			MaxSamples: cfg.MaxSamples, Seed: cfg.Seed,
		})
		if err != nil {
			return nil, err
		}
		tests := make([]*dataset.Dataset, len(splits))
		for i, s := range splits {
			w.Train = append(w.Train, s.Train)
			tests[i] = s.Test
		}
		if w.Test, err = dataset.Concat(tests...); err != nil {
			return nil, err
		}
		if cfg.Resplit {
			pooled, err := dataset.Concat(w.Train...)
			if err != nil {
				return nil, err
			}
			if w.Train, err = split(pooled, cfg); err != nil {
				return nil, err
			}
		}
	case "fashion-mnist":
		train, test, err := dataset.LoadFashionMNIST(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		if w.Train, err = split(train, cfg); err != nil {
			return nil, err
		}
		w.Test = test
	default:
		return nil, fmt.Errorf("workload: unknown data set %q (want synthetic or fashion-mnist)", cfg.Dataset)
	}
	return w, w.finish(cfg)
}

// finish chooses the model from the data and names the clients.
func (w *Workload) finish(cfg Config) error {
	dim, classes := w.Test.Dim, w.Test.Classes
	for _, d := range w.Train {
		classes = max(classes, d.Classes)
	}
	switch cfg.Model {
	case "", "softmax":
		w.Model = model.Softmax{Dim: dim, Classes: classes}
	case "mlp":
		hidden := cfg.Hidden
		if hidden == nil {
			hidden = []int{64}
			if dim > 100 {
				hidden = []int{128}
			}
		}
		w.Model = model.MLP{Dim: dim, Hidden: hidden, Classes: classes}
	default:
		return fmt.Errorf("workload: unknown model %q (want softmax or mlp)", cfg.Model)
	}
	if err := w.Model.Validate(); err != nil {
		return err
	}
	w.Test.Classes = classes
	w.index = make(map[string]int, cfg.Clients)
	for i, d := range w.Train {
		d.Classes = classes
		id := clientID(i)
		w.IDs = append(w.IDs, id)
		w.index[id] = i
	}
	return nil
}

// clientID is the id of client i.
func clientID(i int) string { return fmt.Sprintf("client-%05d", i) }

// split divides d over cfg.Clients clients, IID or by Dirichlet label skew.
func split(d *dataset.Dataset, cfg Config) ([]*dataset.Dataset, error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	var parts [][]int
	var err error
	if cfg.IID {
		parts, err = dataset.IID(rng, d.Len(), cfg.Clients)
	} else {
		alpha := cfg.Dirichlet
		if alpha == 0 {
			alpha = 0.5
		}
		parts, err = dataset.Dirichlet(rng, d.Y, d.Classes, cfg.Clients, alpha)
	}
	if err != nil {
		return nil, err
	}
	out := make([]*dataset.Dataset, len(parts))
	for i, p := range parts {
		out[i] = d.Subset(p)
	}
	return out, nil
}

// Init returns the initial global parameters, drawn from the seed.
func (w *Workload) Init() []float64 {
	p := make([]float64, w.Model.NumParams())
	w.Model.Init(rand.New(rand.NewPCG(w.seed, 0x1417)), p)
	return p
}

// Examples returns the number of training examples over all clients.
func (w *Workload) Examples() int {
	n := 0
	for _, d := range w.Train {
		if d != nil { // BuildClient keeps one client's data
			n += d.Len()
		}
	}
	return n
}

// Trainer builds the trainer of client id from the template tc (Model,
// ID, Train and Seed are filled in).
func (w *Workload) Trainer(id string, tc model.TrainerConfig) (*model.Trainer, error) {
	i, ok := w.index[id]
	if !ok {
		return nil, fmt.Errorf("workload: unknown client %q", id)
	}
	tc.Model, tc.ID, tc.Train = w.Model, id, w.Train[i]
	tc.BatchSize = min(max(tc.BatchSize, 1), w.Train[i].Len())
	tc.Seed = w.seed ^ (uint64(i+1) * 0x9e3779b97f4a7c15)
	return model.NewTrainer(tc)
}

// Factory returns a client factory for an in-memory pool: each call builds
// the client's trainer afresh (no per-client state is kept) and wraps it
// in the client runtime and mws.
func (w *Workload) Factory(tc model.TrainerConfig, mws ...fl.Middleware) func(id string) (fl.Handler, error) {
	return func(id string) (fl.Handler, error) {
		t, err := w.Trainer(id, tc)
		if err != nil {
			return nil, err
		}
		return fl.Wrap(fl.NewHandler(t, t), mws...), nil
	}
}

// Pool returns an in-memory pool of the workload's clients.
func (w *Workload) Pool(tc model.TrainerConfig, faults transport.Faults, mws ...fl.Middleware) (*transport.Memory, error) {
	return transport.NewMemory(transport.MemoryConfig{
		IDs: w.IDs, Factory: w.Factory(tc, mws...), Faults: faults, Seed: w.seed,
	})
}

// Evaluate scores params on the pooled test set: loss, accuracy, examples.
// A workload from BuildClient has no test set.
// It has the signature of fl.ServerConfig.Evaluate.
func (w *Workload) Evaluate(ctx context.Context, params []float64) (fl.Metrics, error) {
	if w.Test == nil {
		return nil, errors.New("workload: no test set (built for one client)")
	}
	loss, acc, err := model.Evaluate(w.Model, params, w.Test)
	if err != nil {
		return nil, err
	}
	return fl.Metrics{fl.KeyLoss: loss, fl.KeyAccuracy: acc, fl.KeyExamples: float64(w.Test.Len())}, nil
}

// Strategies are the names Optimizer accepts.
var Strategies = []string{"fedavg", "fedavgm", "fedadam", "fedyogi", "fedadagrad", "fedprox"}

// Optimizer returns the server optimizer of a strategy. serverLR 0 means
// the strategy's default (1 for FedAvg, FedProx and FedAvgM; Reddi et
// al.'s defaults for the adaptive ones). FedProx is FedAvg on the server;
// its proximal term μ is a client hyperparameter.
func Optimizer(strategy string, serverLR float64) (fl.ServerOptimizer, error) {
	switch strings.ToLower(strategy) {
	case "fedavg", "fedprox":
		return fl.SGD{LR: serverLR}, nil
	case "fedavgm":
		return &fl.FedAvgM{LR: serverLR}, nil
	case "fedadam":
		return fl.NewFedAdam(serverLR), nil
	case "fedyogi":
		return fl.NewFedYogi(serverLR), nil
	case "fedadagrad":
		return fl.NewFedAdagrad(serverLR), nil
	}
	return nil, fmt.Errorf("workload: unknown strategy %q (want one of %s)", strategy, strings.Join(Strategies, ", "))
}

// ParamsSHA256 returns the hex SHA-256 of params as little-endian float64
// (fl/report.ParamsSHA256).
func ParamsSHA256(params []float64) string { return report.ParamsSHA256(params) }

// MissingData reports whether err means a data set's files are absent.
func MissingData(err error) bool { return errors.Is(err, dataset.ErrNotFound) }
