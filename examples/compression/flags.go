package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/fedgo/fedgo/compress"
	"github.com/fedgo/fedgo/fl/report/chart"
)

// errUsage marks an error the flag package has already printed.
var errUsage = errors.New("usage")

// defaultCodecs are the lines of the default run.
var defaultCodecs = []string{"none", "float16", "int8", "qsgd", "topk1%+ef", "randk1%+ef", "sign+ef"}

type options struct {
	codecs                                   []string
	hidden                                   []int
	dataset, dataDir, plot, model            string
	rounds, clients, perRound, epochs, batch int
	lr                                       float64
	iid, json, verbose                       bool
	seed                                     uint64
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("compression", flag.ContinueOnError)
	fs.SetOutput(stderr)
	codec := fs.String("codec", "", "run only this codec (names as in compress.Parse, e.g. topk1%+ef, int8, qsgd, sign+ef, float16+zstd; none = no codec); default: "+strings.Join(defaultCodecs, " "))
	fs.StringVar(&o.dataset, "dataset", "synthetic", "data set: synthetic or fashion-mnist")
	fs.StringVar(&o.dataDir, "data", "", "directory of the Fashion-MNIST files (implies -dataset fashion-mnist)")
	fs.StringVar(&o.model, "model", "mlp", "model: softmax, mlp, or cnn (Flower niid_bench's CNN; 28×28 images: fashion-mnist only)")
	hidden := fs.String("hidden", "200", "MLP hidden layer widths, comma-separated")
	fs.IntVar(&o.rounds, "rounds", 120, "rounds")
	fs.IntVar(&o.clients, "clients", 30, "clients")
	fs.IntVar(&o.perRound, "per-round", 0, "clients per round, at most -clients (0 = all)")
	fs.IntVar(&o.epochs, "local-epochs", 2, "local epochs per round")
	fs.IntVar(&o.batch, "batch", 10, "local minibatch size")
	fs.Float64Var(&o.lr, "lr", 0.1, "local learning rate")
	fs.BoolVar(&o.iid, "iid", true, "IID data (Synthetic-IID, or an IID split of Fashion-MNIST); -iid=false gives Synthetic(1,1) / Dirichlet(0.5)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of every random choice")
	out := fs.String("out", "out", "directory for the plot compression.png (created if missing; empty: no plot)")
	fs.BoolVar(&o.json, "json", false, "stdout only JSON: one object per codec, then a summary")
	fs.BoolVar(&o.verbose, "v", false, "print the per-round table of every run")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if o.dataDir != "" {
		o.dataset = "fashion-mnist"
	}
	o.codecs = defaultCodecs
	if *codec != "" {
		o.codecs = []string{*codec}
	}
	o.plot = plotPath(*out)
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if fs.NArg() > 0 {
		bad("unexpected arguments %q", fs.Args())
	}
	for _, c := range o.codecs {
		if _, err := compress.Parse(c); err != nil && c != "none" {
			bad("-codec: %v", err)
		}
	}
	if o.dataset != "synthetic" && o.dataset != "fashion-mnist" {
		bad("-dataset %q: want synthetic or fashion-mnist", o.dataset)
	}
	if o.model != "softmax" && o.model != "mlp" && o.model != "cnn" {
		bad("-model %q: want softmax, mlp or cnn", o.model)
	}
	if o.model == "cnn" && o.dataset != "fashion-mnist" {
		bad("-model cnn needs 28×28 images: -dataset fashion-mnist")
	}
	var err error
	if o.hidden, err = parseHidden(*hidden); err != nil {
		bad("%v", err)
	}
	if o.rounds < 1 || o.clients < 1 || o.epochs < 1 || o.batch < 1 {
		bad("-rounds %d -clients %d -local-epochs %d -batch %d: each must be ≥ 1", o.rounds, o.clients, o.epochs, o.batch)
	}
	if o.perRound < 0 || o.perRound > o.clients {
		bad("-per-round %d: want 0 (all) or 1..%d (the clients)", o.perRound, o.clients)
	}
	if !(o.lr > 0) || math.IsInf(o.lr, 1) {
		bad("-lr %v: want finite and > 0", o.lr)
	}
	if o.plot != "" {
		if err := chart.CheckPath(o.plot); err != nil {
			bad("-out: %v", err)
		}
	}
	return o, errors.Join(errs...)
}

func parseHidden(s string) ([]int, error) {
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
