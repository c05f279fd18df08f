// Command worker hosts virtual clients of a simulation for a server that
// reaches them over NATS (package transport/natspool), so that a
// simulation can use the CPUs of many machines. Each virtual client is
// built from its id when a task for it arrives (its data drawn from the
// seed and the id) and dropped after it answers, so a worker's memory does
// not depend on the population; the workers share the population through
// a NATS queue group, each task going to one of them.
//
// Start a NATS server, any number of workers, and the server:
//
//	go run github.com/nats-io/nats-server/v2@v2.15.3 -a 127.0.0.1 &
//	go run ./examples/worker -nats nats://127.0.0.1:4222 &      # × 4, on any hosts
//	go run ./examples/worker -nats nats://127.0.0.1:4222 -server -clients 100000 -compare -json
//
// or all of it in one process (an embedded NATS server on loopback and
// -local workers): go run ./examples/worker -local 4 -clients 100000 -compare.
//
// It uses only fedgo's public packages; each step is one function below:
// runWorker, runLocal, runServer, simulateInMemory, report.
//
// Output (the server's): a table of the rounds and a summary on stdout.
// With -json, stdout carries only JSON: one object per round
// (fl.RoundStats), then the summary as the last line (rounds, final_loss,
// params_sha256, failed_updates, bytes_up, bytes_down, wall_seconds,
// clients and, with -compare, memory_params_sha256: the in-memory
// simulation with the same flags, which the run over the workers
// reproduces bit for bit); a progress line and the other text go to
// stderr. -quiet prints the summary only. The exit status is not 0 when
// the run fails, and with -compare when the two runs' parameters differ.
// A worker serves until interrupted (Ctrl-C), and then exits with 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/report"
	"github.com/fedgo/fedgo/transport"
	"github.com/fedgo/fedgo/transport/natspool"
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
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	if o.role() == "local" {
		return runLocal(ctx, o, stdout, stderr)
	}
	nc, err := nats.Connect(o.url, nats.Name("fedgo-worker"), nats.MaxReconnects(-1))
	if err != nil {
		return err
	}
	defer nc.Close()
	if o.role() == "server" {
		return runServer(ctx, o, nc, stdout, stderr)
	}
	return runWorker(ctx, o, nc, nil)
}

// runWorker serves virtual clients until ctx is done, which is how a
// worker stops: it then returns nil.
func runWorker(ctx context.Context, o *options, nc *nats.Conn, ready chan<- struct{}) error {
	r, err := natspool.NewRunner(natspool.RunnerConfig{Conn: nc, Prefix: o.prefix, Queue: o.queue, Workers: o.workers, Factory: o.factory()})
	if err != nil {
		return err
	}
	if ready != nil {
		go func() {
			select {
			case <-r.Ready():
				ready <- struct{}{}
			case <-ctx.Done():
			}
		}()
	}
	if err := r.Run(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// runLocal starts an embedded NATS server on loopback and o.local workers,
// then the server.
func runLocal(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		return err
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		return errors.New("embedded NATS server not ready")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan struct{}, o.local)
	done := make(chan error, o.local)
	for range o.local {
		nc, err := nats.Connect(ns.ClientURL())
		if err != nil {
			return err
		}
		defer nc.Close()
		go func() { done <- runWorker(ctx, o, nc, ready) }()
	}
	for range o.local {
		select {
		case <-ready:
		case err := <-done:
			return err
		}
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		return err
	}
	defer nc.Close()
	err = runServer(ctx, o, nc, stdout, stderr)
	cancel()
	for range o.local {
		<-done
	}
	return err
}

// serverConfig is the federation's server: -per-round clients a round,
// no round aborted for lack of clients ending the run early.
func (o *options) serverConfig() fl.ServerConfig {
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.Seed, cfg.RoundTimeout = o.rounds, o.perRound, o.seed, o.timeout
	cfg.MaxAborted = o.rounds
	cfg.ClientConfig = fl.Config{fl.KeyLR: o.lr, fl.KeyEpochs: float64(o.epochs)}
	return cfg
}

// runServer drives the rounds over the workers, then (with -compare) the
// in-memory simulation, and reports.
func runServer(ctx context.Context, o *options, nc *nats.Conn, stdout, stderr io.Writer) error {
	pool, err := natspool.New(natspool.Config{Conn: nc, Prefix: o.prefix, IDs: o.ids()})
	if err != nil {
		return err
	}
	info := stdout // where the lines for a person go
	cfg := o.serverConfig()
	switch {
	case o.json:
		info = stderr
		if !o.quiet {
			cfg.Observer = report.Observers(&report.JSONRounds{W: stdout}, &report.Progress{W: stderr, Label: "worker", Rounds: o.rounds})
		}
	case !o.quiet:
		cfg.Observer = &report.Table{W: stdout}
		fmt.Fprintf(info, "%d virtual clients over NATS, %d per round, %d rounds, %d parameters\n\n", o.clients, o.perRound, o.rounds, o.dim)
	}
	start := time.Now()
	s, err := fl.NewServer(cfg, pool, make([]float64, o.dim))
	if err != nil {
		return err
	}
	h, err := s.Run(ctx)
	if err != nil {
		return err
	}
	sum := report.Summarize(h, s.Params(), time.Since(start))
	sum.FinalLoss = h.Last().TrainLoss // the clients' loss: there is no test set
	memSHA := ""
	if o.compare {
		params, err := simulateInMemory(ctx, o, stderr)
		if err != nil {
			return fmt.Errorf("in-memory simulation: %w", err)
		}
		memSHA = report.ParamsSHA256(params)
	}
	return o.report(sum, memSHA, stdout, info)
}

// simulateInMemory runs the same federation with the virtual clients in
// an in-memory pool and returns the final parameters.
func simulateInMemory(ctx context.Context, o *options, stderr io.Writer) ([]float64, error) {
	mem, err := transport.NewMemory(transport.MemoryConfig{IDs: o.ids(), Factory: o.factory(), Workers: o.workers})
	if err != nil {
		return nil, err
	}
	cfg := o.serverConfig()
	if !o.quiet {
		cfg.Observer = &report.Progress{W: stderr, Label: "in-memory simulation", Rounds: o.rounds}
	}
	s, err := fl.NewServer(cfg, mem, make([]float64, o.dim))
	if err != nil {
		return nil, err
	}
	_, err = s.Run(ctx)
	return s.Params(), err
}

// report prints the summary: text, or the last JSON line. With -compare,
// the run fails when the two runs' parameters differ.
func (o *options) report(sum report.Summary, memSHA string, stdout, info io.Writer) error {
	if o.json {
		line := sum.Fields()
		line["clients"] = o.clients
		if o.compare {
			line["memory_params_sha256"] = memSHA
		}
		if err := report.WriteJSON(stdout, line); err != nil {
			return err
		}
	} else {
		trainLoss := sum.FinalLoss
		sum.FinalLoss = math.NaN() // Print's loss is a test loss
		sum.Print(stdout)
		fmt.Fprintf(stdout, "final train loss %.4f (the clients' mean: there is no test set)\n", trainLoss)
	}
	if !o.compare {
		return nil
	}
	fmt.Fprintf(info, "in-memory params sha256 %s (same bits: %v)\n", memSHA, memSHA == sum.ParamsSHA256)
	if memSHA != sum.ParamsSHA256 {
		return errors.New("the run over the workers ended with other parameters than the in-memory simulation")
	}
	return nil
}
