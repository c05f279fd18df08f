// Command hier runs hierarchical federated averaging: a root, edge
// aggregators (package hier) and the quickstart workload's clients split
// evenly over the edges, in memory or over NATS, and the flat in-memory
// federation of the same clients with the same flags, whose parameters
// the tree reproduces bit for bit.
//
//	go run ./examples/hier -edges 3 -clients 30 -rounds 20
//	go run ./examples/hier -edges 4 -kill-edges 0.25 -drop 0.1 -json
//	go run github.com/nats-io/nats-server/v2@v2.15.3 &   # then:
//	go run ./examples/hier -nats nats://127.0.0.1:4222
//
// Every client takes part in every round (the cross-silo setting);
// -drop makes each client drop out of a round with that probability, and
// -kill-edges FRACTION crashes that fraction of the edges (the last ones)
// from the middle round on: the root counts their clients as failed and
// goes on while its quorum (-min-clients) holds. The flat run applies the
// same dropouts and fails the same clients. With -nats, the root reaches
// the edges and each edge its clients through the NATS server at URL (all
// served from this process, as separate processes would serve them:
// see examples/worker).
//
// It uses only fedgo's public packages; each step is one function below:
// loadWorkload, split, buildTree, runFlat, runTree, report.
//
// Output: a table of the rounds and a summary on stdout. With -json,
// stdout carries only JSON: one object per round (fl.RoundStats), then the
// summary as the last line (rounds, final_accuracy, final_loss,
// params_sha256, flat_params_sha256, failed_updates — leaf clients lost —,
// edges, killed_edges, transport, bytes and seconds); progress lines and
// the other text go to stderr. -quiet prints the summary only. The exit
// status is not 0 when a run fails or the tree's parameters differ from
// the flat run's.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/report"
	"github.com/fedgo/fedgo/hier"
	"github.com/fedgo/fedgo/transport"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		os.Exit(2) // the flag package has printed the problem
	case err != nil:
		fmt.Fprintln(os.Stderr, "hier:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	w, err := loadWorkload(o)
	if err != nil {
		return err
	}
	f := split(o, w.ids)
	root, kind, stopTree, err := buildTree(ctx, o, f, w.factory(o))
	if err != nil {
		return err
	}
	defer stopTree()
	out := newPrinter(o, stdout, stderr)
	fmt.Fprintf(out.info, "%s on %s: %d clients over %d edges (%s), %d killed from round %d, %d parameters\n\n",
		o.model, o.dataset, len(w.ids), o.edges, kind, len(f.killed), f.from, w.model.NumParams())
	flat, err := runFlat(ctx, o, w, f, out.progress("flat"))
	if err != nil {
		return fmt.Errorf("flat run: %w", err)
	}
	start := time.Now()
	h, params, err := runTree(ctx, o, w, f, root, out.rounds)
	if err != nil {
		return err
	}
	return out.report(summarize(h, params, time.Since(start)), report.ParamsSHA256(flat), f, kind)
}

// buildTree returns the root's pool of edges, in memory or over NATS (then
// connected before any training, so that a bad -nats fails at once), and
// the function that stops it.
func buildTree(ctx context.Context, o *options, f *federation, factory func(string) (fl.Handler, error)) (fl.Pool, string, func(), error) {
	if o.natsURL != "" {
		root, stop, err := natsTree(ctx, o, f, factory)
		return root, "nats", stop, err
	}
	root, err := memoryTree(o, f, factory)
	return root, "memory", func() {}, err
}

// serverConfig is the server of both runs: every client (or edge) each
// round, the root's quorum counted in clients, no round aborted for lack
// of clients ending the run early.
func serverConfig(o *options, ex fl.Exchange, obs fl.Observer) fl.ServerConfig {
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.MinClients, cfg.MaxAborted, cfg.Seed = o.rounds, o.minClients, o.rounds, o.seed
	cfg.Optimizer, _ = optimizer(o.strategy, o.serverLR) // a fresh one per run; parse checked the name
	cfg.Exchange, cfg.Observer = ex, obs
	cfg.ClientConfig = fl.Config{fl.KeyLR: o.lr, fl.KeyEpochs: float64(o.epochs), fl.KeyBatchSize: float64(o.batch), fl.KeyMu: o.mu}
	return cfg
}

// runFlat runs the flat federation: every client in one in-memory pool, a
// client failing in the rounds its edge is down. It returns the final
// parameters.
func runFlat(ctx context.Context, o *options, w *workload, f *federation, obs fl.Observer) ([]float64, error) {
	factory := w.factory(o)
	pool, err := transport.NewMemory(transport.MemoryConfig{IDs: w.ids, Faults: transport.Faults{Drop: o.drop}, Seed: o.seed,
		Factory: func(id string) (fl.Handler, error) {
			h, err := factory(id)
			if err != nil {
				return nil, err
			}
			return f.crashing(f.edgeOf[id], h), nil
		}})
	if err != nil {
		return nil, err
	}
	s, err := fl.NewServer(serverConfig(o, &hier.Exchange{}, obs), pool, w.init(o))
	if err != nil {
		return nil, err
	}
	_, err = s.Run(ctx)
	return s.Params(), err
}

// runTree runs the root over the edges, evaluating every round, and
// returns the history and the final parameters.
func runTree(ctx context.Context, o *options, w *workload, f *federation, root fl.Pool, obs fl.Observer) (*fl.History, []float64, error) {
	cfg := serverConfig(o, &hier.Exchange{Size: f.size}, obs)
	cfg.Evaluate, cfg.EvalEvery = w.evaluate, 1
	s, err := fl.NewServer(cfg, root, w.init(o))
	if err != nil {
		return nil, nil, err
	}
	h, err := s.Run(ctx)
	return h, s.Params(), err
}

// summarize is report.Summarize with the failed updates counted in leaf
// clients, not edges.
func summarize(h *fl.History, params []float64, wall time.Duration) report.Summary {
	sum := report.Summarize(h, params, wall)
	sum.FailedUpdates = 0
	for _, r := range h.Rounds {
		sum.FailedUpdates += int(r.Extra[hier.KeyFailed])
	}
	return sum
}
