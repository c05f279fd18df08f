package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/hier"
	"github.com/fedgo/fedgo/transport"
	"github.com/fedgo/fedgo/transport/natspool"
)

// federation is the tree: the edges' ids and their clients, and the edges
// that crash from round from on.
type federation struct {
	edges   []string
	members map[string][]string
	edgeOf  map[string]string
	killed  map[string]bool
	from    int
}

var errCrashed = errors.New("edge crashed")

// split divides the clients evenly over o.edges edges, and marks the last
// -kill-edges fraction of them to crash from the middle round on.
func split(o *options, ids []string) *federation {
	f := &federation{members: map[string][]string{}, edgeOf: map[string]string{}, killed: map[string]bool{}, from: o.rounds/2 + 1}
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
	return f
}

// down reports whether edge is crashed in round.
func (f *federation) down(edge string, round int) bool { return f.killed[edge] && round >= f.from }

// size is the number of leaf clients below edge (hier.Exchange.Size).
func (f *federation) size(edge string) int { return len(f.members[edge]) }

// clients returns every client id, sorted.
func (f *federation) clients() []string {
	ids := make([]string, 0, len(f.edgeOf))
	for id := range f.edgeOf {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// crashing is handler h of edge, failing in the rounds the edge is down.
// The flat run wraps each client in its edge's crashing handler, so that
// it fails the same clients as the tree.
func (f *federation) crashing(edge string, h fl.Handler) fl.Handler {
	return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
		if f.down(edge, m.Round) {
			return nil, errCrashed
		}
		return h.Handle(ctx, m)
	})
}

// memoryTree returns the root's pool of edges, each an hier.Edge over an
// in-memory pool of its clients.
func memoryTree(o *options, f *federation, factory func(string) (fl.Handler, error)) (fl.Pool, error) {
	edges := map[string]fl.Handler{}
	for _, id := range f.edges {
		p, err := transport.NewMemory(transport.MemoryConfig{IDs: f.members[id], Faults: transport.Faults{Drop: o.drop}, Seed: o.seed, Factory: factory})
		if err != nil {
			return nil, err
		}
		e, err := hier.NewEdge(hier.EdgeConfig{Pool: p})
		if err != nil {
			return nil, err
		}
		edges[id] = f.crashing(id, e)
	}
	return transport.NewMemory(transport.MemoryConfig{IDs: f.edges, Factory: func(id string) (fl.Handler, error) { return edges[id], nil }})
}

// natsNet is the tree served over a NATS server from this process, as
// separate processes would serve it (see examples/worker): one runner for
// every client's subject, one per edge, and the root's pool.
type natsNet struct {
	url     string
	ctx     context.Context
	cancel  context.CancelFunc
	conns   []*nats.Conn
	done    chan struct{}
	running int
}

// natsTree serves the clients and the edges over NATS and returns the
// root's pool of edges and the function that stops them. The clients'
// dropouts are those of the in-memory pool (drawn from the seed, the id
// and the round).
func natsTree(ctx context.Context, o *options, f *federation, factory func(string) (fl.Handler, error)) (fl.Pool, func(), error) {
	n := &natsNet{url: o.natsURL, done: make(chan struct{})}
	n.ctx, n.cancel = context.WithCancel(ctx)
	root, err := n.build(o, f, factory)
	if err != nil {
		n.stop()
		return nil, nil, err
	}
	return root, n.stop, nil
}

func (n *natsNet) build(o *options, f *federation, factory func(string) (fl.Handler, error)) (fl.Pool, error) {
	if err := n.serveClients(o, f, factory); err != nil {
		return nil, err
	}
	for _, id := range f.edges {
		if err := n.serveEdge(f, id); err != nil {
			return nil, err
		}
	}
	nc, err := n.connect()
	if err != nil {
		return nil, err
	}
	return natspool.New(natspool.Config{Conn: nc, Prefix: "fedgo.edge", IDs: f.edges})
}

// serveClients serves every client's subject from one runner, each client
// behind an in-memory connection that applies the dropouts.
func (n *natsNet) serveClients(o *options, f *federation, factory func(string) (fl.Handler, error)) error {
	leaves, err := transport.NewMemory(transport.MemoryConfig{IDs: f.clients(), Faults: transport.Faults{Drop: o.drop}, Seed: o.seed, Factory: factory})
	if err != nil {
		return err
	}
	return n.serve(natspool.RunnerConfig{Prefix: "fedgo.leaf", Factory: func(id string) (fl.Handler, error) {
		c, ok := leaves.Conn(id)
		if !ok {
			return nil, fmt.Errorf("unknown client %q", id)
		}
		return fl.HandlerFunc(c.Send), nil
	}})
}

// serveEdge serves edge id on its own subject: an hier.Edge over a NATS
// pool of its clients, crashing when it is down.
func (n *natsNet) serveEdge(f *federation, id string) error {
	nc, err := n.connect()
	if err != nil {
		return err
	}
	p, err := natspool.New(natspool.Config{Conn: nc, Prefix: "fedgo.leaf", IDs: f.members[id]})
	if err != nil {
		return err
	}
	e, err := hier.NewEdge(hier.EdgeConfig{Pool: p})
	if err != nil {
		return err
	}
	h := f.crashing(id, e)
	return n.serve(natspool.RunnerConfig{Prefix: "fedgo.edge", IDs: []string{id}, Workers: 1, Factory: func(string) (fl.Handler, error) { return h, nil }})
}

func (n *natsNet) connect() (*nats.Conn, error) {
	nc, err := nats.Connect(n.url, nats.Name("fedgo-hier"))
	if err == nil {
		n.conns = append(n.conns, nc)
	}
	return nc, err
}

// serve runs a runner on a connection of its own until stop, and waits
// until it is subscribed.
func (n *natsNet) serve(cfg natspool.RunnerConfig) error {
	nc, err := n.connect()
	if err != nil {
		return err
	}
	cfg.Conn = nc
	r, err := natspool.NewRunner(cfg)
	if err != nil {
		return err
	}
	n.running++
	go func() { r.Run(n.ctx); n.done <- struct{}{} }()
	select {
	case <-r.Ready():
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("a NATS runner did not start")
	}
}

// stop ends the runners and closes the connections.
func (n *natsNet) stop() {
	n.cancel()
	for range n.running {
		<-n.done
	}
	for _, c := range n.conns {
		c.Close()
	}
}
