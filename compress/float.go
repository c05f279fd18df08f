package compress

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Float64 is the identity codec ("none" or "float64" in [Parse]): the
// coordinates as little-endian IEEE 754 binary64. It is stateless and safe
// for concurrent use. MaxLen bounds the vector length (0 means
// [DefaultMaxLen]).
type Float64 struct{ MaxLen int }

// Float32 sends each coordinate as a little-endian IEEE 754 binary32,
// rounded to nearest even. A finite value that rounds beyond the float32
// range is rejected with [ErrOverflow]. It is stateless and safe for
// concurrent use.
type Float32 struct{ MaxLen int }

// Float16 sends each coordinate as a little-endian IEEE 754 binary16
// (1 sign, 5 exponent, 10 fraction bits), rounded to nearest even directly
// from float64 (no double rounding through float32), subnormals included.
// A value of magnitude 65520 or more, which rounds to infinity, is rejected
// with [ErrOverflow]. It is stateless and safe for concurrent use.
type Float16 struct{ MaxLen int }

// BFloat16 sends each coordinate as a little-endian bfloat16 (1 sign,
// 8 exponent, 7 fraction bits: the top half of a float32), rounded to
// nearest even directly from float64, subnormals included. A value that
// rounds beyond the largest finite bfloat16 is rejected with [ErrOverflow].
// It is stateless and safe for concurrent use.
type BFloat16 struct{ MaxLen int }

var (
	_ Codec = Float64{}
	_ Codec = Float32{}
	_ Codec = Float16{}
	_ Codec = BFloat16{}
)

// Name implements [Codec].
func (Float64) Name() string { return "float64" }

// MaxEncodedLen implements [Codec].
func (Float64) MaxEncodedLen(n int) int { return HeaderSize + 8*n }

// DecodedLen implements [Codec].
func (c Float64) DecodedLen(src []byte) (int, error) {
	n, _, err := checkHeader(src, IDFloat64, resolveMaxLen(c.MaxLen))
	return n, err
}

// Encode implements [Codec].
func (c Float64) Encode(dst []byte, v []float64) ([]byte, error) {
	if err := checkEncodeLen(len(v), resolveMaxLen(c.MaxLen)); err != nil {
		return dst, err
	}
	if err := checkFinite(v); err != nil {
		return dst, err
	}
	out := grow(dst, HeaderSize+8*len(v))
	out = appendHeader(out, IDFloat64, len(v))
	for _, x := range v {
		out = binary.LittleEndian.AppendUint64(out, math.Float64bits(x))
	}
	return out, nil
}

// Decode implements [Codec].
func (c Float64) Decode(dst []float64, src []byte) error {
	body, err := startDecode(dst, src, IDFloat64, resolveMaxLen(c.MaxLen))
	if err != nil {
		return err
	}
	if len(body) != 8*len(dst) {
		return fmt.Errorf("%w: float64 body of %d bytes for %d coordinates", ErrCorrupt, len(body), len(dst))
	}
	for i := range dst {
		x := math.Float64frombits(binary.LittleEndian.Uint64(body[8*i:]))
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: coordinate %d is %v", ErrCorrupt, i, x)
		}
		dst[i] = x
	}
	return nil
}

// Name implements [Codec].
func (Float32) Name() string { return "float32" }

// MaxEncodedLen implements [Codec].
func (Float32) MaxEncodedLen(n int) int { return HeaderSize + 4*n }

// DecodedLen implements [Codec].
func (c Float32) DecodedLen(src []byte) (int, error) {
	n, _, err := checkHeader(src, IDFloat32, resolveMaxLen(c.MaxLen))
	return n, err
}

// Encode implements [Codec].
func (c Float32) Encode(dst []byte, v []float64) ([]byte, error) {
	if err := checkEncodeLen(len(v), resolveMaxLen(c.MaxLen)); err != nil {
		return dst, err
	}
	out := grow(dst, HeaderSize+4*len(v))
	out = appendHeader(out, IDFloat32, len(v))
	body := out[len(out) : len(out)+4*len(v)]
	for i, x := range v {
		f := float32(x)
		if math.IsInf(float64(f), 0) || f != f {
			if math.IsInf(x, 0) || x != x {
				return dst, nonFinite(v, i)
			}
			return dst, fmt.Errorf("%w: v[%d] = %v beyond float32", ErrOverflow, i, x)
		}
		binary.LittleEndian.PutUint32(body[4*i:], math.Float32bits(f))
	}
	return out[:len(out)+4*len(v)], nil
}

// Decode implements [Codec].
func (c Float32) Decode(dst []float64, src []byte) error {
	body, err := startDecode(dst, src, IDFloat32, resolveMaxLen(c.MaxLen))
	if err != nil {
		return err
	}
	if len(body) != 4*len(dst) {
		return fmt.Errorf("%w: float32 body of %d bytes for %d coordinates", ErrCorrupt, len(body), len(dst))
	}
	for i := range dst {
		b := binary.LittleEndian.Uint32(body[4*i:])
		if b&0x7F800000 == 0x7F800000 {
			return fmt.Errorf("%w: coordinate %d is not finite", ErrCorrupt, i)
		}
		dst[i] = float64(math.Float32frombits(b))
	}
	return nil
}

// Name implements [Codec].
func (Float16) Name() string { return "float16" }

// MaxEncodedLen implements [Codec].
func (Float16) MaxEncodedLen(n int) int { return HeaderSize + 2*n }

// DecodedLen implements [Codec].
func (c Float16) DecodedLen(src []byte) (int, error) {
	n, _, err := checkHeader(src, IDFloat16, resolveMaxLen(c.MaxLen))
	return n, err
}

// Encode implements [Codec].
func (c Float16) Encode(dst []byte, v []float64) ([]byte, error) {
	return encodeHalf(dst, v, resolveMaxLen(c.MaxLen), IDFloat16, half16)
}

// Decode implements [Codec].
func (c Float16) Decode(dst []float64, src []byte) error {
	return decodeHalf(dst, src, resolveMaxLen(c.MaxLen), IDFloat16, half16)
}

// Name implements [Codec].
func (BFloat16) Name() string { return "bfloat16" }

// MaxEncodedLen implements [Codec].
func (BFloat16) MaxEncodedLen(n int) int { return HeaderSize + 2*n }

// DecodedLen implements [Codec].
func (c BFloat16) DecodedLen(src []byte) (int, error) {
	n, _, err := checkHeader(src, IDBFloat16, resolveMaxLen(c.MaxLen))
	return n, err
}

// Encode implements [Codec].
func (c BFloat16) Encode(dst []byte, v []float64) ([]byte, error) {
	return encodeHalf(dst, v, resolveMaxLen(c.MaxLen), IDBFloat16, bfloat16)
}

// Decode implements [Codec].
func (c BFloat16) Decode(dst []float64, src []byte) error {
	return decodeHalf(dst, src, resolveMaxLen(c.MaxLen), IDBFloat16, bfloat16)
}

// A halfFormat describes a 16-bit binary floating-point format with a
// sign bit, an expBits-bit exponent and a (15-expBits)-bit fraction.
type halfFormat struct {
	frac     uint    // fraction bits: 10 for binary16, 7 for bfloat16
	bias     uint64  // exponent bias: 15 or 127
	overflow uint64  // float64 bits of the smallest magnitude that rounds to infinity
	minNorm  uint64  // float64 bits of the smallest normal magnitude
	subMagic float64 // a power of two whose float64 ulp is the format's smallest subnormal
}

var (
	half16 = halfFormat{
		frac:     10,
		bias:     15,
		overflow: math.Float64bits(65520),   // 65504 + half an ulp (16)
		minNorm:  math.Float64bits(0x1p-14), // 2^(1-15)
		subMagic: 0x1p28,                    // ulp(2^28) = 2^-24
	}
	bfloat16 = halfFormat{
		frac:     7,
		bias:     127,
		overflow: math.Float64bits((2 - 0x1p-8) * 0x1p127), // largest + half an ulp
		minNorm:  math.Float64bits(0x1p-126),
		subMagic: 0x1p-81, // ulp(2^-81) = 2^-133
	}
)

// toHalf rounds the magnitude with float64 bits a (a finite value below
// f.overflow) to the format, to nearest even, and returns its 15 bits.
func (f *halfFormat) toHalf(a uint64) uint16 {
	if a < f.minNorm {
		// Subnormal (or zero): adding subMagic lets the FPU round to a
		// multiple of the smallest subnormal, nearest even; the low bits
		// of the sum are the subnormal's fraction (2^frac when it rounds
		// up to the smallest normal, which is that normal's encoding).
		s := math.Float64frombits(a) + f.subMagic
		return uint16(math.Float64bits(s) - math.Float64bits(f.subMagic))
	}
	shift := 52 - f.frac
	a -= (1023 - f.bias) << 52 // rebias the exponent
	a += (1<<(shift-1) - 1) + (a>>shift)&1
	return uint16(a >> shift)
}

// fromHalf returns the float64 value of the 16-bit pattern h and false when
// h is an infinity or a NaN.
func (f *halfFormat) fromHalf(h uint16) (float64, bool) {
	sign := uint64(h&0x8000) << 48
	e := uint64(h&0x7FFF) >> f.frac
	m := uint64(h) & (1<<f.frac - 1)
	switch {
	case e == 0x7FFF>>f.frac:
		return 0, false
	case e == 0:
		// m·2^(1-bias-frac), exact: subtract the magic from magic+m ulps.
		x := math.Float64frombits(math.Float64bits(f.subMagic)+m) - f.subMagic
		return math.Float64frombits(math.Float64bits(x) | sign), true
	}
	return math.Float64frombits(sign | (e+1023-f.bias)<<52 | m<<(52-f.frac)), true
}

func encodeHalf(dst []byte, v []float64, maxLen int, id CodecID, f halfFormat) ([]byte, error) {
	if err := checkEncodeLen(len(v), maxLen); err != nil {
		return dst, err
	}
	out := grow(dst, HeaderSize+2*len(v))
	out = appendHeader(out, id, len(v))
	body := out[len(out) : len(out)+2*len(v)]
	for i, x := range v {
		b := math.Float64bits(x)
		a := b &^ signBit64
		if a >= f.overflow {
			if a >= expMask64 {
				return dst, nonFinite(v, i)
			}
			return dst, fmt.Errorf("%w: v[%d] = %v beyond %v", ErrOverflow, i, x, id)
		}
		h := f.toHalf(a) | uint16(b>>48)&0x8000
		body[2*i] = byte(h)
		body[2*i+1] = byte(h >> 8)
	}
	return out[:len(out)+2*len(v)], nil
}

func decodeHalf(dst []float64, src []byte, maxLen int, id CodecID, f halfFormat) error {
	body, err := startDecode(dst, src, id, maxLen)
	if err != nil {
		return err
	}
	if len(body) != 2*len(dst) {
		return fmt.Errorf("%w: %v body of %d bytes for %d coordinates", ErrCorrupt, id, len(body), len(dst))
	}
	body = body[:2*len(dst)]
	for i := range dst {
		x, ok := f.fromHalf(uint16(body[2*i]) | uint16(body[2*i+1])<<8)
		if !ok {
			return fmt.Errorf("%w: coordinate %d is not finite", ErrCorrupt, i)
		}
		dst[i] = x
	}
	return nil
}
