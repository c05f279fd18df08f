package robust

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/robust/internal/orderstat"
)

// A Step is a pre-aggregation step: it turns the updates of a round into
// the vectors a rule aggregates. [Pre] runs a Step in front of any rule.
type Step interface {
	// Apply returns the transformed updates. The updates it is given have
	// been checked (same length, finite); it must not modify them. The
	// returned slice and its vectors belong to the step and are valid
	// until its next call.
	Apply(updates []fl.Update) ([]fl.Update, error)
	// Outputs returns how many updates Apply returns for n inputs.
	Outputs(n int) int
	// Validate reports whether the step can transform n updates.
	Validate(n int) error
}

// Pre runs Step on the updates and aggregates its output with Rule, as in
// Pre{Step: &NNM{F: f}, Rule: &Krum{F: f}}. Rule's F counts Byzantine
// inputs of the step's output: NNM keeps n vectors of which at most f are
// far from the honest ones; bucketing with buckets of size s turns f
// Byzantine updates into at most f contaminated buckets among ⌈n/s⌉.
//
// A Pre is as safe for concurrent use as its Step and Rule (not, for the
// steps of this package).
type Pre struct {
	Step Step
	Rule fl.Aggregator
}

var _ fl.Aggregator = (*Pre)(nil)

// MarshalBinary returns the state of Step and Rule (each empty unless it
// is an encoding.BinaryMarshaler), each prefixed by its little-endian
// uint64 length, so that a checkpoint of a stateful pipeline (bucketing,
// centered clipping) resumes exactly.
func (p *Pre) MarshalBinary() ([]byte, error) { return marshalParts[any](p.Step, p.Rule) }

// UnmarshalBinary restores the state written by MarshalBinary.
func (p *Pre) UnmarshalBinary(b []byte) error { return unmarshalParts[any]("Pre", b, p.Step, p.Rule) }

// marshalParts returns the state of each part (empty for a part that is
// not an encoding.BinaryMarshaler), each prefixed by its little-endian
// uint64 length.
func marshalParts[T any](parts ...T) ([]byte, error) {
	var out []byte
	for _, part := range parts {
		b, err := fl.MarshalInner(part)
		if err != nil {
			return nil, err
		}
		out = binary.LittleEndian.AppendUint64(out, uint64(len(b)))
		out = append(out, b...)
	}
	return out, nil
}

// unmarshalParts restores what marshalParts wrote into parts; what names
// the owner in errors. State for a stateless part (also fl.ErrCheckpoint),
// a truncated state and trailing bytes are refused with ErrParam.
func unmarshalParts[T any](what string, b []byte, parts ...T) error {
	for _, part := range parts {
		if len(b) < 8 || binary.LittleEndian.Uint64(b) > uint64(len(b)-8) {
			return fmt.Errorf("%w: %s state truncated", ErrParam, what)
		}
		n := int(binary.LittleEndian.Uint64(b))
		chunk := b[8 : 8+n]
		b = b[8+n:]
		if err := fl.UnmarshalInner(part, chunk); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrParam, what, err)
		}
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %s state has %d trailing bytes", ErrParam, what, len(b))
	}
	return nil
}

// Validate reports whether Step can transform n updates and, if Rule is a
// [Validator], whether Rule can aggregate what Step returns.
func (p *Pre) Validate(n int) error {
	if p.Step == nil || p.Rule == nil {
		return fmt.Errorf("%w: Pre needs a Step and a Rule", ErrParam)
	}
	if err := p.Step.Validate(n); err != nil {
		return err
	}
	if v, ok := p.Rule.(Validator); ok {
		return v.Validate(p.Step.Outputs(n))
	}
	return nil
}

// Aggregate applies Step and then Rule, writing to dst. It returns an
// error, leaving dst unspecified, if there are no updates, Validate fails, a
// length differs from len(dst), a value is NaN or Inf, or the step or rule
// fails.
func (p *Pre) Aggregate(dst []float64, updates []fl.Update) error {
	if err := checkInput(dst, updates); err != nil {
		return err
	}
	if err := p.Validate(len(updates)); err != nil {
		return err
	}
	out, err := p.Step.Apply(updates)
	if err != nil {
		return err
	}
	return p.Rule.Aggregate(dst, out)
}

// outBuf holds the output updates of a step.
type outBuf struct {
	ups  []fl.Update
	data []float64
}

// resize makes b hold m updates of dimension d.
func (b *outBuf) resize(m, d int) []fl.Update {
	b.data = grow(b.data, m*d)
	b.ups = grow(b.ups, m)
	for i := range b.ups {
		b.ups[i] = fl.Update{Delta: b.data[i*d : (i+1)*d : (i+1)*d], Weight: 1}
	}
	return b.ups
}

// NNM is nearest-neighbour mixing, Allouah et al. (2023), "Fixing by
// Mixing: A Recipe for Optimal Byzantine ML under Heterogeneity", AISTATS,
// Algorithm 1: every update is replaced by the mean of itself and its
// n − F − 1 nearest other updates (Euclidean; ties to the lower index),
// summed in that order. It needs n > 2F (the paper's f < n/2). The output
// keeps each update's client and weight.
//
// The pairwise distances come from the Gram-matrix kernel shared with
// [Krum]; the n means run in parallel over coordinates. Apply allocates
// only to grow its n×d output buffer. An NNM is not safe for concurrent use.
type NNM struct {
	// F is the number of Byzantine updates tolerated.
	F int

	d   distScratch
	out outBuf
	key []float64
	idx []int32
	sel []int
	nb  [][]int // per output, the inputs it mixes
	rj  rowsJob
}

var _ Step = (*NNM)(nil)

// Explain reports, per output of the last Apply call, the inputs it
// averages (Neighbours), the update itself first, then its neighbours
// nearest first. It allocates.
func (s *NNM) Explain() Explanation {
	e := Explanation{Rule: "NNM", Neighbours: make([][]int, len(s.nb))}
	for i, nb := range s.nb {
		e.Neighbours[i] = append([]int(nil), nb...)
	}
	return e
}

// Outputs returns n.
func (*NNM) Outputs(n int) int { return n }

// Validate reports an error unless F ≥ 0 and n > 2F.
func (s *NNM) Validate(n int) error {
	if err := checkF("NNM", s.F); err != nil {
		return err
	}
	if n <= 2*s.F {
		return tooFew("NNM", n, "n > 2f", 2*s.F+1)
	}
	return nil
}

// Apply returns the mixed updates.
func (s *NNM) Apply(updates []fl.Update) ([]fl.Update, error) {
	n := len(updates)
	if err := s.Validate(n); err != nil {
		return nil, err
	}
	if !s.d.pairwise(updates) {
		return nil, checkFinite(updates)
	}
	d := len(updates[0].Delta)
	out := s.out.resize(n, d)
	k := n - s.F - 1 // neighbours besides the update itself
	s.key = grow(s.key, n)
	s.nb = growRows(s.nb, n, n-s.F)
	for i := range updates {
		s.idx = s.idx[:0]
		for j := range n {
			if j != i {
				s.idx = append(s.idx, int32(j))
			}
		}
		copy(s.key, s.d.dist[i*n:(i+1)*n])
		orderstat.SelectIdx(s.idx, s.key, k)
		nb := s.idx[:k]
		orderstat.SortIdx(nb, s.key)
		s.sel = append(s.sel[:0], i)
		for _, j := range nb {
			s.sel = append(s.sel, int(j))
		}
		copy(s.nb[i], s.sel)
		s.rj.mean(out[i].Delta, updates, s.sel)
		out[i].Client = updates[i].Client
		out[i].Weight = updates[i].Weight
	}
	return out, nil
}

// Bucketing is the bucketing step of Karimireddy, He and Jaggi (2022),
// "Byzantine-Robust Learning on Heterogeneous Datasets via Bucketing",
// ICLR, Algorithm 1: the updates are shuffled by a random permutation and
// split into ⌈n/S⌉ buckets of S consecutive updates (the last may be
// smaller), and each bucket is replaced by its mean, summed in permutation
// order. The output updates have Client "" and the sum of their members'
// weights.
//
// The permutation of the k-th call (counting from 0) comes from a PCG
// source seeded with (Seed, k), so a run is reproducible from Seed, every
// round draws a new permutation (the same updates give a different result
// in the next round, and the result depends on the order of the updates),
// and the state to checkpoint is just k ([Bucketing.MarshalBinary]).
// A Bucketing is not safe for concurrent use.
type Bucketing struct {
	// S is the bucket size; 0 means 2, the paper's choice.
	S int
	// Seed seeds the permutations.
	Seed uint64

	calls uint64
	pcg   rand.PCG
	rng   *rand.Rand
	perm  []int
	out   outBuf
	rj    rowsJob
}

var _ Step = (*Bucketing)(nil)

// MarshalBinary returns the number of calls made so far, the state that
// fixes the next permutation.
func (s *Bucketing) MarshalBinary() ([]byte, error) {
	return binary.LittleEndian.AppendUint64(nil, s.calls), nil
}

// UnmarshalBinary restores the state written by MarshalBinary.
func (s *Bucketing) UnmarshalBinary(b []byte) error {
	if len(b) != 8 {
		return fmt.Errorf("%w: Bucketing state of %d bytes, want 8", ErrParam, len(b))
	}
	s.calls = binary.LittleEndian.Uint64(b)
	return nil
}

func (s *Bucketing) size() int {
	if s.S == 0 {
		return 2
	}
	return s.S
}

// Outputs returns ⌈n/S⌉.
func (s *Bucketing) Outputs(n int) int { b := s.size(); return (n + b - 1) / b }

// Validate reports an error if S < 0 or n < 1.
func (s *Bucketing) Validate(n int) error {
	if s.S < 0 {
		return fmt.Errorf("%w: Bucketing: S = %d", ErrParam, s.S)
	}
	if n < 1 {
		return tooFew("Bucketing", n, "n ≥ 1", 1)
	}
	return nil
}

// Reset restarts the permutations from Seed.
func (s *Bucketing) Reset() { s.calls = 0 }

// Apply returns the bucket means.
func (s *Bucketing) Apply(updates []fl.Update) ([]fl.Update, error) {
	n := len(updates)
	if err := s.Validate(n); err != nil {
		return nil, err
	}
	if s.rng == nil {
		s.rng = rand.New(&s.pcg)
	}
	s.pcg.Seed(s.Seed, s.calls)
	s.calls++
	s.perm = grow(s.perm, n)
	for i := range s.perm {
		s.perm[i] = i
	}
	s.rng.Shuffle(n, func(i, j int) { s.perm[i], s.perm[j] = s.perm[j], s.perm[i] })
	b := s.size()
	out := s.out.resize(s.Outputs(n), len(updates[0].Delta))
	for k := range out {
		members := s.perm[k*b : min((k+1)*b, n)]
		s.rj.mean(out[k].Delta, updates, members)
		var w float64
		for _, i := range members {
			w += updates[i].Weight
		}
		out[k].Weight = w
	}
	return out, nil
}
