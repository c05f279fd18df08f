package fedround_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/secagg"
	"github.com/fedgo/fedgo/secagg/fedround"
)

// A client that vanishes (never answers) at a step is dropped when the
// step's deadline passes, from Config.StepTimeout or, when that is zero,
// from the round's fl.KeyDeadline. Time is synthetic (testing/synctest).
func TestStepDeadline(t *testing.T) {
	for _, tc := range []struct {
		name     string
		timeout  time.Duration
		deadline float64 // rc.Config[fl.KeyDeadline], 0 = unset
	}{
		{"StepTimeout", time.Minute, 0},
		{"KeyDeadline", 0, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const n, dim = 5, 4
				h := newHarness(n, 20)
				h.outer = func(id string, next fl.Handler) fl.Handler {
					return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
						if id == h.ids[3] && m.Type == fedround.TypeShareKeys {
							<-ctx.Done() // vanished: never answers
							return nil, ctx.Err()
						}
						return next.Handle(ctx, m)
					})
				}
				cfg := testConfig(3, 0)
				cfg.StepTimeout = tc.timeout
				w, err := fedround.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				rc := fl.NewRound(1, make([]float64, dim), fl.Config{}, fl.Reachable(h.pool(t)), nil)
				if tc.deadline > 0 {
					rc.Config[fl.KeyDeadline] = tc.deadline
				}
				dst := make([]float64, dim)
				start := time.Now()
				acc, err := w.Run(context.Background(), rc, dst)
				if err != nil {
					t.Fatal(err)
				}
				stats := rc.Stats()
				if acc != n-1 || stats.FailedAt[fedround.TypeShareKeys] != 1 {
					t.Fatalf("accepted %d, failures %v", acc, stats.Failures)
				}
				want := tc.timeout
				if want == 0 {
					want = time.Duration(tc.deadline * float64(time.Second))
				}
				if el := time.Since(start); el != want {
					t.Fatalf("round took %v of synthetic time, want the deadline %v", el, want)
				}
				assertClose(t, dst, wantMean(indices(n, 3), dim, testClip), tol(32, n))
			})
		})
	}
}

// Cancelling the context stops the round with the context's error.
func TestRunCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(4, 21)
		ctx, cancel := context.WithCancel(context.Background())
		h.outer = func(id string, next fl.Handler) fl.Handler {
			return fl.HandlerFunc(func(c context.Context, m *fl.Message) (*fl.Message, error) {
				if m.Type == fedround.TypeMaskedInput {
					cancel()
				}
				return next.Handle(c, m)
			})
		}
		w, _ := fedround.New(testConfig(3, 0))
		rc := fl.NewRound(1, make([]float64, 3), fl.Config{}, fl.Reachable(h.pool(t)), nil)
		if _, err := w.Run(ctx, rc, make([]float64, 3)); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

// Malicious mode: a survivor that skips the consistency check is not asked
// to unmask, yet its input is in the sum; too many such clients fail the
// round.
func TestMaliciousConsistencyDropouts(t *testing.T) {
	const n, dim, thr = 6, 5, 4
	for _, drop := range []int{1, 2, 3} {
		h := newHarness(n, 22)
		cfg := testConfig(thr, 0)
		cfg.Malicious, cfg.PeerKeys = true, h.identities()
		h.fail(fedround.TypeConsistency, h.ids[:drop]...)
		got, acc, st, err := runRound(t, h, cfg, 1, dim)
		if st.FailedAt[fedround.TypeConsistency] != drop {
			t.Fatalf("drop %d: failures %v", drop, st.Failures)
		}
		if n-drop < thr {
			if !errors.Is(err, secagg.ErrBelowThreshold) {
				t.Fatalf("drop %d: err = %v, want ErrBelowThreshold", drop, err)
			}
			continue
		}
		if err != nil || acc != n {
			t.Fatalf("drop %d: accepted %d, err %v; want %d", drop, acc, err, n)
		}
		assertClose(t, got, wantMean(indices(n), dim, testClip), tol(32, n))
	}
}

// In malicious mode a sampled client with no key in the PKI fails the first
// step; the others go on.
func TestMaliciousMissingKey(t *testing.T) {
	const n, dim = 6, 5
	h := newHarness(n, 23)
	cfg := testConfig(4, 0)
	cfg.Malicious, cfg.PeerKeys = true, maps.Clone(h.identities())
	delete(cfg.PeerKeys, h.ids[5]) // the server's PKI only; the clients know all six
	got, acc, st, err := runRound(t, h, cfg, 1, dim)
	if err != nil || acc != n-1 || st.FailedAt[fedround.TypeTrain] != 1 {
		t.Fatalf("accepted %d failures %v err %v", acc, st.Failures, err)
	}
	assertClose(t, got, wantMean(indices(n, 5), dim, testClip), tol(32, n))
}
