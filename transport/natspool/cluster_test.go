package natspool_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport/natspool"
)

// startCluster starts three routed NATS servers on loopback and waits
// until each has a route to the two others.
func startCluster(t *testing.T) []*server.Server {
	t.Helper()
	seed := startServer(t, &server.Options{ServerName: "n0", Cluster: server.ClusterOpts{Name: "fedgo", Host: "127.0.0.1", Port: -1}})
	routes := server.RoutesFromStr(fmt.Sprintf("nats://127.0.0.1:%d", seed.ClusterAddr().Port))
	nodes := []*server.Server{seed}
	for i := 1; i < 3; i++ {
		nodes = append(nodes, startServer(t, &server.Options{ServerName: fmt.Sprintf("n%d", i),
			Cluster: server.ClusterOpts{Name: "fedgo", Host: "127.0.0.1", Port: -1}, Routes: routes}))
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, n := range nodes {
		for n.NumRoutes() < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("%s has %d routes", n.Name(), n.NumRoutes())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nodes
}

// TestClusterFailover: the root is connected to node 0, two workers to
// node 1 and two to node 2; node 2 is shut down in the middle of round 2.
// Its workers reconnect to the other nodes, the requests lost with it time
// out, the round completes under quorum through the other nodes, and the
// later rounds reach every sampled client.
func TestClusterFailover(t *testing.T) {
	nodes := startCluster(t)
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		urls[i] = n.ClientURL()
	}
	all := func(first int) string { // the node's URL first, then the others
		return strings.Join(append([]string{urls[first]}, append(urls[:first:first], urls[first+1:]...)...), ",")
	}
	const d, perRound = 16, 40
	var once sync.Once
	killed := make(chan struct{})
	factory := func(id string) (fl.Handler, error) {
		h, err := client(d)(id)
		return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
			if m.Round == 2 {
				once.Do(func() { go func() { nodes[2].Shutdown(); close(killed) }() })
				<-killed
			}
			return h.Handle(ctx, m)
		}), err
	}
	for w := range 4 {
		node := 1 + w%2
		nc := connect(t, all(node), nats.ReconnectWait(20*time.Millisecond), nats.MaxReconnects(-1), nats.DontRandomize())
		r, err := natspool.NewRunner(natspool.RunnerConfig{Conn: nc, Queue: "workers", Factory: factory, Workers: 4})
		if err != nil {
			t.Fatal(err)
		}
		serveRunner(t, r)
	}
	root := connect(t, all(0), nats.ReconnectWait(20*time.Millisecond), nats.MaxReconnects(-1), nats.DontRandomize())
	// Interest of the queue members on nodes 1 and 2 must reach node 0.
	root.Flush()
	pool, err := natspool.New(natspool.Config{Conn: root, IDs: ids(500)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.MinClients, cfg.Seed, cfg.RoundTimeout = 4, perRound, perRound/4, 9, time.Second
	waitInterest(t, pool)
	_, h := runServer(t, cfg, pool, d)
	for _, r := range h.Rounds {
		t.Logf("round %d: accepted %d failed %d %v", r.Round, r.Accepted, r.Failed, r.Failures)
		if r.Aborted {
			t.Errorf("round %d aborted", r.Round)
		}
	}
	if r := h.Rounds[3]; r.Accepted != perRound {
		t.Errorf("round 4 after the failover: %d accepted, want all %d", r.Accepted, perRound)
	}
	select {
	case <-killed:
	default:
		t.Fatal("node 2 was not killed")
	}
}

// waitInterest waits until a request reaches a worker through the
// cluster (route interest propagates asynchronously).
func waitInterest(t *testing.T, pool *natspool.Pool) {
	c, _ := pool.Conn(pool.Population()[0])
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Send(ctx, &fl.Message{Type: fl.TypeTrain, Round: 100, Params: make([]float64, 16)})
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no worker reachable: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
