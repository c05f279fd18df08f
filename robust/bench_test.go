package robust_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/robust"
)

var benchSizes = []struct{ n, d int }{{10, 10_000}, {100, 100_000}, {100, 1_000_000}}

var benchInputs = map[[2]int][]fl.Update{}

// benchUpdates returns n uniform random updates of dimension d, shared by
// all benchmarks of that size.
func benchUpdates(n, d int) []fl.Update {
	if ups, ok := benchInputs[[2]int{n, d}]; ok {
		return ups
	}
	rng := rand.New(rand.NewPCG(uint64(n), uint64(d)))
	ups := make([]fl.Update, n)
	for i := range ups {
		v := make([]float64, d)
		for j := range v {
			v[j] = rng.Float64() - 0.5
		}
		ups[i] = fl.Update{Client: fmt.Sprint(i), Delta: v, Weight: 1}
	}
	benchInputs[[2]int{n, d}] = ups
	return ups
}

// heteroUpdates returns n updates of dimension d in which every coordinate
// has its own scale (10^−3 to 10^3) and offset, unlike benchUpdates, where
// all coordinates share one distribution: the case where the previous
// coordinate's values say nothing about the next one's.
func heteroUpdates(n, d int) []fl.Update {
	rng := rand.New(rand.NewPCG(uint64(n)+1, uint64(d)))
	scale := make([]float64, d)
	off := make([]float64, d)
	for j := range scale {
		scale[j] = math.Pow(10, 6*rng.Float64()-3)
		off[j] = scale[j] * rng.NormFloat64()
	}
	ups := make([]fl.Update, n)
	for i := range ups {
		v := make([]float64, d)
		for j := range v {
			v[j] = off[j] + scale[j]*(rng.Float64()-0.5)
		}
		ups[i] = fl.Update{Client: fmt.Sprint(i), Delta: v, Weight: 1}
	}
	return ups
}

func benchHetero(b *testing.B, agg fl.Aggregator) {
	const n, d = 100, 100_000
	ups := heteroUpdates(n, d)
	dst := make([]float64, d)
	b.SetBytes(int64(8 * n * d))
	b.ReportAllocs()
	for b.Loop() {
		if err := agg.Aggregate(dst, ups); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMedianHetero(b *testing.B) { benchHetero(b, &robust.Median{}) }

func BenchmarkTrimmedMeanHetero(b *testing.B) { benchHetero(b, &robust.TrimmedMean{F: 10}) }

func benchAgg(b *testing.B, newAgg func() fl.Aggregator, maxN, maxD int) {
	probe := newAgg() // sizes the rule rejects (n ≤ 2F) are skipped
	for _, sz := range benchSizes {
		if sz.n > maxN || sz.d > maxD || !validFor(probe, sz.n) {
			continue
		}
		b.Run(fmt.Sprintf("n=%d/d=%d", sz.n, sz.d), func(b *testing.B) {
			ups := benchUpdates(sz.n, sz.d)
			dst := make([]float64, sz.d)
			agg := newAgg()
			b.SetBytes(int64(8 * sz.n * sz.d))
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				if err := agg.Aggregate(dst, ups); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// reportCPU reports the process's CPU time per operation since start
// (cpu-ns/op; all goroutines, so a parallel rule's work is summed over its
// cores), where the platform tells it.
func reportCPU(b *testing.B, start time.Duration) {
	if start > 0 && b.N > 0 {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}

// validFor reports whether a accepts n updates, for rules that say.
func validFor(a fl.Aggregator, n int) bool {
	v, ok := a.(interface{ Validate(int) error })
	return !ok || v.Validate(n) == nil
}

// BenchmarkMeanBaseline is a plain single-goroutine Go loop summing the
// same bytes: the yardstick for the coordinate-wise rules.
func BenchmarkMeanBaseline(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(fmt.Sprintf("n=%d/d=%d", sz.n, sz.d), func(b *testing.B) {
			ups := benchUpdates(sz.n, sz.d)
			dst := make([]float64, sz.d)
			b.SetBytes(int64(8 * sz.n * sz.d))
			b.ReportAllocs()
			for b.Loop() {
				clear(dst)
				for _, u := range ups {
					for j, v := range u.Delta {
						dst[j] += v
					}
				}
				for j := range dst {
					dst[j] /= float64(len(ups))
				}
			}
		})
	}
}

// BenchmarkFedAvgBaseline runs fl.FedAvg (default Workers: GOMAXPROCS) on
// the same inputs as the rules' benchmarks: the target for the
// coordinate-wise rules is a small multiple of its time.
func BenchmarkFedAvgBaseline(b *testing.B) {
	benchAgg(b, func() fl.Aggregator { return &fl.FedAvg{} }, big, big)
}

const big = 1 << 30

func BenchmarkMean(b *testing.B) {
	benchAgg(b, func() fl.Aggregator { return &robust.Mean{} }, big, big)
}

func BenchmarkMedian(b *testing.B) {
	benchAgg(b, func() fl.Aggregator { return &robust.Median{} }, big, big)
}

func BenchmarkTrimmedMean(b *testing.B) {
	benchAgg(b, func() fl.Aggregator { return &robust.TrimmedMean{F: 10} }, big, big)
}

func BenchmarkKrum(b *testing.B) {
	benchAgg(b, func() fl.Aggregator { return &robust.Krum{F: 10} }, big, big)
}

func BenchmarkMultiKrum(b *testing.B) {
	benchAgg(b, func() fl.Aggregator { return &robust.MultiKrum{F: 10} }, big, big)
}

func BenchmarkBulyan(b *testing.B) {
	benchAgg(b, func() fl.Aggregator { return &robust.Bulyan{F: 2} }, big, big)
}

func BenchmarkMeamed(b *testing.B) {
	benchAgg(b, func() fl.Aggregator { return &robust.Meamed{F: 10} }, big, big)
}

func BenchmarkGeoMed(b *testing.B) {
	benchAgg(b, func() fl.Aggregator { return &robust.GeoMed{} }, big, 100_000)
}

func BenchmarkCenteredClipping(b *testing.B) {
	benchAgg(b, func() fl.Aggregator { return &robust.CenteredClipping{} }, big, 100_000)
}

func BenchmarkNNMKrum(b *testing.B) {
	benchAgg(b, func() fl.Aggregator {
		return &robust.Pre{Step: &robust.NNM{F: 2}, Rule: &robust.Krum{F: 2}}
	}, big, 100_000)
}

func BenchmarkMDA(b *testing.B) {
	benchAgg(b, func() fl.Aggregator { return &robust.MDA{F: 2} }, 10, 10_000)
}
