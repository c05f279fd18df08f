package drift

import (
	"context"
	"fmt"
	"math"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/model"
)

// maxSteps bounds the local step count τ a client may report.
const maxSteps = 1 << 24

// FedNova is normalized averaging (J. Wang, Q. Liu, H. Liang, G. Joshi and
// H. V. Poor, "Tackling the Objective Inconsistency Problem in
// Heterogeneous Federated Optimization", NeurIPS 2020, Section 4) as an
// [fl.Exchange]. Local SGD writes client i's change after τ_i steps as
// Δ_i = y_i − x = −η G_i a_i, with G_i the stacked local gradients and a_i
// the coefficients of the local solver; FedNova averages the normalized
// changes and rescales them by the effective step count:
//
//	x ← x + τ_eff Σ_i p_i Δ_i / ‖a_i‖₁,   τ_eff = Σ_i p_i ‖a_i‖₁
//
// (the update rule x^{(t+1,0)} − x^{(t,0)} = −τ_eff Σ_i p_i η d_i with
// d_i = G_i a_i/‖a_i‖₁), where p_i = n_i/Σ_j n_j over the clients whose
// update was accepted (n_i the update's Weight, its examples), which is
// the paper's p_i under full participation. The solvers' ‖a_i‖₁ (Section
// 5 and Appendix):
//
//	plain SGD:                 ‖a_i‖₁ = τ_i
//	momentum β:                ‖a_i‖₁ = [τ_i − β(1 − β^τ_i)/(1 − β)]/(1 − β)
//	proximal μ (FedProx):      ‖a_i‖₁ = [1 − (1 − ημ)^τ_i]/(ημ)
//
// FedNova computes ‖a_i‖₁ as the sum of a_i, the change of a solver that
// sees the gradient 1 at every step divided by −η (exact for each of the
// cases above and for momentum and μ together; 0 ≤ ημ < 1 required), with
// τ_i from the update's Metrics ([model.KeySteps]), η from
// [model.KeyStepLR], and β and μ from the round's config
// ([model.KeyMomentum], [fl.KeyMu]): clients must train with the round's
// values. Weight decay is not in a_i (as in the paper's experiments).
//
// The global learning rate is the server optimizer (fl.SGD); Run writes
// τ_eff Σ p_i Δ_i/‖a_i‖₁ to dst and records τ_eff as the round's extra
// value "fednova_tau_eff".
type FedNova struct {
	// Clients is the size of the federation (checked against the
	// population). Required.
	Clients int

	norms []float64 // ‖a_i‖₁ of each accepted update, in order
	ups   [][]float64
	ws    []float64
}

var _ fl.Exchange = (*FedNova)(nil)

// Check refuses a missing Clients, a population larger than it, a Privacy,
// an Aggregator and a server optimizer other than fl.SGD.
func (f *FedNova) Check(cfg *fl.ServerConfig, pool fl.Pool) error {
	return checkServer("fednova", f.Clients, cfg, pool, false)
}

// NormA returns ‖a‖₁ of τ steps of local SGD with learning rate lr,
// momentum beta (PyTorch's, no dampening) and proximal coefficient mu: the
// sum of the coefficients with which the τ local gradients enter the
// change. It returns an error if τ < 1, β ∉ [0, 1), μ < 0, lr ≤ 0 or
// lr·μ ≥ 1.
func NormA(tau int, lr, beta, mu float64) (float64, error) {
	switch {
	case tau < 1 || tau > maxSteps:
		return 0, fmt.Errorf("%w: fednova: τ = %d, want in [1, %d]", fl.ErrReply, tau, maxSteps)
	case !(beta >= 0 && beta < 1):
		return 0, fmt.Errorf("%w: fednova: momentum %v, want in [0, 1)", fl.ErrConfig, beta)
	case !(mu >= 0) || math.IsInf(mu, 0):
		return 0, fmt.Errorf("%w: fednova: μ = %v", fl.ErrConfig, mu)
	case !(lr > 0) || math.IsInf(lr, 0) || !(lr*mu < 1):
		return 0, fmt.Errorf("%w: fednova: lr = %v with μ = %v, want lr > 0 and lr·μ < 1", fl.ErrConfig, lr, mu)
	}
	if beta == 0 && mu == 0 {
		return float64(tau), nil
	}
	// e = y − x in units of −η, v the momentum buffer, every gradient 1:
	// v ← βv + 1 + μ(y − x) = βv + 1 − ημe,  e ← e + v.
	var e, v float64
	for range tau {
		v = beta*v + 1 - lr*mu*e
		e += v
	}
	return e, nil
}

// Run collects the round's updates and writes the normalized average.
func (f *FedNova) Run(ctx context.Context, r *fl.Round, dst []float64) (int, error) {
	dim := len(r.Params)
	beta := r.Config.Get(model.KeyMomentum, 0)
	mu := r.Config.Get(fl.KeyMu, 0)
	msg := &fl.Message{Type: fl.TypeTrain, Round: r.Number, Params: r.Params, Config: r.Config}
	f.ups, f.norms, f.ws = f.ups[:0], f.norms[:0], f.ws[:0]
	defer func() { clear(f.ups) }()
	err := r.Step(ctx, fl.TypeTrain, func(int) (*fl.Message, error) { return msg, nil }, func(i int, m *fl.Message) error {
		switch {
		case m.Type != fl.TypeUpdate || m.Round != r.Number:
			return fmt.Errorf("%w: type %q round %d, want %q round %d", fl.ErrReply, m.Type, m.Round, fl.TypeUpdate, r.Number)
		case len(m.Payload) > 0:
			return fmt.Errorf("%w: fednova takes a dense update in Params", fl.ErrReply)
		case len(m.Params) != dim:
			return fmt.Errorf("%w: %d deltas, want %d", fl.ErrReply, len(m.Params), dim)
		case !(m.Weight > 0) || math.IsInf(m.Weight, 0):
			return fmt.Errorf("%w: weight %v, want finite and > 0", fl.ErrReply, m.Weight)
		}
		if err := checkFinite("Δ", m.Params); err != nil {
			return fmt.Errorf("%w: %w", fl.ErrReply, err)
		}
		tau := m.Metrics[model.KeySteps]
		if tau != math.Trunc(tau) || !(tau >= 1 && tau <= maxSteps) {
			return fmt.Errorf("%w: %s = %v, want an integer in [1, %d]", fl.ErrReply, model.KeySteps, tau, maxSteps)
		}
		lr := m.Metrics[model.KeyStepLR]
		if beta == 0 && mu == 0 {
			lr = 1 // not needed
		}
		a, err := NormA(int(tau), lr, beta, mu)
		if err != nil {
			return err
		}
		r.Report(i, m.Metrics, m.Weight)
		f.ups, f.norms, f.ws = append(f.ups, m.Params), append(f.norms, a), append(f.ws, m.Weight)
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := len(f.ups)
	if n < max(r.Quorum, 1) {
		return n, nil
	}
	var total float64
	for _, w := range f.ws {
		total += w
	}
	var tauEff float64
	for k, a := range f.norms {
		tauEff += f.ws[k] / total * a
	}
	clear(dst)
	for k, u := range f.ups {
		s := tauEff * (f.ws[k] / total) / f.norms[k]
		for j, x := range u {
			dst[j] += s * x
		}
	}
	if !finite(dst) {
		return n, fmt.Errorf("%w: fednova: the aggregate overflows", fl.ErrReply)
	}
	r.SetExtra("fednova_tau_eff", tauEff)
	return n, nil
}
