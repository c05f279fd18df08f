package privacy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/fedgo/fedgo/fl"
)

// Write-ahead accounting: a crash at any step of a round, followed by a
// resume from the checkpoint on disk, never lets a noised model reach the
// outside (an evaluator, an observer) more times than the accounting
// paid for. With CheckpointEvery = 2 the server still saves the budget
// after every release, before the model leaves.
func TestWriteAheadAccounting(t *testing.T) {
	const n, rounds, crashRound = 12, 5, 3
	for _, at := range []string{"round start", "train", "evaluate", "round end"} {
		t.Run(at, func(t *testing.T) {
			dir := t.TempDir()
			seen := map[[32]byte]bool{} // the distinct models that left the server
			newCentral := func() *CentralDP {
				return mustCentral(t, CentralConfig{ClipNorm: 1, NoiseMultiplier: 1.1, Delta: 1e-5, Population: n, SampleRate: 0.5})
			}
			build := func(dp *CentralDP, crash context.CancelFunc) *fl.Server {
				cfg := fl.DefaultServerConfig()
				cfg.Rounds, cfg.Privacy, cfg.Seed = rounds, dp, 4
				cfg.CheckpointDir, cfg.CheckpointEvery, cfg.EvalEvery = dir, 2, 1
				cfg.Evaluate = func(ctx context.Context, params []float64) (fl.Metrics, error) {
					seen[sha256.Sum256([]byte(fmt.Sprint(params)))] = true
					if crash != nil && at == "evaluate" && dp.Rounds() == crashRound {
						crash()
						return nil, context.Canceled
					}
					return fl.Metrics{}, nil
				}
				cfg.Observer = fl.ObserverFuncs{
					Start: func(r int, _ []string) {
						if crash != nil && at == "round start" && r == crashRound {
							crash()
						}
					},
					End: func(st fl.RoundStats) {
						if crash != nil && at == "round end" && st.Round == crashRound {
							crash()
						}
					},
				}
				mws := []fl.Middleware{}
				if crash != nil && at == "train" {
					mws = append(mws, func(h fl.Handler) fl.Handler {
						return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
							if m.Round == crashRound {
								crash()
							}
							return h.Handle(ctx, m)
						})
					})
				}
				s, err := fl.NewServer(cfg, newPool(n, 5, mws...).pool(t), make([]float64, 5))
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			ctx, crash := context.WithCancel(context.Background())
			first := newCentral()
			if _, err := build(first, crash).Run(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("first run: %v, want the crash", err)
			}
			cp, err := fl.ReadCheckpoint(filepath.Join(dir, fl.CheckpointFile))
			if err != nil {
				t.Fatal(err)
			}
			dp := newCentral()
			s := build(dp, nil)
			if err := s.Restore(cp); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(seen) > dp.Rounds() {
				t.Errorf("%d distinct models left the server, %d releases accounted", len(seen), dp.Rounds())
			}
			if eps := s.History().Last().Extra[KeyEpsilon]; math.IsNaN(eps) || eps <= 0 {
				t.Errorf("ε not recorded: %v", eps)
			}
		})
	}
}
