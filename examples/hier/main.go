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
// see examples/worker). It prints a table of rounds and, with -json, a
// last line {"rounds", "final_accuracy", "params_sha256",
// "flat_params_sha256", "failed_updates", ...}.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/hier"
	"github.com/fedgo/fedgo/internal/report"
	"github.com/fedgo/fedgo/internal/workload"
	"github.com/fedgo/fedgo/transport"
	"github.com/fedgo/fedgo/transport/natspool"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hier:", err)
		os.Exit(1)
	}
}

type options struct {
	workload.Flags
	edges, minClients int
	drop, kill        float64
	natsURL           string
	json, quiet       bool
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("hier", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.Register(fs)
	fs.IntVar(&o.edges, "edges", 3, "edge aggregators; the clients are split evenly over them")
	fs.IntVar(&o.minClients, "min-clients", 1, "the root's quorum of client updates")
	fs.Float64Var(&o.drop, "drop", 0, "probability that a client drops out of a round")
	fs.Float64Var(&o.kill, "kill-edges", 0, "fraction of the edges that crash from the middle round on")
	fs.StringVar(&o.natsURL, "nats", "", "NATS server URL: reach the edges and the clients over NATS instead of in memory")
	fs.BoolVar(&o.json, "json", false, "print a JSON summary as the last line of stdout")
	fs.BoolVar(&o.quiet, "quiet", false, "do not print the per-round table")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.edges < 1:
		return nil, errors.New("-edges must be at least 1")
	case !(o.kill >= 0 && o.kill <= 1):
		return nil, errors.New("-kill-edges must be in [0, 1]")
	case !(o.drop >= 0 && o.drop <= 1):
		return nil, errors.New("-drop must be in [0, 1]")
	}
	return o, nil
}

// jsonLine returns the -json line: the report's summary with the keys of
// the tree added.
func jsonLine(sum report.Summary, extra map[string]any) (map[string]any, error) {
	var buf bytes.Buffer
	if err := report.JSON(&buf, sum); err != nil {
		return nil, err
	}
	out := map[string]any{}
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		return nil, err
	}
	for k, v := range extra {
		out[k] = v
	}
	return out, nil
}

// federation is the tree: the edges' ids and their clients.
type federation struct {
	edges   []string
	members map[string][]string
	edgeOf  map[string]string
	killed  map[string]bool
	from    int // the first round killed edges are down
}

func (f *federation) down(edge string, round int) bool { return f.killed[edge] && round >= f.from }

var errCrashed = errors.New("edge crashed")

func split(o *options, ids []string) (*federation, error) {
	if o.edges > len(ids) {
		return nil, fmt.Errorf("-edges %d exceeds the %d clients", o.edges, len(ids))
	}
	f := &federation{members: map[string][]string{}, edgeOf: map[string]string{}, killed: map[string]bool{}, from: o.Rounds/2 + 1}
	for e := range o.edges {
		id := fmt.Sprintf("edge%03d", e)
		f.edges = append(f.edges, id)
		lo, hi := e*len(ids)/o.edges, (e+1)*len(ids)/o.edges
		f.members[id] = ids[lo:hi]
		for _, c := range ids[lo:hi] {
			f.edgeOf[c] = id
		}
	}
	nKill := int(o.kill*float64(o.edges) + 0.5)
	for _, e := range f.edges[o.edges-nKill:] {
		f.killed[e] = true
	}
	return f, nil
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
	f, err := split(o, w.IDs)
	if err != nil {
		return err
	}
	factory := w.Factory(o.Trainer())
	faults := transport.Faults{Drop: o.drop}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	// The flat federation: every client in one in-memory pool, a client
	// failing in the rounds its edge is down.
	flatPool, err := transport.NewMemory(transport.MemoryConfig{IDs: w.IDs, Faults: faults, Seed: o.Seed, Factory: func(id string) (fl.Handler, error) {
		h, err := factory(id)
		if err != nil {
			return nil, err
		}
		return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
			if f.down(f.edgeOf[id], m.Round) {
				return nil, errCrashed
			}
			return h.Handle(ctx, m)
		}), nil
	}})
	if err != nil {
		return err
	}
	flatCfg, err := config(o, w, &hier.Exchange{})
	if err != nil {
		return err
	}
	flat, err := fl.NewServer(flatCfg, flatPool, w.Init())
	if err != nil {
		return err
	}
	if _, err := flat.Run(ctx); err != nil {
		return fmt.Errorf("flat run: %w", err)
	}

	var root fl.Pool
	kind := "memory"
	if o.natsURL != "" {
		kind = "nats"
		var stopNATS func()
		root, stopNATS, err = natsTree(ctx, o, f, factory, faults)
		if err != nil {
			return err
		}
		defer stopNATS()
	} else if root, err = memoryTree(o, f, factory, faults); err != nil {
		return err
	}
	cfg, err := config(o, w, &hier.Exchange{Size: func(id string) int { return len(f.members[id]) }})
	if err != nil {
		return err
	}
	if !o.quiet {
		cfg.Observer = &table{w: stdout}
		fmt.Fprintf(stdout, "%s on %s: %d clients over %d edges (%s), %d killed from round %d, %d parameters\n\n",
			o.Model, o.Dataset, len(w.IDs), o.edges, kind, len(f.edges)-countLive(f), f.from, w.Model.NumParams())
	}
	s, err := fl.NewServer(cfg, root, w.Init())
	if err != nil {
		return err
	}
	start := time.Now()
	h, err := s.Run(ctx)
	if err != nil {
		return err
	}
	sum := report.Summarize(h, workload.ParamsSHA256(s.Params()), time.Since(start))
	// Failed updates are the leaf clients lost, not the edges.
	sum.FailedUpdates = 0
	for _, r := range h.Rounds {
		sum.FailedUpdates += int(r.Extra[hier.KeyFailed])
	}
	flatSHA := workload.ParamsSHA256(flat.Params())
	sum.Print(stdout)
	fmt.Fprintf(stdout, "flat params sha256 %s (same bits: %v)\n", flatSHA, flatSHA == sum.ParamsSHA256)
	if !o.json {
		return nil
	}
	line, err := jsonLine(sum, map[string]any{"flat_params_sha256": flatSHA, "edges": o.edges,
		"killed_edges": len(f.edges) - countLive(f), "transport": kind})
	if err != nil {
		return err
	}
	return report.JSON(stdout, line)
}

func countLive(f *federation) int { return len(f.edges) - len(f.killed) }

func config(o *options, w *workload.Workload, ex fl.Exchange) (fl.ServerConfig, error) {
	cfg, err := o.ServerConfig(w)
	if err != nil {
		return cfg, err
	}
	cfg.ClientsPerRound, cfg.MinClients, cfg.Exchange = 0, o.minClients, ex
	cfg.MaxAborted = o.Rounds
	return cfg, nil
}

// crashing is an edge that fails in the rounds it is down.
func crashing(f *federation, id string, e fl.Handler) fl.Handler {
	return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
		if f.down(id, m.Round) {
			return nil, errCrashed
		}
		return e.Handle(ctx, m)
	})
}

func memoryTree(o *options, f *federation, factory func(string) (fl.Handler, error), faults transport.Faults) (fl.Pool, error) {
	edges := map[string]fl.Handler{}
	for _, id := range f.edges {
		p, err := transport.NewMemory(transport.MemoryConfig{IDs: f.members[id], Faults: faults, Seed: o.Seed, Factory: factory})
		if err != nil {
			return nil, err
		}
		e, err := hier.NewEdge(hier.EdgeConfig{Pool: p})
		if err != nil {
			return nil, err
		}
		edges[id] = crashing(f, id, e)
	}
	return transport.NewMemory(transport.MemoryConfig{IDs: f.edges, Factory: func(id string) (fl.Handler, error) { return edges[id], nil }})
}

// natsTree serves the edges and the clients over NATS from this process
// and returns the root's pool. The clients' dropouts are those of the
// in-memory pool (drawn from the seed, the id and the round).
func natsTree(ctx context.Context, o *options, f *federation, factory func(string) (fl.Handler, error), faults transport.Faults) (fl.Pool, func(), error) {
	var conns []*nats.Conn
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	running := 0
	stop := func() {
		cancel()
		for range running {
			<-done
		}
		for _, c := range conns {
			c.Close()
		}
	}
	fail := func(err error) (fl.Pool, func(), error) { stop(); return nil, nil, err }
	connect := func() (*nats.Conn, error) {
		nc, err := nats.Connect(o.natsURL, nats.Name("fedgo-hier"))
		if err == nil {
			conns = append(conns, nc)
		}
		return nc, err
	}
	serve := func(cfg natspool.RunnerConfig) error {
		nc, err := connect()
		if err != nil {
			return err
		}
		cfg.Conn = nc
		r, err := natspool.NewRunner(cfg)
		if err != nil {
			return err
		}
		running++
		go func() { r.Run(ctx); done <- struct{}{} }()
		select {
		case <-r.Ready():
			return nil
		case <-time.After(10 * time.Second):
			return errors.New("a NATS runner did not start")
		}
	}
	// The clients: one worker serving every client's subject.
	leaves, err := transport.NewMemory(transport.MemoryConfig{IDs: mapKeys(f.edgeOf), Faults: faults, Seed: o.Seed, Factory: factory})
	if err != nil {
		return fail(err)
	}
	if err := serve(natspool.RunnerConfig{Prefix: "fedgo.leaf", Factory: func(id string) (fl.Handler, error) {
		c, ok := leaves.Conn(id)
		if !ok {
			return nil, fmt.Errorf("unknown client %q", id)
		}
		return fl.HandlerFunc(c.Send), nil
	}}); err != nil {
		return fail(err)
	}
	// The edges: each on its own subject, with a NATS pool of its clients.
	for _, id := range f.edges {
		nc, err := connect()
		if err != nil {
			return fail(err)
		}
		p, err := natspool.New(natspool.Config{Conn: nc, Prefix: "fedgo.leaf", IDs: f.members[id]})
		if err != nil {
			return fail(err)
		}
		e, err := hier.NewEdge(hier.EdgeConfig{Pool: p})
		if err != nil {
			return fail(err)
		}
		h := crashing(f, id, e)
		if err := serve(natspool.RunnerConfig{Prefix: "fedgo.edge", IDs: []string{id}, Workers: 1, Factory: func(string) (fl.Handler, error) { return h, nil }}); err != nil {
			return fail(err)
		}
	}
	nc, err := connect()
	if err != nil {
		return fail(err)
	}
	root, err := natspool.New(natspool.Config{Conn: nc, Prefix: "fedgo.edge", IDs: f.edges})
	if err != nil {
		return fail(err)
	}
	return root, stop, nil
}

func mapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// table prints one line per round.
type table struct{ w io.Writer }

func (t *table) RoundStart(int, []string) {}

func (t *table) RoundEnd(s fl.RoundStats) {
	acc := "-"
	if v, ok := s.Central[fl.KeyAccuracy]; ok {
		acc = fmt.Sprintf("%.4f", v)
	}
	fmt.Fprintf(t.w, "round %3d  edges %d/%d  clients %4.0f/%4.0f  loss %.4f  accuracy %s%s\n",
		s.Round, s.Sampled-s.Failed, s.Sampled, s.Extra[hier.KeyAccepted], s.Extra[hier.KeyClients], s.TrainLoss, acc, map[bool]string{true: "  (aborted)"}[s.Aborted])
}
