package privacy

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
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

// ErrRefused is returned by [Local]'s middleware for a request it will not
// answer: an evaluation when evaluation is refused (the default), or a
// message type that is neither train nor evaluate.
var ErrRefused = errors.New("privacy: the local-DP client refuses to answer")

// LocalEvaluation says what a [Local] does with evaluation requests.
type LocalEvaluation int

const (
	// EvaluationRefused (the default): evaluation requests are answered
	// with an error wrapping [ErrRefused]. An evaluation of parameters the
	// server chooses is a query on the client's data; answered in the clear
	// it can return the data itself.
	EvaluationRefused LocalEvaluation = iota
	// EvaluationPrivatized: an evaluation releases only the metrics named
	// in LocalConfig.EvalMetrics, each clamped to [0, bound], with the
	// same noise multiplier as the updates, and is accounted as one more
	// release against the client's budget.
	EvaluationPrivatized
)

// LocalStore keeps a [Local]'s spent budget across restarts. Load returns
// the last state saved (nil or empty when there is none); Save must make b
// durable before it returns (a Local saves before every release, so a
// crash after Save loses no spent budget). [MemoryStore] and [FileStore]
// implement it.
type LocalStore interface {
	Load() ([]byte, error)
	Save(b []byte) error
}

// LocalConfig configures [Local], one client's local differential privacy.
type LocalConfig struct {
	// ClipNorm is C: the update is clipped to L2 norm C. Required.
	ClipNorm float64
	// NoiseMultiplier is z: the client adds noise of standard deviation
	// 2zC to each coordinate. A local release has L2 sensitivity 2C (any
	// two clipped updates differ by at most 2C), so z is the multiplier the
	// accountant sees. 0 means calibrate from TargetEpsilon and Rounds.
	NoiseMultiplier float64
	// TargetEpsilon is the client's own budget ε at Delta over all its
	// releases; 0 means none (ε is still accounted).
	TargetEpsilon float64
	// Delta is the δ of the client's accounting; 0 means 1e-6.
	Delta float64
	// Rounds is the number of releases planned; required to calibrate z.
	Rounds int
	// Accountant is RDP (default) or PLD.
	Accountant accountant.Kind
	// Mechanism is the noise: the discrete Gaussian in fixed point
	// (default) or floating-point Gaussian noise.
	Mechanism Mechanism
	// Resolution is the fixed-point grid step γ of the discrete mechanism;
	// 0 means C/2^k, 2^k the smallest power of two ≥ √d·2^10 (see
	// [GridStep]).
	Resolution float64
	// Weight is the weight sent with every update, the same for every
	// client and round, so that it carries nothing about the data (the true
	// example count would); 0 means 1. It must be 0 with WeightBound.
	Weight float64
	// WeightBound, when > 0, replaces the constant Weight by the client's
	// example count privatized: the weight its trainer reports is clamped
	// to [0, B] (B = WeightBound, a whole number), rounded to an integer,
	// noised with standard deviation z·B/√ρ (the discrete Gaussian in
	// the integers, or Gaussian with [MechanismGaussian]) and released
	// clamped to [1, B]. Neighbouring clients' counts differ by at most B,
	// so B is the sensitivity. 0 means the constant Weight.
	WeightBound float64
	// WeightShare is ρ, the share of each release's privacy loss that the
	// noised weight takes; the update's noise rises to 2C·z/√(1−ρ) per
	// coordinate so that the pair costs exactly what an update alone costs
	// with a constant weight (see [Local]). 0 means 0.1 with WeightBound;
	// it must be 0 without. In (0, 1).
	WeightShare float64
	// Evaluation is what the client does with evaluation requests:
	// refuse them (default) or release privatized metrics.
	Evaluation LocalEvaluation
	// EvalMetrics names the metrics a privatized evaluation releases, with
	// the bound B of each: the value is clamped to [0, B] and noised; all
	// other metrics (the example count included) are dropped. Required
	// with EvaluationPrivatized.
	EvalMetrics map[string]float64
	// Store keeps the spent budget across restarts; nil means a
	// [MemoryStore], which does not survive the process.
	Store LocalStore
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
	if !c.Mechanism.valid() {
		bad("Mechanism = %d is unknown", c.Mechanism)
	}
	if !(c.Resolution >= 0) || math.IsInf(c.Resolution, 0) {
		bad("Resolution = %v, want finite and ≥ 0", c.Resolution)
	}
	if !(c.Weight >= 0) || math.IsInf(c.Weight, 0) {
		bad("Weight = %v, want finite and ≥ 0", c.Weight)
	}
	switch {
	case !(c.WeightBound >= 0) || c.WeightBound > maxWeightBound || c.WeightBound != math.Trunc(c.WeightBound):
		bad("WeightBound = %v, want a whole number in [0, 2^40]", c.WeightBound)
	case c.WeightBound > 0 && c.Weight != 0:
		bad("Weight = %v and WeightBound = %v: the weight is either constant or the noised count", c.Weight, c.WeightBound)
	case c.WeightBound == 0 && c.WeightShare != 0:
		bad("WeightShare = %v without WeightBound", c.WeightShare)
	}
	if !(c.WeightShare >= 0 && c.WeightShare < 1) {
		bad("WeightShare = %v, want in (0, 1), or 0 for the default", c.WeightShare)
	}
	switch c.Evaluation {
	case EvaluationRefused:
		if len(c.EvalMetrics) > 0 {
			bad("EvalMetrics is set but evaluation is refused")
		}
	case EvaluationPrivatized:
		if len(c.EvalMetrics) == 0 {
			bad("EvaluationPrivatized needs EvalMetrics")
		}
		for k, b := range c.EvalMetrics {
			if !finitePos(b) {
				bad("EvalMetrics[%q] = %v, want finite and > 0", k, b)
			}
		}
	default:
		bad("Evaluation = %d is unknown", c.Evaluation)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}

// maxWeightBound bounds LocalConfig.WeightBound: counts and their noise
// stay far inside the exact integers of the fixed-point grid.
const maxWeightBound = 1 << 40

// defaultWeightShare is LocalConfig.WeightShare's default.
const defaultWeightShare = 0.1

// Local is one client's local differential privacy: nothing leaves the
// client but differentially private releases, each accounted against the
// client's own budget before it leaves. A train reply carries only the
// update, clipped to C and noised (standard deviation 2zC per
// coordinate), and the constant LocalConfig.Weight (or, with WeightBound,
// the example count privatized): no loss, no raw example count, no
// training time. Evaluation is refused unless configured to
// release bounded, noised metrics, which are accounted like updates. Each
// release is one unsampled (q = 1) Gaussian mechanism, since the client
// knows it takes part; once the next release would exceed the budget the
// client refuses with an error wrapping [ErrBudgetExhausted]. The number of
// releases is saved to LocalConfig.Store before each release, so a client
// restarted with the same store keeps its spent budget.
//
// A noised weight (LocalConfig.WeightBound = B, WeightShare = ρ) is released
// with the update as one mechanism and accounted as one release at the
// same noise multiplier z. The update (sensitivity 2C) gets noise
// 2C·z/√(1−ρ) per coordinate and the count (sensitivity B) noise B·z/√ρ;
// for Gaussian noise on independent blocks the Rényi divergences add, so
// D_α ≤ α(1−ρ)/(2z²) + αρ/(2z²) = α/(2z²), the Gaussian mechanism with
// multiplier z that the accountant charges (and the pair's privacy loss
// is exactly that Gaussian's, so the PLD accountant holds as well; for
// the discrete mechanism the same caveats as for updates apply, see the
// package doc). The budget is thus split, not grown: ρ of each release's
// privacy loss (in μ² = 1/z²) goes to the count, 1−ρ to the update. With
// local DP the count's noise is large (σ = zB/√ρ, about 3B at z = 1 and
// the default ρ = 0.1): a single count is hidden, and only the average
// over many clients carries information.
//
// The host keeps one Local (or one Store) per client for the client's
// lifetime. A Local is safe for concurrent use.
type Local struct {
	cfg     LocalConfig
	z       float64
	maxPart int // releases the budget allows; -1 none
	names   []string
	bounds  []float64

	mu    sync.Mutex
	src   *Source
	parts int
}

// NewLocal validates cfg (copied), calibrates z when asked and restores the
// spent budget from cfg.Store. It returns an error wrapping [ErrConfig],
// [ErrState] for a stored state that is corrupt or belongs to another
// configuration, or [ErrBudgetExhausted] when the budget allows no release
// at all.
func NewLocal(cfg LocalConfig) (*Local, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Delta == 0 {
		cfg.Delta = 1e-6
	}
	if cfg.Weight == 0 && cfg.WeightBound == 0 {
		cfg.Weight = 1
	}
	if cfg.WeightBound > 0 && cfg.WeightShare == 0 {
		cfg.WeightShare = defaultWeightShare
	}
	if cfg.Store == nil {
		cfg.Store = &MemoryStore{}
	}
	src, err := NewSource(cfg.Random)
	if err != nil {
		return nil, err
	}
	l := &Local{cfg: cfg, z: cfg.NoiseMultiplier, src: src, maxPart: -1}
	for k := range cfg.EvalMetrics {
		l.names = append(l.names, k)
	}
	slices.Sort(l.names)
	for _, k := range l.names {
		l.bounds = append(l.bounds, cfg.EvalMetrics[k])
	}
	if l.z == 0 {
		l.z, err = accountant.CalibrateNoise(accountant.Target{
			Epsilon: cfg.TargetEpsilon, Delta: cfg.Delta, SampleRate: 1, Steps: cfg.Rounds,
		}, cfg.Accountant)
		if err != nil {
			return nil, fmt.Errorf("%w: calibrating the noise: %w", ErrConfig, err)
		}
	}
	if cfg.TargetEpsilon > 0 {
		if err := l.findMaxReleases(); err != nil {
			return nil, err
		}
	}
	if err := l.restore(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Local) findMaxReleases() error {
	k := 0
	for lo, hi := 0, 1; ; {
		e, err := l.epsilonAfter(hi)
		if err != nil {
			return err
		}
		if e > l.cfg.TargetEpsilon {
			for hi-lo > 1 { // ε(lo) ≤ target < ε(hi)
				mid := lo + (hi-lo)/2
				if e, err = l.epsilonAfter(mid); err != nil {
					return err
				}
				if e <= l.cfg.TargetEpsilon {
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
		return fmt.Errorf("%w: one release with noise multiplier %.4g exceeds ε = %v", ErrBudgetExhausted, l.z, l.cfg.TargetEpsilon)
	}
	l.maxPart = k
	return nil
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

// Local state format: magic, version, z, C, δ, target ε, mechanism, then
// the number of releases. Everything but the count must match the config.
const (
	localMagic     = "FGLD"
	localVersion   = 1
	localStateSize = len(localMagic) + 1 + 4*8 + 1 + 8
)

func (l *Local) marshalLocked(parts int) []byte {
	b := make([]byte, 0, localStateSize)
	b = append(b, localMagic...)
	b = append(b, localVersion)
	for _, x := range []float64{l.z, l.cfg.ClipNorm, l.cfg.Delta, l.cfg.TargetEpsilon} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	b = append(b, byte(l.cfg.Mechanism))
	return binary.LittleEndian.AppendUint64(b, uint64(parts))
}

// parseLocalState returns the release count of a state written for l's
// configuration, or an error wrapping [ErrState].
func (l *Local) parseLocalState(b []byte) (int, error) {
	if len(b) != localStateSize || string(b[:len(localMagic)]) != localMagic {
		return 0, fmt.Errorf("%w: %d bytes, not a Local state", ErrState, len(b))
	}
	p := b[len(localMagic):]
	if p[0] != localVersion {
		return 0, fmt.Errorf("%w: version %d, want %d", ErrState, p[0], localVersion)
	}
	p = p[1:]
	names := []string{"noise multiplier", "clip norm", "delta", "target epsilon"}
	for i, want := range []float64{l.z, l.cfg.ClipNorm, l.cfg.Delta, l.cfg.TargetEpsilon} {
		if got := math.Float64frombits(binary.LittleEndian.Uint64(p)); got != want {
			return 0, fmt.Errorf("%w: stored %s %v, configured %v", ErrState, names[i], got, want)
		}
		p = p[8:]
	}
	if Mechanism(p[0]) != l.cfg.Mechanism {
		return 0, fmt.Errorf("%w: stored mechanism %v, configured %v", ErrState, Mechanism(p[0]), l.cfg.Mechanism)
	}
	n := binary.LittleEndian.Uint64(p[1:])
	if n > maxBudgetRounds || (l.maxPart >= 0 && n > uint64(l.maxPart)) {
		return 0, fmt.Errorf("%w: %d releases stored, the budget allows %d", ErrState, n, l.maxPart)
	}
	return int(n), nil
}

func (l *Local) restore() error {
	b, err := l.cfg.Store.Load()
	if err != nil {
		return fmt.Errorf("privacy: loading the local budget: %w", err)
	}
	if len(b) == 0 {
		return nil
	}
	n, err := l.parseLocalState(b)
	if err != nil {
		return err
	}
	l.parts = n
	return nil
}

// NoiseMultiplier returns z.
func (l *Local) NoiseMultiplier() float64 { return l.z }

// MaxParticipations returns how many releases the budget allows, or -1
// with no budget.
func (l *Local) MaxParticipations() int { return l.maxPart }

// Participations returns how many releases (updates and privatized
// evaluations) the client has accounted, including those restored from
// the store.
func (l *Local) Participations() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.parts
}

// Epsilon returns the ε the client has spent at its δ, an upper bound.
func (l *Local) Epsilon() (float64, error) {
	return l.epsilonAfter(l.Participations())
}

// Reserve checks that one more release fits the budget. It returns an
// error wrapping [ErrBudgetExhausted] when it does not.
func (l *Local) Reserve() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reserveLocked()
}

func (l *Local) reserveLocked() error {
	if l.maxPart >= 0 && l.parts >= l.maxPart {
		return fmt.Errorf("%w: the client has made %d releases, its budget ε = %v at δ = %g allows %d",
			ErrBudgetExhausted, l.parts, l.cfg.TargetEpsilon, l.cfg.Delta, l.maxPart)
	}
	return nil
}

// spendLocked accounts one release: it checks the budget and saves the
// incremented count to the store before anything is released. A failed
// save leaves the count incremented in memory (the release is refused, the
// budget counted as spent: the store may hold either value).
func (l *Local) spendLocked() error {
	if err := l.reserveLocked(); err != nil {
		return err
	}
	l.parts++
	if err := l.cfg.Store.Save(l.marshalLocked(l.parts)); err != nil {
		return fmt.Errorf("privacy: saving the local budget (nothing released): %w", err)
	}
	return nil
}

// Privatize clips delta to C and adds noise of standard deviation 2zC to
// each coordinate, in place, and accounts one release (saved to the store
// first). It refuses with an error wrapping [ErrBudgetExhausted] (leaving
// delta alone) when the budget is spent, one wrapping fl.ErrNotFinite for
// a NaN or Inf in delta, and one wrapping [ErrRange] when the fixed-point
// grid does not fit.
//
// With a noised weight configured, the update's noise is 2zC/√(1−ρ), its
// share of the release (see [Local]).
func (l *Local) Privatize(delta []float64) error {
	_, err := l.privatize(delta, 0, false)
	return err
}

// updateMultiplier returns the update's noise multiplier: z, or z/√(1−ρ)
// with a noised weight.
func (l *Local) updateMultiplier() float64 {
	if l.cfg.WeightBound > 0 {
		return l.z / math.Sqrt(1-l.cfg.WeightShare)
	}
	return l.z
}

// privatize is Privatize; withWeight also privatizes count (the example
// count the trainer reported) in the same release and returns the weight
// to send, clamped to [1, WeightBound].
func (l *Local) privatize(delta []float64, count float64, withWeight bool) (float64, error) {
	if withWeight && (math.IsNaN(count) || math.IsInf(count, 0)) {
		return 0, fmt.Errorf("%w: the example count (weight) is %v", fl.ErrNotFinite, count)
	}
	for i, x := range delta {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, fmt.Errorf("%w: coordinate %d is %v", fl.ErrNotFinite, i, x)
		}
	}
	c, zu := l.cfg.ClipNorm, l.updateMultiplier()
	var gw *DiscreteGaussian
	var sw float64 // the count's noise standard deviation
	if withWeight {
		b := l.cfg.WeightBound
		sw = l.z / math.Sqrt(l.cfg.WeightShare) * b
		if l.cfg.Mechanism == MechanismDiscreteGaussian {
			var err error
			if gw, err = discreteFor(sw * (1 + 0x1p-40)); err != nil {
				return 0, fmt.Errorf("%w: %w", ErrConfig, err)
			}
		}
	}
	var g *DiscreteGaussian
	var gamma, clip float64
	if l.cfg.Mechanism == MechanismDiscreteGaussian && len(delta) > 0 {
		var err error
		gamma = GridStep(l.cfg.Resolution, c, len(delta))
		if clip, err = fixedClip(c, gamma, len(delta)); err != nil {
			return 0, err
		}
		// Neighbouring rounded updates differ by at most 2C/γ in L2.
		if g, err = discreteFor(2 * zu * c / gamma * (1 + 0x1p-40)); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.spendLocked(); err != nil {
		return 0, err
	}
	if g == nil {
		ClipL2(delta, delta, c)
		l.src.AddGaussian(delta, 2*zu*c)
	} else {
		ClipL2(delta, delta, clip)
		if err := roundToGrid(delta, 1, gamma, maxGridInt); err != nil {
			return 0, err
		}
		if err := addDiscreteGrid(delta, g, l.src, gamma); err != nil {
			return 0, err
		}
	}
	if !withWeight {
		return 0, nil
	}
	// Counts of neighbouring clients, clamped to [0, B] and rounded,
	// differ by at most B.
	b := l.cfg.WeightBound
	w := []float64{math.RoundToEven(min(max(count, 0), b))}
	if gw == nil {
		l.src.AddGaussian(w, sw)
	} else if err := addDiscreteGrid(w, gw, l.src, 1); err != nil {
		return 0, err
	}
	return min(max(w[0], 1), b), nil // post-processing
}

// privatizeMetrics clamps each configured metric of m to [0, B], noises
// the vector (sensitivity ‖B‖₂ under replacement) and accounts one
// release. A configured metric missing from m is an error (nothing is
// released).
func (l *Local) privatizeMetrics(m fl.Metrics) (fl.Metrics, error) {
	v := make([]float64, len(l.names))
	for i, k := range l.names {
		x, ok := m[k]
		if !ok || math.IsNaN(x) {
			return nil, fmt.Errorf("%w: evaluation metric %q is missing or NaN", fl.ErrNotFinite, k)
		}
		v[i] = min(max(x, 0), l.bounds[i])
	}
	var g *DiscreteGaussian
	var gamma float64
	if l.cfg.Mechanism == MechanismDiscreteGaussian {
		gamma = GridStep(l.cfg.Resolution, slices.Min(l.bounds), len(v))
		// Rounded values lie in [0, round(B_k/γ)]: that is the per-coordinate
		// sensitivity on the grid, exactly.
		var s2 float64
		for _, b := range l.bounds {
			r := math.RoundToEven(b / gamma)
			s2 += r * r
		}
		var err error
		if g, err = discreteFor(l.z * math.Sqrt(s2) * (1 + 0x1p-40)); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.spendLocked(); err != nil {
		return nil, err
	}
	if g == nil {
		l.src.AddGaussian(v, l.z*L2Norm(l.bounds))
	} else {
		if err := roundToGrid(v, 1, gamma, maxGridInt); err != nil {
			return nil, err
		}
		if err := addDiscreteGrid(v, g, l.src, gamma); err != nil {
			return nil, err
		}
	}
	out := make(fl.Metrics, len(v))
	for i, k := range l.names {
		out[k] = v[i]
	}
	return out, nil
}

// Middleware returns client middleware through which only privatized,
// accounted values leave the client:
//   - a train request is checked against the budget before training; the
//     reply is rebuilt from scratch and carries only the privatized update
//     and the constant weight, or the privatized example count with
//     WeightBound (no metrics);
//   - an evaluation request is refused with [ErrRefused], or (with
//     EvaluationPrivatized) answered with the privatized configured metrics
//     only, accounted as a release;
//   - every other message type is refused with [ErrRefused].
//
// It must sit inside compression and masking: an already encoded update is
// refused with [ErrEncoded].
func (l *Local) Middleware() fl.Middleware {
	return func(next fl.Handler) fl.Handler {
		return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
			switch m.Type {
			case fl.TypeTrain:
				return l.train(ctx, next, m)
			case fl.TypeEvaluate:
				if l.cfg.Evaluation != EvaluationPrivatized {
					return nil, fmt.Errorf("%w: evaluation (local DP releases only privatized updates)", ErrRefused)
				}
				return l.evaluate(ctx, next, m)
			}
			return nil, fmt.Errorf("%w: message type %q", ErrRefused, m.Type)
		})
	}
}

func (l *Local) train(ctx context.Context, next fl.Handler, m *fl.Message) (*fl.Message, error) {
	if err := l.Reserve(); err != nil {
		return nil, err
	}
	r, err := next.Handle(ctx, m)
	if err != nil {
		return nil, err
	}
	if r == nil || r.Type != fl.TypeUpdate {
		return nil, fmt.Errorf("%w: the trainer answered a train request with no update", ErrRefused)
	}
	if len(r.Payload) > 0 {
		return nil, ErrEncoded
	}
	params := append([]float64(nil), r.Params...)
	w, err := l.privatize(params, r.Weight, l.cfg.WeightBound > 0)
	if err != nil {
		return nil, err
	}
	if l.cfg.WeightBound == 0 {
		w = l.cfg.Weight
	}
	return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: params, Weight: w}, nil
}

func (l *Local) evaluate(ctx context.Context, next fl.Handler, m *fl.Message) (*fl.Message, error) {
	if err := l.Reserve(); err != nil {
		return nil, err
	}
	r, err := next.Handle(ctx, m)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("%w: the evaluator returned no metrics", ErrRefused)
	}
	met, err := l.privatizeMetrics(r.Metrics)
	if err != nil {
		return nil, err
	}
	return &fl.Message{Type: fl.TypeMetrics, Round: m.Round, Metrics: met}, nil
}

// MemoryStore is a [LocalStore] in memory: it survives handler re-creation
// but not the process. It is safe for concurrent use.
type MemoryStore struct {
	mu sync.Mutex
	b  []byte
}

// Load returns a copy of the last state saved.
func (s *MemoryStore) Load() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b), nil
}

// Save keeps a copy of b.
func (s *MemoryStore) Save(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = bytes.Clone(b)
	return nil
}

// FileStore is a [LocalStore] in one file, written atomically: Save writes
// a temporary file in the same directory, syncs it, renames it over the
// path and syncs the directory, so the file always holds a whole state and
// a returned Save is durable. Load of a missing file returns no state. It
// is safe for concurrent use within one process; one FileStore per file.
type FileStore struct {
	Path string
	mu   sync.Mutex
}

// maxLocalStateFile bounds what Load reads.
const maxLocalStateFile = 1 << 12

// Load returns the file's contents, or nil if it does not exist.
func (s *FileStore) Load() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.Open(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxLocalStateFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxLocalStateFile {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrState, s.Path, maxLocalStateFile)
	}
	return b, nil
}

// Save replaces the file's contents with b, durably.
func (s *FileStore) Save(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := filepath.Dir(s.Path)
	tmp, err := os.CreateTemp(dir, filepath.Base(s.Path)+".tmp*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, s.Path)
	}
	if err != nil {
		os.Remove(name)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
