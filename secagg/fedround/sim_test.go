package fedround_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/secagg/fedround"
	"github.com/fedgo/fedgo/transport"
)

// A quickstart-style simulation (softmax regression on Synthetic(1,1), 10
// clients) trains through the secure workflow: the test loss after three
// rounds is below the initial one, and every round kept all its clients.
func TestQuickstartTrains(t *testing.T) {
	const clients, rounds = 10, 3
	w := newSynthetic(t, clients)
	tc := model.TrainerConfig{LR: 0.05, Epochs: 2, BatchSize: 10}
	states := map[string]*fedround.ClientState{}
	readers := map[string]*rand.ChaCha8{}
	for i, id := range w.ids {
		states[id] = &fedround.ClientState{}
		readers[id] = rand.NewChaCha8([32]byte{byte(i), 0x51})
	}
	pool, err := transport.NewMemory(transport.MemoryConfig{
		IDs: w.ids, Seed: 1, Workers: 2,
		Factory: func(id string) (fl.Handler, error) {
			tr, err := w.trainer(id, tc)
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
	scfg.Rounds, scfg.ClientsPerRound, scfg.Exchange, scfg.Evaluate, scfg.Seed = rounds, clients, wf, w.evaluate, 1
	scfg.ClientConfig = fl.Config{fl.KeyLR: tc.LR, fl.KeyEpochs: float64(tc.Epochs), fl.KeyBatchSize: float64(tc.BatchSize)}
	init := make([]float64, w.model.NumParams())
	w.model.Init(rand.New(rand.NewPCG(1, 0x1417)), init)
	before, err := w.evaluate(context.Background(), init)
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

// synthetic is the quickstart's workload on the public API: softmax
// regression on Synthetic(1,1), one device per client, the devices' test
// parts pooled for centralized evaluation.
type synthetic struct {
	ids   []string
	index map[string]int
	train []*dataset.Dataset
	test  *dataset.Dataset
	model model.Softmax
}

func newSynthetic(t *testing.T, clients int) *synthetic {
	t.Helper()
	splits, err := dataset.Synthetic(dataset.SyntheticConfig{Alpha: 1, Beta: 1, Clients: clients, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	w := &synthetic{index: map[string]int{}}
	tests := make([]*dataset.Dataset, clients)
	for i, s := range splits {
		id := fmt.Sprintf("client-%05d", i)
		w.ids, w.index[id] = append(w.ids, id), i
		w.train, tests[i] = append(w.train, s.Train), s.Test
	}
	if w.test, err = dataset.Concat(tests...); err != nil {
		t.Fatal(err)
	}
	w.model = model.Softmax{Dim: w.test.Dim, Classes: w.test.Classes}
	return w
}

// trainer returns client id's trainer from the template tc, with its own
// shuffling seed.
func (w *synthetic) trainer(id string, tc model.TrainerConfig) (*model.Trainer, error) {
	i, ok := w.index[id]
	if !ok {
		return nil, fmt.Errorf("unknown client %q", id)
	}
	tc.Model, tc.ID, tc.Train = w.model, id, w.train[i]
	tc.BatchSize = min(tc.BatchSize, tc.Train.Len())
	tc.Seed = uint64(i + 1)
	return model.NewTrainer(tc)
}

// evaluate scores params on the pooled test set.
func (w *synthetic) evaluate(_ context.Context, params []float64) (fl.Metrics, error) {
	loss, acc, err := model.Evaluate(w.model, params, w.test)
	return fl.Metrics{fl.KeyLoss: loss, fl.KeyAccuracy: acc}, err
}
