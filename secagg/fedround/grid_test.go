package fedround_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/privacy"
	"github.com/fedgo/fedgo/secagg"
	"github.com/fedgo/fedgo/secagg/fedround"
)

// TestRunSumOnSharedGrid: on a grid fixed by KeySummands, RunSum returns
// the integer sum that secagg.Dequantize maps to Run's mean, bit for bit
// (the same clients with the same randomness), every entry within the
// bound of Count inputs, and the mean within one step of the plain mean.
func TestRunSumOnSharedGrid(t *testing.T) {
	const n, dim, grid = 5, 9, 12
	cfg := fl.Config{fl.KeyRound: 1, fedround.KeySummands: grid}
	w, err := fedround.New(testConfig(3, 0))
	if err != nil {
		t.Fatal(err)
	}
	rc := fl.NewRound(1, make([]float64, dim), cfg, fl.Reachable(newHarness(n, 4).pool(t)), nil)
	sum, count, err := w.RunSum(context.Background(), rc)
	if err != nil || count != n || sum == nil {
		t.Fatalf("RunSum = %v, %d, %v", sum, count, err)
	}
	if sum.Count != n || sum.Summands != grid || sum.Bits != fedround.DefaultBits || sum.Clip != testClip || len(sum.Vec) != dim {
		t.Fatalf("sum = %+v", sum)
	}
	bound := uint64(n) * secagg.QuantLevels(sum.Bits, grid)
	for j, v := range sum.Vec {
		if v > bound {
			t.Fatalf("Vec[%d] = %d above %d", j, v, bound)
		}
	}
	got := make([]float64, dim)
	if _, err := secagg.Dequantize(got, sum.Vec, sum.Clip, sum.Bits, sum.Summands, sum.Count); err != nil {
		t.Fatal(err)
	}
	for j := range got {
		got[j] *= 1 / float64(n)
	}
	rc = fl.NewRound(1, make([]float64, dim), cfg, fl.Reachable(newHarness(n, 4).pool(t)), nil)
	mean := make([]float64, dim)
	if _, err := w.Run(context.Background(), rc, mean); err != nil {
		t.Fatal(err)
	}
	for j := range mean {
		if math.Float64bits(got[j]) != math.Float64bits(mean[j]) {
			t.Fatalf("coordinate %d: RunSum dequantized %v, Run %v", j, got[j], mean[j])
		}
	}
	assertClose(t, mean, wantMean(indices(n), dim, testClip), secagg.QuantStep(testClip, 32, grid)*(1+1e-9)+1e-12)

	rc = fl.NewRound(1, make([]float64, dim), cfg, fl.Reachable(newHarness(n, 4).pool(t)), nil)
	dp, err := privacy.NewCentralDP(privacy.CentralConfig{ClipNorm: testClip, ClientClipped: true, Population: 20, SampleRate: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	rc.Privacy = dp
	if _, _, err := w.RunSum(context.Background(), rc); !errors.Is(err, fedround.ErrSumPrivacy) {
		t.Errorf("RunSum with a Privacy: err = %v, want ErrSumPrivacy", err)
	}
}

// TestSummandsBelowN mounts a server that sends a grid smaller than the
// round (the sum could wrap): the exchange refuses to run it, and a
// client that receives one refuses to train.
func TestSummandsBelowN(t *testing.T) {
	const n, dim = 5, 4
	w, err := fedround.New(testConfig(3, 0))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(n, 5)
	rc := fl.NewRound(1, make([]float64, dim), fl.Config{fedround.KeySummands: n - 1}, fl.Reachable(h.pool(t)), nil)
	if _, err := w.Run(context.Background(), rc, make([]float64, dim)); !errors.Is(err, fedround.ErrMalformed) {
		t.Errorf("exchange with KeySummands < N: err = %v, want ErrMalformed", err)
	}
	// A lying server: the train message's grid is lowered on its way.
	h.outer = func(_ string, next fl.Handler) fl.Handler {
		return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
			if m.Type == fedround.TypeTrain {
				m.Config = m.Config.Clone()
				if m.Config == nil {
					m.Config = fl.Config{}
				}
				m.Config[fedround.KeySummands] = 2
			}
			return next.Handle(ctx, m)
		})
	}
	rc = fl.NewRound(1, make([]float64, dim), fl.Config{}, fl.Reachable(h.pool(t)), nil)
	if _, err := w.Run(context.Background(), rc, make([]float64, dim)); err == nil {
		t.Error("a round whose clients got a grid below N completed")
	}
	if st := rc.Stats(); st.FailedAt[fedround.TypeTrain] != n || len(h.uplinks) != 0 {
		t.Errorf("failed at train: %d of %d, %d replies sent; want every client to refuse", st.FailedAt[fedround.TypeTrain], n, len(h.uplinks))
	}
}
