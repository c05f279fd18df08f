package hier

import (
	"fmt"

	"github.com/fedgo/fedgo/fl"
)

// ExactFedAvg is the flat aggregator of hierarchical FedAvg, an
// [fl.Aggregator] for the default train exchange: dst = Σ q(wᵢ·Δᵢ) /
// Σ q(wᵢ), the same exact fixed-point sum as [Exchange] and [Edge], so a
// flat run with ExactFedAvg gives the same bits as any tree of edges over
// the same clients, and the same bits for any order of the updates.
//
// Aggregate allocates only when the dimension grows. An ExactFedAvg is
// not safe for concurrent use.
type ExactFedAvg struct {
	acc exactSum
}

var _ fl.Aggregator = (*ExactFedAvg)(nil)

// Aggregate writes the exact weighted mean of updates to dst. It returns
// an error naming the client for an update of the wrong length, a weight
// that is not finite and positive, a NaN or Inf, or a value outside the
// fixed-point range (ErrRange: |w·Δⱼ| or w ≥ 2³⁶).
func (a *ExactFedAvg) Aggregate(dst []float64, updates []fl.Update) error {
	if len(updates) == 0 {
		return fl.ErrNoUpdates
	}
	if err := fl.CheckDst(dst, updates); err != nil {
		return err
	}
	a.acc.reset(len(dst))
	for i := range updates {
		u := &updates[i]
		if err := fl.CheckUpdate(u, len(dst)); err != nil {
			return err
		}
		if err := a.acc.addUpdate(u.Weight, u.Delta); err != nil {
			return &fl.ClientError{Client: u.Client, Err: fmt.Errorf("update %d: %w", i, err)}
		}
	}
	a.acc.mean(dst)
	return nil
}
