package fl

import (
	"cmp"
	"context"
	"encoding"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/fedgo/fedgo/internal/vec"
)

// Errors returned by [Server].
var (
	ErrConfig    = errors.New("fl: invalid server config")
	ErrQuorum    = errors.New("fl: too many consecutive rounds without quorum")
	ErrDone      = errors.New("fl: all rounds have run")
	ErrNoDecoder = errors.New("fl: update has a payload but the server has no UpdateDecoder")
	ErrReply     = errors.New("fl: unexpected reply")
)

// UpdateDecoder turns the encoded payload of an update message into its
// dense delta. A server needs one when its clients compress their updates
// (see package compress).
type UpdateDecoder interface {
	// DecodeUpdate writes the delta carried by m.Payload to dst, whose
	// length is the model's dimension. It returns an error if the payload
	// is malformed or its length differs from len(dst).
	DecodeUpdate(dst []float64, m *Message) error
}

// RoundChecker is implemented by an [Aggregator] that may refuse to let a
// round start, such as a differentially private aggregator whose privacy
// budget the round would exceed. The server calls CheckRound before it
// samples; an error stops Run with the error wrapped, before any client is
// contacted, and the parameters stay those of the last completed round.
type RoundChecker interface {
	CheckRound(round int) error
}

// RoundRecorder is implemented by an [Aggregator] that records what a
// round cost (privacy spent, for example) in the round's stats, usually in
// stats.Extra. The server calls it after a round's aggregate was applied.
type RoundRecorder interface {
	RecordRound(stats *RoundStats)
}

// ServerConfig configures a [Server]. Zero fields take the defaults given
// in their comments; [DefaultServerConfig] returns a config with every
// default spelled out.
type ServerConfig struct {
	// Rounds is the number of rounds Run runs in all (counting those
	// restored from a checkpoint). Required.
	Rounds int

	// Sampler picks each round's clients. Nil means Uniform{Count:
	// ClientsPerRound, Fraction: ClientFraction}: everyone when both are 0.
	Sampler         Sampler
	ClientsPerRound int
	ClientFraction  float64

	// MinClients is the quorum: a round with fewer accepted updates is
	// aborted and leaves the parameters unchanged. 0 means 1.
	MinClients int
	// MaxAborted is how many consecutive aborted rounds Run tolerates
	// before it returns ErrQuorum. 0 means 3.
	MaxAborted int
	// RoundTimeout is each round's deadline for client answers; late
	// clients count as failures ("timeout"). 0 means no deadline.
	RoundTimeout time.Duration

	// Aggregator combines the round's updates. Nil means &FedAvg{}.
	Aggregator Aggregator
	// Optimizer applies the aggregate to the global parameters. Nil means
	// SGD{LR: 1}, that is plain FedAvg.
	Optimizer ServerOptimizer
	// UpdateDecoder decodes updates that arrive as Payload rather than
	// Params. Nil means such updates are rejected.
	UpdateDecoder UpdateDecoder

	// ClientConfig holds the hyperparameters sent with every train
	// request; ConfigFunc, if set, returns per-round values that override
	// them (a learning-rate schedule, a per-round FedProx μ). The server
	// adds KeyRound, and KeyDeadline when RoundTimeout is set.
	ClientConfig Config
	ConfigFunc   func(round int) Config

	// EvalEvery runs evaluation every k rounds and after the last round:
	// the centralized Evaluate function if set, and federated evaluation
	// on EvalClients clients if EvalClients is not 0 (-1 means all). 0
	// means evaluate after the last round only.
	EvalEvery   int
	EvalClients int
	Evaluate    func(ctx context.Context, params []float64) (Metrics, error)

	// Seed seeds every random choice the server makes (sampling).
	Seed uint64

	// CheckpointDir, if set, is where the server's state is saved
	// atomically every CheckpointEvery rounds (0 means every round) and
	// after the last round, as the file CheckpointFile.
	CheckpointDir   string
	CheckpointEvery int

	// Workflow, if set, replaces the default exchange of a round (one
	// train message, one update per client, then Aggregator) with a
	// multi-step protocol such as secure aggregation, which writes the
	// aggregate itself. Aggregator is then unused.
	Workflow Workflow

	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
	// Observer, if set, is told when each round starts and ends.
	Observer Observer
}

// CheckpointFile is the file name of the checkpoint in CheckpointDir.
const CheckpointFile = "checkpoint.fedgo"

// DefaultServerConfig returns a config for 10 rounds of FedAvg with 10
// clients a round and every default written out.
func DefaultServerConfig() ServerConfig {
	return ServerConfig{
		Rounds:          10,
		ClientsPerRound: 10,
		MinClients:      1,
		MaxAborted:      3,
		Aggregator:      &FedAvg{},
		Optimizer:       SGD{LR: 1},
		EvalEvery:       1,
	}
}

// Validate reports whether the config is usable.
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
	for k, v := range c.ClientConfig {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			bad("ClientConfig[%q] = %v is not finite", k, v)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}

// Server runs federated rounds over a [Pool]: it samples clients, sends
// them the global parameters, collects and checks their updates, aggregates
// them in sampling order, and steps the global parameters.
//
// A Server is driven from one goroutine: Run (or RunRound) must not be
// called concurrently. During a round it sends to the sampled clients
// concurrently and waits for every send to return before it goes on.
type Server struct {
	cfg     ServerConfig
	pool    Pool
	log     *slog.Logger
	sampler Sampler
	agg     Aggregator
	opt     ServerOptimizer
	minQ    int
	maxAb   int

	params  []float64
	delta   []float64
	round   int // rounds completed
	aborted int // consecutive aborted rounds
	history History
}

// NewServer returns a server that starts from the parameters initial
// (copied) and reaches its clients through pool.
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
		cfg:     cfg,
		pool:    pool,
		log:     cfg.Logger,
		sampler: cfg.Sampler,
		agg:     cfg.Aggregator,
		opt:     cfg.Optimizer,
		minQ:    max(cfg.MinClients, 1),
		maxAb:   cmp.Or(cfg.MaxAborted, 3),
		params:  slices.Clone(initial),
		delta:   make([]float64, len(initial)),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.sampler == nil {
		s.sampler = Uniform{Count: cfg.ClientsPerRound, Fraction: cfg.ClientFraction}
	}
	if s.agg == nil {
		s.agg = &FedAvg{}
	}
	if s.opt == nil {
		s.opt = SGD{LR: 1}
	}
	return s, nil
}

// Params returns a copy of the current global parameters.
func (s *Server) Params() []float64 { return slices.Clone(s.params) }

// Round returns the number of rounds completed.
func (s *Server) Round() int { return s.round }

// History returns the record of the rounds completed. The caller must not
// modify it.
func (s *Server) History() *History { return &s.history }

// Run runs rounds until cfg.Rounds have completed, ctx is done, or too
// many consecutive rounds lose their quorum. It returns the history of all
// rounds. On cancellation the round in progress is discarded: the
// parameters are those of the last completed round.
func (s *Server) Run(ctx context.Context) (*History, error) {
	for s.round < s.cfg.Rounds {
		if _, err := s.RunRound(ctx); err != nil {
			return &s.history, err
		}
	}
	return &s.history, nil
}

// RunRound runs the next round and returns its stats. An aborted round
// (no quorum, or an aggregator error) is not an error unless it is the
// MaxAborted-th in a row.
func (s *Server) RunRound(ctx context.Context) (RoundStats, error) {
	if s.round >= s.cfg.Rounds {
		return RoundStats{}, ErrDone
	}
	if err := ctx.Err(); err != nil {
		return RoundStats{}, err
	}
	r := s.round + 1
	if g, ok := s.agg.(RoundChecker); ok {
		if err := g.CheckRound(r); err != nil {
			return RoundStats{}, fmt.Errorf("fl: round %d refused: %w", r, err)
		}
	}
	start := time.Now()
	upBefore, downBefore := s.traffic()

	conns, population := s.reachable()
	rng := rand.New(rand.NewPCG(s.cfg.Seed, uint64(r)<<1))
	sampled := s.sampler.Sample(rng, population)
	stats := RoundStats{Round: r, Sampled: len(sampled), TrainLoss: math.NaN()}
	if s.cfg.Observer != nil {
		s.cfg.Observer.RoundStart(r, sampled)
	}

	ccfg := s.roundConfig(r)
	reason := ""
	if wf := s.cfg.Workflow; wf != nil {
		rc := &RoundContext{Round: r, Params: s.params, Config: ccfg, Stats: &stats, Logger: s.log}
		for _, id := range sampled {
			if c, ok := conns[id]; ok {
				rc.Clients = append(rc.Clients, c)
			} else {
				stats.AddFailure(FailError)
			}
		}
		accepted, err := wf.Run(ctx, rc, s.delta)
		if ctx.Err() != nil {
			return stats, ctx.Err()
		}
		stats.Accepted = accepted
		switch {
		case err != nil:
			reason = "workflow: " + err.Error()
		case accepted < s.minQ:
			reason = fmt.Sprintf("%d updates accepted, quorum is %d", accepted, s.minQ)
		}
	} else {
		updates, err := s.collect(ctx, r, conns, sampled, ccfg, &stats)
		if err != nil {
			return stats, err
		}
		stats.Accepted = len(updates)
		stats.TrainLoss = meanLoss(updates)
		if len(updates) < s.minQ {
			reason = fmt.Sprintf("%d updates accepted, quorum is %d", len(updates), s.minQ)
		} else if err := s.agg.Aggregate(s.delta, updates); err != nil {
			reason = "aggregator: " + err.Error()
		}
	}
	if i := vec.FirstNonFinite(s.delta); reason == "" && i >= 0 {
		reason = fmt.Sprintf("aggregate coordinate %d is %v", i, s.delta[i])
	}
	if reason != "" {
		stats.Aborted = true
		s.aborted++
		s.log.Warn("round aborted", "round", r, "reason", reason)
	} else {
		s.aborted = 0
		s.opt.Step(s.params, s.delta)
		if rec, ok := s.agg.(RoundRecorder); ok {
			rec.RecordRound(&stats)
		}
	}

	if r == s.cfg.Rounds || (s.cfg.EvalEvery > 0 && r%s.cfg.EvalEvery == 0) {
		if err := s.evaluate(ctx, r, conns, population, &stats); err != nil {
			return stats, err
		}
	}
	up, down := s.traffic()
	stats.BytesUp, stats.BytesDown = up-upBefore, down-downBefore
	stats.Seconds = secondsSince(start)
	s.round = r
	s.history.Rounds = append(s.history.Rounds, stats)
	s.log.Info("round", "round", r, "sampled", stats.Sampled, "accepted", stats.Accepted,
		"failed", stats.Failed, "loss", stats.TrainLoss, "seconds", stats.Seconds)
	if s.cfg.Observer != nil {
		s.cfg.Observer.RoundEnd(stats)
	}
	if s.cfg.CheckpointDir != "" && (r == s.cfg.Rounds || r%max(s.cfg.CheckpointEvery, 1) == 0) {
		if err := WriteCheckpoint(filepath.Join(s.cfg.CheckpointDir, CheckpointFile), s.Checkpoint()); err != nil {
			return stats, err
		}
	}
	if stats.Aborted && s.aborted >= s.maxAb {
		return stats, fmt.Errorf("%w: %d in a row (last: %s)", ErrQuorum, s.aborted, reason)
	}
	return stats, nil
}

// reachable returns the pool's connections by id and the sorted ids,
// dropping (and logging) connections whose id repeats an earlier one.
func (s *Server) reachable() (map[string]Conn, []string) {
	list := s.pool.Conns()
	conns := make(map[string]Conn, len(list))
	ids := make([]string, 0, len(list))
	for _, c := range list {
		id := c.ID()
		if _, dup := conns[id]; dup {
			s.log.Warn("pool lists a client twice; using the first", "client", id)
			continue
		}
		conns[id] = c
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return conns, ids
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

// Workflow runs the client exchange of a round in place of the default
// one: it asks the round's clients to train on rc.Params, runs whatever
// protocol it needs with them, and writes the aggregate update to dst. It
// returns how many clients' updates the aggregate holds; the server checks
// that against the quorum, checks dst for NaN and Inf, and steps the
// parameters. It counts failed clients in rc.Stats. An error aborts the
// round, leaving the parameters unchanged.
type Workflow interface {
	Run(ctx context.Context, rc *RoundContext, dst []float64) (accepted int, err error)
}

// RoundContext is what a [Workflow] gets to run one round.
type RoundContext struct {
	Round   int
	Params  []float64 // the global parameters; read-only
	Config  Config    // the round's client config
	Clients []Conn    // the sampled clients, in sampling order
	Stats   *RoundStats
	Logger  *slog.Logger
}

// Send sends msg(i) to each client i of rc.Clients at once (a nil message
// skips the client) and returns the replies and errors by client index. It
// waits for every send to return.
func (rc *RoundContext) Send(ctx context.Context, msg func(i int) *Message) ([]*Message, []error) {
	return sendEach(ctx, rc.Clients, msg)
}

// fanOut sends msg to each client in ids at once and returns the replies
// and errors in the order of ids; an id the pool does not list gets
// ErrUnknownClient.
func fanOut(ctx context.Context, conns map[string]Conn, ids []string, msg *Message) ([]*Message, []error) {
	clients := make([]Conn, len(ids))
	for i, id := range ids {
		clients[i] = conns[id]
	}
	return sendEach(ctx, clients, func(i int) *Message { return msg })
}

// sendEach sends msg(i) to clients[i] for every i at once, skipping nil
// clients (ErrUnknownClient) and nil messages, and waits for every send.
func sendEach(ctx context.Context, clients []Conn, msg func(i int) *Message) ([]*Message, []error) {
	replies := make([]*Message, len(clients))
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		if c == nil {
			errs[i] = ErrUnknownClient
			continue
		}
		m := msg(i)
		if m == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i], errs[i] = c.Send(ctx, m)
		}()
	}
	wg.Wait()
	return replies, errs
}

// collect runs the training part of round r and returns the accepted
// updates in sampling order. It returns an error only when ctx is done.
func (s *Server) collect(ctx context.Context, r int, conns map[string]Conn, sampled []string, cfg Config, stats *RoundStats) ([]Update, error) {
	rctx := ctx
	if s.cfg.RoundTimeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, s.cfg.RoundTimeout)
		defer cancel()
	}
	msg := &Message{Type: TypeTrain, Round: r, Params: s.params, Config: cfg}
	replies, errs := fanOut(rctx, conns, sampled, msg)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	updates := make([]Update, 0, len(sampled))
	seen := make(map[string]bool, len(sampled))
	for i, id := range sampled {
		if seen[id] {
			stats.fail(FailDup)
			s.log.Warn("update rejected", "round", r, "client", id, "err", ErrDuplicate)
			continue
		}
		seen[id] = true
		err := errs[i]
		if err == nil {
			var u Update
			u, err = s.toUpdate(id, r, replies[i])
			if err == nil {
				updates = append(updates, u)
				stats.TrainSeconds += u.Metrics[KeyTrainSeconds]
				continue
			}
			stats.fail(FailRejected)
		} else if rctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
			stats.fail(FailTimeout)
		} else {
			stats.fail(FailError)
		}
		s.log.Debug("client failed", "round", r, "client", id, "err", err)
	}
	return updates, nil
}

// ErrTimeout may be returned (wrapped) by a Conn whose client did not answer
// in time; the server counts it as a timeout.
var ErrTimeout = errors.New("fl: client timed out")

// toUpdate checks a train reply and turns it into an Update.
func (s *Server) toUpdate(id string, r int, m *Message) (Update, error) {
	if m == nil {
		return Update{}, &ClientError{id, fmt.Errorf("%w: nil message", ErrReply)}
	}
	if m.Type != TypeUpdate || m.Round != r {
		return Update{}, &ClientError{id, fmt.Errorf("%w: type %q round %d, want %q round %d", ErrReply, m.Type, m.Round, TypeUpdate, r)}
	}
	u := Update{Client: id, Delta: m.Params, Weight: m.Weight, Metrics: m.Metrics}
	if len(m.Payload) > 0 {
		if len(m.Params) > 0 {
			return Update{}, &ClientError{id, fmt.Errorf("%w: both Params and Payload set", ErrReply)}
		}
		if s.cfg.UpdateDecoder == nil {
			return Update{}, &ClientError{id, ErrNoDecoder}
		}
		u.Delta = make([]float64, len(s.params))
		if err := s.cfg.UpdateDecoder.DecodeUpdate(u.Delta, m); err != nil {
			return Update{}, &ClientError{id, err}
		}
	}
	if err := CheckUpdate(&u, len(s.params)); err != nil {
		return Update{}, err
	}
	return u, nil
}

// meanLoss is the example-weighted mean of the updates' KeyLoss metric.
func meanLoss(updates []Update) float64 {
	var sum, w float64
	for _, u := range updates {
		l, ok := u.Metrics[KeyLoss]
		if !ok || math.IsNaN(l) || math.IsInf(l, 0) {
			continue
		}
		n := u.Metrics[KeyExamples]
		if !(n > 0) {
			n = u.Weight
		}
		sum += n * l
		w += n
	}
	if w == 0 {
		return math.NaN()
	}
	return sum / w
}

// evaluate runs the centralized and federated evaluations of round r.
func (s *Server) evaluate(ctx context.Context, r int, conns map[string]Conn, population []string, stats *RoundStats) error {
	if s.cfg.Evaluate != nil {
		m, err := s.cfg.Evaluate(ctx, slices.Clone(s.params))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Warn("central evaluation failed", "round", r, "err", err)
		} else {
			stats.Central = m
		}
	}
	if s.cfg.EvalClients == 0 {
		return nil
	}
	ids := population
	if s.cfg.EvalClients > 0 {
		rng := rand.New(rand.NewPCG(s.cfg.Seed, uint64(r)<<1|1))
		ids = Uniform{Count: s.cfg.EvalClients}.Sample(rng, population)
	}
	rctx := ctx
	if s.cfg.RoundTimeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, s.cfg.RoundTimeout)
		defer cancel()
	}
	replies, errs := fanOut(rctx, conns, ids, &Message{Type: TypeEvaluate, Round: r, Params: s.params})
	if err := ctx.Err(); err != nil {
		return err
	}
	sums := Metrics{}
	var total float64
	failed := 0
	for i, m := range replies {
		if errs[i] != nil || m == nil || m.Type != TypeMetrics {
			failed++
			continue
		}
		n := m.Metrics[KeyExamples]
		if !(n > 0) || math.IsInf(n, 0) {
			failed++
			continue
		}
		for k, v := range m.Metrics {
			if k != KeyExamples && !math.IsNaN(v) && !math.IsInf(v, 0) {
				sums[k] += n * v
			}
		}
		total += n
	}
	out := Metrics{"clients": float64(len(ids) - failed), "failed": float64(failed)}
	if total > 0 {
		for k, v := range sums {
			out[k] = v / total
		}
		out[KeyExamples] = total
	}
	stats.Eval = out
	return nil
}

// traffic reads the pool's byte counters, if it has them.
func (s *Server) traffic() (up, down int64) {
	if tc, ok := s.pool.(TrafficCounter); ok {
		return tc.Traffic()
	}
	return 0, 0
}

// Checkpoint returns a snapshot of the server's state.
func (s *Server) Checkpoint() *Checkpoint {
	cp := &Checkpoint{
		Round:   s.round,
		Seed:    s.cfg.Seed,
		Aborted: s.aborted,
		Params:  slices.Clone(s.params),
		History: History{Rounds: slices.Clone(s.history.Rounds)},
	}
	if m, ok := s.opt.(encoding.BinaryMarshaler); ok {
		cp.Optimizer, _ = m.MarshalBinary()
	}
	if m, ok := s.agg.(encoding.BinaryMarshaler); ok {
		cp.Aggregator, _ = m.MarshalBinary()
	}
	return cp
}

// Restore sets the server's state from cp, which must come from a server
// with the same seed and the same number of parameters.
func (s *Server) Restore(cp *Checkpoint) error {
	switch {
	case cp.Seed != s.cfg.Seed:
		return fmt.Errorf("%w: checkpoint seed %d, server seed %d", ErrCheckpoint, cp.Seed, s.cfg.Seed)
	case len(cp.Params) != len(s.params):
		return fmt.Errorf("%w: checkpoint has %d parameters, server %d", ErrCheckpoint, len(cp.Params), len(s.params))
	case cp.Round < 0 || cp.Round != len(cp.History.Rounds):
		return fmt.Errorf("%w: round %d with %d rounds of history", ErrCheckpoint, cp.Round, len(cp.History.Rounds))
	case vec.FirstNonFinite(cp.Params) >= 0:
		return fmt.Errorf("%w: parameters are not finite", ErrCheckpoint)
	}
	if u, ok := s.opt.(encoding.BinaryUnmarshaler); ok {
		if err := u.UnmarshalBinary(cp.Optimizer); err != nil {
			return fmt.Errorf("%w: optimizer: %w", ErrCheckpoint, err)
		}
	}
	if u, ok := s.agg.(encoding.BinaryUnmarshaler); ok && cp.Aggregator != nil {
		if err := u.UnmarshalBinary(cp.Aggregator); err != nil {
			return fmt.Errorf("%w: aggregator: %w", ErrCheckpoint, err)
		}
	}
	copy(s.params, cp.Params)
	s.round = cp.Round
	s.aborted = cp.Aborted
	s.history = History{Rounds: slices.Clone(cp.History.Rounds)}
	return nil
}
