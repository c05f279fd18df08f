package personal

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/drift"
	"github.com/fedgo/fedgo/fl/model"
)

// Keys of the round's fl.Config that Ditto reads.
const (
	// KeyLambda is Ditto's λ ≥ 0, the weight of the pull of the personal
	// model toward the global one; it overrides DittoClient.Lambda.
	KeyLambda = "lambda"
	// KeyPersonalLR, if present, is the learning rate of the personal
	// update (else the round's fl.KeyLR).
	KeyPersonalLR = "personal_lr"
	// KeyPersonalEpochs, if present, is the number of local epochs of the
	// personal update (else the round's fl.KeyEpochs).
	KeyPersonalEpochs = "personal_epochs"
)

// Keys of the evaluation metrics a personalizing client reports besides
// those of its personal model (fl.KeyAccuracy, fl.KeyLoss,
// fl.KeyExamples).
const (
	KeyGlobalAccuracy = "global_accuracy" // the global model's accuracy on the same held-out split
	KeyGlobalLoss     = "global_loss"     // the global model's loss on it
)

// ProxTrainer trains from start on the local loss plus the proximal term
// μ/2‖w − anchor‖² (μ = cfg[fl.KeyMu]) and returns local − start as the
// update's Delta. [model.Trainer] is one ([model.Trainer.TrainFrom]).
type ProxTrainer interface {
	TrainFrom(ctx context.Context, start, anchor []float64, cfg fl.Config) (fl.Update, error)
}

var _ ProxTrainer = (*model.Trainer)(nil)

// DittoKey returns the store key of client id's personal model v_k.
func DittoKey(id string) string { return "ditto/" + id }

// DittoClient is the client side of Ditto (T. Li, S. Hu, A. Beirami and
// V. Smith, "Ditto: Fair and Robust Federated Learning Through
// Personalization", ICML 2021, Algorithm 1) as an [fl.Handler]. The global
// model w is trained by the engine's plain path (fl.TrainExchange, FedAvg
// or any aggregator, with privacy and compression as configured): Ditto
// needs nothing of the server but λ in its client config. On [fl.TypeTrain]
// with w^t in Params the client
//
//  1. answers the global model's local update through Global (Algorithm
//     1: w_k^t from w^t, Δ_k^t = w_k^t − w^t sent back), unchanged;
//  2. loads its personal model v_k from Store under [DittoKey] (a client
//     without one starts from the w^t it received: the paper's v_k^0 is
//     an input, its code starts every v_k from w^0, which this equals
//     for the clients of the first round);
//  3. updates v_k by local steps on h_k(v; w^t) = F_k(v) + λ/2‖v − w^t‖²
//     (objective (2)), v ← v − η(∇F_k(v) + λ(v − w^t)), through
//     Personal.TrainFrom(v_k, w^t) with μ = λ, for the round's epochs and
//     learning rate ([KeyPersonalEpochs] and [KeyPersonalLR] override
//     them), λ the round's [KeyLambda] or else Lambda;
//  4. saves v_k, then returns the reply of step 1.
//
// The reply is exactly Global's: v_k never leaves the client. On
// [fl.TypeEvaluate] with Evaluator set it evaluates v_k (w^t for a client
// without one) and w^t on its held-out data, returning the personal
// model's metrics under their usual keys and the global model's accuracy
// and loss under [KeyGlobalAccuracy] and [KeyGlobalLoss]. Every other
// message goes to Global.
//
// λ = 0 makes v_k plain local training; as λ → ∞, v_k follows w^t.
type DittoClient struct {
	ID string
	// Global answers the plain train message and everything but the
	// personal parts: usually fl.NewHandler(trainer, trainer).
	Global fl.Handler
	// Personal trains v_k; usually the same model.Trainer.
	Personal ProxTrainer
	// Evaluator scores a model on the client's held-out split; nil leaves
	// evaluation to Global.
	Evaluator fl.Evaluator
	// Store keeps v_k between rounds: a drift.MemoryStore shared by a
	// simulation and listed in fl.ServerConfig.State, a drift.DirStore
	// on a deployed client.
	Store drift.Store
	// Lambda is λ ≥ 0 when the round's config has no KeyLambda.
	Lambda float64
}

var _ fl.Handler = (*DittoClient)(nil)

// Handle implements [fl.Handler].
func (c *DittoClient) Handle(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	if c.Global == nil || c.Personal == nil || c.Store == nil {
		return nil, fmt.Errorf("%w: ditto: client %q needs Global, Personal and Store", fl.ErrConfig, c.ID)
	}
	switch {
	case m.Type == fl.TypeTrain:
		return c.train(ctx, m)
	case m.Type == fl.TypeEvaluate && c.Evaluator != nil:
		return c.evaluate(ctx, m)
	}
	return c.Global.Handle(ctx, m)
}

// personalConfig returns the config of the personal update: the round's,
// with μ = λ and the personal learning rate and epochs if given.
func (c *DittoClient) personalConfig(cfg fl.Config) (fl.Config, error) {
	lambda := cfg.Get(KeyLambda, c.Lambda)
	if !(lambda >= 0) || math.IsInf(lambda, 0) {
		return nil, fmt.Errorf("%w: ditto: λ = %v, want finite and ≥ 0", fl.ErrConfig, lambda)
	}
	p := cfg.Clone()
	if p == nil {
		p = fl.Config{}
	}
	p[fl.KeyMu] = lambda
	if v, ok := cfg[KeyPersonalLR]; ok {
		p[fl.KeyLR] = v
	}
	if v, ok := cfg[KeyPersonalEpochs]; ok {
		p[fl.KeyEpochs] = v
	}
	return p, nil
}

func (c *DittoClient) train(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	pcfg, err := c.personalConfig(m.Config)
	if err != nil {
		return nil, err
	}
	w := m.Params
	if i := firstNonFinite(w); i >= 0 {
		return nil, fmt.Errorf("ditto: client %q: global parameter %d is %v", c.ID, i, w[i])
	}
	reply, err := c.Global.Handle(ctx, m)
	if err != nil {
		return nil, err
	}
	v, err := c.load(w)
	if err != nil {
		return nil, err
	}
	u, err := c.Personal.TrainFrom(ctx, v, w, pcfg)
	if err != nil {
		return nil, fmt.Errorf("ditto: client %q: personal update: %w", c.ID, err)
	}
	if len(u.Delta) != len(v) {
		return nil, fmt.Errorf("ditto: client %q: the personal trainer returned %d deltas for %d parameters", c.ID, len(u.Delta), len(v))
	}
	for j, d := range u.Delta {
		v[j] += d
	}
	if i := firstNonFinite(v); i >= 0 {
		return nil, fmt.Errorf("ditto: client %q: personal parameter %d became %v", c.ID, i, v[i])
	}
	if err := c.Store.Save(DittoKey(c.ID), v); err != nil {
		return nil, err
	}
	return reply, nil
}

// load returns a copy of v_k, or of w when the client has none.
func (c *DittoClient) load(w []float64) ([]float64, error) {
	v := make([]float64, len(w))
	ok, err := c.Store.Load(DittoKey(c.ID), v)
	if err != nil {
		return nil, fmt.Errorf("ditto: client %q: %w", c.ID, err)
	}
	if !ok {
		copy(v, w)
	}
	return v, nil
}

func (c *DittoClient) evaluate(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	v, err := c.load(m.Params)
	if err != nil {
		return nil, err
	}
	return evaluateBoth(ctx, c.Evaluator, m, v, true)
}

// evaluateBoth evaluates the personal model p and, if global is set, the
// global model m.Params, and answers with their metrics.
func evaluateBoth(ctx context.Context, e fl.Evaluator, m *fl.Message, p []float64, global bool) (*fl.Message, error) {
	pm, err := e.Evaluate(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make(fl.Metrics, len(pm)+2)
	for k, v := range pm {
		out[k] = v
	}
	if global {
		gm, err := e.Evaluate(ctx, m.Params)
		if err != nil {
			return nil, err
		}
		if v, ok := gm[fl.KeyAccuracy]; ok {
			out[KeyGlobalAccuracy] = v
		}
		if v, ok := gm[fl.KeyLoss]; ok {
			out[KeyGlobalLoss] = v
		}
	}
	return &fl.Message{Type: fl.TypeMetrics, Round: m.Round, Metrics: out}, nil
}

// firstNonFinite returns the index of the first NaN or Inf of v, or -1.
func firstNonFinite(v []float64) int {
	return slices.IndexFunc(v, func(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) })
}
