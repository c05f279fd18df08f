package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// errUsage marks an error the flag package has already printed.
var errUsage = errors.New("usage")

type options struct {
	dataset, dataDir, model, acct                        string
	clients, perRound, rounds, epochs, batch, maxSamples int
	epsilon, delta, noise, clip, q, lr, serverLR         float64
	adaptive, iid, json, quiet, secure                   bool
	seed                                                 uint64
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("dp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dataset, "dataset", "synthetic", "data set: synthetic or fashion-mnist")
	fs.StringVar(&o.dataDir, "data", "", "directory of the Fashion-MNIST files (default: the Debian package's)")
	fs.StringVar(&o.model, "model", "softmax", "model: softmax, mlp, or cnn (Flower niid_bench's CNN; 28×28 images: fashion-mnist only)")
	fs.BoolVar(&o.iid, "iid", true, "IID data: Synthetic-IID, or an IID split of Fashion-MNIST (-iid=false: Synthetic(1,1), or a Dirichlet(0.5) split)")
	fs.IntVar(&o.clients, "clients", 1000, "clients N (DP needs many)")
	fs.IntVar(&o.maxSamples, "max-samples", 50, "synthetic: cap on each client's examples")
	fs.Float64Var(&o.q, "q", 0, "Poisson sampling rate q in (0, 1] (default 0.1 unless -per-round is set)")
	fs.IntVar(&o.perRound, "per-round", 0, "fixed-size sampling of exactly this many clients a round (instead of -q)")
	fs.IntVar(&o.rounds, "rounds", 0, "rounds (default 100 for synthetic, 40 for fashion-mnist)")
	fs.Float64Var(&o.epsilon, "epsilon", 5, "privacy budget ε; 0 means no budget (ε is still reported when there is noise)")
	fs.Float64Var(&o.delta, "delta", 0, "δ of the budget (default 1/N^1.1; a δ ≥ 1/N is warned about)")
	fs.Float64Var(&o.noise, "noise", 0, "noise multiplier z; 0 means calibrate it to -epsilon over -rounds (no noise without a budget)")
	fs.Float64Var(&o.clip, "clip", 1, "clip norm C of the updates (the initial one with -adaptive)")
	fs.BoolVar(&o.adaptive, "adaptive", false, "adaptive clipping toward the median update norm (Andrew et al. 2021)")
	fs.StringVar(&o.acct, "accountant", "rdp", "privacy accountant: rdp (the discrete Gaussian's proven bound) or pld (the PLD has no bound for the discrete Gaussian: floating-point Gaussian noise instead, whose low-order bits leak)")
	fs.IntVar(&o.epochs, "local-epochs", 0, "local epochs per round (default 5 for synthetic, 1 for fashion-mnist)")
	fs.IntVar(&o.batch, "batch", 10, "local minibatch size")
	fs.Float64Var(&o.lr, "lr", 0, "local learning rate (default 0.2 for synthetic, 0.05 for fashion-mnist)")
	fs.Float64Var(&o.serverLR, "server-lr", 1, "server learning rate")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of every random choice (and of the noise, unless -secure-noise)")
	fs.BoolVar(&o.secure, "secure-noise", false, "draw the noise from crypto/rand (not reproducible)")
	fs.BoolVar(&o.json, "json", false, "stdout only JSON: one object per round, the summary last")
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
	pick := func(synthetic, fashionValue float64) float64 {
		if fashion {
			return fashionValue
		}
		return synthetic
	}
	if !set["rounds"] {
		o.rounds = int(pick(100, 40))
	}
	if !set["local-epochs"] {
		o.epochs = int(pick(5, 1))
	}
	if !set["lr"] {
		o.lr = pick(0.2, 0.05)
	}
	if !set["q"] && o.perRound == 0 {
		o.q = 0.1
	}
	return o, o.check(set, fs.Args())
}

// check refuses what the run could not honour, all problems at once.
func (o *options) check(set map[string]bool, extra []string) error {
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
	if o.clients < 1 || o.rounds < 1 || o.epochs < 1 || o.batch < 1 || o.maxSamples < 1 {
		bad("-clients %d -rounds %d -local-epochs %d -batch %d -max-samples %d: each must be ≥ 1", o.clients, o.rounds, o.epochs, o.batch, o.maxSamples)
	}
	if set["q"] && set["per-round"] {
		bad("set -q (Poisson sampling) or -per-round (fixed size), not both")
	}
	if o.perRound < 0 || o.perRound > o.clients {
		bad("-per-round %d: want 1..%d (the clients)", o.perRound, o.clients)
	}
	if !(o.q > 0 && o.q <= 1) && !set["per-round"] {
		bad("-q %v: want a rate in (0, 1]", o.q)
	}
	if !(o.lr > 0) || !(o.serverLR > 0) {
		bad("-lr %v -server-lr %v: want > 0", o.lr, o.serverLR)
	}
	if !(o.delta >= 0 && o.delta < 1) {
		bad("-delta %v: want a probability in [0, 1)", o.delta)
	}
	if o.acct != "rdp" && o.acct != "pld" {
		bad("-accountant %q, want rdp or pld", o.acct)
	}
	return errors.Join(errs...)
}
