package transport

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fedgo/fedgo/fl"
)

// BenchmarkHTTPSRound measures one round of n clients with a model of d
// parameters over the HTTPS pool on loopback (TLS 1.3, HTTP/2, a long-poll
// client per client), as transport/natspool's BenchmarkRound does over
// NATS and transport.Memory: ms/round and bytes/client on the wire.
func BenchmarkHTTPSRound(b *testing.B) {
	for _, n := range []int{100, 1000} {
		for _, d := range []int{1000, 100000} {
			b.Run(fmt.Sprintf("n=%d/d=%d", n, d), func(b *testing.B) {
				handlers := make(map[string]fl.Handler, n)
				for i := range n {
					handlers[fmt.Sprintf("c%04d", i)] = fl.HandlerFunc(func(_ context.Context, m *fl.Message) (*fl.Message, error) {
						return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: make([]float64, len(m.Params)), Weight: 1}, nil
					})
				}
				e := startNet(b, netOptions{pool: func(c *HTTPPoolConfig) { c.Limits = LimitsFor(d, n) }}, handlers)
				cfg := fl.DefaultServerConfig()
				cfg.Rounds, cfg.RoundTimeout, cfg.Seed = b.N, 5*time.Minute, 1
				s, err := fl.NewServer(cfg, e.pool, make([]float64, d))
				if err != nil {
					b.Fatal(err)
				}
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
			})
		}
	}
}
