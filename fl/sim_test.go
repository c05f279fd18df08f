package fl_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/transport"
)

// gauge counts the trainers alive at once: a trainer lives from the
// factory call that builds it to the end of its Handle call.
type gauge struct {
	mu        sync.Mutex
	live, max int
	built     atomic.Int64
}

type gaugedHandler struct {
	fl.Handler
	g *gauge
}

func (h gaugedHandler) Handle(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	defer func() { h.g.mu.Lock(); h.g.live--; h.g.mu.Unlock() }()
	return h.Handler.Handle(ctx, m)
}

// TestSimulationAtScale runs 10,000 clients in one process. Each client's
// data is generated from its id only when the client is called, and the
// pool never holds more live clients than it has workers.
func TestSimulationAtScale(t *testing.T) {
	const n, perRound, d, workers = 10000, 500, 32, 2
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%05d", i)
	}
	g := &gauge{}
	pool, err := transport.NewMemory(transport.MemoryConfig{
		IDs:     ids,
		Workers: workers,
		Factory: func(id string) (fl.Handler, error) {
			g.built.Add(1)
			g.mu.Lock()
			g.live++
			g.max = max(g.max, g.live)
			g.mu.Unlock()
			var k uint64
			fmt.Sscanf(id, "c%d", &k)
			rng := rand.New(rand.NewPCG(k, 0))
			target := make([]float64, d)
			for j := range target {
				target[j] = rng.NormFloat64()
			}
			return gaugedHandler{fl.NewHandler(&targetTrainer{target: target, weight: 1 + float64(k%7), lr: 1}, nil), g}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound = 3, perRound
	s, err := fl.NewServer(cfg, pool, make([]float64, d))
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range h.Rounds {
		if r.Accepted != perRound {
			t.Fatalf("round %d accepted %d of %d", r.Round, r.Accepted, perRound)
		}
	}
	if g.built.Load() != 3*perRound {
		t.Errorf("factory called %d times, want %d (once per client call)", g.built.Load(), 3*perRound)
	}
	if g.max > workers {
		t.Errorf("%d clients alive at once, want at most %d workers", g.max, workers)
	}
}

// BenchmarkSimulationOverhead runs the quickstart workload (softmax on
// Synthetic(1,1), 30 clients, 10 a round, 20 local epochs) without
// evaluation and reports the framework's share of the time: 1 − (time
// inside Trainer.Train) / (wall time × GOMAXPROCS). Run it with -cpu 1 for
// the plain "wall time minus train time" of the core issue.
func BenchmarkSimulationOverhead(b *testing.B) {
	pool, init := quickstartPool(b, 30)
	const rounds = 10
	var wall time.Duration
	var train float64
	b.ReportAllocs()
	for i := range b.N {
		cfg := fl.DefaultServerConfig()
		cfg.Rounds, cfg.EvalEvery, cfg.Seed = rounds, 0, uint64(i)
		cfg.ClientConfig = fl.Config{fl.KeyLR: 0.01, fl.KeyEpochs: 20, fl.KeyBatchSize: 10}
		s, err := fl.NewServer(cfg, pool, init)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		h, err := s.Run(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		wall += time.Since(start)
		_, _, _, ts := h.Totals()
		train += ts
	}
	procs := float64(runtime.GOMAXPROCS(0))
	b.ReportMetric(1-train/(wall.Seconds()*procs), "overhead")
	b.ReportMetric(wall.Seconds()/float64(b.N*rounds)*1e3, "ms/round")
}

// quickstartPool returns the quickstart's workload on the public API (as
// examples/quickstart wires it): softmax regression on Synthetic(1,1) over
// n clients, each a model.Trainer (20 local epochs, lr 0.01, batch 10)
// built when it is sampled, and the initial parameters.
func quickstartPool(tb testing.TB, n int) (*transport.Memory, []float64) {
	tb.Helper()
	splits, err := dataset.Synthetic(dataset.SyntheticConfig{Alpha: 1, Beta: 1, Clients: n, Seed: 1})
	if err != nil {
		tb.Fatal(err)
	}
	m := model.Softmax{Dim: splits[0].Train.Dim, Classes: splits[0].Train.Classes}
	ids := make([]string, n)
	index := map[string]int{}
	for i := range ids {
		ids[i] = fmt.Sprintf("client-%05d", i)
		index[ids[i]] = i
	}
	pool, err := transport.NewMemory(transport.MemoryConfig{IDs: ids, Seed: 1, Factory: func(id string) (fl.Handler, error) {
		i := index[id]
		t, err := model.NewTrainer(model.TrainerConfig{Model: m, ID: id, Train: splits[i].Train, LR: 0.01, Epochs: 20,
			BatchSize: min(10, splits[i].Train.Len()), Seed: uint64(i + 1)})
		if err != nil {
			return nil, err
		}
		return fl.NewHandler(t, t), nil
	}})
	if err != nil {
		tb.Fatal(err)
	}
	init := make([]float64, m.NumParams())
	m.Init(rand.New(rand.NewPCG(1, 0x1417)), init)
	return pool, init
}
