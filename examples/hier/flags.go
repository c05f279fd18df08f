package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/fedgo/fedgo/fl"
)

// errUsage marks an error the flag package has already printed.
var errUsage = errors.New("usage")

type options struct {
	dataset, dataDir, model, strategy        string
	hidden                                   []int
	rounds, clients, epochs, batch           int
	alpha, beta, dirichlet, mu, lr, serverLR float64
	iid                                      bool
	seed                                     uint64
	optimizer                                fl.ServerOptimizer

	edges, minClients int
	drop, kill        float64
	natsURL           string
	json, quiet       bool
}

// Defaults that depend on the data set: synthetic, then Fashion-MNIST
// (the quickstart's).
var defaults = map[string]struct {
	rounds, clients, epochs int
	lr                      float64
}{
	"synthetic":     {50, 30, 20, 0.01}, // the FedProx paper's 20 local epochs
	"fashion-mnist": {30, 100, 1, 0.05},
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("hier", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hidden := o.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if d, ok := defaults[o.dataset]; ok {
		pick(&o.rounds, set["rounds"], d.rounds)
		pick(&o.clients, set["clients"], d.clients)
		pick(&o.epochs, set["local-epochs"], d.epochs)
		pick(&o.lr, set["lr"], d.lr)
	}
	if o.strategy == "fedprox" && !set["mu"] {
		o.mu = 0.01
	}
	var errs []error
	var err error
	if o.hidden, err = parseHidden(*hidden, o.dataset); err != nil {
		errs = append(errs, err)
	}
	if o.optimizer, err = optimizer(o.strategy, o.serverLR); err != nil {
		errs = append(errs, err)
	}
	return o, errors.Join(append(errs, o.check(fs.Args()))...)
}

// register adds the flags: the quickstart's workload (without
// -per-round: every client takes part in every round) and the tree's.
func (o *options) register(fs *flag.FlagSet) (hidden *string) {
	fs.StringVar(&o.dataset, "dataset", "synthetic", "data set: synthetic or fashion-mnist")
	fs.StringVar(&o.dataDir, "data", "", "directory of the Fashion-MNIST files (default: where the Debian package dataset-fashion-mnist puts them)")
	fs.StringVar(&o.model, "model", "softmax", "model: softmax or mlp")
	hidden = fs.String("hidden", "", "MLP hidden layer widths, comma-separated (default 64 for synthetic, 128 for fashion-mnist)")
	fs.IntVar(&o.rounds, "rounds", 0, "rounds (default 50 for synthetic, 30 for fashion-mnist)")
	fs.IntVar(&o.clients, "clients", 0, "clients, split evenly over the edges (default 30 for synthetic, 100 for fashion-mnist)")
	fs.Float64Var(&o.alpha, "alpha", 1, "Synthetic(α,β): model heterogeneity α ≥ 0")
	fs.Float64Var(&o.beta, "beta", 1, "Synthetic(α,β): data heterogeneity β ≥ 0")
	fs.BoolVar(&o.iid, "iid", false, "IID data: Synthetic-IID, or an IID split of Fashion-MNIST")
	fs.Float64Var(&o.dirichlet, "dirichlet", 0.5, "fashion-mnist without -iid: label skew Dir(α) over clients, α > 0")
	fs.StringVar(&o.strategy, "strategy", "fedavg", "server strategy: fedavg, fedavgm, fedadam, fedyogi, fedadagrad or fedprox")
	fs.Float64Var(&o.mu, "mu", 0, "FedProx proximal coefficient μ ≥ 0 (default 0.01 with -strategy fedprox)")
	fs.IntVar(&o.epochs, "local-epochs", 0, "local epochs per round (default 20 for synthetic, 1 for fashion-mnist)")
	fs.IntVar(&o.batch, "batch", 10, "local minibatch size")
	fs.Float64Var(&o.lr, "lr", 0, "local learning rate (default 0.01 for synthetic, 0.05 for fashion-mnist)")
	fs.Float64Var(&o.serverLR, "server-lr", 0, "server learning rate (default: the strategy's)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of every random choice")
	fs.IntVar(&o.edges, "edges", 3, "edge aggregators, 1 to -clients; the clients are split evenly over them")
	fs.IntVar(&o.minClients, "min-clients", 1, "the root's quorum of client updates, 1 to -clients")
	fs.Float64Var(&o.drop, "drop", 0, "probability in [0, 1) that a client drops out of a round")
	fs.Float64Var(&o.kill, "kill-edges", 0, "fraction in [0, 1] of the edges that crash from the middle round on")
	fs.StringVar(&o.natsURL, "nats", "", "NATS server URL: reach the edges and the clients over NATS instead of in memory")
	fs.BoolVar(&o.json, "json", false, "stdout only JSON: one object per round, the summary last (the rest goes to stderr)")
	fs.BoolVar(&o.quiet, "quiet", false, "print the summary only")
	return hidden
}

// pick sets *v to def unless the flag was set.
func pick[T int | float64](v *T, set bool, def T) {
	if !set {
		*v = def
	}
}

// check refuses what the run could not honour, all problems at once.
func (o *options) check(extra []string) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(extra) > 0 {
		bad("unexpected arguments %q", extra)
	}
	if _, ok := defaults[o.dataset]; !ok {
		bad("-dataset %q: want synthetic or fashion-mnist", o.dataset)
	}
	if o.model != "softmax" && o.model != "mlp" {
		bad("-model %q: want softmax or mlp", o.model)
	}
	if o.rounds < 1 || o.clients < 1 || o.epochs < 1 || o.batch < 1 {
		bad("-rounds %d -clients %d -local-epochs %d -batch %d: each must be ≥ 1", o.rounds, o.clients, o.epochs, o.batch)
	}
	if o.edges < 1 || o.edges > max(o.clients, 1) {
		bad("-edges %d: want 1..%d (the clients)", o.edges, o.clients)
	}
	if o.minClients < 1 || o.minClients > max(o.clients, 1) {
		bad("-min-clients %d: want 1..%d (the clients)", o.minClients, o.clients)
	}
	if !positive(o.lr) || !(o.serverLR >= 0) || !(o.mu >= 0) || !(o.alpha >= 0) || !(o.beta >= 0) || !positive(o.dirichlet) {
		bad("-lr %v -server-lr %v -mu %v -alpha %v -beta %v -dirichlet %v: want lr, dirichlet > 0 and the rest ≥ 0, finite",
			o.lr, o.serverLR, o.mu, o.alpha, o.beta, o.dirichlet)
	}
	if !(o.drop >= 0 && o.drop < 1) {
		bad("-drop %v: want a probability in [0, 1)", o.drop)
	}
	if !(o.kill >= 0 && o.kill <= 1) {
		bad("-kill-edges %v: want a fraction in [0, 1]", o.kill)
	}
	return errors.Join(errs...)
}

func positive(x float64) bool { return x > 0 && !math.IsInf(x, 1) }

// parseHidden parses the MLP's hidden widths; "" gives the data set's
// default.
func parseHidden(s, dataset string) ([]int, error) {
	if s == "" {
		if dataset == "fashion-mnist" {
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

// optimizer returns the server optimizer of a strategy; serverLR 0 means
// the strategy's default (1 for FedAvg, FedProx and FedAvgM; Reddi et
// al.'s for the adaptive ones). FedProx is FedAvg on the server: its
// proximal term μ is a client hyperparameter.
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
