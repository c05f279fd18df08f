package natspool_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport"
	"github.com/fedgo/fedgo/transport/natspool"
)

// echo is a client whose training costs nothing: it returns a zero delta,
// so a round's time is the framework's and the transport's.
func echo(string) (fl.Handler, error) {
	return fl.HandlerFunc(func(_ context.Context, m *fl.Message) (*fl.Message, error) {
		return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: make([]float64, len(m.Params)), Weight: 1}, nil
	}), nil
}

// BenchmarkRound measures the time of one round of n clients with a
// model of d parameters over transport.Memory and over natspool (one
// embedded NATS server on loopback, one worker process's runner hosting
// every client): ms/round and bytes/client (both ways, on the wire).
func BenchmarkRound(b *testing.B) {
	for _, n := range []int{100, 1000} {
		for _, d := range []int{1000, 100000} {
			population := ids(n)
			b.Run(fmt.Sprintf("memory/n=%d/d=%d", n, d), func(b *testing.B) {
				p, err := transport.NewMemory(transport.MemoryConfig{IDs: population, Factory: echo})
				if err != nil {
					b.Fatal(err)
				}
				benchRounds(b, p, d)
			})
			b.Run(fmt.Sprintf("nats/n=%d/d=%d", n, d), func(b *testing.B) {
				s := startServer(b, &server.Options{MaxPayload: 8 << 20})
				r, err := natspool.NewRunner(natspool.RunnerConfig{Conn: connect(b, s.ClientURL()), Factory: echo, PendingBytes: 1 << 30})
				if err != nil {
					b.Fatal(err)
				}
				serveRunner(b, r)
				p, err := natspool.New(natspool.Config{Conn: connect(b, s.ClientURL()), IDs: population})
				if err != nil {
					b.Fatal(err)
				}
				benchRounds(b, p, d)
			})
		}
	}
}

func benchRounds(b *testing.B, pool fl.Pool, d int) {
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.RoundTimeout, cfg.Seed = b.N, time.Minute, 1
	s, err := fl.NewServer(cfg, pool, make([]float64, d))
	if err != nil {
		b.Fatal(err)
	}
	n := len(pool.Population())
	b.ReportAllocs()
	b.SetBytes(int64(16 * d * n))
	b.ResetTimer()
	var bytes int64
	for range b.N {
		st, err := s.RunRound(context.Background())
		if err != nil || st.Accepted != n {
			b.Fatalf("round: %+v, %v", st, err)
		}
		bytes += st.BytesUp + st.BytesDown
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/round")
	b.ReportMetric(float64(bytes)/float64(b.N*n), "B/client")
}

// BenchmarkWorkers measures the virtual-client tasks per second that
// workers in a queue group serve (clients of d = 1,000 that cost nothing
// to train), with 1 and 4 workers, against the in-memory pool.
func BenchmarkWorkers(b *testing.B) {
	const n, d = 1000, 1000
	population := ids(n)
	b.Run("memory", func(b *testing.B) {
		p, err := transport.NewMemory(transport.MemoryConfig{IDs: population, Factory: echo})
		if err != nil {
			b.Fatal(err)
		}
		benchTasks(b, p, d)
	})
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprintf("nats/workers=%d", workers), func(b *testing.B) {
			s := startServer(b, nil)
			for range workers {
				r, err := natspool.NewRunner(natspool.RunnerConfig{Conn: connect(b, s.ClientURL()), Queue: "w", Factory: echo})
				if err != nil {
					b.Fatal(err)
				}
				serveRunner(b, r)
			}
			p, err := natspool.New(natspool.Config{Conn: connect(b, s.ClientURL()), IDs: population})
			if err != nil {
				b.Fatal(err)
			}
			benchTasks(b, p, d)
		})
	}
}

func benchTasks(b *testing.B, pool fl.Pool, d int) {
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.RoundTimeout, cfg.Seed = b.N, time.Minute, 1
	s, err := fl.NewServer(cfg, pool, make([]float64, d))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if st, err := s.RunRound(context.Background()); err != nil || st.Failed > 0 {
			b.Fatalf("round: %+v, %v", st, err)
		}
	}
	b.ReportMetric(float64(b.N*len(pool.Population()))/b.Elapsed().Seconds(), "tasks/s")
}
