package drift

import (
	"context"
	"fmt"
	"math"

	"github.com/fedgo/fedgo/fl"
)

// Message types of FedDyn. A client that does not speak FedDyn refuses
// TypeFedDynTrain instead of answering without its dynamic regularizer.
const (
	TypeFedDynTrain  = "feddyn/train"  // server → client: θ^{t−1} in Params, α as Config[fl.KeyMu]
	TypeFedDynUpdate = "feddyn/update" // client → server: θ_k^t − θ^{t−1} in Params
)

// FedDyn is federated learning with dynamic regularization (D. A. E.
// Acar, Y. Zhao, R. Matas, M. Mattina, P. Whatmough and V. Saligrama,
// "Federated Learning Based on Dynamic Regularization", ICLR 2021,
// Algorithm 1) as an [fl.Exchange]. The server keeps h (0 at the start);
// each active client k of P_t solves, from θ^{t−1} (on the client,
// [FedDynClient]),
//
//	θ_k^t = argmin_θ L_k(θ) − ⟨∇L_k(θ_k^{t−1}), θ⟩ + (α/2)‖θ − θ^{t−1}‖²
//	∇L_k(θ_k^t) = ∇L_k(θ_k^{t−1}) − α(θ_k^t − θ^{t−1})
//
// and the server sets
//
//	h^t = h^{t−1} − α(1/m) Σ_{k∈P_t} (θ_k^t − θ^{t−1})
//	θ^t = (1/|P_t|) Σ_{k∈P_t} θ_k^t − (1/α) h^t
//
// with m = Clients, the number of devices in the federation from the
// configuration, and unweighted means. Run writes θ^t − θ^{t−1} to dst, so
// the server optimizer must be the identity step (fl.SGD with LR 0 or 1;
// Check refuses others). h is the exchange's checkpointed state; the
// clients' ∇L_k(θ_k) live in a [Store]. A round below quorum leaves h
// unchanged.
type FedDyn struct {
	// Clients is m, the number of devices. Required.
	Clients int
	// Alpha is α > 0, the weight of the dynamic regularizer. Required.
	Alpha float64

	h   []float64
	ups [][]float64
}

var (
	_ fl.Exchange = (*FedDyn)(nil)
	_ fl.Stateful = (*FedDyn)(nil)
)

// Check refuses a missing m or α, a population larger than m, a Privacy,
// an Aggregator and a server optimizer other than the identity step.
func (f *FedDyn) Check(cfg *fl.ServerConfig, pool fl.Pool) error {
	if !(f.Alpha > 0) || math.IsInf(f.Alpha, 0) {
		return fmt.Errorf("%w: feddyn: Alpha = %v, want finite and > 0", fl.ErrConfig, f.Alpha)
	}
	if err := checkServer("feddyn", f.Clients, cfg, pool, true); err != nil {
		return err
	}
	lr := serverLR(cfg)
	if lr != 0 && lr != 1 {
		return fmt.Errorf("%w: feddyn sets θ^t itself: the server optimizer must be fl.SGD with LR 1, not %v", fl.ErrConfig, lr)
	}
	return nil
}

// H returns a copy of the server state h (nil before the first round).
func (f *FedDyn) H() []float64 { return append([]float64(nil), f.h...) }

// Run runs round r.
func (f *FedDyn) Run(ctx context.Context, r *fl.Round, dst []float64) (int, error) {
	dim := len(r.Params)
	if f.h == nil {
		f.h = make([]float64, dim)
	}
	if len(f.h) != dim {
		return 0, fmt.Errorf("%w: feddyn: h of %d values for %d parameters", fl.ErrConfig, len(f.h), dim)
	}
	if !(f.Alpha > 0) || r.Len() > f.Clients {
		return 0, fmt.Errorf("%w: feddyn: α = %v, %d clients sampled of m = %d", fl.ErrConfig, f.Alpha, r.Len(), f.Clients)
	}
	cfg := r.Config.Clone()
	if cfg == nil {
		cfg = fl.Config{}
	}
	cfg[fl.KeyMu] = f.Alpha
	msg := &fl.Message{Type: TypeFedDynTrain, Round: r.Number, Params: r.Params, Config: cfg}
	f.ups = f.ups[:0]
	defer func() { clear(f.ups) }()
	err := r.Step(ctx, TypeFedDynTrain, func(int) (*fl.Message, error) { return msg, nil }, func(i int, m *fl.Message) error {
		switch {
		case m.Type != TypeFedDynUpdate || m.Round != r.Number:
			return fmt.Errorf("%w: type %q round %d, want %q round %d", fl.ErrReply, m.Type, m.Round, TypeFedDynUpdate, r.Number)
		case len(m.Payload) > 0:
			return fmt.Errorf("%w: feddyn takes a dense update in Params", fl.ErrReply)
		case len(m.Params) != dim:
			return fmt.Errorf("%w: %d deltas, want %d", fl.ErrReply, len(m.Params), dim)
		}
		if err := checkFinite("θ_k − θ", m.Params); err != nil {
			return fmt.Errorf("%w: %w", fl.ErrReply, err)
		}
		r.Report(i, m.Metrics, m.Weight)
		f.ups = append(f.ups, m.Params)
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := len(f.ups)
	if n < max(r.Quorum, 1) {
		return n, nil
	}
	// dst = (1/|P|) Σ Δ_k for now; h^t from Σ Δ_k = |P|·mean.
	mean(dst, f.ups)
	hNew := make([]float64, dim)
	for j := range hNew {
		var sum float64
		for _, u := range f.ups {
			sum += u[j]
		}
		hNew[j] = f.h[j] - f.Alpha*(sum/float64(f.Clients))
		dst[j] -= hNew[j] / f.Alpha
	}
	if !finite(dst) || !finite(hNew) {
		return n, fmt.Errorf("%w: feddyn: the aggregate overflows", fl.ErrReply)
	}
	f.h = hNew
	return n, nil
}

// MarshalBinary returns h.
func (f *FedDyn) MarshalBinary() ([]byte, error) { return appendVector(nil, f.h), nil }

// UnmarshalBinary restores h.
func (f *FedDyn) UnmarshalBinary(b []byte) error {
	h, err := decodeState(b)
	if err != nil {
		return fmt.Errorf("%w: feddyn state: %w", fl.ErrCheckpoint, err)
	}
	f.h = h
	return nil
}

// decodeState decodes a vector of any length (nil when empty).
func decodeState(b []byte) ([]float64, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: %d bytes", ErrPayload, len(b))
	}
	n := int(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
	if uint64(n) > uint64(len(b)-4)/8 {
		return nil, fmt.Errorf("%w: %d values in %d bytes", ErrPayload, n, len(b)-4)
	}
	v, err := decodeVector(nil, b, n)
	if err != nil || n == 0 {
		return nil, err
	}
	return v, nil
}

// FedDynClient is the client side of FedDyn (Algorithm 1, the client
// lines) as an [fl.Handler]. On [TypeFedDynTrain] it loads g_k =
// ∇L_k(θ_k^{t−1}) from Store under "feddyn/" + ID (0 when there is none),
// trains from θ^{t−1} on L_k(θ) − ⟨g_k, θ⟩ + (α/2)‖θ − θ^{t−1}‖² (the
// correction −g_k added to every gradient, α the proximal μ the message's
// config carries), saves g_k − α(θ_k^t − θ^{t−1}) and answers
// [TypeFedDynUpdate] with θ_k^t − θ^{t−1}. Other messages go to Next.
type FedDynClient struct {
	ID      string
	Trainer CorrectedTrainer
	Store   Store
	Next    fl.Handler
}

var _ fl.Handler = (*FedDynClient)(nil)

// Handle implements [fl.Handler].
func (h *FedDynClient) Handle(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	if m.Type != TypeFedDynTrain {
		if h.Next == nil {
			return nil, fmt.Errorf("%w: %q", fl.ErrUnknownType, m.Type)
		}
		return h.Next.Handle(ctx, m)
	}
	alpha := m.Config.Get(fl.KeyMu, 0)
	if !(alpha > 0) || math.IsInf(alpha, 0) {
		return nil, fmt.Errorf("feddyn: α = %v in the round's config, want finite and > 0", alpha)
	}
	dim := len(m.Params)
	g := make([]float64, dim)
	key := "feddyn/" + h.ID
	if _, err := h.Store.Load(key, g); err != nil {
		return nil, err
	}
	corr := make([]float64, dim)
	for j, v := range g {
		corr[j] = -v
	}
	u, err := h.Trainer.TrainCorrected(ctx, m.Params, m.Config, corr)
	if err != nil {
		return nil, err
	}
	if len(u.Delta) != dim {
		return nil, fmt.Errorf("feddyn: the trainer returned %d deltas for %d parameters", len(u.Delta), dim)
	}
	for j := range g {
		g[j] -= alpha * u.Delta[j]
	}
	if !finite(g) {
		return nil, fmt.Errorf("feddyn: client %q: the state overflows", h.ID)
	}
	if err := h.Store.Save(key, g); err != nil {
		return nil, err
	}
	return &fl.Message{Type: TypeFedDynUpdate, Round: m.Round, Params: u.Delta, Weight: u.Weight, Metrics: u.Metrics}, nil
}
