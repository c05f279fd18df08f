package drift_test

import (
	"math"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/drift"
)

// On heterogeneous quadratics with many local steps, FedAvg stops short of
// the optimum of the average loss, x*_j = Σ_i a_ij b_ij / Σ_i a_ij (client
// drift), while SCAFFOLD and FedDyn, whose corrections cancel the drift,
// reach it.
func TestDriftCorrectionReachesTheOptimum(t *testing.T) {
	const d, k, lr, rounds = 2, 10, 0.05, 300
	a := [][]float64{{1, 3}, {4, 0.5}, {0.5, 2}}
	b := [][]float64{{2, -1}, {-1, 3}, {4, 0}}
	opt := make([]float64, d)
	for j := range d {
		var num, den float64
		for i := range a {
			num += a[i][j] * b[i][j]
			den += a[i][j]
		}
		opt[j] = num / den
	}
	clients := func(mk func(id string, q *quad) fl.Handler) []fl.Conn {
		var cs []fl.Conn
		for i := range a {
			id := string(rune('a' + i))
			cs = append(cs, conn{id, mk(id, &quad{a: a[i], b: b[i], k: k, lr: lr, weight: 1})})
		}
		return cs
	}
	dist := func(x []float64) float64 {
		return math.Hypot(x[0]-opt[0], x[1]-opt[1])
	}
	run := func(ex fl.Exchange, cs []fl.Conn) float64 {
		x := make([]float64, d)
		for r := 1; r <= rounds; r++ {
			runRound(t, ex, r, x, 1, nil, cs)
		}
		return dist(x)
	}
	fedavg := run(&fl.TrainExchange{Aggregator: &fl.FedAvg{}}, clients(func(_ string, q *quad) fl.Handler { return fl.NewHandler(q, nil) }))
	store := &drift.MemoryStore{}
	scaffold := run(&drift.Scaffold{Clients: len(a)}, clients(func(id string, q *quad) fl.Handler {
		return &drift.ScaffoldClient{ID: id, Trainer: q, Store: store}
	}))
	feddyn := run(&drift.FedDyn{Clients: len(a), Alpha: 0.5}, clients(func(id string, q *quad) fl.Handler {
		return &drift.FedDynClient{ID: id, Trainer: q, Store: store}
	}))
	t.Logf("distance to the optimum: FedAvg %v, SCAFFOLD %v, FedDyn %v", fedavg, scaffold, feddyn)
	if fedavg < 0.05 {
		t.Fatalf("FedAvg is within %v of the optimum: the problem shows no drift", fedavg)
	}
	if scaffold > 1e-9 || feddyn > 1e-9 {
		t.Errorf("distance to the optimum after %d rounds: SCAFFOLD %v, FedDyn %v (FedAvg %v)", rounds, scaffold, feddyn, fedavg)
	}
}

// The objective inconsistency FedNova removes (Wang et al. 2020, Section
// 2): clients with f_i(y) = ½(y − e_i)² and equal data but τ_i of 1 and 20
// local steps. FedAvg's fixed point weighs client i by 1 − (1 − η)^τ_i,
// far from the true optimum ½(e_1 + e_2) = 0; FedNova's by
// (1 − (1 − η)^τ_i)/τ_i, within O(η τ) of it.
func TestFedNovaRemovesObjectiveInconsistency(t *testing.T) {
	const lr, rounds = 0.01, 3000
	mk := func() []fl.Conn {
		return []fl.Conn{
			conn{"a", fl.NewHandler(&quad{a: []float64{1}, b: []float64{1}, k: 1, lr: lr, weight: 1}, nil)},
			conn{"b", fl.NewHandler(&quad{a: []float64{1}, b: []float64{-1}, k: 20, lr: lr, weight: 1}, nil)},
		}
	}
	run := func(ex fl.Exchange) float64 {
		x := []float64{0}
		for r := 1; r <= rounds; r++ {
			runRound(t, ex, r, x, 1, nil, mk())
		}
		return x[0]
	}
	fedavg := run(&fl.TrainExchange{})
	fednova := run(&drift.FedNova{Clients: 2})
	// The fixed points in closed form: Σ w_i e_i / Σ w_i.
	w1, w2 := 1-math.Pow(1-lr, 1), 1-math.Pow(1-lr, 20)
	wantAvg := (w1 - w2) / (w1 + w2)
	w2n := w2 / 20
	wantNova := (w1 - w2n) / (w1 + w2n)
	t.Logf("fixed points: FedAvg %v (closed form %v), FedNova %v (closed form %v), optimum 0", fedavg, wantAvg, fednova, wantNova)
	if math.Abs(fedavg-wantAvg) > 1e-6 || math.Abs(fednova-wantNova) > 1e-6 {
		t.Errorf("fixed points FedAvg %v FedNova %v, want %v and %v", fedavg, fednova, wantAvg, wantNova)
	}
	if math.Abs(fednova) > math.Abs(fedavg)/10 {
		t.Errorf("FedNova %v is not much nearer the optimum 0 than FedAvg %v", fednova, fedavg)
	}
}
