package natspool_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport"
	"github.com/fedgo/fedgo/transport/natspool"
)

// startServer starts an embedded NATS server on 127.0.0.1 with a random
// port and shuts it down at the end of the test.
func startServer(tb testing.TB, opts *server.Options) *server.Server {
	tb.Helper()
	if opts == nil {
		opts = &server.Options{}
	}
	opts.Host, opts.NoLog, opts.NoSigs = "127.0.0.1", true, true
	if opts.Port == 0 {
		opts.Port = -1
	}
	s, err := server.NewServer(opts)
	if err != nil {
		tb.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats server not ready")
	}
	tb.Cleanup(s.Shutdown)
	return s
}

func connect(tb testing.TB, url string, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// serveRunner runs r until the end of the test and waits until it is
// subscribed.
func serveRunner(tb testing.TB, r *natspool.Runner) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var err error
	go func() { err = r.Run(ctx); close(done) }()
	tb.Cleanup(func() { cancel(); <-done })
	select {
	case <-r.Ready():
	case <-done:
		tb.Fatalf("runner stopped: %v", err)
	case <-time.After(10 * time.Second):
		tb.Fatal("runner not ready")
	}
}

// targetTrainer moves the parameters halfway towards a client's target,
// which is derived from the client's number.
type targetTrainer struct {
	target []float64
	weight float64
}

func (tr *targetTrainer) Train(_ context.Context, global []float64, _ fl.Config) (fl.Update, error) {
	delta := make([]float64, len(global))
	var loss float64
	for j := range delta {
		e := tr.target[j] - global[j]
		delta[j] = 0.5 * e
		loss += e * e
	}
	return fl.Update{Delta: delta, Weight: tr.weight, Metrics: fl.Metrics{fl.KeyLoss: loss}}, nil
}

// client returns the handler of client "cN" for a model of d parameters:
// built from its id alone, as a worker builds a virtual client.
func client(d int) func(id string) (fl.Handler, error) {
	return func(id string) (fl.Handler, error) {
		k, err := strconv.Atoi(strings.TrimPrefix(id, "c"))
		if err != nil {
			return nil, fmt.Errorf("bad id %q", id)
		}
		rng := rand.New(rand.NewPCG(uint64(k), 7))
		target := make([]float64, d)
		for j := range target {
			target[j] = rng.NormFloat64() * math.Ldexp(1, rng.IntN(8)-4)
		}
		return fl.NewHandler(&targetTrainer{target: target, weight: 1 + float64(k%5) + 0.25*float64(k%3)}, nil), nil
	}
}

func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("c%06d", i)
	}
	return out
}

func memoryPool(tb testing.TB, population []string, d int, faults transport.Faults) *transport.Memory {
	p, err := transport.NewMemory(transport.MemoryConfig{IDs: population, Factory: client(d), Faults: faults, Seed: 3})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func runServer(tb testing.TB, cfg fl.ServerConfig, pool fl.Pool, d int) ([]float64, *fl.History) {
	tb.Helper()
	s, err := fl.NewServer(cfg, pool, make([]float64, d))
	if err != nil {
		tb.Fatal(err)
	}
	h, err := s.Run(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return s.Params(), h
}

func sameBits(tb testing.TB, got, want []float64) {
	tb.Helper()
	for j := range want {
		if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
			tb.Fatalf("coordinate %d = %v, want %v (bit-identical)", j, got[j], want[j])
		}
	}
}

// dropping is a virtual client that fails exactly when transport.Memory
// with the same faults and seed would drop it: it asks a one-client
// memory pool.
type dropping struct {
	id     string
	faults transport.Faults
}

func (h dropping) Handle(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	p, err := transport.NewMemory(transport.MemoryConfig{IDs: []string{h.id}, Factory: client(len(m.Params)), Faults: h.faults, Seed: 3})
	if err != nil {
		return nil, err
	}
	c, _ := p.Conn(h.id)
	return c.Send(ctx, m)
}

var transportFaultsNone = transport.Faults{}
