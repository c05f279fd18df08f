package fl_test

import (
	"context"
	"fmt"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport"
)

// meanSeeker is a toy Trainer: its update moves the model all the way to
// the client's local value.
type meanSeeker struct{ value, examples float64 }

func (m meanSeeker) Train(ctx context.Context, global []float64, cfg fl.Config) (fl.Update, error) {
	return fl.Update{Delta: []float64{m.value - global[0]}, Weight: m.examples}, nil
}

// A simulation: three clients in memory, FedAvg for one round. The global
// model becomes the example-weighted mean of the clients' values.
func ExampleServer() {
	clients := map[string]meanSeeker{"a": {1, 1}, "b": {2, 1}, "c": {6, 2}}
	pool, _ := transport.NewMemory(transport.MemoryConfig{
		IDs: []string{"a", "b", "c"},
		Factory: func(id string) (fl.Handler, error) {
			return fl.NewHandler(clients[id], nil), nil
		},
	})
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound = 1, 3
	s, _ := fl.NewServer(cfg, pool, []float64{0})
	h, _ := s.Run(context.Background())
	fmt.Println(s.Params()[0], h.Rounds[0].Accepted)
	// Output: 3.75 3
}

func ExampleFedAvg() {
	updates := []fl.Update{
		{Client: "a", Delta: []float64{1, 0}, Weight: 3},
		{Client: "b", Delta: []float64{0, 1}, Weight: 1},
	}
	dst := make([]float64, 2)
	if err := (&fl.FedAvg{}).Aggregate(dst, updates); err != nil {
		fmt.Println(err)
	}
	fmt.Println(dst)
	// Output: [0.75 0.25]
}

func ExampleNewFedAdam() {
	opt := fl.NewFedAdam(0.1) // η = 0.1, β₁ = 0.9, β₂ = 0.99, τ = 1e-3
	params := []float64{0}
	opt.Step(params, []float64{1})
	fmt.Printf("%.4f\n", params[0]) // 0.1 · 0.1 / (√(0.99e-6 + 0.01) + 1e-3)
	// Output: 0.0990
}

func ExampleWrap() {
	logged := func(next fl.Handler) fl.Handler {
		return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
			fmt.Println("request", m.Type, m.Round)
			return next.Handle(ctx, m)
		})
	}
	h := fl.Wrap(fl.NewHandler(meanSeeker{5, 1}, nil), logged)
	r, _ := h.Handle(context.Background(), &fl.Message{Type: fl.TypeTrain, Round: 7, Params: []float64{1}})
	fmt.Println(r.Type, r.Params, r.Weight)
	// Output:
	// request train 7
	// update [4] 1
}
