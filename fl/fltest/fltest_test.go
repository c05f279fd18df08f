package fltest_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/fltest"
)

// weightedMean is a minimal correct aggregator written for this test.
type weightedMean struct{ unweighted bool }

func (a weightedMean) Aggregate(dst []float64, updates []fl.Update) error {
	if len(updates) == 0 {
		return fmt.Errorf("no updates")
	}
	if err := fl.CheckDst(dst, updates); err != nil {
		return err
	}
	for _, u := range updates {
		if len(u.Delta) != len(dst) {
			return fmt.Errorf("length %d, want %d", len(u.Delta), len(dst))
		}
		for _, v := range u.Delta {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("not finite")
			}
		}
	}
	clear(dst)
	var total float64
	for _, u := range updates {
		w := u.Weight
		if a.unweighted {
			w = 1
		}
		total += w
		for j, v := range u.Delta {
			dst[j] += w * v
		}
	}
	for j := range dst {
		dst[j] /= total
	}
	return nil
}

func TestSuiteOnMeans(t *testing.T) {
	t.Run("weighted", func(t *testing.T) {
		fltest.TestAggregator(t, func() fl.Aggregator { return weightedMean{} }, fltest.Options{Mean: fltest.WeightedMean, Seed: 1})
	})
	t.Run("unweighted", func(t *testing.T) {
		fltest.TestAggregator(t, func() fl.Aggregator { return weightedMean{unweighted: true} },
			fltest.Options{Mean: fltest.UnweightedMean, N: 4, Dim: 5, Seed: 2})
	})
}
