// Package node holds the two programs of fedgo's network examples: the
// server ([Server], the body of examples/server) and a client ([Client],
// the body of examples/client), training the quickstart workload across
// processes over the network transport (HTTPS, TLS 1.3).
//
// Both build the workload from the same flags as examples/quickstart, with
// the same defaults, and the server uses the same fl.ServerConfig, so a
// run without faults ends with the parameters of the in-memory simulation
// of the same seed, bit for bit.
package node

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/internal/workload"
)

// Workload holds the flags that define the quickstart workload; server
// and clients must be given the same values.
type Workload struct {
	dataset, dataDir, model, strategy, hidden string
	rounds, clients, perRound, epochs, batch  int
	alpha, beta, mu, lr, serverLR, dirichlet  float64
	iid                                       bool
	seed                                      uint64
}

// Register adds the workload flags to fs, with the quickstart's defaults.
func (o *Workload) Register(fs *flag.FlagSet) {
	fs.StringVar(&o.dataset, "dataset", "synthetic", "data set: synthetic or fashion-mnist")
	fs.StringVar(&o.dataDir, "data", "", "directory of the Fashion-MNIST files")
	fs.StringVar(&o.model, "model", "softmax", "model: softmax or mlp")
	fs.StringVar(&o.hidden, "hidden", "", "MLP hidden layer widths, comma-separated")
	fs.IntVar(&o.rounds, "rounds", 0, "rounds (default 50 for synthetic, 30 for Fashion-MNIST)")
	fs.IntVar(&o.clients, "clients", 0, "clients (default 30 for synthetic, 100 for Fashion-MNIST)")
	fs.IntVar(&o.perRound, "per-round", 10, "clients sampled per round")
	fs.Float64Var(&o.alpha, "alpha", 1, "Synthetic(α,β): model heterogeneity α")
	fs.Float64Var(&o.beta, "beta", 1, "Synthetic(α,β): data heterogeneity β")
	fs.BoolVar(&o.iid, "iid", false, "IID data")
	fs.Float64Var(&o.dirichlet, "dirichlet", 0.5, "Fashion-MNIST without -iid: label skew Dir(α)")
	fs.StringVar(&o.strategy, "strategy", "fedavg", "server strategy: "+strings.Join(workload.Strategies, ", "))
	fs.Float64Var(&o.mu, "mu", 0, "FedProx proximal coefficient μ (default 0.01 with -strategy fedprox)")
	fs.IntVar(&o.epochs, "local-epochs", 0, "local epochs per round (default 20 for synthetic, 1 for Fashion-MNIST)")
	fs.IntVar(&o.batch, "batch", 10, "local minibatch size")
	fs.Float64Var(&o.lr, "lr", 0, "local learning rate (default 0.01 for synthetic, 0.05 for Fashion-MNIST)")
	fs.Float64Var(&o.serverLR, "server-lr", 0, "server learning rate (default: the strategy's)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of every random choice")
}

// defaults fills the values that depend on the data set, as the
// quickstart does.
func (o *Workload) defaults() {
	fashion := o.dataset == "fashion-mnist"
	def := func(v *int, synth, fm int) {
		if *v == 0 {
			*v = synth
			if fashion {
				*v = fm
			}
		}
	}
	def(&o.rounds, 50, 30)
	def(&o.clients, 30, 100)
	def(&o.epochs, 20, 1)
	if o.lr == 0 {
		o.lr = 0.01
		if fashion {
			o.lr = 0.05
		}
	}
	if o.strategy == "fedprox" && o.mu == 0 {
		o.mu = 0.01
	}
}

// Build fills the defaults and builds the workload.
func (o *Workload) Build() (*workload.Workload, error) {
	o.defaults()
	var hidden []int
	if o.hidden != "" {
		for _, f := range strings.Split(o.hidden, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("bad -hidden %q", o.hidden)
			}
			hidden = append(hidden, n)
		}
	}
	return workload.Build(workload.Config{
		Dataset: o.dataset, DataDir: o.dataDir, Model: o.model, Hidden: hidden,
		Clients: o.clients, Alpha: o.alpha, Beta: o.beta, IID: o.iid, Dirichlet: o.dirichlet, Seed: o.seed,
	})
}

// Trainer returns the clients' trainer template.
func (o *Workload) Trainer() model.TrainerConfig {
	return model.TrainerConfig{LR: o.lr, Epochs: o.epochs, BatchSize: o.batch}
}

// ServerConfig returns the quickstart's server config for w.
func (o *Workload) ServerConfig(w *workload.Workload) (fl.ServerConfig, error) {
	opt, err := workload.Optimizer(o.strategy, o.serverLR)
	if err != nil {
		return fl.ServerConfig{}, err
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds = o.rounds
	cfg.ClientsPerRound = min(o.perRound, o.clients)
	cfg.MinClients = 1
	cfg.Optimizer = opt
	cfg.Seed = o.seed
	cfg.Evaluate = w.Evaluate
	cfg.ClientConfig = fl.Config{fl.KeyLR: o.lr, fl.KeyEpochs: float64(o.epochs), fl.KeyBatchSize: float64(o.batch), fl.KeyMu: o.mu}
	return cfg, nil
}

// Clients returns the number of clients, after Build.
func (o *Workload) Clients() int { return o.clients }

// parse parses args into fs, refusing positional arguments.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return nil
}

// Canceled reports whether err only says that the program was stopped.
func Canceled(err error) bool { return errors.Is(err, context.Canceled) }
