package ddp

import (
	"errors"
	"fmt"
	"math"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/privacy/accountant"
	"github.com/fedgo/fedgo/secagg/fedround"
)

// Errors of the package.
var (
	// ErrConfig: a [Config] field is out of range, or the parameters
	// cannot work (too few bits for the clients, a scale that underflows,
	// noise beyond the samplers' range).
	ErrConfig = fmt.Errorf("ddp: %w", fl.ErrConfig)
	// ErrInput: a delta the encoder refuses (wrong length, NaN or Inf).
	ErrInput = errors.New("ddp: bad input")
	// ErrRounding: conditional randomized rounding failed MaxRetries times
	// in a row (probability at most β^MaxRetries for a clipped vector).
	ErrRounding = errors.New("ddp: conditional rounding did not meet its norm bound")
	// ErrNotDDP: a sum reached the privacy release that the ddp decoder
	// did not produce (the exchange was not wired with this DDP's
	// encoding), so it may carry no noise.
	ErrNotDDP = errors.New("ddp: the released sum was not decoded by this mechanism's encoding")
)

// Mechanism is the integer noise each client adds.
type Mechanism int

const (
	// DiscreteGaussian: each client adds N_Z(0, σ²/Shares) per coordinate
	// (Kairouz, Liu, Steinke 2021).
	DiscreteGaussian Mechanism = iota + 1
	// Skellam: each client adds Sk(σ²/(2·Shares)), the difference of two
	// Poisson variables (Agarwal, Kairouz, Liu 2021).
	Skellam
)

// String returns "ddg" or "skellam".
func (m Mechanism) String() string {
	switch m {
	case DiscreteGaussian:
		return "ddg"
	case Skellam:
		return "skellam"
	}
	return fmt.Sprintf("Mechanism(%d)", int(m))
}

func (m Mechanism) kind() accountant.DiscreteKind {
	if m == Skellam {
		return accountant.DistributedSkellam
	}
	return accountant.DistributedDiscreteGaussian
}

// Defaults of [Config].
const (
	DefaultBits        = 16
	DefaultModClipProb = 1e-6 // β of the modular clipping, per coordinate
	DefaultMaxRetries  = 100
)

// DefaultRoundingBeta is the β of conditional randomized rounding,
// exp(−1/2) as in Kairouz et al.'s experiments.
var DefaultRoundingBeta = math.Exp(-0.5)

// Config configures a distributed-DP mechanism: the client pipeline, the
// secure-aggregation exchange and the privacy budget come from it
// together ([New]). Zero fields take the defaults in their comments.
type Config struct {
	// Mechanism is the clients' noise: DiscreteGaussian or Skellam. Required.
	Mechanism Mechanism
	// Bits is b: the clients' inputs and the secure sum live in Z_{2^b}.
	// 0 means 16.
	Bits int
	// ClipNorm is C, the L2 bound on each client's delta. Required.
	ClipNorm float64
	// Dim is d, the model's dimension. Required.
	Dim int
	// Clients is n, the expected number of clients in a round, for the
	// choice of the scale γ. Required.
	Clients int
	// Threshold is t, the secure-aggregation threshold: the server unmasks
	// only sums of at least t clients, and every client refuses a round
	// with a lower threshold. The noise is provisioned for t survivors
	// less Colluders (see Shares). Required, 2 ≤ t ≤ Clients.
	Threshold int
	// Colluders is how many clients may collude with the server and
	// subtract their own noise shares from the sum; their shares are not
	// counted. 0 ≤ Colluders < Threshold.
	Colluders int
	// ModClipProb is the β of the scale: the probability that one
	// coordinate of the noised sum of n clients leaves Z_{2^b} (modular
	// clipping), under the sub-Gaussian heuristic of Kairouz et al. §4.
	// 0 means 1e-6.
	ModClipProb float64
	// RoundingBeta is the β of conditional randomized rounding; 0 means
	// exp(−1/2).
	RoundingBeta float64
	// MaxRetries bounds the rounding attempts; 0 means 100.
	MaxRetries int

	// NoiseMultiplier z, if > 0, sets the total noise: standard deviation
	// z·2Δ̃₂ in grid units, 2Δ̃₂ the replace-one L2 sensitivity after
	// rounding (twice one client's bound, so that the ratio matches
	// central DP's z under fixed-size sampling). 0 means calibrate the
	// noise to TargetEpsilon over Rounds rounds.
	NoiseMultiplier float64
	// TargetEpsilon is the budget ε at Delta; 0 means no budget (needs
	// NoiseMultiplier). With a budget, Check refuses a round that would
	// exceed it.
	TargetEpsilon float64
	// Delta is δ; 0 means 1/Population^1.1.
	Delta float64
	// Rounds is the number of rounds planned (required to calibrate).
	Rounds int
	// Population N and SampleRate q: exactly m = qN clients a round,
	// drawn without replacement (fl.Uniform), accounted under replace-one
	// adjacency with N public.
	Population int
	SampleRate float64
	// Sampling must be accountant.FixedSize (required: the zero value,
	// accountant.Poisson, is refused). Distributed noise cannot be
	// accounted under Poisson sampling: its add/remove neighbours differ by
	// one client, and that client adds its own noise share, so the two
	// sums carry n+1 and n shares — different noise laws, not a shift of
	// one another (accountant.ErrUnsupported; see the accountant's
	// TestPoissonDistributedNoiseAttack).
	Sampling accountant.Sampling

	// Secagg is the rest of the secure-aggregation exchange (malicious
	// mode, keys, timeouts, the seed source). New sets its Clip, Bits,
	// Threshold, Neighbors (0: the complete graph, unless set) and
	// Encoding; WeightCap must be 0.
	Secagg fedround.Config
}

// Validate reports every field out of range.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Mechanism != DiscreteGaussian && c.Mechanism != Skellam {
		bad("Mechanism = %d, want DiscreteGaussian or Skellam", c.Mechanism)
	}
	if c.Bits != 0 && (c.Bits < 2 || c.Bits > 62) {
		bad("Bits = %d, want 0 (16) or 2..62", c.Bits)
	}
	if !(c.ClipNorm > 0) || math.IsInf(c.ClipNorm, 0) {
		bad("ClipNorm = %v, want finite and > 0", c.ClipNorm)
	}
	if c.Dim < 1 || c.Dim > 1<<28 {
		bad("Dim = %d, want 1..2^28", c.Dim)
	}
	if c.Clients < 2 {
		bad("Clients = %d, want ≥ 2", c.Clients)
	}
	// Secure aggregation's threshold is at most the masking graph's degree
	// (Clients−1 for the complete graph, else Secagg.Neighbors).
	degree := c.Clients - 1
	if c.Secagg.Neighbors > 0 {
		degree = c.Secagg.Neighbors
	}
	if c.Threshold < 2 || c.Threshold > degree {
		bad("Threshold = %d, want 2..%d (the masking graph's degree: Clients−1, or Secagg.Neighbors)", c.Threshold, degree)
	}
	if c.Colluders < 0 || c.Colluders >= c.Threshold {
		bad("Colluders = %d, want 0..Threshold−1", c.Colluders)
	}
	if !(c.ModClipProb >= 0 && c.ModClipProb < 1) {
		bad("ModClipProb = %v, want in [0, 1)", c.ModClipProb)
	}
	if !(c.RoundingBeta >= 0 && c.RoundingBeta < 1) {
		bad("RoundingBeta = %v, want in [0, 1)", c.RoundingBeta)
	}
	if c.MaxRetries < 0 {
		bad("MaxRetries = %d, want ≥ 0", c.MaxRetries)
	}
	if !(c.NoiseMultiplier >= 0) || math.IsInf(c.NoiseMultiplier, 0) {
		bad("NoiseMultiplier = %v, want finite and ≥ 0", c.NoiseMultiplier)
	}
	if !(c.TargetEpsilon >= 0) || math.IsInf(c.TargetEpsilon, 0) {
		bad("TargetEpsilon = %v, want finite and ≥ 0", c.TargetEpsilon)
	}
	if c.NoiseMultiplier == 0 && (c.TargetEpsilon == 0 || c.Rounds < 1) {
		bad("without NoiseMultiplier, TargetEpsilon > 0 and Rounds ≥ 1 are needed to calibrate the noise")
	}
	if !(c.Delta >= 0 && c.Delta < 1) {
		bad("Delta = %v, want in [0, 1)", c.Delta)
	}
	if c.Rounds < 0 {
		bad("Rounds = %d, want ≥ 0", c.Rounds)
	}
	if c.Population < 1 {
		bad("Population = %d, want ≥ 1", c.Population)
	}
	if c.Sampling != accountant.FixedSize {
		bad("Sampling = %v: distributed DP needs accountant.FixedSize (exactly SampleRate·Population clients a round). "+
			"Under Poisson sampling the neighbouring datasets differ by one client who also adds its own noise share, "+
			"so the two sums carry different numbers of shares (not a shift of one another) and no bound applies", c.Sampling)
	} else {
		step := accountant.Step{NoiseMultiplier: 1, SampleRate: c.SampleRate, Sampling: c.Sampling, Population: c.Population}
		if err := step.Validate(); err != nil {
			bad("sampling: %v", err)
		}
	}
	if c.Secagg.WeightCap != 0 {
		bad("Secagg.WeightCap = %v: the DP sum is unweighted", c.Secagg.WeightCap)
	}
	if c.Secagg.Encoding != nil {
		bad("Secagg.Encoding is set by New")
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}

// withDefaults returns c with its zero fields set.
func (c Config) withDefaults() Config {
	if c.Bits == 0 {
		c.Bits = DefaultBits
	}
	if c.ModClipProb == 0 {
		c.ModClipProb = DefaultModClipProb
	}
	if c.RoundingBeta == 0 {
		c.RoundingBeta = DefaultRoundingBeta
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.Delta == 0 {
		c.Delta = math.Pow(float64(c.Population), -1.1)
	}
	return c
}
