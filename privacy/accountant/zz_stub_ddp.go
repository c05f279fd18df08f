package accountant

// TEMPORARY stub of the distributed-DP accounting API that branch ddpacct
// implements (Kairouz–Liu–Steinke 2021; Agarwal–Kairouz–Liu 2021). The lead
// deletes this file at merge. Its bodies are stand-ins: DiscreteRDP is the
// continuous Gaussian's α·L2²/(2·Variance), without the discrete
// mechanisms' extra terms, and CalibrateDiscrete calibrates that Gaussian
// with CalibrateNoise. Do not rely on their values.

import (
	"errors"
	"fmt"
	"math"
)

// DiscreteKind names an integer noise mechanism whose noise is the sum of
// Shares independent shares.
type DiscreteKind int

const (
	DistributedDiscreteGaussian DiscreteKind = iota + 1
	DistributedSkellam
)

// DiscreteNoise describes the noise of one release in integer units.
type DiscreteNoise struct {
	Kind     DiscreteKind
	Shares   int
	Variance float64
	L1, L2   float64
}

// Validate reports a field out of range.
func (d DiscreteNoise) Validate() error {
	if d.Kind != DistributedDiscreteGaussian && d.Kind != DistributedSkellam {
		return fmt.Errorf("%w: discrete kind %d", ErrInvalidConfig, d.Kind)
	}
	if d.Shares < 1 || !(d.Variance > 0) || math.IsInf(d.Variance, 0) || !(d.L1 > 0) || !(d.L2 > 0) ||
		math.IsInf(d.L1, 0) || math.IsInf(d.L2, 0) {
		return fmt.Errorf("%w: discrete noise %+v", ErrInvalidConfig, d)
	}
	return nil
}

// DiscreteRDP (stub) returns α·L2²/(2·Variance).
func DiscreteRDP(d DiscreteNoise, orders []float64) ([]float64, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if err := validateOrders(orders); err != nil {
		return nil, err
	}
	out := make([]float64, len(orders))
	for i, a := range orders {
		out[i] = a * d.L2 * d.L2 / (2 * d.Variance)
	}
	return out, nil
}

// CalibrateDiscrete (stub) returns (z·L2)² for the Gaussian z that meets t.
func CalibrateDiscrete(t Target, d DiscreteNoise) (float64, error) {
	d.Variance = 1
	if err := d.Validate(); err != nil {
		return 0, err
	}
	z, err := CalibrateNoise(t, KindRDP)
	if err != nil {
		return 0, err
	}
	if z >= maxNoise {
		return 0, errors.New("accountant: stub: unreachable")
	}
	return z * z * d.L2 * d.L2, nil
}
