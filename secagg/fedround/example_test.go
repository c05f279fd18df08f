package fedround_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/secagg/fedround"
	"github.com/fedgo/fedgo/transport"
)

// constTrainer moves every parameter by the same amount.
type constTrainer float64

func (c constTrainer) Train(_ context.Context, global []float64, _ fl.Config) (fl.Update, error) {
	d := make([]float64, len(global))
	for i := range d {
		d[i] = float64(c)
	}
	return fl.Update{Delta: d, Weight: 1, Metrics: fl.Metrics{fl.KeyLoss: 1}}, nil
}

// Five clients train under secure aggregation; the fifth vanishes after
// sharing its keys. The server never sees an update, yet it steps the
// model by the mean of the four survivors' deltas (0.1, 0.2, 0.3, 0.4).
func Example() {
	ids := []string{"a", "b", "c", "d", "e"}
	states := map[string]*fedround.ClientState{}
	readers := map[string]*rand.ChaCha8{}
	for i, id := range ids {
		states[id] = &fedround.ClientState{} // kept by the host for the client's lifetime
		// nil would mean crypto/rand; a seeded reader makes the run repeatable.
		readers[id] = rand.NewChaCha8([32]byte{byte(i)})
	}
	pool, err := transport.NewMemory(transport.MemoryConfig{
		IDs: ids,
		Factory: func(id string) (fl.Handler, error) {
			delta := constTrainer(0.1 * float64(id[0]-'a'+1))
			h := fl.Wrap(fl.NewHandler(delta, nil), fedround.Middleware(states[id], fedround.ClientConfig{Rand: readers[id]}))
			if id == "e" {
				return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
					if m.Type == fedround.TypeMaskedInput {
						return nil, errors.New("gone")
					}
					return h.Handle(ctx, m)
				}), nil
			}
			return h, nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	cfg := fedround.DefaultConfig()
	cfg.Clip = 1
	cfg.Rand = rand.NewChaCha8([32]byte{42})
	wf, err := fedround.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	scfg := fl.DefaultServerConfig()
	scfg.Rounds, scfg.ClientsPerRound, scfg.Exchange = 1, len(ids), wf
	s, err := fl.NewServer(scfg, pool, make([]float64, 3))
	if err != nil {
		log.Fatal(err)
	}
	st, err := s.RunRound(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("accepted %d, failed %v at %v\n", st.Accepted, st.Failures, st.FailedAt)
	fmt.Printf("params %.6f\n", s.Params())
	// Output:
	// accepted 4, failed map[error:1] at map[secagg/masked-input:1]
	// params [0.250000 0.250000 0.250000]
}
