package robust

import (
	"fmt"
	"math"
	"slices"

	"github.com/fedgo/fedgo/fl"
)

// Chain is a Step that runs its steps in order, each on the output of the
// one before, as in
//
//	Pre{Step: Chain{&ARC{F: f}, &NNM{F: f}}, Rule: &Krum{F: f}}.
//
// Its state (for checkpoints) is that of its stateful steps, in order.
// A Chain is as safe for concurrent use as its steps.
type Chain []Step

var _ Step = Chain(nil)

// Outputs returns the count the last step returns.
func (c Chain) Outputs(n int) int {
	for _, s := range c {
		n = s.Outputs(n)
	}
	return n
}

// Validate reports an error if the chain is empty, a step is nil, or a
// step cannot take the count the steps before it return.
func (c Chain) Validate(n int) error {
	if len(c) == 0 {
		return fmt.Errorf("%w: empty Chain", ErrParam)
	}
	for i, s := range c {
		if s == nil {
			return fmt.Errorf("%w: Chain step %d is nil", ErrParam, i)
		}
		if err := s.Validate(n); err != nil {
			return fmt.Errorf("Chain step %d: %w", i, err)
		}
		n = s.Outputs(n)
	}
	return nil
}

// Apply runs the steps in order.
func (c Chain) Apply(updates []fl.Update) ([]fl.Update, error) {
	if err := c.Validate(len(updates)); err != nil {
		return nil, err
	}
	for i, s := range c {
		var err error
		if updates, err = s.Apply(updates); err != nil {
			return nil, fmt.Errorf("Chain step %d: %w", i, err)
		}
	}
	return updates, nil
}

// MarshalBinary returns the state of every step (empty for a step that is
// not an encoding.BinaryMarshaler), each prefixed by its little-endian
// uint64 length.
func (c Chain) MarshalBinary() ([]byte, error) { return marshalParts(c...) }

// UnmarshalBinary restores the state written by MarshalBinary.
func (c Chain) UnmarshalBinary(b []byte) error { return unmarshalParts("Chain", b, c...) }

// clipScratch scales updates to a norm bound.
type clipScratch struct {
	norms []float64
	out   outBuf

	// The running call, for do.
	ups     []fl.Update
	outs    []fl.Update
	c       float64
	scaling bool
}

// setNorms sets s.norms to the updates' Euclidean norms, in parallel over
// updates.
func (s *clipScratch) setNorms(updates []fl.Update) {
	s.norms = grow(s.norms, len(updates))
	s.ups, s.scaling = updates, false
	s.runRows()
}

// clip returns the updates with every one of norm above c scaled to norm
// c (by the factor c/‖Δ‖), the others copied; clients and weights kept.
func (s *clipScratch) clip(updates []fl.Update, c float64) []fl.Update {
	s.outs = s.out.resize(len(updates), len(updates[0].Delta))
	s.ups, s.c, s.scaling = updates, c, true
	s.runRows()
	out := s.outs
	s.outs = nil
	return out
}

func (s *clipScratch) runRows() {
	n := len(s.ups)
	parallel(n, min(workersFor(n*len(s.ups[0].Delta), 1<<16), n), s)
	s.ups = nil
}

// do computes the norms, or scales, of updates [lo, hi).
func (s *clipScratch) do(_, lo, hi int) {
	for i := lo; i < hi; i++ {
		src := s.ups[i].Delta
		if !s.scaling {
			s.norms[i] = math.Sqrt(dot(src, src))
			continue
		}
		dst := s.outs[i].Delta
		if r := s.norms[i]; r > s.c {
			k := s.c / r
			for j, v := range src {
				dst[j] = k * v
			}
		} else {
			copy(dst, src)
		}
		s.outs[i].Client, s.outs[i].Weight = s.ups[i].Client, s.ups[i].Weight
	}
}

// Clip is static clipping as a pre-aggregation step: every update of norm
// above Norm is scaled down to norm Norm, Δ · Norm/‖Δ‖; the others pass
// unchanged. (package privacy clips for differential privacy on the
// clients; this step clips on the server, in front of a robust rule, as
// ByzFL's Clipping pre-aggregator does.) A Clip is not safe for concurrent
// use.
type Clip struct {
	// Norm is the bound, > 0.
	Norm float64

	s clipScratch
}

var _ Step = (*Clip)(nil)

// Outputs returns n.
func (*Clip) Outputs(n int) int { return n }

// Validate reports an error unless Norm is finite and positive and n ≥ 1.
func (c *Clip) Validate(n int) error {
	if !(c.Norm > 0) || math.IsInf(c.Norm, 0) {
		return fmt.Errorf("%w: Clip: Norm = %v", ErrParam, c.Norm)
	}
	if n < 1 {
		return tooFew("Clip", n, "n ≥ 1", 1)
	}
	return nil
}

// Apply returns the clipped updates.
func (c *Clip) Apply(updates []fl.Update) ([]fl.Update, error) {
	if err := c.Validate(len(updates)); err != nil {
		return nil, err
	}
	c.s.setNorms(updates)
	return c.s.clip(updates, c.Norm), nil
}

// ARC is adaptive robust clipping, Allouah, Guerraoui, Gupta, Jellouli,
// Rizk and Stephan (2024), "Boosting Robustness by Clipping Gradients in
// Distributed Learning" (ICLR 2025), Algorithm 2: with
// k = ⌊2(F/n)(n − F)⌋, the threshold C is the (k+1)-th largest norm of the
// n updates, and every update is clipped to C (Δ · min(1, C/‖Δ‖)), so the
// k largest are scaled down to norm C and the others pass unchanged. With
// k = 0 nothing changes. It needs n > 2F; use it in front of a rule, in
// [Pre] or a [Chain]. An ARC is not safe for concurrent use.
type ARC struct {
	// F is the number of Byzantine updates tolerated.
	F int

	s      clipScratch
	sorted []float64
	last   float64
}

var _ Step = (*ARC)(nil)

// Outputs returns n.
func (*ARC) Outputs(n int) int { return n }

// Validate reports an error unless F ≥ 0 and n > 2F.
func (a *ARC) Validate(n int) error {
	if err := checkMajority("ARC", n, a.F); err != nil {
		return err
	}
	return nil
}

// ARCClipped returns k = ⌊2(f/n)(n − f)⌋, the number of updates ARC clips
// among n, computed exactly in integers as ⌊2f(n − f)/n⌋.
func ARCClipped(n, f int) int { return 2 * f * (n - f) / n }

// Apply returns the clipped updates.
func (a *ARC) Apply(updates []fl.Update) ([]fl.Update, error) {
	n := len(updates)
	if err := a.Validate(n); err != nil {
		return nil, err
	}
	a.s.setNorms(updates)
	a.sorted = append(a.sorted[:0], a.s.norms...)
	slices.Sort(a.sorted)
	a.last = a.sorted[n-1-ARCClipped(n, a.F)]
	return a.s.clip(updates, a.last), nil
}

// Threshold returns the clipping threshold C of the last Apply call.
func (a *ARC) Threshold() float64 { return a.last }
