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
// The server prints a table of rounds and, with -json, a last line with
// rounds, final_loss, params_sha256, failed_updates and, with -compare,
// memory_params_sha256: the in-memory simulation with the same flags,
// which the run over the workers reproduces bit for bit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/internal/report"
	"github.com/fedgo/fedgo/internal/workload"
	"github.com/fedgo/fedgo/transport"
	"github.com/fedgo/fedgo/transport/natspool"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

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

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "nats", nats.DefaultURL, "NATS server URL")
	fs.StringVar(&o.prefix, "prefix", "fedgo.sim", "subject prefix of the virtual clients")
	fs.StringVar(&o.queue, "queue", "fedgo-workers", "NATS queue group the workers share")
	fs.BoolVar(&o.serve, "server", false, "run the federation's server instead of a worker")
	fs.IntVar(&o.local, "local", 0, "run an embedded NATS server on loopback, this many workers and the server, in this process")
	fs.IntVar(&o.workers, "workers", 0, "virtual clients a worker runs at once (0: GOMAXPROCS)")
	fs.BoolVar(&o.compare, "compare", false, "server: also run the in-memory simulation with the same flags and print its params_sha256")
	fs.BoolVar(&o.json, "json", false, "server: print a JSON summary as the last line of stdout")
	fs.BoolVar(&o.quiet, "quiet", false, "server: no per-round table")
	fs.IntVar(&o.clients, "clients", 100000, "virtual clients in the population")
	fs.IntVar(&o.perRound, "per-round", 1000, "clients sampled per round")
	fs.IntVar(&o.rounds, "rounds", 5, "rounds")
	fs.IntVar(&o.dim, "dim", 100, "model parameters (a linear regression)")
	fs.IntVar(&o.epochs, "local-epochs", 5, "local gradient steps per round")
	fs.Float64Var(&o.lr, "lr", 0.05, "local learning rate")
	fs.Float64Var(&o.drop, "drop", 0, "probability that a client drops out of a round (drawn from the seed, the id and the round)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of every random choice")
	fs.DurationVar(&o.timeout, "round-timeout", time.Minute, "server: deadline of each round")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.clients < 1 || o.perRound < 1 || o.rounds < 1 || o.dim < 1 || o.epochs < 1:
		return nil, errors.New("-clients, -per-round, -rounds, -dim and -local-epochs must be positive")
	case !(o.drop >= 0 && o.drop <= 1):
		return nil, errors.New("-drop must be in [0, 1]")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	if o.local > 0 {
		return runLocal(ctx, o, stdout)
	}
	nc, err := nats.Connect(o.url, nats.Name("fedgo-worker"), nats.MaxReconnects(-1))
	if err != nil {
		return err
	}
	defer nc.Close()
	if o.serve {
		return runServer(ctx, o, nc, stdout)
	}
	return runWorker(ctx, o, nc, nil)
}

// runWorker serves virtual clients until ctx is done.
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
	return r.Run(ctx)
}

// runLocal starts an embedded NATS server and o.local workers, then the
// server.
func runLocal(ctx context.Context, o *options, stdout io.Writer) error {
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
	err = runServer(ctx, o, nc, stdout)
	cancel()
	for range o.local {
		<-done
	}
	return err
}

func (o *options) ids() []string {
	ids := make([]string, o.clients)
	for i := range ids {
		ids[i] = "v" + strconv.Itoa(i)
	}
	return ids
}

func (o *options) serverConfig() fl.ServerConfig {
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.Seed, cfg.RoundTimeout = o.rounds, min(o.perRound, o.clients), o.seed, o.timeout
	cfg.MaxAborted = o.rounds
	cfg.ClientConfig = fl.Config{fl.KeyLR: o.lr, fl.KeyEpochs: float64(o.epochs)}
	return cfg
}

func runServer(ctx context.Context, o *options, nc *nats.Conn, stdout io.Writer) error {
	pool, err := natspool.New(natspool.Config{Conn: nc, Prefix: o.prefix, IDs: o.ids()})
	if err != nil {
		return err
	}
	cfg := o.serverConfig()
	if !o.quiet {
		cfg.Observer = &report.Table{W: stdout}
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
	sum := report.Summarize(h, workload.ParamsSHA256(s.Params()), time.Since(start))
	sum.FinalLoss = h.Rounds[len(h.Rounds)-1].TrainLoss
	sum.Print(stdout)
	out := map[string]any{"rounds": sum.Rounds, "final_loss": sum.FinalLoss, "params_sha256": sum.ParamsSHA256,
		"failed_updates": sum.FailedUpdates, "clients": o.clients, "wall_seconds": sum.WallSeconds, "bytes_up": sum.BytesUp, "bytes_down": sum.BytesDown}
	if o.compare {
		mem, err := transport.NewMemory(transport.MemoryConfig{IDs: o.ids(), Factory: o.factory(), Workers: o.workers})
		if err != nil {
			return err
		}
		cfg := o.serverConfig()
		ms, err := fl.NewServer(cfg, mem, make([]float64, o.dim))
		if err != nil {
			return err
		}
		if _, err := ms.Run(ctx); err != nil {
			return err
		}
		out["memory_params_sha256"] = workload.ParamsSHA256(ms.Params())
		fmt.Fprintf(stdout, "in-memory params sha256 %s (same bits: %v)\n", out["memory_params_sha256"], out["memory_params_sha256"] == sum.ParamsSHA256)
	}
	if o.json {
		return report.JSON(stdout, out)
	}
	return nil
}

// factory builds virtual client id from the seed and the id alone: a
// linear regression on 10 to 29 examples drawn around a shared model,
// with its dropouts those of transport.Memory with the same seed.
func (o *options) factory() func(id string) (fl.Handler, error) {
	return func(id string) (fl.Handler, error) {
		k, err := strconv.Atoi(strings.TrimPrefix(id, "v"))
		if err != nil || k < 0 || k >= o.clients {
			return nil, fmt.Errorf("worker: no virtual client %q", id)
		}
		h := fl.NewHandler(&regression{o: o, k: uint64(k)}, nil)
		if o.drop == 0 {
			return h, nil
		}
		p, err := transport.NewMemory(transport.MemoryConfig{IDs: []string{id}, Faults: transport.Faults{Drop: o.drop}, Seed: o.seed,
			Factory: func(string) (fl.Handler, error) { return h, nil }})
		if err != nil {
			return nil, err
		}
		c, _ := p.Conn(id)
		return fl.HandlerFunc(c.Send), nil
	}
}

// regression is one virtual client's local training: gradient descent on
// the mean squared error of its examples.
type regression struct {
	o *options
	k uint64
}

func (r *regression) Train(_ context.Context, global []float64, cfg fl.Config) (fl.Update, error) {
	d := len(global)
	shared := rand.New(rand.NewPCG(r.o.seed, 0))
	rng := rand.New(rand.NewPCG(r.o.seed, r.k+1))
	n := 10 + int(r.k%20)
	xs := make([]float64, n*d)
	ys := make([]float64, n)
	w := make([]float64, d)
	for j := range w {
		w[j] = shared.NormFloat64() + 0.1*rng.NormFloat64()
	}
	for i := range n {
		x := xs[i*d : (i+1)*d]
		for j := range x {
			x[j] = rng.NormFloat64()
			ys[i] += w[j] * x[j]
		}
		ys[i] += 0.1 * rng.NormFloat64()
	}
	local := append([]float64(nil), global...)
	grad := make([]float64, d)
	lr := cfg.Get(fl.KeyLR, 0.05)
	var loss float64
	for range int(cfg.Get(fl.KeyEpochs, 1)) {
		clear(grad)
		loss = 0
		for i := range n {
			x := xs[i*d : (i+1)*d]
			var p float64
			for j := range x {
				p += local[j] * x[j]
			}
			e := p - ys[i]
			loss += e * e / float64(n)
			for j := range x {
				grad[j] += 2 * e * x[j] / float64(n)
			}
		}
		for j := range local {
			local[j] -= lr * grad[j]
		}
	}
	for j := range local {
		local[j] -= global[j]
	}
	return fl.Update{Delta: local, Weight: float64(n), Metrics: fl.Metrics{fl.KeyLoss: loss, fl.KeyExamples: float64(n)}}, nil
}
