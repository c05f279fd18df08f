package robust_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/fltest"
	"github.com/fedgo/fedgo/robust"
)

// randUpdates returns n updates of dimension d: standard normal around a
// common random centre, the last bad of them shifted far away, and weights
// in [0.5, 2).
func randUpdates(rng *rand.Rand, n, d, bad int) []fl.Update {
	centre := make([]float64, d)
	for j := range centre {
		centre[j] = 3 * rng.NormFloat64()
	}
	ups := make([]fl.Update, n)
	for i := range ups {
		v := make([]float64, d)
		for j := range v {
			v[j] = centre[j] + rng.NormFloat64()
			if i >= n-bad {
				v[j] += 20 + 5*rng.NormFloat64()
			}
		}
		ups[i] = fl.Update{Client: fmt.Sprintf("c%d", i), Delta: v, Weight: 0.5 + 1.5*rng.Float64()}
	}
	return ups
}

func closeTo(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", what, len(got), len(want))
	}
	for j := range want {
		if !(math.Abs(got[j]-want[j]) <= tol*(1+math.Abs(want[j]))) {
			t.Fatalf("%s: coordinate %d = %.17g, want %.17g", what, j, got[j], want[j])
		}
	}
}

func fixedRoot(d int, seed uint64) func() ([]float64, error) {
	rng := rand.New(rand.NewPCG(seed, 7))
	g0 := make([]float64, d)
	for j := range g0 {
		g0[j] = rng.NormFloat64() + 0.5
	}
	return func() ([]float64, error) { return g0, nil }
}

// TestConformance runs the fl/fltest suite on every rule.
func TestConformance(t *testing.T) {
	const stateful = "CenteredClipping centres on the previous round's aggregate"
	for _, tc := range []struct {
		name string
		agg  func() fl.Aggregator
		opts fltest.Options
	}{
		{"mean", func() fl.Aggregator { return &robust.Mean{} }, fltest.Options{Mean: fltest.UnweightedMean}},
		{"median odd", func() fl.Aggregator { return &robust.Median{} }, fltest.Options{N: 9}},
		{"median even", func() fl.Aggregator { return &robust.Median{} }, fltest.Options{N: 10}},
		{"trimmedmean f=0", func() fl.Aggregator { return &robust.TrimmedMean{} }, fltest.Options{Mean: fltest.UnweightedMean}},
		{"trimmedmean f=2", func() fl.Aggregator { return &robust.TrimmedMean{F: 2} }, fltest.Options{}},
		{"krum", func() fl.Aggregator { return &robust.Krum{F: 2} }, fltest.Options{}},
		{"multikrum", func() fl.Aggregator { return &robust.MultiKrum{F: 2} }, fltest.Options{}},
		{"multikrum m=n", func() fl.Aggregator { return &robust.MultiKrum{F: 2, M: 9} }, fltest.Options{N: 9, Mean: fltest.UnweightedMean}},
		{"geomed", func() fl.Aggregator { return &robust.GeoMed{} }, fltest.Options{Tol: 1e-9}},
		{"bulyan", func() fl.Aggregator { return &robust.Bulyan{F: 3} }, fltest.Options{N: 15}},
		{"bulyan f=2", func() fl.Aggregator { return &robust.Bulyan{F: 2} }, fltest.Options{N: 11,
			OrderDependent: "the last Krum step scores by the single nearest neighbour, so mutual nearest neighbours tie and the lower index wins"}},
		{"cc", func() fl.Aggregator { return &robust.CenteredClipping{Tau: 1, Iters: 3} },
			fltest.Options{Stateful: stateful, NotIdempotent: "clipping at τ = 1 moves the centre at most 3τ from zero"}},
		{"cc large tau", func() fl.Aggregator { return &robust.CenteredClipping{Tau: 1e6} },
			fltest.Options{Stateful: stateful, Mean: fltest.UnweightedMean}},
		{"normbound median", func() fl.Aggregator { return &robust.NormBound{} }, fltest.Options{}},
		{"normbound huge M", func() fl.Aggregator { return &robust.NormBound{M: 1e9} }, fltest.Options{Mean: fltest.UnweightedMean}},
		{"fltrust", func() fl.Aggregator { return &robust.FLTrust{Root: fixedRoot(33, 1)} },
			fltest.Options{NotIdempotent: "updates are rescaled to the norm of the root update",
				FixedDim: "the test's root update has dimension 33"}},
		{"mda", func() fl.Aggregator { return &robust.MDA{F: 2} }, fltest.Options{}},
		{"meamed", func() fl.Aggregator { return &robust.Meamed{F: 2} }, fltest.Options{}},
		{"meamed f=0", func() fl.Aggregator { return &robust.Meamed{} }, fltest.Options{Mean: fltest.UnweightedMean}},
		{"monna", func() fl.Aggregator { return &robust.MoNNA{F: 2} }, fltest.Options{OrderDependent: "the pivot is the update at index 0"}},
		{"smea", func() fl.Aggregator { return &robust.SMEA{F: 2} }, fltest.Options{Tol: 1e-9}},
		{"caf", func() fl.Aggregator { return &robust.CAF{F: 2} }, fltest.Options{Tol: 1e-9}},
		{"arc+mean", func() fl.Aggregator { return &robust.Pre{Step: &robust.ARC{F: 2}, Rule: &robust.Mean{}} }, fltest.Options{
			NotIdempotent: "the largest updates are clipped to a smaller norm"}},
		{"clip+nnm+median", func() fl.Aggregator {
			return &robust.Pre{Step: robust.Chain{&robust.Clip{Norm: 1e9}, &robust.NNM{F: 2}}, Rule: &robust.Median{}}
		}, fltest.Options{}},
		{"nnm+trimmedmean", func() fl.Aggregator {
			return &robust.Pre{Step: &robust.NNM{F: 2}, Rule: &robust.TrimmedMean{F: 2}}
		}, fltest.Options{}},
		{"nnm f=0", func() fl.Aggregator { return &robust.Pre{Step: &robust.NNM{}, Rule: &robust.Mean{}} },
			fltest.Options{Mean: fltest.UnweightedMean}},
		{"bucketing+krum", func() fl.Aggregator {
			return &robust.Pre{Step: &robust.Bucketing{Seed: 3}, Rule: &robust.Krum{F: 1}}
		}, fltest.Options{N: 10, OrderDependent: "buckets follow a seeded permutation of the input order",
			Stateful: "every round draws a new permutation"}},
		{"bucketing+mean", func() fl.Aggregator {
			return &robust.Pre{Step: &robust.Bucketing{S: 3, Seed: 3}, Rule: &robust.Mean{}}
		}, fltest.Options{N: 9, Mean: fltest.UnweightedMean, OrderDependent: "summation order follows the permutation",
			Stateful: "every round draws a new permutation"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Seed = 42
			fltest.TestAggregator(t, tc.agg, tc.opts)
		})
	}
}

// TestAgainstReference compares every rule with its naive reference on
// random inputs with outliers, at sizes that exercise the parallel paths.
func TestAgainstReference(t *testing.T) {
	type ref func(xs [][]float64, ups []fl.Update) []float64
	type tcase struct {
		name string
		agg  fl.Aggregator
		f    int
		ref  ref
	}
	cases := []tcase{
		{"mean", &robust.Mean{}, 0, func(xs [][]float64, _ []fl.Update) []float64 { return refMean(xs) }},
		{"median", &robust.Median{}, 0, func(xs [][]float64, _ []fl.Update) []float64 { return refMedian(xs) }},
		{"trimmedmean", &robust.TrimmedMean{F: 3}, 3, func(xs [][]float64, _ []fl.Update) []float64 { return refTrimmedMean(xs, 3) }},
		{"krum", &robust.Krum{F: 3}, 3, func(xs [][]float64, _ []fl.Update) []float64 { return refKrum(xs, 3) }},
		{"multikrum", &robust.MultiKrum{F: 3}, 3, func(xs [][]float64, _ []fl.Update) []float64 { return refMultiKrum(xs, 3, len(xs)-3) }},
		{"multikrum m=4", &robust.MultiKrum{F: 2, M: 4}, 2, func(xs [][]float64, _ []fl.Update) []float64 { return refMultiKrum(xs, 2, 4) }},
		{"bulyan", &robust.Bulyan{F: 3}, 3, func(xs [][]float64, _ []fl.Update) []float64 { return refBulyan(xs, 3) }},
		{"bulyan f=0", &robust.Bulyan{}, 0, func(xs [][]float64, _ []fl.Update) []float64 { return refBulyan(xs, 0) }},
		{"geomed", &robust.GeoMed{Tol: 1e-14, MaxIter: 10000}, 3, func(xs [][]float64, ups []fl.Update) []float64 {
			w := make([]float64, len(ups))
			for i := range ups {
				w[i] = ups[i].Weight
			}
			return refGeoMed(xs, w, robust.DefaultGeoMedNu, 3000)
		}},
		{"cc", &robust.CenteredClipping{Tau: 2, Iters: 4}, 3, func(xs [][]float64, _ []fl.Update) []float64 {
			return refCC(xs, make([]float64, len(xs[0])), 2, 4)
		}},
		{"normbound", &robust.NormBound{M: 30}, 3, func(xs [][]float64, _ []fl.Update) []float64 { return refNormBound(xs, 30) }},
		{"mda", &robust.MDA{F: 3}, 3, func(xs [][]float64, _ []fl.Update) []float64 { return refMDA(xs, 3) }},
		{"nnm+krum", &robust.Pre{Step: &robust.NNM{F: 3}, Rule: &robust.Krum{F: 3}}, 3, func(xs [][]float64, _ []fl.Update) []float64 {
			return refKrum(refNNM(xs, 3), 3)
		}},
		{"nnm+median", &robust.Pre{Step: &robust.NNM{F: 2}, Rule: &robust.Median{}}, 2, func(xs [][]float64, _ []fl.Update) []float64 {
			return refMedian(refNNM(xs, 2))
		}},
	}
	// The largest size spreads the coordinate-wise and Gram kernels over
	// several goroutines and slices; the references of GeoMed (thousands of
	// iterations) and MDA (every subset) are too slow for it.
	sizes := []struct{ n, d int }{{15, 7}, {16, 300}, {15, 5000}}
	for _, tc := range cases {
		for _, sz := range sizes {
			if sz.d > 1000 && (tc.name == "geomed" || tc.name == "mda") {
				continue
			}
			t.Run(fmt.Sprintf("%s/n=%d,d=%d", tc.name, sz.n, sz.d), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(sz.n), uint64(sz.d)))
				tol := 1e-9
				if tc.name == "geomed" {
					tol = 1e-6 // both iterations stop short of the exact optimum
				}
				for trial := range 2 {
					ups := randUpdates(rng, sz.n, sz.d, tc.f)
					dst := make([]float64, sz.d)
					if cc, ok := tc.agg.(*robust.CenteredClipping); ok {
						cc.Reset() // the reference starts from zero
					}
					if err := tc.agg.Aggregate(dst, ups); err != nil {
						t.Fatal(err)
					}
					closeTo(t, fmt.Sprintf("trial %d", trial), dst, tc.ref(vecs(ups), ups), tol)
				}
			})
		}
	}
}

func TestFLTrustAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, d := range []int{5, 3000} {
		ups := randUpdates(rng, 12, d, 3)
		for i := range ups[9:] {
			for j := range ups[9+i].Delta {
				ups[9+i].Delta[j] *= -1 // the bad ones point away from the root
			}
		}
		g0 := refMean(vecs(ups[:6]))
		for j := range g0 {
			g0[j] += rng.NormFloat64()
		}
		a := &robust.FLTrust{Root: func() ([]float64, error) { return g0, nil }}
		dst := make([]float64, d)
		if err := a.Aggregate(dst, ups); err != nil {
			t.Fatal(err)
		}
		closeTo(t, "fltrust", dst, refFLTrust(vecs(ups), g0), 1e-10)
	}
}

func TestBucketingAgainstReference(t *testing.T) {
	const seed = 11
	rng := rand.New(rand.NewPCG(1, 1))
	b := &robust.Pre{Step: &robust.Bucketing{S: 2, Seed: seed}, Rule: &robust.Krum{F: 2}}
	for round := range 3 {
		ups := randUpdates(rng, 15, 40, 2)
		dst := make([]float64, 40)
		if err := b.Aggregate(dst, ups); err != nil {
			t.Fatal(err)
		}
		// Round k's permutation comes from PCG(seed, k).
		refRNG := rand.New(rand.NewPCG(seed, uint64(round)))
		want := refKrum(refBucketing(vecs(ups), 2, refRNG), 2)
		closeTo(t, fmt.Sprintf("round %d", round), dst, want, 1e-12)
	}
}

func TestCenteredClippingRemembersCenter(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	a := &robust.CenteredClipping{Tau: 0.5, Iters: 2}
	center := make([]float64, 6)
	for round := range 3 {
		ups := randUpdates(rng, 7, 6, 1)
		dst := make([]float64, 6)
		if err := a.Aggregate(dst, ups); err != nil {
			t.Fatal(err)
		}
		want := refCC(vecs(ups), center, 0.5, 2)
		closeTo(t, fmt.Sprintf("round %d", round), dst, want, 1e-12)
		center = want
	}
	a.Reset()
	ups := randUpdates(rng, 7, 6, 1)
	dst := make([]float64, 6)
	if err := a.Aggregate(dst, ups); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "after Reset", dst, refCC(vecs(ups), make([]float64, 6), 0.5, 2), 1e-12)
	// A given centre is used every round.
	given := []float64{1, 2, 3, 4, 5, 6}
	a.Center = given
	if err := a.Aggregate(dst, ups); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "given centre", dst, refCC(vecs(ups), given, 0.5, 2), 1e-12)
	a.Center = []float64{1}
	if err := a.Aggregate(dst, ups); !errors.Is(err, fl.ErrLength) {
		t.Errorf("short Center: err = %v, want ErrLength", err)
	}
}

// TestGeoMedFermatPoint checks a known answer: the geometric median of the
// triangle (−1, 0), (1, 0), (0, 3) is its Fermat point (0, 1/√3), where
// the sides subtend 120°.
func TestGeoMedFermatPoint(t *testing.T) {
	ups := []fl.Update{
		{Delta: []float64{-1, 0}, Weight: 1},
		{Delta: []float64{1, 0}, Weight: 1},
		{Delta: []float64{0, 3}, Weight: 1},
	}
	dst := make([]float64, 2)
	if err := (&robust.GeoMed{Tol: 1e-15, MaxIter: 10000}).Aggregate(dst, ups); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "Fermat point", dst, []float64{0, 1 / math.Sqrt(3)}, 1e-6)
}

func TestGeoMedNotConverged(t *testing.T) {
	ups := randUpdates(rand.New(rand.NewPCG(3, 3)), 9, 4, 2)
	dst := make([]float64, 4)
	err := (&robust.GeoMed{Tol: 1e-300, MaxIter: 2}).Aggregate(dst, ups)
	if !errors.Is(err, robust.ErrNotConverged) {
		t.Fatalf("err = %v, want ErrNotConverged", err)
	}
	// dst holds the second iterate.
	w := make([]float64, 9)
	for i := range ups {
		w[i] = ups[i].Weight
	}
	closeTo(t, "last iterate", dst, refGeoMed(vecs(ups), w, robust.DefaultGeoMedNu, 2), 1e-12)
	ups[3].Weight = 0
	if err := (&robust.GeoMed{}).Aggregate(dst, ups); !errors.Is(err, fl.ErrBadWeight) {
		t.Errorf("zero weight: err = %v, want ErrBadWeight", err)
	}
}

func TestFLTrustRoot(t *testing.T) {
	ups := randUpdates(rand.New(rand.NewPCG(4, 4)), 5, 3, 0)
	dst := make([]float64, 3)
	for _, tc := range []struct {
		name string
		root func() ([]float64, error)
	}{
		{"nil", nil},
		{"error", func() ([]float64, error) { return nil, errors.New("no root data") }},
		{"short", func() ([]float64, error) { return []float64{1, 2}, nil }},
		{"zero", func() ([]float64, error) { return []float64{0, 0, 0}, nil }},
		{"nan", func() ([]float64, error) { return []float64{0, math.NaN(), 1}, nil }},
	} {
		if err := (&robust.FLTrust{Root: tc.root}).Aggregate(dst, ups); !errors.Is(err, robust.ErrNoRoot) {
			t.Errorf("%s: err = %v, want ErrNoRoot", tc.name, err)
		}
	}
	// Every update points away from the root: no trust, zero update.
	for i := range ups {
		ups[i].Delta = []float64{-1 - float64(i), -1, 0}
	}
	dst = []float64{5, 5, 5}
	err := (&robust.FLTrust{Root: func() ([]float64, error) { return []float64{1, 1, 1}, nil }}).Aggregate(dst, ups)
	if err != nil || dst[0] != 0 || dst[1] != 0 || dst[2] != 0 {
		t.Errorf("no trust: dst = %v, err = %v, want zeros", dst, err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		rule robust.Validator
		n    int
		ok   bool
	}{
		{&robust.Krum{F: 2}, 6, false},
		{&robust.Krum{F: 2}, 7, true},
		{&robust.MultiKrum{F: 1}, 4, false},
		{&robust.MultiKrum{F: 1}, 5, true},
		{&robust.MultiKrum{F: 1, M: 6}, 5, false},
		{&robust.MultiKrum{F: 1, M: -1}, 5, false},
		{&robust.Bulyan{F: 2}, 10, false},
		{&robust.Bulyan{F: 2}, 11, true},
		{&robust.TrimmedMean{F: 3}, 6, false},
		{&robust.TrimmedMean{F: 3}, 7, true},
		{&robust.TrimmedMean{F: -1}, 7, false},
		{&robust.MDA{F: 2}, 4, false},
		{&robust.MDA{F: 2}, 5, true},
		{&robust.MDA{F: 10}, 100, false}, // C(100, 10) ≈ 1.7e13 subsets
		{&robust.MDA{F: 3}, 100, true},
		{&robust.MDA{F: 3, MaxSubsets: 100}, 100, false},
		{&robust.Median{}, 0, false},
		{&robust.Median{}, 1, true},
		{&robust.GeoMed{Nu: -1}, 3, false},
		{&robust.CenteredClipping{Tau: math.Inf(1)}, 3, false},
		{&robust.NormBound{M: -1}, 3, false},
		{&robust.Pre{Step: &robust.NNM{F: 2}, Rule: &robust.Krum{F: 2}}, 6, false},
		{&robust.Pre{Step: &robust.NNM{F: 2}, Rule: &robust.Krum{F: 2}}, 7, true},
		{&robust.Pre{Step: &robust.Bucketing{}, Rule: &robust.Krum{F: 2}}, 12, false}, // 6 buckets
		{&robust.Pre{Step: &robust.Bucketing{}, Rule: &robust.Krum{F: 2}}, 13, true},  // 7 buckets
		{&robust.Pre{}, 5, false},
	} {
		err := tc.rule.Validate(tc.n)
		if (err == nil) != tc.ok {
			t.Errorf("%T%+v.Validate(%d) = %v, want ok = %v", tc.rule, tc.rule, tc.n, err, tc.ok)
		}
		// Aggregate returns the same error.
		if agg, isAgg := tc.rule.(fl.Aggregator); isAgg && !tc.ok && tc.n > 0 {
			ups := randUpdates(rand.New(rand.NewPCG(1, 1)), tc.n, 3, 0)
			if got := agg.Aggregate(make([]float64, 3), ups); got == nil || got.Error() != err.Error() {
				t.Errorf("%T%+v.Aggregate with n = %d: %v, want %v", tc.rule, tc.rule, tc.n, got, err)
			}
		}
	}
	err := (&robust.Krum{F: 2}).Validate(6)
	if !errors.Is(err, robust.ErrTooFewUpdates) {
		t.Errorf("Krum error %v does not wrap ErrTooFewUpdates", err)
	}
}

func TestErrorsNameTheUpdate(t *testing.T) {
	ups := randUpdates(rand.New(rand.NewPCG(1, 1)), 7, 5, 0)
	ups[4].Delta[2] = math.Inf(-1)
	for _, name := range robust.Names {
		agg, err := robust.New(name, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		if ft, ok := agg.(*robust.FLTrust); ok {
			ft.Root = fixedRoot(5, 1)
		}
		err = agg.Aggregate(make([]float64, 5), ups)
		if !errors.Is(err, fl.ErrNotFinite) || !contains(err.Error(), `"c4"`) {
			t.Errorf("%s: err = %v, want ErrNotFinite naming c4", name, err)
		}
	}
	ups[4].Delta[2] = 0
	ups[5].Delta = ups[5].Delta[:4]
	if err := (&robust.Krum{F: 1}).Aggregate(make([]float64, 5), ups); !errors.Is(err, fl.ErrLength) || !contains(err.Error(), `"c5"`) {
		t.Errorf("length: err = %v", err)
	}
	if err := (&robust.Krum{F: 1}).Aggregate(make([]float64, 5), nil); !errors.Is(err, fl.ErrNoUpdates) {
		t.Errorf("no updates: err = %v", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string
	}{
		{"mean", "*robust.Mean"},
		{"median", "*robust.Median"},
		{"trimmedmean", "*robust.TrimmedMean"},
		{"krum", "*robust.Krum"},
		{"multikrum", "*robust.MultiKrum"},
		{"geomed", "*robust.GeoMed"},
		{"bulyan", "*robust.Bulyan"},
		{"cc", "*robust.CenteredClipping"},
		{"normbound", "*robust.NormBound"},
		{"fltrust", "*robust.FLTrust"},
		{"mda", "*robust.MDA"},
		{"meamed", "*robust.Meamed"},
		{"monna", "*robust.MoNNA"},
		{"smea", "*robust.SMEA"},
		{"caf", "*robust.CAF"},
		{"nnm+krum", "*robust.Pre"},
		{"arc+krum", "*robust.Pre"},
		{"bucketing+nnm+median", "*robust.Pre"},
	} {
		agg, err := robust.New(tc.name, 1, 7)
		if err != nil {
			t.Fatalf("New(%q): %v", tc.name, err)
		}
		if got := fmt.Sprintf("%T", agg); got != tc.want {
			t.Errorf("New(%q) is %s, want %s", tc.name, got, tc.want)
		}
	}
	p, _ := robust.New("bucketing+nnm+krum", 2, 7)
	pre := p.(*robust.Pre)
	if b, ok := pre.Step.(*robust.Bucketing); !ok || b.S != 2 || b.Seed != 7 {
		t.Errorf("bucketing step = %+v", pre.Step)
	}
	inner := pre.Rule.(*robust.Pre)
	if nnm, ok := inner.Step.(*robust.NNM); !ok || nnm.F != 2 {
		t.Errorf("nnm step = %+v", inner.Step)
	}
	if k, ok := inner.Rule.(*robust.Krum); !ok || k.F != 2 {
		t.Errorf("rule = %+v", inner.Rule)
	}
	for _, bad := range []string{"", "fedavg", "nnm+", "krum+nnm", "KRUM"} {
		if _, err := robust.New(bad, 1, 1); !errors.Is(err, robust.ErrUnknownRule) {
			t.Errorf("New(%q): err = %v, want ErrUnknownRule", bad, err)
		}
	}
	if _, err := robust.New("krum", -1, 1); !errors.Is(err, robust.ErrParam) {
		t.Errorf("negative f: err = %v", err)
	}
}

func TestMDATooManySubsets(t *testing.T) {
	ups := randUpdates(rand.New(rand.NewPCG(1, 1)), 30, 2, 0)
	err := (&robust.MDA{F: 10}).Aggregate(make([]float64, 2), ups)
	if !errors.Is(err, robust.ErrTooManySubsets) {
		t.Errorf("err = %v, want ErrTooManySubsets", err)
	}
}

// TestKrumRejectsOutliers checks the point of the rules: f far-away updates
// do not move the robust aggregates far from the honest mean.
func TestRulesResistOutliers(t *testing.T) {
	const n, f, d = 15, 3, 20
	ups := randUpdates(rand.New(rand.NewPCG(8, 8)), n, d, f)
	honest := refMean(vecs(ups[:n-f]))
	for _, name := range []string{"median", "trimmedmean", "krum", "multikrum", "geomed", "bulyan", "mda", "nnm+krum", "bucketing+median"} {
		agg, err := robust.New(name, f, 1)
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]float64, d)
		if err := agg.Aggregate(dst, ups); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Honest updates lie about √d ≈ 4.5 from their mean; the bad ones
		// about 20√d ≈ 90.
		if dist := math.Sqrt(refSqDist(dst, honest)); dist > 6 {
			t.Errorf("%s: distance to the honest mean %.3g", name, dist)
		}
	}
	mean := make([]float64, d)
	_ = (&robust.Mean{}).Aggregate(mean, ups)
	if dist := math.Sqrt(refSqDist(mean, honest)); dist < 10 {
		t.Errorf("the mean itself is only %.3g from the honest mean: the test has no outliers", dist)
	}
}

func TestAllocations(t *testing.T) {
	ups := randUpdates(rand.New(rand.NewPCG(1, 1)), 11, 200, 2)
	dst := make([]float64, 200)
	for _, tc := range []struct {
		name string
		agg  fl.Aggregator
	}{
		{"median", &robust.Median{}},
		{"trimmedmean", &robust.TrimmedMean{F: 2}},
		{"krum", &robust.Krum{F: 2}},
		{"bulyan", &robust.Bulyan{F: 2}},
		{"meamed", &robust.Meamed{F: 2}},
		{"monna", &robust.MoNNA{F: 2}},
		{"smea", &robust.SMEA{F: 2}},
		{"caf", &robust.CAF{F: 2}},
		{"arc+clip+median", &robust.Pre{Step: robust.Chain{&robust.ARC{F: 2}, &robust.Clip{Norm: 5}}, Rule: &robust.Median{}}},
		{"multikrum", &robust.MultiKrum{F: 2}},
		{"mda", &robust.MDA{F: 2}},
		{"nnm+median", &robust.Pre{Step: &robust.NNM{F: 2}, Rule: &robust.Median{}}},
	} {
		if err := tc.agg.Aggregate(dst, ups); err != nil {
			t.Fatal(err)
		}
		if a := testing.AllocsPerRun(10, func() { _ = tc.agg.Aggregate(dst, ups) }); a != 0 {
			t.Errorf("%s: %v allocations per call, want 0", tc.name, a)
		}
	}
}
