package drift_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/drift"
)

// scaffoldPair builds n quadratic clients twice over, for the two-message
// and the one-message SCAFFOLD, each on its own store; k gives client i's
// local steps.
func scaffoldPair(n, d int, k func(i int) int) (two, one []fl.Conn) {
	rng := rand.New(rand.NewPCG(4, 4))
	s2, s1 := &drift.MemoryStore{}, &drift.MemoryStore{}
	for i := range n {
		q := &quad{a: make([]float64, d), b: make([]float64, d), k: k(i), lr: 0.05, weight: float64(i + 1)}
		for j := range d {
			q.a[j], q.b[j] = 0.5+rng.Float64()*2, 2*rng.NormFloat64()
		}
		id := string(rune('a' + i))
		two = append(two, conn{id, &drift.ScaffoldClient{ID: id, Trainer: q, Store: s2}})
		one = append(one, conn{id, &drift.ScaffoldClient{ID: id, Trainer: q, Store: s1}})
	}
	return two, one
}

// Under full participation, equal K·η_l and η_g = 1, FLamby's one-message
// variant follows the paper's SCAFFOLD round for round.
func TestScaffoldOneMessageExactUnderFullParticipation(t *testing.T) {
	const n, d = 4, 3
	two, one := scaffoldPair(n, d, func(int) int { return 3 })
	x2, x1 := make([]float64, d), make([]float64, d)
	e2, e1 := &drift.Scaffold{Clients: n}, &drift.Scaffold{Clients: n, OneMessage: true}
	for r := 1; r <= 8; r++ {
		runRound(t, e2, r, x2, 1, nil, two)
		runRound(t, e1, r, x1, 1, nil, one)
		near(t, "one-message x", x1, x2, 1e-12)
	}
	if e1.Control() != nil {
		t.Error("the one-message server keeps a c")
	}
}

// With partial participation the variant is not SCAFFOLD: a client that
// missed rounds corrects with a stale model, and the trajectories part.
func TestScaffoldOneMessageDiffersUnderPartialParticipation(t *testing.T) {
	const n, d = 4, 3
	two, one := scaffoldPair(n, d, func(int) int { return 3 })
	x2, x1 := make([]float64, d), make([]float64, d)
	e2, e1 := &drift.Scaffold{Clients: n}, &drift.Scaffold{Clients: n, OneMessage: true}
	var maxDiff float64
	for r, s := range [][]int{{0, 1}, {2, 3}, {0, 2}, {1, 3}, {0, 3}} {
		var c2, c1 []fl.Conn
		for _, i := range s {
			c2, c1 = append(c2, two[i]), append(c1, one[i])
		}
		runRound(t, e2, r+1, x2, 1, nil, c2)
		runRound(t, e1, r+1, x1, 1, nil, c1)
		for j := range x1 {
			maxDiff = max(maxDiff, abs(x1[j]-x2[j]))
		}
	}
	if maxDiff < 1e-6 {
		t.Fatalf("one-message and paper SCAFFOLD agree under partial participation (max diff %v): the test sees nothing", maxDiff)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestScaffoldOneMessageCheck(t *testing.T) {
	pool, _ := fl.NewPool(conn{"a", nil}, conn{"b", nil})
	ex := &drift.Scaffold{Clients: 2, OneMessage: true}
	for name, cfg := range map[string]fl.ServerConfig{
		"one per round": {ClientsPerRound: 1},
		"half":          {ClientFraction: 0.5},
		"sampler":       {Sampler: fl.Uniform{Count: 2}},
		"η_g = 0.5":     {Optimizer: fl.SGD{LR: 0.5}},
	} {
		if err := ex.Check(&cfg, pool); !errors.Is(err, fl.ErrConfig) {
			t.Errorf("%s: Check = %v, want ErrConfig", name, err)
		}
	}
	if err := ex.Check(&fl.ServerConfig{ClientsPerRound: 2}, pool); err != nil {
		t.Errorf("full participation refused: %v", err)
	}
}
