package fl

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"
)

// ServerConfig configures a [Server]. A zero field takes the default its
// comment gives; [DefaultServerConfig] returns a config with those defaults
// written out.
type ServerConfig struct {
	// Rounds is the number of rounds Run runs in all (counting those
	// restored from a checkpoint). Required.
	Rounds int

	// Sampler picks each round's clients. Nil means Uniform{Count:
	// ClientsPerRound, Fraction: ClientFraction}: everyone when both are
	// 0; with a Privacy, Privacy.Sampler() (and then none of the three may
	// be set to anything else).
	Sampler         Sampler
	ClientsPerRound int
	ClientFraction  float64

	// MinClients is the quorum: a round with fewer accepted contributions
	// is aborted and leaves the parameters unchanged. 0 means 1.
	MinClients int
	// MaxAborted is how many consecutive aborted rounds Run tolerates
	// before it returns an error wrapping ErrQuorum. 0 means 3.
	MaxAborted int
	// RoundTimeout bounds each message exchange of a round (each step of a
	// multi-step exchange); late clients count as failures ("timeout"). 0
	// means no deadline.
	RoundTimeout time.Duration

	// Exchange runs the client side of each round. Nil means
	// &TrainExchange{Aggregator: Aggregator}.
	Exchange Exchange
	// Aggregator combines the updates of the default exchange. Nil means
	// &FedAvg{}. It must be nil when Exchange or Privacy is set.
	Aggregator Aggregator
	// Optimizer applies the aggregate to the global parameters. Nil means
	// SGD{LR: 1}, that is plain FedAvg.
	Optimizer ServerOptimizer
	// Privacy, if set, makes the run differentially private: it gives the
	// sampler, the aggregation and the budget (see [Privacy]).
	Privacy Privacy

	// ClientConfig holds the hyperparameters sent with every train
	// request; ConfigFunc, if set, returns per-round values that override
	// them (a learning-rate schedule, a per-round FedProx μ). The server
	// adds KeyRound, and KeyDeadline when RoundTimeout is set. The
	// well-known keys are checked before round 1 (KeyLR > 0, KeyEpochs and
	// KeyBatchSize positive integers, KeyMu ≥ 0).
	ClientConfig Config
	ConfigFunc   func(round int) Config

	// EvalEvery runs evaluation every k rounds and after the last round:
	// the centralized Evaluate function if set, and federated evaluation
	// on EvalClients clients if EvalClients is not 0 (-1 means all). 0
	// means evaluate after the last round only.
	EvalEvery   int
	EvalClients int
	Evaluate    func(ctx context.Context, params []float64) (Metrics, error)

	// SamplingKey keys every random choice the server makes (sampling):
	// 32 bytes, secret. Nil means: derived from Seed when Seed is not 0
	// (reproducible simulations; whoever knows Seed knows who was sampled,
	// which voids privacy amplification), else drawn from crypto/rand. A
	// checkpoint stores only a fingerprint of the key, never the key.
	SamplingKey []byte
	Seed        uint64

	// CheckpointDir, if set, is where the server's state is saved
	// atomically every CheckpointEvery rounds (0 means every round) and
	// after the last round, as the file CheckpointFile. With a Privacy it is
	// also saved after every release, before the new parameters leave the
	// server.
	CheckpointDir   string
	CheckpointEvery int

	// State holds the host's own stateful parts, checkpointed with the
	// server's under their names (for example a simulation's per-client
	// store: SCAFFOLD's control variates). Each is restored by Restore;
	// a name may not start with "fl/".
	State map[string]Stateful

	// Logger receives the server's log; nil discards it. Client failures
	// are logged at warn level.
	Logger *slog.Logger
	// Observer, if set, is told when each round starts and ends.
	Observer Observer
}

// CheckpointFile is the file name of the checkpoint in CheckpointDir.
const CheckpointFile = "checkpoint.fedgo"

// DefaultServerConfig returns a config for 10 rounds with the defaults of
// the zero fields written out: every client each round, FedAvg (the nil
// Aggregator), SGD with LR 1, a quorum of 1, 3 aborted rounds tolerated,
// evaluation after the last round.
func DefaultServerConfig() ServerConfig {
	return ServerConfig{
		Rounds:     10,
		MinClients: 1,
		MaxAborted: 3,
		Optimizer:  SGD{LR: 1},
	}
}

// Validate reports every field out of range and every part that cannot
// work with another, naming the field. It does not see the pool; NewServer
// also checks the exchange against the pool.
func (c *ServerConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Rounds <= 0 {
		bad("Rounds = %d, want > 0", c.Rounds)
	}
	if c.ClientsPerRound < 0 {
		bad("ClientsPerRound = %d, want ≥ 0", c.ClientsPerRound)
	}
	if !(c.ClientFraction >= 0 && c.ClientFraction <= 1) {
		bad("ClientFraction = %v, want in [0, 1]", c.ClientFraction)
	}
	if c.ClientsPerRound > 0 && c.ClientFraction > 0 {
		bad("set ClientsPerRound or ClientFraction, not both")
	}
	if c.Sampler != nil && (c.ClientsPerRound > 0 || c.ClientFraction > 0) {
		bad("ClientsPerRound and ClientFraction apply only when Sampler is nil")
	}
	if c.MinClients < 0 {
		bad("MinClients = %d, want ≥ 0", c.MinClients)
	}
	if c.ClientsPerRound > 0 && c.MinClients > c.ClientsPerRound {
		bad("MinClients = %d exceeds ClientsPerRound = %d", c.MinClients, c.ClientsPerRound)
	}
	if u, ok := c.Sampler.(Uniform); ok && u.Count > 0 && c.MinClients > u.Count {
		bad("MinClients = %d exceeds the sampler's count %d", c.MinClients, u.Count)
	}
	if c.MaxAborted < 0 {
		bad("MaxAborted = %d, want ≥ 0", c.MaxAborted)
	}
	if c.RoundTimeout < 0 {
		bad("RoundTimeout = %v, want ≥ 0", c.RoundTimeout)
	}
	if c.EvalEvery < 0 {
		bad("EvalEvery = %d, want ≥ 0", c.EvalEvery)
	}
	if c.EvalClients < -1 {
		bad("EvalClients = %d, want ≥ -1", c.EvalClients)
	}
	if c.CheckpointEvery < 0 {
		bad("CheckpointEvery = %d, want ≥ 0", c.CheckpointEvery)
	}
	for name, part := range c.State {
		if name == "" || strings.HasPrefix(name, "fl/") || part == nil {
			bad("State[%q]: want a non-empty name not starting with \"fl/\" and a non-nil part", name)
		}
	}
	if c.SamplingKey != nil && len(c.SamplingKey) != 32 {
		bad("SamplingKey has %d bytes, want 32", len(c.SamplingKey))
	}
	if c.Exchange != nil && c.Aggregator != nil {
		bad("Aggregator is set with an Exchange, which aggregates itself: set the aggregator in the exchange, or leave Aggregator nil")
	}
	if _, ok := c.Aggregator.(Privacy); ok && c.Privacy == nil {
		bad("Aggregator is a Privacy (%T): set it as Privacy, so that its sampler and budget are used and its ε recorded", c.Aggregator)
	}
	if c.Privacy != nil {
		if c.Sampler != nil && c.Sampler != c.Privacy.Sampler() {
			bad("Sampler is %#v but Privacy accounts %#v: leave Sampler nil (the server uses Privacy.Sampler())", c.Sampler, c.Privacy.Sampler())
		}
		if c.ClientsPerRound > 0 || c.ClientFraction > 0 {
			bad("ClientsPerRound/ClientFraction are set with a Privacy, whose sampler decides who takes part: leave them 0")
		}
		if c.Aggregator != nil && c.Aggregator != c.Privacy.Aggregator() {
			bad("Aggregator is set with a Privacy: a robust rule or attack wrapper between the clients and the DP sum changes its sensitivity, which the accounting does not cover; leave Aggregator nil")
		}
	}
	errs = append(errs, checkClientConfig("ClientConfig", c.ClientConfig)...)
	if v, ok := c.Optimizer.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			bad("Optimizer: %v", err)
		}
	}
	if v, ok := c.Aggregator.(Validator); ok {
		if n := c.sampleSize(-1); n > 0 {
			if err := v.Validate(n); err != nil {
				bad("Aggregator cannot aggregate the %d clients a round samples: %v", n, err)
			}
		}
		if err := v.Validate(max(c.MinClients, 1)); err != nil {
			bad("Aggregator cannot aggregate a round at the quorum MinClients = %d: %v (raise MinClients)", max(c.MinClients, 1), err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}

// sampleSize returns how many clients a round samples from a population of
// n (-1: unknown), or 0 when that is not fixed.
func (c *ServerConfig) sampleSize(n int) int {
	s := c.Sampler
	if s == nil {
		s = Uniform{Count: c.ClientsPerRound, Fraction: c.ClientFraction}
	}
	u, ok := s.(Uniform)
	switch {
	case !ok:
		return 0
	case u.Count > 0 && n < 0:
		return u.Count
	case n < 0:
		return 0
	}
	return u.Size(n)
}

// checkClientConfig checks the well-known keys of a client config.
func checkClientConfig(field string, cfg Config) []error {
	var errs []error
	for k, v := range cfg {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			errs = append(errs, fmt.Errorf("%s[%q] = %v is not finite", field, k, v))
		}
	}
	posInt := func(k string) {
		if v, ok := cfg[k]; ok && !(v >= 1 && v == math.Trunc(v)) {
			errs = append(errs, fmt.Errorf("%s[%q] = %v, want a positive integer", field, k, v))
		}
	}
	if v, ok := cfg[KeyLR]; ok && !(v > 0) {
		errs = append(errs, fmt.Errorf("%s[%q] = %v, want > 0", field, KeyLR, v))
	}
	if v, ok := cfg[KeyMu]; ok && !(v >= 0) {
		errs = append(errs, fmt.Errorf("%s[%q] = %v, want ≥ 0", field, KeyMu, v))
	}
	posInt(KeyEpochs)
	posInt(KeyBatchSize)
	return errs
}

// Stateful is a part whose state a checkpoint carries.
type Stateful interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// MarshalInner returns the state of inner, a part that a wrapper holds
// (an Exchange's Aggregator, a Privacy's mechanism): inner's MarshalBinary
// if it is an encoding.BinaryMarshaler, else no bytes. A wrapper that is
// [Stateful] on behalf of its inner part forwards to it with MarshalInner
// and [UnmarshalInner].
func MarshalInner(inner any) ([]byte, error) {
	if m, ok := inner.(encoding.BinaryMarshaler); ok {
		return m.MarshalBinary()
	}
	return []byte{}, nil
}

// UnmarshalInner restores inner's state from b with its UnmarshalBinary.
// State for an inner part that keeps none is refused with an error
// wrapping [ErrCheckpoint]; no bytes for it are accepted.
func UnmarshalInner(inner any, b []byte) error {
	if u, ok := inner.(encoding.BinaryUnmarshaler); ok {
		return u.UnmarshalBinary(b)
	}
	if len(b) > 0 {
		return fmt.Errorf("%w: %d bytes of state for %T, which keeps none", ErrCheckpoint, len(b), inner)
	}
	return nil
}
