package hier_test

import (
	"context"
	"fmt"
	"math"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/hier"
	"github.com/fedgo/fedgo/transport"
)

// A root over two edges of three clients each ends with the same bits as
// the flat federation of the six clients. Client cK sends Δ = (v − p₀,
// 0.1·v) with weight v = 2 + K/3, so each round moves p₀ to Σv²/Σv =
// 62.111/19 = 3.2690 and adds 0.1·Σv²/Σv to p₁.
func Example() {
	target := func(id string) fl.Handler {
		v := float64(len(id)) + float64(id[len(id)-1]-'0')/3
		return fl.HandlerFunc(func(_ context.Context, m *fl.Message) (*fl.Message, error) {
			d := []float64{v - m.Params[0], 0.1 * v}
			return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: d, Weight: v}, nil
		})
	}
	memory := func(ids []string, handler func(string) fl.Handler) fl.Pool {
		p, _ := transport.NewMemory(transport.MemoryConfig{IDs: ids, Factory: func(id string) (fl.Handler, error) { return handler(id), nil }})
		return p
	}
	members := map[string][]string{"east": {"c1", "c2", "c3"}, "west": {"c4", "c5", "c6"}}
	root := memory([]string{"east", "west"}, func(id string) fl.Handler {
		e, _ := hier.NewEdge(hier.EdgeConfig{Pool: memory(members[id], target)})
		return e
	})
	flat := memory([]string{"c1", "c2", "c3", "c4", "c5", "c6"}, target)

	params := func(pool fl.Pool, agg fl.Exchange) []float64 {
		cfg := fl.DefaultServerConfig()
		cfg.Rounds, cfg.Exchange = 3, agg
		s, _ := fl.NewServer(cfg, pool, []float64{0, 0})
		s.Run(context.Background())
		return s.Params()
	}
	tree := params(root, &hier.Exchange{Size: func(id string) int { return len(members[id]) }})
	plain := params(flat, &hier.Exchange{})
	fmt.Println(math.Float64bits(tree[0]) == math.Float64bits(plain[0]), math.Float64bits(tree[1]) == math.Float64bits(plain[1]))
	fmt.Printf("%.4f %.4f\n", tree[0], tree[1])
	// Output:
	// true true
	// 3.2690 0.9807
}
