package fl

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randUpdates(rng *rand.Rand, n, d int) []Update {
	us := make([]Update, n)
	for i := range us {
		v := make([]float64, d)
		for j := range v {
			v[j] = rng.NormFloat64()
		}
		us[i] = Update{Client: fmt.Sprint("c", i), Delta: v, Weight: 1 + float64(rng.IntN(100))}
	}
	return us
}

// naiveFedAvg is the definition: Σ wᵢΔᵢ / Σ wᵢ, one coordinate at a time.
func naiveFedAvg(us []Update, weighted bool) []float64 {
	out := make([]float64, len(us[0].Delta))
	for j := range out {
		var num, den float64
		for _, u := range us {
			w := 1.0
			if weighted {
				w = u.Weight
			}
			num += w * u.Delta[j]
			den += w
		}
		out[j] = num / den
	}
	return out
}

func TestFedAvgMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ n, d, workers int }{
		{1, 1, 1}, {3, 7, 1}, {10, 5000, 2}, {40, 20000, 2}, {7, 70001, 3},
	} {
		us := randUpdates(rng, tc.n, tc.d)
		for _, unweighted := range []bool{false, true} {
			a := &FedAvg{Unweighted: unweighted, Workers: tc.workers}
			got := make([]float64, tc.d)
			if err := a.Aggregate(got, us); err != nil {
				t.Fatal(err)
			}
			want := naiveFedAvg(us, !unweighted)
			for j := range want {
				if math.Abs(got[j]-want[j]) > 1e-12*(1+math.Abs(want[j])) {
					t.Fatalf("n=%d d=%d unweighted=%v: coord %d = %v, want %v", tc.n, tc.d, unweighted, j, got[j], want[j])
				}
			}
		}
	}
}

func TestFedAvgDeterministicAcrossWorkers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	us := randUpdates(rng, 16, 50000)
	ref := make([]float64, 50000)
	if err := (&FedAvg{Workers: 1}).Aggregate(ref, us); err != nil {
		t.Fatal(err)
	}
	for _, w := range []int{2, 3, 8} {
		got := make([]float64, 50000)
		if err := (&FedAvg{Workers: w}).Aggregate(got, us); err != nil {
			t.Fatal(err)
		}
		for j := range got {
			if math.Float64bits(got[j]) != math.Float64bits(ref[j]) {
				t.Fatalf("workers=%d: coord %d differs in bits", w, j)
			}
		}
	}
}

func TestFedAvgRejects(t *testing.T) {
	a := &FedAvg{}
	dst := make([]float64, 3)
	if err := a.Aggregate(dst, nil); !errors.Is(err, ErrNoUpdates) {
		t.Errorf("no updates: %v", err)
	}
	err := a.Aggregate(dst, []Update{{Client: "x", Delta: []float64{1, 2}, Weight: 1}})
	var ce *ClientError
	if !errors.Is(err, ErrLength) || !errors.As(err, &ce) || ce.Client != "x" {
		t.Errorf("wrong length: %v", err)
	}
	for _, w := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if err := a.Aggregate(dst, []Update{{Client: "y", Delta: []float64{1, 2, 3}, Weight: w}}); !errors.Is(err, ErrBadWeight) {
			t.Errorf("weight %v: %v", w, err)
		}
	}
}

// The parallel path (two workers, enough coordinates) allocates nothing
// once warm either, and gives the bits of the one-worker sum.
func TestFedAvgNoAllocsParallel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const d = 3*aggBlock + 100
	us := randUpdates(rng, 4, d)
	dst := make([]float64, d)
	a := &FedAvg{Workers: 2}
	allocs := testing.AllocsPerRun(5, func() {
		if err := a.Aggregate(dst, us); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("parallel Aggregate allocates %v times per call", allocs)
	}
	one := make([]float64, d)
	if err := (&FedAvg{Workers: 1}).Aggregate(one, us); err != nil {
		t.Fatal(err)
	}
	for j := range one {
		if math.Float64bits(one[j]) != math.Float64bits(dst[j]) {
			t.Fatalf("coordinate %d: %v with 2 workers, %v with 1", j, dst[j], one[j])
		}
	}
}

func TestFedAvgNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	us := randUpdates(rng, 10, 1000)
	dst := make([]float64, 1000)
	a := &FedAvg{Workers: 1}
	allocs := testing.AllocsPerRun(10, func() {
		if err := a.Aggregate(dst, us); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Aggregate allocates %v times per call", allocs)
	}
}

func TestCheckUpdate(t *testing.T) {
	for _, tc := range []struct {
		name string
		u    Update
		want error
	}{
		{"ok", Update{Client: "a", Delta: []float64{1, 2, 3, 4, 5}, Weight: 2}, nil},
		{"nan", Update{Client: "a", Delta: []float64{1, 2, 3, 4, math.NaN()}, Weight: 2}, ErrNotFinite},
		{"inf first", Update{Client: "a", Delta: []float64{math.Inf(-1), 2, 3, 4, 5}, Weight: 2}, ErrNotFinite},
		{"short", Update{Client: "a", Delta: []float64{1}, Weight: 2}, ErrLength},
		{"zero weight", Update{Client: "a", Delta: []float64{1, 2, 3, 4, 5}}, ErrBadWeight},
	} {
		err := CheckUpdate(&tc.u, 5)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

// benchSizes are the (n, d) of BenchmarkFedAvg and its baseline.
var benchSizes = []struct{ n, d int }{
	{10, 1e4}, {100, 1e4}, {1000, 1e4}, {10, 1e6}, {100, 1e6},
}

// BenchmarkFedAvg measures FedAvg on one core (workers=1) and on all of
// them (workers=0), against BenchmarkReadOnce.
func BenchmarkFedAvg(b *testing.B) {
	for _, s := range benchSizes {
		for _, workers := range []int{1, 0} {
			b.Run(fmt.Sprintf("n=%d/d=%d/workers=%d", s.n, s.d, workers), func(b *testing.B) {
				us := randUpdates(rand.New(rand.NewPCG(1, 1)), s.n, s.d)
				dst := make([]float64, s.d)
				a := &FedAvg{Workers: workers}
				b.SetBytes(int64(8 * s.n * s.d))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if err := a.Aggregate(dst, us); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkReadOnce is the memory-bandwidth baseline of BenchmarkFedAvg: a
// plain loop that reads every byte of every update once.
func BenchmarkReadOnce(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(fmt.Sprintf("n=%d/d=%d", s.n, s.d), func(b *testing.B) {
			us := randUpdates(rand.New(rand.NewPCG(1, 1)), s.n, s.d)
			b.SetBytes(int64(8 * s.n * s.d))
			b.ReportAllocs()
			b.ResetTimer()
			var sink float64
			for range b.N {
				var s0, s1, s2, s3 float64
				for _, u := range us {
					v := u.Delta
					i := 0
					for ; i+4 <= len(v); i += 4 {
						s0 += v[i]
						s1 += v[i+1]
						s2 += v[i+2]
						s3 += v[i+3]
					}
				}
				sink += s0 + s1 + s2 + s3
			}
			if sink == 42 {
				b.Log(sink)
			}
		})
	}
}
