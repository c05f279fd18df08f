package drift_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/drift"
	"github.com/fedgo/fedgo/fl/model"
)

// One round worked by hand: f_1(y) = ½(y − 1)² with τ_1 = 1 step and 1
// example, f_2(y) = ½(y + 1)² with τ_2 = 2 steps and 3 examples, x = 0,
// η = 0.1. Δ_1 = 0.1; y_2: 0 → −0.1 → −0.1 − 0.1·0.9 = −0.19, Δ_2 = −0.19.
// p = (¼, ¾), τ_eff = ¼·1 + ¾·2 = 1.75, Σ p_i Δ_i/τ_i = 0.025 − 0.07125 =
// −0.04625, so the aggregate is 1.75·(−0.04625) = −0.0809375 (FedAvg's
// would be −0.1175).
func TestFedNovaByHand(t *testing.T) {
	conns := []fl.Conn{
		conn{"a", fl.NewHandler(&quad{a: []float64{1}, b: []float64{1}, k: 1, lr: 0.1, weight: 1}, nil)},
		conn{"b", fl.NewHandler(&quad{a: []float64{1}, b: []float64{-1}, k: 2, lr: 0.1, weight: 3}, nil)},
	}
	r := fl.NewRound(1, []float64{0}, nil, conns, nil)
	dst := make([]float64, 1)
	acc, err := (&drift.FedNova{Clients: 2}).Run(context.Background(), r, dst)
	if err != nil || acc != 2 {
		t.Fatalf("Run = %d, %v", acc, err)
	}
	near(t, "aggregate", dst, []float64{-0.0809375}, 1e-15)
	if got := r.Stats().Extra["fednova_tau_eff"]; math.Abs(got-1.75) > 1e-15 {
		t.Errorf("τ_eff = %v, want 1.75", got)
	}
}

// With equal τ FedNova is FedAvg's example-weighted mean.
func TestFedNovaEqualStepsIsFedAvg(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const d = 5
	var conns []fl.Conn
	var ups []fl.Update
	x := make([]float64, d)
	for i := range 4 {
		q := &quad{a: make([]float64, d), b: make([]float64, d), k: 3, lr: 0.2, weight: float64(1 + 2*i)}
		for j := range d {
			q.a[j], q.b[j] = 0.5+rng.Float64(), rng.NormFloat64()
		}
		u, _ := q.Train(context.Background(), x, nil)
		ups = append(ups, u)
		conns = append(conns, conn{string(rune('a' + i)), fl.NewHandler(q, nil)})
	}
	want := make([]float64, d)
	if err := (&fl.FedAvg{}).Aggregate(want, ups); err != nil {
		t.Fatal(err)
	}
	got := make([]float64, d)
	if _, err := (&drift.FedNova{Clients: 4}).Run(context.Background(), fl.NewRound(1, x, nil, conns, nil), got); err != nil {
		t.Fatal(err)
	}
	near(t, "FedNova with equal τ", got, want, 1e-14)
}

// ‖a‖₁ against the paper's closed forms, and against the change of a
// real model.Trainer step sequence on a linear loss (gradient constant).
func TestNormAClosedForms(t *testing.T) {
	for _, tc := range []struct {
		tau          int
		lr, beta, mu float64
		want         float64
	}{
		{7, 0.1, 0, 0, 7},
		{7, 0.1, 0.9, 0, (7 - 0.9*(1-math.Pow(0.9, 7))/(1-0.9)) / (1 - 0.9)},
		{1, 0.1, 0.9, 0, 1},
		{10, 0.05, 0, 0.5, (1 - math.Pow(1-0.05*0.5, 10)) / (0.05 * 0.5)},
	} {
		got, err := drift.NormA(tc.tau, tc.lr, tc.beta, tc.mu)
		if err != nil || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("NormA(%d, %v, %v, %v) = %v, %v; want %v", tc.tau, tc.lr, tc.beta, tc.mu, got, err, tc.want)
		}
	}
	// The last row, step by step with every gradient 1, ημ = 0.1, β = 0.5:
	// v1 = 1, e1 = 1; v2 = 0.5 + 1 − 0.1·1 = 1.4, e2 = 2.4; v3 = 0.7 + 1 −
	// 0.24 = 1.46, e3 = 3.86.
	if got, _ := drift.NormA(3, 0.1, 0.5, 1); math.Abs(got-3.86) > 1e-12 {
		t.Errorf("NormA(3, 0.1, 0.5, 1) = %v, want 3.86", got)
	}
	for _, bad := range [][4]float64{{0, 0.1, 0, 0}, {3, 0.1, 1, 0}, {3, 0.1, -0.1, 0}, {3, 2, 0, 1}, {3, 0, 0, 1}, {3, 0.1, 0, math.NaN()}} {
		if _, err := drift.NormA(int(bad[0]), bad[1], bad[2], bad[3]); err == nil {
			t.Errorf("NormA%v accepted", bad)
		}
	}
}

// FedNova reads τ from a real model.Trainer's update: with momentum, its
// aggregate of a single client is Δ·τ_eff/‖a‖₁ = Δ.
func TestFedNovaWithModelTrainer(t *testing.T) {
	m := model.Softmax{Dim: 2, Classes: 2}
	tr, err := model.NewTrainer(model.TrainerConfig{Model: m, Train: twoBlobs(), BatchSize: 4, Epochs: 2, LR: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float64, m.NumParams())
	cfg := fl.Config{model.KeyMomentum: 0.9, fl.KeyMu: 0.1}
	u, err := tr.Train(context.Background(), x, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if u.Metrics[model.KeySteps] != 6 { // 2 epochs × ⌈10/4⌉
		t.Fatalf("τ = %v, want 6", u.Metrics[model.KeySteps])
	}
	r := fl.NewRound(1, x, cfg, []fl.Conn{conn{"a", fl.NewHandler(tr, nil)}}, nil)
	got := make([]float64, len(x))
	if _, err := (&drift.FedNova{Clients: 1}).Run(context.Background(), r, got); err != nil {
		t.Fatal(err)
	}
	near(t, "single-client FedNova", got, u.Delta, 1e-15)
	a, _ := drift.NormA(6, 0.1, 0.9, 0.1)
	if tauEff := r.Stats().Extra["fednova_tau_eff"]; tauEff != a {
		t.Errorf("τ_eff = %v, want ‖a‖₁ = %v", tauEff, a)
	}
}

func TestFedNovaRejectsBadReplies(t *testing.T) {
	good := fl.NewHandler(&quad{a: []float64{1}, b: []float64{1}, k: 2, lr: 0.1, weight: 1}, nil)
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
		"no τ":       lie(func(m *fl.Message) { delete(m.Metrics, model.KeySteps) }),
		"τ = 0":      lie(func(m *fl.Message) { m.Metrics[model.KeySteps] = 0 }),
		"τ = 2.5":    lie(func(m *fl.Message) { m.Metrics[model.KeySteps] = 2.5 }),
		"τ huge":     lie(func(m *fl.Message) { m.Metrics[model.KeySteps] = 1e300 }),
		"weight 0":   lie(func(m *fl.Message) { m.Weight = 0 }),
		"NaN Δ":      lie(func(m *fl.Message) { m.Params[0] = math.NaN() }),
		"payload":    lie(func(m *fl.Message) { m.Payload = []byte{1} }),
		"wrong type": lie(func(m *fl.Message) { m.Type = fl.TypeMetrics }),
	} {
		r := fl.NewRound(1, []float64{0}, nil, []fl.Conn{conn{"x", h}}, nil)
		acc, err := (&drift.FedNova{Clients: 1}).Run(context.Background(), r, make([]float64, 1))
		if err != nil || acc != 0 {
			t.Errorf("%s: accepted %d, err %v; want the reply rejected", name, acc, err)
		}
	}
}

// twoBlobs is 10 two-dimensional examples of two classes.
func twoBlobs() *dataset.Dataset {
	rng := rand.New(rand.NewPCG(9, 9))
	d := &dataset.Dataset{X: make([]float64, 20), Y: make([]int, 10), Dim: 2, Classes: 2}
	for i := range 10 {
		d.Y[i] = i % 2
		d.X[2*i] = float64(2*(i%2)-1) + 0.3*rng.NormFloat64()
		d.X[2*i+1] = 0.3 * rng.NormFloat64()
	}
	return d
}

// ‖a‖₁ is how model.Trainer's momentum and proximal steps weigh the
// local gradients: with full-batch steps and a learning rate so small that
// the gradient stays put, τ steps move by ‖a‖₁ times one step.
func TestNormAMatchesModelTrainer(t *testing.T) {
	m := model.Softmax{Dim: 2, Classes: 2}
	tr, err := model.NewTrainer(model.TrainerConfig{Model: m, Train: twoBlobs(), BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	x := []float64{0.3, -0.2, 0.1, 0.5, -0.4, 0.2}
	const lr = 1e-8
	one, err := tr.Train(context.Background(), x, fl.Config{fl.KeyLR: lr, fl.KeyEpochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ beta, mu float64 }{{0, 0}, {0.9, 0}, {0.5, 2e6}, {0.9, 5e6}} {
		const tau = 5
		u, err := tr.Train(context.Background(), x, fl.Config{fl.KeyLR: lr, fl.KeyEpochs: tau, model.KeyMomentum: c.beta, fl.KeyMu: c.mu})
		if err != nil {
			t.Fatal(err)
		}
		a, err := drift.NormA(tau, lr, c.beta, c.mu)
		if err != nil {
			t.Fatal(err)
		}
		for j := range x {
			if want := a * one.Delta[j]; math.Abs(u.Delta[j]-want) > 1e-6*math.Abs(want)+1e-20 {
				t.Fatalf("β=%v μ=%v: Δ[%d] = %v, want ‖a‖₁ = %v times one step = %v", c.beta, c.mu, j, u.Delta[j], a, want)
			}
		}
	}
}
