package ddp

import (
	"errors"
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
	d.expected = math.Round(cfg.SampleRate * float64(cfg.Population))
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

// Sampler implements fl.Privacy: fl.Uniform{Count: m}, m = qN (the
// fixed-size sampling that is accounted).
func (d *DDP) Sampler() fl.Sampler {
	return fl.Uniform{Count: int(d.expected)}
}

// Check implements fl.Privacy: it refuses a round beyond the budget
// (wrapping privacy.ErrBudgetExhausted and fl.ErrBudget) and a registered
// population below Population (the fixed-size accounting's N).
func (d *DDP) Check(round, population int) error {
	if population < d.cfg.Population {
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
	// KeyServerEpsilon is ε at δ against the aggregation server (no
	// amplification by sampling) of a client that took part in every
	// round so far: [DDP.ServerEpsilon].
	KeyServerEpsilon = "ddp_server_epsilon"
)

// Record implements fl.Privacy: ε spent so far for the released models
// (privacy.KeyEpsilon, an upper bound), ε against the server
// ([KeyServerEpsilon]), δ, C, b and the noise's standard deviation in
// model units.
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
	if eps, err := d.ServerEpsilon(); err == nil && !math.IsInf(eps, 0) {
		stats.Extra[KeyServerEpsilon] = eps
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

// Epsilon returns ε spent so far at δ for the released models (an upper
// bound; see [DDP.EpsilonAfter] and, for the server, [DDP.ServerEpsilon]).
func (d *DDP) Epsilon() (float64, error) {
	d.mu.Lock()
	k := d.steps
	d.mu.Unlock()
	return d.EpsilonAfter(k)
}

// step returns the accountant's step of one release: the provisioned
// noise, sampled as configured (fixed-size, m = qN of N) when sampled is
// true, or unsampled (SampleRate 1: the view of a party that knows who
// took part) otherwise.
func (d *DDP) step(sampled bool) accountant.Step {
	noise := d.p.Noise()
	c := &d.cfg
	if !sampled {
		m := int(d.expected)
		return accountant.Step{Discrete: &noise, SampleRate: 1, Sampling: accountant.FixedSize, Population: m}
	}
	return accountant.Step{Discrete: &noise, SampleRate: c.SampleRate, Sampling: c.Sampling, Population: c.Population}
}

// epsilonOf returns ε at δ of k releases of step, composed by an
// [accountant.RDPAccountant] with the default orders; +Inf when no order
// gives a finite ε.
func (d *DDP) epsilonOf(s accountant.Step, k int) (float64, error) {
	if k == 0 {
		return 0, nil
	}
	a, err := accountant.NewRDP(nil)
	if err != nil {
		return 0, err
	}
	if err := a.Compose(s, k); err != nil {
		return 0, fmt.Errorf("ddp: accounting: %w", err)
	}
	eps, _, err := a.Epsilon(d.cfg.Delta)
	if errors.Is(err, accountant.ErrUnreachable) {
		return math.Inf(1), nil
	}
	return eps, err
}

// EpsilonAfter returns ε at δ after k releases, for the released models
// (an upper bound): the RDP of the sampled step (fixed-size sampling, the
// provisioned noise, one client's sensitivities) composed k times, then
// converted. It is the guarantee against every party that does not learn
// who took part in a round; against the server see [DDP.ServerEpsilonAfter].
func (d *DDP) EpsilonAfter(k int) (float64, error) {
	if k < 0 {
		return 0, fmt.Errorf("ddp: %d releases", k)
	}
	d.mu.Lock()
	if d.epsSteps == k {
		defer d.mu.Unlock()
		return d.epsCache, nil
	}
	d.mu.Unlock()
	eps, err := d.epsilonOf(d.step(true), k)
	if err != nil {
		return 0, err
	}
	d.mu.Lock()
	d.epsSteps, d.epsCache = k, eps
	d.mu.Unlock()
	return eps, nil
}

// ServerEpsilon returns, at δ, the guarantee of one client against the
// aggregation server after the releases so far, in the worst case of a
// client that took part in all of them ([DDP.ServerEpsilonAfter] of
// [DDP.Rounds]).
func (d *DDP) ServerEpsilon() (float64, error) {
	return d.ServerEpsilonAfter(d.Rounds())
}

// ServerEpsilonAfter returns ε at δ against the aggregation server for a
// client that took part in k rounds: secure aggregation tells the server
// who took part, so sampling amplifies nothing against it, and each round
// the client joined is the unsampled release (SampleRate 1, replace-one
// among the round's participants) of the provisioned noise, composed k
// times. It is at least [DDP.EpsilonAfter](k); the budget ([Config].TargetEpsilon)
// bounds the latter only.
func (d *DDP) ServerEpsilonAfter(k int) (float64, error) {
	if k < 0 {
		return 0, fmt.Errorf("ddp: %d releases", k)
	}
	return d.epsilonOf(d.step(false), k)
}

// meets reports whether k releases of the mechanism's noise are (eps,
// δ)-DP for the released models.
func (d *DDP) meets(eps float64, k int) bool {
	e, err := d.EpsilonAfter(k)
	return err == nil && e <= eps
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
