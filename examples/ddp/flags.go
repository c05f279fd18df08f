package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// errUsage marks an error of the command line: the program exits with
// status 2. The flag package has printed its own errors; parseFlags prints
// the others.
var errUsage = errors.New("usage")

// fashionTrain is the number of Fashion-MNIST training images, split over
// the clients.
const fashionTrain = 60000

type options struct {
	dataset, dataDir, model                              string
	clients, perRound, rounds, epochs, batch, maxSamples int
	threshold                                            int
	epsilons                                             []float64
	bits                                                 []int
	mechanisms                                           []string
	delta, clip, lr, serverLR                            float64
	json, quiet, secure                                  bool
	out                                                  string
	seed                                                 uint64
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("ddp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var eps, bits, mechs string
	fs.StringVar(&o.dataset, "dataset", "synthetic", "data set: synthetic (Synthetic-IID) or fashion-mnist (an IID split of the 60,000 training images; test accuracy on the 10,000 test images)")
	fs.StringVar(&o.dataDir, "data", "", "fashion-mnist: directory of the IDX files (default: where the Debian package dataset-fashion-mnist puts them)")
	fs.StringVar(&o.model, "model", "softmax", "model: softmax, mlp (one hidden layer of 64 units, 128 for inputs of more than 100 features) or cnn (niid_bench's, fashion-mnist only); mlp and cnn pad to D = 131,072 and 65,536 and cost far more a round: see the package doc")
	fs.IntVar(&o.clients, "clients", 1000, "clients N")
	fs.IntVar(&o.maxSamples, "max-samples", 50, "synthetic: cap on each client's examples")
	fs.IntVar(&o.perRound, "per-round", 100, "clients a round n (fixed-size sampling)")
	fs.IntVar(&o.threshold, "threshold", 0, "secure-aggregation threshold t of the distributed runs, 2..n−1: their noise is provisioned for t survivors, so a round of n clients carries n/t times the accounted variance (default n/2+1, which tolerates dropouts; n−1, the largest, is the papers' comparison at the same σ)")
	fs.IntVar(&o.rounds, "rounds", 0, "rounds (default 20)")
	fs.StringVar(&eps, "epsilons", "2,4,8", "comma-separated budgets ε (one run per ε and mechanism)")
	fs.StringVar(&bits, "bits", "12,16,20", "comma-separated ring widths b of distributed DP (2..62)")
	fs.StringVar(&mechs, "mechanisms", "central,ddg,skellam", "comma-separated mechanisms: central, ddg, skellam")
	fs.Float64Var(&o.delta, "delta", 0, "δ (default 1/N^1.1)")
	fs.Float64Var(&o.clip, "clip", 1, "clip norm C")
	fs.IntVar(&o.epochs, "local-epochs", 0, "local epochs per round (default 5 for synthetic, 1 for fashion-mnist)")
	fs.IntVar(&o.batch, "batch", 10, "local minibatch size")
	fs.Float64Var(&o.lr, "lr", 0, "local learning rate (default 0.2 for synthetic, 0.1 for fashion-mnist)")
	fs.Float64Var(&o.serverLR, "server-lr", 1, "server learning rate")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of every random choice: data, split, sampling (and the noise, unless -secure-noise)")
	fs.BoolVar(&o.secure, "secure-noise", false, "draw the noise from crypto/rand (not reproducible)")
	fs.StringVar(&o.out, "out", "out", "directory for the plot ddp_accuracy.png (created if missing; empty: no plot)")
	fs.BoolVar(&o.json, "json", false, "stdout only JSON: one object per run, the summary last")
	fs.BoolVar(&o.quiet, "quiet", false, "print the summary only")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fashion := o.dataset == "fashion-mnist"
	if !set["rounds"] {
		o.rounds = 20
	}
	if !set["local-epochs"] {
		o.epochs = pick(fashion, 5, 1)
	}
	if !set["lr"] {
		o.lr = 0.2
		if fashion {
			o.lr = 0.1
		}
	}
	if err := o.check(set, fs.Args(), eps, bits, mechs); err != nil {
		fmt.Fprintln(stderr, "ddp:", err)
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	return o, nil
}

func pick(fashion bool, synthetic, fashionValue int) int {
	if fashion {
		return fashionValue
	}
	return synthetic
}

// check parses the lists and refuses what the run could not honour, all
// problems at once.
func (o *options) check(set map[string]bool, extra []string, eps, bits, mechs string) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(extra) > 0 {
		bad("unexpected arguments %q", extra)
	}
	for _, s := range strings.Split(eps, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || !(v > 0) || v > 1e3 {
			bad("-epsilons: %q is not a budget in (0, 1000]", s)
			continue
		}
		o.epsilons = append(o.epsilons, v)
	}
	for _, s := range strings.Split(bits, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || v < 2 || v > 62 {
			bad("-bits: %q is not a width in 2..62", s)
			continue
		}
		o.bits = append(o.bits, v)
	}
	for _, s := range strings.Split(mechs, ",") {
		switch s = strings.TrimSpace(s); s {
		case "central", "ddg", "skellam":
			o.mechanisms = append(o.mechanisms, s)
		default:
			bad("-mechanisms: %q, want central, ddg or skellam", s)
		}
	}
	switch o.dataset {
	case "synthetic":
		if set["data"] {
			bad("-data %q: only -dataset fashion-mnist reads files", o.dataDir)
		}
	case "fashion-mnist":
		if set["max-samples"] {
			bad("-max-samples: applies to -dataset synthetic only (fashion-mnist splits all %d training images over -clients)", fashionTrain)
		}
		if o.clients > fashionTrain {
			bad("-clients %d: fashion-mnist has %d training images to split, at most one client each", o.clients, fashionTrain)
		}
	default:
		bad("-dataset %q: want synthetic or fashion-mnist", o.dataset)
	}
	switch o.model {
	case "softmax", "mlp":
	case "cnn":
		if o.dataset != "fashion-mnist" {
			bad("-model cnn needs 28×28 images: -dataset fashion-mnist")
		}
	default:
		bad("-model %q: want softmax, mlp or cnn", o.model)
	}
	if o.clients < 2 || o.rounds < 1 || o.epochs < 1 || o.batch < 1 || o.maxSamples < 1 {
		bad("-clients %d -rounds %d -local-epochs %d -batch %d -max-samples %d: want ≥ 2, 1, 1, 1, 1", o.clients, o.rounds, o.epochs, o.batch, o.maxSamples)
	}
	if o.perRound < 3 || o.perRound > o.clients {
		bad("-per-round %d: want 3..%d (secure aggregation needs 3 clients)", o.perRound, o.clients)
	}
	if o.threshold == 0 {
		o.threshold = o.perRound/2 + 1
	} else if o.threshold < 2 || o.threshold >= o.perRound {
		bad("-threshold %d: want 2..%d (-per-round − 1: secure aggregation's threshold is at most a client's neighbours)", o.threshold, o.perRound-1)
	}
	if !(o.delta >= 0 && o.delta < 1) {
		bad("-delta %v: want in [0, 1)", o.delta)
	}
	if !(o.clip > 0) || !(o.lr > 0) || !(o.serverLR > 0) {
		bad("-clip %v -lr %v -server-lr %v: want > 0", o.clip, o.lr, o.serverLR)
	}
	return errors.Join(errs...)
}
