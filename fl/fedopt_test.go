package fl

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*(1+math.Abs(b)) }

// The first two steps of each server optimizer, computed by hand from the
// update rules of Reddi et al. 2021 (Algorithm 2) and Hsu et al. 2019, on
// scalars.
func TestServerOptimizerSteps(t *testing.T) {
	d1, d2 := 0.5, -0.2
	const tau, b1, b2 = 1e-3, 0.9, 0.99
	type step func(x, d float64) float64
	for _, tc := range []struct {
		name string
		opt  ServerOptimizer
		ref  func() step
	}{
		{"sgd", SGD{LR: 0.7}, func() step { return func(x, d float64) float64 { return x + 0.7*d } }},
		{"sgd-default", SGD{}, func() step { return func(x, d float64) float64 { return x + d } }},
		{"fedavgm", &FedAvgM{LR: 0.5, Momentum: 0.8}, func() step {
			m := 0.0
			return func(x, d float64) float64 { m = 0.8*m + d; return x + 0.5*m }
		}},
		{"fedadam", NewFedAdam(0.01), func() step {
			m, v := 0.0, tau*tau
			return func(x, d float64) float64 {
				m = b1*m + (1-b1)*d
				v = b2*v + (1-b2)*d*d
				return x + 0.01*m/(math.Sqrt(v)+tau)
			}
		}},
		{"fedyogi", NewFedYogi(0.02), func() step {
			m, v := 0.0, tau*tau
			return func(x, d float64) float64 {
				m = b1*m + (1-b1)*d
				s := 1.0
				if v-d*d < 0 {
					s = -1
				}
				v = v - (1-b2)*d*d*s
				return x + 0.02*m/(math.Sqrt(v)+tau)
			}
		}},
		{"fedadagrad", NewFedAdagrad(0.1), func() step {
			m, v := 0.0, tau*tau
			return func(x, d float64) float64 {
				m = b1*m + (1-b1)*d
				v = v + d*d
				return x + 0.1*m/(math.Sqrt(v)+tau)
			}
		}},
	} {
		ref := tc.ref()
		params := []float64{1, -3}
		want := []float64{1, -3}
		for _, d := range []float64{d1, d2, d1} {
			tc.opt.Step(params, []float64{d, 2 * d})
			want[0] = ref(want[0], d)
		}
		if !near(params[0], want[0]) {
			t.Errorf("%s: after 3 steps x = %v, want %v", tc.name, params[0], want[0])
		}
	}
	// A hand-evaluated number for FedAdam's first step, as a check of the
	// reference itself: Δ = 0.5, η = 0.01 → m = 0.05, v = 0.99e-6 + 0.0025.
	a := NewFedAdam(0.01)
	x := []float64{0}
	a.Step(x, []float64{0.5})
	if want := 0.01 * 0.05 / (math.Sqrt(0.99e-6+0.0025) + 1e-3); !near(x[0], want) || math.Abs(x[0]-0.0098029) > 1e-6 {
		t.Errorf("FedAdam first step = %v, want %v", x[0], want)
	}
}

func TestOptimizerStateRoundTrip(t *testing.T) {
	for _, mk := range []func() ServerOptimizer{
		func() ServerOptimizer { return NewFedYogi(0.03) },
		func() ServerOptimizer { return &FedAvgM{LR: 1, Momentum: 0.9} },
	} {
		a, b := mk(), mk()
		pa := []float64{1, 2, 3}
		a.Step(pa, []float64{0.1, -0.2, 0.3})
		state, err := a.(interface{ MarshalBinary() ([]byte, error) }).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := b.(interface{ UnmarshalBinary([]byte) error }).UnmarshalBinary(state); err != nil {
			t.Fatal(err)
		}
		pb := append([]float64(nil), pa...)
		a.Step(pa, []float64{0.5, 0.5, -0.5})
		b.Step(pb, []float64{0.5, 0.5, -0.5})
		for i := range pa {
			if pa[i] != pb[i] {
				t.Fatalf("restored optimizer diverges at %d: %v vs %v", i, pa[i], pb[i])
			}
		}
		for _, bad := range [][]byte{nil, {1}, state[:len(state)-1], append(state, 0)} {
			if err := b.(interface{ UnmarshalBinary([]byte) error }).UnmarshalBinary(bad); err == nil {
				t.Errorf("UnmarshalBinary(%d bytes) accepted corrupt state", len(bad))
			}
		}
	}
}

func TestOptimizerPanicsOnLengthMismatch(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic on mismatched lengths")
		}
	}()
	NewFedAdam(0.1).Step([]float64{1, 2}, []float64{1})
}
