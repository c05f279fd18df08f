package workload

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/model"
)

// Flags are the command-line flags that define the quickstart workload and
// its server strategy, with the quickstart's defaults. The quickstart, the
// network server and its clients all take them, so that the same flags
// give the same run, bit for bit.
type Flags struct {
	Dataset, DataDir, Model, Strategy, Hidden string
	Rounds, Clients, PerRound, Epochs, Batch  int
	Alpha, Beta, Mu, LR, ServerLR, Dirichlet  float64
	IID                                       bool
	Seed                                      uint64
}

// Register adds the flags to fs.
func (o *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&o.Dataset, "dataset", "synthetic", "data set: synthetic or fashion-mnist")
	fs.StringVar(&o.DataDir, "data", "", "directory of the Fashion-MNIST files (default: where the Debian package dataset-fashion-mnist puts them)")
	fs.StringVar(&o.Model, "model", "softmax", "model: softmax or mlp")
	fs.StringVar(&o.Hidden, "hidden", "", "MLP hidden layer widths, comma-separated (default 64 for synthetic, 128 for Fashion-MNIST)")
	fs.IntVar(&o.Rounds, "rounds", 0, "rounds (default 50 for synthetic, 30 for Fashion-MNIST)")
	fs.IntVar(&o.Clients, "clients", 0, "clients (default 30 for synthetic, 100 for Fashion-MNIST)")
	fs.IntVar(&o.PerRound, "per-round", 10, "clients sampled per round")
	fs.Float64Var(&o.Alpha, "alpha", 1, "Synthetic(α,β): model heterogeneity α")
	fs.Float64Var(&o.Beta, "beta", 1, "Synthetic(α,β): data heterogeneity β")
	fs.BoolVar(&o.IID, "iid", false, "IID data: Synthetic-IID, or an IID split of Fashion-MNIST")
	fs.Float64Var(&o.Dirichlet, "dirichlet", 0.5, "Fashion-MNIST without -iid: label skew Dir(α) over clients")
	fs.StringVar(&o.Strategy, "strategy", "fedavg", "server strategy: "+strings.Join(Strategies, ", "))
	fs.Float64Var(&o.Mu, "mu", 0, "FedProx proximal coefficient μ (default 0.01 with -strategy fedprox)")
	fs.IntVar(&o.Epochs, "local-epochs", 0, "local epochs per round (default 20 for synthetic, as in the FedProx paper; 1 for Fashion-MNIST)")
	fs.IntVar(&o.Batch, "batch", 10, "local minibatch size")
	fs.Float64Var(&o.LR, "lr", 0, "local learning rate (default 0.01 for synthetic, 0.05 for Fashion-MNIST)")
	fs.Float64Var(&o.ServerLR, "server-lr", 0, "server learning rate (default: the strategy's)")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of every random choice")
}

// Defaults fills the values left zero with those of the data set.
func (o *Flags) Defaults() {
	fashion := o.Dataset == "fashion-mnist"
	PickInt(&o.Rounds, fashion, 50, 30)
	PickInt(&o.Clients, fashion, 30, 100)
	PickInt(&o.Epochs, fashion, 20, 1)
	PickFloat(&o.LR, fashion, 0.01, 0.05)
	if o.Strategy == "fedprox" && o.Mu == 0 {
		o.Mu = 0.01
	}
}

// PickInt sets *v, when it is 0, to synthetic or, for Fashion-MNIST, to
// fashion.
func PickInt(v *int, isFashion bool, synthetic, fashion int) {
	if *v == 0 {
		*v = synthetic
		if isFashion {
			*v = fashion
		}
	}
}

// PickFloat is PickInt for a float64.
func PickFloat(v *float64, isFashion bool, synthetic, fashion float64) {
	if *v == 0 {
		*v = synthetic
		if isFashion {
			*v = fashion
		}
	}
}

// ParseHidden parses comma-separated hidden layer widths; "" gives nil.
func ParseHidden(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var hidden []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad -hidden %q: want positive widths separated by commas", s)
		}
		hidden = append(hidden, n)
	}
	return hidden, nil
}

// Build fills the defaults and builds the workload.
func (o *Flags) Build() (*Workload, error) {
	o.Defaults()
	hidden, err := ParseHidden(o.Hidden)
	if err != nil {
		return nil, err
	}
	return Build(o.config(hidden))
}

func (o *Flags) config(hidden []int) Config {
	return Config{
		Dataset: o.Dataset, DataDir: o.DataDir, Model: o.Model, Hidden: hidden,
		Clients: o.Clients, Alpha: o.Alpha, Beta: o.Beta, IID: o.IID, Dirichlet: o.Dirichlet, Seed: o.Seed,
	}
}

// BuildClient fills the defaults and builds what client i needs (see
// the package function BuildClient).
func (o *Flags) BuildClient(i int) (*Workload, error) {
	o.Defaults()
	hidden, err := ParseHidden(o.Hidden)
	if err != nil {
		return nil, err
	}
	return BuildClient(o.config(hidden), i)
}

// Trainer returns the clients' trainer template.
func (o *Flags) Trainer() model.TrainerConfig {
	return model.TrainerConfig{LR: o.LR, Epochs: o.Epochs, BatchSize: o.Batch}
}

// ServerConfig returns the quickstart's server config for w: the strategy's
// optimizer, PerRound clients a round, centralized evaluation every round.
func (o *Flags) ServerConfig(w *Workload) (fl.ServerConfig, error) {
	opt, err := Optimizer(o.Strategy, o.ServerLR)
	if err != nil {
		return fl.ServerConfig{}, err
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds = o.Rounds
	cfg.ClientsPerRound = min(o.PerRound, o.Clients)
	cfg.MinClients = 1
	cfg.Optimizer = opt
	cfg.Seed = o.Seed
	cfg.Evaluate = w.Evaluate
	cfg.ClientConfig = fl.Config{fl.KeyLR: o.LR, fl.KeyEpochs: float64(o.Epochs), fl.KeyBatchSize: float64(o.Batch), fl.KeyMu: o.Mu}
	return cfg, nil
}
