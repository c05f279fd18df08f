package compress

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// DefaultTopKFraction is the fraction of coordinates top-k keeps when
// neither TopKConfig.K nor TopKConfig.Fraction is set.
const DefaultTopKFraction = 0.01

// TopKConfig configures a [TopK] codec. Set at most one of K and Fraction;
// if both are zero, Fraction is [DefaultTopKFraction].
type TopKConfig struct {
	// K is the number of coordinates kept (at most the vector length).
	K int
	// Fraction in (0, 1] keeps k = max(1, round(Fraction·d)) coordinates
	// of a length-d vector.
	Fraction float64
	// MaxLen bounds the vector length; 0 means [DefaultMaxLen].
	MaxLen int
}

// DefaultTopKConfig returns the default: keep 1% of the coordinates.
func DefaultTopKConfig() TopKConfig { return TopKConfig{Fraction: DefaultTopKFraction} }

// Validate reports whether the configuration is usable.
func (c TopKConfig) Validate() error {
	if c.K < 0 || c.K > maxWireLen {
		return fmt.Errorf("%w: TopKConfig.K = %d", ErrConfig, c.K)
	}
	if !(c.Fraction >= 0 && c.Fraction <= 1) {
		return fmt.Errorf("%w: TopKConfig.Fraction = %v, want (0, 1]", ErrConfig, c.Fraction)
	}
	if c.K > 0 && c.Fraction > 0 {
		return fmt.Errorf("%w: TopKConfig sets both K and Fraction", ErrConfig)
	}
	if c.MaxLen < 0 {
		return fmt.Errorf("%w: TopKConfig.MaxLen = %d", ErrConfig, c.MaxLen)
	}
	return nil
}

// kFor returns the number of coordinates kept of a length-n vector.
func kFor(k int, frac float64, n int) int {
	if n == 0 {
		return 0
	}
	if k > 0 {
		return min(k, n)
	}
	return min(n, max(1, int(math.Round(frac*float64(n)))))
}

// fracName formats a fraction as a percentage for Name.
func fracName(prefix string, k int, frac float64) string {
	if k > 0 {
		return prefix + strconv.Itoa(k)
	}
	return prefix + strconv.FormatFloat(100*frac, 'g', -1, 64) + "%"
}

// TopK keeps the k coordinates of largest magnitude (ties broken by the
// lowest index) and sends their indices, delta-coded as uvarints, and their
// values as float32. It is biased; use it with [ErrorFeedback] (Stich et
// al. 2018). It keeps scratch buffers and is not safe for concurrent use.
type TopK struct {
	k      int
	frac   float64
	maxLen int
	sel    topKSelector
}

var _ Codec = (*TopK)(nil)

// NewTopK returns a TopK codec for cfg.
func NewTopK(cfg TopKConfig) (*TopK, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.K == 0 && cfg.Fraction == 0 {
		cfg.Fraction = DefaultTopKFraction
	}
	return &TopK{k: cfg.K, frac: cfg.Fraction, maxLen: resolveMaxLen(cfg.MaxLen)}, nil
}

// Name implements [Codec].
func (c *TopK) Name() string { return fracName("topk", c.k, c.frac) }

// K returns the number of coordinates kept of a length-n vector.
func (c *TopK) K(n int) int { return kFor(c.k, c.frac, n) }

// MaxEncodedLen implements [Codec]. It bounds payloads of any k.
func (c *TopK) MaxEncodedLen(n int) int { return HeaderSize + binary.MaxVarintLen32 + 9*n }

// DecodedLen implements [Codec].
func (c *TopK) DecodedLen(src []byte) (int, error) {
	n, _, err := checkHeader(src, IDTopK, c.maxLen)
	return n, err
}

// Encode implements [Codec].
func (c *TopK) Encode(dst []byte, v []float64) ([]byte, error) {
	if err := checkEncodeLen(len(v), c.maxLen); err != nil {
		return dst, err
	}
	k := c.K(len(v))
	sel, bad := c.sel.selectTopK(v, k)
	if bad >= 0 {
		return dst, nonFinite(v, bad)
	}
	out := grow(dst, HeaderSize+binary.MaxVarintLen32+9*k)
	out = appendHeader(out, IDTopK, len(v))
	out = binary.AppendUvarint(out, uint64(k))
	prev := -1
	for _, i := range sel {
		out = binary.AppendUvarint(out, uint64(int(i)-prev-1))
		prev = int(i)
	}
	return appendFloat32s(dst, out, v, sel)
}

// appendFloat32s appends v[i] as float32 for i in idx; on overflow it
// returns orig and an error.
func appendFloat32s(orig, out []byte, v []float64, idx []uint32) ([]byte, error) {
	body := out[len(out) : len(out)+4*len(idx)]
	for j, i := range idx {
		f := float32(v[i])
		if math.IsInf(float64(f), 0) {
			return orig, fmt.Errorf("%w: v[%d] = %v beyond float32", ErrOverflow, i, v[i])
		}
		binary.LittleEndian.PutUint32(body[4*j:], math.Float32bits(f))
	}
	return out[:len(out)+4*len(idx)], nil
}

// Decode implements [Codec]. On error, dst's contents are unspecified.
func (c *TopK) Decode(dst []float64, src []byte) error {
	body, err := startDecode(dst, src, IDTopK, c.maxLen)
	if err != nil {
		return err
	}
	n := len(dst)
	k64, body, err := uvarint(body, uint64(n), "topk k")
	if err != nil {
		return err
	}
	k := int(k64)
	// First pass: validate the indices and find where the values start.
	gaps := body
	prev := -1
	for range k {
		var g uint64
		g, body, err = uvarint(body, uint64(n), "topk index gap")
		if err != nil {
			return err
		}
		prev += int(g) + 1
		if prev >= n {
			return fmt.Errorf("%w: topk index %d beyond length %d", ErrCorrupt, prev, n)
		}
	}
	if len(body) != 4*k {
		return fmt.Errorf("%w: topk has %d value bytes for k = %d", ErrCorrupt, len(body), k)
	}
	clear(dst)
	prev = -1
	for j := range k {
		g, m := binary.Uvarint(gaps)
		gaps = gaps[m:]
		prev += int(g) + 1
		x, err := float32At(body, j)
		if err != nil {
			return err
		}
		dst[prev] = x
	}
	return nil
}

// float32At reads the j-th little-endian float32 of b, rejecting NaN and
// infinities.
func float32At(b []byte, j int) (float64, error) {
	u := binary.LittleEndian.Uint32(b[4*j:])
	if u&0x7F800000 == 0x7F800000 {
		return 0, fmt.Errorf("%w: value %d is not finite", ErrCorrupt, j)
	}
	return float64(math.Float32frombits(u)), nil
}
