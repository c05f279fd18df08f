package drift_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/drift"
)

// Two rounds by hand: m = 4 devices, two active, α = 1, one local step of
// η = 0.1 (so the proximal term, zero at the first step, drops out),
// f_1(y) = ½(y − 1)², f_2(y) = (y + 1)², θ⁰ = 0.
//
// Round 1 (g = 0): Δ_1 = 0.1, g_1 = −0.1; Δ_2 = −0.2, g_2 = 0.2.
// h¹ = −(1/4)(0.1 − 0.2) = 0.025, θ¹ = −0.05 − 0.025 = −0.075.
//
// Round 2: client 1's gradient −1.075 + 0.1 = −0.975, Δ_1 = 0.0975,
// g_1 = −0.1975; client 2's 1.85 − 0.2 = 1.65, Δ_2 = −0.165, g_2 = 0.365.
// h² = 0.025 − (1/4)(0.0975 − 0.165) = 0.041875,
// θ² = (0.0225 − 0.24)/2 − 0.041875 = −0.150625.
func TestFedDynByHand(t *testing.T) {
	store := &drift.MemoryStore{}
	conns := []fl.Conn{
		conn{"c1", &drift.FedDynClient{ID: "c1", Trainer: &quad{a: []float64{1}, b: []float64{1}, k: 1, lr: 0.1, weight: 5}, Store: store}},
		conn{"c2", &drift.FedDynClient{ID: "c2", Trainer: &quad{a: []float64{2}, b: []float64{-1}, k: 1, lr: 0.1, weight: 1}, Store: store}},
	}
	ex := &drift.FedDyn{Clients: 4, Alpha: 1}
	x := []float64{0}
	runRound(t, ex, 1, x, 1, nil, conns)
	near(t, "θ¹", x, []float64{-0.075}, 1e-15)
	near(t, "h¹", ex.H(), []float64{0.025}, 1e-15)
	runRound(t, ex, 2, x, 1, nil, conns)
	near(t, "θ²", x, []float64{-0.150625}, 1e-15)
	near(t, "h²", ex.H(), []float64{0.041875}, 1e-15)
	g := make([]float64, 1)
	store.Load("feddyn/c2", g)
	near(t, "g_2", g, []float64{0.365}, 1e-15)
}

// naiveFedDyn is Algorithm 1 with K steps of gradient descent as the
// local solver.
type naiveFedDyn struct {
	theta, h []float64
	g        map[int][]float64
}

func (s *naiveFedDyn) round(qs []*quad, active []int, m int, alpha, lr float64) {
	d := len(s.theta)
	sum := make([]float64, d)
	for _, k := range active {
		q := qs[k]
		g := s.g[k]
		if g == nil {
			g = make([]float64, d)
		}
		y := slices.Clone(s.theta)
		for range q.k {
			for j := range y {
				y[j] -= lr * (q.grad(j, y[j]) - g[j] + alpha*(y[j]-s.theta[j]))
			}
		}
		ng := make([]float64, d)
		for j := range y {
			ng[j] = g[j] - alpha*(y[j]-s.theta[j])
			sum[j] += y[j]
		}
		s.g[k] = ng
	}
	for j := range s.theta {
		s.h[j] -= alpha / float64(m) * (sum[j] - float64(len(active))*s.theta[j])
		s.theta[j] = sum[j]/float64(len(active)) - s.h[j]/alpha
	}
}

func TestFedDynMatchesAlgorithm1(t *testing.T) {
	const m, d, alpha, lr = 5, 3, 0.3, 0.1
	rng := rand.New(rand.NewPCG(3, 3))
	store := &drift.MemoryStore{}
	qs := make([]*quad, m)
	conns := make([]fl.Conn, m)
	for i := range qs {
		q := &quad{a: make([]float64, d), b: make([]float64, d), k: 2 + i%3, lr: lr, weight: float64(i + 1)}
		for j := range d {
			q.a[j], q.b[j] = 0.5+rng.Float64(), 2*rng.NormFloat64()
		}
		qs[i] = q
		id := string(rune('a' + i))
		conns[i] = conn{id, &drift.FedDynClient{ID: id, Trainer: q, Store: store}}
	}
	ref := &naiveFedDyn{theta: make([]float64, d), h: make([]float64, d), g: map[int][]float64{}}
	ex := &drift.FedDyn{Clients: m, Alpha: alpha}
	x := make([]float64, d)
	for r, s := range [][]int{{0, 1}, {2, 3, 4}, {0, 4}, {1, 2}, {0, 1, 2, 3, 4}} {
		ref.round(qs, s, m, alpha, lr)
		var cs []fl.Conn
		for _, i := range s {
			cs = append(cs, conns[i])
		}
		runRound(t, ex, r+1, x, 1, nil, cs)
		near(t, "θ", x, ref.theta, 1e-12)
		near(t, "h", ex.H(), ref.h, 1e-12)
	}
}

func TestFedDynCheck(t *testing.T) {
	pool, _ := fl.NewPool(conn{"a", nil})
	for name, tc := range map[string]struct {
		ex  *drift.FedDyn
		cfg fl.ServerConfig
	}{
		"no α":      {&drift.FedDyn{Clients: 1}, fl.ServerConfig{}},
		"no m":      {&drift.FedDyn{Alpha: 0.1}, fl.ServerConfig{}},
		"server lr": {&drift.FedDyn{Clients: 1, Alpha: 0.1}, fl.ServerConfig{Optimizer: fl.SGD{LR: 0.5}}},
	} {
		if err := tc.ex.Check(&tc.cfg, pool); !errors.Is(err, fl.ErrConfig) {
			t.Errorf("%s: Check = %v, want ErrConfig", name, err)
		}
	}
	// A plain client refuses the FedDyn message instead of training
	// without the regularizer.
	r := fl.NewRound(1, []float64{0}, nil, []fl.Conn{conn{"p", fl.NewHandler(&quad{a: []float64{1}, b: []float64{1}, k: 1, lr: 0.1}, nil)}}, nil)
	if acc, _ := (&drift.FedDyn{Clients: 1, Alpha: 1}).Run(context.Background(), r, make([]float64, 1)); acc != 0 {
		t.Error("a plain client's update was accepted by FedDyn")
	}
}
