package model

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
)

// Defaults of [TrainerConfig], used for its zero fields.
const (
	DefaultLR        = 0.05
	DefaultEpochs    = 1
	DefaultBatchSize = 10 // as in the FedProx experiments (Li et al. 2020)
)

// maxEpochs bounds the per-round epochs a server may ask for.
const maxEpochs = 1 << 20

// Keys of the round's fl.Config that this package reads besides those of
// package fl (fl.KeyLR, fl.KeyEpochs, fl.KeyBatchSize, fl.KeyMu).
const (
	// KeyMomentum is the heavy-ball momentum β of local SGD, in [0, 1);
	// it overrides TrainerConfig.Momentum.
	KeyMomentum = "momentum"
	// KeyWeightDecay is the weight decay λ ≥ 0 of local SGD (the gradient
	// of λ/2‖w‖² added to every step); it overrides TrainerConfig.L2.
	KeyWeightDecay = "weight_decay"
)

// Keys of the update's fl.Metrics that this package writes besides
// fl.KeyLoss and fl.KeyExamples.
const (
	// KeySteps is τ, the number of local SGD steps (minibatches) the
	// update took: epochs × ⌈examples / batch size⌉. FedNova normalizes
	// by it, SCAFFOLD's control variate divides by it (K).
	KeySteps = "steps"
	// KeyStepLR is the local learning rate η_l the steps used (the
	// round's fl.KeyLR, else TrainerConfig.LR).
	KeyStepLR = "step_lr"
)

// TrainerConfig configures a [Trainer]. Zero LR, Epochs and BatchSize mean
// the defaults; zero Mu, L2 and Momentum mean none.
type TrainerConfig struct {
	// Model is the architecture; required.
	Model Model
	// ID names the client in its updates.
	ID string
	// Train is the local training data; required, non-empty. The Trainer
	// keeps it and reads it on every call: do not modify it meanwhile.
	Train *dataset.Dataset
	// Test is optional local held-out data for Evaluate; nil means that
	// Evaluate scores Train.
	Test *dataset.Dataset

	// LR, Epochs, BatchSize and Mu are the defaults of the round
	// hyperparameters: the fl.Config of a round overrides them with
	// fl.KeyLR, fl.KeyEpochs, fl.KeyBatchSize and fl.KeyMu.
	LR        float64 // learning rate of SGD, > 0
	Epochs    int     // passes over Train per round, ≥ 1
	BatchSize int     // examples per minibatch, ≥ 1 (Train's size at most)
	Mu        float64 // FedProx proximal coefficient μ ≥ 0

	// L2 is the weight decay λ ≥ 0: the objective gains λ/2‖w‖², on all
	// parameters (biases included). The round's KeyWeightDecay overrides
	// it.
	L2 float64
	// Momentum is the heavy-ball momentum β in [0, 1) of local SGD, as
	// PyTorch's torch.optim.SGD applies it (no dampening, not Nesterov):
	// see [Trainer.Train]. The round's KeyMomentum overrides it.
	Momentum float64
	// Seed seeds the shuffling of the minibatches, with the round number.
	Seed uint64
}

// DefaultTrainerConfig returns the defaults: LR 0.05, one epoch, minibatches
// of 10, no proximal term and no weight decay. Model and Train are left for
// the caller.
func DefaultTrainerConfig() TrainerConfig {
	return TrainerConfig{LR: DefaultLR, Epochs: DefaultEpochs, BatchSize: DefaultBatchSize}
}

// Validate reports an error wrapping [ErrInvalidModel], [ErrInvalidData]
// or [ErrInvalidConfig] if the configuration cannot be used: no model or an
// invalid one, Train or Test missing, empty or not matching the model
// (feature dimension, label range, NaN or Inf features), or a negative or
// non-finite hyperparameter. It reads every example of Train and Test.
func (c TrainerConfig) Validate() error {
	if c.Model == nil {
		return fmt.Errorf("%w: nil Model", ErrInvalidModel)
	}
	if err := c.Model.Validate(); err != nil {
		return err
	}
	if err := checkData(c.Model, c.Train, "Train"); err != nil {
		return err
	}
	if c.Test != nil {
		if err := checkData(c.Model, c.Test, "Test"); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"LR", c.LR}, {"Mu", c.Mu}, {"L2", c.L2}} {
		if !(f.v >= 0) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%w: %s = %v, want finite and ≥ 0", ErrInvalidConfig, f.name, f.v)
		}
	}
	if !(c.Momentum >= 0 && c.Momentum < 1) {
		return fmt.Errorf("%w: Momentum = %v, want in [0, 1)", ErrInvalidConfig, c.Momentum)
	}
	if c.Epochs < 0 || c.Epochs > maxEpochs {
		return fmt.Errorf("%w: Epochs = %d, want in [0, %d]", ErrInvalidConfig, c.Epochs, maxEpochs)
	}
	if c.BatchSize < 0 {
		return fmt.Errorf("%w: BatchSize = %d < 0", ErrInvalidConfig, c.BatchSize)
	}
	return nil
}

// Trainer is a reference [fl.Trainer] and [fl.Evaluator]: minibatch SGD on
// a Model over local data, with the optional FedProx proximal term.
//
// A Trainer is not safe for concurrent use: it reuses its buffers from one
// call to the next. Different Trainers share nothing and may run in
// parallel.
type Trainer struct {
	cfg     TrainerConfig
	nparams int
	dim     int

	local, grad []float64 // the local model, its minibatch gradient
	velocity    []float64 // the momentum buffer, made on first use
	chunkGrad   []float64 // one chunk's gradient, for minibatches over maxChunk
	xb          []float64 // the gathered rows of a minibatch
	yb          []int     // their labels
	perm        []int     // the order of the examples in an epoch
	ws          Workspace
	wsBatch     int // the maxBatch of ws
	evalWS      Workspace
	pcg         *rand.PCG
	rng         *rand.Rand
	swap        func(i, j int) // swaps perm[i] and perm[j], made once
}

var (
	_ fl.Trainer   = (*Trainer)(nil)
	_ fl.Evaluator = (*Trainer)(nil)
)

// NewTrainer validates cfg (see [TrainerConfig.Validate]), fills in the
// defaults and returns a Trainer that keeps a copy of it.
func NewTrainer(cfg TrainerConfig) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.LR == 0 {
		cfg.LR = DefaultLR
	}
	if cfg.Epochs == 0 {
		cfg.Epochs = DefaultEpochs
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	n := cfg.Model.NumParams()
	dim, _ := cfg.Model.Shape()
	pcg := rand.NewPCG(cfg.Seed, 0)
	t := &Trainer{
		cfg:     cfg,
		nparams: n,
		dim:     dim,
		local:   make([]float64, n),
		grad:    make([]float64, n),
		perm:    make([]int, cfg.Train.Len()),
		pcg:     pcg,
		rng:     rand.New(pcg),
	}
	t.swap = func(i, j int) { t.perm[i], t.perm[j] = t.perm[j], t.perm[i] }
	return t, nil
}

// Config returns the Trainer's configuration, defaults filled in.
func (t *Trainer) Config() TrainerConfig { return t.cfg }

// roundParams are the hyperparameters of one call to Train.
type roundParams struct {
	round            uint64
	lr, mu, l2, beta float64
	epochs, batch    int
}

// intParam reads an integer-valued key of cfg, def when absent, and checks
// that it lies in [lo, hi].
func intParam(cfg fl.Config, key string, def, lo, hi int) (int, error) {
	v := cfg.Get(key, float64(def))
	if !(v >= float64(lo) && v <= float64(hi)) || v != math.Trunc(v) {
		return 0, fmt.Errorf("%w: config %q = %v, want an integer in [%d, %d]", ErrInvalidConfig, key, v, lo, hi)
	}
	return int(v), nil
}

// readConfig merges the round's cfg into the Trainer's defaults.
func (t *Trainer) readConfig(cfg fl.Config) (roundParams, error) {
	var p roundParams
	round, err := intParam(cfg, fl.KeyRound, 0, 0, min(1<<53, math.MaxInt))
	if err != nil {
		return p, err
	}
	p.round = uint64(round)
	if p.epochs, err = intParam(cfg, fl.KeyEpochs, t.cfg.Epochs, 1, maxEpochs); err != nil {
		return p, err
	}
	if p.batch, err = intParam(cfg, fl.KeyBatchSize, t.cfg.BatchSize, 1, math.MaxInt32); err != nil {
		return p, err
	}
	p.batch = min(p.batch, t.cfg.Train.Len())
	p.lr = cfg.Get(fl.KeyLR, t.cfg.LR)
	if !(p.lr > 0) || math.IsInf(p.lr, 0) {
		return p, fmt.Errorf("%w: config %q = %v, want finite and > 0", ErrInvalidConfig, fl.KeyLR, p.lr)
	}
	p.mu = cfg.Get(fl.KeyMu, t.cfg.Mu)
	if !(p.mu >= 0) || math.IsInf(p.mu, 0) {
		return p, fmt.Errorf("%w: config %q = %v, want finite and ≥ 0", ErrInvalidConfig, fl.KeyMu, p.mu)
	}
	p.l2 = cfg.Get(KeyWeightDecay, t.cfg.L2)
	if !(p.l2 >= 0) || math.IsInf(p.l2, 0) {
		return p, fmt.Errorf("%w: config %q = %v, want finite and ≥ 0", ErrInvalidConfig, KeyWeightDecay, p.l2)
	}
	p.beta = cfg.Get(KeyMomentum, t.cfg.Momentum)
	if !(p.beta >= 0 && p.beta < 1) {
		return p, fmt.Errorf("%w: config %q = %v, want in [0, 1)", ErrInvalidConfig, KeyMomentum, p.beta)
	}
	return p, nil
}

// Train implements [fl.Trainer]: starting from a copy of global, it runs
// the round's epochs of minibatch SGD over the local data and returns the
// change, local − global, weighted by the number of training examples.
//
// Each epoch visits the examples in a fresh random order, split into
// minibatches of BatchSize (the last one smaller if BatchSize does not
// divide the data). A minibatch of more than 128 examples is computed 128
// at a time, its gradient the example-weighted mean of the chunks'
// gradients, so that memory stays bounded whatever batch size the server
// asks for. The orders come from a PCG seeded with (Seed,
// cfg[fl.KeyRound]) and nothing else, so the same seed and round give the
// same bits whatever ran before. A step is
//
//	d ← ∇F_k(w) + λw + μ(w − wᵗ)
//	v ← βv + d        (v = 0 at the start of every call)
//	w ← w − lr·v
//
// where F_k is the minibatch's mean cross-entropy, λ the weight decay
// (L2, KeyWeightDecay), μ(w − wᵗ) the gradient of the FedProx proximal
// term μ/2‖w − wᵗ‖² around the global model wᵗ (Li et al. 2020, objective
// (2)), and β the momentum (Momentum, KeyMomentum). This is
// torch.optim.SGD with momentum β, dampening 0 and weight_decay λ, the
// proximal term in the loss, and a fresh optimizer every round, as
// Flower's niid_bench clients train. With β = 0 it is plain SGD,
// w ← w − lr·d, bit for bit.
//
// The update's Metrics are fl.KeyExamples, the number of training examples,
// and fl.KeyLoss, the mean cross-entropy of the minibatches as each was
// seen (before its step), averaged over every example of every epoch
// (neither the L2 nor the proximal term included).
//
// Train returns an error, never a partial update, if global has the wrong
// length or a NaN or Inf ([ErrParamsLength], [ErrNotFinite]), if a round
// hyperparameter is out of range ([ErrInvalidConfig]), if the loss or the
// parameters became NaN or Inf ([ErrDiverged]), or if ctx is done, checked
// before every minibatch (ctx.Err()). It does not modify global. Update.Delta
// is newly allocated; otherwise, once warm, Train allocates only the
// Metrics map.
func (t *Trainer) Train(ctx context.Context, global []float64, cfg fl.Config) (fl.Update, error) {
	return t.TrainCorrected(ctx, global, cfg, nil)
}

// TrainCorrected is [Trainer.Train] with a gradient correction: corr, if
// not nil, is added to every minibatch gradient before the step,
//
//	d ← ∇F_k(w) + corr + λw + μ(w − wᵗ)
//
// which is SCAFFOLD's local step y ← y − η_l(g_i(y) − c_i + c) with
// corr = c − c_i (Karimireddy et al. 2020, Algorithm 1, line 10) and
// FedDyn's local objective with corr = −∇L_k(θ_k^{t−1}) − αθ^{t−1} (the
// α(w − wᵗ) part is μ). With corr nil the result is Train's, bit for bit.
// It returns an error wrapping [ErrParamsLength] if corr is not nil and
// its length is not the model's, and [ErrNotFinite] if it holds a NaN or
// Inf. The update's Metrics hold [KeySteps] and [KeyStepLR] too.
func (t *Trainer) TrainCorrected(ctx context.Context, global []float64, cfg fl.Config, corr []float64) (fl.Update, error) {
	return t.train(ctx, global, global, cfg, corr)
}

// TrainFrom is [Trainer.Train] started from start instead of from the
// anchor of the proximal term: the local model w starts at start, each
// step is
//
//	d ← ∇F_k(w) + λw + μ(w − anchor)
//
// (with momentum as in Train), and the update's Delta is local − start.
// With μ = cfg[fl.KeyMu] it trains on F_k(w) + μ/2‖w − anchor‖², which is
// Ditto's personal objective h_k(v_k; wᵗ) = F_k(v_k) + λ/2‖v_k − wᵗ‖²
// (Li, Hu, Beirami and Smith, "Ditto: Fair and Robust Federated Learning
// Through Personalization", ICML 2021, objective (2) and Algorithm 1)
// with start = v_k, anchor = wᵗ and μ = λ (package fl/personal).
// TrainFrom(ctx, g, g, cfg) is Train(ctx, g, cfg) bit for bit. It returns
// the errors of Train for start and for anchor, and modifies neither.
func (t *Trainer) TrainFrom(ctx context.Context, start, anchor []float64, cfg fl.Config) (fl.Update, error) {
	if err := checkParams(t.cfg.Model, start); err != nil {
		return fl.Update{}, fmt.Errorf("start: %w", err)
	}
	return t.train(ctx, start, anchor, cfg, nil)
}

// train runs the local epochs from start, with the proximal term toward
// anchor and the correction corr (nil: none), and returns local − start.
func (t *Trainer) train(ctx context.Context, start, anchor []float64, cfg fl.Config, corr []float64) (fl.Update, error) {
	if err := ctx.Err(); err != nil {
		return fl.Update{}, err
	}
	if err := checkParams(t.cfg.Model, anchor); err != nil {
		return fl.Update{}, err
	}
	if corr != nil {
		if err := checkParams(t.cfg.Model, corr); err != nil {
			return fl.Update{}, fmt.Errorf("gradient correction: %w", err)
		}
	}
	p, err := t.readConfig(cfg)
	if err != nil {
		return fl.Update{}, err
	}
	t.ensureBatch(min(p.batch, maxChunk))

	n := t.cfg.Train.Len()
	w, g := t.local, t.grad
	copy(w, start)
	if p.beta != 0 {
		if t.velocity == nil {
			t.velocity = make([]float64, t.nparams)
		}
		clear(t.velocity)
	}
	for i := range t.perm {
		t.perm[i] = i
	}
	t.pcg.Seed(t.cfg.Seed, p.round)

	var meanLoss float64
	seen, steps := 0, 0
	for range p.epochs {
		t.rng.Shuffle(n, t.swap)
		for lo := 0; lo < n; lo += p.batch {
			if err := ctx.Err(); err != nil {
				return fl.Update{}, err
			}
			hi := min(lo+p.batch, n)
			b := hi - lo
			loss := t.lossGrad(g, w, t.perm[lo:hi])
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return fl.Update{}, fmt.Errorf("%w: client %q: minibatch loss %v", ErrDiverged, t.cfg.ID, loss)
			}
			seen += b
			steps++
			meanLoss = runningMean(meanLoss, loss, b, seen)
			for i, c := range corr {
				g[i] += c
			}
			if p.beta == 0 {
				step(w, g, anchor, p.lr, p.l2, p.mu)
			} else {
				stepMomentum(w, g, t.velocity, anchor, p.lr, p.l2, p.mu, p.beta)
			}
		}
	}

	delta := make([]float64, len(w))
	for i, v := range w {
		// A NaN or Inf parameter makes its delta NaN or Inf, and so does a
		// finite one too far from start to subtract.
		delta[i] = v - start[i]
		if math.IsNaN(delta[i]) || math.IsInf(delta[i], 0) {
			return fl.Update{}, fmt.Errorf("%w: client %q: parameter %d is %v, its delta %v", ErrDiverged, t.cfg.ID, i, v, delta[i])
		}
	}
	return fl.Update{
		Client: t.cfg.ID,
		Delta:  delta,
		Weight: float64(n),
		Metrics: fl.Metrics{
			fl.KeyLoss:     meanLoss,
			fl.KeyExamples: float64(n),
			KeySteps:       float64(steps),
			KeyStepLR:      p.lr,
		},
	}, nil
}

// step applies one SGD step w ← w − lr·(g + l2·w + mu·(w − w0)). Here and
// in stepMomentum the float64 conversions round each product before it is
// added (no fused multiply-add), so that every GOARCH gives the same bits.
func step(w, g, w0 []float64, lr, l2, mu float64) {
	if l2 == 0 && mu == 0 {
		axpy(-lr, g, w)
		return
	}
	w0 = w0[:len(w)]
	g = g[:len(w)]
	for i, v := range w {
		w[i] = v - float64(lr*(g[i]+float64(l2*v)+float64(mu*(v-w0[i]))))
	}
}

// stepMomentum applies one step of SGD with momentum:
// v ← beta·v + (g + l2·w + mu·(w − w0)), w ← w − lr·v.
func stepMomentum(w, g, v, w0 []float64, lr, l2, mu, beta float64) {
	w0 = w0[:len(w)]
	g = g[:len(w)]
	v = v[:len(w)]
	for i, x := range w {
		v[i] = float64(beta*v[i]) + (g[i] + float64(l2*x) + float64(mu*(x-w0[i])))
		w[i] = x - float64(lr*v[i])
	}
}

// maxChunk bounds the number of examples a Trainer's workspace holds: a
// larger minibatch is computed maxChunk examples at a time, so that the
// memory of training does not grow with the minibatch size a server asks
// for (a Sequential network needs about 146 KB per example of the
// niid_bench CNN).
const maxChunk = evalChunk

// lossGrad overwrites g with the gradient of the mean loss over the
// training examples idx at w and returns that mean. A minibatch larger than
// maxChunk is split into chunks of maxChunk (the last one smaller), and
// its gradient is their example-weighted mean.
func (t *Trainer) lossGrad(g, w []float64, idx []int) float64 {
	b := len(idx)
	if b <= maxChunk {
		x, y := t.gather(idx)
		return t.ws.LossGrad(g, w, x, y)
	}
	if t.chunkGrad == nil {
		t.chunkGrad = make([]float64, t.nparams)
	}
	var loss float64
	for lo := 0; lo < b; lo += maxChunk {
		hi := min(lo+maxChunk, b)
		x, y := t.gather(idx[lo:hi])
		loss = runningMean(loss, t.ws.LossGrad(t.chunkGrad, w, x, y), hi-lo, hi)
		f := float64(hi-lo) / float64(b)
		if lo == 0 {
			for i, v := range t.chunkGrad {
				g[i] = f * v
			}
		} else {
			axpy(f, t.chunkGrad, g)
		}
	}
	return loss
}

// gather copies the training examples idx (at most the workspace's
// capacity) to the minibatch buffers and returns them.
func (t *Trainer) gather(idx []int) (x []float64, y []int) {
	d, dim := t.cfg.Train, t.dim
	x, y = t.xb[:len(idx)*dim], t.yb[:len(idx)]
	for r, i := range idx {
		copy(x[r*dim:(r+1)*dim], d.X[i*dim:(i+1)*dim])
		y[r] = d.Y[i]
	}
	return x, y
}

// ensureBatch grows the minibatch buffers to hold b examples.
func (t *Trainer) ensureBatch(b int) {
	if t.ws != nil && b <= t.wsBatch {
		return
	}
	t.ws = t.cfg.Model.NewWorkspace(b)
	t.wsBatch = b
	t.xb = make([]float64, b*t.dim)
	t.yb = make([]int, b)
}

// Evaluate implements [fl.Evaluator]: the mean cross-entropy
// (fl.KeyLoss), the accuracy (fl.KeyAccuracy) and the number of examples
// (fl.KeyExamples) of params on Test, or on Train when Test is nil. It
// returns an error if params has the wrong length or a NaN or Inf, or
// ctx.Err() if ctx is done (checked between chunks of examples).
func (t *Trainer) Evaluate(ctx context.Context, params []float64) (fl.Metrics, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkParams(t.cfg.Model, params); err != nil {
		return nil, err
	}
	d := t.cfg.Test
	if d == nil {
		d = t.cfg.Train
	}
	if t.evalWS == nil {
		t.evalWS = t.cfg.Model.NewWorkspace(min(evalChunk, max(t.cfg.Train.Len(), lenOrZero(t.cfg.Test))))
	}
	loss, acc := evalAll(t.evalWS, params, d, ctx.Err)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return fl.Metrics{
		fl.KeyLoss:     loss,
		fl.KeyAccuracy: acc,
		fl.KeyExamples: float64(d.Len()),
	}, nil
}

func lenOrZero(d *dataset.Dataset) int {
	if d == nil {
		return 0
	}
	return d.Len()
}
