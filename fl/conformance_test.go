package fl_test

import (
	"context"
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

// directConn calls a handler in process.
type directConn struct {
	id string
	h  fl.Handler
}

func (c directConn) ID() string { return c.id }
func (c directConn) Send(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	return c.h.Handle(ctx, m)
}

func TestStaticPoolConformance(t *testing.T) {
	fltest.TestPool(t, func(t *testing.T, ids []string, h func(string) fl.Handler) fl.Pool {
		var conns []fl.Conn
		for _, id := range ids {
			conns = append(conns, directConn{id, h(id)})
		}
		p, err := fl.NewPool(conns...)
		if err != nil {
			t.Fatal(err)
		}
		return p
	})
}
