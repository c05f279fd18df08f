// Command quickstart runs a federated simulation: FedAvg (or another
// strategy) trains a softmax regression or an MLP over clients that hold
// the Synthetic(α,β) data of Li et al. 2020 or a split of Fashion-MNIST,
// and prints a table of the rounds and a summary.
//
//	go run ./examples/quickstart
//	go run ./examples/quickstart -dataset fashion-mnist -clients 100 -iid -rounds 30
//	go run ./examples/quickstart -rounds 10 -checkpoint /tmp/ck && go run ./examples/quickstart -rounds 20 -checkpoint /tmp/ck -resume
//
// It uses only fedgo's public packages; each step of the wiring is one
// function below: loadData, newModel, newPool, newServer, train.
//
// Output: the table and the summary on stdout. With -json, stdout carries
// only JSON: one object per round (fl.RoundStats), then the summary as the
// last line (rounds, final_accuracy, final_loss, params_sha256,
// wall_seconds, train_seconds, bytes_up, bytes_down, failed_updates); a
// progress line goes to stderr. -quiet prints the summary only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/fl/report"
	"github.com/fedgo/fedgo/transport"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		os.Exit(2) // the flag package has printed the problem
	case err != nil:
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	train, test, err := loadData(o)
	if err != nil {
		return err
	}
	m, err := newModel(o, test.Dim, test.Classes)
	if err != nil {
		return err
	}
	pool, err := newPool(o, m, train)
	if err != nil {
		return err
	}
	s, err := newServer(o, m, pool, test, stdout, stderr)
	if err != nil {
		return err
	}
	if !o.json && !o.quiet {
		fmt.Fprintf(stdout, "%s on %s: %d clients (%d training examples), %d per round, %d parameters, strategy %s\n\n",
			o.model, o.dataset, o.clients, examples(train), o.perRound, m.NumParams(), o.strategy)
	}
	return trainAndReport(o, s, stdout)
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
	} else if o.dirichletMin > 0 {
		parts, err = dataset.DirichletBalanced(rng, all.Y, all.Classes, o.clients, o.dirichlet, o.dirichletMin)
	} else {
		parts, err = dataset.Dirichlet(rng, all.Y, all.Classes, o.clients, o.dirichlet)
	}
	for _, p := range parts {
		train = append(train, all.Subset(p))
	}
	return train, test, err
}

// newModel returns the softmax regression, the MLP or the CNN for the data.
func newModel(o *options, dim, classes int) (model.Model, error) {
	var m model.Model = model.Softmax{Dim: dim, Classes: classes}
	switch o.model {
	case "mlp":
		m = model.MLP{Dim: dim, Hidden: o.hidden, Classes: classes}
	case "cnn":
		m = model.NIIDBenchCNN(model.Shape{C: 1, H: 28, W: 28}, classes)
	}
	return m, m.Validate()
}

// newPool returns an in-memory pool of the clients: each one is a
// model.Trainer on its own data, behind the client runtime fl.NewHandler.
// The pool builds a client's handler when the client is sampled, so idle
// clients cost nothing; -drop makes sampled clients vanish.
func newPool(o *options, m model.Model, train []*dataset.Dataset) (*transport.Memory, error) {
	ids := make([]string, len(train))
	index := make(map[string]int, len(train))
	for i := range train {
		ids[i] = fmt.Sprintf("client-%05d", i)
		index[ids[i]] = i
	}
	return transport.NewMemory(transport.MemoryConfig{
		IDs: ids, Seed: o.seed, Faults: transport.Faults{Drop: o.drop},
		Factory: func(id string) (fl.Handler, error) {
			i := index[id]
			t, err := model.NewTrainer(model.TrainerConfig{
				Model: m, ID: id, Train: train[i],
				LR: o.lr, Epochs: o.epochs, BatchSize: min(o.batch, train[i].Len()),
				Momentum: o.momentum, L2: o.weightDecay,
				Seed: o.seed ^ (uint64(i+1) * 0x9e3779b97f4a7c15), // each client shuffles its own way
			})
			if err != nil {
				return nil, err
			}
			return fl.NewHandler(t, t), nil
		},
	})
}

// newServer returns the server: the strategy's optimizer, -per-round
// clients a round, the test set evaluated every round, and the printers of
// the output contract. With -resume it continues from the checkpoint.
func newServer(o *options, m model.Model, pool fl.Pool, test *dataset.Dataset, stdout, stderr io.Writer) (*fl.Server, error) {
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.Seed = o.rounds, o.perRound, o.seed
	cfg.Optimizer = o.optimizer
	cfg.ClientConfig = fl.Config{fl.KeyLR: o.lr, fl.KeyEpochs: float64(o.epochs), fl.KeyBatchSize: float64(o.batch), fl.KeyMu: o.mu}
	cfg.EvalEvery = 1
	cfg.Evaluate = func(ctx context.Context, params []float64) (fl.Metrics, error) {
		loss, acc, err := model.Evaluate(m, params, test)
		return fl.Metrics{fl.KeyLoss: loss, fl.KeyAccuracy: acc, fl.KeyExamples: float64(test.Len())}, err
	}
	cfg.CheckpointDir = o.checkpoint
	switch {
	case o.quiet:
	case o.json:
		cfg.Observer = report.Observers(&report.JSONRounds{W: stdout}, &report.Progress{W: stderr, Label: "quickstart", Rounds: o.rounds})
	default:
		cfg.Observer = &report.Table{W: stdout}
	}
	init := make([]float64, m.NumParams())
	m.Init(rand.New(rand.NewPCG(o.seed, 0x1417)), init)
	s, err := fl.NewServer(cfg, pool, init)
	if err != nil || !o.resume {
		return s, err
	}
	path := filepath.Join(o.checkpoint, fl.CheckpointFile)
	cp, err := fl.ReadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	if cp.Round > o.rounds {
		return nil, fmt.Errorf("%s holds %d rounds, more than -rounds %d: resume with -rounds %d or more", path, cp.Round, o.rounds, cp.Round)
	}
	if err := s.Restore(cp); err != nil {
		return nil, fmt.Errorf("resume from %s: %w", path, err)
	}
	fmt.Fprintf(stderr, "quickstart: resumed after round %d of %d\n", s.Round(), o.rounds)
	return s, nil
}

// trainAndReport runs the rounds (Ctrl-C stops them) and prints the
// summary: text, or the last JSON line.
func trainAndReport(o *options, s *fl.Server, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	h, err := s.Run(ctx)
	if err != nil {
		return err
	}
	sum := report.Summarize(h, s.Params(), time.Since(start))
	if o.json {
		return report.WriteJSON(stdout, sum)
	}
	sum.Print(stdout)
	return nil
}

func examples(train []*dataset.Dataset) (n int) {
	for _, d := range train {
		n += d.Len()
	}
	return n
}
