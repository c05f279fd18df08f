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
	"time"

	"github.com/fedgo/fedgo/fl"
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
	workload.Flags
	drop                float64
	resume, json, quiet bool
	checkpoint          string
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.Register(fs)
	fs.Float64Var(&o.drop, "drop", 0, "probability that a sampled client drops out of a round")
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
	w, err := o.Build()
	if err != nil {
		return err
	}
	pool, err := w.Pool(o.Trainer(), transport.Faults{Drop: o.drop})
	if err != nil {
		return err
	}
	cfg, err := o.ServerConfig(w)
	if err != nil {
		return err
	}
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
			o.Model, o.Dataset, o.Clients, w.Examples(), cfg.ClientsPerRound, w.Model.NumParams(), o.Strategy)
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
