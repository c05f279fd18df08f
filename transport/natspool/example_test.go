package natspool_test

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport/natspool"
)

// A server reaches two clients through an embedded NATS server: each
// client serves its handler on its own subject, the server's pool sends
// the round's messages there.
func Example() {
	ns, _ := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	go ns.Start()
	defer ns.Shutdown()
	ns.ReadyForConnections(10 * time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i, id := range []string{"alice", "bob"} {
		nc, _ := nats.Connect(ns.ClientURL())
		defer nc.Close()
		step := float64(i + 1)
		h := fl.HandlerFunc(func(_ context.Context, m *fl.Message) (*fl.Message, error) {
			return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: []float64{step}, Weight: 1}, nil
		})
		r, _ := natspool.NewRunner(natspool.RunnerConfig{Conn: nc, IDs: []string{id}, Factory: func(string) (fl.Handler, error) { return h, nil }})
		go r.Run(ctx)
		<-r.Ready()
	}

	nc, _ := nats.Connect(ns.ClientURL())
	defer nc.Close()
	pool, _ := natspool.New(natspool.Config{Conn: nc, IDs: []string{"alice", "bob"}})
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.RoundTimeout = 2, 10*time.Second
	s, _ := fl.NewServer(cfg, pool, []float64{0})
	h, _ := s.Run(ctx)
	fmt.Println(h.Rounds[1].Accepted, s.Params())
	// Output: 2 [3]
}
