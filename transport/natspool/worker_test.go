package natspool_test

import (
	"os"
	"testing"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport"
	"github.com/fedgo/fedgo/transport/natspool"
)

// TestWorkersEqualMemory: four workers in one NATS queue group host a
// large virtual population, each client built from its id on demand; a
// run over them ends with the in-memory simulation's parameter bits, with
// dropouts injected the same way on both sides.
func TestWorkersEqualMemory(t *testing.T) {
	n, perRound, rounds := 20000, 100, 3
	if os.Getenv("CI") == "true" {
		n, perRound, rounds = 100000, 1000, 5
	}
	const d = 64
	s := startServer(t, nil)
	population := ids(n)
	faults := transport.Faults{Drop: 0.1}
	// The faults of transport.Memory, drawn from (seed, id, round),
	// applied on the worker side by a one-client memory pool per request.
	factory := func(id string) (fl.Handler, error) {
		return dropping{id: id, faults: faults}, nil
	}
	for range 4 {
		w, err := natspool.NewRunner(natspool.RunnerConfig{Conn: connect(t, s.ClientURL()), Queue: "workers", Factory: factory, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		serveRunner(t, w)
	}
	pool, err := natspool.New(natspool.Config{Conn: connect(t, s.ClientURL()), IDs: population})
	if err != nil {
		t.Fatal(err)
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.Seed, cfg.RoundTimeout = rounds, perRound, 5, 30*time.Second
	got, gh := runServer(t, cfg, pool, d)
	want, wh := runServer(t, cfg, memoryPool(t, population, d, faults), d)
	sameBits(t, got, want)
	for i := range gh.Rounds {
		if g, w := gh.Rounds[i], wh.Rounds[i]; g.Accepted != w.Accepted || g.Failed != w.Failed || w.Failed == 0 {
			t.Errorf("round %d: workers accepted %d failed %d; memory %d, %d", i+1, g.Accepted, g.Failed, w.Accepted, w.Failed)
		}
	}
}
