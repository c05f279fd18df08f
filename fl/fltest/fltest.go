package fltest

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/internal/detmath"
)

// Reduction says which mean an aggregator equals on any input.
type Reduction int

const (
	// NoMean: the aggregator is not a mean in general.
	NoMean Reduction = iota
	// UnweightedMean: the aggregator equals (1/n) Σ Δᵢ.
	UnweightedMean
	// WeightedMean: the aggregator equals Σ wᵢΔᵢ / Σ wᵢ with wᵢ =
	// Update.Weight.
	WeightedMean
)

// Options configures [TestAggregator]. The string fields that disable a
// check hold the reason, which the test log repeats.
type Options struct {
	// N is the number of updates per call; 0 means 9. It must satisfy
	// the aggregator's preconditions.
	N int
	// Dim is the dimension of the updates; 0 means 33.
	Dim int
	// Seed seeds the inputs.
	Seed uint64
	// Tol is the tolerance of comparisons that may differ by rounding:
	// |got − want| ≤ Tol·(1 + max |input|); 0 means 1e-12.
	Tol float64
	// Mean is the mean the aggregator equals on any input, if any.
	Mean Reduction
	// OrderDependent, if set, says why the result depends on the order of
	// the updates; permutation invariance is then not checked.
	OrderDependent string
	// Stateful, if set, says why the result depends on earlier calls; the
	// checks then compare only fresh aggregators.
	Stateful string
	// NotIdempotent, if set, says why n copies of x need not aggregate
	// to x.
	NotIdempotent string
	// AliasUnsafe, if set, says why dst must not alias an update's delta
	// (the aggregator's doc must say so too); aliasing is then not checked.
	AliasUnsafe string
	// FixedDim, if set, says why the aggregator works only in dimension
	// Dim; scratch reuse is then checked in that dimension only.
	FixedDim string
}

func (o *Options) defaults() {
	if o.N == 0 {
		o.N = 9
	}
	if o.Dim == 0 {
		o.Dim = 33
	}
	if o.Tol == 0 {
		o.Tol = 1e-12
	}
}

// TestAggregator runs the conformance suite on the aggregators newAgg
// returns, each fresh (as a server starting a run would get it).
func TestAggregator(t *testing.T, newAgg func() fl.Aggregator, opts Options) {
	t.Helper()
	opts.defaults()
	s := &suite{newAgg: newAgg, o: opts, rng: rand.New(rand.NewPCG(opts.Seed, 0xf1))}
	t.Run("RejectsNoUpdates", s.rejectsNoUpdates)
	t.Run("RejectsWrongLength", s.rejectsWrongLength)
	t.Run("RejectsNonFinite", s.rejectsNonFinite)
	t.Run("DoesNotModifyInputs", s.doesNotModifyInputs)
	t.Run("OverwritesDst", s.overwritesDst)
	t.Run("AliasedDst", func(t *testing.T) {
		if s.o.AliasUnsafe != "" {
			t.Log("not checked, dst must not alias an update:", s.o.AliasUnsafe)
			return
		}
		s.aliasedDst(t)
	})
	t.Run("Deterministic", s.deterministic)
	t.Run("PermutationInvariant", func(t *testing.T) {
		if s.o.OrderDependent != "" {
			t.Log("not checked, order dependent:", s.o.OrderDependent)
			return
		}
		s.permutationInvariant(t)
	})
	t.Run("IdenticalUpdates", func(t *testing.T) {
		if s.o.NotIdempotent != "" {
			t.Log("not checked, not idempotent:", s.o.NotIdempotent)
			return
		}
		s.identical(t)
	})
	t.Run("ReducesToMean", func(t *testing.T) {
		if s.o.Mean == NoMean {
			t.Log("not checked: the rule is not a mean in general")
			return
		}
		s.reducesToMean(t)
	})
	t.Run("ReusesScratch", func(t *testing.T) {
		if s.o.Stateful != "" {
			t.Log("not checked, stateful:", s.o.Stateful)
			return
		}
		s.reusesScratch(t)
	})
}

type suite struct {
	newAgg func() fl.Aggregator
	o      Options
	rng    *rand.Rand
}

// updates returns n random updates of dimension d.
func (s *suite) updates(n, d int) []fl.Update { return RandomUpdates(s.rng, n, d) }

// RandomUpdates returns n updates of dimension d drawn from rng: clients
// "c0", "c1", ..., deltas with standard normal coordinates, weights
// uniform in [0.5, 2), and a loss metric uniform in [0, 1).
func RandomUpdates(rng *rand.Rand, n, d int) []fl.Update {
	ups := make([]fl.Update, n)
	for i := range ups {
		v := make([]float64, d)
		for j := range v {
			v[j] = detmath.Normal(rng)
		}
		ups[i] = fl.Update{Client: fmt.Sprintf("c%d", i), Delta: v, Weight: 0.5 + float64(1.5*rng.Float64()),
			Metrics: fl.Metrics{fl.KeyLoss: rng.Float64()}}
	}
	return ups
}

func clone(ups []fl.Update) []fl.Update {
	out := make([]fl.Update, len(ups))
	for i, u := range ups {
		out[i] = fl.Update{Client: u.Client, Delta: slices.Clone(u.Delta), Weight: u.Weight, Metrics: maps.Clone(u.Metrics)}
	}
	return out
}

// aggregate runs a fresh aggregator, failing t on error.
func (s *suite) aggregate(t *testing.T, ups []fl.Update) []float64 {
	t.Helper()
	dst := make([]float64, len(ups[0].Delta))
	if err := s.newAgg().Aggregate(dst, ups); err != nil {
		t.Fatalf("Aggregate: %v", err)
	}
	return dst
}

func maxAbs(ups []fl.Update) float64 {
	var m float64
	for _, u := range ups {
		for _, v := range u.Delta {
			m = max(m, math.Abs(v))
		}
	}
	return m
}

// near fails t if got and want differ by more than the tolerance.
func (s *suite) near(t *testing.T, what string, got, want []float64, scale float64) {
	t.Helper()
	tol := s.o.Tol * (1 + scale)
	for j := range want {
		if !(math.Abs(got[j]-want[j]) <= tol) {
			t.Fatalf("%s: coordinate %d = %v, want %v (tolerance %g)", what, j, got[j], want[j], tol)
		}
	}
}

func same(t *testing.T, what string, got, want []float64) {
	t.Helper()
	for j := range want {
		if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
			t.Fatalf("%s: coordinate %d = %v, want the same bits as %v", what, j, got[j], want[j])
		}
	}
}

func (s *suite) rejectsNoUpdates(t *testing.T) {
	dst := make([]float64, s.o.Dim)
	if err := s.newAgg().Aggregate(dst, nil); err == nil {
		t.Error("Aggregate(dst, nil) = nil error")
	}
	if err := s.newAgg().Aggregate(dst, []fl.Update{}); err == nil {
		t.Error("Aggregate(dst, []fl.Update{}) = nil error")
	}
}

func (s *suite) rejectsWrongLength(t *testing.T) {
	n, d := s.o.N, s.o.Dim
	for _, tc := range []struct {
		name   string
		who    int // update whose length changes, -1 for dst
		length int
	}{
		{"first short", 0, d - 1},
		{"last long", n - 1, d + 1},
		{"middle empty", n / 2, 0},
		{"dst short", -1, d - 1},
		{"dst long", -1, d + 1},
	} {
		ups := s.updates(n, d)
		dst := make([]float64, d)
		if tc.who >= 0 {
			ups[tc.who].Delta = ups[tc.who].Delta[:0]
			for len(ups[tc.who].Delta) < tc.length {
				ups[tc.who].Delta = append(ups[tc.who].Delta, detmath.Normal(s.rng))
			}
		} else {
			dst = make([]float64, tc.length)
		}
		if err := s.newAgg().Aggregate(dst, ups); err == nil {
			t.Errorf("%s: Aggregate = nil error", tc.name)
		}
	}
}

func (s *suite) rejectsNonFinite(t *testing.T) {
	n, d := s.o.N, s.o.Dim
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		for _, who := range []int{0, n / 2, n - 1} {
			for _, j := range []int{0, d / 2, d - 1} {
				ups := s.updates(n, d)
				ups[who].Delta[j] = bad
				if err := s.newAgg().Aggregate(make([]float64, d), ups); err == nil {
					t.Errorf("update %d coordinate %d = %v: Aggregate = nil error", who, j, bad)
				}
			}
		}
	}
}

func (s *suite) doesNotModifyInputs(t *testing.T) {
	ups := s.updates(s.o.N, s.o.Dim)
	orig := clone(ups)
	s.aggregate(t, ups)
	for i := range ups {
		if ups[i].Client != orig[i].Client || math.Float64bits(ups[i].Weight) != math.Float64bits(orig[i].Weight) ||
			!maps.Equal(ups[i].Metrics, orig[i].Metrics) {
			t.Fatalf("update %d: fields changed", i)
		}
		same(t, fmt.Sprintf("update %d delta", i), ups[i].Delta, orig[i].Delta)
	}
}

func (s *suite) overwritesDst(t *testing.T) {
	ups := s.updates(s.o.N, s.o.Dim)
	want := s.aggregate(t, ups)
	for _, fill := range []float64{math.NaN(), 1e300, -7} {
		dst := make([]float64, s.o.Dim)
		for j := range dst {
			dst[j] = fill
		}
		if err := s.newAgg().Aggregate(dst, ups); err != nil {
			t.Fatalf("Aggregate: %v", err)
		}
		same(t, fmt.Sprintf("dst filled with %v", fill), dst, want)
	}
}

// aliasedDst: with dst the delta of one of the updates, Aggregate either
// refuses or writes what it writes to a separate dst, never something
// else.
func (s *suite) aliasedDst(t *testing.T) {
	ups := s.updates(s.o.N, s.o.Dim)
	want := s.aggregate(t, clone(ups))
	for _, k := range []int{0, len(ups) - 1} {
		in := clone(ups)
		dst := in[k].Delta
		if err := s.newAgg().Aggregate(dst, in); err != nil {
			continue // refusing is allowed
		}
		s.near(t, fmt.Sprintf("dst aliasing update %d", k), dst, want, maxAbs(ups))
	}
}

func (s *suite) deterministic(t *testing.T) {
	ups := s.updates(s.o.N, s.o.Dim)
	a := s.aggregate(t, ups)
	b := s.aggregate(t, ups)
	same(t, "second fresh aggregator", b, a)
	if s.o.Stateful != "" {
		return
	}
	agg := s.newAgg()
	for k := range 3 {
		dst := make([]float64, s.o.Dim)
		if err := agg.Aggregate(dst, ups); err != nil {
			t.Fatal(err)
		}
		same(t, fmt.Sprintf("call %d on one aggregator", k+1), dst, a)
	}
}

func (s *suite) permutationInvariant(t *testing.T) {
	ups := s.updates(s.o.N, s.o.Dim)
	want := s.aggregate(t, ups)
	scale := maxAbs(ups)
	for k := range 4 {
		p := clone(ups)
		s.rng.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
		if k == 0 {
			slices.Reverse(p)
		}
		s.near(t, fmt.Sprintf("permutation %d", k), s.aggregate(t, p), want, scale)
	}
}

func (s *suite) identical(t *testing.T) {
	for _, scale := range []float64{1, 1e-3} {
		x := s.updates(1, s.o.Dim)[0].Delta
		for j := range x {
			x[j] *= scale
		}
		ups := s.updates(s.o.N, s.o.Dim)
		for i := range ups {
			copy(ups[i].Delta, x)
		}
		s.near(t, fmt.Sprintf("n copies of x (scale %g)", scale), s.aggregate(t, ups), x, maxAbs(ups))
	}
}

func (s *suite) reducesToMean(t *testing.T) {
	ups := s.updates(s.o.N, s.o.Dim)
	want := make([]float64, s.o.Dim)
	var total float64
	for _, u := range ups {
		w := 1.0
		if s.o.Mean == WeightedMean {
			w = u.Weight
		}
		total += w
		for j, v := range u.Delta {
			want[j] += w * v
		}
	}
	for j := range want {
		want[j] /= total
	}
	s.near(t, "mean", s.aggregate(t, ups), want, maxAbs(ups))
}

func (s *suite) reusesScratch(t *testing.T) {
	agg := s.newAgg()
	dims := []int{s.o.Dim, 2*s.o.Dim + 3, 1, s.o.Dim}
	if s.o.FixedDim != "" {
		t.Log("one dimension only:", s.o.FixedDim)
		dims = []int{s.o.Dim, s.o.Dim}
	}
	for _, d := range dims {
		ups := s.updates(s.o.N, d)
		want := s.aggregate(t, ups)
		dst := make([]float64, d)
		if err := agg.Aggregate(dst, ups); err != nil {
			t.Fatalf("dimension %d: %v", d, err)
		}
		same(t, fmt.Sprintf("reused aggregator, dimension %d", d), dst, want)
	}
}
