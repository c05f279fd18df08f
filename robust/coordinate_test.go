package robust_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/robust"
)

// TestAllocationsParallel checks that the coordinate-wise rules do not
// allocate once warm when they split the coordinates among goroutines
// (testing.AllocsPerRun cannot tell: it sets GOMAXPROCS to 1).
func TestAllocationsParallel(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	const d, runs = 5000, 200 // several blocks of coordinates
	ups := randUpdates(rand.New(rand.NewPCG(1, 2)), 11, d, 2)
	dst := make([]float64, d)
	for _, agg := range []fl.Aggregator{&robust.Median{}, &robust.TrimmedMean{F: 2}} {
		for range 3 { // warm the scratch buffers and the runtime's goroutine cache
			if err := agg.Aggregate(dst, ups); err != nil {
				t.Fatal(err)
			}
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			_ = agg.Aggregate(dst, ups)
		}
		runtime.ReadMemStats(&after)
		// The runtime itself allocates goroutine descriptors now and then
		// (a few dozen in all, until its free lists fill); the rule must
		// not add its own: the closures and WaitGroup of a plain fork-join
		// cost two a call.
		n := after.Mallocs - before.Mallocs
		t.Logf("%T: %d allocations in %d calls", agg, n, runs)
		if n >= runs {
			t.Errorf("%T: %d allocations in %d calls, want fewer than one a call", agg, n, runs)
		}
	}
}

// TestCoordinateWorkers checks the coordinate-wise rules on several blocks
// of coordinates (the last one partial), with and without ties (small
// integers, and zeros of both signs): the results equal the sorting
// references and have the same bits for every GOMAXPROCS. (That the
// AVX2 and portable paths give the same bits is tested in
// robust/internal/orderstat.)
func TestCoordinateWorkers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	const d = 3*512 + 77
	rules := []struct {
		name string
		agg  func() fl.Aggregator
		ref  func(xs [][]float64) []float64
	}{
		{"median", func() fl.Aggregator { return &robust.Median{} }, refMedian},
		{"trimmedmean", func() fl.Aggregator { return &robust.TrimmedMean{F: 4} },
			func(xs [][]float64) []float64 { return refTrimmedMean(xs, 4) }},
		{"bulyan", func() fl.Aggregator { return &robust.Bulyan{F: 2} }, nil},
	}
	for _, n := range []int{11, 20, 101} {
		for _, ties := range []bool{false, true} {
			rng := rand.New(rand.NewPCG(uint64(n), 7))
			ups := make([]fl.Update, n)
			for i := range ups {
				v := make([]float64, d)
				for j := range v {
					if ties {
						v[j] = float64(rng.IntN(5) - 2)
						if v[j] == 0 && rng.IntN(2) == 0 {
							v[j] = math.Copysign(0, -1)
						}
					} else {
						v[j] = rng.NormFloat64() * math.Exp(4*rng.NormFloat64())
					}
				}
				ups[i] = fl.Update{Client: fmt.Sprint(i), Delta: v, Weight: 1}
			}
			for _, r := range rules {
				var want []float64
				for _, procs := range []int{1, 2, 3} {
					runtime.GOMAXPROCS(procs)
					got := make([]float64, d)
					if err := r.agg().Aggregate(got, ups); err != nil {
						t.Fatal(err)
					}
					if want == nil {
						want = got
						if r.ref != nil {
							closeTo(t, fmt.Sprintf("%s n=%d ties=%v", r.name, n, ties), got, r.ref(vecs(ups)), 1e-12)
						}
						continue
					}
					for j := range got {
						if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
							t.Fatalf("%s n=%d ties=%v GOMAXPROCS=%d: coordinate %d = %v, with 1: %v", r.name, n, ties, procs, j, got[j], want[j])
						}
					}
				}
			}
		}
	}
}

// A NaN or ±Inf anywhere is found: in the columns the sorting networks
// take (whole fours, where the processor has AVX2) and in the rest, in
// every block.
func TestCoordinateRejectsNonFiniteEverywhere(t *testing.T) {
	const n, d = 17, 512 + 19
	rng := rand.New(rand.NewPCG(3, 3))
	{
		for _, agg := range []fl.Aggregator{&robust.Median{}, &robust.TrimmedMean{F: 3}} {
			for _, pos := range [][2]int{{0, 0}, {7, 7}, {3, 9}, {8, 0}, {15, 511}, {16, 3}, {5, 512}, {2, 528}, {rng.IntN(n), rng.IntN(d)}} {
				for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
					ups := make([]fl.Update, n)
					for i := range ups {
						v := make([]float64, d)
						for j := range v {
							v[j] = rng.NormFloat64()
						}
						ups[i] = fl.Update{Client: fmt.Sprint(i), Delta: v, Weight: 1}
					}
					ups[pos[0]].Delta[pos[1]] = bad
					if err := agg.Aggregate(make([]float64, d), ups); !errors.Is(err, fl.ErrNotFinite) {
						t.Errorf("%T: %v at update %d coordinate %d: err = %v, want ErrNotFinite", agg, bad, pos[0], pos[1], err)
					}
				}
			}
		}
	}
}
