// Command quickstart runs a federated simulation: FedAvg (or another
// strategy) trains a softmax regression or an MLP over clients that hold
// the Synthetic(α,β) data of Li et al. 2020 or a split of Fashion-MNIST,
// and prints a table of the rounds and a summary.
//
//	go run ./examples/quickstart
//	go run ./examples/quickstart -dataset fashion-mnist -clients 100 -iid -rounds 30
//	go run ./examples/quickstart -rounds 10 -checkpoint /tmp/ck && go run ./examples/quickstart -rounds 20 -checkpoint /tmp/ck -resume
//
// With -json the last line of stdout is one JSON object with rounds,
// final_accuracy, final_loss, params_sha256, wall_seconds, train_seconds,
// bytes_up, bytes_down and failed_updates.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/internal/report"
	"github.com/fedgo/fedgo/internal/workload"
	"github.com/fedgo/fedgo/transport"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

type options struct {
	dataset, dataDir, model, strategy, hidden string
	rounds, clients, perRound, epochs, batch  int
	alpha, beta, mu, lr, serverLR, drop       float64
	dirichlet                                 float64
	iid, resume, json, quiet                  bool
	seed                                      uint64
	checkpoint                                string
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dataset, "dataset", "synthetic", "data set: synthetic or fashion-mnist")
	fs.StringVar(&o.dataDir, "data", "", "directory of the Fashion-MNIST files (default: where the Debian package dataset-fashion-mnist puts them)")
	fs.StringVar(&o.model, "model", "softmax", "model: softmax or mlp")
	fs.StringVar(&o.hidden, "hidden", "", "MLP hidden layer widths, comma-separated (default 64 for synthetic, 128 for Fashion-MNIST)")
	fs.IntVar(&o.rounds, "rounds", 0, "rounds (default 50 for synthetic, 30 for Fashion-MNIST)")
	fs.IntVar(&o.clients, "clients", 0, "clients (default 30 for synthetic, 100 for Fashion-MNIST)")
	fs.IntVar(&o.perRound, "per-round", 10, "clients sampled per round")
	fs.Float64Var(&o.alpha, "alpha", 1, "Synthetic(α,β): model heterogeneity α")
	fs.Float64Var(&o.beta, "beta", 1, "Synthetic(α,β): data heterogeneity β")
	fs.BoolVar(&o.iid, "iid", false, "IID data: Synthetic-IID, or an IID split of Fashion-MNIST")
	fs.Float64Var(&o.dirichlet, "dirichlet", 0.5, "Fashion-MNIST without -iid: label skew Dir(α) over clients")
	fs.StringVar(&o.strategy, "strategy", "fedavg", "server strategy: "+strings.Join(workload.Strategies, ", "))
	fs.Float64Var(&o.mu, "mu", 0, "FedProx proximal coefficient μ (default 0.01 with -strategy fedprox)")
	fs.IntVar(&o.epochs, "local-epochs", 0, "local epochs per round (default 20 for synthetic, as in the FedProx paper; 1 for Fashion-MNIST)")
	fs.IntVar(&o.batch, "batch", 10, "local minibatch size")
	fs.Float64Var(&o.lr, "lr", 0, "local learning rate (default 0.01 for synthetic, 0.05 for Fashion-MNIST)")
	fs.Float64Var(&o.serverLR, "server-lr", 0, "server learning rate (default: the strategy's)")
	fs.Float64Var(&o.drop, "drop", 0, "probability that a sampled client drops out of a round")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of every random choice")
	fs.StringVar(&o.checkpoint, "checkpoint", "", "directory to save a checkpoint to after every round")
	fs.BoolVar(&o.resume, "resume", false, "resume from the checkpoint in -checkpoint")
	fs.BoolVar(&o.json, "json", false, "print a JSON summary as the last line of stdout")
	fs.BoolVar(&o.quiet, "quiet", false, "do not print the per-round table")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
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
	if o.resume && o.checkpoint == "" {
		return nil, errors.New("-resume needs -checkpoint DIR")
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	var hidden []int
	if o.hidden != "" {
		for _, f := range strings.Split(o.hidden, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				return fmt.Errorf("bad -hidden %q", o.hidden)
			}
			hidden = append(hidden, n)
		}
	}
	w, err := workload.Build(workload.Config{
		Dataset: o.dataset, DataDir: o.dataDir, Model: o.model, Hidden: hidden,
		Clients: o.clients, Alpha: o.alpha, Beta: o.beta, IID: o.iid, Dirichlet: o.dirichlet, Seed: o.seed,
	})
	if err != nil {
		return err
	}
	opt, err := workload.Optimizer(o.strategy, o.serverLR)
	if err != nil {
		return err
	}
	pool, err := w.Pool(model.TrainerConfig{LR: o.lr, Epochs: o.epochs, BatchSize: o.batch}, transport.Faults{Drop: o.drop})
	if err != nil {
		return err
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds = o.rounds
	cfg.ClientsPerRound = min(o.perRound, o.clients)
	cfg.MinClients = 1
	cfg.Optimizer = opt
	cfg.Seed = o.seed
	cfg.Evaluate = w.Evaluate
	cfg.ClientConfig = fl.Config{fl.KeyLR: o.lr, fl.KeyEpochs: float64(o.epochs), fl.KeyBatchSize: float64(o.batch), fl.KeyMu: o.mu}
	cfg.CheckpointDir = o.checkpoint
	if !o.quiet {
		cfg.Observer = &report.Table{W: stdout}
	}
	s, err := fl.NewServer(cfg, pool, w.Init())
	if err != nil {
		return err
	}
	if o.resume {
		cp, err := fl.ReadCheckpoint(filepath.Join(o.checkpoint, fl.CheckpointFile))
		if err != nil {
			return err
		}
		if err := s.Restore(cp); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "resumed after round %d\n", s.Round())
	}
	if !o.quiet {
		fmt.Fprintf(stdout, "%s on %s: %d clients (%d training examples), %d per round, %d parameters, strategy %s\n\n",
			o.model, o.dataset, o.clients, w.Examples(), cfg.ClientsPerRound, w.Model.NumParams(), o.strategy)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	h, err := s.Run(ctx)
	if err != nil {
		return err
	}
	sum := report.Summarize(h, workload.ParamsSHA256(s.Params()), time.Since(start))
	sum.Print(stdout)
	if o.json {
		return report.JSON(stdout, sum)
	}
	return nil
}
