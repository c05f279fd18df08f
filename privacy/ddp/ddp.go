package ddp

import (
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/privacy"
	"github.com/fedgo/fedgo/privacy/accountant"
	"github.com/fedgo/fedgo/secagg/fedround"
)

// DDP is a distributed differential-privacy mechanism: from one [Config]
// it gives the clients' encoder ([DDP.Encoder], [DDP.ClientMiddleware]),
// the server's secure-aggregation exchange ([DDP.Exchange]) and the
// privacy budget (DDP itself is the fl.Privacy of fl.ServerConfig), so
// that the noise the clients add, the modulus, the threshold, the sampling
// and the accounting cannot disagree.
//
// The server's methods are called by the goroutine that runs the rounds;
// Encoders are safe for concurrent use.
type DDP struct {
	cfg       Config
	p         Params
	exchange  *fedround.Exchange
	expected  float64 // qN, the fixed denominator
	maxRounds int     // rounds the budget allows; -1 for no budget

	mu       sync.Mutex
	steps    int       // releases accounted
	pending  []float64 // the vector the decoder wrote last, not yet released
	epsSteps int
	epsCache float64
}

var _ fl.Privacy = (*DDP)(nil)

// maxBudgetRounds caps the rounds a budget is searched over.
const maxBudgetRounds = 1 << 20

// New validates cfg (copied), resolves its parameters (scale, rounding
// bound, calibrated noise: see [Params]) and builds the exchange. It
// returns an error wrapping [ErrConfig] (and fl.ErrConfig) for a config
// that cannot work.
func New(cfg Config) (*DDP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p, err := resolve(cfg)
	if err != nil {
		return nil, err
	}
	d := &DDP{cfg: cfg, p: p, maxRounds: -1, epsSteps: -1}
	d.expected = cfg.SampleRate * float64(cfg.Population)
	if cfg.Sampling == accountant.FixedSize {
		d.expected = math.Round(d.expected)
	}
	sc := cfg.Secagg
	sc.Clip, sc.Bits, sc.Threshold, sc.Encoding = cfg.ClipNorm, p.Bits, cfg.Threshold, &decoder{d: d}
	if d.exchange, err = fedround.New(sc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if cfg.TargetEpsilon > 0 {
		if err := d.findMaxRounds(); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Params returns the resolved parameters.
func (d *DDP) Params() Params { return d.p }

// Config returns the config with its defaults applied.
func (d *DDP) Config() Config { return d.cfg }

// Exchange returns the server's secure-aggregation exchange (for
// fl.ServerConfig.Exchange): SecAgg over Z_{2^b} with the configured
// threshold, decoding the sum with this mechanism.
func (d *DDP) Exchange() *fedround.Exchange { return d.exchange }

// Encoder returns a new client encoder whose randomness is keyed from
// random (nil: crypto/rand, as a deployment must; inject a seeded reader
// only in tests and simulations).
func (d *DDP) Encoder(random io.Reader) (*Encoder, error) {
	return newEncoder(&d.p, &d.cfg, random)
}

// ClientMiddleware returns the client side: fedround.Middleware with the
// client's encoder and a policy that refuses any round whose threshold is
// below the configured one (fewer survivors than the noise was provisioned
// for) or whose ring is not b bits wide. cc.MinThreshold is raised to the
// threshold; cc.Encoding is set to enc.
func (d *DDP) ClientMiddleware(st *fedround.ClientState, cc fedround.ClientConfig, enc *Encoder) fl.Middleware {
	cc.Encoding = enc
	cc.MinThreshold = max(cc.MinThreshold, d.cfg.Threshold)
	return fedround.Middleware(st, cc)
}

// decoded records that the decoder wrote v.
func (d *DDP) decoded(v []float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pending = v
}

// Sampler implements fl.Privacy: fl.Poisson{Q: q}, or fl.Uniform{Count: m}.
func (d *DDP) Sampler() fl.Sampler {
	if d.cfg.Sampling == accountant.FixedSize {
		return fl.Uniform{Count: int(d.expected)}
	}
	return fl.Poisson{Q: d.cfg.SampleRate}
}

// Check implements fl.Privacy: it refuses a round beyond the budget
// (wrapping privacy.ErrBudgetExhausted and fl.ErrBudget) and, with
// fixed-size sampling, a registered population below Population.
func (d *DDP) Check(round, population int) error {
	if d.cfg.Sampling == accountant.FixedSize && population < d.cfg.Population {
		return fmt.Errorf("%w: fixed-size sampling is accounted over Population = %d clients, but only %d are registered",
			ErrConfig, d.cfg.Population, population)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gate(round)
}

func (d *DDP) gate(round int) error {
	if d.maxRounds >= 0 && d.steps >= d.maxRounds {
		return fmt.Errorf("%w: round %d: the budget ε = %v at δ = %.3g allows %d releases",
			privacy.ErrBudgetExhausted, round, d.cfg.TargetEpsilon, d.cfg.Delta, d.maxRounds)
	}
	return nil
}

// Aggregator implements fl.Privacy. Distributed DP has no plain train
// exchange: the aggregator refuses every call.
func (d *DDP) Aggregator() fl.Aggregator { return refuse{} }

type refuse struct{}

func (refuse) Aggregate([]float64, []fl.Update) error {
	return fmt.Errorf("%w: distributed DP runs only through its secure-aggregation exchange (DDP.Exchange)", ErrConfig)
}

// ClipNorm implements fl.Privacy: C.
func (d *DDP) ClipNorm() float64 { return d.cfg.ClipNorm }

// NoiseSum implements fl.Privacy. It adds no noise: the clients did. It
// refuses (with [ErrNotDDP]) a sum that this mechanism's decoder did not
// just write — an exchange wired without the ddp encoding would hand it
// an un-noised sum — and a release beyond the budget; otherwise it
// accounts the release and divides the sum by the expected number of
// clients qN.
func (d *DDP) NoiseSum(sum []float64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(sum) == 0 || len(d.pending) != len(sum) || &d.pending[0] != &sum[0] {
		return ErrNotDDP
	}
	d.pending = nil
	if err := d.gate(d.steps + 1); err != nil {
		return err
	}
	for i, x := range sum {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: sum coordinate %d is %v", fl.ErrNotFinite, i, x)
		}
	}
	d.steps++
	inv := 1 / d.expected
	for i := range sum {
		sum[i] *= inv
	}
	return nil
}

// Keys that Record writes to fl.RoundStats.Extra besides privacy.KeyEpsilon,
// privacy.KeyDelta and privacy.KeyClipNorm.
const (
	KeyBits     = "ddp_bits"
	KeyVariance = "ddp_noise_stddev" // standard deviation of the summed noise, in model units
)

// Record implements fl.Privacy: ε spent so far (an upper bound), δ, C, b
// and the noise's standard deviation in model units.
func (d *DDP) Record(stats *fl.RoundStats) {
	if stats.Extra == nil {
		stats.Extra = fl.Metrics{}
	}
	stats.Extra[privacy.KeyClipNorm] = d.cfg.ClipNorm
	stats.Extra[privacy.KeyDelta] = d.cfg.Delta
	stats.Extra[KeyBits] = float64(d.p.Bits)
	stats.Extra[KeyVariance] = math.Sqrt(d.p.Variance) * d.p.Gamma
	if eps, err := d.Epsilon(); err == nil && !math.IsInf(eps, 0) {
		stats.Extra[privacy.KeyEpsilon] = eps
	}
}

// Rounds returns the releases accounted so far.
func (d *DDP) Rounds() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.steps
}

// MaxRounds returns how many releases the budget allows, or -1.
func (d *DDP) MaxRounds() int { return d.maxRounds }

// Denominator returns qN, the fixed denominator of the released mean.
func (d *DDP) Denominator() float64 { return d.expected }

// Epsilon returns ε spent so far at δ (an upper bound).
func (d *DDP) Epsilon() (float64, error) {
	d.mu.Lock()
	k := d.steps
	d.mu.Unlock()
	return d.EpsilonAfter(k)
}

// target returns the accountant's target of ε over k rounds.
func (d *DDP) target(eps float64, k int) accountant.Target {
	c := &d.cfg
	return accountant.Target{Epsilon: eps, Delta: c.Delta, SampleRate: c.SampleRate, Steps: k, Sampling: c.Sampling, Population: c.Population}
}

// meets reports whether k releases of the mechanism's noise are (eps,
// δ)-DP: the variance the accountant needs for them is at most the one
// provisioned.
func (d *DDP) meets(eps float64, k int) bool {
	v, err := accountant.CalibrateDiscrete(d.target(eps, k), d.p.Noise())
	return err == nil && v <= d.p.Variance
}

// EpsilonAfter returns ε after k releases at δ, to a relative 1e-3
// rounded up: the smallest ε on a bisection for which the accountant's
// calibration needs no more variance than provisioned. +Inf when even
// ε = 10^4 is not met.
func (d *DDP) EpsilonAfter(k int) (float64, error) {
	if k == 0 {
		return 0, nil
	}
	d.mu.Lock()
	if d.epsSteps == k {
		defer d.mu.Unlock()
		return d.epsCache, nil
	}
	d.mu.Unlock()
	hi := 1.0
	for !d.meets(hi, k) {
		hi *= 2
		if hi > 1e4 {
			return math.Inf(1), nil
		}
	}
	lo := hi / 2
	for lo > 1e-6 && d.meets(lo, k) {
		hi, lo = lo, lo/2
	}
	for hi-lo > 1e-3*hi {
		mid := (lo + hi) / 2
		if d.meets(mid, k) {
			hi = mid
		} else {
			lo = mid
		}
	}
	d.mu.Lock()
	d.epsSteps, d.epsCache = k, hi
	d.mu.Unlock()
	return hi, nil
}

// findMaxRounds sets maxRounds to the largest k whose releases meet the
// budget.
func (d *DDP) findMaxRounds() error {
	t := d.cfg.TargetEpsilon
	if !d.meets(t, 1) {
		return fmt.Errorf("%w: one round already exceeds ε = %v", privacy.ErrBudgetExhausted, t)
	}
	lo, hi := 1, 2
	for d.meets(t, hi) {
		lo, hi = hi, hi*2
		if hi > maxBudgetRounds {
			d.maxRounds = maxBudgetRounds
			return nil
		}
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if d.meets(t, mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	d.maxRounds = lo
	return nil
}
