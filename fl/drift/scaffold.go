package drift

import (
	"context"
	"fmt"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/model"
)

// Message types of SCAFFOLD. A client that does not speak SCAFFOLD refuses
// TypeScaffoldTrain (fl.ErrUnknownType) instead of answering with a plain
// update that would lack its Δc.
const (
	TypeScaffoldTrain  = "scaffold/train"  // server → client: x in Params, c in Payload
	TypeScaffoldUpdate = "scaffold/update" // client → server: Δy in Params, Δc in Payload
)

// CorrectedTrainer trains with a gradient correction added to every local
// step, as [model.Trainer.TrainCorrected] does. The update's Metrics must
// hold [model.KeySteps] (the number of local steps, ≥ 1) and
// [model.KeyStepLR] (the local learning rate, > 0).
type CorrectedTrainer interface {
	TrainCorrected(ctx context.Context, global []float64, cfg fl.Config, corr []float64) (fl.Update, error)
}

var _ CorrectedTrainer = (*model.Trainer)(nil)

// Scaffold is the server side of SCAFFOLD (S. P. Karimireddy, S. Kale,
// M. Mohri, S. J. Reddi, S. U. Stich and A. T. Suresh, "SCAFFOLD:
// Stochastic Controlled Averaging for Federated Learning", ICML 2020),
// Algorithm 1 with the Option II control variates of equation (4), as an
// [fl.Exchange]. It keeps the server control variate c (0 at the start)
// and, each round, sends x and c to the sampled clients S (message
// [TypeScaffoldTrain]; the clients run [ScaffoldClient]), and receives
// (Δy_i, Δc_i). Of Algorithm 1:
//
//	line 16: Δx = (1/|S|) Σ_{i∈S} Δy_i      (unweighted: no example counts)
//	line 17: x ← x + η_g·Δx
//	         c ← c + (|S|/N)·(1/|S|) Σ_{i∈S} Δc_i
//
// which is the server update of equation (5) in Section 4 (there written
// x ← x + (η_g/|S|) Σ (y_i − x) and c ← c + (1/N) Σ (c_i⁺ − c_i)).
//
// Run writes Δx to dst; the server's optimizer applies line 17's first
// half, so η_g is the learning rate of fl.SGD in fl.ServerConfig.Optimizer
// (nil: η_g = 1) and Check refuses any other optimizer. N is Clients, the
// size of the federation from the configuration, never the clients that
// happen to be connected; |S| is the number of clients whose reply was
// accepted. A round that does not reach the quorum leaves c unchanged.
//
// c is the exchange's state: Scaffold is an [fl.Stateful], checkpointed
// by the server with the parameters, and the clients' c_i live in a
// [Store] (a [MemoryStore] in fl.ServerConfig.State for a simulation), so a
// resumed run equals an uninterrupted one.
//
// OneMessage selects a one-message variant in the manner of FLamby's
// Scaffold strategy (whose correction is (x − y_i)/K from the client's
// last local model; ours carries the previous correction too, which makes
// it the paper's under full participation): the server sends only x and receives only Δy; neither
// c nor Δc travels and the server keeps no c. Each client keeps its last
// local model y_i, the correction it trained with and its K·η_l, and
// corrects its next local training with
//
//	c − c_i = (y_i − x)/(K·η_l) + (c − c_i)_previous
//
// which equals Option II's c − c_i when every client takes part in every
// round, all with the same K·η_l, and η_g = 1: then c = (1/N)Σ_j c_j, and
// with ḡ_i the mean local gradient of client i, c − c_i = (1/N)Σ_j ḡ_j −
// ḡ_i, which is the right-hand side. Check refuses it unless the config
// samples every client (no Sampler, ClientsPerRound 0 or N, ClientFraction
// 0 or 1) and the server optimizer has LR 1; a client that misses rounds
// corrects with a stale model (a test shows the trajectories part). The
// clients' state is 2·d + 1 values each instead of d.
//
// Not provided: privacy (DP, secure aggregation) and compression, which
// would have to treat c and Δc too (Check refuses a Privacy and a pool
// that encodes messages).
type Scaffold struct {
	// Clients is N, the number of clients in the federation. Required.
	Clients int
	// OneMessage selects the one-message variant (see above).
	OneMessage bool

	c        []float64
	dy, dc   [][]float64
	sumScrat []float64
}

var (
	_ fl.Exchange = (*Scaffold)(nil)
	_ fl.Stateful = (*Scaffold)(nil)
)

// Check refuses a missing N, a population larger than N, a Privacy, an
// Aggregator, a server optimizer other than fl.SGD, and a pool that
// encodes messages (compression).
func (s *Scaffold) Check(cfg *fl.ServerConfig, pool fl.Pool) error {
	if err := checkServer("scaffold", s.Clients, cfg, pool, true); err != nil {
		return err
	}
	if !s.OneMessage {
		return nil
	}
	lr := serverLR(cfg)
	if cfg.Sampler != nil || (cfg.ClientsPerRound != 0 && cfg.ClientsPerRound != s.Clients) ||
		(cfg.ClientFraction != 0 && cfg.ClientFraction != 1) || (lr != 0 && lr != 1) {
		return fmt.Errorf("%w: scaffold: the one-message variant is exact only with every client in every round and η_g = 1", fl.ErrConfig)
	}
	return nil
}

// serverLR returns the learning rate of cfg's fl.SGD optimizer, 1 when
// there is none (0 means 1 too).
func serverLR(cfg *fl.ServerConfig) float64 {
	switch o := cfg.Optimizer.(type) {
	case fl.SGD:
		return o.LR
	case *fl.SGD:
		return o.LR
	}
	return 1
}

// checkServer holds the checks common to the exchanges of this package;
// exact refuses a pool that encodes messages.
func checkServer(name string, n int, cfg *fl.ServerConfig, pool fl.Pool, exact bool) error {
	switch {
	case n < 1:
		return fmt.Errorf("%w: %s: Clients = %d, want the federation's size N ≥ 1", fl.ErrConfig, name, n)
	case pool != nil && len(pool.Population()) > n:
		return fmt.Errorf("%w: %s: %d registered clients, more than Clients = %d", fl.ErrConfig, name, len(pool.Population()), n)
	case cfg.Privacy != nil:
		return fmt.Errorf("%w: %s does not compose with a Privacy", fl.ErrConfig, name)
	case cfg.Aggregator != nil:
		return fmt.Errorf("%w: %s aggregates by its own equations: leave Aggregator nil", fl.ErrConfig, name)
	}
	switch o := cfg.Optimizer.(type) {
	case nil, fl.SGD, *fl.SGD:
	default:
		return fmt.Errorf("%w: %s: server optimizer %T, want fl.SGD (the global learning rate)", fl.ErrConfig, name, o)
	}
	if !exact {
		return nil // plain train messages: the pool's codecs apply as to FedAvg
	}
	if up, down := fl.PoolEncoding(pool); up != "" || down != "" {
		return fmt.Errorf("%w: %s: the pool encodes messages (uplink %q, downlink %q); its own messages need the exact vectors", fl.ErrConfig, name, up, down)
	}
	return nil
}

// Control returns a copy of the server control variate c (nil before the
// first round).
func (s *Scaffold) Control() []float64 { return append([]float64(nil), s.c...) }

// Run runs round r: it sends x and c, collects (Δy_i, Δc_i), writes
// (1/|S|)Σ Δy_i to dst and updates c.
func (s *Scaffold) Run(ctx context.Context, r *fl.Round, dst []float64) (int, error) {
	dim := len(r.Params)
	if s.c == nil && !s.OneMessage {
		s.c = make([]float64, dim)
	}
	if len(s.c) != dim && !(s.OneMessage && s.c == nil) {
		return 0, fmt.Errorf("%w: scaffold: control variate of %d values for %d parameters", fl.ErrConfig, len(s.c), dim)
	}
	if r.Len() > s.Clients {
		return 0, fmt.Errorf("%w: scaffold: %d clients sampled, more than Clients = %d", fl.ErrConfig, r.Len(), s.Clients)
	}
	msg := &fl.Message{Type: TypeScaffoldTrain, Round: r.Number, Params: r.Params, Config: r.Config}
	if !s.OneMessage {
		msg.Payload = appendVector(nil, s.c)
	}
	s.dy, s.dc = s.dy[:0], s.dc[:0]
	err := r.Step(ctx, TypeScaffoldTrain, func(int) (*fl.Message, error) { return msg, nil }, func(i int, m *fl.Message) (err error) {
		if m.Type != TypeScaffoldUpdate || m.Round != r.Number {
			return fmt.Errorf("%w: type %q round %d, want %q round %d", fl.ErrReply, m.Type, m.Round, TypeScaffoldUpdate, r.Number)
		}
		if len(m.Params) != dim {
			return fmt.Errorf("%w: Δy of %d values, want %d", fl.ErrReply, len(m.Params), dim)
		}
		if err := checkFinite("Δy", m.Params); err != nil {
			return fmt.Errorf("%w: %w", fl.ErrReply, err)
		}
		var dc []float64
		if s.OneMessage {
			if len(m.Payload) > 0 {
				return fmt.Errorf("%w: a Δc in the one-message variant", fl.ErrReply)
			}
		} else if dc, err = decodeVector(nil, m.Payload, dim); err != nil {
			return fmt.Errorf("%w: Δc: %w", fl.ErrReply, err)
		}
		r.Report(i, m.Metrics, m.Weight)
		s.dy, s.dc = append(s.dy, m.Params), append(s.dc, dc)
		return nil
	})
	defer func() { clear(s.dy); clear(s.dc) }() // hold no client's update past the round
	if err != nil {
		return 0, err
	}
	n := len(s.dy)
	if n < max(r.Quorum, 1) {
		return n, nil
	}
	mean(dst, s.dy)
	if !finite(dst) {
		return n, fmt.Errorf("%w: scaffold: the mean of Δy overflows", fl.ErrReply)
	}
	if s.OneMessage {
		return n, nil
	}
	s.sumScrat = mean(grow(s.sumScrat, dim), s.dc)
	f := float64(n) / float64(s.Clients)
	for j, v := range s.sumScrat {
		s.c[j] += f * v
	}
	return n, nil
}

// mean writes the unweighted mean of vs, summed in order, to dst and
// returns it.
func mean(dst []float64, vs [][]float64) []float64 {
	clear(dst)
	for _, v := range vs {
		for j, x := range v {
			dst[j] += x
		}
	}
	inv := float64(len(vs))
	for j := range dst {
		dst[j] /= inv
	}
	return dst
}

// grow returns v resized to n values.
func grow(v []float64, n int) []float64 {
	if cap(v) < n {
		return make([]float64, n)
	}
	return v[:n]
}

// MarshalBinary returns c.
func (s *Scaffold) MarshalBinary() ([]byte, error) { return appendVector(nil, s.c), nil }

// UnmarshalBinary restores c. Its length is checked against the
// parameters in the next Run.
func (s *Scaffold) UnmarshalBinary(b []byte) error {
	c, err := decodeState(b)
	if err != nil {
		return fmt.Errorf("%w: scaffold state: %w", fl.ErrCheckpoint, err)
	}
	s.c = c
	return nil
}

// ScaffoldClient is the client side of SCAFFOLD (Algorithm 1, lines 6–15,
// the block "on client i ∈ S in parallel") as an [fl.Handler]. On
// [TypeScaffoldTrain] it
//
//  1. loads c_i from Store under "scaffold/" + ID (0 when there is none);
//  2. trains from y = x (line 7) with the correction c − c_i added to every
//     local gradient, y ← y − η_l(g_i(y) + c − c_i) (lines 8–11; equation
//     (3) of Section 4);
//  3. computes Option II of line 12 and equation (4),
//     c_i⁺ = c_i − c + (x − y)/(K·η_l), with K and η_l the steps and
//     learning rate the trainer reports;
//  4. saves c_i⁺ (line 14) and answers [TypeScaffoldUpdate] with Δy = y − x
//     in Params and Δc = c_i⁺ − c_i in Payload (line 13).
//
// A message without Payload is the one-message variant (Scaffold.OneMessage):
// the client corrects with (y_i − x)/(K·η_l) plus its previous correction,
// from its last local model, and answers with Δy alone.
//
// Other messages go to Next (evaluation, say); with Next nil they are
// refused. c_i is saved before the reply leaves: a reply lost on the way
// leaves c_i ahead of the server's c, as in the paper's implementations.
type ScaffoldClient struct {
	ID      string
	Trainer CorrectedTrainer
	Store   Store
	Next    fl.Handler
}

var _ fl.Handler = (*ScaffoldClient)(nil)

// Handle implements [fl.Handler].
func (h *ScaffoldClient) Handle(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	if m.Type != TypeScaffoldTrain {
		if h.Next == nil {
			return nil, fmt.Errorf("%w: %q", fl.ErrUnknownType, m.Type)
		}
		return h.Next.Handle(ctx, m)
	}
	dim := len(m.Params)
	if len(m.Payload) == 0 {
		return h.oneMessage(ctx, m)
	}
	c, err := decodeVector(nil, m.Payload, dim)
	if err != nil {
		return nil, fmt.Errorf("scaffold: server control variate: %w", err)
	}
	ci := make([]float64, dim)
	key := "scaffold/" + h.ID
	if _, err := h.Store.Load(key, ci); err != nil {
		return nil, err
	}
	corr := make([]float64, dim)
	for j := range corr {
		corr[j] = c[j] - ci[j]
	}
	u, err := h.Trainer.TrainCorrected(ctx, m.Params, m.Config, corr)
	if err != nil {
		return nil, err
	}
	k, lr, err := stepsAndLR(u, dim)
	if err != nil {
		return nil, err
	}
	// c_i⁺ = c_i − c + (x − y)/(Kη_l), with x − y = −Δy.
	kl := k * lr
	cplus, dc := corr, make([]float64, dim) // corr is not needed any more
	for j := range cplus {
		cplus[j] = ci[j] - c[j] + -u.Delta[j]/kl
		dc[j] = cplus[j] - ci[j]
	}
	if !finite(cplus) {
		return nil, fmt.Errorf("scaffold: client %q: the control variate overflows", h.ID)
	}
	if err := h.Store.Save(key, cplus); err != nil {
		return nil, err
	}
	return &fl.Message{Type: TypeScaffoldUpdate, Round: m.Round, Params: u.Delta, Payload: appendVector(nil, dc), Weight: u.Weight, Metrics: u.Metrics}, nil
}

// stepsAndLR reads the steps K ≥ 1 and the learning rate η_l > 0 from an
// update's metrics and checks its delta.
func stepsAndLR(u fl.Update, dim int) (k, lr float64, err error) {
	k, lr = u.Metrics[model.KeySteps], u.Metrics[model.KeyStepLR]
	switch {
	case len(u.Delta) != dim:
		return 0, 0, fmt.Errorf("drift: the trainer returned %d deltas for %d parameters", len(u.Delta), dim)
	case !(k >= 1) || !finite([]float64{k}):
		return 0, 0, fmt.Errorf("drift: the trainer reported %s = %v, want ≥ 1", model.KeySteps, k)
	case !(lr > 0) || !finite([]float64{lr}):
		return 0, 0, fmt.Errorf("drift: the trainer reported %s = %v, want > 0", model.KeyStepLR, lr)
	}
	return k, lr, nil
}

// oneMessage answers a train message of the one-message variant: the
// correction is (y_i − x)/(K·η_l) + the previous correction, from the
// client's last local model y_i, its K·η_l and the correction it trained
// with, stored under "scaffold1/" + ID as y_i, that correction, K·η_l.
func (h *ScaffoldClient) oneMessage(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	dim := len(m.Params)
	key := "scaffold1/" + h.ID
	prev := make([]float64, 2*dim+1)
	ok, err := h.Store.Load(key, prev)
	if err != nil {
		return nil, err
	}
	corr := make([]float64, dim)
	if ok {
		kl := prev[2*dim]
		for j := range corr {
			corr[j] = (prev[j]-m.Params[j])/kl + prev[dim+j]
		}
	}
	u, err := h.Trainer.TrainCorrected(ctx, m.Params, m.Config, corr)
	if err != nil {
		return nil, err
	}
	k, lr, err := stepsAndLR(u, dim)
	if err != nil {
		return nil, err
	}
	for j := range dim {
		prev[j] = m.Params[j] + u.Delta[j]
	}
	copy(prev[dim:], corr)
	prev[2*dim] = k * lr
	if !finite(prev) {
		return nil, fmt.Errorf("scaffold: client %q: the local model overflows", h.ID)
	}
	if err := h.Store.Save(key, prev); err != nil {
		return nil, err
	}
	return &fl.Message{Type: TypeScaffoldUpdate, Round: m.Round, Params: u.Delta, Weight: u.Weight, Metrics: u.Metrics}, nil
}
