package hier

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/fedgo/fedgo/fl"
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
	// KeyFailedPrefix + reason (an fl.Fail... constant): member failures
	// by reason, summed over the levels below (edges only; the root's own
	// members are in RoundStats.Failures).
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
// Size(id) failed clients in RoundStats.Extra[KeyFailed].
//
// Exchange keeps no state across rounds beyond reused buffers (nothing to
// checkpoint). It is not safe for concurrent use.
type Exchange struct {
	// Size returns the number of leaf clients behind member id (an edge's
	// population), to count a failed edge's clients; nil means 1 each.
	Size func(id string) int

	acc, part exactSum
}

var _ fl.Exchange = (*Exchange)(nil)

// Check refuses what would break the sum or its guarantees: a Privacy at
// the root (its sampler would sample edges while its accountant assumes
// users, and it would clip and noise edges' sums, not users' updates), and
// an uplink codec on the root's pool (it would decode, or mangle, the
// edges' partial sums).
func (e *Exchange) Check(cfg *fl.ServerConfig, pool fl.Pool) error {
	return check(cfg.Privacy != nil, pool)
}

func check(private bool, pool fl.Pool) error {
	var errs []error
	if private {
		errs = append(errs, fmt.Errorf("%w: hier.Exchange with a Privacy: the privacy sampler would sample edges while its accounting assumes users, and it would clip edges' sums instead of users' updates; run DP inside each edge's clients (local or distributed DP) or leave Privacy nil", fl.ErrConfig))
	}
	if up, _ := fl.PoolEncoding(pool); up != "" {
		errs = append(errs, fmt.Errorf("%w: hier.Exchange over a pool with the uplink codec %q: the codec would decode the edges' exact partial sums; compress below the edges, not above them", fl.ErrConfig, up))
	}
	return errors.Join(errs...)
}

// Run collects the round's contributions and writes their exact weighted
// mean to dst.
func (e *Exchange) Run(ctx context.Context, r *fl.Round, dst []float64) (int, error) {
	if r.Privacy != nil {
		return 0, check(true, nil)
	}
	var s summary
	if err := collect(ctx, r, &e.acc, &e.part, e.Size, &s); err != nil {
		return 0, err
	}
	r.SetExtra(KeyClients, s.clients)
	r.SetExtra(KeyAccepted, float64(e.acc.count))
	r.SetExtra(KeyFailed, s.clients-float64(e.acc.count))
	r.SetExtra(KeyFailedMembers, s.failedMembers)
	r.SetExtra(KeyEdges, s.edges)
	r.SetExtra(KeyDepth, s.depth+1)
	for reason, n := range s.byReason {
		r.SetExtra(KeyFailedPrefix+reason, n)
	}
	defer clear(e.part.vec)
	if e.acc.count < max(r.Quorum, 1) {
		return e.acc.count, nil
	}
	e.acc.mean(dst)
	return e.acc.count, nil
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

// collect runs the train step of r and adds every accepted contribution
// to acc (reset to the dimension of r.Params); part is scratch for the
// decoded partial sums. size, if not nil, gives the leaf clients behind a
// failed member.
func collect(ctx context.Context, r *fl.Round, acc, part *exactSum, size func(string) int, s *summary) error {
	dim := len(r.Params)
	acc.reset(dim)
	msg := &fl.Message{Type: fl.TypeTrain, Round: r.Number, Params: r.Params, Config: r.Config}
	err := r.Step(ctx, fl.TypeTrain, func(int) (*fl.Message, error) { return msg, nil }, func(i int, m *fl.Message) error {
		if m.Type != fl.TypeUpdate || m.Round != r.Number {
			return fmt.Errorf("%w: type %q round %d, want %q round %d", fl.ErrReply, m.Type, m.Round, fl.TypeUpdate, r.Number)
		}
		if len(m.Payload) > 0 {
			return s.addPartial(r, i, m, acc, part)
		}
		u := fl.Update{Client: r.ID(i), Delta: m.Params, Weight: m.Weight, Metrics: m.Metrics}
		if err := fl.CheckUpdate(&u, dim); err != nil {
			return err
		}
		if err := acc.addUpdate(u.Weight, u.Delta); err != nil {
			return &fl.ClientError{Client: u.Client, Err: err}
		}
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
		n := 1
		if size != nil {
			n = max(size(r.ID(i)), 1)
		}
		s.clients += float64(n)
		s.failedMembers++
	}
	return nil
}

// addPartial adds the partial sum an edge (member i) sent.
func (s *summary) addPartial(r *fl.Round, i int, m *fl.Message, acc, part *exactSum) error {
	if len(m.Params) > 0 {
		return fmt.Errorf("%w: a reply with both a partial sum and %d params", fl.ErrReply, len(m.Params))
	}
	if !isPartial(m.Payload) {
		return fmt.Errorf("%w: an encoded update (%d bytes of payload) reached the exchange: decode it in the pool", fl.ErrReply, len(m.Payload))
	}
	if err := decodePartial(part, m.Payload, len(r.Params)); err != nil {
		return err
	}
	if err := acc.addSum(part); err != nil {
		return err
	}
	met := m.Metrics
	s.clients += max(nonNeg(met[KeyClients]), float64(part.count))
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
	if l, ok := met[fl.KeyLoss]; ok && !math.IsNaN(l) && !math.IsInf(l, 0) {
		if n := nonNeg(met[fl.KeyExamples]); n > 0 {
			s.lossSum += n * l
			s.examples += n
		}
	}
	r.Report(i, met, part.totalWeight())
	return nil
}
