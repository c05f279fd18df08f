package fl

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"path/filepath"
	"slices"
	"time"

	"github.com/fedgo/fedgo/internal/vec"
)

// Server runs federated rounds over a [Pool]: it samples clients, runs the
// round's [Exchange] with them (by default: send the global parameters,
// collect and check their updates, aggregate them in sampling order), and
// steps the global parameters.
//
// A Server is driven from one goroutine: Run (or RunRound) must not be
// called concurrently. During a round it sends to the sampled clients
// concurrently and waits for every send to return before it goes on.
type Server struct {
	cfg      ServerConfig
	pool     Pool
	log      *slog.Logger
	sampler  Sampler
	exchange Exchange
	opt      ServerOptimizer
	minQ     int
	maxAb    int
	key      [32]byte
	keyFixed bool // the key comes from the config, not from crypto/rand

	params  []float64
	delta   []float64
	round   int          // rounds completed
	aborted int          // consecutive aborted rounds
	cause   *ClientError // the dominant client failure of the last aborted round
	history History
}

// NewServer returns a server that starts from the parameters initial
// (copied) and reaches its clients through pool. It validates the whole
// composition (see [ServerConfig.Validate] and [Exchange.Check]) and
// returns an error wrapping [ErrConfig] that names every problem.
func NewServer(cfg ServerConfig, pool Pool, initial []float64) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if pool == nil {
		return nil, fmt.Errorf("%w: nil pool", ErrConfig)
	}
	if len(initial) == 0 {
		return nil, fmt.Errorf("%w: no initial parameters", ErrConfig)
	}
	if i := vec.FirstNonFinite(initial); i >= 0 {
		return nil, fmt.Errorf("%w: initial parameter %d is %v", ErrConfig, i, initial[i])
	}
	s := &Server{
		cfg:      cfg,
		pool:     pool,
		log:      orDiscard(cfg.Logger),
		sampler:  cfg.Sampler,
		exchange: cfg.Exchange,
		opt:      cfg.Optimizer,
		minQ:     max(cfg.MinClients, 1),
		maxAb:    cmp.Or(cfg.MaxAborted, 3),
		params:   slices.Clone(initial),
		delta:    make([]float64, len(initial)),
	}
	switch {
	case cfg.Privacy != nil:
		s.sampler = cfg.Privacy.Sampler()
	case s.sampler == nil:
		s.sampler = Uniform{Count: cfg.ClientsPerRound, Fraction: cfg.ClientFraction}
	}
	if s.exchange == nil {
		s.exchange = &TrainExchange{Aggregator: cfg.Aggregator}
	}
	if s.opt == nil {
		s.opt = SGD{LR: 1}
	}
	if err := s.exchange.Check(&s.cfg, pool); err != nil {
		return nil, fmt.Errorf("%w: exchange: %w", ErrConfig, err)
	}
	if v, ok := cfg.Aggregator.(Validator); ok {
		if n := cfg.sampleSize(len(pool.Population())); n > 0 {
			if err := v.Validate(n); err != nil {
				return nil, fmt.Errorf("%w: Aggregator cannot aggregate the %d clients a round samples: %w", ErrConfig, n, err)
			}
		}
	}
	switch {
	case cfg.SamplingKey != nil:
		copy(s.key[:], cfg.SamplingKey)
		s.keyFixed = true
	case cfg.Seed != 0:
		s.key = sha256.Sum256(binary.LittleEndian.AppendUint64([]byte("fedgo/seed/v1"), cfg.Seed))
		s.keyFixed = true
	default:
		if _, err := rand.Read(s.key[:]); err != nil {
			return nil, fmt.Errorf("fl: drawing the sampling key: %w", err)
		}
	}
	return s, nil
}

// Params returns a copy of the current global parameters.
func (s *Server) Params() []float64 { return slices.Clone(s.params) }

// Round returns the number of rounds completed.
func (s *Server) Round() int { return s.round }

// History returns a copy of the record of the rounds completed.
func (s *Server) History() *History { return s.history.Clone() }

// Run runs rounds until cfg.Rounds have completed, ctx is done, or too
// many consecutive rounds are aborted. It returns (a copy of) the history
// of all rounds. On cancellation the round in progress is discarded: the
// parameters are those of the last completed round. Run returns an error
// when no round of the run succeeded.
func (s *Server) Run(ctx context.Context) (*History, error) {
	for s.round < s.cfg.Rounds {
		if _, err := s.RunRound(ctx); err != nil {
			return s.History(), err
		}
	}
	for _, r := range s.history.Rounds {
		if !r.Aborted {
			return s.History(), nil
		}
	}
	return s.History(), s.quorumError("every round was aborted", "")
}

// quorumError is the error of a run stopped by aborted rounds; it wraps
// the dominant client failure, if any, so that errors.As finds it.
func (s *Server) quorumError(what, reason string) error {
	if reason != "" {
		what += " (last: " + reason + ")"
	}
	if s.cause != nil {
		return fmt.Errorf("%w: %s: %w", ErrQuorum, what, s.cause)
	}
	return fmt.Errorf("%w: %s", ErrQuorum, what)
}

// RunRound runs the next round and returns its stats. It reads as the
// round: budget check → sample → exchange → quorum and finiteness →
// optimizer step → record (and, under a Privacy, the write-ahead
// checkpoint) → evaluate → history, observer and checkpoint.
//
// An aborted round (no quorum, an exchange error, a non-finite aggregate)
// is not an error unless it is the MaxAborted-th in a row.
func (s *Server) RunRound(ctx context.Context) (RoundStats, error) {
	if s.round >= s.cfg.Rounds {
		return RoundStats{}, ErrDone
	}
	if err := ctx.Err(); err != nil {
		return RoundStats{}, err
	}
	r, population := s.round+1, s.pool.Population()
	if err := s.checkBudget(r, len(population)); err != nil {
		return RoundStats{}, err
	}
	start := time.Now()
	upBefore, downBefore := s.traffic()
	stats := RoundStats{Round: r, TrainLoss: math.NaN()}
	rd := s.sampleRound(r, population, &stats)

	accepted, err := s.exchange.Run(ctx, rd, s.delta)
	if ctx.Err() != nil {
		return stats, ctx.Err()
	}
	rd.finish()
	stats.Accepted = accepted
	reason := s.judge(accepted, err)
	s.apply(r, rd, reason, &stats)
	if err := s.writeAhead(&stats); err != nil {
		return stats, err
	}
	if err := s.evaluateIfDue(ctx, r, population, &stats); err != nil {
		return stats, err
	}
	up, down := s.traffic()
	stats.BytesUp, stats.BytesDown = up-upBefore, down-downBefore
	stats.Seconds = time.Since(start).Seconds()
	if err := s.record(stats); err != nil {
		return stats, err
	}
	if stats.Aborted && s.aborted >= s.maxAb {
		return stats, s.quorumError(fmt.Sprintf("%d aborted rounds in a row", s.aborted), reason)
	}
	return stats, nil
}

// checkBudget asks the Privacy, if any, whether round r may run.
func (s *Server) checkBudget(r, population int) error {
	if p := s.cfg.Privacy; p != nil {
		if err := p.Check(r, population); err != nil {
			return fmt.Errorf("fl: round %d refused: %w", r, err)
		}
	}
	return nil
}

// sampleRound samples round r's clients and returns the Round the exchange
// runs on.
func (s *Server) sampleRound(r int, population []string, stats *RoundStats) *Round {
	rd := s.sample(r, s.sampler, 0, population, stats)
	rd.Params, rd.Config, rd.Quorum, rd.Privacy = s.params, s.roundConfig(r), s.minQ, s.cfg.Privacy
	stats.Sampled = rd.Len()
	if s.cfg.Observer != nil {
		s.cfg.Observer.RoundStart(r, slices.Clone(rd.ids))
	}
	return rd
}

// judge returns why the round must be aborted, or "".
func (s *Server) judge(accepted int, err error) string {
	switch {
	case err != nil:
		return "exchange: " + err.Error()
	case accepted < s.minQ:
		return fmt.Sprintf("%d contributions accepted, quorum is %d", accepted, s.minQ)
	}
	if i := vec.FirstNonFinite(s.delta); i >= 0 {
		return fmt.Sprintf("aggregate coordinate %d is %v", i, s.delta[i])
	}
	return ""
}

// apply completes round r: it steps the parameters and records the privacy
// cost, or counts the round as aborted for reason; then it appends the
// round to the history.
func (s *Server) apply(r int, rd *Round, reason string, stats *RoundStats) {
	s.round = r
	if reason != "" {
		stats.Aborted = true
		s.aborted++
		s.cause = rd.dominant()
		s.log.Warn("round aborted", "round", r, "reason", reason, "cause", s.cause)
	} else {
		s.aborted, s.cause = 0, nil
		s.opt.Step(s.params, s.delta)
		if p := s.cfg.Privacy; p != nil {
			p.Record(stats)
		}
	}
	s.history.Rounds = append(s.history.Rounds, *stats)
}

// writeAhead saves a checkpoint after a DP release, before the new
// parameters reach an evaluator, an observer or the caller.
func (s *Server) writeAhead(stats *RoundStats) error {
	if s.cfg.Privacy == nil || stats.Aborted || s.cfg.CheckpointDir == "" {
		return nil
	}
	return s.writeCheckpoint()
}

// evaluateIfDue evaluates every EvalEvery rounds and after the last.
func (s *Server) evaluateIfDue(ctx context.Context, r int, population []string, stats *RoundStats) error {
	if r == s.cfg.Rounds || (s.cfg.EvalEvery > 0 && r%s.cfg.EvalEvery == 0) {
		return s.evaluate(ctx, r, population, stats)
	}
	return nil
}

// record puts the finished round's stats in the history, tells the log and
// the observer, and writes a checkpoint when one is due.
func (s *Server) record(stats RoundStats) error {
	s.history.Rounds[len(s.history.Rounds)-1] = stats
	s.log.Info("round", "round", stats.Round, "sampled", stats.Sampled, "accepted", stats.Accepted,
		"failed", stats.Failed, "loss", stats.TrainLoss, "seconds", stats.Seconds)
	if s.cfg.Observer != nil {
		s.cfg.Observer.RoundEnd(stats.clone())
	}
	if s.cfg.CheckpointDir != "" && (stats.Round == s.cfg.Rounds || stats.Round%max(s.cfg.CheckpointEvery, 1) == 0) {
		return s.writeCheckpoint()
	}
	return nil
}

// sample draws the clients of round r with sampler (purpose 0: training, 1:
// evaluation) from population and returns them as a Round. Indices out of
// range or repeated are dropped and counted as duplicates.
func (s *Server) sample(r int, sampler Sampler, purpose byte, population []string, stats *RoundStats) *Round {
	idx := sampler.Sample(s.rng(r, purpose), len(population))
	ids := make([]string, 0, len(idx))
	conns := make([]Conn, 0, len(idx))
	seen := make(map[int]bool, len(idx))
	for _, i := range idx {
		if i < 0 || i >= len(population) || seen[i] {
			stats.fail(FailDup)
			s.log.Warn("sampler returned a bad or repeated index", "round", r, "index", i)
			continue
		}
		seen[i] = true
		id := population[i]
		c, ok := s.pool.Conn(id)
		if !ok {
			c = nil
		}
		ids = append(ids, id)
		conns = append(conns, c)
	}
	rd := newRound(r, ids, conns, stats, s.log)
	rd.StepTimeout = s.cfg.RoundTimeout
	return rd
}

// rng returns the source of round r's random choices for purpose: ChaCha8
// keyed by SHA-256 of the sampling key, the round and the purpose.
func (s *Server) rng(r int, purpose byte) *mrand.Rand {
	b := append([]byte("fedgo/sampling/v1"), s.key[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(r))
	b = append(b, purpose)
	return mrand.New(mrand.NewChaCha8(sha256.Sum256(b)))
}

// keyFingerprint is what a checkpoint stores of the sampling key.
func (s *Server) keyFingerprint() [32]byte {
	return sha256.Sum256(append([]byte("fedgo/key-fingerprint/v1"), s.key[:]...))
}

func (s *Server) roundConfig(r int) Config {
	cfg := s.cfg.ClientConfig.Clone()
	if cfg == nil {
		cfg = Config{}
	}
	if s.cfg.ConfigFunc != nil {
		for k, v := range s.cfg.ConfigFunc(r) {
			cfg[k] = v
		}
	}
	cfg[KeyRound] = float64(r)
	if s.cfg.RoundTimeout > 0 {
		cfg[KeyDeadline] = s.cfg.RoundTimeout.Seconds()
	}
	return cfg
}

// traffic reads the pool's byte counters, if it has them.
func (s *Server) traffic() (up, down int64) {
	if tc, ok := s.pool.(TrafficCounter); ok {
		return tc.Traffic()
	}
	return 0, 0
}

func (s *Server) writeCheckpoint() error {
	cp, err := s.Checkpoint()
	if err != nil {
		return err
	}
	return WriteCheckpoint(filepath.Join(s.cfg.CheckpointDir, CheckpointFile), cp)
}
