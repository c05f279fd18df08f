package compress

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
)

// DefaultQSGDLevels is the number of levels s used when QSGDConfig.S is 0:
// 15, so that a coordinate's signed level s+sign·l in [0, 2s] fits 5 bits.
const DefaultQSGDLevels = 15

// MaxQSGDLevels is the largest accepted number of levels.
const MaxQSGDLevels = 1 << 20

// QSGDConfig configures a [QSGD] codec. Zero fields mean the default.
type QSGDConfig struct {
	// S is the number of quantization levels s >= 1 (0 means
	// [DefaultQSGDLevels]).
	S int
	// Rand is the random source of the stochastic rounding; nil means
	// rand.NewPCG(0, 0). Give each client its own seed.
	Rand rand.Source
	// MaxLen bounds the vector length; 0 means [DefaultMaxLen].
	MaxLen int
}

// DefaultQSGDConfig returns the default configuration.
func DefaultQSGDConfig() QSGDConfig { return QSGDConfig{S: DefaultQSGDLevels} }

// Validate reports whether the configuration is usable.
func (c QSGDConfig) Validate() error {
	if c.S < 0 || c.S > MaxQSGDLevels {
		return fmt.Errorf("%w: QSGDConfig.S = %d, want 1..%d", ErrConfig, c.S, MaxQSGDLevels)
	}
	if c.MaxLen < 0 {
		return fmt.Errorf("%w: QSGDConfig.MaxLen = %d", ErrConfig, c.MaxLen)
	}
	return nil
}

// QSGD is the stochastic quantizer of Alistarh et al. (2017), eq. (1) of
// Section 3.1: Q_s(v)_i = ‖v‖₂·sgn(v_i)·ξ_i(v, s), where with
// l = ⌊s|v_i|/‖v‖₂⌋, ξ_i = (l+1)/s with probability s|v_i|/‖v‖₂ − l and l/s
// otherwise. It is unbiased (E Q(v) = v) and its variance obeys Lemma 3.1:
// E‖Q(v) − v‖² ≤ min(d/s², √d/s)·‖v‖². Levels are packed at fixed width
// (not Elias-coded). QSGD holds a random source and is not safe for
// concurrent use.
type QSGD struct {
	s      int
	maxLen int
	rng    rand.Source
}

var _ Codec = (*QSGD)(nil)

// NewQSGD returns a QSGD codec for cfg.
func NewQSGD(cfg QSGDConfig) (*QSGD, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &QSGD{s: cfg.S, maxLen: resolveMaxLen(cfg.MaxLen), rng: cfg.Rand}
	if c.s == 0 {
		c.s = DefaultQSGDLevels
	}
	if c.rng == nil {
		c.rng = rand.NewPCG(0, 0)
	}
	return c, nil
}

// Name implements [Codec].
func (c *QSGD) Name() string { return "qsgd" + strconv.Itoa(c.s) }

// qsgdWidth is the number of bits of a signed level for s levels.
func qsgdWidth(s int) uint { return uint(bits.Len(uint(2 * s))) }

// MaxEncodedLen implements [Codec]. It bounds payloads of any s.
func (c *QSGD) MaxEncodedLen(n int) int {
	return HeaderSize + 12 + (n*int(qsgdWidth(MaxQSGDLevels))+7)/8
}

// DecodedLen implements [Codec].
func (c *QSGD) DecodedLen(src []byte) (int, error) {
	n, _, err := checkHeader(src, IDQSGD, c.maxLen)
	return n, err
}

// norm2 returns ‖v‖₂ without overflow or underflow, given the largest
// magnitude m of v.
func norm2(v []float64, m float64) float64 {
	if m == 0 {
		return 0
	}
	if m > 0x1p-500 && m < 0x1p500 {
		var ss float64
		for _, x := range v {
			ss += x * x
		}
		return math.Sqrt(ss)
	}
	inv := 1 / m
	var ss float64
	for _, x := range v {
		y := x * inv
		ss += y * y
	}
	return m * math.Sqrt(ss)
}

// Encode implements [Codec].
func (c *QSGD) Encode(dst []byte, v []float64) ([]byte, error) {
	if err := checkEncodeLen(len(v), c.maxLen); err != nil {
		return dst, err
	}
	var ma uint64
	for _, x := range v {
		ma = max(ma, math.Float64bits(x)&^signBit64)
	}
	if ma >= expMask64 {
		return dst, nonFinite(v, finiteAt(v))
	}
	norm := norm2(v, math.Float64frombits(ma))
	if math.IsInf(norm, 0) {
		return dst, fmt.Errorf("%w: ‖v‖₂ beyond float64", ErrOverflow)
	}
	w := qsgdWidth(c.s)
	nbytes := (len(v)*int(w) + 7) / 8
	out := grow(dst, HeaderSize+12+nbytes)
	out = appendHeader(out, IDQSGD, len(v))
	out = binary.LittleEndian.AppendUint32(out, uint32(c.s))
	out = binary.LittleEndian.AppendUint64(out, math.Float64bits(norm))
	bw := bitWriter{out: out[len(out) : len(out)+nbytes]}
	s := uint64(c.s)
	k := 0.0
	if norm > 0 {
		k = float64(c.s) / norm
	}
	for _, x := range v {
		r := math.Abs(x) * k
		l := math.Floor(r)
		if uniform(c.rng) < r-l {
			l++
		}
		lv := min(uint64(l), s)
		code := s + lv
		if x < 0 {
			code = s - lv
		}
		bw.write(code, w)
	}
	bw.flush()
	return out[:len(out)+nbytes], nil
}

// Decode implements [Codec].
func (c *QSGD) Decode(dst []float64, src []byte) error {
	body, err := startDecode(dst, src, IDQSGD, c.maxLen)
	if err != nil {
		return err
	}
	if len(body) < 12 {
		return fmt.Errorf("%w: qsgd payload truncated", ErrCorrupt)
	}
	s := int(binary.LittleEndian.Uint32(body))
	if s < 1 || s > MaxQSGDLevels {
		return fmt.Errorf("%w: qsgd s = %d", ErrCorrupt, s)
	}
	norm, err := readScale(body[4:], "qsgd norm")
	if err != nil {
		return err
	}
	body = body[12:]
	w := qsgdWidth(s)
	if len(body) != (len(dst)*int(w)+7)/8 {
		return fmt.Errorf("%w: qsgd body of %d bytes for %d coordinates", ErrCorrupt, len(body), len(dst))
	}
	unit := norm / float64(s)
	br := bitReader{in: body}
	su := uint64(s)
	for i := range dst {
		code := br.read(w)
		if code > 2*su {
			return fmt.Errorf("%w: qsgd level %d beyond 2s = %d", ErrCorrupt, code, 2*s)
		}
		dst[i] = float64(int64(code)-int64(s)) * unit
	}
	if !br.padZero() {
		return fmt.Errorf("%w: qsgd padding bits not zero", ErrCorrupt)
	}
	return nil
}
