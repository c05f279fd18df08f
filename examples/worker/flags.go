package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/nats-io/nats.go"
)

// errUsage marks an error the flag package has already printed.
var errUsage = errors.New("usage")

type options struct {
	url, prefix, queue             string
	serve, compare, json, quiet    bool
	local, workers                 int
	clients, perRound, rounds, dim int
	epochs                         int
	lr, drop                       float64
	seed                           uint64
	timeout                        time.Duration
}

// role is what this process runs.
func (o *options) role() string {
	switch {
	case o.local > 0:
		return "local"
	case o.serve:
		return "server"
	}
	return "worker"
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "nats", nats.DefaultURL, "NATS server URL (not with -local)")
	fs.StringVar(&o.prefix, "prefix", "fedgo.sim", "subject prefix of the virtual clients")
	fs.StringVar(&o.queue, "queue", "fedgo-workers", "NATS queue group the workers share")
	fs.BoolVar(&o.serve, "server", false, "run the federation's server instead of a worker")
	fs.IntVar(&o.local, "local", 0, "run an embedded NATS server on loopback, this many workers and the server, in this process")
	fs.IntVar(&o.workers, "workers", 0, "virtual clients a worker runs at once (0: GOMAXPROCS)")
	fs.BoolVar(&o.compare, "compare", false, "server: also run the in-memory simulation with the same flags and report its params_sha256")
	fs.BoolVar(&o.json, "json", false, "server: stdout only JSON, one object per round, the summary last (the rest goes to stderr)")
	fs.BoolVar(&o.quiet, "quiet", false, "server: print the summary only")
	fs.IntVar(&o.clients, "clients", 100000, "virtual clients in the population")
	fs.IntVar(&o.perRound, "per-round", 1000, "clients sampled per round, at most -clients")
	fs.IntVar(&o.rounds, "rounds", 5, "rounds")
	fs.IntVar(&o.dim, "dim", 100, "model parameters (a linear regression)")
	fs.IntVar(&o.epochs, "local-epochs", 5, "local gradient steps per round")
	fs.Float64Var(&o.lr, "lr", 0.05, "local learning rate, > 0")
	fs.Float64Var(&o.drop, "drop", 0, "probability in [0, 1) that a client drops out of a round (drawn from the seed, the id and the round)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of every random choice")
	fs.DurationVar(&o.timeout, "round-timeout", time.Minute, "server: deadline of each round, > 0")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return o, o.check(fs.Args(), set)
}

// check refuses what the run could not honour, all problems at once.
func (o *options) check(extra []string, set map[string]bool) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(extra) > 0 {
		bad("unexpected arguments %q", extra)
	}
	if o.clients < 1 || o.rounds < 1 || o.dim < 1 || o.epochs < 1 {
		bad("-clients %d -rounds %d -dim %d -local-epochs %d: each must be ≥ 1", o.clients, o.rounds, o.dim, o.epochs)
	}
	if o.perRound < 1 || o.perRound > o.clients {
		bad("-per-round %d: want 1..%d (the clients)", o.perRound, o.clients)
	}
	if o.local < 0 || o.workers < 0 {
		bad("-local %d -workers %d: want ≥ 0", o.local, o.workers)
	}
	if !(o.lr > 0) || math.IsInf(o.lr, 1) {
		bad("-lr %v: want > 0, finite", o.lr)
	}
	if !(o.drop >= 0 && o.drop < 1) {
		bad("-drop %v: want a probability in [0, 1)", o.drop)
	}
	if o.timeout <= 0 {
		bad("-round-timeout %v: want > 0", o.timeout)
	}
	switch o.role() {
	case "local":
		for _, name := range []string{"nats", "server"} {
			if set[name] {
				bad("-%s: not with -local (which runs its own NATS server and the server)", name)
			}
		}
	case "worker":
		for _, name := range []string{"compare", "json", "quiet", "round-timeout"} {
			if set[name] {
				bad("-%s: a flag of the server (-server or -local), not of a worker", name)
			}
		}
	}
	return errors.Join(errs...)
}
