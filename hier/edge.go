package hier

import (
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/secagg"
	"github.com/fedgo/fedgo/secagg/fedround"
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
	// Seed keys the edge's sampling. Under a root with hier.UserSampled
	// (central DP), where the edge samples users, Seed 0 means a key from
	// crypto/rand: the sampling the accountant assumes must be secret.
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
	// Secure, if not nil, makes the edge run each sub-round as a round of
	// secure aggregation (package secagg/fedround) over its members, which
	// must be leaf clients with fedround.Middleware: the edge learns only
	// their sum, and sends it up as an integer sum on the grid its parent
	// sends (see [Secure]; Clip, Bits and WeightCap must equal the root's).
	// Size must then be nil (members are leaves) and ClientsPerRound is
	// the sub-round's n. The Rand of the config is used by one round at a
	// time.
	Secure *fedround.Config
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
	if c.Secure != nil && c.Size != nil {
		errs = append(errs, errors.New("Secure with a Size: the members of a secure edge are leaf clients"))
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
// accounting). With [EdgeConfig.Secure] the sub-round is a round of
// secure aggregation and the reply carries the integer sum of the
// survivors' quantized deltas on the parent's grid instead (see the
// package doc). Members may be edges themselves: any depth. It answers
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
	sec *fedround.Exchange // with cfg.Secure
	// userKey keys the sampling of users under hier.UserSampled: from
	// Seed, or from crypto/rand when Seed is 0.
	userKey [32]byte
	mu      sync.Mutex // one secure round at a time (the protocol's source of randomness)
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
	e := &Edge{cfg: cfg, log: log}
	if cfg.Seed != 0 {
		e.userKey = sha256.Sum256(binary.LittleEndian.AppendUint64([]byte("fedgo/hier/user-key/v1"), cfg.Seed))
	} else if _, err := crand.Read(e.userKey[:]); err != nil {
		return nil, fmt.Errorf("hier: drawing the user sampling key: %w", err)
	}
	if cfg.Secure != nil {
		sec, err := fedround.New(*cfg.Secure)
		if err != nil {
			return nil, fmt.Errorf("hier.EdgeConfig.Secure: %w", err)
		}
		e.sec = sec
	}
	return e, nil
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
func (e *Edge) round(m *fl.Message, purpose byte) (r *fl.Round, unreachable int, err error) {
	pop := e.cfg.Pool.Population()
	var idx []int
	q, users := m.Config[KeySampleRate]
	switch {
	case users && purpose == 0 && !(q > 0 && q <= 1):
		return nil, 0, fmt.Errorf("%w: %s = %v", fl.ErrReply, KeySampleRate, q)
	case users && purpose == 0 && e.cfg.ClientsPerRound > 0:
		return nil, 0, fmt.Errorf("%w: the root samples users at rate %v (hier.UserSampled) and the edge samples %d members: the accounting would not hold; leave ClientsPerRound 0", fl.ErrConfig, q, e.cfg.ClientsPerRound)
	case users && purpose == 0 && e.sec != nil:
		// Each client independently with probability q: Poisson sampling
		// of users, as the root's privacy accounting assumes.
		idx = e.sampleUsers(m.Round, pop, q)
	case users && purpose == 0:
		// An edge of edges takes every member; the secure edges below
		// sample the users.
		idx = make([]int, len(pop))
		for i := range idx {
			idx[i] = i
		}
	case e.cfg.ClientsPerRound > 0:
		idx = fl.Uniform{Count: e.cfg.ClientsPerRound}.Sample(e.rng(m.Round, purpose), len(pop))
	default:
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
	return r, unreachable, nil
}

// sampleUsers returns the members of pop that take part in round n when
// each does with probability q: member id is in when U < q, U uniform in
// [0, 1) from SHA-256 of the edge's user key, n and id. Each user's draw
// depends on its own id, so draws are independent across users and across
// edges even when edges share a Seed, and secret when the key is (Seed 0:
// a key from crypto/rand).
func (e *Edge) sampleUsers(n int, pop []string, q float64) []int {
	var idx []int
	b := append([]byte("fedgo/hier/user-sampling/v1"), e.userKey[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(n))
	for i, id := range pop {
		h := sha256.Sum256(append(b, id...))
		if float64(binary.LittleEndian.Uint64(h[:8])>>11)*0x1p-53 < q {
			idx = append(idx, i)
		}
	}
	return idx
}

// rng returns the source of the edge's sampling in round n for purpose:
// ChaCha8 keyed by the edge's Seed, the round and the purpose.
func (e *Edge) rng(n int, purpose byte) *rand.Rand {
	b := binary.LittleEndian.AppendUint64([]byte("fedgo/hier/edge-sampling/v1"), e.cfg.Seed)
	b = binary.LittleEndian.AppendUint64(b, uint64(n))
	b = append(b, purpose)
	return rand.New(rand.NewChaCha8(sha256.Sum256(b)))
}

func (e *Edge) train(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	if len(m.Params) == 0 {
		return nil, fmt.Errorf("%w: train message without parameters", fl.ErrReply)
	}
	g, secure, err := gridOf(m.Config)
	if err != nil {
		return nil, err
	}
	if e.sec != nil && !secure {
		return nil, fmt.Errorf("%w: a secure edge got a round without a grid: its parent runs no secure aggregation (hier.Exchange.Secure)", ErrGrid)
	}
	r, unreachable, err := e.round(m, 0)
	if err != nil {
		return nil, err
	}
	nd := node{secure: secure, g: g}
	var s summary
	if e.sec != nil {
		err = e.secureRound(ctx, r, &nd, &s)
	} else {
		err = collect(ctx, r, r.Config, &nd, e.cfg.Size, &s)
	}
	if err != nil {
		return nil, err
	}
	count := nd.count()
	quorum := max(e.cfg.MinClients, 1)
	if count < quorum {
		return nil, fmt.Errorf("%w: %d leaf updates, quorum %d", ErrEdgeQuorum, count, quorum)
	}
	st := r.Stats()
	clients := float64(st.Sampled + unreachable)
	met := fl.Metrics{
		KeyClients:       clients,
		KeyAccepted:      float64(count),
		KeyFailed:        clients - float64(count),
		KeyFailedMembers: s.failedMembers + float64(unreachable),
		KeyEdges:         s.edges,
		KeyDepth:         s.depth + 1,
	}
	for reason, n := range st.Failures {
		met[KeyFailedPrefix+reason] += float64(n)
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
	e.log.Info("edge round", "round", m.Round, "clients", clients, "accepted", count, "secure", secure)
	if secure {
		return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Weight: float64(count), Payload: appendQuant(nil, &nd.q), Metrics: met}, nil
	}
	return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Weight: nd.acc.totalWeight(), Payload: appendPartial(nil, &nd.acc), Metrics: met}, nil
}

// secureRound runs the edge's sub-round r as a round of secure aggregation
// (fedround) on the grid nd.g and leaves the integer sum of the survivors'
// inputs in nd.q.
func (e *Edge) secureRound(ctx context.Context, r *fl.Round, nd *node, s *summary) error {
	own := e.cfg.Secure
	if want := (&Secure{Clip: own.Clip, Bits: own.Bits, WeightCap: own.WeightCap}).grid(nd.g.summands); want != nd.g {
		return fmt.Errorf("%w: the edge runs (clip %v, bits %d, weight cap %v), its parent's grid is (%v, %d, %v)",
			ErrGrid, want.clip, want.bits, want.weightCap, nd.g.clip, nd.g.bits, nd.g.weightCap)
	}
	if c, ok := r.Config[fedround.KeyClipNorm]; ok && !(c > 0 && c <= own.Clip) {
		return fmt.Errorf("%w: the clients must clip to %v, above the edge's quantization range Clip = %v (or not positive)", ErrGrid, c, own.Clip)
	}
	if r.Len() > nd.g.summands {
		return fmt.Errorf("%w: %d clients in the edge's round, the parent's grid holds %d (give the root's Exchange a Size that counts this edge's clients)", ErrGrid, r.Len(), nd.g.summands)
	}
	if own.StepTimeout == 0 && r.StepTimeout > 0 {
		// The protocol's steps share the edge's time.
		r.StepTimeout /= secureSteps(own.Malicious)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	sum, _, err := e.sec.RunSum(ctx, r)
	if err != nil {
		if errors.Is(err, secagg.ErrBelowThreshold) {
			return fmt.Errorf("%w: %w", ErrEdgeQuorum, err)
		}
		return err
	}
	if sum == nil {
		nd.q.count = 0 // below the edge's quorum: train reports it
		return nil
	}
	if err := fromSum(&nd.q, sum, nd.g, len(r.Params)+nd.g.extra()); err != nil {
		return err
	}
	st := r.Stats()
	if !math.IsNaN(st.TrainLoss) {
		// The clients of a secure round report loss but no example count
		// (it would be their weight): the engine's mean is per client.
		s.lossSum += st.TrainLoss * float64(sum.Count)
		s.examples += float64(sum.Count)
	}
	return nil
}

// secureSteps is the number of steps of a fedround round.
func secureSteps(malicious bool) time.Duration {
	if malicious {
		return 6
	}
	return 4
}

// evaluate forwards an evaluation to the edge's members and answers the
// example-weighted mean of their metrics, with fl.KeyExamples the total.
func (e *Edge) evaluate(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	r, _, err := e.round(m, 1)
	if err != nil {
		return nil, err
	}
	msg := &fl.Message{Type: fl.TypeEvaluate, Round: m.Round, Params: m.Params, Config: r.Config}
	sums := fl.Metrics{}
	var total float64
	err = r.Step(ctx, fl.TypeEvaluate, func(int) (*fl.Message, error) { return msg, nil }, func(i int, rep *fl.Message) error {
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
