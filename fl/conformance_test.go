package fl_test

import (
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/fltest"
)

// FedAvg and the unweighted mean pass the conformance suite every
// aggregator of fedgo runs.
func TestFedAvgConformance(t *testing.T) {
	t.Run("FedAvg", func(t *testing.T) {
		fltest.TestAggregator(t, func() fl.Aggregator { return &fl.FedAvg{} }, fltest.Options{Mean: fltest.WeightedMean})
	})
	t.Run("UnweightedMean", func(t *testing.T) {
		fltest.TestAggregator(t, func() fl.Aggregator { return fl.UnweightedMean() }, fltest.Options{Mean: fltest.UnweightedMean})
	})
}
