package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/fedgo/fedgo/fl/report/chart"
)

// errUsage marks an error the flag package has already printed.
var errUsage = errors.New("usage")

// algorithms are the algorithms the program runs, in table order.
var algorithms = []string{"fedavg", "fedprox", "scaffold", "fednova", "feddyn"}

type options struct {
	algorithms                  []string
	splits                      []split
	dataset, dataDir, out       string
	checkpoint                  string
	rounds, epochs, clients     int
	batch, seeds, testExamples  int
	lr, momentum, driftMomentum float64
	weightDecay, mu, dynAlpha   float64
	fraction                    float64
	seed                        uint64
	scale, json, quiet          bool
}

// The niid_bench settings (Flower's baselines/niid_bench configs, after Li
// et al. 2022), and the -scale preset that runs a whole table in minutes.
const (
	fullRounds, fullEpochs, fullClients = 50, 10, 10
	scaleRounds, scaleEpochs            = 10, 1
	scaleFraction                       = 0.1
	scaleTestExamples                   = 2000
)

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("niid", flag.ContinueOnError)
	fs.SetOutput(stderr)
	algs := fs.String("algorithms", strings.Join(algorithms, ","), "algorithms, comma-separated: fedavg, fedprox, scaffold, fednova, feddyn")
	splits := fs.String("splits", "iid,dir(0.5),#C=2", "splits, comma-separated: iid, dir(α) (dir alone: α = 0.5), #C=k (k labels per client)")
	fs.StringVar(&o.dataset, "dataset", "fashion-mnist", "data set: fashion-mnist (the Debian package dataset-fashion-mnist) or synthetic (28×28 images of a bright square whose place is the class, for quick runs)")
	fs.StringVar(&o.dataDir, "data", "", "directory of the Fashion-MNIST files (default: where dataset-fashion-mnist puts them)")
	fs.IntVar(&o.rounds, "rounds", fullRounds, "rounds per run")
	fs.IntVar(&o.epochs, "local-epochs", fullEpochs, "local epochs per round")
	fs.IntVar(&o.clients, "clients", fullClients, "clients, all of them in every round")
	fs.IntVar(&o.batch, "batch", 64, "local minibatch size")
	fs.Float64Var(&o.lr, "lr", 0.01, "local learning rate")
	fs.Float64Var(&o.momentum, "momentum", 0.9, "local SGD momentum of fedavg, fedprox and fednova")
	fs.Float64Var(&o.driftMomentum, "drift-momentum", 0, "local SGD momentum of scaffold and feddyn (0: the papers' plain SGD)")
	fs.Float64Var(&o.weightDecay, "weight-decay", 1e-5, "local weight decay")
	fs.Float64Var(&o.mu, "mu", 0.01, "FedProx proximal coefficient μ")
	fs.Float64Var(&o.dynAlpha, "feddyn-alpha", 0.01, "FedDyn regularizer weight α")
	fs.Float64Var(&o.fraction, "fraction", 1, "fraction of the training set used, drawn at random before the split, in (0, 1]")
	fs.IntVar(&o.testExamples, "test-examples", 0, "evaluate on the first n test images (0: all 10,000)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the split, the initial model, the shuffling and the sampling")
	fs.IntVar(&o.seeds, "seeds", 1, "runs per cell, with seeds seed, seed+1, …")
	fs.BoolVar(&o.scale, "scale", false, fmt.Sprintf("scaled-down preset for a whole table in minutes: -rounds %d -local-epochs %d -fraction %v -test-examples %d unless set", scaleRounds, scaleEpochs, scaleFraction, scaleTestExamples))
	fs.StringVar(&o.out, "out", "out", "directory for the plot niid_accuracy.png (test accuracy per round, one line per algorithm and split), checked before training; empty: no plot")
	fs.StringVar(&o.checkpoint, "checkpoint", "", "directory of per-run checkpoints, written after every round (DIR/<algorithm>_<split>_seed<n>/); a run whose checkpoint exists resumes from it (same flags), so a long table survives restarts")
	fs.BoolVar(&o.json, "json", false, "stdout only JSON: one object per run, a summary last")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress on stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.scale {
		if !set["rounds"] {
			o.rounds = scaleRounds
		}
		if !set["local-epochs"] {
			o.epochs = scaleEpochs
		}
		if !set["fraction"] {
			o.fraction = scaleFraction
		}
		if !set["test-examples"] {
			o.testExamples = scaleTestExamples
		}
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if fs.NArg() > 0 {
		bad("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.algorithms, err = parseAlgorithms(*algs); err != nil {
		errs = append(errs, err)
	}
	if o.splits, err = parseSplits(*splits); err != nil {
		errs = append(errs, err)
	}
	if o.dataset != "fashion-mnist" && o.dataset != "synthetic" {
		bad("-dataset %q: want fashion-mnist or synthetic", o.dataset)
	}
	if o.rounds < 1 || o.epochs < 1 || o.clients < 1 || o.batch < 1 || o.seeds < 1 || o.testExamples < 0 {
		bad("-rounds %d -local-epochs %d -clients %d -batch %d -seeds %d -test-examples %d: each must be ≥ 1 (test-examples ≥ 0)",
			o.rounds, o.epochs, o.clients, o.batch, o.seeds, o.testExamples)
	}
	if !(o.lr > 0) || math.IsInf(o.lr, 0) || !(o.dynAlpha > 0) || math.IsInf(o.dynAlpha, 0) {
		bad("-lr %v -feddyn-alpha %v: want finite and > 0", o.lr, o.dynAlpha)
	}
	if !(o.momentum >= 0 && o.momentum < 1) || !(o.driftMomentum >= 0 && o.driftMomentum < 1) {
		bad("-momentum %v -drift-momentum %v: want in [0, 1)", o.momentum, o.driftMomentum)
	}
	if !(o.weightDecay >= 0) || math.IsInf(o.weightDecay, 0) || !(o.mu >= 0) || math.IsInf(o.mu, 0) {
		bad("-weight-decay %v -mu %v: want finite and ≥ 0", o.weightDecay, o.mu)
	}
	if !(o.fraction > 0 && o.fraction <= 1) {
		bad("-fraction %v: want in (0, 1]", o.fraction)
	}
	if o.out != "" {
		if err := chart.CheckPath(plotPath(o)); err != nil {
			bad("-out: %v", err)
		}
	}
	return o, errors.Join(errs...)
}

func parseAlgorithms(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		a := strings.ToLower(strings.TrimSpace(f))
		if !slices.Contains(algorithms, a) {
			return nil, fmt.Errorf("-algorithms: %q: want some of %s", f, strings.Join(algorithms, ", "))
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// A split is how the training set is dealt to the clients: IID, label
// skew Dir(α), or k labels per client (#C=k).
type split struct {
	kind  string // "iid", "dir" or "labels"
	alpha float64
	k     int
}

// key is the split's name in tables and JSON: iid, dir(0.5), #C=2.
func (s split) key() string {
	switch s.kind {
	case "dir":
		return "dir(" + strconv.FormatFloat(s.alpha, 'g', -1, 64) + ")"
	case "labels":
		return "#C=" + strconv.Itoa(s.k)
	}
	return "iid"
}

// parseSplits reads a comma-separated list of splits. Commas inside
// parentheses do not occur (dir takes one number).
func parseSplits(s string) ([]split, error) {
	var out []split
	for _, f := range strings.Split(s, ",") {
		sp, err := parseSplit(strings.ToLower(strings.TrimSpace(f)))
		if err != nil {
			return nil, fmt.Errorf("-splits: %q: %w", f, err)
		}
		if !slices.Contains(out, sp) {
			out = append(out, sp)
		}
	}
	return out, nil
}

func parseSplit(f string) (split, error) {
	switch {
	case f == "iid":
		return split{kind: "iid"}, nil
	case f == "dir":
		return split{kind: "dir", alpha: 0.5}, nil
	case strings.HasPrefix(f, "dir(") && strings.HasSuffix(f, ")"):
		a, err := strconv.ParseFloat(f[4:len(f)-1], 64)
		if err != nil || !(a > 0) || math.IsInf(a, 0) {
			return split{}, errors.New("want dir(α) with α finite and > 0")
		}
		return split{kind: "dir", alpha: a}, nil
	case strings.HasPrefix(f, "#c="):
		k, err := strconv.Atoi(f[3:])
		if err != nil || k < 1 {
			return split{}, errors.New("want #C=k with k ≥ 1")
		}
		return split{kind: "labels", k: k}, nil
	}
	return split{}, errors.New("want iid, dir, dir(α) or #C=k")
}

// plotPath is the file -out names: niid_accuracy.png in the directory.
func plotPath(o *options) string { return filepath.Join(o.out, "niid_accuracy.png") }
