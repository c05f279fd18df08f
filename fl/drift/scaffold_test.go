package drift_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/drift"
)

// runRound runs ex over the given clients (in order) from x and applies
// x ← x + ηg·dst as fl.SGD{LR: ηg} would.
func runRound(t *testing.T, ex fl.Exchange, n int, x []float64, etaG float64, cfg fl.Config, conns []fl.Conn) int {
	t.Helper()
	r := fl.NewRound(n, x, cfg, conns, nil)
	dst := make([]float64, len(x))
	acc, err := ex.Run(context.Background(), r, dst)
	if err != nil {
		t.Fatal(err)
	}
	if acc < 1 {
		t.Fatalf("round %d: nothing accepted: %+v", n, r.Stats())
	}
	for j := range x {
		x[j] += etaG * dst[j]
	}
	return acc
}

// The first two rounds in one dimension, worked by hand from Algorithm 1
// and equation (4): f_1(y) = ½(y − 1)², f_2(y) = (y + 1)², x⁰ = 0,
// η_l = 0.1, K = 1, η_g = 1, N = 2, both clients every round.
//
// Round 1 (c = c_i = 0): y_1 = 0 − 0.1·(−1) = 0.1, c_1⁺ = (0 − 0.1)/0.1 =
// −1; y_2 = 0 − 0.1·2 = −0.2, c_2⁺ = 2. x¹ = (0.1 − 0.2)/2 = −0.05,
// c = (2/2)·(−1 + 2)/2 = 0.5.
//
// Round 2: client 1: correction c − c_1 = 1.5, ∇f_1(x¹) = −1.05, y_1 =
// −0.05 − 0.1·0.45 = −0.095, c_1⁺ = −1 − 0.5 + 0.045/0.1 = −1.05; client
// 2: correction −1.5, ∇f_2(x¹) = 1.9, y_2 = −0.05 − 0.1·0.4 = −0.09,
// c_2⁺ = 2 − 0.5 + 0.04/0.1 = 1.9. x² = −0.05 + (−0.045 − 0.04)/2 =
// −0.0925, c = 0.5 + (−0.05 − 0.1)/2 = 0.425.
func TestScaffoldByHand(t *testing.T) {
	store := &drift.MemoryStore{}
	q1 := &quad{a: []float64{1}, b: []float64{1}, k: 1, lr: 0.1, weight: 1}
	q2 := &quad{a: []float64{2}, b: []float64{-1}, k: 1, lr: 0.1, weight: 7} // weight must not matter
	conns := []fl.Conn{
		conn{"c1", &drift.ScaffoldClient{ID: "c1", Trainer: q1, Store: store}},
		conn{"c2", &drift.ScaffoldClient{ID: "c2", Trainer: q2, Store: store}},
	}
	ex := &drift.Scaffold{Clients: 2}
	x := []float64{0}
	runRound(t, ex, 1, x, 1, nil, conns)
	near(t, "x¹", x, []float64{-0.05}, 1e-15)
	near(t, "c¹", ex.Control(), []float64{0.5}, 1e-15)
	ci := make([]float64, 1)
	for id, want := range map[string]float64{"c1": -1, "c2": 2} {
		if ok, err := store.Load("scaffold/"+id, ci); !ok || err != nil {
			t.Fatalf("no c_i for %s: %v", id, err)
		}
		near(t, "c_i of "+id, ci, []float64{want}, 1e-15)
	}
	runRound(t, ex, 2, x, 1, nil, conns)
	near(t, "x²", x, []float64{-0.0925}, 1e-15)
	near(t, "c²", ex.Control(), []float64{0.425}, 1e-15)
	store.Load("scaffold/c1", ci)
	near(t, "c_1 after round 2", ci, []float64{-1.05}, 1e-15)
}

// naiveScaffold is Algorithm 1 written out plainly, Option II.
type naiveScaffold struct {
	x, c []float64
	ci   map[int][]float64
}

func (s *naiveScaffold) round(qs []*quad, sampled []int, n int, etaG, etaL float64) {
	d := len(s.x)
	dx, dc := make([]float64, d), make([]float64, d)
	for _, i := range sampled {
		q := qs[i]
		ci := s.ci[i]
		if ci == nil {
			ci = make([]float64, d)
		}
		y := slices.Clone(s.x)
		for range q.k {
			for j := range y {
				y[j] -= etaL * (q.grad(j, y[j]) - ci[j] + s.c[j])
			}
		}
		cp := make([]float64, d)
		for j := range cp {
			cp[j] = ci[j] - s.c[j] + (s.x[j]-y[j])/(float64(q.k)*etaL)
			dx[j] += (y[j] - s.x[j]) / float64(len(sampled))
			dc[j] += (cp[j] - ci[j]) / float64(len(sampled))
		}
		s.ci[i] = cp
	}
	for j := range s.x {
		s.x[j] += etaG * dx[j]
		s.c[j] += float64(len(sampled)) / float64(n) * dc[j]
	}
}

// Partial participation (2 or 3 of N = 5, different local step counts and
// weights) against the naive Algorithm 1: the |S|/N factor, the unweighted
// means and the per-client c_i all show.
func TestScaffoldMatchesAlgorithm1(t *testing.T) {
	const n, d, etaG, etaL = 5, 4, 0.7, 0.05
	rng := rand.New(rand.NewPCG(1, 2))
	qs := make([]*quad, n)
	store := &drift.MemoryStore{}
	conns := make([]fl.Conn, n)
	for i := range qs {
		q := &quad{a: make([]float64, d), b: make([]float64, d), k: 1 + i, lr: 0.3, weight: float64(10 * (i + 1))}
		for j := range d {
			q.a[j], q.b[j] = 0.5+rng.Float64()*2, rng.NormFloat64()*3
		}
		qs[i] = q
		id := string(rune('a' + i))
		conns[i] = conn{id, &drift.ScaffoldClient{ID: id, Trainer: q, Store: store}}
	}
	ref := &naiveScaffold{x: make([]float64, d), c: make([]float64, d), ci: map[int][]float64{}}
	ex := &drift.Scaffold{Clients: n}
	x := make([]float64, d)
	for r, s := range [][]int{{0, 3}, {1, 3, 4}, {0, 2}, {3, 4}, {0, 1, 2}, {2, 4}} {
		ref.round(qs, s, n, etaG, etaL)
		var cs []fl.Conn
		for _, i := range s {
			cs = append(cs, conns[i])
		}
		if acc := runRound(t, ex, r+1, x, etaG, fl.Config{fl.KeyLR: etaL}, cs); acc != len(s) {
			t.Fatalf("round %d: %d accepted, want %d", r+1, acc, len(s))
		}
		near(t, "x", x, ref.x, 1e-12)
		near(t, "c", ex.Control(), ref.c, 1e-12)
	}
	if store.Len() != n {
		t.Errorf("store holds %d clients, want %d", store.Len(), n)
	}
}

// Only clients that have trained hold state.
func TestScaffoldStoreHoldsOnlyParticipants(t *testing.T) {
	store := &drift.MemoryStore{}
	var conns []fl.Conn
	for i := range 10 {
		id := string(rune('a' + i))
		conns = append(conns, conn{id, &drift.ScaffoldClient{ID: id, Trainer: &quad{a: []float64{1}, b: []float64{0}, k: 1, lr: 0.1}, Store: store}})
	}
	runRound(t, &drift.Scaffold{Clients: 10}, 1, []float64{1}, 1, nil, conns[:3])
	if store.Len() != 3 {
		t.Errorf("store holds %d entries after 3 clients trained, want 3", store.Len())
	}
}

// Bad replies are rejected and do not touch c; a round below quorum
// leaves c unchanged.
func TestScaffoldRejectsBadReplies(t *testing.T) {
	good := &drift.ScaffoldClient{ID: "g", Trainer: &quad{a: []float64{1, 1}, b: []float64{1, 1}, k: 1, lr: 0.1}, Store: &drift.MemoryStore{}}
	lie := func(f func(m *fl.Message)) fl.Handler {
		return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
			r, err := good.Handle(ctx, m)
			if err == nil {
				f(r)
			}
			return r, err
		})
	}
	for name, h := range map[string]fl.Handler{
		"plain client":   fl.NewHandler(&quad{a: []float64{1, 1}, b: []float64{1, 1}, k: 1, lr: 0.1}, nil),
		"no Δc":          lie(func(m *fl.Message) { m.Payload = nil }),
		"short Δc":       lie(func(m *fl.Message) { m.Payload = m.Payload[:len(m.Payload)-8] }),
		"Δc wrong count": lie(func(m *fl.Message) { m.Payload[0] = 3 }),
		"NaN Δc":         lie(func(m *fl.Message) { copy(m.Payload[4:], []byte{0, 0, 0, 0, 0, 0, 0xf8, 0x7f}) }),
		"Inf Δy":         lie(func(m *fl.Message) { m.Params[1] = math.Inf(1) }),
		"short Δy":       lie(func(m *fl.Message) { m.Params = m.Params[:1] }),
		"wrong round":    lie(func(m *fl.Message) { m.Round++ }),
	} {
		ex := &drift.Scaffold{Clients: 3}
		r := fl.NewRound(1, []float64{0, 0}, nil, []fl.Conn{conn{"bad", h}}, nil)
		acc, err := ex.Run(context.Background(), r, make([]float64, 2))
		if err != nil || acc != 0 {
			t.Errorf("%s: accepted %d, err %v; want the reply rejected", name, acc, err)
		}
		if r.Stats().Failures[fl.FailRejected]+r.Stats().Failures[fl.FailError] != 1 {
			t.Errorf("%s: failures %v", name, r.Stats().Failures)
		}
		if c := ex.Control(); !slices.Equal(c, []float64{0, 0}) {
			t.Errorf("%s: c = %v after a rejected round", name, c)
		}
	}
}

func TestScaffoldCheck(t *testing.T) {
	pool, _ := fl.NewPool(conn{"a", nil}, conn{"b", nil}, conn{"c", nil})
	for name, tc := range map[string]struct {
		ex  *drift.Scaffold
		cfg fl.ServerConfig
	}{
		"no N":         {&drift.Scaffold{}, fl.ServerConfig{}},
		"N below pool": {&drift.Scaffold{Clients: 2}, fl.ServerConfig{}},
		"aggregator":   {&drift.Scaffold{Clients: 3}, fl.ServerConfig{Aggregator: &fl.FedAvg{}}},
		"adam":         {&drift.Scaffold{Clients: 3}, fl.ServerConfig{Optimizer: fl.NewFedAdam(0.1)}},
	} {
		if err := tc.ex.Check(&tc.cfg, pool); !errors.Is(err, fl.ErrConfig) {
			t.Errorf("%s: Check = %v, want ErrConfig", name, err)
		}
	}
	if err := (&drift.Scaffold{Clients: 3}).Check(&fl.ServerConfig{}, encodingPool{pool}); !errors.Is(err, fl.ErrConfig) {
		t.Errorf("compressing pool: Check = %v, want ErrConfig", err)
	}
	if err := (&drift.FedDyn{Clients: 3, Alpha: 1}).Check(&fl.ServerConfig{}, encodingPool{pool}); !errors.Is(err, fl.ErrConfig) {
		t.Errorf("FedDyn, compressing pool: Check = %v, want ErrConfig", err)
	}
	if err := (&drift.Scaffold{Clients: 3}).Check(&fl.ServerConfig{Optimizer: fl.SGD{LR: 0.5}}, pool); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}

// simulate runs a server with SCAFFOLD or FedDyn (alg) over 6 quadratic
// clients, 3 sampled a round, checkpointing into dir every 3 rounds,
// resuming from it when resume is set (without the clients' state when
// dropClients is set); it returns the final parameters and the server
// state (c or h).
func simulate(t *testing.T, alg string, rounds int, dir string, resume, dropClients bool) ([]float64, []float64) {
	t.Helper()
	const n, d = 6, 3
	store := &drift.MemoryStore{}
	rng := rand.New(rand.NewPCG(5, 6))
	var conns []fl.Conn
	for i := range n {
		q := &quad{a: make([]float64, d), b: make([]float64, d), k: 2 + i%3, lr: 0.1, weight: 1}
		for j := range d {
			q.a[j], q.b[j] = 0.5+rng.Float64(), rng.NormFloat64()
		}
		id := string(rune('a' + i))
		var h fl.Handler = &drift.ScaffoldClient{ID: id, Trainer: q, Store: store}
		if alg == "feddyn" {
			h = &drift.FedDynClient{ID: id, Trainer: q, Store: store}
		}
		conns = append(conns, conn{id, h})
	}
	pool, err := fl.NewPool(conns...)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.Seed = rounds, 3, 11
	var state func() []float64
	switch alg {
	case "scaffold":
		ex := &drift.Scaffold{Clients: n}
		cfg.Exchange, cfg.Optimizer, state = ex, fl.SGD{LR: 0.8}, ex.Control
	case "feddyn":
		ex := &drift.FedDyn{Clients: n, Alpha: 0.2}
		cfg.Exchange, state = ex, ex.H
	}
	if !dropClients {
		cfg.State = map[string]fl.Stateful{"clients": store}
	}
	cfg.CheckpointDir, cfg.CheckpointEvery = dir, 3
	s, err := fl.NewServer(cfg, pool, make([]float64, d))
	if err != nil {
		t.Fatal(err)
	}
	if resume {
		cp, err := fl.ReadCheckpoint(filepath.Join(dir, fl.CheckpointFile))
		if err != nil {
			t.Fatal(err)
		}
		if dropClients {
			delete(cp.Parts, "host/clients")
		}
		if err := s.Restore(cp); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s.Params(), state()
}

// A run stopped after round 7 and resumed from its checkpoint (the server
// state and every client's state restored) ends bit for bit where the
// uninterrupted run ends.
func TestResumeEqualsUninterrupted(t *testing.T) {
	for _, alg := range []string{"scaffold", "feddyn"} {
		wantX, wantS := simulate(t, alg, 12, t.TempDir(), false, false)
		dir := t.TempDir()
		simulate(t, alg, 7, dir, false, false)
		gotX, gotS := simulate(t, alg, 12, dir, true, false)
		if !slices.Equal(gotX, wantX) || !slices.Equal(gotS, wantS) {
			t.Fatalf("%s resumed: x %v state %v; uninterrupted: x %v state %v", alg, gotX, gotS, wantX, wantS)
		}
		// The careless host: resuming without the clients' state (a
		// fresh, empty store) ends elsewhere, so the comparison above
		// sees it.
		dir = t.TempDir()
		simulate(t, alg, 7, dir, false, false)
		if x, _ := simulate(t, alg, 12, dir, true, true); slices.Equal(x, wantX) {
			t.Fatalf("%s: a resume that lost every client's state ends where the uninterrupted run does", alg)
		}
	}
}

// encodingPool reports an uplink codec, as transport's compression
// wrappers do.
type encodingPool struct{ fl.Pool }

func (encodingPool) Encoding() (string, string) { return "topk", "" }
