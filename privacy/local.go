package privacy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/privacy/accountant"
)

// ErrEncoded is returned by the client middleware of this package when the
// update reaching it is already encoded (Payload set): clipping and noise
// must run before compression and masking, so they must wrap them.
var ErrEncoded = errors.New("privacy: update is already encoded; put the privacy middleware inside compression and masking")

// ClipMiddleware returns client middleware that clips each update the
// client sends to L2 norm c, in place: the client side of DP-FedAvg with
// secure aggregation, where the server sees only the sum and uses a
// [CentralDP] with ClientClipped to noise it. Evaluation replies
// ([fl.TypeMetrics]) pass through; a reply of any other type (a protocol
// message it cannot clip, as when it wraps secure aggregation's middleware
// instead of sitting inside it) is refused with an error wrapping
// fl.ErrConfig, so that clipping is never skipped silently. With package
// secagg/fedround the clients clip to the server's clip norm themselves.
// It panics if c is not finite and positive.
func ClipMiddleware(c float64) fl.Middleware {
	if !finitePos(c) {
		panic("privacy: ClipMiddleware: clip norm must be finite and > 0")
	}
	return func(next fl.Handler) fl.Handler {
		return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
			r, err := next.Handle(ctx, m)
			if err != nil || r == nil || r.Type == fl.TypeMetrics {
				return r, err
			}
			if r.Type != fl.TypeUpdate {
				return nil, fmt.Errorf("%w: ClipMiddleware cannot clip a %q reply: put it inside the protocol's middleware, fl.Wrap(h, protocol, clip)", fl.ErrConfig, r.Type)
			}
			if len(r.Payload) > 0 {
				return nil, ErrEncoded
			}
			ClipL2(r.Params, r.Params, c)
			return r, nil
		})
	}
}

// LocalConfig configures [Local], one client's local differential privacy.
type LocalConfig struct {
	// ClipNorm is C: the update is clipped to L2 norm C. Required.
	ClipNorm float64
	// NoiseMultiplier is z: the client adds N(0, (2zC)²) to each coordinate.
	// A local release has L2 sensitivity 2C (any two clipped updates differ
	// by at most 2C), so z is the multiplier the accountant sees. 0 means
	// calibrate from TargetEpsilon and Rounds.
	NoiseMultiplier float64
	// TargetEpsilon is the client's own budget ε at Delta over all its
	// participations; 0 means none (ε is still accounted).
	TargetEpsilon float64
	// Delta is the δ of the client's accounting; 0 means 1e-6.
	Delta float64
	// Rounds is the number of participations planned; required to
	// calibrate z.
	Rounds int
	// Accountant is RDP (default) or PLD.
	Accountant accountant.Kind
	// Random keys the noise source; nil means crypto/rand.
	Random io.Reader
}

// Validate reports every field out of range.
func (c *LocalConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !finitePos(c.ClipNorm) {
		bad("ClipNorm = %v, want finite and > 0", c.ClipNorm)
	}
	if !(c.NoiseMultiplier >= 0) || math.IsInf(c.NoiseMultiplier, 0) {
		bad("NoiseMultiplier = %v, want finite and ≥ 0", c.NoiseMultiplier)
	}
	if !(c.TargetEpsilon >= 0) || math.IsInf(c.TargetEpsilon, 0) {
		bad("TargetEpsilon = %v, want finite and ≥ 0", c.TargetEpsilon)
	}
	if c.NoiseMultiplier == 0 && (c.TargetEpsilon == 0 || c.Rounds < 1) {
		bad("set NoiseMultiplier, or TargetEpsilon and Rounds to calibrate it")
	}
	if !(c.Delta >= 0 && c.Delta < 1) {
		bad("Delta = %v, want in [0, 1)", c.Delta)
	}
	if c.Rounds < 0 {
		bad("Rounds = %d, want ≥ 0", c.Rounds)
	}
	if c.Accountant != accountant.KindRDP && c.Accountant != accountant.KindPLD {
		bad("Accountant = %d is unknown", c.Accountant)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}

// Local is one client's local differential privacy: before an update
// leaves the client it is clipped to C and noised with N(0, (2zC)²) per
// coordinate, so the server (or anyone on the wire) sees only a
// differentially private release. The client accounts its own
// participations — each is one unsampled (q = 1) Gaussian mechanism, since
// the client knows it takes part — and refuses to send, with an error
// wrapping [ErrBudgetExhausted], once the next participation would exceed
// its budget. The server averages the noisy updates with any aggregator.
//
// The host keeps one Local per client for the client's lifetime (its
// budget must outlive handler re-creation). A Local is safe for concurrent
// use.
type Local struct {
	cfg     LocalConfig
	z       float64
	maxPart int // participations the budget allows; -1 none

	mu    sync.Mutex
	src   *Source
	parts int
}

// NewLocal validates cfg (copied) and calibrates z when asked. It returns
// an error wrapping [ErrConfig], or [ErrBudgetExhausted] when the budget
// allows no participation at all.
func NewLocal(cfg LocalConfig) (*Local, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Delta == 0 {
		cfg.Delta = 1e-6
	}
	src, err := NewSource(cfg.Random)
	if err != nil {
		return nil, err
	}
	l := &Local{cfg: cfg, z: cfg.NoiseMultiplier, src: src, maxPart: -1}
	if l.z == 0 {
		l.z, err = accountant.CalibrateNoise(accountant.Target{
			Epsilon: cfg.TargetEpsilon, Delta: cfg.Delta, SampleRate: 1, Steps: cfg.Rounds,
		}, cfg.Accountant)
		if err != nil {
			return nil, fmt.Errorf("%w: calibrating the noise: %w", ErrConfig, err)
		}
	}
	if cfg.TargetEpsilon > 0 {
		k := 0
		for lo, hi := 0, 1; ; {
			e, err := l.epsilonAfter(hi)
			if err != nil {
				return nil, err
			}
			if e > cfg.TargetEpsilon {
				for hi-lo > 1 { // ε(lo) ≤ target < ε(hi)
					mid := lo + (hi-lo)/2
					if e, err = l.epsilonAfter(mid); err != nil {
						return nil, err
					}
					if e <= cfg.TargetEpsilon {
						lo = mid
					} else {
						hi = mid
					}
				}
				k = lo
				break
			}
			if hi >= maxBudgetRounds {
				k = hi
				break
			}
			lo, hi = hi, 2*hi
		}
		if k == 0 {
			return nil, fmt.Errorf("%w: one participation with noise multiplier %.4g exceeds ε = %v", ErrBudgetExhausted, l.z, cfg.TargetEpsilon)
		}
		l.maxPart = k
	}
	return l, nil
}

func (l *Local) epsilonAfter(k int) (float64, error) {
	if k == 0 {
		return 0, nil
	}
	step := accountant.Step{NoiseMultiplier: l.z, SampleRate: 1}
	if l.cfg.Accountant == accountant.KindPLD {
		a, err := accountant.NewPLD(accountant.PLDConfig{})
		if err != nil {
			return 0, err
		}
		if err := a.Compose(step, k); err != nil {
			return 0, err
		}
		e, err := a.Epsilon(l.cfg.Delta)
		if err != nil {
			return math.Inf(1), nil
		}
		return e, nil
	}
	a, err := accountant.NewRDP(nil)
	if err != nil {
		return 0, err
	}
	if err := a.Compose(step, k); err != nil {
		return 0, err
	}
	e, _, err := a.Epsilon(l.cfg.Delta)
	if err != nil {
		return math.Inf(1), nil
	}
	return e, nil
}

// NoiseMultiplier returns z.
func (l *Local) NoiseMultiplier() float64 { return l.z }

// MaxParticipations returns how many participations the budget allows, or
// -1 with no budget.
func (l *Local) MaxParticipations() int { return l.maxPart }

// Participations returns how many updates the client has released.
func (l *Local) Participations() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.parts
}

// Epsilon returns the ε the client has spent at its δ, an upper bound.
func (l *Local) Epsilon() (float64, error) {
	return l.epsilonAfter(l.Participations())
}

// Reserve checks that one more participation fits the budget. It returns
// an error wrapping [ErrBudgetExhausted] when it does not.
func (l *Local) Reserve() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reserveLocked()
}

func (l *Local) reserveLocked() error {
	if l.maxPart >= 0 && l.parts >= l.maxPart {
		return fmt.Errorf("%w: the client has released %d updates, its budget ε = %v at δ = %g allows %d",
			ErrBudgetExhausted, l.parts, l.cfg.TargetEpsilon, l.cfg.Delta, l.maxPart)
	}
	return nil
}

// Privatize clips delta to C and adds N(0, (2zC)²) to each coordinate, in
// place, and accounts one participation. It refuses with an error wrapping
// [ErrBudgetExhausted] (leaving delta alone) when the budget is spent, and
// with one wrapping fl.ErrNotFinite for a NaN or Inf in delta.
func (l *Local) Privatize(delta []float64) error {
	for i, x := range delta {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: coordinate %d is %v", fl.ErrNotFinite, i, x)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.reserveLocked(); err != nil {
		return err
	}
	c := l.cfg.ClipNorm
	ClipL2(delta, delta, c)
	l.src.AddGaussian(delta, 2*l.z*c)
	l.parts++
	return nil
}

// Middleware returns client middleware that privatizes every update the
// client sends. It checks the budget before training, so a client whose
// budget is spent answers train requests with an error wrapping
// [ErrBudgetExhausted] and does no work.
func (l *Local) Middleware() fl.Middleware {
	return func(next fl.Handler) fl.Handler {
		return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
			if m.Type != fl.TypeTrain {
				return next.Handle(ctx, m)
			}
			if err := l.Reserve(); err != nil {
				return nil, err
			}
			r, err := next.Handle(ctx, m)
			if err != nil || r == nil || r.Type != fl.TypeUpdate {
				return r, err
			}
			if len(r.Payload) > 0 {
				return nil, ErrEncoded
			}
			if err := l.Privatize(r.Params); err != nil {
				return nil, err
			}
			return r, nil
		})
	}
}
