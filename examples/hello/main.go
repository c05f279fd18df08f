// Command hello is the smallest complete fedgo program: ten simulated
// clients, each holding a private number, learn their weighted mean with
// FedAvg. It is the "Using it" section of the README, verbatim.
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport"
)

// trainer is one client's local training: it moves the model halfway
// toward the client's own value, weighted by its number of examples.
type trainer struct{ value, examples float64 }

func (t trainer) Train(ctx context.Context, global []float64, cfg fl.Config) (fl.Update, error) {
	delta := []float64{0.5 * (t.value - global[0])}
	return fl.Update{Delta: delta, Weight: t.examples}, nil
}

func main() {
	ids := make([]string, 10)
	clients := map[string]trainer{}
	for i := range ids {
		ids[i] = fmt.Sprintf("client-%d", i)
		clients[ids[i]] = trainer{value: float64(i), examples: float64(1 + i%3)}
	}
	pool, err := transport.NewMemory(transport.MemoryConfig{
		IDs: ids,
		Factory: func(id string) (fl.Handler, error) {
			return fl.NewHandler(clients[id], nil), nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.Seed = 20, 1 // every client each round; a seed for reproducible sampling
	server, err := fl.NewServer(cfg, pool, []float64{0})
	if err != nil {
		log.Fatal(err)
	}
	history, err := server.Run(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("after %d rounds the model is %.4f\n", len(history.Rounds), server.Params()[0])
}
