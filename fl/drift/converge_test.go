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
