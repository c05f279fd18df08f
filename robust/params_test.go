package robust_test

import (
	"errors"
	"github.com/fedgo/fedgo/fl"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/robust"
)

// geoObjective is Σ αᵢ‖v − xᵢ‖ with αᵢ = wᵢ/Σw.
func geoObjective(v []float64, xs [][]float64, w []float64) float64 {
	var tw, g float64
	for _, x := range w {
		tw += x
	}
	for i, x := range xs {
		g += w[i] / tw * math.Sqrt(refSqDist(v, x))
	}
	return g
}

// TestGeoMedDefaultsReachOptimum: with the default tolerance the objective
// is within 10⁻⁹ (relative) of the one the reference reaches after 3000
// Weiszfeld steps (the old default, 10⁻⁶, left it 5.6·10⁻⁶ above).
func TestGeoMedDefaultsReachOptimum(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 14))
	for trial := range 5 {
		ups := randUpdates(rng, 12, 20, 3)
		xs := vecs(ups)
		w := make([]float64, len(ups))
		for i := range ups {
			w[i] = ups[i].Weight
		}
		dst := make([]float64, 20)
		if err := (&robust.GeoMed{}).Aggregate(dst, ups); err != nil {
			t.Fatal(err)
		}
		opt := geoObjective(refGeoMed(xs, w, robust.DefaultGeoMedNu, 3000), xs, w)
		if got := geoObjective(dst, xs, w); got-opt > 1e-9*opt {
			t.Fatalf("trial %d: objective %.15g, optimum %.15g (gap %.3g)", trial, got, opt, (got-opt)/opt)
		}
	}
}

// TestGeoMedStart: the first Weiszfeld step starts from Start.
func TestGeoMedStart(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 15))
	ups := randUpdates(rng, 7, 4, 1)
	xs := vecs(ups)
	start := []float64{5, -5, 5, -5}
	dst := make([]float64, 4)
	err := (&robust.GeoMed{Start: start, Tol: 1e-300, MaxIter: 1}).Aggregate(dst, ups)
	if !errors.Is(err, robust.ErrNotConverged) {
		t.Fatalf("err = %v, want ErrNotConverged after one step", err)
	}
	// One smoothed Weiszfeld step from start.
	var tw float64
	for _, u := range ups {
		tw += u.Weight
	}
	want := make([]float64, 4)
	var sb float64
	for i, x := range xs {
		b := ups[i].Weight / tw / math.Max(robust.DefaultGeoMedNu, math.Sqrt(refSqDist(start, x)))
		sb += b
		for j := range want {
			want[j] += b * x[j]
		}
	}
	for j := range want {
		want[j] /= sb
	}
	closeTo(t, "one step from Start", dst, want, 1e-12)
	if err := (&robust.GeoMed{Start: []float64{1}}).Aggregate(dst, ups); !errors.Is(err, fl.ErrLength) {
		t.Errorf("short Start: err = %v, want ErrLength", err)
	}
}

// TestCenteredClippingZeroIterations: ItersSet with Iters = 0 returns the
// center; Iters = 0 alone means the default, one iteration.
func TestCenteredClippingZeroIterations(t *testing.T) {
	ups := randUpdates(rand.New(rand.NewPCG(16, 16)), 6, 3, 0)
	center := []float64{1, 2, 3}
	dst := make([]float64, 3)
	if err := (&robust.CenteredClipping{Center: center, ItersSet: true}).Aggregate(dst, ups); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dst, center) {
		t.Fatalf("0 iterations: %v, want the center %v", dst, center)
	}
	if err := (&robust.CenteredClipping{Center: center, Tau: 2}).Aggregate(dst, ups); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "default iterations", dst, refCC(vecs(ups), center, 2, robust.DefaultCCIters), 1e-12)
}
