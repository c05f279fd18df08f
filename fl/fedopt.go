package fl

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/fedgo/fedgo/internal/vec"
)

// The server optimizers of Reddi et al. 2021, "Adaptive Federated
// Optimization" (ICLR), Algorithm 2. Each treats the aggregated client
// update Δₜ (mean of local minus global parameters) as a pseudo-gradient
// pointing downhill, so every rule moves the parameters along +Δₜ:
//
//	SGD:      x ← x + η·Δ                                  (FedAvg when η = 1)
//	FedAvgM:  m ← β·m + Δ;             x ← x + η·m        (Hsu et al. 2019)
//	FedAdagrad: m ← β₁m + (1−β₁)Δ;  v ← v + Δ²;                          x ← x + η·m/(√v + τ)
//	FedAdam:    m ← β₁m + (1−β₁)Δ;  v ← β₂v + (1−β₂)Δ²;                  x ← x + η·m/(√v + τ)
//	FedYogi:    m ← β₁m + (1−β₁)Δ;  v ← v − (1−β₂)Δ²·sign(v − Δ²);       x ← x + η·m/(√v + τ)
//
// As in the paper, there is no bias correction, and the second moment
// starts at v₋₁ = τ² (Algorithm 2's "v₋₁ ≥ τ²"); m starts at 0. Flower
// starts v at 0 instead; we follow the paper.

// ErrOptimizerState is returned when restoring optimizer state that does
// not match the optimizer.
var ErrOptimizerState = errors.New("fl: optimizer state does not match")

// SGD is the server step x ← x + LR·Δ. With LR = 1 it is plain FedAvg.
type SGD struct {
	LR float64 // server learning rate η; 0 means 1
}

var _ ServerOptimizer = SGD{}

// Step moves params along delta. It panics if the lengths differ.
func (o SGD) Step(params, delta []float64) {
	mustSameLen(params, delta)
	lr := o.LR
	if lr == 0 {
		lr = 1
	}
	vec.Axpy(params, lr, delta)
}

// FedAvgM is server momentum (Hsu, Qi, Brown 2019, "Measuring the Effects of
// Non-Identical Data Distribution for Federated Visual Classification"):
// m ← β·m + Δ; x ← x + η·m.
type FedAvgM struct {
	LR       float64 // η; 0 means 1
	Momentum float64 // β; 0 means 0.9

	m []float64
}

var _ ServerOptimizer = (*FedAvgM)(nil)

// Step applies one momentum step. It panics if the lengths differ.
func (o *FedAvgM) Step(params, delta []float64) {
	mustSameLen(params, delta)
	lr, beta := orDefault(o.LR, 1), orDefault(o.Momentum, 0.9)
	if len(o.m) != len(params) {
		o.m = make([]float64, len(params))
	}
	for i, d := range delta {
		// float64(·) keeps each product rounded, never fused (FMA).
		o.m[i] = float64(beta*o.m[i]) + d
		params[i] += float64(lr * o.m[i])
	}
}

// MarshalBinary returns the momentum buffer.
func (o *FedAvgM) MarshalBinary() ([]byte, error) { return marshalVectors(o.m), nil }

// UnmarshalBinary restores the momentum buffer.
func (o *FedAvgM) UnmarshalBinary(b []byte) error {
	vs, err := unmarshalVectors(b, 1)
	if err != nil {
		return err
	}
	o.m = vs[0]
	return nil
}

// Adaptive is the family of adaptive server optimizers of Reddi et al.
// 2021: FedAdam, FedYogi and FedAdagrad, selected by Rule. Zero fields take
// the defaults of [NewFedAdam] and friends: η = 0.01 (FedAdagrad: 0.1),
// β₁ = 0.9, β₂ = 0.99, τ = 1e-3.
type Adaptive struct {
	Rule  AdaptiveRule
	LR    float64 // server learning rate η
	Beta1 float64 // first-moment decay β₁
	Beta2 float64 // second-moment decay β₂ (unused by FedAdagrad)
	Tau   float64 // adaptivity τ: the ε of Adam, also v's initial value is τ²

	m, v []float64
}

// AdaptiveRule selects the second-moment update of [Adaptive].
type AdaptiveRule int

// The adaptive rules.
const (
	RuleAdam AdaptiveRule = iota
	RuleYogi
	RuleAdagrad
)

var _ ServerOptimizer = (*Adaptive)(nil)

// NewFedAdam returns FedAdam with the given server learning rate and the
// paper's defaults for the rest.
func NewFedAdam(lr float64) *Adaptive { return &Adaptive{Rule: RuleAdam, LR: lr} }

// NewFedYogi returns FedYogi with the given server learning rate.
func NewFedYogi(lr float64) *Adaptive { return &Adaptive{Rule: RuleYogi, LR: lr} }

// NewFedAdagrad returns FedAdagrad with the given server learning rate.
func NewFedAdagrad(lr float64) *Adaptive { return &Adaptive{Rule: RuleAdagrad, LR: lr} }

func (o *Adaptive) hyper() (lr, b1, b2, tau float64) {
	deflr := 0.01
	if o.Rule == RuleAdagrad {
		deflr = 0.1
	}
	return orDefault(o.LR, deflr), orDefault(o.Beta1, 0.9), orDefault(o.Beta2, 0.99), orDefault(o.Tau, 1e-3)
}

// Step applies one adaptive step. It panics if the lengths differ.
func (o *Adaptive) Step(params, delta []float64) {
	mustSameLen(params, delta)
	lr, b1, b2, tau := o.hyper()
	if len(o.m) != len(params) {
		o.m = make([]float64, len(params))
		o.v = make([]float64, len(params))
		for i := range o.v {
			o.v[i] = tau * tau
		}
	}
	m, v := o.m, o.v
	for i, d := range delta {
		// float64(·) keeps each product rounded, never fused (FMA), so
		// that every machine computes the same bits.
		m[i] = float64(b1*m[i]) + float64((1-b1)*d)
		d2 := d * d
		switch o.Rule {
		case RuleAdam:
			v[i] = float64(b2*v[i]) + float64((1-b2)*d2)
		case RuleYogi:
			v[i] -= float64((1 - b2) * d2 * sign(v[i]-d2))
		case RuleAdagrad:
			v[i] += d2
		}
		params[i] += float64(lr * m[i] / (math.Sqrt(v[i]) + tau))
	}
}

// MarshalBinary returns the moment buffers.
func (o *Adaptive) MarshalBinary() ([]byte, error) { return marshalVectors(o.m, o.v), nil }

// UnmarshalBinary restores the moment buffers.
func (o *Adaptive) UnmarshalBinary(b []byte) error {
	vs, err := unmarshalVectors(b, 2)
	if err != nil {
		return err
	}
	if len(vs[0]) != len(vs[1]) {
		return ErrOptimizerState
	}
	o.m, o.v = vs[0], vs[1]
	return nil
}

var (
	_ encoding.BinaryMarshaler   = (*Adaptive)(nil)
	_ encoding.BinaryUnmarshaler = (*Adaptive)(nil)
	_ encoding.BinaryMarshaler   = (*FedAvgM)(nil)
)

func sign(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

func orDefault(x, def float64) float64 {
	if x == 0 {
		return def
	}
	return x
}

func mustSameLen(a, b []float64) {
	if len(a) != len(b) {
		panic(fmt.Sprintf("fl: length mismatch: %d != %d", len(a), len(b)))
	}
}

// marshalVectors encodes vectors as a count, then per vector a length and
// little-endian float64 bits.
func marshalVectors(vs ...[]float64) []byte {
	n := 4
	for _, v := range vs {
		n += 8 + 8*len(v)
	}
	b := make([]byte, 0, n)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(vs)))
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, uint64(len(v)))
		for _, x := range v {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		}
	}
	return b
}

func unmarshalVectors(b []byte, want int) ([][]float64, error) {
	if len(b) < 4 || binary.LittleEndian.Uint32(b) != uint32(want) {
		return nil, ErrOptimizerState
	}
	b = b[4:]
	out := make([][]float64, want)
	for k := range out {
		if len(b) < 8 {
			return nil, ErrOptimizerState
		}
		n := binary.LittleEndian.Uint64(b)
		b = b[8:]
		if n > uint64(len(b))/8 {
			return nil, ErrOptimizerState
		}
		if n == 0 {
			continue
		}
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
		b = b[8*n:]
		out[k] = v
	}
	if len(b) != 0 {
		return nil, ErrOptimizerState
	}
	return out, nil
}

// Validate reports a learning rate that is negative or not finite.
func (o SGD) Validate() error { return checkLR("SGD", o.LR) }

// Validate reports a learning rate or momentum out of range.
func (o *FedAvgM) Validate() error {
	if err := checkLR("FedAvgM", o.LR); err != nil {
		return err
	}
	if !(o.Momentum >= 0 && o.Momentum < 1) {
		return fmt.Errorf("FedAvgM.Momentum = %v, want in [0, 1)", o.Momentum)
	}
	return nil
}

// Validate reports a hyperparameter out of range.
func (o *Adaptive) Validate() error {
	if o.Rule < RuleAdam || o.Rule > RuleAdagrad {
		return fmt.Errorf("Adaptive.Rule = %d is unknown", o.Rule)
	}
	if err := checkLR("Adaptive", o.LR); err != nil {
		return err
	}
	for _, b := range []struct {
		name string
		v    float64
	}{{"Beta1", o.Beta1}, {"Beta2", o.Beta2}} {
		if !(b.v >= 0 && b.v < 1) {
			return fmt.Errorf("adaptive optimizer: %s = %v, want in [0, 1)", b.name, b.v)
		}
	}
	if !(o.Tau >= 0) || math.IsInf(o.Tau, 0) {
		return fmt.Errorf("Adaptive.Tau = %v, want finite and ≥ 0", o.Tau)
	}
	return nil
}

func checkLR(name string, lr float64) error {
	if !(lr >= 0) || math.IsInf(lr, 0) {
		return fmt.Errorf("%s.LR = %v, want finite and > 0 (0 means the default)", name, lr)
	}
	return nil
}
