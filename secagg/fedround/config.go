package fedround

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/secagg"
)

// Errors of the package. Errors about one client's message name the client
// (the server logs them with its id and counts them in the round's stats).
var (
	// ErrConfig: a [Config] or [ClientConfig] breaks a rule.
	ErrConfig = fmt.Errorf("fedround: %w", fl.ErrConfig)
	// ErrRound: a message for another round than the client's current one
	// (stale, or a replay of the round's opening message).
	ErrRound = errors.New("fedround: wrong round")
	// ErrOrder: a protocol message the client has no state for (before the
	// round's opening message, after the client left or finished the round).
	ErrOrder = errors.New("fedround: message out of order")
	// ErrMalformed: a payload that does not decode, or a reply of the wrong
	// type, round or shape.
	ErrMalformed = errors.New("fedround: malformed message")
	// ErrPlainTrain: a client with secure aggregation was asked for a plain
	// (unmasked) update.
	ErrPlainTrain = errors.New("fedround: plain train request refused: the update would reach the server unmasked")
	// ErrPolicy: the server asked for something the client's policy
	// ([ClientConfig]) forbids: a round below its minimum N or threshold,
	// semi-honest mode for a client with an identity, participants that
	// are not distinct PKI identities, an evaluation it does not allow.
	ErrPolicy = errors.New("fedround: refused by the client's policy")
)

// Defaults of the client's policy ([ClientConfig]).
const (
	DefaultMinClients   = 3
	DefaultMinThreshold = 2
)

// EvaluatePolicy says which evaluation requests a client answers. An
// evaluation at parameters of the server's choice is an oracle on the
// client's data (a handful of them recover a training step), so the
// default answers none.
type EvaluatePolicy int

const (
	// EvaluateNever refuses every fl.TypeEvaluate request (the default).
	EvaluateNever EvaluatePolicy = iota
	// EvaluateRoundParams answers only at the global parameters of the
	// last round the client trained in. The server still chooses those
	// parameters, but only once per round it opens (rounds strictly
	// increase), so the oracle costs it a round per point.
	EvaluateRoundParams
	// EvaluateAny answers every evaluation request (trusting the server).
	EvaluateAny
)

// Message types. The server sends the first six; the client answers each
// with the type below it (in malicious mode TypeShareKeys is answered with
// TypeReveal, and TypeSeed with TypeShares). Failures are counted in fl.RoundStats under the
// downlink type of the step ("secagg/train", "secagg/share-keys", ...).
const (
	TypeTrain       = "secagg/train"        // global params, Config and the round's setup; the client trains and advertises keys
	TypeShareKeys   = "secagg/share-keys"   // secagg.KeysBroadcast
	TypeMaskedInput = "secagg/masked-input" // secagg.SharesBroadcast
	TypeConsistency = "secagg/consistency"  // secagg.SurvivorsMsg (malicious mode)
	TypeUnmask      = "secagg/unmask"       // secagg.UnmaskRequest
	TypeSeed        = "secagg/seed"         // secagg.RevealsBroadcast (malicious mode)

	TypeAdvertise = "secagg/advertise" // secagg.AdvertiseMsg, with the update's Metrics
	TypeReveal    = "secagg/reveal"    // secagg.RevealMsg: the answer to TypeShareKeys in malicious mode
	TypeShares    = "secagg/shares"    // secagg.SharesMsg
	TypeMasked    = "secagg/masked"    // secagg.MaskedMsg
	TypeSignature = "secagg/signature" // secagg.SignatureMsg
	TypeUnmasked  = "secagg/unmasked"  // secagg.UnmaskMsg
)

// Defaults of [Config].
const (
	DefaultBits     = 32
	DefaultCorrupt  = 1.0 / 3
	DefaultDropout  = 0.1
	SecurityBits    = 40 // security target given to secagg.ChooseParams
	CorrectnessBits = 20 // correctness target given to secagg.ChooseParams
)

// Config configures an [Exchange]. Zero fields take the defaults in their
// comments; [DefaultConfig] spells them out.
type Config struct {
	// Clip is c, the range of every coordinate of a client's delta:
	// clients clamp each coordinate to [-c, c] before quantizing (the
	// fixed-point encoding needs a bound). With L2 clipping to C
	// (privacy.ClipMiddleware inside the client's Middleware) set Clip =
	// C, which then clamps nothing. Required.
	Clip float64
	// WeightCap, if > 0, makes the round's update the weighted mean of the
	// survivors' clamped deltas with capped weights w = min(Update.Weight /
	// WeightCap, 1): FedAvg's example weights, with no client counting
	// for more than WeightCap examples. Each client masks w·Δ and w·Clip
	// together (one more coordinate in the secure sum), so the server
	// learns the survivors' Σw and no single weight. 0 means the
	// unweighted mean.
	WeightCap float64
	// Bits b of the secagg ring Z_{2^b}; 0 means 32. The quantization step
	// is secagg.QuantStep(Clip, Bits, n) for n clients in the round. With
	// an Encoding, 0 means Encoding.Bits() and any other value must equal
	// it.
	Bits int

	// Encoding, if set, replaces the quantizer: the server decodes the
	// survivors' sum with Encoding.Decode (the clients must encode with
	// the same encoding, [ClientConfig.Encoding]) and rounds run with
	// Encoding.Bits() bits. It excludes WeightCap. Clip is then only sent
	// to the clients, which ignore it.
	Encoding Encoding

	// Threshold t and Neighbors k of the masking graph. Threshold 0 means
	// choose both per round with secagg.ChooseParams(n, Corrupt, Dropout,
	// 40, 20) (secagg.ChooseMaliciousParams with Malicious), and, when
	// that fails (small n), the complete graph with t = ⌊n/2⌋+1 (a
	// majority, so that 2t > n holds in malicious mode: it tolerates no
	// corrupt client for even n, see secagg.Params.Tolerance);
	// Neighbors must then be 0. Threshold > 0 fixes t, with Neighbors 0
	// meaning the complete graph (SecAgg) and an even k in [2, n-2]
	// SecAgg+; a round whose n does not admit them fails.
	Threshold int
	Neighbors int
	// Corrupt is the fraction of clients assumed to collude with the
	// server, for the parameter search; 0 means 1/3.
	Corrupt float64
	// Dropout is the fraction of clients expected to drop out of a round,
	// for the parameter search; 0 means 0.1.
	Dropout float64

	// Malicious selects the malicious-server variant of secagg (signed
	// keys, consistency check). PeerKeys then maps every client's
	// fl.Conn ID to its ed25519 verification key (the host's PKI); a
	// sampled client without a key fails the round's first step.
	Malicious bool
	// MaxUnrevealed (malicious mode) is how many clients of a round may
	// vanish between advertising their keys and revealing their graph-seed
	// share (the answer to secagg/share-keys) before the round stops: they
	// leave it like dropouts. The server's freedom to leave reveals out is
	// charged to the parameters (secagg.Log2SeedChoices bits more security
	// in the search; clients check secagg.Params.Log2Risk). 0 means none,
	// at most 127.
	MaxUnrevealed int
	PeerKeys      map[string]ed25519.PublicKey

	// StepTimeout bounds each step of the protocol (training included in
	// the first); late clients drop out of the round. 0 means the round's
	// fl.KeyDeadline from rc.Config (set by fl.ServerConfig.RoundTimeout)
	// when present, else no deadline.
	StepTimeout time.Duration
	// Workers bounds the goroutines secagg.Server.Result uses; 0 means
	// GOMAXPROCS.
	Workers int
	// Rand draws each round's public seed (the SecAgg+ graph); nil means
	// crypto/rand. Inject a seeded reader only in tests and simulations:
	// the seed must be unpredictable to clients before they are sampled.
	Rand io.Reader
}

// DefaultConfig returns a config with clip 1 and every default written out.
func DefaultConfig() Config {
	return Config{Clip: 1, Bits: DefaultBits, Corrupt: DefaultCorrupt, Dropout: DefaultDropout}
}

// Validate reports every field out of range.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !(c.Clip > 0) || math.IsInf(c.Clip, 0) {
		bad("Clip = %v, want finite and > 0", c.Clip)
	}
	if !(c.WeightCap >= 0) || math.IsInf(c.WeightCap, 0) {
		bad("WeightCap = %v, want finite and ≥ 0", c.WeightCap)
	}
	if c.Bits < 0 || c.Bits > 64 {
		bad("Bits = %d, want 0 (32) or 1..64", c.Bits)
	}
	if c.Encoding != nil {
		if b := c.Encoding.Bits(); b < 1 || b > 64 || c.Bits != 0 && c.Bits != b {
			bad("Encoding has %d bits, Bits = %d: want Bits 0 or equal to the encoding's, in 1..64", b, c.Bits)
		}
		if c.WeightCap != 0 {
			bad("WeightCap with an Encoding: the encoding carries no weight coordinate")
		}
	}
	if c.Threshold < 0 || c.Neighbors < 0 {
		bad("Threshold = %d, Neighbors = %d, want ≥ 0", c.Threshold, c.Neighbors)
	}
	if c.Threshold == 0 && c.Neighbors != 0 {
		bad("Neighbors = %d needs Threshold > 0 (Threshold 0 chooses both)", c.Neighbors)
	}
	if c.Neighbors > 0 && c.Neighbors%2 != 0 {
		bad("Neighbors = %d, want 0 (complete graph) or even", c.Neighbors)
	}
	if c.MaxUnrevealed < 0 || c.MaxUnrevealed > maxUnrevealed || c.MaxUnrevealed > 0 && !c.Malicious {
		bad("MaxUnrevealed = %d, want 0..%d, and only with Malicious", c.MaxUnrevealed, maxUnrevealed)
	}
	if c.Malicious && c.Threshold > 0 && c.Neighbors > 0 && c.Threshold < c.Neighbors/2+2 {
		bad("Malicious needs Threshold ≥ Neighbors/2 + 2 (t=%d, k=%d)", c.Threshold, c.Neighbors)
	}
	if !(c.Corrupt >= 0 && c.Corrupt < 1) || !(c.Dropout >= 0 && c.Dropout < 1) {
		bad("Corrupt = %v, Dropout = %v, want fractions in [0, 1)", c.Corrupt, c.Dropout)
	}
	if c.Malicious {
		if len(c.PeerKeys) == 0 {
			bad("Malicious needs PeerKeys")
		}
		for id, k := range c.PeerKeys {
			if len(k) != ed25519.PublicKeySize {
				bad("PeerKeys[%q] has %d bytes, want %d", id, len(k), ed25519.PublicKeySize)
			}
		}
	} else if c.PeerKeys != nil {
		bad("PeerKeys is set without Malicious")
	}
	if c.StepTimeout < 0 {
		bad("StepTimeout = %v, want ≥ 0", c.StepTimeout)
	}
	if c.Workers < 0 {
		bad("Workers = %d, want ≥ 0", c.Workers)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}

func (c *Config) bits() int {
	if c.Encoding != nil {
		return c.Encoding.Bits()
	}
	if c.Bits == 0 {
		return DefaultBits
	}
	return c.Bits
}

// RoundParams returns the secagg parameters the workflow uses for a round
// of n clients and dimension dim (Seed and Round left zero), applying the
// rules of [Config]'s Threshold field. It returns an error wrapping
// secagg.ErrParams or secagg.ErrRange when n clients cannot run a round
// with cfg (n < 2, a fixed k or t that n does not admit, or too few bits
// to hold the sum of n quantized vectors).
func (c *Config) RoundParams(n, dim int) (secagg.Params, error) {
	p := secagg.Params{N: n, Bits: c.bits(), Dim: dim, Malicious: c.Malicious, Threshold: c.Threshold, Neighbors: c.Neighbors, MaxUnrevealed: c.MaxUnrevealed}
	if n < 2 {
		return p, fmt.Errorf("%w: %d clients, secure aggregation needs at least 2", secagg.ErrParams, n)
	}
	if c.Threshold == 0 {
		corrupt, dropout := c.Corrupt, c.Dropout
		if corrupt == 0 {
			corrupt = DefaultCorrupt
		}
		if dropout == 0 {
			dropout = DefaultDropout
		}
		choose := secagg.ChooseParams
		if c.Malicious {
			choose = secagg.ChooseMaliciousParams
		}
		// Leaving reveals out is a choice among graph seeds: pay for it
		// in security bits.
		k, t, err := choose(n, corrupt, dropout, SecurityBits+secagg.Log2SeedChoices(n, c.MaxUnrevealed), CorrectnessBits)
		if err != nil {
			k, t = n-1, n/2+1
		}
		p.Neighbors, p.Threshold = k, t
		if k == n-1 {
			p.Neighbors = 0
		}
	}
	if err := p.Validate(); err != nil {
		return p, err
	}
	if c.Encoding != nil {
		return p, nil // the encoding works modulo 2^b: no headroom to check
	}
	if secagg.QuantLevels(p.Bits, n) == 0 {
		return p, fmt.Errorf("%w: %d bits cannot hold the sum of %d values", secagg.ErrRange, p.Bits, n)
	}
	if math.IsNaN(secagg.QuantStep(c.Clip, p.Bits, n)) {
		return p, fmt.Errorf("%w: Clip = %v is degenerate for %d clients of %d bits (see secagg.Quantize)", secagg.ErrRange, c.Clip, n, p.Bits)
	}
	return p, nil
}

// ClientConfig configures a client's [Middleware].
type ClientConfig struct {
	// Rand is the source of the client's secrets: its secagg keys and
	// the seed of the stochastic rounding of its delta. Nil means
	// crypto/rand. Tests inject a seeded reader (one per client, used
	// only by that client's messages, which the server sends one at a
	// time); in deployment leave it nil.
	Rand io.Reader
	// TrustDealers skips the Feldman check of received shares (see
	// secagg.ClientConfig.TrustDealers).
	TrustDealers bool
	// Identity is the client's ed25519 signing key and PeerKeys maps the
	// fl.Conn IDs of the clients to their verification keys (the PKI);
	// both are required when the server runs in malicious mode. The round's
	// setup lists the participants' IDs in secagg id order, and the client
	// checks that its own entry carries its own key.
	Identity ed25519.PrivateKey
	PeerKeys map[string]ed25519.PublicKey
	// AllowPlainTrain lets the client answer a plain fl.TypeTrain request
	// (through the wrapped handler, unmasked). By default it is refused
	// with [ErrPlainTrain], so that a server cannot downgrade a client
	// that expects secure aggregation.
	AllowPlainTrain bool

	// The client's policy: the server cannot downgrade it. A round's
	// setup is refused with [ErrPolicy] when it has fewer than MinClients
	// clients (0 means DefaultMinClients) or a threshold below
	// MinThreshold (0 means DefaultMinThreshold); when Identity is set
	// the round must be in malicious mode, and in malicious mode the
	// participants' names must be distinct and all in PeerKeys (so the
	// server can play only the clients whose keys it holds). Round
	// numbers must strictly increase: a round is never reopened, with the
	// same parameters or others.
	MinClients   int
	MinThreshold int
	// Corrupt is the fraction of a round's clients the client assumes may
	// collude with the server; 0 means DefaultCorrupt (1/3). In malicious
	// mode the client refuses parameters whose risk for that fraction,
	// secagg.Params.Log2Risk, exceeds 2^-SecurityBits: a server cannot
	// pick a small degree or threshold that Validate accepts but that
	// exposes clients. TrustParams skips this check (tests, or a host that
	// vets the parameters itself).
	Corrupt     float64
	TrustParams bool
	// Evaluate says which evaluation requests the client answers;
	// the zero value refuses them all.
	Evaluate EvaluatePolicy
	// Encoding, if set, replaces the client's quantizer (see [Encoding]):
	// the client encodes its delta with it, refuses a round whose ring is
	// not Encoding.Bits() bits wide or whose setup asks for weights, and
	// ignores the server's clip norm (the encoding applies its own).
	Encoding Encoding
	// Metrics lists the keys of the update's metrics the client sends
	// with its advertised keys, in plain text; nil means fl.KeyLoss and
	// fl.KeyTrainSeconds. fl.KeyExamples is never sent when the round
	// weights the updates (WeightCap > 0): it is the weight the secure sum
	// hides.
	Metrics []string
}

func (c *ClientConfig) minClients() int {
	if c.MinClients == 0 {
		return DefaultMinClients
	}
	return c.MinClients
}

func (c *ClientConfig) minThreshold() int {
	if c.MinThreshold == 0 {
		return DefaultMinThreshold
	}
	return c.MinThreshold
}

// Validate reports whether cfg is usable.
func (c *ClientConfig) Validate() error {
	if c.Identity != nil && len(c.Identity) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: Identity has %d bytes, want %d", ErrConfig, len(c.Identity), ed25519.PrivateKeySize)
	}
	if !(c.Corrupt >= 0 && c.Corrupt < 1) {
		return fmt.Errorf("%w: Corrupt = %v, want a fraction in [0, 1)", ErrConfig, c.Corrupt)
	}
	if c.MinClients < 0 || c.MinThreshold < 0 {
		return fmt.Errorf("%w: MinClients = %d, MinThreshold = %d, want ≥ 0", ErrConfig, c.MinClients, c.MinThreshold)
	}
	if c.Evaluate < EvaluateNever || c.Evaluate > EvaluateAny {
		return fmt.Errorf("%w: Evaluate = %d", ErrConfig, c.Evaluate)
	}
	for id, k := range c.PeerKeys {
		if len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: PeerKeys[%q] has %d bytes, want %d", ErrConfig, id, len(k), ed25519.PublicKeySize)
		}
	}
	return nil
}
