package fedround_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/secagg"
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

// Two rounds of three clients each, on the grid of six summands
// (KeySummands): their integer sums add exactly, and the total dequantizes
// to the mean of the six deltas (0.1 … 0.6), as one round of six would.
func ExampleExchange_RunSum() {
	cfg := fedround.DefaultConfig()
	cfg.Rand = rand.NewChaCha8([32]byte{7})
	wf, err := fedround.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	group := func(ids ...string) []fl.Conn {
		states := map[string]*fedround.ClientState{}
		for _, id := range ids {
			states[id] = &fedround.ClientState{} // kept for the client's lifetime
		}
		pool, err := transport.NewMemory(transport.MemoryConfig{IDs: ids, Factory: func(id string) (fl.Handler, error) {
			delta := constTrainer(0.1 * float64(id[0]-'a'+1))
			return fl.Wrap(fl.NewHandler(delta, nil), fedround.Middleware(states[id], fedround.ClientConfig{Rand: rand.NewChaCha8([32]byte{id[0]})})), nil
		}})
		if err != nil {
			log.Fatal(err)
		}
		return fl.Reachable(pool)
	}
	grid := fl.Config{fedround.KeySummands: 6}
	total := make([]uint64, 2)
	var sum *fedround.Sum
	count := 0
	for _, conns := range [][]fl.Conn{group("a", "b", "c"), group("d", "e", "f")} {
		r := fl.NewRound(1, make([]float64, 2), grid, conns, nil)
		if sum, _, err = wf.RunSum(context.Background(), r); err != nil {
			log.Fatal(err)
		}
		for j, v := range sum.Vec {
			total[j] += v
		}
		count += sum.Count
	}
	mean := make([]float64, 2)
	if _, err := secagg.Dequantize(mean, total, sum.Clip, sum.Bits, sum.Summands, count); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d inputs, mean %.6f\n", count, mean[0]/float64(count))
	// Output:
	// 6 inputs, mean 0.350000
}
