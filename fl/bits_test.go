package fl_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/fltest"
)

// The aggregation and the server optimizers give the bits of references
// written with every product rounded explicitly (float64(a*b)), which no
// compiler may fuse into an FMA. Go allows fusing a*b+c (arm64 does, and
// amd64 with GOAMD64=v3, which .ci/run also tests under), and a fused
// result differs in the last bits: the same seed would then give other
// parameters on another machine.
func TestNoFusedMultiplyAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	const n, d = 7, 1001
	ups := fltest.RandomUpdates(rng, n, d)

	got := make([]float64, d)
	if err := (&fl.FedAvg{Workers: 1}).Aggregate(got, ups); err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, u := range ups {
		total += u.Weight
	}
	want := make([]float64, d)
	for j := range want {
		s := float64(ups[0].Weight/total) * ups[0].Delta[j]
		for _, u := range ups[1:] {
			s = s + float64(float64(u.Weight/total)*u.Delta[j])
		}
		want[j] = s
	}
	sameBits(t, "FedAvg", got, want)

	delta := want
	for _, tc := range []struct {
		name string
		opt  fl.ServerOptimizer
		ref  func(p, m, v []float64)
	}{
		{"SGD", fl.SGD{LR: 0.3}, func(p, _, _ []float64) {
			for i := range p {
				p[i] += float64(0.3 * delta[i])
			}
		}},
		{"FedAvgM", &fl.FedAvgM{LR: 0.7, Momentum: 0.9}, func(p, m, _ []float64) {
			for i := range p {
				m[i] = float64(0.9*m[i]) + delta[i]
				p[i] += float64(0.7 * m[i])
			}
		}},
		{"FedAdam", fl.NewFedAdam(0.01), func(p, m, v []float64) {
			b1, b2 := 0.9, 0.99 // variables: 1−b1 rounds as at run time
			for i := range p {
				m[i] = float64(b1*m[i]) + float64((1-b1)*delta[i])
				v[i] = float64(b2*v[i]) + float64((1-b2)*(delta[i]*delta[i]))
				p[i] += float64(0.01 * m[i] / (math.Sqrt(v[i]) + 1e-3))
			}
		}},
	} {
		p := make([]float64, d)
		ref := make([]float64, d)
		m, v := make([]float64, d), make([]float64, d)
		tau := 1e-3
		for i := range v {
			v[i] = tau * tau // FedAdam starts v at τ²
		}
		for range 3 {
			tc.opt.Step(p, delta)
			tc.ref(ref, m, v)
		}
		sameBits(t, tc.name, p, ref)
	}
}

func sameBits(t *testing.T, what string, got, want []float64) {
	t.Helper()
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("%s: coordinate %d = %b, want %b (a fused multiply-add?)", what, i, got[i], want[i])
		}
	}
}
