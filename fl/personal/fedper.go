package personal

import (
	"context"
	"fmt"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/drift"
)

// Message types of FedPer. A client that does not speak FedPer refuses
// TypeFedPerTrain (fl.ErrUnknownType) instead of answering with a full
// update that would carry its personal layers.
const (
	// TypeFedPerTrain: server → client, the global parameters in Params
	// (their personal coordinates hold the initial head, which a client
	// without a head of its own starts from).
	TypeFedPerTrain = "fedper/train"
	// TypeFedPerUpdate: client → server, the update of the base
	// coordinates only, in order, in Params (Mask.BaseLen() values).
	TypeFedPerUpdate = "fedper/update"
)

// FedPerKey returns the store key of client id's personal layers.
func FedPerKey(id string) string { return "fedper/" + id }

// FedPer is the server side of federated learning with personalization
// layers (M. G. Arivazhagan, V. Aggarwal, A. K. Singh and S. Choudhary,
// "Federated Learning with Personalization Layers", arXiv:1912.00818,
// 2019, Algorithm 1) as an [fl.Exchange]. The parameter vector is split
// by Mask into base coordinates W_B, shared, and personal coordinates
// W_P, which stay on each client ([FedPerClient]). Each round the server
// sends the global vector ([TypeFedPerTrain]), each client trains W_B and
// its own W_P,j together and answers with the change of W_B alone
// ([TypeFedPerUpdate]), and the server sets
//
//	W_B ← W_B + Σ_j n_j ΔW_B,j / Σ_j n_j
//
// (the paper's W_B ← Σ_j (n_j/n) W_B,j with FedAvg, the default
// Aggregator; any fl.Aggregator can combine the base updates instead).
// Run writes the aggregate of the base coordinates to dst and 0 to the
// personal ones, so the server's copy of the personal layers stays at its
// initial value: the server never sees a client's head, and a reply of
// any other length than Mask.BaseLen() is rejected.
//
// With a Privacy (fl.ServerConfig.Privacy), the base updates are
// aggregated by the Privacy's aggregator, as the plain exchange does: it
// clips each client's base update, sums, noises and accounts the release
// (the heads are never released: they never reach the server), and
// Aggregator must be nil.
//
// Not provided: compression (its messages are not the plain train
// messages that package transport's codecs encode); Check refuses a pool
// that encodes.
type FedPer struct {
	// Mask names the personal coordinates. Required.
	Mask Mask
	// Aggregator combines the base updates; nil means &fl.FedAvg{}.
	Aggregator fl.Aggregator

	updates []fl.Update
	agg     []float64
}

var (
	_ fl.Exchange = (*FedPer)(nil)
	_ fl.Stateful = (*FedPer)(nil)
)

// Check refuses an invalid mask, a mask without base coordinates, an
// Aggregator in the server config, an Aggregator set together with a
// Privacy, and a pool that encodes messages.
func (f *FedPer) Check(cfg *fl.ServerConfig, pool fl.Pool) error {
	if err := f.Mask.Validate(); err != nil {
		return fmt.Errorf("%w: fedper: %w", fl.ErrConfig, err)
	}
	switch {
	case f.Mask.BaseLen() == 0:
		return fmt.Errorf("%w: fedper: every coordinate is personal: nothing to federate", fl.ErrConfig)
	case cfg.Privacy != nil && f.Aggregator != nil && f.Aggregator != cfg.Privacy.Aggregator():
		return fmt.Errorf("%w: fedper: with a Privacy the aggregate is its DP sum; leave FedPer.Aggregator nil", fl.ErrConfig)
	case cfg.Aggregator != nil:
		return fmt.Errorf("%w: fedper: set the aggregator in FedPer.Aggregator, leave ServerConfig.Aggregator nil", fl.ErrConfig)
	}
	if up, down := fl.PoolEncoding(pool); up != "" || down != "" {
		return fmt.Errorf("%w: fedper: the pool encodes messages (uplink %q, downlink %q), which its own message types would bypass", fl.ErrConfig, up, down)
	}
	return nil
}

// Run runs round r.
func (f *FedPer) Run(ctx context.Context, r *fl.Round, dst []float64) (int, error) {
	dim := len(r.Params)
	if err := f.Mask.Validate(); err != nil || f.Mask.Dim != dim {
		return 0, fmt.Errorf("%w: fedper: mask of Dim %d (%v) for %d parameters", fl.ErrConfig, f.Mask.Dim, err, dim)
	}
	nb := f.Mask.BaseLen()
	msg := &fl.Message{Type: TypeFedPerTrain, Round: r.Number, Params: r.Params, Config: r.Config}
	updates := f.updates[:0]
	defer func() {
		clear(updates) // hold no client's update past the round
		f.updates = updates[:0]
	}()
	err := r.Step(ctx, TypeFedPerTrain, func(int) (*fl.Message, error) { return msg, nil }, func(i int, m *fl.Message) error {
		switch {
		case m.Type != TypeFedPerUpdate || m.Round != r.Number:
			return fmt.Errorf("%w: type %q round %d, want %q round %d", fl.ErrReply, m.Type, m.Round, TypeFedPerUpdate, r.Number)
		case len(m.Payload) > 0:
			return fmt.Errorf("%w: fedper takes the base update in Params, not a payload", fl.ErrReply)
		}
		u := fl.Update{Client: r.ID(i), Delta: m.Params, Weight: m.Weight, Metrics: m.Metrics}
		if err := fl.CheckUpdate(&u, nb); err != nil {
			return err
		}
		r.Report(i, m.Metrics, m.Weight)
		updates = append(updates, u)
		return nil
	})
	if err != nil {
		return 0, err
	}
	if len(updates) < max(r.Quorum, 1) {
		return len(updates), nil
	}
	if cap(f.agg) < nb {
		f.agg = make([]float64, nb)
	}
	f.agg = f.agg[:nb]
	if err := f.aggregator(r).Aggregate(f.agg, updates); err != nil {
		return len(updates), fmt.Errorf("aggregator: %w", err)
	}
	clear(dst)
	f.Mask.SetBase(dst, f.agg)
	return len(updates), nil
}

func (f *FedPer) aggregator(r *fl.Round) fl.Aggregator {
	if r.Privacy != nil {
		return r.Privacy.Aggregator()
	}
	if f.Aggregator == nil {
		f.Aggregator = &fl.FedAvg{}
	}
	return f.Aggregator
}

// MarshalBinary returns the aggregator's state: empty unless it is an
// encoding.BinaryMarshaler.
func (f *FedPer) MarshalBinary() ([]byte, error) { return fl.MarshalInner(f.Aggregator) }

// UnmarshalBinary restores the aggregator's state; state for a stateless
// aggregator is refused.
func (f *FedPer) UnmarshalBinary(b []byte) error { return fl.UnmarshalInner(f.Aggregator, b) }

// FedPerClient is the client side of FedPer as an [fl.Handler]. On
// [TypeFedPerTrain] it
//
//  1. loads its personal layers W_P,j from Store under [FedPerKey] (a
//     client without them takes the personal coordinates of the global
//     vector it received, the common initial head);
//  2. trains the model made of the received base and its own head, all
//     coordinates together, through Trainer (fl.Trainer: any trainer, the
//     proximal term of FedProx, if the round sets μ, pulling toward that
//     model);
//  3. saves the new head and answers [TypeFedPerUpdate] with the change of
//     the base coordinates only, weighted as the trainer weighted it.
//
// The head never leaves the client: the reply holds Mask.BaseLen()
// values, the base coordinates' change. On [fl.TypeEvaluate] with
// Evaluator set it evaluates its personal model (the received base with
// its own head); every other message goes to Next (refused when nil).
type FedPerClient struct {
	ID        string
	Mask      Mask
	Trainer   fl.Trainer
	Evaluator fl.Evaluator
	Store     drift.Store
	Next      fl.Handler
}

var _ fl.Handler = (*FedPerClient)(nil)

// Handle implements [fl.Handler].
func (c *FedPerClient) Handle(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	if c.Trainer == nil || c.Store == nil {
		return nil, fmt.Errorf("%w: fedper: client %q needs Trainer and Store", fl.ErrConfig, c.ID)
	}
	switch {
	case m.Type == TypeFedPerTrain:
		return c.train(ctx, m)
	case m.Type == fl.TypeEvaluate && c.Evaluator != nil:
		full, _, err := c.personal(m.Params)
		if err != nil {
			return nil, err
		}
		return evaluateBoth(ctx, c.Evaluator, m, full, false)
	case c.Next != nil:
		return c.Next.Handle(ctx, m)
	}
	return nil, fmt.Errorf("%w: %q", fl.ErrUnknownType, m.Type)
}

// personal returns the client's personal model: a copy of global with
// the client's head (if it has one), and the head.
func (c *FedPerClient) personal(global []float64) (full, head []float64, err error) {
	if err := c.Mask.Validate(); err != nil {
		return nil, nil, fmt.Errorf("fedper: client %q: %w", c.ID, err)
	}
	if len(global) != c.Mask.Dim {
		return nil, nil, fmt.Errorf("fedper: client %q: %d parameters, the mask has Dim %d", c.ID, len(global), c.Mask.Dim)
	}
	if i := firstNonFinite(global); i >= 0 {
		return nil, nil, fmt.Errorf("fedper: client %q: global parameter %d is %v", c.ID, i, global[i])
	}
	full = append([]float64(nil), global...)
	head = make([]float64, c.Mask.PersonalLen())
	ok, err := c.Store.Load(FedPerKey(c.ID), head)
	if err != nil {
		return nil, nil, fmt.Errorf("fedper: client %q: %w", c.ID, err)
	}
	if ok {
		c.Mask.SetHead(full, head)
	} else {
		head = c.Mask.Head(head[:0], full)
	}
	return full, head, nil
}

func (c *FedPerClient) train(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	full, head, err := c.personal(m.Params)
	if err != nil {
		return nil, err
	}
	u, err := c.Trainer.Train(ctx, full, m.Config)
	if err != nil {
		return nil, err
	}
	if len(u.Delta) != len(full) {
		return nil, fmt.Errorf("fedper: client %q: the trainer returned %d deltas for %d parameters", c.ID, len(u.Delta), len(full))
	}
	dh := c.Mask.Head(make([]float64, 0, len(head)), u.Delta)
	for j, d := range dh {
		head[j] += d
	}
	if i := firstNonFinite(head); i >= 0 {
		return nil, fmt.Errorf("fedper: client %q: personal parameter %d became %v", c.ID, i, head[i])
	}
	if err := c.Store.Save(FedPerKey(c.ID), head); err != nil {
		return nil, err
	}
	base := c.Mask.Base(make([]float64, 0, c.Mask.BaseLen()), u.Delta)
	return &fl.Message{Type: TypeFedPerUpdate, Round: m.Round, Params: base, Weight: u.Weight, Metrics: u.Metrics}, nil
}
