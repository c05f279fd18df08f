package hier_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/hier"
	"github.com/fedgo/fedgo/secagg/fedround"
	"github.com/fedgo/fedgo/transport"
)

// Secure aggregation inside each edge: two edges of three clients learn
// only their clients' sums, the root only the two sums, and the result has
// the bits of one flat secure round over the six clients (the clients draw
// the same stochastic rounding in both, keyed here by id and round; in a
// deployment ClientConfig.Rand is nil). Client cK sends Δ = (v − p₀, −v)
// with v = K/10, so each round moves p₀ to mean(v) = 0.35 and adds −0.35
// to p₁, up to the quantization step (about 3e-9 here).
func Example_secure() {
	members := map[string][]string{"east": {"c1", "c2", "c3"}, "west": {"c4", "c5", "c6"}}
	memory := func(ids []string, handler func(string) fl.Handler) fl.Pool {
		p, _ := transport.NewMemory(transport.MemoryConfig{IDs: ids, Factory: func(id string) (fl.Handler, error) { return handler(id), nil }})
		return p
	}
	// clients returns a federation's clients: each keeps its secure
	// aggregation state for its lifetime.
	clients := func() func(string) fl.Handler {
		states := map[string]*fedround.ClientState{}
		for _, id := range []string{"c1", "c2", "c3", "c4", "c5", "c6"} {
			states[id] = &fedround.ClientState{}
		}
		return func(id string) fl.Handler {
			v := float64(id[1]-'0') / 10
			train := fl.HandlerFunc(func(_ context.Context, m *fl.Message) (*fl.Message, error) {
				return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: []float64{v - m.Params[0], -v}, Weight: 1}, nil
			})
			return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
				key := sha256.Sum256(fmt.Appendf(nil, "%s/%d/%s", id, m.Round, m.Type))
				mw := fedround.Middleware(states[id], fedround.ClientConfig{Rand: rand.NewChaCha8(key)})
				return fl.Wrap(train, mw).Handle(ctx, m)
			})
		}
	}
	secure := fedround.DefaultConfig() // clip 1, 32 bits
	treeClients := clients()
	root := memory([]string{"east", "west"}, func(id string) fl.Handler {
		sc := secure
		e, _ := hier.NewEdge(hier.EdgeConfig{Pool: memory(members[id], treeClients), Secure: &sc})
		return e
	})
	run := func(pool fl.Pool, ex fl.Exchange) ([]float64, *fl.History) {
		cfg := fl.DefaultServerConfig()
		cfg.Rounds, cfg.Exchange, cfg.Seed = 3, ex, 1
		s, _ := fl.NewServer(cfg, pool, []float64{0, 0})
		h, err := s.Run(context.Background())
		if err != nil {
			fmt.Println(err)
		}
		return s.Params(), h
	}
	tree, h := run(root, &hier.Exchange{Size: func(id string) int { return len(members[id]) }, Secure: &hier.Secure{Clip: secure.Clip}})
	flatEx, _ := fedround.New(secure)
	flat, _ := run(memory([]string{"c1", "c2", "c3", "c4", "c5", "c6"}, clients()), flatEx)
	fmt.Println("same bits:", slices.EqualFunc(tree, flat, func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }))
	fmt.Println("clients in the last round:", h.Last().Accepted, "of", h.Last().Sampled)
	fmt.Printf("%.4f %.4f\n", tree[0], tree[1])
	// Output:
	// same bits: true
	// clients in the last round: 6 of 6
	// 0.3500 -1.0500
}
