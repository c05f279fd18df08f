package hier

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"github.com/fedgo/fedgo/fl"
)

// EdgeConfig configures an [Edge].
type EdgeConfig struct {
	// Pool holds the edge's members: leaf clients, or edges of a lower
	// level. Required.
	Pool fl.Pool
	// ClientsPerRound is how many members the edge samples each round,
	// uniformly from a source keyed by (Seed, round); 0 means every
	// member. The root's sampling and each edge's compose: a leaf takes
	// part when its edge is sampled and samples it.
	ClientsPerRound int
	// Seed keys the edge's sampling.
	Seed uint64
	// MinClients is the edge's quorum of leaf updates: with fewer, the
	// edge answers an error wrapping ErrEdgeQuorum and its parent counts
	// it as failed. 0 means 1.
	MinClients int
	// RoundTimeout bounds the edge's sub-round. 0 means 80% of the
	// deadline the parent sent (fl.KeyDeadline), so the edge answers
	// before its parent stops waiting; no deadline when the parent sent
	// none. The edge sends its own deadline down.
	RoundTimeout time.Duration
	// Size returns the leaf clients behind member id, to count a failed
	// member's clients; nil means 1 each (right for leaf clients).
	Size func(id string) int
	// Logger receives the edge's log; nil discards it.
	Logger *slog.Logger
}

// Validate reports every field out of range.
func (c *EdgeConfig) Validate() error {
	var errs []error
	if c.Pool == nil {
		errs = append(errs, errors.New("the Pool is nil"))
	}
	if c.ClientsPerRound < 0 {
		errs = append(errs, fmt.Errorf("ClientsPerRound = %d, want ≥ 0", c.ClientsPerRound))
	}
	if c.MinClients < 0 {
		errs = append(errs, fmt.Errorf("MinClients = %d, want ≥ 0", c.MinClients))
	}
	if c.ClientsPerRound > 0 && c.MinClients > c.ClientsPerRound {
		errs = append(errs, fmt.Errorf("MinClients = %d exceeds ClientsPerRound = %d", c.MinClients, c.ClientsPerRound))
	}
	if c.RoundTimeout < 0 {
		errs = append(errs, fmt.Errorf("RoundTimeout = %v, want ≥ 0", c.RoundTimeout))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: hier.EdgeConfig: %w", fl.ErrConfig, errors.Join(errs...))
}

// Edge is an edge aggregator: an [fl.Handler] upstream, which answers its
// parent's train message ([fl.TypeTrain]) with one [fl.TypeUpdate] that
// carries the exact partial sum of its members' weighted updates (in
// Payload) and their total weight (Weight, rounded; the exact value is in
// the payload), and a server downstream, which runs a sub-round over its
// own pool on the engine's [fl.Round] (sending, deadlines, failure
// accounting). Members may be edges themselves: any depth. It answers
// [fl.TypeEvaluate] with the example-weighted mean of its members'
// metrics.
//
// The reply's Metrics summarize the sub-round under the Key... constants of
// this package, with fl.KeyLoss and fl.KeyExamples (the example-weighted
// loss of the leaves and the examples behind it) and fl.KeyTrainSeconds
// (summed).
//
// An Edge holds no state across rounds: a restarted edge answers the next
// round as the old one would have. It is safe for concurrent use.
type Edge struct {
	cfg EdgeConfig
	log *slog.Logger
}

var _ fl.Handler = (*Edge)(nil)

// NewEdge returns an edge over cfg.Pool.
func NewEdge(cfg EdgeConfig) (*Edge, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Edge{cfg: cfg, log: log}, nil
}

// Handle answers a train or evaluate message from the edge's parent.
func (e *Edge) Handle(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	switch m.Type {
	case fl.TypeTrain:
		return e.train(ctx, m)
	case fl.TypeEvaluate:
		return e.evaluate(ctx, m)
	}
	return nil, fmt.Errorf("%w: %q", fl.ErrUnknownType, m.Type)
}

// round samples the sub-round of the parent's message m.
func (e *Edge) round(m *fl.Message, purpose byte) (r *fl.Round, unreachable int) {
	pop := e.cfg.Pool.Population()
	var idx []int
	if e.cfg.ClientsPerRound > 0 {
		b := binary.LittleEndian.AppendUint64([]byte("fedgo/hier/edge-sampling/v1"), e.cfg.Seed)
		b = binary.LittleEndian.AppendUint64(b, uint64(m.Round))
		b = append(b, purpose)
		idx = fl.Uniform{Count: e.cfg.ClientsPerRound}.Sample(rand.New(rand.NewChaCha8(sha256.Sum256(b))), len(pop))
	} else {
		idx = make([]int, len(pop))
		for i := range idx {
			idx[i] = i
		}
	}
	conns := make([]fl.Conn, 0, len(idx))
	for _, i := range idx {
		if c, ok := e.cfg.Pool.Conn(pop[i]); ok {
			conns = append(conns, c)
		} else {
			unreachable++
		}
	}
	timeout := e.cfg.RoundTimeout
	if d, ok := m.Config[fl.KeyDeadline]; timeout == 0 && ok && d > 0 && !math.IsInf(d, 0) {
		timeout = time.Duration(0.8 * d * float64(time.Second))
	}
	cfg := m.Config.Clone()
	if timeout > 0 {
		if cfg == nil {
			cfg = fl.Config{}
		}
		cfg[fl.KeyDeadline] = timeout.Seconds()
	}
	r = fl.NewRound(m.Round, m.Params, cfg, conns, e.log)
	r.StepTimeout = timeout
	r.Quorum = max(e.cfg.MinClients, 1)
	return r, unreachable
}

func (e *Edge) train(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	if len(m.Params) == 0 {
		return nil, fmt.Errorf("%w: train message without parameters", fl.ErrReply)
	}
	r, unreachable := e.round(m, 0)
	var acc, part exactSum
	var s summary
	if err := collect(ctx, r, &acc, &part, e.cfg.Size, &s); err != nil {
		return nil, err
	}
	quorum := max(e.cfg.MinClients, 1)
	if acc.count < quorum {
		return nil, fmt.Errorf("%w: %d leaf updates, quorum %d", ErrEdgeQuorum, acc.count, quorum)
	}
	st := r.Stats()
	clients := s.clients + float64(unreachable)
	met := fl.Metrics{
		KeyClients:       clients,
		KeyAccepted:      float64(acc.count),
		KeyFailed:        clients - float64(acc.count),
		KeyFailedMembers: s.failedMembers + float64(unreachable),
		KeyEdges:         s.edges,
		KeyDepth:         s.depth + 1,
	}
	for reason, n := range st.Failures {
		met[KeyFailedPrefix+reason] += float64(n)
	}
	for reason, n := range s.byReason {
		met[KeyFailedPrefix+reason] += n
	}
	if unreachable > 0 {
		met[KeyFailedPrefix+fl.FailUnreachable] += float64(unreachable)
	}
	if s.examples > 0 {
		met[fl.KeyLoss] = s.lossSum / s.examples
		met[fl.KeyExamples] = s.examples
	}
	if st.TrainSeconds > 0 {
		met[fl.KeyTrainSeconds] = st.TrainSeconds
	}
	e.log.Info("edge round", "round", m.Round, "clients", clients, "accepted", acc.count)
	return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Weight: acc.totalWeight(), Payload: appendPartial(nil, &acc), Metrics: met}, nil
}

// evaluate forwards an evaluation to the edge's members and answers the
// example-weighted mean of their metrics, with fl.KeyExamples the total.
func (e *Edge) evaluate(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	r, _ := e.round(m, 1)
	msg := &fl.Message{Type: fl.TypeEvaluate, Round: m.Round, Params: m.Params, Config: r.Config}
	sums := fl.Metrics{}
	var total float64
	err := r.Step(ctx, fl.TypeEvaluate, func(int) (*fl.Message, error) { return msg, nil }, func(i int, rep *fl.Message) error {
		if rep.Type != fl.TypeMetrics {
			return fmt.Errorf("%w: type %q, want %q", fl.ErrReply, rep.Type, fl.TypeMetrics)
		}
		n := rep.Metrics[fl.KeyExamples]
		if !(n > 0) || math.IsInf(n, 0) {
			return fmt.Errorf("%w: %s = %v, want finite and > 0", fl.ErrReply, fl.KeyExamples, n)
		}
		for k, v := range rep.Metrics {
			if k != fl.KeyExamples && !math.IsNaN(v) && !math.IsInf(v, 0) {
				sums[k] += n * v
			}
		}
		total += n
		return nil
	})
	if err != nil {
		return nil, err
	}
	if total == 0 {
		return nil, fmt.Errorf("%w: no member evaluated", ErrEdgeQuorum)
	}
	out := fl.Metrics{fl.KeyExamples: total}
	for k, v := range sums {
		out[k] = v / total
	}
	return &fl.Message{Type: fl.TypeMetrics, Round: m.Round, Metrics: out}, nil
}
