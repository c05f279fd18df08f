package natspool_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport/natspool"
)

// TestJetStreamWaitsForOfflineClient: with JetStream, a client that is
// offline when the round starts (core NATS would fail it at once with
// ErrNoClient) starts after the others have answered, finds its task in
// the stream and answers in time; a task whose deadline has passed is
// dropped unanswered, never run late.
func TestJetStreamWaitsForOfflineClient(t *testing.T) {
	const d = 8
	s := startServer(t, &server.Options{JetStream: true, StoreDir: t.TempDir()})
	url := s.ClientURL()
	js := &natspool.JetStream{Stream: "TASKS"}
	population := ids(4)
	late := population[3]
	var answered atomic.Int64
	var lateRuns atomic.Int64
	startLate := make(chan struct{})
	var once sync.Once
	runner := func(id string, count *atomic.Int64) *natspool.Runner {
		h, _ := client(d)(id)
		r, err := natspool.NewRunner(natspool.RunnerConfig{Conn: connect(t, url), IDs: []string{id}, JetStream: js,
			Factory: func(string) (fl.Handler, error) {
				return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
					if count.Add(1) == 3 && count == &answered {
						once.Do(func() { close(startLate) })
					}
					return h.Handle(ctx, m)
				}), nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	pool, err := natspool.New(natspool.Config{Conn: connect(t, url), IDs: population, JetStream: js})
	if err != nil {
		t.Fatal(err)
	}

	// A stale task: sent to the offline client with a deadline that
	// passes before it comes back.
	c, _ := pool.Conn(late)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if _, err := c.Send(ctx, &fl.Message{Type: fl.TypeTrain, Round: 99, Params: make([]float64, d)}); !errors.Is(err, fl.ErrTimeout) {
		t.Fatalf("stale task: %v, want a timeout", err)
	}
	cancel()

	for _, id := range population[:3] {
		serveRunner(t, runner(id, &answered))
	}
	go func() {
		<-startLate
		serveRunner(t, runner(late, &lateRuns))
	}()
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.RoundTimeout, cfg.Seed = 1, 20*time.Second, 2
	got, h := runServer(t, cfg, pool, d)
	if r := h.Rounds[0]; r.Accepted != 4 {
		t.Fatalf("round: %+v, want all 4 clients, the late one included", r)
	}
	if n := lateRuns.Load(); n != 1 {
		t.Errorf("the late client ran %d tasks, want 1 (the stale one dropped)", n)
	}
	want, _ := runServer(t, cfg, memoryPool(t, population, d, transportFaultsNone), d)
	sameBits(t, got, want)
}

// TestJetStreamWorkers: workers sharing one durable consumer (IDs nil)
// serve a population through the stream; the run equals the in-memory
// simulation's bits and no task is run twice.
func TestJetStreamWorkers(t *testing.T) {
	const n, d = 200, 8
	s := startServer(t, &server.Options{JetStream: true, StoreDir: t.TempDir()})
	js := &natspool.JetStream{}
	var runs atomic.Int64
	for range 2 {
		r, err := natspool.NewRunner(natspool.RunnerConfig{Conn: connect(t, s.ClientURL()), Queue: "workers", JetStream: js, Workers: 2,
			Factory: func(id string) (fl.Handler, error) { runs.Add(1); return client(d)(id) }})
		if err != nil {
			t.Fatal(err)
		}
		serveRunner(t, r)
	}
	population := ids(n)
	pool, err := natspool.New(natspool.Config{Conn: connect(t, s.ClientURL()), IDs: population, JetStream: js})
	if err != nil {
		t.Fatal(err)
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.RoundTimeout, cfg.Seed = 3, 40, 20*time.Second, 4
	got, h := runServer(t, cfg, pool, d)
	want, _ := runServer(t, cfg, memoryPool(t, population, d, transportFaultsNone), d)
	sameBits(t, got, want)
	for _, r := range h.Rounds {
		if r.Accepted != 40 {
			t.Errorf("round %d: %d accepted", r.Round, r.Accepted)
		}
	}
	if k := runs.Load(); k != 3*40 {
		t.Errorf("%d tasks run, want %d (each once)", k, 3*40)
	}
}
