package hier

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/secagg/fedround"
)

// Keys of the metrics an [Edge] reports with its partial sum, and of the
// values the root's [Exchange] records in fl.RoundStats.Extra. Counts are
// of leaf clients (those that train), at every level below the node.
const (
	// KeyClients: leaf clients sampled below the node. A member that
	// failed counts as Size(member) clients (1 when Size is nil).
	KeyClients = "hier/clients"
	// KeyAccepted: leaf updates the partial sum holds.
	KeyAccepted = "hier/accepted"
	// KeyFailed: KeyClients − KeyAccepted, the leaf clients whose update
	// was lost (including every client of a failed edge).
	KeyFailed = "hier/failed"
	// KeyFailedMembers: members that failed, summed over every level (a
	// failed edge counts once here).
	KeyFailedMembers = "hier/failed_members"
	// KeyEdges: edges whose partial sums reached the node, at every level.
	KeyEdges = "hier/edges"
	// KeyDepth: the levels of aggregation below the node (1: an edge over
	// leaf clients).
	KeyDepth = "hier/depth"
	// KeyFailedPrefix + reason (an fl.Fail... constant): the leaf clients
	// lost inside the node's edges, by reason, at every level below them
	// (an edge's own failure is in its parent's RoundStats.Failures).
	KeyFailedPrefix = "hier/failed/"
)

// ErrEdgeQuorum is returned by an [Edge] whose sub-round holds fewer
// updates than its MinClients; its parent counts the edge as failed.
var ErrEdgeQuorum = errors.New("hier: edge below its quorum")

// Exchange is the root's side of hierarchical FedAvg, an [fl.Exchange]:
// it sends the train message to each sampled member (an [Edge] or a leaf
// client), adds each edge's partial sum and each leaf's weighted update to
// one exact fixed-point sum, and divides once:
//
//	dst = Σ q(wᵢ·Δᵢ) / Σ q(wᵢ)
//
// over every leaf client whose update arrived, q rounding to a multiple of
// 2⁻⁶⁴. Integer sums do not depend on order or grouping, so any tree over
// a set of clients gives the same bits as the flat run of Exchange (or of
// [ExactFedAvg]) over the same clients. The difference from fl.FedAvg
// (Σ (wᵢ/W)·Δᵢ in float64) is rounding only: see the package doc.
//
// Run returns the number of leaf updates in the aggregate, so the server's
// MinClients is a quorum of leaf clients. A failed member counts as
// Size(id) failed clients in RoundStats (Sampled, Failed, Failures, via
// fl.Round.SetSize) and in RoundStats.Extra[KeyFailed].
//
// With Secure, the members are secure edges and the aggregate is the
// dequantized total of their integer sums on one grid, divided by the
// survivors (or their capped weights), or released by a [UserSampled]
// Privacy: see the package doc.
//
// Exchange keeps no state across rounds beyond reused buffers (nothing to
// checkpoint). It is not safe for concurrent use.
type Exchange struct {
	// Size returns the number of leaf clients behind member id (an edge's
	// population), to count a failed edge's clients; nil means 1 each.
	Size func(id string) int
	// Secure, if not nil, is the grid of secure aggregation within the
	// edges: every member must be an [Edge] that runs it (EdgeConfig.Secure,
	// or an edge of such edges), and the root learns only the sum of the
	// edges' sums. See [Secure] and the package doc.
	Secure *Secure

	nd   node
	full []float64
}

var _ fl.Exchange = (*Exchange)(nil)

// Check refuses what would break the sum or its guarantees: a Privacy at
// the root other than a [UserSampled] over secure edges (a plain Privacy
// would sample edges while its accountant assumes users, and clip and
// noise edges' sums, not users' updates), and an uplink codec on the
// root's pool (it would decode, or mangle, the edges' partial sums).
func (e *Exchange) Check(cfg *fl.ServerConfig, pool fl.Pool) error {
	var errs []error
	if e.Secure != nil {
		if err := e.Secure.validate(); err != nil {
			errs = append(errs, fmt.Errorf("%w: hier.Exchange: %w", fl.ErrConfig, err))
		}
		if e.Size == nil {
			errs = append(errs, fmt.Errorf("%w: hier.Exchange: Secure without Size: the round's grid must hold every client of the secure edges", fl.ErrConfig))
		}
	}
	if cfg.Privacy != nil {
		if err := e.checkPrivacy(cfg.Privacy); err != nil {
			errs = append(errs, err)
		}
	}
	if up, _ := fl.PoolEncoding(pool); up != "" {
		errs = append(errs, fmt.Errorf("%w: hier.Exchange over a pool with the uplink codec %q: the codec would decode the edges' exact partial sums; compress below the edges, not above them", fl.ErrConfig, up))
	}
	return errors.Join(errs...)
}

// Run collects the round's contributions and writes their exact weighted
// mean to dst (with Secure, the mean of the secure sums, see [Secure]).
func (e *Exchange) Run(ctx context.Context, r *fl.Round, dst []float64) (int, error) {
	if r.Privacy != nil {
		if err := e.checkPrivacy(r.Privacy); err != nil {
			return 0, err
		}
	}
	cfg := r.Config
	e.nd.secure = e.Secure != nil
	if e.nd.secure {
		if err := e.Secure.validate(); err != nil {
			return 0, fmt.Errorf("%w: hier.Exchange: %w", fl.ErrConfig, err)
		}
		n := 0
		for i := range r.Len() {
			n += memberSize(e.Size, r.ID(i))
		}
		e.nd.g = e.Secure.grid(n)
		if e.nd.g.levels() == 0 {
			return 0, fmt.Errorf("%w: %d bits cannot hold the sum of the round's %d clients", ErrGrid, e.nd.g.bits, n)
		}
		cfg = cfg.Clone()
		if cfg == nil {
			cfg = fl.Config{}
		}
		e.nd.g.put(cfg)
		if u, ok := r.Privacy.(*UserSampled); ok {
			q, _ := u.rate() // checked above
			cfg[KeySampleRate] = q
			cfg[fedround.KeyClipNorm] = u.ClipNorm()
		}
	}
	var s summary
	if err := collect(ctx, r, cfg, &e.nd, e.Size, &s); err != nil {
		return 0, err
	}
	count := e.nd.count()
	r.SetExtra(KeyClients, s.clients)
	r.SetExtra(KeyAccepted, float64(count))
	r.SetExtra(KeyFailed, s.clients-float64(count))
	r.SetExtra(KeyFailedMembers, s.failedMembers)
	r.SetExtra(KeyEdges, s.edges)
	r.SetExtra(KeyDepth, s.depth+1)
	for reason, n := range s.byReason {
		r.SetExtra(KeyFailedPrefix+reason, n)
	}
	defer e.nd.clearPart()
	if count < max(r.Quorum, 1) {
		return count, nil
	}
	if e.nd.secure {
		if cap(e.full) < len(e.nd.q.vec) {
			e.full = make([]float64, len(e.nd.q.vec))
		}
		if err := e.nd.q.mean(dst, e.full[:len(e.nd.q.vec)], r.Privacy); err != nil {
			return count, err
		}
		return count, nil
	}
	e.nd.acc.mean(dst)
	return count, nil
}

// memberSize returns the leaf clients behind member id: size(id), at
// least 1, or 1 when size is nil.
func memberSize(size func(string) int, id string) int {
	if size == nil {
		return 1
	}
	return max(size(id), 1)
}

// node holds the sums a node adds its members' contributions to: the
// exact fixed-point sum of a plain round, or the integer sum on the
// round's grid of a secure one.
type node struct {
	secure    bool
	g         grid
	acc, part exactSum
	q, qpart  quantSum
}

// count returns the leaf updates in the node's sum.
func (nd *node) count() int {
	if nd.secure {
		return nd.q.count
	}
	return nd.acc.count
}

// clearPart forgets the last decoded partial sum.
func (nd *node) clearPart() {
	clear(nd.part.vec)
	clear(nd.qpart.vec)
}

// summary is what a node learns about the clients below it in a round.
type summary struct {
	clients       float64 // leaf clients sampled below
	failedMembers float64
	edges         float64
	depth         float64 // levels below the node's members (0: leaves only)
	byReason      map[string]float64
	lossSum       float64 // Σ n·loss over leaves (n: examples, else weight, else 1)
	examples      float64 // Σ n
}

// nonNeg returns v when it is finite and ≥ 0, else 0: a member's reported
// counts are informative only and must not poison the node's.
func nonNeg(v float64) float64 {
	if v >= 0 && !math.IsInf(v, 0) {
		return v
	}
	return 0
}

// collect runs the train step of r, sending cfg, and adds every accepted
// contribution to nd (reset to the dimension of r.Params). size, if not
// nil, gives the leaf clients behind a member, which the round counts
// (fl.Round.SetSize).
func collect(ctx context.Context, r *fl.Round, cfg fl.Config, nd *node, size func(string) int, s *summary) error {
	dim := len(r.Params)
	if nd.secure {
		nd.q.reset(nd.g, dim+nd.g.extra())
	} else {
		nd.acc.reset(dim)
	}
	for i := range r.Len() {
		r.SetSize(i, memberSize(size, r.ID(i)))
	}
	msg := &fl.Message{Type: fl.TypeTrain, Round: r.Number, Params: r.Params, Config: cfg}
	err := r.Step(ctx, fl.TypeTrain, func(int) (*fl.Message, error) { return msg, nil }, func(i int, m *fl.Message) error {
		if m.Type != fl.TypeUpdate || m.Round != r.Number {
			return fmt.Errorf("%w: type %q round %d, want %q round %d", fl.ErrReply, m.Type, m.Round, fl.TypeUpdate, r.Number)
		}
		if nd.secure {
			return s.addSecure(r, i, m, nd, size)
		}
		if len(m.Payload) > 0 {
			return s.addPartial(r, i, m, nd, size)
		}
		u := fl.Update{Client: r.ID(i), Delta: m.Params, Weight: m.Weight, Metrics: m.Metrics}
		if err := fl.CheckUpdate(&u, dim); err != nil {
			return err
		}
		if err := nd.acc.addUpdate(u.Weight, u.Delta); err != nil {
			return &fl.ClientError{Client: u.Client, Err: err}
		}
		r.SetSize(i, 1)
		s.clients++
		if l, ok := m.Metrics[fl.KeyLoss]; ok && !math.IsNaN(l) && !math.IsInf(l, 0) {
			n := m.Metrics[fl.KeyExamples]
			if !(n > 0) || math.IsInf(n, 0) {
				n = u.Weight
			}
			s.lossSum += n * l
			s.examples += n
		}
		r.Report(i, m.Metrics, u.Weight)
		return nil
	})
	if err != nil {
		return err
	}
	for i := range r.Len() {
		if r.Active(i) {
			continue
		}
		s.clients += float64(r.Size(i))
		s.failedMembers++
	}
	return nil
}

// addSecure adds the secure partial sum member i sent.
func (s *summary) addSecure(r *fl.Round, i int, m *fl.Message, nd *node, size func(string) int) error {
	switch {
	case len(m.Params) > 0:
		return fmt.Errorf("%w: a plain update of %d values in a secure round (secure aggregation runs in the edges)", fl.ErrReply, len(m.Params))
	case !isQuant(m.Payload):
		return fmt.Errorf("%w: a reply without a secure partial sum (%d bytes of payload) in a secure round", fl.ErrReply, len(m.Payload))
	}
	if err := decodeQuant(&nd.qpart, m.Payload, nd.g, len(nd.q.vec)); err != nil {
		return err
	}
	if err := nd.q.add(&nd.qpart); err != nil {
		return err
	}
	s.addMeta(r, i, m.Metrics, nd.qpart.count, float64(nd.qpart.count), size)
	return nil
}

// addPartial adds the partial sum an edge (member i) sent.
func (s *summary) addPartial(r *fl.Round, i int, m *fl.Message, nd *node, size func(string) int) error {
	if len(m.Params) > 0 {
		return fmt.Errorf("%w: a reply with both a partial sum and %d params", fl.ErrReply, len(m.Params))
	}
	if !isPartial(m.Payload) {
		return fmt.Errorf("%w: an encoded update (%d bytes of payload) reached the exchange: decode it in the pool", fl.ErrReply, len(m.Payload))
	}
	if err := decodePartial(&nd.part, m.Payload, len(r.Params)); err != nil {
		return err
	}
	if err := nd.acc.addSum(&nd.part); err != nil {
		return err
	}
	s.addMeta(r, i, m.Metrics, nd.part.count, nd.part.totalWeight(), size)
	return nil
}

// addMeta takes in what edge i reported of its sub-round (met) with a
// partial sum of count leaf updates: the leaf clients it stands for and
// those it lost, by reason, into the round (fl.Round.SetSize and
// FailWithin) and into s.
func (s *summary) addMeta(r *fl.Round, i int, met fl.Metrics, count int, weight float64, size func(string) int) {
	clients := max(nonNeg(met[KeyClients]), float64(count))
	if size != nil {
		// An honest edge has at most its population below it.
		clients = min(clients, float64(max(memberSize(size, r.ID(i)), count)))
	}
	clients = min(clients, MaxTerms)
	r.SetSize(i, max(int(clients), 1))
	s.clients += clients
	s.failedMembers += nonNeg(met[KeyFailedMembers])
	s.edges += 1 + nonNeg(met[KeyEdges])
	s.depth = max(s.depth, nonNeg(met[KeyDepth]))
	for k, v := range met {
		if reason, ok := strings.CutPrefix(k, KeyFailedPrefix); ok && reason != "" {
			if s.byReason == nil {
				s.byReason = map[string]float64{}
			}
			s.byReason[reason] += nonNeg(v)
		}
	}
	// The engine counts the leaf clients the edge lost, by reason, in
	// sorted order of the reasons (the cap on FailWithin then does not
	// depend on map order).
	reasons := make([]string, 0, 4)
	for k := range met {
		if reason, ok := strings.CutPrefix(k, KeyFailedPrefix); ok && reason != "" {
			reasons = append(reasons, reason)
		}
	}
	slices.Sort(reasons)
	for _, reason := range reasons {
		r.FailWithin(i, fl.TypeTrain, reason, int(min(nonNeg(met[KeyFailedPrefix+reason]), MaxTerms)))
	}
	if l, ok := met[fl.KeyLoss]; ok && !math.IsNaN(l) && !math.IsInf(l, 0) {
		if n := nonNeg(met[fl.KeyExamples]); n > 0 {
			s.lossSum += n * l
			s.examples += n
		}
	}
	r.Report(i, met, weight)
}
