package privacy

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/privacy/accountant"
)

// Keys that [CentralDP.Record] writes to fl.RoundStats.Extra.
const (
	KeyEpsilon           = "epsilon"            // ε spent so far (upper bound), at KeyDelta
	KeyDelta             = "delta"              // the δ of the budget
	KeyNoiseMultiplier   = "noise_multiplier"   // the accounted (effective) noise multiplier z
	KeyClipNorm          = "clip_norm"          // the clip norm C used in the round
	KeyUnclippedFraction = "unclipped_fraction" // adaptive clipping: the noised fraction b̃ of unclipped updates
)

// CentralConfig configures [CentralDP]. Zero fields take the defaults in
// their comments; [DefaultCentralConfig] spells them out.
type CentralConfig struct {
	// ClipNorm is the L2 bound C on each client's update (with adaptive
	// clipping, its initial value). Required.
	ClipNorm float64

	// NoiseMultiplier is z, the accounted noise multiplier: noise of
	// standard deviation z·S is added to the sum of clipped updates,
	// where S is the sum's L2 sensitivity (C for Poisson sampling, 2C for
	// fixed-size sampling, under which neighbours replace one client).
	// With adaptive clipping z is the effective multiplier of the update
	// and the count released together (see [UpdateNoiseMultiplier]); the
	// updates get slightly more noise. 0 means: calibrate z so that Rounds
	// rounds meet TargetEpsilon under the bound the Mechanism is accounted
	// with (see [CentralDP.AccountingStep]); with no target, 0 means no
	// noise at all (clipping only, no privacy: nothing is accounted).
	NoiseMultiplier float64

	// TargetEpsilon is the budget ε at Delta; 0 means no budget (ε spent is
	// still recorded when there is noise). With a budget, Check refuses
	// a round that would exceed it.
	TargetEpsilon float64
	// Delta is the δ at which ε is accounted. 0 means 1/N^1.1 (below 1/N,
	// as user-level DP needs).
	Delta float64
	// Rounds is the number of rounds planned; required to calibrate z.
	Rounds int
	// Accountant is the accountant: RDP (default) or PLD. The PLD
	// accountant has no bound for the discrete Gaussian, so it needs
	// Mechanism = MechanismGaussian (Validate refuses it otherwise).
	Accountant accountant.Kind

	// Population is N, the number of clients. Required.
	Population int
	// SampleRate is q: each client's probability to be sampled in a round
	// (Poisson), or m/N for fixed-size sampling of m clients. Required.
	SampleRate float64
	// Sampling is how the server samples: accountant.Poisson (default, use
	// fl.Poisson{Q: SampleRate}) or accountant.FixedSize (fl.Uniform{Count:
	// m}). [CentralDP.Sampler] returns the matching fl.Sampler.
	Sampling accountant.Sampling

	// WeightCap is ŵ of McMahan et al.'s bounded-weight estimator: client k
	// gets weight w_k = min(n_k/ŵ, 1) with n_k its Update.Weight, and the
	// estimate is Σ w_k Δ_k / (qW). 0 means unweighted: w_k = 1, W = N.
	WeightCap float64
	// TotalWeight is W = Σ_k min(n_k/ŵ, 1) over the whole population,
	// required with WeightCap (the host knows it, or a public lower bound
	// of it — a lower bound only adds bias, never privacy loss).
	TotalWeight float64

	// ClientClipped says the clients clip their own updates, as secure
	// aggregation requires (the server sees only the sum; package
	// secagg/fedround clips on the clients to [CentralDP.ClipNorm]). It
	// excludes WeightCap and Adaptive. Aggregate clips each update all the
	// same (a no-op on clipped ones), so that a client that did not clip
	// cannot raise the sum's sensitivity.
	ClientClipped bool

	// Adaptive turns on adaptive clipping (Andrew et al. 2021): after each
	// round, C ← C·exp(−ClipLR·(b̃ − TargetQuantile)), where b̃ is the
	// noised fraction of updates with norm ≤ C.
	Adaptive bool
	// TargetQuantile is γ; 0 means 0.5.
	TargetQuantile float64
	// ClipLR is η_C; 0 means 0.2.
	ClipLR float64
	// CountNoise is σ_b, the standard deviation of the noise on the count of
	// unclipped updates; 0 means qN/20.
	CountNoise float64

	// Mechanism is the noise: the exact discrete Gaussian in fixed point
	// (default, [MechanismDiscreteGaussian]) or floating-point Gaussian
	// noise ([MechanismGaussian], whose low-order bits leak).
	Mechanism Mechanism
	// Resolution is the grid step γ of the discrete mechanism; 0 means C/2^k, 2^k
	// the smallest power of two ≥ √d·2^10, for the clip norm C of the round
	// and the dimension d (see [GridStep]). Updates are clipped to C minus
	// [RoundingMargin] before rounding, so the accounted sensitivity holds
	// exactly; a γ so coarse that the margin reaches C is refused at the
	// release with [ErrRange].
	Resolution float64

	// Random keys the noise source; nil means crypto/rand. Inject a seeded
	// reader only for tests and reproducible simulations.
	Random io.Reader
}

// DefaultCentralConfig returns the defaults for N clients sampled with
// Poisson rate q: C = 1, a budget of ε = 3 at δ = 1/N^1.1 over rounds
// rounds, calibrated z, RDP accounting.
func DefaultCentralConfig(n int, q float64, rounds int) CentralConfig {
	return CentralConfig{
		ClipNorm: 1, TargetEpsilon: 3, Delta: math.Pow(float64(n), -1.1), Rounds: rounds,
		Population: n, SampleRate: q, Sampling: accountant.Poisson, Accountant: accountant.KindRDP,
		TargetQuantile: DefaultTargetQuantile, ClipLR: DefaultClipLR,
	}
}

func finitePos(x float64) bool { return x > 0 && !math.IsInf(x, 0) }

// Validate reports every field out of range and every contradiction.
func (c *CentralConfig) Validate() error {
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
	if !(c.Delta >= 0 && c.Delta < 1) {
		bad("Delta = %v, want in [0, 1)", c.Delta)
	}
	if c.Rounds < 0 {
		bad("Rounds = %d, want ≥ 0", c.Rounds)
	}
	if c.NoiseMultiplier == 0 && c.TargetEpsilon > 0 && c.Rounds == 0 {
		bad("calibrating the noise to TargetEpsilon needs Rounds > 0")
	}
	if c.Accountant != accountant.KindRDP && c.Accountant != accountant.KindPLD {
		bad("Accountant = %d is unknown", c.Accountant)
	}
	if c.Population < 1 {
		bad("Population = %d, want ≥ 1", c.Population)
	}
	step := accountant.Step{NoiseMultiplier: 1, SampleRate: c.SampleRate, Sampling: c.Sampling, Population: c.Population}
	if err := step.Validate(); err != nil {
		bad("sampling: %v", err)
	}
	if c.WeightCap != 0 {
		if !finitePos(c.WeightCap) || !finitePos(c.TotalWeight) {
			bad("WeightCap = %v and TotalWeight = %v, want both finite and > 0", c.WeightCap, c.TotalWeight)
		} else if c.TotalWeight > float64(c.Population) {
			bad("TotalWeight = %v exceeds Population = %d (each weight is at most 1)", c.TotalWeight, c.Population)
		}
	} else if c.TotalWeight != 0 {
		bad("TotalWeight is set without WeightCap")
	}
	if c.ClientClipped && (c.WeightCap != 0 || c.Adaptive) {
		bad("ClientClipped excludes WeightCap and Adaptive (the server sees no individual update)")
	}
	if !(c.TargetQuantile >= 0 && c.TargetQuantile < 1) {
		bad("TargetQuantile = %v, want in [0, 1)", c.TargetQuantile)
	}
	if !(c.ClipLR >= 0) || math.IsInf(c.ClipLR, 0) {
		bad("ClipLR = %v, want finite and ≥ 0", c.ClipLR)
	}
	if !(c.CountNoise >= 0) || math.IsInf(c.CountNoise, 0) {
		bad("CountNoise = %v, want finite and ≥ 0", c.CountNoise)
	}
	if !c.Mechanism.valid() {
		bad("Mechanism = %d is unknown", c.Mechanism)
	}
	if !(c.Resolution >= 0) || math.IsInf(c.Resolution, 0) {
		bad("Resolution = %v, want finite and ≥ 0", c.Resolution)
	}
	if c.Mechanism == MechanismDiscreteGaussian && c.Accountant == accountant.KindPLD && (c.NoiseMultiplier > 0 || c.TargetEpsilon > 0) {
		bad("Accountant = PLD with the discrete Gaussian mechanism: the PLD accountant has no proven bound for " +
			"the discrete Gaussian; use the RDP accountant (the default) or MechanismGaussian")
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}

// CentralDP is DP-FedAvg with central differential privacy (McMahan et
// al. 2018, "Learning Differentially Private Recurrent Language Models",
// Algorithm 1 with the fixed-denominator estimator f̃_f): it clips each
// update to L2 norm C, sums them (weights w_k ≤ 1), adds N(0, (z·S)²) noise
// to every coordinate of the sum, and divides by the expected total weight
// qW (qN when unweighted) — never by the number of updates that arrived,
// which would depend on who took part.
//
// It is an [fl.Privacy] (fl.ServerConfig.Privacy) and the aggregator the
// server then uses in place of FedAvg; any
// [fl.ServerOptimizer] then steps along its output (post-processing). It
// computes the sum itself rather than wrapping another aggregator: a robust
// or weighted rule has a different sensitivity, which the accounting below
// would not cover.
//
// It holds the privacy accounting: [CentralDP.Check] refuses a round
// that would exceed the budget (the server then stops with an error
// wrapping [ErrBudgetExhausted] and keeps the last allowed model), and
// [CentralDP.Record] writes ε spent into the round's stats. Its state
// (rounds accounted, adaptive clip norm, and the noise generator when it is
// seeded) survives checkpoints through MarshalBinary/UnmarshalBinary.
//
// A CentralDP is not safe for concurrent use; the server calls it from the
// goroutine that runs the rounds.
type CentralDP struct {
	cfg       CentralConfig
	src       *Source
	z         float64 // accounted noise multiplier (0: no noise)
	zUpdate   float64 // multiplier of the update noise (> z with adaptive clipping)
	sigmaB    float64 // count noise σ_b (adaptive)
	denom     float64 // qW
	expected  float64 // qN
	sensMul   float64 // S/C: 1 (Poisson) or 2 (fixed-size)
	maxRounds int     // rounds the budget allows; -1 for no budget

	clip     float64 // current clip norm
	steps    int     // noised releases accounted
	lastClip float64 // clip norm used by the last release
	lastFrac float64 // b̃ of the last release (adaptive)
	epsSteps int     // steps at which epsCache was computed (-1 none)
	epsCache float64

	noiseDG, countDG dgCache // discrete Gaussians of the last release
}

var (
	_ fl.Aggregator = (*CentralDP)(nil)
	_ fl.Privacy    = (*CentralDP)(nil)
)

// maxBudgetRounds caps the rounds a budget is searched over.
const maxBudgetRounds = 1 << 30

// NewCentralDP validates cfg (copied), calibrates the noise multiplier
// when the config asks for it, and computes how many rounds the budget
// allows. It returns an error wrapping [ErrConfig] for a bad config and
// [ErrBudgetExhausted] when the budget does not allow even one round.
func NewCentralDP(cfg CentralConfig) (*CentralDP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := float64(cfg.Population)
	if cfg.Delta == 0 {
		cfg.Delta = math.Pow(n, -1.1)
	}
	if cfg.TargetQuantile == 0 {
		cfg.TargetQuantile = DefaultTargetQuantile
	}
	if cfg.ClipLR == 0 {
		cfg.ClipLR = DefaultClipLR
	}
	d := &CentralDP{cfg: cfg, clip: cfg.ClipNorm, lastClip: cfg.ClipNorm, maxRounds: -1, epsSteps: -1, sensMul: 1}
	d.expected = cfg.SampleRate * n
	if cfg.Sampling == accountant.FixedSize {
		d.sensMul = 2
		d.expected = math.Round(d.expected)
	}
	d.denom = d.expected
	if cfg.WeightCap > 0 {
		d.denom = cfg.SampleRate * cfg.TotalWeight
	}
	if cfg.Adaptive {
		d.sigmaB = cfg.CountNoise
		if d.sigmaB == 0 {
			d.sigmaB = DefaultCountNoiseFrac * d.expected
		}
	}
	src, err := NewSource(cfg.Random)
	if err != nil {
		return nil, err
	}
	d.src = src

	d.z = cfg.NoiseMultiplier
	if d.z == 0 && cfg.TargetEpsilon > 0 {
		if d.z, err = d.calibrate(); err != nil {
			return nil, fmt.Errorf("%w: calibrating the noise: %w", ErrConfig, err)
		}
	}
	d.zUpdate = d.z
	if d.z > 0 && cfg.Adaptive {
		d.zUpdate, err = UpdateNoiseMultiplier(d.z, d.sigmaB, d.countSensitivity())
		if err != nil {
			return nil, err
		}
	}
	if d.z > 0 && cfg.Adaptive && cfg.Mechanism == MechanismDiscreteGaussian {
		// The count's discrete Gaussian is built once, here: a σ_b the
		// sampler cannot take is refused before any release, never replaced
		// by floating-point noise the accounting does not cover.
		if _, err := d.countDG.get(2 * d.sigmaB); err != nil {
			return nil, fmt.Errorf("%w: count noise σ_b = %v: %w", ErrConfig, d.sigmaB, err)
		}
	}
	if cfg.TargetEpsilon > 0 {
		if err := d.findMaxRounds(); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// unitDiscreteNoise returns the accountant's description of one release of
// the discrete mechanism with noise multiplier z, in units of the release's
// L2 sensitivity L on the grid (one client's rounded contribution:
// L = C/γ for Aggregate, C/γ + √d for NoiseSum): L2 = L1 = 1 and Variance
// = (z·S/C)², where S/C is 1 for Poisson and 2 for fixed-size sampling
// (the noise is scaled for the replace-one sensitivity 2L, which the
// accountant derives from L2 itself). For one share the accountant's bound
// is α·(f·L2)²/(2·Variance) at every order (f = 1, or 2 for replace-one):
// it depends on L2 and Variance only through their ratio, and on L1 and Dim
// not at all (they enter through τ, which is 0 for one share, and through
// min(L2, L1) = L2, as ‖Δ‖₂ ≤ ‖Δ‖₁). So this unit step has exactly the ε of
// the release on its grid — {Variance (z·S/C·L)², L2 = L, L1 = √d·L,
// Dim = d} — whatever C, γ and d are; the release's own σ² is that
// variance rounded up (see [CentralDP.AccountingStep]).
func unitDiscreteNoise(z, sensMul float64) *accountant.DiscreteNoise {
	v := z * sensMul
	return &accountant.DiscreteNoise{Kind: accountant.DistributedDiscreteGaussian, Shares: 1, Variance: v * v, L2: 1, L1: 1}
}

// calibrate returns the smallest noise multiplier z (to the accountant's
// relative [accountant.CalibrationTolerance]) with which Rounds releases
// meet the budget under the bound the mechanism is accounted with: the
// discrete Gaussian's ([accountant.CalibrateDiscrete]) or the Gaussian's
// ([accountant.CalibrateNoise]).
func (d *CentralDP) calibrate() (float64, error) {
	cfg := &d.cfg
	t := accountant.Target{
		Epsilon: cfg.TargetEpsilon, Delta: cfg.Delta, SampleRate: cfg.SampleRate, Steps: cfg.Rounds,
		Sampling: cfg.Sampling, Population: cfg.Population,
	}
	if cfg.Mechanism != MechanismDiscreteGaussian {
		return accountant.CalibrateNoise(t, cfg.Accountant)
	}
	v, err := accountant.CalibrateDiscrete(t, *unitDiscreteNoise(1, 1))
	if err != nil {
		return 0, err
	}
	// z·S/C must square to at least v, which met the target: step z up
	// past the float rounding of the square root.
	z := math.Sqrt(v) / d.sensMul
	for x := z * d.sensMul; x*x < v; x = z * d.sensMul {
		z = math.Nextafter(z, math.Inf(1))
	}
	return z, nil
}

// AccountingStep returns the step each release is accounted with; composing
// it Rounds times gives [CentralDP.Epsilon]. For [MechanismGaussian] it is
// the sampled Gaussian of noise multiplier z (Step.NoiseMultiplier). For the
// default [MechanismDiscreteGaussian] it is the discrete Gaussian with one
// share (Step.Discrete), in units of the release's grid sensitivity: see
// the package doc, "Accounting: which bound for which mechanism". With no noise
// (z = 0) nothing is accounted and the step's noise fields are zero.
func (d *CentralDP) AccountingStep() accountant.Step {
	s := accountant.Step{SampleRate: d.cfg.SampleRate, Sampling: d.cfg.Sampling, Population: d.cfg.Population}
	switch {
	case d.z == 0:
	case d.cfg.Mechanism == MechanismDiscreteGaussian:
		s.Discrete = unitDiscreteNoise(d.z, d.sensMul)
	default:
		s.NoiseMultiplier = d.z
	}
	return s
}

// countSensitivity is the L2 sensitivity of the centred count Σ(bᵢ − 1/2).
func (d *CentralDP) countSensitivity() float64 {
	if d.cfg.Sampling == accountant.FixedSize {
		return 1
	}
	return 0.5
}

// epsilonAfter returns the ε of k releases at the config's δ.
func (d *CentralDP) epsilonAfter(k int) (float64, error) {
	if k == 0 {
		return 0, nil
	}
	if k == d.epsSteps {
		return d.epsCache, nil
	}
	var eps float64
	var err error
	if d.cfg.Accountant == accountant.KindPLD {
		eps, err = epsilonPLD(d.AccountingStep(), k, d.cfg.Delta)
	} else {
		eps, err = epsilonOf(d.AccountingStep(), k, d.cfg.Delta)
	}
	if err != nil {
		return 0, err
	}
	d.epsSteps, d.epsCache = k, eps
	return eps, nil
}

// epsilonOf returns the ε at δ of k compositions of step by the RDP
// accountant with its default orders; +Inf when no order gives a finite ε.
func epsilonOf(step accountant.Step, k int, delta float64) (float64, error) {
	a, err := accountant.NewRDP(nil)
	if err != nil {
		return 0, err
	}
	if err := a.Compose(step, k); err != nil {
		return 0, err
	}
	eps, _, err := a.Epsilon(delta)
	if err != nil {
		return math.Inf(1), nil
	}
	return eps, nil
}

// epsilonPLD is epsilonOf with the PLD accountant (Gaussian steps only).
func epsilonPLD(step accountant.Step, k int, delta float64) (float64, error) {
	a, err := accountant.NewPLD(accountant.PLDConfig{})
	if err != nil {
		return 0, err
	}
	if err := a.Compose(step, k); err != nil {
		return 0, err
	}
	eps, err := a.Epsilon(delta)
	if err != nil {
		return math.Inf(1), nil
	}
	return eps, nil
}

// findMaxRounds sets maxRounds to the largest k with ε(k) ≤ target.
func (d *CentralDP) findMaxRounds() error {
	target := d.cfg.TargetEpsilon
	if d.z == 0 {
		return fmt.Errorf("%w: a budget needs noise", ErrConfig)
	}
	within := func(k int) (bool, error) {
		e, err := d.epsilonAfter(k)
		return e <= target, err
	}
	ok, err := within(1)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if !ok {
		e, _ := d.epsilonAfter(1)
		return fmt.Errorf("%w: one round with noise multiplier %.4g already spends ε = %.4g > %v", ErrBudgetExhausted, d.z, e, target)
	}
	// Gallop up from the planned rounds (which calibration made fit, and
	// usually just so) and bisect.
	lo := 1
	if r := d.cfg.Rounds; r > 1 {
		if ok, err = within(r); err != nil {
			return err
		}
		if ok {
			lo = r
		}
	}
	for gap := 1; ; gap *= 2 {
		hi := lo + gap
		if hi > maxBudgetRounds {
			d.maxRounds = maxBudgetRounds
			return nil
		}
		if ok, err = within(hi); err != nil {
			return err
		}
		if !ok {
			return d.bisectRounds(lo, hi, within)
		}
		lo = hi
	}
}

// bisectRounds sets maxRounds to the largest k in [lo, hi) within budget,
// given within(lo) and !within(hi).
func (d *CentralDP) bisectRounds(lo, hi int, within func(int) (bool, error)) error {
	for hi-lo > 1 { // within(lo) and !within(hi)
		mid := lo + (hi-lo)/2
		ok, err := within(mid)
		if err != nil {
			return err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	d.maxRounds = lo
	return nil
}

// NoiseMultiplier returns the accounted noise multiplier z (calibrated or
// configured); 0 when there is no noise.
func (d *CentralDP) NoiseMultiplier() float64 { return d.z }

// UpdateNoiseMultiplier returns the multiplier of the noise on the updates:
// z, or z_Δ > z with adaptive clipping.
func (d *CentralDP) UpdateNoiseMultiplier() float64 { return d.zUpdate }

// ClipNorm returns the clip norm the next round will use.
func (d *CentralDP) ClipNorm() float64 { return d.clip }

// Delta returns the δ at which ε is accounted.
func (d *CentralDP) Delta() float64 { return d.cfg.Delta }

// Rounds returns the number of noised releases accounted so far.
func (d *CentralDP) Rounds() int { return d.steps }

// MaxRounds returns how many rounds the budget allows, or -1 with no
// budget.
func (d *CentralDP) MaxRounds() int { return d.maxRounds }

// Denominator returns the fixed denominator qW (qN when unweighted).
func (d *CentralDP) Denominator() float64 { return d.denom }

// NoiseStddev returns the standard deviation of the noise that the next
// round adds to each coordinate of the aggregate, after division by the
// denominator: z_Δ·S/(qW).
func (d *CentralDP) NoiseStddev() float64 {
	return d.zUpdate * d.sensMul * d.clip / d.denom
}

// Epsilon returns the ε spent so far at [CentralDP.Delta], an upper bound;
// +Inf when there is no noise and a round has run.
func (d *CentralDP) Epsilon() (float64, error) {
	if d.steps == 0 {
		return 0, nil
	}
	if d.z == 0 {
		return math.Inf(1), nil
	}
	return d.epsilonAfter(d.steps)
}

// Sampler returns the fl.Sampler the accounting assumes: fl.Poisson{Q: q},
// or fl.Uniform{Count: m} for fixed-size sampling. The server must use it
// over exactly Population clients.
func (d *CentralDP) Sampler() fl.Sampler {
	if d.cfg.Sampling == accountant.FixedSize {
		return fl.Uniform{Count: int(d.expected)}
	}
	return fl.Poisson{Q: d.cfg.SampleRate}
}

// Check implements [fl.Privacy]: with a budget, it returns an error
// wrapping [ErrBudgetExhausted] (and fl.ErrBudget) when one more release
// would exceed it. With fixed-size sampling it also refuses a registered
// population smaller than Population: m clients drawn from fewer than N
// are sampled at a higher rate than the m/N accounted.
func (d *CentralDP) Check(round, population int) error {
	if d.cfg.Sampling == accountant.FixedSize && population < d.cfg.Population {
		return fmt.Errorf("%w: fixed-size sampling of %d is accounted over Population = %d clients, but only %d are registered",
			ErrConfig, int(d.expected), d.cfg.Population, population)
	}
	return d.checkBudget(round)
}

// checkBudget returns an error when one more release would exceed the
// budget.
func (d *CentralDP) checkBudget(round int) error {
	if !d.exhausted() {
		return nil
	}
	spent, _ := d.epsilonAfter(d.steps)
	next, _ := d.epsilonAfter(d.steps + 1)
	return fmt.Errorf("%w: round %d would bring ε from %.4g to %.4g > %v at δ = %.3g",
		ErrBudgetExhausted, round, spent, next, d.cfg.TargetEpsilon, d.cfg.Delta)
}

// Aggregator implements [fl.Privacy]: the CentralDP itself.
func (d *CentralDP) Aggregator() fl.Aggregator { return d }

// Record implements [fl.Privacy]: it writes ε spent so far,
// δ, the noise multiplier, the clip norm of the round and, with adaptive
// clipping, the noised unclipped fraction b̃ to stats.Extra. Without noise
// it writes only the clip norm (ε is infinite).
func (d *CentralDP) Record(stats *fl.RoundStats) {
	if stats.Extra == nil {
		stats.Extra = fl.Metrics{}
	}
	stats.Extra[KeyClipNorm] = d.lastClip
	if d.z == 0 {
		return
	}
	if eps, err := d.Epsilon(); err == nil && !math.IsInf(eps, 0) {
		stats.Extra[KeyEpsilon] = eps
	}
	stats.Extra[KeyDelta] = d.cfg.Delta
	stats.Extra[KeyNoiseMultiplier] = d.z
	if d.cfg.Adaptive {
		stats.Extra[KeyUnclippedFraction] = d.lastFrac
	}
}

// Aggregate implements [fl.Aggregator]: dst = (Σ_k w_k·clip(Δ_k, C) +
// noise) / (qW), where the noise has standard deviation z_Δ·S per
// coordinate: exact discrete Gaussian noise on a fixed-point grid with the
// default [MechanismDiscreteGaussian] (see [CentralConfig.Mechanism]), or
// N(0, (z_Δ·S)²) with [MechanismGaussian]. It returns an error and
// accounts nothing for no updates, a wrong length, a non-finite value or
// weight, a value out of the fixed-point range ([ErrRange]), or a round
// beyond the budget ([ErrBudgetExhausted]: the budget is checked again at
// the release itself, whatever the engine does). It does not allocate and
// does not modify the updates.
func (d *CentralDP) Aggregate(dst []float64, updates []fl.Update) error {
	if len(updates) == 0 {
		return fl.ErrNoUpdates
	}
	for i := range updates {
		if err := fl.CheckUpdate(&updates[i], len(dst)); err != nil {
			return err
		}
	}
	if err := fl.CheckDst(dst, updates); err != nil {
		return err
	}
	if err := d.gate(); err != nil {
		return err
	}
	c := d.clip
	var unclipped int
	var count *DiscreteGaussian
	if d.discrete() {
		gamma, clip, err := d.grid(c, len(dst))
		if err != nil {
			return err
		}
		if d.cfg.Adaptive {
			// Built by NewCentralDP for this σ_b, which never changes.
			if count, err = d.countDG.get(2 * d.sigmaB); err != nil {
				return fmt.Errorf("%w: count noise: %w", ErrRange, err)
			}
		}
		if float64(len(updates))*(c/gamma+1) >= maxGridInt {
			return fmt.Errorf("%w: %d updates of clip norm %v on a grid of step %v", ErrRange, len(updates), c, gamma)
		}
		if unclipped, err = d.sum(dst, updates, c, clip, 1/gamma); err != nil {
			return err
		}
		// Each rounded update has norm ≤ C/γ: the server clipped it to C
		// minus the rounding margin, ClientClipped or not.
		if err := d.releaseDiscrete(dst, c, gamma, 0); err != nil {
			return err
		}
	} else {
		unclipped, _ = d.sum(dst, updates, c, c, 1) // no rounding: no range error
		d.releaseFloat(dst, c)
	}
	if d.cfg.Adaptive {
		d.adaptClip(c, unclipped, len(updates), count)
	}
	return nil
}

// sum writes Σ_k w_k·clip(Δ_k, clip) to dst, each term scaled by scale and,
// when scale ≠ 1 (the fixed-point grid), rounded to an integer, so that the
// sum of integers is exact. It returns how many updates had norm ≤ c, or an
// error wrapping [ErrRange] if a rounded term is so large (a client that
// did not clip, with ClientClipped) that the integer sum might not be
// exact.
func (d *CentralDP) sum(dst []float64, updates []fl.Update, c, clip, scale float64) (int, error) {
	clear(dst)
	unclipped := 0
	limit := float64(maxGridInt / len(updates))
	for i := range updates {
		u := &updates[i]
		// Clip whatever the config says about the clients: an update
		// that a careless client did not clip must not reach the sum.
		norm := L2Norm(u.Delta)
		if norm <= c {
			unclipped++
		}
		f := scale * ClipFactor(norm, clip)
		if d.cfg.WeightCap > 0 {
			f *= min(u.Weight/d.cfg.WeightCap, 1)
		}
		if scale == 1 {
			for j, x := range u.Delta {
				dst[j] += f * x
			}
			continue
		}
		for j, x := range u.Delta {
			r := math.RoundToEven(f * x)
			if !(math.Abs(r) <= limit) {
				return 0, fmt.Errorf("%w: client %q coordinate %d is %v grid steps", ErrRange, u.Client, j, r)
			}
			dst[j] += r
		}
	}
	return unclipped, nil
}

// adaptClip noises the centred count Σ(bᵢ − 1/2) of unclipped updates
// (sensitivity 1/2 with Poisson sampling, 1 with fixed-size), normalises it
// by the expected number of clients and moves the clip norm. With the
// discrete mechanism (count not nil) the count is doubled to an integer and
// noised with count, the discrete Gaussian of parameter ⌈(2σ_b)²⌉.
func (d *CentralDP) adaptClip(c float64, unclipped, n int, count *DiscreteGaussian) {
	centred := float64(unclipped) - 0.5*float64(n)
	switch {
	case count != nil:
		centred = float64(int64(2*unclipped-n)+count.Sample(d.src)) / 2
	case d.z > 0:
		centred += d.sigmaB * d.src.Normal()
	}
	d.lastFrac = centred/d.expected + 0.5
	d.clip = GeometricClipUpdate(c, d.cfg.ClipLR, d.lastFrac, d.cfg.TargetQuantile)
}

// NoiseSum implements [fl.Privacy]: it privatizes a sum of updates that
// clients clipped themselves to [CentralDP.ClipNorm] (secure aggregation
// hands the server only the sum): sum = (sum + noise) / (qN), in place, and
// one round is accounted. With the discrete mechanism the sum is rounded to
// the fixed-point grid, which can move it by up to √d/2 grid steps: the
// noise is raised to z·(S/γ + √d) grid steps so that the accounted z holds.
// It returns an error wrapping [ErrConfig] for a config it cannot serve
// (see [CentralDP.CheckSecure]), one wrapping fl.ErrNotFinite for a
// non-finite sum, [ErrRange] for a sum out of the fixed-point range and
// [ErrBudgetExhausted] beyond the budget.
func (d *CentralDP) NoiseSum(sum []float64) error {
	if err := d.CheckSecure(); err != nil {
		return err
	}
	for i, x := range sum {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: sum coordinate %d is %v", fl.ErrNotFinite, i, x)
		}
	}
	if err := d.gate(); err != nil {
		return err
	}
	c := d.clip
	if !d.discrete() {
		d.releaseFloat(sum, c)
		return nil
	}
	gamma, _, err := d.grid(c, len(sum))
	if err != nil {
		return err
	}
	for j, x := range sum {
		if !(math.Abs(x/gamma) < maxGridInt/2) {
			return fmt.Errorf("%w: sum coordinate %d is %v, %v grid steps", ErrRange, j, x, x/gamma)
		}
	}
	if err := roundToGrid(sum, 1, gamma, maxGridInt/2); err != nil {
		return err
	}
	return d.releaseDiscrete(sum, c, gamma, math.Sqrt(float64(len(sum))))
}

// CheckSecure reports whether NoiseSum can privatize a sum it never sees
// the parts of: capped weights and adaptive clipping need each client's
// update, so they are refused.
func (d *CentralDP) CheckSecure() error {
	if d.cfg.WeightCap != 0 || d.cfg.Adaptive {
		return fmt.Errorf("%w: WeightCap and Adaptive need the individual updates, which secure aggregation hides", ErrConfig)
	}
	return nil
}

// discrete reports whether releases use the fixed-point discrete Gaussian
// (with no noise at all there is nothing to discretize).
func (d *CentralDP) discrete() bool {
	return d.cfg.Mechanism == MechanismDiscreteGaussian && d.z > 0
}

// grid returns the grid step γ for clip norm c in dimension n and the clip
// norm that keeps rounded updates within c.
func (d *CentralDP) grid(c float64, n int) (gamma, clip float64, err error) {
	if n == 0 {
		return 0, 0, fmt.Errorf("%w: empty vector", ErrRange)
	}
	gamma = GridStep(d.cfg.Resolution, c, n)
	clip, err = fixedClip(c, gamma, n)
	return gamma, clip, err
}

// exhausted reports whether the budget allows no more release.
func (d *CentralDP) exhausted() bool { return d.maxRounds >= 0 && d.steps >= d.maxRounds }

// gate refuses a release beyond the budget.
func (d *CentralDP) gate() error {
	if d.exhausted() {
		return fmt.Errorf("%w: release %d refused, the budget ε = %v at δ = %.3g allows %d",
			ErrBudgetExhausted, d.steps+1, d.cfg.TargetEpsilon, d.cfg.Delta, d.maxRounds)
	}
	return nil
}

// releaseFloat adds floating-point Gaussian noise to the clipped sum in v
// (clip norm c), divides it by the denominator and accounts one round.
func (d *CentralDP) releaseFloat(v []float64, c float64) {
	d.src.AddGaussian(v, d.zUpdate*d.sensMul*c)
	inv := 1 / d.denom
	for j := range v {
		v[j] *= inv
	}
	d.lastClip = c
	d.steps++
}

// releaseDiscrete adds discrete Gaussian noise of standard deviation
// z_Δ·(S/γ + raise) grid steps to v, which holds the exact integer sum on
// the grid of step γ, writes the result times γ/(qW) and accounts one
// round. On error nothing is accounted and v must not be released.
func (d *CentralDP) releaseDiscrete(v []float64, c, gamma, raise float64) error {
	sens := d.sensMul * (c/gamma + raise)
	g, err := d.noiseDG.get(d.zUpdate * sens * (1 + 0x1p-40)) // a margin over float rounding
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRange, err)
	}
	if err := addDiscreteGrid(v, g, d.src, gamma/d.denom); err != nil {
		return err
	}
	d.lastClip = c
	d.steps++
	return nil
}

// State format (version 3): magic, version, z, q, a SHA-256 fingerprint of
// every config field the accounting and the mechanism depend on, steps,
// clip, the last b̃, then a length-prefixed noise-generator state (empty
// unless the source is seeded). Version 2 had the same layout; it accounted
// the discrete mechanism with the continuous Gaussian's bounds, so a
// version-2 state is restored only into a CentralDP whose accounting did not
// change (the Gaussian mechanism, or no noise) — see UnmarshalBinary.
const (
	stateMagic   = "FGDP"
	stateVersion = 3
	// stateVersionContinuous is the last version that accounted the
	// discrete mechanism with the continuous Gaussian's bounds.
	stateVersionContinuous = 2
	stateFixed             = len(stateMagic) + 1 + 8*2 + sha256.Size + 8*3 + 4
	maxRNGState            = 256
)

// fingerprint hashes the configuration a state belongs to: a state
// restored into a mechanism with any other accounting-relevant setting
// (sampling, population, δ, budget, clip rule, weights, noise mechanism)
// is refused.
func (d *CentralDP) fingerprint() [sha256.Size]byte {
	c := &d.cfg
	b := []byte("fedgo/privacy.CentralDP/v2")
	for _, x := range []float64{d.z, d.zUpdate, c.SampleRate, c.Delta, c.TargetEpsilon, c.ClipNorm, c.WeightCap,
		c.TotalWeight, c.TargetQuantile, c.ClipLR, d.sigmaB, c.Resolution, d.denom, d.sensMul} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	for _, n := range []int{c.Population, int(c.Sampling), int(c.Accountant), int(c.Mechanism), d.maxRounds} {
		b = binary.LittleEndian.AppendUint64(b, uint64(n))
	}
	for _, f := range []bool{c.ClientClipped, c.Adaptive} {
		if f {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	return sha256.Sum256(b)
}

// errContinuousState refuses a version-2 state of the discrete mechanism:
// its releases were accounted with the continuous Gaussian's bounds, and
// its budget (the rounds it allowed, a noise multiplier calibrated with
// those bounds) does not carry over to the proven bound. The error says
// what the releases it recorded, at the noise multiplier z it recorded,
// cost under the proven bound.
func (d *CentralDP) errContinuousState(z float64, steps uint64) error {
	cost := ""
	if finitePos(z) && steps > 0 && steps <= maxBudgetRounds {
		step := d.AccountingStep()
		step.Discrete = unitDiscreteNoise(z, d.sensMul)
		if e, err := epsilonOf(step, int(steps), d.cfg.Delta); err == nil {
			cost = fmt.Sprintf(" (its %d releases at noise multiplier %.4g cost ε = %.4g at δ = %.3g under the proven bound)",
				steps, z, e, d.cfg.Delta)
		}
	}
	return fmt.Errorf("%w: version-%d state for the discrete mechanism: that version accounted its releases with the "+
		"continuous Gaussian's bounds, which are not proven for the discrete Gaussian; this version accounts "+
		"them with the discrete Gaussian's proven bound and does not take that budget over%s",
		ErrState, stateVersionContinuous, cost)
}

// MarshalBinary implements encoding.BinaryMarshaler for checkpoints: the
// rounds accounted, the adaptive clip norm, and the noise generator's state
// if (and only if) it was seeded by an injected reader. A source keyed from
// crypto/rand is never written out; a restored server re-keys it.
func (d *CentralDP) MarshalBinary() ([]byte, error) {
	var rng []byte
	if d.src.Seeded() {
		var err error
		if rng, err = d.src.MarshalBinary(); err != nil {
			return nil, err
		}
	}
	b := make([]byte, 0, stateFixed+len(rng))
	b = append(b, stateMagic...)
	b = append(b, stateVersion)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(d.z))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(d.cfg.SampleRate))
	fp := d.fingerprint()
	b = append(b, fp[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(d.steps))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(d.clip))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(d.lastFrac))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(rng)))
	return append(b, rng...), nil
}

// UnmarshalBinary restores state written by MarshalBinary. It validates the
// whole state and returns an error wrapping [ErrState], leaving d
// unchanged, if b is malformed or truncated; was written by a CentralDP
// with any other accounting-relevant configuration (noise multiplier,
// sampling, population, δ, budget, clipping rule, weights, mechanism);
// holds more rounds than the budget allows; holds a clip norm that is not
// finite and positive, or differs from ClipNorm without adaptive clipping;
// holds a b̃ that is not finite; or holds a generator state that is not a
// valid one. A generator state is restored only into a seeded source. A
// state of the previous format (version 2) is refused by the discrete
// mechanism — that format accounted it with the continuous Gaussian's
// bounds; the error says what its releases cost under the proven bound —
// and restored as before by [MechanismGaussian], whose accounting did not
// change.
func (d *CentralDP) UnmarshalBinary(b []byte) error {
	if len(b) < stateFixed || string(b[:len(stateMagic)]) != stateMagic {
		return fmt.Errorf("%w: %d bytes, not a CentralDP state", ErrState, len(b))
	}
	p := b[len(stateMagic):]
	version := p[0]
	if version != stateVersion && version != stateVersionContinuous {
		return fmt.Errorf("%w: version %d, want %d", ErrState, version, stateVersion)
	}
	p = p[1:]
	u64 := func() uint64 { v := binary.LittleEndian.Uint64(p); p = p[8:]; return v }
	z := math.Float64frombits(u64())
	q := math.Float64frombits(u64())
	var fp [sha256.Size]byte
	copy(fp[:], p)
	p = p[sha256.Size:]
	steps := u64()
	clip := math.Float64frombits(u64())
	frac := math.Float64frombits(u64())
	n := binary.LittleEndian.Uint32(p)
	p = p[4:]
	switch {
	case version == stateVersionContinuous && d.discrete():
		return d.errContinuousState(z, steps)
	case z != d.z || q != d.cfg.SampleRate:
		return fmt.Errorf("%w: state of z = %v, q = %v; this mechanism has z = %v, q = %v", ErrState, z, q, d.z, d.cfg.SampleRate)
	case fp != d.fingerprint():
		return fmt.Errorf("%w: the state belongs to a differently configured CentralDP", ErrState)
	case steps > maxBudgetRounds || (d.maxRounds >= 0 && steps > uint64(d.maxRounds)):
		return fmt.Errorf("%w: %d rounds accounted, the budget allows %d", ErrState, steps, d.maxRounds)
	case !finitePos(clip):
		return fmt.Errorf("%w: clip norm %v", ErrState, clip)
	case !d.cfg.Adaptive && clip != d.cfg.ClipNorm:
		return fmt.Errorf("%w: clip norm %v without adaptive clipping, configured %v", ErrState, clip, d.cfg.ClipNorm)
	case math.IsNaN(frac) || math.IsInf(frac, 0):
		return fmt.Errorf("%w: unclipped fraction %v", ErrState, frac)
	case n > maxRNGState || int(n) != len(p):
		return fmt.Errorf("%w: generator state of %d bytes with %d left", ErrState, n, len(p))
	}
	var src *Source
	if n > 0 {
		var s Source
		if err := s.UnmarshalBinary(p); err != nil {
			return fmt.Errorf("%w: %w", ErrState, err)
		}
		if out, err := s.MarshalBinary(); err != nil || !bytes.Equal(out, p) {
			return fmt.Errorf("%w: generator state does not round-trip", ErrState)
		}
		if d.src.Seeded() {
			src = &s
		}
	}
	if src != nil {
		d.src = src
	}
	d.steps, d.clip, d.lastClip, d.lastFrac = int(steps), clip, clip, frac
	return nil
}
