package compress

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
)

// RandKConfig configures a [RandK] codec. Set at most one of K and
// Fraction; if both are zero, Fraction is [DefaultTopKFraction].
type RandKConfig struct {
	// K is the number of coordinates kept (at most the vector length).
	K int
	// Fraction in (0, 1] keeps k = max(1, round(Fraction·d)) coordinates.
	Fraction float64
	// Unbiased scales the kept values by d/k so that the decoded vector's
	// expectation is v. The default (false) sends them unscaled: a biased
	// but contractive compressor, E‖C(v)−v‖² = (1−k/d)‖v‖², which is what
	// error feedback wants (Stich et al. 2018); Parse's "randk…" uses the
	// default with or without "+ef". Set it when not using error feedback.
	Unbiased bool
	// Rand supplies each payload's 64-bit index seed; nil means
	// rand.NewPCG(0, 0). Give each client its own seed.
	Rand rand.Source
	// MaxLen bounds the vector length; 0 means [DefaultMaxLen].
	MaxLen int
}

// DefaultRandKConfig returns the default: keep 1%, unscaled.
func DefaultRandKConfig() RandKConfig { return RandKConfig{Fraction: DefaultTopKFraction} }

// Validate reports whether the configuration is usable.
func (c RandKConfig) Validate() error {
	err := TopKConfig{K: c.K, Fraction: c.Fraction, MaxLen: c.MaxLen}.Validate()
	if err != nil {
		return fmt.Errorf("%w (RandKConfig)", err)
	}
	return nil
}

// RandK keeps k coordinates chosen uniformly at random without replacement.
// The indices are not sent: the payload carries a 64-bit seed from which
// the decoder regenerates them (Robert Floyd's sampling algorithm over a
// PCG stream, see the package documentation). Values are sent as float32.
// RandK holds a random source and scratch and is not safe for concurrent
// use.
type RandK struct {
	k        int
	frac     float64
	unbiased bool
	maxLen   int
	rng      rand.Source
	pcg      rand.PCG
	set      []uint64
	idx      []uint32
}

var _ Codec = (*RandK)(nil)

// NewRandK returns a RandK codec for cfg.
func NewRandK(cfg RandKConfig) (*RandK, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.K == 0 && cfg.Fraction == 0 {
		cfg.Fraction = DefaultTopKFraction
	}
	c := &RandK{k: cfg.K, frac: cfg.Fraction, unbiased: cfg.Unbiased, maxLen: resolveMaxLen(cfg.MaxLen), rng: cfg.Rand}
	if c.rng == nil {
		c.rng = rand.NewPCG(0, 0)
	}
	return c, nil
}

// Name implements [Codec].
func (c *RandK) Name() string {
	s := fracName("randk", c.k, c.frac)
	if c.unbiased {
		s += "u"
	}
	return s
}

// K returns the number of coordinates kept of a length-n vector.
func (c *RandK) K(n int) int { return kFor(c.k, c.frac, n) }

// MaxEncodedLen implements [Codec]. It bounds payloads of any k.
func (c *RandK) MaxEncodedLen(n int) int { return HeaderSize + 8 + binary.MaxVarintLen32 + 4*n }

// DecodedLen implements [Codec].
func (c *RandK) DecodedLen(src []byte) (int, error) {
	n, _, err := checkHeader(src, IDRandK, c.maxLen)
	return n, err
}

// randKStream is the PCG stream of rand-k index generation; part of the
// wire format.
const randKStream = 0x72616e646b // "randk"

// indices regenerates the k indices of seed for a length-n vector, in
// increasing order, in c's scratch: Floyd's algorithm (Bentley & Floyd
// 1987) draws, for j = n−k … n−1, t uniform in [0, j] as the high 64 bits
// of PCG(seed, randKStream).Uint64()·(j+1), and adds j if t is already
// chosen and t otherwise.
func (c *RandK) indices(seed uint64, n, k int) []uint32 {
	words := (n + 63) / 64
	if cap(c.set) < words {
		c.set = make([]uint64, words)
	}
	set := c.set[:words]
	clear(set)
	c.pcg.Seed(seed, randKStream)
	for j := n - k; j < n; j++ {
		t, _ := bits.Mul64(c.pcg.Uint64(), uint64(j+1))
		if set[t>>6]&(1<<(t&63)) != 0 {
			t = uint64(j)
		}
		set[t>>6] |= 1 << (t & 63)
	}
	c.idx = c.idx[:0]
	for w, word := range set {
		for word != 0 {
			c.idx = append(c.idx, uint32(64*w+bits.TrailingZeros64(word)))
			word &= word - 1
		}
	}
	return c.idx
}

// Encode implements [Codec].
func (c *RandK) Encode(dst []byte, v []float64) ([]byte, error) {
	if err := checkEncodeLen(len(v), c.maxLen); err != nil {
		return dst, err
	}
	if err := checkFinite(v); err != nil {
		return dst, err
	}
	n := len(v)
	k := c.K(n)
	seed := c.rng.Uint64()
	idx := c.indices(seed, n, k)
	out := grow(dst, HeaderSize+8+binary.MaxVarintLen32+4*k)
	out = appendHeader(out, IDRandK, n)
	out = binary.LittleEndian.AppendUint64(out, seed)
	out = binary.AppendUvarint(out, uint64(k))
	if !c.unbiased || k == 0 {
		return appendFloat32s(dst, out, v, idx)
	}
	scale := float64(n) / float64(k)
	body := out[len(out) : len(out)+4*k]
	for j, i := range idx {
		f := float32(v[i] * scale)
		if math.IsInf(float64(f), 0) {
			return dst, fmt.Errorf("%w: v[%d]·d/k = %v beyond float32", ErrOverflow, i, v[i]*scale)
		}
		binary.LittleEndian.PutUint32(body[4*j:], math.Float32bits(f))
	}
	return out[:len(out)+4*k], nil
}

// Decode implements [Codec]. On error, dst's contents are unspecified.
func (c *RandK) Decode(dst []float64, src []byte) error {
	body, err := startDecode(dst, src, IDRandK, c.maxLen)
	if err != nil {
		return err
	}
	n := len(dst)
	if len(body) < 8 {
		return fmt.Errorf("%w: randk payload truncated", ErrCorrupt)
	}
	seed := binary.LittleEndian.Uint64(body)
	k64, body, err := uvarint(body[8:], uint64(n), "randk k")
	if err != nil {
		return err
	}
	k := int(k64)
	if len(body) != 4*k {
		return fmt.Errorf("%w: randk has %d value bytes for k = %d", ErrCorrupt, len(body), k)
	}
	clear(dst)
	if k == 0 {
		return nil
	}
	for j, i := range c.indices(seed, n, k) {
		x, err := float32At(body, j)
		if err != nil {
			return err
		}
		dst[i] = x
	}
	return nil
}
