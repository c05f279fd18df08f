package hier_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/hier"
	"github.com/fedgo/fedgo/secagg/fedround"
	"github.com/fedgo/fedgo/transport"
)

// BenchmarkAggregate compares the exact fixed-point mean with fl.FedAvg
// (the float64 weighted mean) on the same updates; SetBytes counts the
// update bytes read once.
func BenchmarkAggregate(b *testing.B) {
	for _, n := range []int{10, 100} {
		for _, d := range []int{1000, 100000} {
			rng := rand.New(rand.NewPCG(1, 2))
			updates := make([]fl.Update, n)
			for i := range updates {
				delta := make([]float64, d)
				for j := range delta {
					delta[j] = rng.NormFloat64()
				}
				updates[i] = fl.Update{Client: fmt.Sprint(i), Delta: delta, Weight: float64(1 + i%9)}
			}
			dst := make([]float64, d)
			for _, agg := range []struct {
				name string
				a    fl.Aggregator
			}{{"fedavg", &fl.FedAvg{}}, {"exact", &hier.ExactFedAvg{}}} {
				b.Run(fmt.Sprintf("%s/n=%d/d=%d", agg.name, n, d), func(b *testing.B) {
					b.SetBytes(int64(8 * n * d))
					b.ReportAllocs()
					for range b.N {
						if err := agg.a.Aggregate(dst, updates); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkRound measures a round of n cheap clients (a zero-cost local
// step) with d parameters in memory: flat with fl.FedAvg, flat with the
// exact sum, and a tree of 10 edges (ms/round, bytes on the root's wire).
func BenchmarkRound(b *testing.B) {
	const n, d, edges = 1000, 10000, 10
	cheap := func(string) (fl.Handler, error) {
		return fl.HandlerFunc(func(_ context.Context, m *fl.Message) (*fl.Message, error) {
			delta := make([]float64, len(m.Params))
			for j := range delta {
				delta[j] = 1e-3 * float64(j%7)
			}
			return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: delta, Weight: 3}, nil
		}), nil
	}
	all := make([]string, n)
	for i := range all {
		all[i] = fmt.Sprintf("c%04d", i)
	}
	memory := func(ids []string, f func(string) (fl.Handler, error)) fl.Pool {
		p, err := transport.NewMemory(transport.MemoryConfig{IDs: ids, Factory: f})
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	edgeIDs := make([]string, edges)
	handlers := map[string]fl.Handler{}
	for e := range edges {
		edgeIDs[e] = fmt.Sprintf("e%02d", e)
		h, err := hier.NewEdge(hier.EdgeConfig{Pool: memory(all[e*n/edges:(e+1)*n/edges], cheap)})
		if err != nil {
			b.Fatal(err)
		}
		handlers[edgeIDs[e]] = h
	}
	tree := memory(edgeIDs, func(id string) (fl.Handler, error) { return handlers[id], nil })
	for _, tc := range []struct {
		name string
		pool fl.Pool
		ex   fl.Exchange
	}{
		{"flat-fedavg", memory(all, cheap), nil},
		{"flat-exact", memory(all, cheap), &hier.Exchange{}},
		{"tree-10-edges", tree, &hier.Exchange{}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := fl.DefaultServerConfig()
			cfg.Rounds, cfg.Exchange = b.N, tc.ex
			s, err := fl.NewServer(cfg, tc.pool, make([]float64, d))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var bytes int64
			for range b.N {
				st, err := s.RunRound(context.Background())
				if err != nil || st.Aborted {
					b.Fatalf("%+v %v", st, err)
				}
				bytes += st.BytesUp + st.BytesDown
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/round")
			b.ReportMetric(float64(bytes)/float64(b.N), "rootB/round")
		})
	}
}

// BenchmarkSecureRound compares a round of secure aggregation over n
// clients with d parameters run flat (one fedround round of n) and as a
// two-level tree (10 secure edges of n/10 clients under a hier root), in
// memory: ms per round, and bytes per round on every link (the root's and,
// for the tree, the edges' with their clients), and the root's own bytes.
func BenchmarkSecureRound(b *testing.B) {
	const edges = 10
	for _, sz := range []struct{ n, d int }{{100, 1000}, {100, 10000}} {
		n, d := sz.n, sz.d
		cheap := func(id string) (fl.Handler, error) {
			st := &fedround.ClientState{}
			return fl.Wrap(fl.HandlerFunc(func(_ context.Context, m *fl.Message) (*fl.Message, error) {
				delta := make([]float64, len(m.Params))
				for j := range delta {
					delta[j] = 1e-3 * float64(j%7)
				}
				return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: delta, Weight: 3}, nil
			}), fedround.Middleware(st, fedround.ClientConfig{TrustDealers: true})), nil
		}
		all := make([]string, n)
		for i := range all {
			all[i] = fmt.Sprintf("c%04d", i)
		}
		memory := func(ids []string, f func(string) (fl.Handler, error)) *transport.Memory {
			p, err := transport.NewMemory(transport.MemoryConfig{IDs: ids, Factory: f})
			if err != nil {
				b.Fatal(err)
			}
			return p
		}
		secure := fedround.DefaultConfig()
		secure.Clip = 0.1
		// clients returns a factory over fresh clients: one ClientState
		// each for the whole sub-benchmark.
		clients := func() func(string) (fl.Handler, error) {
			hs := map[string]fl.Handler{}
			for _, id := range all {
				hs[id], _ = cheap(id)
			}
			return func(id string) (fl.Handler, error) { return hs[id], nil }
		}
		tree := func() (*transport.Memory, []*transport.Memory) {
			factory := clients()
			var pools []*transport.Memory
			ids := make([]string, edges)
			handlers := map[string]fl.Handler{}
			for e := range edges {
				ids[e] = fmt.Sprintf("e%02d", e)
				p := memory(all[e*n/edges:(e+1)*n/edges], factory)
				pools = append(pools, p)
				sc := secure
				h, err := hier.NewEdge(hier.EdgeConfig{Pool: p, Secure: &sc})
				if err != nil {
					b.Fatal(err)
				}
				handlers[ids[e]] = h
			}
			return memory(ids, func(id string) (fl.Handler, error) { return handlers[id], nil }), pools
		}
		// Each sub-benchmark run builds fresh clients (their round numbers
		// must increase, and every run starts at round 1).
		for _, tc := range []struct {
			name  string
			build func() (*transport.Memory, fl.Exchange, []*transport.Memory)
		}{
			{"flat", func() (*transport.Memory, fl.Exchange, []*transport.Memory) {
				ex, err := fedround.New(secure)
				if err != nil {
					b.Fatal(err)
				}
				return memory(all, clients()), ex, nil
			}},
			{"tree-10-edges", func() (*transport.Memory, fl.Exchange, []*transport.Memory) {
				p, below := tree()
				return p, &hier.Exchange{Size: func(string) int { return n / edges }, Secure: &hier.Secure{Clip: secure.Clip}}, below
			}},
		} {
			b.Run(fmt.Sprintf("%s/n=%d/d=%d", tc.name, n, d), func(b *testing.B) {
				pool, ex, below := tc.build()
				cfg := fl.DefaultServerConfig()
				cfg.Rounds, cfg.Exchange = 1<<30, ex
				s, err := fl.NewServer(cfg, pool, make([]float64, d))
				if err != nil {
					b.Fatal(err)
				}
				traffic := func() int64 {
					up, down := pool.Traffic()
					for _, p := range below {
						u, d := p.Traffic()
						up, down = up+u, down+d
					}
					return up + down
				}
				b.ReportAllocs()
				before := traffic()
				var root int64
				for b.Loop() {
					st, err := s.RunRound(context.Background())
					if err != nil || st.Aborted || st.Accepted != n {
						b.Fatalf("%+v %v", st, err)
					}
					root += st.BytesUp + st.BytesDown
				}
				b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/round")
				b.ReportMetric(float64(traffic()-before)/float64(b.N), "B/round")
				b.ReportMetric(float64(root)/float64(b.N), "rootB/round")
			})
		}
	}
}
