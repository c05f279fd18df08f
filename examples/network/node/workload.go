package node

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/model"
)

// Workload holds the flags that define the quickstart workload, with the
// quickstart's defaults; server and clients must be given the same values,
// and then build the same data, model and trainers as the in-memory
// quickstart, bit for bit.
type Workload struct {
	Dataset, DataDir, Model, Strategy, Hidden string
	Rounds, Clients, PerRound, Epochs, Batch  int
	Alpha, Beta, Mu, LR, ServerLR, Dirichlet  float64
	IID                                       bool
	Seed                                      uint64
}

// Register adds the flags to fs.
func (o *Workload) Register(fs *flag.FlagSet) {
	fs.StringVar(&o.Dataset, "dataset", "synthetic", "data set: synthetic or fashion-mnist")
	fs.StringVar(&o.DataDir, "data", "", "directory of the Fashion-MNIST files (default: where the Debian package dataset-fashion-mnist puts them)")
	fs.StringVar(&o.Model, "model", "softmax", "model: softmax or mlp")
	fs.StringVar(&o.Hidden, "hidden", "", "MLP hidden layer widths, comma-separated (default 64 for synthetic, 128 for Fashion-MNIST)")
	fs.IntVar(&o.Rounds, "rounds", 0, "rounds (default 50 for synthetic, 30 for Fashion-MNIST)")
	fs.IntVar(&o.Clients, "clients", 0, "clients (default 30 for synthetic, 100 for Fashion-MNIST)")
	fs.IntVar(&o.PerRound, "per-round", 10, "clients sampled per round, at most -clients")
	fs.Float64Var(&o.Alpha, "alpha", 1, "Synthetic(α,β): model heterogeneity α")
	fs.Float64Var(&o.Beta, "beta", 1, "Synthetic(α,β): data heterogeneity β")
	fs.BoolVar(&o.IID, "iid", false, "IID data: Synthetic-IID, or an IID split of Fashion-MNIST")
	fs.Float64Var(&o.Dirichlet, "dirichlet", 0.5, "Fashion-MNIST without -iid: label skew Dir(α) over clients")
	fs.StringVar(&o.Strategy, "strategy", "fedavg", "server strategy: fedavg, fedavgm, fedadam, fedyogi, fedadagrad or fedprox")
	fs.Float64Var(&o.Mu, "mu", 0, "FedProx proximal coefficient μ (default 0.01 with -strategy fedprox)")
	fs.IntVar(&o.Epochs, "local-epochs", 0, "local epochs per round (default 20 for synthetic, as in the FedProx paper; 1 for Fashion-MNIST)")
	fs.IntVar(&o.Batch, "batch", 10, "local minibatch size")
	fs.Float64Var(&o.LR, "lr", 0, "local learning rate (default 0.01 for synthetic, 0.05 for Fashion-MNIST)")
	fs.Float64Var(&o.ServerLR, "server-lr", 0, "server learning rate (default: the strategy's)")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of every random choice")
}

// Defaults fills the values left out (zero) with those of the data set.
// parse refuses a zero that was given.
func (o *Workload) Defaults() {
	pick := func(v *int, synthetic, fashion int) {
		if *v == 0 {
			*v = synthetic
			if o.Dataset == "fashion-mnist" {
				*v = fashion
			}
		}
	}
	pick(&o.Rounds, 50, 30)
	pick(&o.Clients, 30, 100)
	pick(&o.Epochs, 20, 1)
	if o.LR == 0 {
		o.LR = 0.01
		if o.Dataset == "fashion-mnist" {
			o.LR = 0.05
		}
	}
	if o.Strategy == "fedprox" && o.Mu == 0 {
		o.Mu = 0.01
	}
}

// data is what a program holds of the workload: the model, the training
// data by client (nil for the clients it does not hold) and, for the
// server, the pooled test set.
type data struct {
	model model.Model
	train []*dataset.Dataset
	test  *dataset.Dataset
}

// build returns the whole workload (client -1, for the server) or what
// client i needs: its own data only. Synthetic(α,β) generates device i
// alone (dataset.SyntheticClient), so a client's memory does not grow
// with the clients; Fashion-MNIST is loaded whole and split.
func (o *Workload) build(client int) (*data, error) {
	d := &data{}
	switch o.Dataset {
	case "synthetic":
		cfg := dataset.SyntheticConfig{Alpha: o.Alpha, Beta: o.Beta, Clients: o.Clients, IID: o.IID, Seed: o.Seed}
		if client >= 0 {
			s, err := dataset.SyntheticClient(cfg, client)
			if err != nil {
				return nil, err
			}
			d.train = make([]*dataset.Dataset, o.Clients)
			d.train[client] = s.Train
			return d, d.finish(o, s.Test)
		}
		splits, err := dataset.Synthetic(cfg)
		if err != nil {
			return nil, err
		}
		tests := make([]*dataset.Dataset, len(splits))
		for i, s := range splits {
			d.train, tests[i] = append(d.train, s.Train), s.Test
		}
		if d.test, err = dataset.Concat(tests...); err != nil {
			return nil, err
		}
		return d, d.finish(o, d.test)
	case "fashion-mnist":
		all, test, err := dataset.LoadFashionMNIST(o.DataDir)
		if err != nil {
			return nil, err
		}
		rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
		var parts [][]int
		if o.IID {
			parts, err = dataset.IID(rng, all.Len(), o.Clients)
		} else {
			parts, err = dataset.Dirichlet(rng, all.Y, all.Classes, o.Clients, o.Dirichlet)
		}
		if err != nil {
			return nil, err
		}
		d.train = make([]*dataset.Dataset, len(parts))
		for i, p := range parts {
			if client < 0 || i == client {
				d.train[i] = all.Subset(p)
			}
		}
		if client < 0 {
			d.test = test
		}
		return d, d.finish(o, test)
	}
	return nil, fmt.Errorf("-dataset %q: want synthetic or fashion-mnist", o.Dataset)
}

// finish chooses the model from the data (the classes seen in test and
// the training data held).
func (d *data) finish(o *Workload, test *dataset.Dataset) error {
	dim, classes := test.Dim, test.Classes
	for _, t := range d.train {
		if t != nil {
			classes = max(classes, t.Classes)
		}
	}
	switch o.Model {
	case "softmax":
		d.model = model.Softmax{Dim: dim, Classes: classes}
	case "mlp":
		hidden, err := parseHidden(o.Hidden, dim)
		if err != nil {
			return err
		}
		d.model = model.MLP{Dim: dim, Hidden: hidden, Classes: classes}
	default:
		return fmt.Errorf("-model %q: want softmax or mlp", o.Model)
	}
	test.Classes = classes
	for _, t := range d.train {
		if t != nil {
			t.Classes = classes
		}
	}
	return d.model.Validate()
}

// parseHidden parses the MLP's hidden widths; "" gives 64, or 128 for
// inputs of more than 100 features.
func parseHidden(s string, dim int) ([]int, error) {
	if s == "" {
		if dim > 100 {
			return []int{128}, nil
		}
		return []int{64}, nil
	}
	var hidden []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-hidden %q: want positive widths separated by commas", s)
		}
		hidden = append(hidden, n)
	}
	return hidden, nil
}

// clientID is the id of client i.
func clientID(i int) string { return fmt.Sprintf("client-%05d", i) }

// handler returns client i's runtime: a model.Trainer on its data, built
// afresh for every call, as in the quickstart's in-memory pool.
func (d *data) handler(o *Workload, i int) (fl.Handler, error) {
	t, err := model.NewTrainer(model.TrainerConfig{
		Model: d.model, ID: clientID(i), Train: d.train[i],
		LR: o.LR, Epochs: o.Epochs, BatchSize: min(o.Batch, d.train[i].Len()),
		Seed: o.Seed ^ (uint64(i+1) * 0x9e3779b97f4a7c15), // each client shuffles its own way
	})
	if err != nil {
		return nil, err
	}
	return fl.NewHandler(t, t), nil
}

// initParams draws the initial global parameters from the seed.
func (d *data) initParams(seed uint64) []float64 {
	p := make([]float64, d.model.NumParams())
	d.model.Init(rand.New(rand.NewPCG(seed, 0x1417)), p)
	return p
}

// serverConfig returns the quickstart's server config: the strategy's
// optimizer, PerRound clients a round, centralized evaluation on the test
// set.
func (o *Workload) serverConfig(d *data) (fl.ServerConfig, error) {
	opt, err := optimizer(o.Strategy, o.ServerLR)
	if err != nil {
		return fl.ServerConfig{}, err
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.MinClients = o.Rounds, o.PerRound, 1
	cfg.Optimizer = opt
	cfg.Seed = o.Seed
	cfg.Evaluate = func(_ context.Context, params []float64) (fl.Metrics, error) {
		loss, acc, err := model.Evaluate(d.model, params, d.test)
		return fl.Metrics{fl.KeyLoss: loss, fl.KeyAccuracy: acc, fl.KeyExamples: float64(d.test.Len())}, err
	}
	cfg.ClientConfig = fl.Config{fl.KeyLR: o.LR, fl.KeyEpochs: float64(o.Epochs), fl.KeyBatchSize: float64(o.Batch), fl.KeyMu: o.Mu}
	return cfg, nil
}

// optimizer returns the server optimizer of a strategy; serverLR 0 means
// the strategy's default. FedProx is FedAvg on the server: its proximal
// term μ is a client hyperparameter.
func optimizer(strategy string, serverLR float64) (fl.ServerOptimizer, error) {
	switch strategy {
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
	return nil, fmt.Errorf("-strategy %q: want fedavg, fedavgm, fedadam, fedyogi, fedadagrad or fedprox", strategy)
}
