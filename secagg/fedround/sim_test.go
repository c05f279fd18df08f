package fedround_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/internal/workload"
	"github.com/fedgo/fedgo/secagg/fedround"
	"github.com/fedgo/fedgo/transport"
)

// A quickstart-style simulation (softmax regression on Synthetic(1,1), 10
// clients) trains through the secure workflow: the test loss after three
// rounds is below the initial one, and every round kept all its clients.
func TestQuickstartTrains(t *testing.T) {
	const clients, rounds = 10, 3
	w, err := workload.Build(workload.Config{Clients: clients, Alpha: 1, Beta: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	tc := model.TrainerConfig{LR: 0.05, Epochs: 2, BatchSize: 10}
	states := map[string]*fedround.ClientState{}
	readers := map[string]*rand.ChaCha8{}
	for i, id := range w.IDs {
		states[id] = &fedround.ClientState{}
		readers[id] = rand.NewChaCha8([32]byte{byte(i), 0x51})
	}
	pool, err := transport.NewMemory(transport.MemoryConfig{
		IDs: w.IDs, Seed: 1, Workers: 2,
		Factory: func(id string) (fl.Handler, error) {
			tr, err := w.Trainer(id, tc)
			if err != nil {
				return nil, err
			}
			return fl.Wrap(fl.NewHandler(tr, tr), fedround.Middleware(states[id], fedround.ClientConfig{Rand: readers[id]})), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := fedround.DefaultConfig()
	cfg.Clip = 1
	cfg.Rand = seeded(3)
	wf, err := fedround.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	scfg := fl.DefaultServerConfig()
	scfg.Rounds, scfg.ClientsPerRound, scfg.Exchange, scfg.Evaluate, scfg.Seed = rounds, clients, wf, w.Evaluate, 1
	scfg.ClientConfig = fl.Config{fl.KeyLR: tc.LR, fl.KeyEpochs: float64(tc.Epochs), fl.KeyBatchSize: float64(tc.BatchSize)}
	init := w.Init()
	before, err := w.Evaluate(context.Background(), init)
	if err != nil {
		t.Fatal(err)
	}
	s, err := fl.NewServer(scfg, pool, init)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	prev := before[fl.KeyLoss]
	for _, r := range h.Rounds {
		if r.Aborted || r.Accepted != clients {
			t.Fatalf("round %d: %+v", r.Round, r)
		}
		if !(r.TrainLoss > 0) || r.BytesUp == 0 {
			t.Fatalf("round %d: train loss %v, %d bytes up", r.Round, r.TrainLoss, r.BytesUp)
		}
		t.Logf("round %d: test loss %.4f accuracy %.4f", r.Round, r.Central[fl.KeyLoss], r.Central[fl.KeyAccuracy])
	}
	last := h.Last().Central[fl.KeyLoss]
	if !(last < prev) {
		t.Fatalf("test loss %v after %d rounds, %v before: did not decrease", last, rounds, prev)
	}
}
