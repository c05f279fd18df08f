package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// errUsage marks an error the flag package has already printed.
var errUsage = errors.New("usage")

type options struct {
	clients, perRound, rounds, epochs, batch, maxSamples int
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
	fs.IntVar(&o.clients, "clients", 1000, "clients N (synthetic, at most -max-samples examples each)")
	fs.IntVar(&o.maxSamples, "max-samples", 50, "cap on each client's examples")
	fs.IntVar(&o.perRound, "per-round", 100, "clients a round n (fixed-size sampling)")
	fs.IntVar(&o.rounds, "rounds", 20, "rounds")
	fs.StringVar(&eps, "epsilons", "2,4,8", "comma-separated budgets ε (one run per ε and mechanism)")
	fs.StringVar(&bits, "bits", "12,16,20", "comma-separated ring widths b of distributed DP (2..62)")
	fs.StringVar(&mechs, "mechanisms", "central,ddg,skellam", "comma-separated mechanisms: central, ddg, skellam")
	fs.Float64Var(&o.delta, "delta", 0, "δ (default 1/N^1.1)")
	fs.Float64Var(&o.clip, "clip", 1, "clip norm C")
	fs.IntVar(&o.epochs, "local-epochs", 5, "local epochs per round")
	fs.IntVar(&o.batch, "batch", 10, "local minibatch size")
	fs.Float64Var(&o.lr, "lr", 0.2, "local learning rate")
	fs.Float64Var(&o.serverLR, "server-lr", 1, "server learning rate")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of every random choice (and of the noise, unless -secure-noise)")
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
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if fs.NArg() > 0 {
		bad("unexpected arguments %q", fs.Args())
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
	if o.clients < 2 || o.rounds < 1 || o.epochs < 1 || o.batch < 1 || o.maxSamples < 1 {
		bad("-clients %d -rounds %d -local-epochs %d -batch %d -max-samples %d: want ≥ 2, 1, 1, 1, 1", o.clients, o.rounds, o.epochs, o.batch, o.maxSamples)
	}
	if o.perRound < 3 || o.perRound > o.clients {
		bad("-per-round %d: want 3..%d (secure aggregation needs 3 clients)", o.perRound, o.clients)
	}
	if !(o.delta >= 0 && o.delta < 1) {
		bad("-delta %v: want in [0, 1)", o.delta)
	}
	if !(o.clip > 0) || !(o.lr > 0) || !(o.serverLR > 0) {
		bad("-clip %v -lr %v -server-lr %v: want > 0", o.clip, o.lr, o.serverLR)
	}
	return o, errors.Join(errs...)
}
