package personal

import (
	"errors"
	"fmt"
	"slices"

	"github.com/fedgo/fedgo/fl/model"
)

// ErrMask is wrapped by the errors of a [Mask] that does not fit: ranges
// out of order, overlapping, empty or outside the vector, a vector of
// another length, a layer index out of range.
var ErrMask = errors.New("personal: invalid mask")

// Range is the half-open range [Lo, Hi) of coordinates of a flat parameter
// vector.
type Range struct{ Lo, Hi int }

// Mask splits a flat parameter vector of Dim values into personal
// coordinates (Personal: the layers that stay on the client, FedPer's
// personalization layers) and base coordinates (all the others, which the
// server averages). It works with any trainer, since it only names
// coordinates; [LayerMask] and [HeadMask] build one from the layers of a
// model.Sequential, [MLPHeadMask] from those of a model.MLP.
//
// The methods other than Validate panic if a vector's length does not
// fit the mask (programmer errors: the handlers check lengths first).
type Mask struct {
	// Dim is the length of the parameter vector.
	Dim int
	// Personal lists the personal coordinates as sorted, disjoint,
	// non-empty ranges inside [0, Dim).
	Personal []Range
}

// Validate reports an error wrapping [ErrMask] if Dim < 1 or the ranges
// are not sorted, disjoint, non-empty and inside [0, Dim). A mask with no
// personal coordinates, or only personal ones, is valid (plain FedAvg, or
// local training alone).
func (k Mask) Validate() error {
	if k.Dim < 1 {
		return fmt.Errorf("%w: Dim = %d, want ≥ 1", ErrMask, k.Dim)
	}
	prev := 0
	for i, r := range k.Personal {
		if r.Lo < prev || r.Hi <= r.Lo || r.Hi > k.Dim {
			return fmt.Errorf("%w: range %d is [%d, %d): want sorted, disjoint, non-empty ranges in [0, %d)", ErrMask, i, r.Lo, r.Hi, k.Dim)
		}
		prev = r.Hi
	}
	return nil
}

// PersonalLen returns the number of personal coordinates.
func (k Mask) PersonalLen() int {
	n := 0
	for _, r := range k.Personal {
		n += r.Hi - r.Lo
	}
	return n
}

// BaseLen returns the number of base coordinates, Dim − PersonalLen().
func (k Mask) BaseLen() int { return k.Dim - k.PersonalLen() }

// walk calls base(lo, hi) and personal(lo, hi) for the runs of base and
// personal coordinates in order, with off the offset of the run in its
// own compact vector.
func (k Mask) walk(base, personal func(lo, hi, off int)) {
	at, boff, poff := 0, 0, 0
	for _, r := range k.Personal {
		if r.Lo > at {
			base(at, r.Lo, boff)
			boff += r.Lo - at
		}
		personal(r.Lo, r.Hi, poff)
		poff += r.Hi - r.Lo
		at = r.Hi
	}
	if at < k.Dim {
		base(at, k.Dim, boff)
	}
}

func (k Mask) check(full []float64) {
	if len(full) != k.Dim {
		panic(fmt.Sprintf("personal: vector of %d values for a mask of Dim %d", len(full), k.Dim))
	}
}

// Base appends the base coordinates of full, in order, to dst and returns
// it. It panics if len(full) != Dim.
func (k Mask) Base(dst, full []float64) []float64 {
	k.check(full)
	k.walk(func(lo, hi, _ int) { dst = append(dst, full[lo:hi]...) }, func(int, int, int) {})
	return dst
}

// Head appends the personal coordinates of full, in order, to dst and
// returns it. It panics if len(full) != Dim.
func (k Mask) Head(dst, full []float64) []float64 {
	k.check(full)
	k.walk(func(int, int, int) {}, func(lo, hi, _ int) { dst = append(dst, full[lo:hi]...) })
	return dst
}

// SetBase writes base, the base coordinates in order, into full. It panics
// if len(full) != Dim or len(base) != BaseLen().
func (k Mask) SetBase(full, base []float64) {
	k.check(full)
	if len(base) != k.BaseLen() {
		panic(fmt.Sprintf("personal: %d base values for a mask with %d", len(base), k.BaseLen()))
	}
	k.walk(func(lo, hi, off int) { copy(full[lo:hi], base[off:]) }, func(int, int, int) {})
}

// SetHead writes head, the personal coordinates in order, into full. It
// panics if len(full) != Dim or len(head) != PersonalLen().
func (k Mask) SetHead(full, head []float64) {
	k.check(full)
	if len(head) != k.PersonalLen() {
		panic(fmt.Sprintf("personal: %d personal values for a mask with %d", len(head), k.PersonalLen()))
	}
	k.walk(func(int, int, int) {}, func(lo, hi, off int) { copy(full[lo:hi], head[off:]) })
}

// LayerMask returns the mask of m's parameter vector whose personal
// coordinates are the parameters of m.Layers[i] for each i of layers (a
// negative i counts from the end: -1 is the last layer). It returns an
// error wrapping [ErrMask] for an index out of range or repeated, or a
// layer without parameters, and the model's error if m is not valid.
func LayerMask(m model.Sequential, layers ...int) (Mask, error) {
	offs, err := layerOffsets(m)
	if err != nil {
		return Mask{}, err
	}
	nl := len(m.Layers)
	idx := make([]int, 0, len(layers))
	for _, i := range layers {
		j := i
		if j < 0 {
			j += nl
		}
		if j < 0 || j >= nl {
			return Mask{}, fmt.Errorf("%w: layer %d of %d", ErrMask, i, nl)
		}
		if offs[j+1] == offs[j] {
			return Mask{}, fmt.Errorf("%w: layer %d (%T) has no parameters", ErrMask, i, m.Layers[j])
		}
		if slices.Contains(idx, j) {
			return Mask{}, fmt.Errorf("%w: layer %d named twice", ErrMask, i)
		}
		idx = append(idx, j)
	}
	slices.Sort(idx)
	k := Mask{Dim: offs[nl]}
	for _, j := range idx {
		if n := len(k.Personal); n > 0 && k.Personal[n-1].Hi == offs[j] {
			k.Personal[n-1].Hi = offs[j+1] // adjacent layers: one range
			continue
		}
		k.Personal = append(k.Personal, Range{offs[j], offs[j+1]})
	}
	return k, nil
}

// HeadMask returns the mask whose personal coordinates are the parameters
// of the last n layers of m that have parameters: FedPer's K_P
// personalization layers (n = 1: the classifier; n = 2 for the
// paper's experiments with two personal layers).
func HeadMask(m model.Sequential, n int) (Mask, error) {
	offs, err := layerOffsets(m)
	if err != nil {
		return Mask{}, err
	}
	var layers []int
	for j := len(m.Layers) - 1; j >= 0 && len(layers) < n; j-- {
		if offs[j+1] > offs[j] {
			layers = append(layers, j)
		}
	}
	if n < 0 || len(layers) < n {
		return Mask{}, fmt.Errorf("%w: %d personal layers asked, the model has %d with parameters", ErrMask, n, len(layers))
	}
	return LayerMask(m, layers...)
}

// MLPHeadMask is [HeadMask] for a model.MLP: the personal coordinates are
// the parameters of its last n layers (n = 1: the output layer), in the
// MLP's layout (each layer's weights out×in, then its biases).
func MLPHeadMask(m model.MLP, n int) (Mask, error) {
	if err := m.Validate(); err != nil {
		return Mask{}, err
	}
	// The Sequential of the same dense layers has the same layout.
	seq := model.Sequential{Input: model.Shape{C: m.Dim, H: 1, W: 1}, Classes: m.Classes}
	for _, h := range m.Hidden {
		seq.Layers = append(seq.Layers, model.Dense{Units: h}, model.ReLU{})
	}
	seq.Layers = append(seq.Layers, model.Dense{Units: m.Classes})
	k, err := HeadMask(seq, n)
	if err == nil && k.Dim != m.NumParams() {
		return Mask{}, fmt.Errorf("%w: the MLP has %d parameters, its layers %d", ErrMask, m.NumParams(), k.Dim)
	}
	return k, err
}

// layerOffsets returns the offset of each layer's parameters in m's
// vector, and the total as the last element.
func layerOffsets(m model.Sequential) ([]int, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	offs := make([]int, len(m.Layers)+1)
	s := m.Input
	for i, l := range m.Layers {
		offs[i+1] = offs[i] + l.NumParams(s)
		out, err := l.OutShape(s)
		if err != nil {
			return nil, err
		}
		s = out
	}
	return offs, nil
}
