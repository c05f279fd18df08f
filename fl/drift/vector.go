package drift

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrPayload is wrapped by the errors of a malformed vector payload: a
// length that is not the model's, a truncated or overlong encoding, a NaN
// or Inf.
var ErrPayload = errors.New("drift: malformed vector payload")

// appendVector appends the encoding of v to dst: a little-endian uint32
// count, then each value as a little-endian IEEE 754 float64.
func appendVector(dst []byte, v []float64) []byte {
	n := len(dst)
	dst = slices.Grow(dst, 4+8*len(v))[:n+4+8*len(v)]
	binary.LittleEndian.PutUint32(dst[n:], uint32(len(v)))
	b := dst[n+4:]
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return dst
}

// decodeVector decodes a vector of exactly dim finite values from b into
// dst (grown as needed) and returns it. It checks the count against dim and
// the byte length before it allocates.
func decodeVector(dst []float64, b []byte, dim int) ([]float64, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: %d bytes, want at least 4", ErrPayload, len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(n) != uint64(dim) {
		return nil, fmt.Errorf("%w: %d values, want %d", ErrPayload, n, dim)
	}
	if uint64(len(b)-4) != 8*uint64(n) {
		return nil, fmt.Errorf("%w: %d bytes for %d values", ErrPayload, len(b)-4, n)
	}
	if cap(dst) < dim {
		dst = make([]float64, dim)
	}
	dst = dst[:dim]
	for i := range dst {
		x := math.Float64frombits(binary.LittleEndian.Uint64(b[4+8*i:]))
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%w: value %d is %v", ErrPayload, i, x)
		}
		dst[i] = x
	}
	return dst, nil
}

// checkFinite returns an error wrapping ErrPayload naming the first NaN
// or Inf of v, what naming v.
func checkFinite(what string, v []float64) error {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: %s[%d] is %v", ErrPayload, what, i, x)
		}
	}
	return nil
}
