package compress

import (
	"fmt"
)

// ErrorFeedback wraps a lossy codec with a per-client residual memory
// (error feedback, EF: Stich et al. 2018, "Sparsified SGD with Memory";
// Karimireddy et al. 2019, "Error Feedback Fixes SignSGD", Algorithm 1).
// Each Encode compresses p = v + e instead of v and keeps what the
// compression lost, e ← p − decode(encode(p)). Over T calls,
// Σ decode(payload_t) + e_T = Σ v_t, so nothing is lost, only delayed.
//
// The payload is the wrapped codec's own: Decode, DecodedLen and
// MaxEncodedLen are the wrapped codec's, and a server can decode with an
// unwrapped codec of the same kind. The residual has the length of the
// first vector encoded; a vector of another length is rejected with
// [ErrLength] until Reset. ErrorFeedback is per client and not safe for
// concurrent use.
type ErrorFeedback struct {
	c     Codec
	e, p  []float64
	q     []float64
	valid bool
}

var _ Codec = (*ErrorFeedback)(nil)

// NewErrorFeedback returns error feedback around c, with a zero residual.
// c must not be shared with another user while the ErrorFeedback is in use.
func NewErrorFeedback(c Codec) *ErrorFeedback { return &ErrorFeedback{c: c} }

// Name implements [Codec]: the wrapped codec's name followed by "+ef".
func (f *ErrorFeedback) Name() string { return f.c.Name() + "+ef" }

// Codec returns the wrapped codec.
func (f *ErrorFeedback) Codec() Codec { return f.c }

// Reset forgets the residual and its length.
func (f *ErrorFeedback) Reset() {
	clear(f.e)
	f.e = f.e[:0]
	f.valid = false
}

// Residual returns the current residual e (nil before the first Encode).
// The slice is the ErrorFeedback's own; do not modify it.
func (f *ErrorFeedback) Residual() []float64 {
	if !f.valid {
		return nil
	}
	return f.e
}

// MaxEncodedLen implements [Codec].
func (f *ErrorFeedback) MaxEncodedLen(n int) int { return f.c.MaxEncodedLen(n) }

// DecodedLen implements [Codec].
func (f *ErrorFeedback) DecodedLen(src []byte) (int, error) { return f.c.DecodedLen(src) }

// Decode implements [Codec]; it does not touch the residual.
func (f *ErrorFeedback) Decode(dst []float64, src []byte) error { return f.c.Decode(dst, src) }

// Encode implements [Codec]. It compresses v plus the residual and updates
// the residual; on error the residual is unchanged.
func (f *ErrorFeedback) Encode(dst []byte, v []float64) ([]byte, error) {
	n := len(v)
	if f.valid && n != len(f.e) {
		return dst, fmt.Errorf("%w: error feedback residual has length %d, vector %d (Reset first)", ErrLength, len(f.e), n)
	}
	if err := checkFinite(v); err != nil {
		return dst, err
	}
	if !f.valid {
		f.e = resize(f.e, n)
		clear(f.e)
	}
	f.p = resize(f.p, n)
	f.q = resize(f.q, n)
	for i, x := range v {
		f.p[i] = x + f.e[i]
	}
	out, err := f.c.Encode(dst, f.p)
	if err != nil {
		return dst, err
	}
	if err := f.c.Decode(f.q, out[len(dst):]); err != nil {
		return dst, fmt.Errorf("compress: error feedback cannot decode its own payload: %w", err)
	}
	for i, p := range f.p {
		f.e[i] = p - f.q[i]
	}
	f.valid = true
	return out, nil
}

// resize returns s with length n, reusing its storage when it can.
func resize(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}
