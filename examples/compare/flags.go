package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/report/chart"
	"github.com/fedgo/fedgo/robust"
	"github.com/fedgo/fedgo/robust/attack"
)

// errUsage marks an error the flag package has already printed.
var errUsage = errors.New("usage")

type options struct {
	aggregators, attacks []string
	dataset, dataDir     string
	model, out           string
	n, f, rounds, epochs int
	lr, alpha, ipmEps    float64
	alieZ                float64
	iid, json, explain   bool
	seed                 uint64
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	aggs := fs.String("aggregators", strings.Join(defaultAggregators, ","), "comma-separated rules: fedavg, "+strings.Join(robust.Names, ", ")+"; prefix nnm+, bucketing+ or arc+ for a pre-aggregation step")
	atks := fs.String("attacks", strings.Join(defaultAttacks, ","), "comma-separated attacks: "+strings.Join(attack.Names, ", ")+", opt-alie, opt-ipm")
	fs.BoolVar(&o.explain, "explain", false, "report what selecting rules chose in the last round")
	fs.IntVar(&o.f, "byzantine", 4, "f, the number of Byzantine clients, 0 ≤ 2f < n")
	fs.IntVar(&o.n, "clients", 20, "n, the number of clients (all take part in every round)")
	fs.IntVar(&o.rounds, "rounds", 20, "rounds, ≥ 1")
	fs.IntVar(&o.epochs, "local-epochs", 2, "local epochs per round, ≥ 1")
	fs.Float64Var(&o.lr, "lr", 0, "local learning rate > 0 (default 0.5 synthetic, 0.05 Fashion-MNIST)")
	fs.Float64Var(&o.ipmEps, "ipm-eps", 10, "IPM's ε: Byzantine clients send −ε·mean (Xie et al. use 0.1 against median-like rules and large ε against others)")
	fs.Float64Var(&o.alieZ, "alie-z", 0, "ALIE's z (0: the z_max of Baruch et al. for the round's n and f)")
	fs.BoolVar(&o.iid, "iid", true, "IID split of the data over the clients")
	fs.Float64Var(&o.alpha, "alpha", 0, "non-IID: Dirichlet(α) label skew over the clients (sets -iid=false)")
	fs.StringVar(&o.dataset, "dataset", "synthetic", "data set: synthetic (Synthetic-IID of Li et al. 2020, pooled and split) or fashion-mnist")
	fs.StringVar(&o.dataDir, "data", "", "directory of the Fashion-MNIST files")
	fs.StringVar(&o.model, "model", "softmax", "model: softmax, mlp, or cnn (Flower niid_bench's CNN; 28×28 images: fashion-mnist only)")
	fs.StringVar(&o.out, "out", "out", "directory for the plots (compare_heatmap.png, compare_curves_ATTACK.png), checked before training; empty: no plots")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of every random choice")
	fs.BoolVar(&o.json, "json", false, "stdout only JSON: one object per cell (progress on stderr)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if o.alpha > 0 {
		o.iid = false
	} else if !o.iid {
		o.alpha = 0.5
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["lr"] {
		o.lr = 0.5
		if o.dataset == "fashion-mnist" {
			o.lr = 0.05
		}
	}
	o.aggregators = split(*aggs)
	o.attacks = split(*atks)
	return o, o.check(fs.Args())
}

// check refuses what the run could not honour, before any training: all
// problems at once.
func (o *options) check(extra []string) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(extra) > 0 {
		bad("unexpected arguments %q", extra)
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
	if o.rounds < 1 || o.epochs < 1 {
		bad("-rounds %d -local-epochs %d: each must be ≥ 1", o.rounds, o.epochs)
	}
	if o.f < 0 || o.n < 1 || 2*o.f >= o.n {
		bad("-byzantine %d -clients %d: need 0 ≤ 2f < n", o.f, o.n)
	}
	if !finite(o.lr) || o.lr <= 0 || !finite(o.alpha) || o.alpha < 0 || !finite(o.ipmEps) || !finite(o.alieZ) || o.alieZ < 0 {
		bad("-lr %v -alpha %v -ipm-eps %v -alie-z %v: want lr > 0, alpha and alie-z ≥ 0, all finite", o.lr, o.alpha, o.ipmEps, o.alieZ)
	}
	if len(o.aggregators) == 0 || len(o.attacks) == 0 {
		bad("-aggregators %q -attacks %q: want at least one of each", o.aggregators, o.attacks)
	}
	for _, a := range o.aggregators {
		r, err := newRule(a, o.f, o.seed, nil)
		if err != nil {
			bad("-aggregators: %v", err)
			continue
		}
		if v, ok := r.(interface{ Validate(n int) error }); ok && o.n >= 1 {
			if err := v.Validate(o.n); err != nil {
				bad("%s with n = %d, f = %d: %w", a, o.n, o.f, err)
			}
		}
	}
	for _, a := range o.attacks {
		if _, err := o.newAttack(a, "fedavg", nil); err != nil {
			bad("-attacks: %v", err)
		}
	}
	if o.out != "" {
		// The plots are written after training: find out now whether they can be.
		if err := chart.CheckPath(filepath.Join(o.out, "compare_heatmap.png")); err != nil {
			bad("-out %q: %v", o.out, err)
		}
	}
	return errors.Join(errs...)
}

func finite(x float64) bool { return !math.IsInf(x, 0) && !math.IsNaN(x) }

// newAttack builds an attack by name, with the -ipm-eps and -alie-z knobs;
// opt-alie and opt-ipm search their scale against their own copy of the
// rule agg.
func (o *options) newAttack(name, agg string, root func() ([]float64, error)) (attack.Attack, error) {
	switch name {
	case "ipm":
		return attack.IPM{Epsilon: o.ipmEps}, nil
	case "alie":
		return attack.ALIE{Z: o.alieZ}, nil
	case "opt-alie", "opt-ipm":
		r, err := newRule(agg, o.f, o.seed, root)
		if err != nil {
			return nil, err
		}
		var a attack.Scalable = attack.ALIE{}
		if name == "opt-ipm" {
			a = attack.IPM{}
		}
		return attack.LineMax{Attack: a, Rule: r}, nil
	}
	return attack.New(name)
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// newRule builds an aggregation rule by name; root feeds FLTrust.
func newRule(name string, f int, seed uint64, root func() ([]float64, error)) (fl.Aggregator, error) {
	if name == "fedavg" {
		return &fl.FedAvg{}, nil
	}
	a, err := robust.New(name, f, seed)
	if err != nil {
		return nil, err
	}
	if ft, ok := a.(*robust.FLTrust); ok {
		ft.Root = root
	}
	return a, nil
}
