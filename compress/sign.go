package compress

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Sign is 1-bit compression with a scale, as in signSGD with error feedback
// (EF-signSGD, Karimireddy et al. 2019, Algorithm 1): C(v) = (‖v‖₁/d)·sgn(v),
// one bit per coordinate: the float64 sign bit, so +0 decodes to +‖v‖₁/d and
// −0 to −‖v‖₁/d. It is stateless and safe for
// concurrent use. Wrap it in an [ErrorFeedback] for EF-signSGD.
type Sign struct{ MaxLen int }

var _ Codec = Sign{}

// Name implements [Codec].
func (Sign) Name() string { return "sign" }

// MaxEncodedLen implements [Codec].
func (Sign) MaxEncodedLen(n int) int { return HeaderSize + 8 + (n+7)/8 }

// DecodedLen implements [Codec].
func (c Sign) DecodedLen(src []byte) (int, error) {
	n, _, err := checkHeader(src, IDSign, resolveMaxLen(c.MaxLen))
	return n, err
}

// Encode implements [Codec].
func (c Sign) Encode(dst []byte, v []float64) ([]byte, error) {
	if err := checkEncodeLen(len(v), resolveMaxLen(c.MaxLen)); err != nil {
		return dst, err
	}
	var l1 float64
	var ma uint64
	for _, x := range v {
		a := math.Float64bits(x) &^ signBit64
		ma = max(ma, a)
		l1 += math.Float64frombits(a)
	}
	if ma >= expMask64 {
		return dst, nonFinite(v, finiteAt(v))
	}
	scale := 0.0
	if len(v) > 0 {
		scale = l1 / float64(len(v))
		if math.IsInf(l1, 0) {
			inv := 1 / float64(len(v))
			l1 = 0
			for _, x := range v {
				l1 += math.Abs(x) * inv
			}
			scale = l1
		}
	}
	nbytes := (len(v) + 7) / 8
	out := grow(dst, HeaderSize+8+nbytes)
	out = appendHeader(out, IDSign, len(v))
	out = binary.LittleEndian.AppendUint64(out, math.Float64bits(scale))
	body := out[len(out) : len(out)+nbytes]
	full := len(v) / 8
	for j := range full {
		blk := v[8*j : 8*j+8]
		var b uint64
		for i, x := range blk {
			b |= (math.Float64bits(x) >> 63) << i
		}
		body[j] = byte(b)
	}
	if rest := v[8*full:]; len(rest) > 0 {
		var b uint64
		for i, x := range rest {
			b |= (math.Float64bits(x) >> 63) << i
		}
		body[full] = byte(b)
	}
	return out[:len(out)+nbytes], nil
}

// Decode implements [Codec].
func (c Sign) Decode(dst []float64, src []byte) error {
	body, err := startDecode(dst, src, IDSign, resolveMaxLen(c.MaxLen))
	if err != nil {
		return err
	}
	nbytes := (len(dst) + 7) / 8
	if len(body) != 8+nbytes {
		return fmt.Errorf("%w: sign body of %d bytes for %d coordinates", ErrCorrupt, len(body), len(dst))
	}
	scale, err := readScale(body, "sign scale")
	if err != nil {
		return err
	}
	body = body[8:]
	if r := len(dst) % 8; r != 0 && body[nbytes-1]>>r != 0 {
		return fmt.Errorf("%w: sign padding bits not zero", ErrCorrupt)
	}
	sb := math.Float64bits(scale)
	for i := range dst {
		// Branch-free: the payload bit becomes the float64 sign bit.
		dst[i] = math.Float64frombits(sb | uint64(body[i>>3]>>(i&7)&1)<<63)
	}
	return nil
}
