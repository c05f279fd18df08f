package drift_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/model"
)

// quad is client i's loss f_i(y) = ½ Σ_j a_j (y_j − b_j)², trained by K
// full-gradient steps at lr (the round's fl.KeyLR overrides it) with an
// optional correction; an optional proximal μ(y − x) as FedProx's.
type quad struct {
	a, b   []float64
	k      int
	lr     float64
	weight float64
}

func (q *quad) grad(j int, y float64) float64 { return q.a[j] * (y - q.b[j]) }

func (q *quad) TrainCorrected(ctx context.Context, x []float64, cfg fl.Config, corr []float64) (fl.Update, error) {
	if len(x) != len(q.a) {
		return fl.Update{}, fmt.Errorf("quad: %d params, want %d", len(x), len(q.a))
	}
	lr := cfg.Get(fl.KeyLR, q.lr)
	mu := cfg.Get(fl.KeyMu, 0)
	y := append([]float64(nil), x...)
	for range q.k {
		for j := range y {
			g := q.grad(j, y[j]) + mu*(y[j]-x[j])
			if corr != nil {
				g += corr[j]
			}
			y[j] -= lr * g
		}
	}
	for j := range y {
		y[j] -= x[j]
	}
	return fl.Update{Delta: y, Weight: q.weight, Metrics: fl.Metrics{
		model.KeySteps: float64(q.k), model.KeyStepLR: lr, fl.KeyLoss: 0,
	}}, nil
}

func (q *quad) Train(ctx context.Context, x []float64, cfg fl.Config) (fl.Update, error) {
	return q.TrainCorrected(ctx, x, cfg, nil)
}

// conn delivers messages to a handler in process.
type conn struct {
	id string
	h  fl.Handler
}

func (c conn) ID() string { return c.id }
func (c conn) Send(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	return c.h.Handle(ctx, m)
}

func near(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for j := range got {
		if math.Abs(got[j]-want[j]) > tol {
			t.Fatalf("%s[%d] = %.17g, want %.17g", what, j, got[j], want[j])
		}
	}
}
