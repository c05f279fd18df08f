package fl

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"
)

// Exchange is how a round's clients get the global parameters and how their
// contributions come back as one aggregate. The plain train exchange (one
// train message, one update per client, then the Aggregator) is the
// default; secure aggregation (package secagg/fedround) is another. Both run
// on the same [Round], which owns sending, deadlines, failure accounting and
// metric averaging, so an exchange holds only its protocol.
type Exchange interface {
	// Check reports whether the exchange can run under cfg with pool:
	// codecs, privacy, aggregator. The server calls it before round 1.
	Check(cfg *ServerConfig, pool Pool) error
	// Run runs the exchange of round r and writes the aggregate update to
	// dst (len(dst) == len(r.Params)). It returns how many clients'
	// contributions the aggregate holds. It must not compute an aggregate
	// (nor, with r.Privacy, release one) from fewer than r.Quorum
	// clients: it then returns the count with a nil error and the server
	// aborts the round. Any other error aborts the round too; the
	// parameters stay unchanged. Run returns ctx.Err() when ctx is done.
	Run(ctx context.Context, r *Round, dst []float64) (accepted int, err error)
}

// Round is one round as an [Exchange] sees it: the sampled clients in
// sampling order, the parameters and config they train with, and the
// bookkeeping of who has failed and why.
type Round struct {
	Number  int       // the round, from 1
	Params  []float64 // the global parameters; read-only
	Config  Config    // the round's client config
	Quorum  int       // the fewest contributions an aggregate may hold
	Privacy Privacy   // the server's privacy mechanism, or nil
	// StepTimeout bounds each Step's sends (0: no deadline); the server
	// sets it from ServerConfig.RoundTimeout. An exchange may change it
	// between steps.
	StepTimeout time.Duration
	Logger      *slog.Logger

	ids     []string
	conns   []Conn
	out     []bool // the client has left the round
	stats   *RoundStats
	first   map[string]*ClientError // the first failure of each reason
	metrics []Metrics
	weights []float64
	sizes   []int    // clients behind each member (nil: 1 each), see SetSize
	lost    []int    // clients behind each member already counted as failed
	why     []string // reason and step of each member's failure, "reason\x00step"
}

// newRound returns round number n with the clients ids, whose connections
// are conns (nil: unreachable, counted as failed at once).
func newRound(n int, ids []string, conns []Conn, stats *RoundStats, log *slog.Logger) *Round {
	r := &Round{
		Number: n, Logger: log, ids: ids, conns: conns, stats: stats,
		out: make([]bool, len(ids)), metrics: make([]Metrics, len(ids)), weights: make([]float64, len(ids)),
	}
	for i, c := range conns {
		if c == nil {
			r.Fail(i, "sample", FailUnreachable, ErrUnreachable)
		}
	}
	return r
}

// Len returns the number of clients sampled for the round.
func (r *Round) Len() int { return len(r.ids) }

// ID returns the id of client i, in sampling order.
func (r *Round) ID(i int) string { return r.ids[i] }

// Active reports whether client i is still in the round.
func (r *Round) Active(i int) bool { return !r.out[i] }

// Fail removes client i from the round, counting it once under reason (one
// of the Fail... constants, or a protocol's own) and logging err at warn
// level. A client that has already left is not counted again.
func (r *Round) Fail(i int, step, reason string, err error) {
	if r.out[i] {
		return
	}
	r.out[i] = true
	ce := &ClientError{Client: r.ids[i], Step: step, Err: err}
	if r.first == nil {
		r.first = map[string]*ClientError{}
	}
	if _, ok := r.first[reason]; !ok {
		r.first[reason] = ce
	}
	if r.why == nil {
		r.why = make([]string, len(r.ids))
	}
	r.why[i] = reason + "\x00" + step
	r.count(reason, step, r.Size(i)-r.lostAt(i))
	r.Logger.Warn("client failed", "round", r.Number, "client", r.ids[i], "step", step, "reason", reason, "err", err)
}

// count adds n failed clients under reason and step to the stats.
func (r *Round) count(reason, step string, n int) {
	if n <= 0 {
		return
	}
	if r.stats.Failures == nil {
		r.stats.Failures = map[string]int{}
	}
	r.stats.Failures[reason] += n
	r.stats.Failed += n
	if r.stats.FailedAt == nil {
		r.stats.FailedAt = map[string]int{}
	}
	r.stats.FailedAt[step] += n
}

// Size returns the number of clients member i stands for: 1 unless the
// exchange said otherwise with [Round.SetSize].
func (r *Round) Size(i int) int {
	if r.sizes == nil {
		return 1
	}
	return r.sizes[i]
}

func (r *Round) lostAt(i int) int {
	if r.lost == nil {
		return 0
	}
	return r.lost[i]
}

// SetSize says that member i stands for n clients: an edge aggregator
// (package hier) and the leaf clients below it. [RoundStats.Sampled]
// then counts n for the member, and its failure ([Round.Fail], before or
// after SetSize) counts n clients in Failed, Failures and FailedAt, less
// those already counted by [Round.FailWithin]. An exchange that sets sizes
// returns from Run, and compares with Quorum, the number of leaf clients
// in its aggregate, so that MinClients is a quorum of clients, not of
// members. It panics if n < 1 (a programmer error).
func (r *Round) SetSize(i, n int) {
	if n < 1 {
		panic("fl: Round.SetSize: n < 1")
	}
	if r.sizes == nil {
		if n == 1 {
			return
		}
		r.sizes = make([]int, len(r.ids))
		for k := range r.sizes {
			r.sizes[k] = 1
		}
	}
	old := r.sizes[i]
	r.sizes[i] = n
	if r.out[i] && r.why != nil && r.why[i] != "" {
		// The member has failed already: its clients count as it does.
		reason, step, _ := strings.Cut(r.why[i], "\x00")
		old = max(old-r.lostAt(i), 0)
		now := max(n-r.lostAt(i), 0)
		if now >= old {
			r.count(reason, step, now-old)
		} else {
			r.uncount(reason, step, old-now)
		}
	}
}

// uncount takes n failed clients back from the stats (a size lowered
// after the failure was counted).
func (r *Round) uncount(reason, step string, n int) {
	r.stats.Failures[reason] -= n
	r.stats.Failed -= n
	r.stats.FailedAt[step] -= n
}

// FailWithin counts n of the clients that member i stands for as failed
// under reason (a Fail... constant or a protocol's own) at step, while
// the member stays in the round: an edge whose sub-round lost n of its
// clients. n is capped so that a member never counts more failed clients
// than its size; a member that fails later counts only the rest.
func (r *Round) FailWithin(i int, step, reason string, n int) {
	n = min(n, r.Size(i)-r.lostAt(i))
	if n <= 0 || r.out[i] {
		return
	}
	if r.lost == nil {
		r.lost = make([]int, len(r.ids))
	}
	r.lost[i] += n
	r.count(reason, step, n)
}

// Report records the metrics client i reported with its training
// contribution (loss, examples, train time), and the weight of its update.
// The server averages the loss over the clients that reported one,
// weighted by [KeyExamples] (else by weight, else 1), and sums
// [KeyTrainSeconds].
func (r *Round) Report(i int, m Metrics, weight float64) {
	r.metrics[i], r.weights[i] = m, weight
}

// SetExtra records a value of the round under key in [RoundStats.Extra].
func (r *Round) SetExtra(key string, v float64) {
	if r.stats.Extra == nil {
		r.stats.Extra = Metrics{}
	}
	r.stats.Extra[key] = v
}

// Step sends msg(i) to every client i still in the round (a nil message
// skips the client this step, leaving it in the round), all at once,
// waits for every send to return or StepTimeout, and then passes each
// reply to handle in client order (so that what handle builds does not
// depend on arrival order). A client whose message cannot be built
// (reason [FailError]), whose send fails ([FailTimeout] or [FailError]), or
// whose reply is missing or refused by handle ([FailRejected]) leaves the
// round, counted once. Step returns an error only when ctx is done.
func (r *Round) Step(ctx context.Context, step string, msg func(i int) (*Message, error), handle func(i int, reply *Message) error) error {
	sctx := ctx
	if r.StepTimeout > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(ctx, r.StepTimeout)
		defer cancel()
	}
	replies := make([]*Message, len(r.ids))
	errs := make([]error, len(r.ids))
	asked := make([]bool, len(r.ids))
	var wg sync.WaitGroup
	for i, c := range r.conns {
		if r.out[i] {
			continue
		}
		m, err := msg(i)
		if err != nil {
			r.Fail(i, step, FailError, err)
			continue
		}
		if m == nil {
			continue // not asked this step; the client stays in the round
		}
		asked[i] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i], errs[i] = c.Send(sctx, m)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for i := range r.ids {
		if r.out[i] || !asked[i] {
			continue
		}
		err := errs[i]
		switch {
		case err != nil && (errors.Is(err, ErrTimeout) || sctx.Err() != nil && errors.Is(err, context.DeadlineExceeded)):
			r.Fail(i, step, FailTimeout, err)
		case err != nil:
			r.Fail(i, step, FailError, err)
		case replies[i] == nil:
			r.Fail(i, step, FailRejected, fmt.Errorf("%w: no reply", ErrReply))
		default:
			if err := handle(i, replies[i]); err != nil {
				r.Fail(i, step, FailRejected, err)
			}
		}
	}
	return nil
}

// finish sets the round's loss and train time from the reports. It may be
// called more than once (Stats calls it).
func (r *Round) finish() {
	var sum, w, seconds float64
	for i, m := range r.metrics {
		if v := m[KeyTrainSeconds]; v > 0 && !math.IsInf(v, 0) {
			seconds += v
		}
		l, ok := m[KeyLoss]
		if !ok || math.IsNaN(l) || math.IsInf(l, 0) {
			continue
		}
		n := m[KeyExamples]
		if !(n > 0) || math.IsInf(n, 0) {
			n = r.weights[i]
		}
		if !(n > 0) || math.IsInf(n, 0) {
			n = 1
		}
		sum += n * l
		w += n
	}
	r.stats.TrainSeconds = seconds
	if r.sizes != nil {
		n := 0
		for _, k := range r.sizes {
			n += k
		}
		r.stats.Sampled = n
	}
	r.stats.TrainLoss = math.NaN()
	if w > 0 {
		r.stats.TrainLoss = sum / w
	}
}

// dominant returns the first failure of the most frequent reason (ties:
// the reason first in sort order), or nil.
func (r *Round) dominant() *ClientError {
	var best *ClientError
	bestN, bestReason := 0, ""
	for reason, ce := range r.first {
		c := r.stats.Failures[reason]
		if c > bestN || c == bestN && reason < bestReason {
			best, bestN, bestReason = ce, c, reason
		}
	}
	return best
}

// TrainExchange is the default exchange: one [TypeTrain] message to each
// sampled client, one [TypeUpdate] reply with the dense delta in Params,
// checked ([CheckUpdate], type and round), and the accepted updates
// aggregated in sampling order by Aggregator (with a [Privacy], by its
// aggregator). Updates that travel encoded are decoded by the pool
// (package transport's compression wrappers); a reply that still carries
// a Payload is rejected.
type TrainExchange struct {
	// Aggregator combines the updates; nil means &FedAvg{}. With a
	// Privacy, it must be nil: the Privacy's aggregator is used.
	Aggregator Aggregator

	updates []Update
}

var _ Exchange = (*TrainExchange)(nil)

// Check refuses an Aggregator set together with a Privacy.
func (e *TrainExchange) Check(cfg *ServerConfig, _ Pool) error {
	if cfg.Privacy != nil && e.Aggregator != nil && e.Aggregator != cfg.Privacy.Aggregator() {
		return fmt.Errorf("%w: with Privacy the aggregate is the DP sum; a separate Aggregator (a robust rule, an attack wrapper) would change its sensitivity — leave Aggregator nil", ErrConfig)
	}
	return nil
}

func (e *TrainExchange) aggregator(r *Round) Aggregator {
	if r.Privacy != nil {
		return r.Privacy.Aggregator()
	}
	if e.Aggregator == nil {
		e.Aggregator = &FedAvg{}
	}
	return e.Aggregator
}

// Run collects the round's updates and aggregates them.
func (e *TrainExchange) Run(ctx context.Context, r *Round, dst []float64) (int, error) {
	msg := &Message{Type: TypeTrain, Round: r.Number, Params: r.Params, Config: r.Config}
	updates := e.updates[:0]
	err := r.Step(ctx, TypeTrain, func(int) (*Message, error) { return msg, nil }, func(i int, m *Message) error {
		u, err := trainReply(r.ID(i), r.Number, m, len(r.Params))
		if err != nil {
			return err
		}
		r.Report(i, m.Metrics, m.Weight)
		updates = append(updates, u)
		return nil
	})
	defer func() {
		clear(updates) // hold no client's delta past the round
		e.updates = updates[:0]
	}()
	if err != nil {
		return 0, err
	}
	if len(updates) < max(r.Quorum, 1) {
		return len(updates), nil
	}
	if err := e.aggregator(r).Aggregate(dst, updates); err != nil {
		return len(updates), fmt.Errorf("aggregator: %w", err)
	}
	return len(updates), nil
}

// trainReply checks a train reply and turns it into an Update.
func trainReply(id string, round int, m *Message, dim int) (Update, error) {
	switch {
	case m.Type != TypeUpdate || m.Round != round:
		return Update{}, fmt.Errorf("%w: type %q round %d, want %q round %d", ErrReply, m.Type, m.Round, TypeUpdate, round)
	case len(m.Payload) > 0:
		return Update{}, fmt.Errorf("%w: an encoded update (%d bytes of payload) reached the exchange: decode it in the pool (transport.CompressUplink)", ErrReply, len(m.Payload))
	}
	u := Update{Client: id, Delta: m.Params, Weight: m.Weight, Metrics: m.Metrics}
	if err := CheckUpdate(&u, dim); err != nil {
		return Update{}, err
	}
	return u, nil
}

// orDiscard returns l, or a logger that discards everything.
func orDiscard(l *slog.Logger) *slog.Logger {
	return cmp.Or(l, slog.New(slog.DiscardHandler))
}

// MarshalBinary returns the aggregator's state: empty unless it is an
// encoding.BinaryMarshaler.
func (e *TrainExchange) MarshalBinary() ([]byte, error) { return MarshalInner(e.Aggregator) }

// UnmarshalBinary restores the aggregator's state. State for a stateless
// aggregator is refused.
func (e *TrainExchange) UnmarshalBinary(b []byte) error { return UnmarshalInner(e.Aggregator, b) }

// NewRound returns round number n over conns (the sampled clients, in
// sampling order), for running an [Exchange] outside a [Server]: in tests,
// or in a host's own engine. Quorum is 1 and there is no deadline until
// the caller sets them; log may be nil.
func NewRound(n int, params []float64, cfg Config, conns []Conn, log *slog.Logger) *Round {
	ids := make([]string, len(conns))
	for i, c := range conns {
		ids[i] = c.ID()
	}
	r := newRound(n, ids, conns, &RoundStats{Round: n, Sampled: len(conns), TrainLoss: math.NaN()}, orDiscard(log))
	r.Params, r.Config, r.Quorum = params, cfg, 1
	return r
}

// Stats returns the round's stats so far: failures by reason, the
// averaged loss and train time of the reports, the extra values.
func (r *Round) Stats() RoundStats {
	r.finish()
	return r.stats.clone()
}
