package compress

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// Int8Config configures an [Int8] codec. Zero fields mean the default.
type Int8Config struct {
	// BlockSize is the number of consecutive coordinates that share one
	// scale. 0 means one scale for the whole vector.
	BlockSize int
	// Stochastic selects unbiased stochastic rounding: y = x/scale is
	// rounded up with probability y-⌊y⌋ and down otherwise, so that the
	// decoded value's expectation is x. When false, y is rounded to the
	// nearest integer (ties to even) and the error is at most scale/2.
	Stochastic bool
	// Rand is the random source of stochastic rounding; nil means
	// rand.NewPCG(0, 0). Give each client its own seed so that clients'
	// rounding noise is independent. Int8 keeps and advances it.
	Rand rand.Source
	// MaxLen bounds the vector length; 0 means [DefaultMaxLen].
	MaxLen int
}

// DefaultInt8Config returns the default: one scale per vector,
// deterministic rounding.
func DefaultInt8Config() Int8Config { return Int8Config{} }

// Validate reports whether the configuration is usable.
func (c Int8Config) Validate() error {
	if c.BlockSize < 0 || c.BlockSize > maxWireLen {
		return fmt.Errorf("%w: Int8Config.BlockSize = %d", ErrConfig, c.BlockSize)
	}
	if c.MaxLen < 0 {
		return fmt.Errorf("%w: Int8Config.MaxLen = %d", ErrConfig, c.MaxLen)
	}
	return nil
}

// Int8 is linear quantization to signed bytes with a float64 scale per
// block: scale = max|x|/127 over the block and q = round(x/scale) in
// [-127, 127]. With stochastic rounding it holds a random source and is not
// safe for concurrent use; deterministic Int8 is.
type Int8 struct {
	cfg    Int8Config
	maxLen int
	rng    rand.Source
}

var _ Codec = (*Int8)(nil)

// NewInt8 returns an Int8 codec for cfg.
func NewInt8(cfg Int8Config) (*Int8, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Int8{cfg: cfg, maxLen: resolveMaxLen(cfg.MaxLen), rng: cfg.Rand}
	if c.rng == nil && cfg.Stochastic {
		c.rng = rand.NewPCG(0, 0)
	}
	return c, nil
}

// Name implements [Codec].
func (c *Int8) Name() string {
	s := "int8"
	if c.cfg.BlockSize > 0 {
		s += "b" + strconv.Itoa(c.cfg.BlockSize)
	}
	if c.cfg.Stochastic {
		s += "s"
	}
	return s
}

// blockSize returns the block size used for a length-n vector.
func (c *Int8) blockSize(n int) int {
	if c.cfg.BlockSize > 0 {
		return c.cfg.BlockSize
	}
	return max(n, 1)
}

// MaxEncodedLen implements [Codec]. It bounds payloads of any block size.
func (c *Int8) MaxEncodedLen(n int) int { return HeaderSize + 4 + 8*n + n }

// DecodedLen implements [Codec].
func (c *Int8) DecodedLen(src []byte) (int, error) {
	n, _, err := checkHeader(src, IDInt8, c.maxLen)
	return n, err
}

// Encode implements [Codec].
func (c *Int8) Encode(dst []byte, v []float64) ([]byte, error) {
	if err := checkEncodeLen(len(v), c.maxLen); err != nil {
		return dst, err
	}
	n := len(v)
	bs := c.blockSize(n)
	nb := (n + bs - 1) / bs
	size := HeaderSize + 4 + 8*nb + n
	out := grow(dst, size)
	out = appendHeader(out, IDInt8, n)
	out = binary.LittleEndian.AppendUint32(out, uint32(bs))
	scales := out[len(out) : len(out)+8*nb]
	q := out[len(out)+8*nb : len(out)+8*nb+n]
	for b := range nb {
		lo, hi := b*bs, min(n, (b+1)*bs)
		blk := v[lo:hi]
		var ma uint64
		for _, x := range blk {
			ma = max(ma, math.Float64bits(x)&^signBit64)
		}
		if ma >= expMask64 {
			return dst, nonFinite(v, lo+finiteAt(blk))
		}
		scale := math.Float64frombits(ma) / 127
		for scale*127 > math.MaxFloat64 {
			// 127·scale must stay finite for the decoder.
			scale = math.Nextafter(scale, 0)
		}
		binary.LittleEndian.PutUint64(scales[8*b:], math.Float64bits(scale))
		inv := 0.0
		if scale > 0 {
			inv = 1 / scale
		}
		qb := q[lo:hi]
		if c.cfg.Stochastic {
			c.roundStochastic(qb, blk, inv)
			continue
		}
		for i, x := range blk {
			y := math.RoundToEven(x * inv)
			y = min(max(y, -127), 127)
			qb[i] = byte(int8(y))
		}
	}
	return out[:len(out)+8*nb+n], nil
}

func (c *Int8) roundStochastic(qb []byte, blk []float64, inv float64) {
	for i, x := range blk {
		y := x * inv
		f := math.Floor(y)
		if uniform(c.rng) < y-f {
			f++
		}
		f = min(max(f, -127), 127)
		qb[i] = byte(int8(f))
	}
}

// uniform returns a uniform float64 in [0, 1) from 53 bits of src.
func uniform(src rand.Source) float64 {
	return float64(src.Uint64()>>11) * 0x1p-53
}

// Decode implements [Codec].
func (c *Int8) Decode(dst []float64, src []byte) error {
	body, err := startDecode(dst, src, IDInt8, c.maxLen)
	if err != nil {
		return err
	}
	n := len(dst)
	if len(body) < 4 {
		return fmt.Errorf("%w: int8 payload truncated", ErrCorrupt)
	}
	bs := int(binary.LittleEndian.Uint32(body))
	if bs == 0 {
		return fmt.Errorf("%w: int8 block size 0", ErrCorrupt)
	}
	body = body[4:]
	nb := (n + bs - 1) / bs
	if len(body) != 8*nb+n {
		return fmt.Errorf("%w: int8 body of %d bytes, want %d", ErrCorrupt, len(body), 8*nb+n)
	}
	q := body[8*nb : 8*nb+n]
	for b := range nb {
		scale, err := readScale(body[8*b:], "int8 scale")
		if err != nil {
			return err
		}
		if scale*127 > math.MaxFloat64 {
			return fmt.Errorf("%w: int8 scale %v overflows", ErrCorrupt, scale)
		}
		lo, hi := b*bs, min(n, (b+1)*bs)
		for i, x := range q[lo:hi] {
			if x == 0x80 {
				return fmt.Errorf("%w: int8 value -128", ErrCorrupt)
			}
			dst[lo+i] = float64(int8(x)) * scale
		}
	}
	return nil
}
