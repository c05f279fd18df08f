package hier

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/fedgo/fedgo/fl"
)

// FracBits is the number of fractional bits of the fixed-point sum: every
// term wᵢ·Δᵢⱼ (a float64 product) is rounded to a multiple of 2⁻⁶⁴.
const FracBits = 64

// Bounds of the fixed-point sum. A term's magnitude is below 2^termBits
// units of 2^-FracBits, that is |wᵢ·Δᵢⱼ| < 2³⁶ and wᵢ < 2³⁶, and a sum
// holds at most MaxTerms terms, so every partial sum stays below 2¹²⁶ in
// magnitude and the 128-bit two's-complement additions never overflow.
const (
	termBits = 100
	// MaxTerms bounds the client updates one aggregate may hold.
	MaxTerms = 1 << 26
)

// MaxTerm is the largest magnitude of a weighted coordinate wᵢ·Δᵢⱼ, and of
// a weight wᵢ, that the exact sum accepts.
const MaxTerm = 0x1p36 // 2^(termBits-FracBits)

// Errors of package hier.
var (
	// ErrRange is wrapped by the error for an update whose weight or
	// weighted coordinate is outside the fixed-point range (|w·Δ| or w at
	// least MaxTerm, or a weight below 2⁻⁶⁵ that rounds to 0).
	ErrRange = errors.New("hier: value outside the fixed-point range of the exact sum")
	// ErrPartial is wrapped by every error for a partial sum (an edge's
	// reply) that is malformed, of the wrong dimension, or out of bounds.
	ErrPartial = errors.New("hier: malformed partial sum")
)

// i128 is a two's-complement 128-bit integer.
type i128 struct{ lo, hi uint64 }

func (a i128) add(b i128) i128 {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	hi, _ := bits.Add64(a.hi, b.hi, c)
	return i128{lo, hi}
}

func (a i128) neg() i128 {
	lo, c := bits.Add64(^a.lo, 1, 0)
	hi, _ := bits.Add64(^a.hi, 0, c)
	return i128{lo, hi}
}

func (a i128) negative() bool { return int64(a.hi) < 0 }

// abs returns |a| (a must not be -2¹²⁷).
func (a i128) abs() i128 {
	if a.negative() {
		return a.neg()
	}
	return a
}

// less reports a < b for non-negative a, b.
func (a i128) less(b i128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

// quantize returns round(x·2^FracBits) (ties to even), or false when x is
// not finite or its magnitude is not below MaxTerm.
func quantize(x float64) (i128, bool) {
	y := x * 0x1p64 // exact: a power of two, and no overflow below MaxTerm
	b := math.Float64bits(y)
	a := math.Float64frombits(b &^ (1 << 63))
	if !(a < 0x1p100) {
		return i128{}, false
	}
	return toFixed(a, uint64(int64(b)>>63)), true
}

// term returns q(w·x), or false when |w·x| is not below MaxTerm (or NaN).
func term(w, x float64) (i128, bool) {
	b := math.Float64bits(float64(w * x)) // the conversion forbids fusing
	a := math.Float64frombits(b &^ (1 << 63))
	if !(a < MaxTerm) {
		return i128{}, false
	}
	return toFixed(a*0x1p64, uint64(int64(b)>>63)), true
}

// toFixed returns the 128-bit two's complement of ±round(a) for
// 0 ≤ a < 2¹⁰⁰ (ties to even), negated when neg is all ones (0: not).
func toFixed(a float64, neg uint64) i128 {
	var lo, hi uint64
	if a < 0x1p52 {
		// Adding and subtracting 2⁵² rounds to an integer, ties to even
		// (the float64 rounding mode); the conversions forbid fusing.
		lo = uint64(float64(a+0x1p52) - 0x1p52)
	} else {
		// a is an integer: its 53-bit significand shifted left by 0 to 47.
		b := math.Float64bits(a)
		s := uint(b>>52) - 1075
		mant := b&(1<<52-1) | 1<<52
		lo, hi = mant<<s, mant>>(64-s) // a shift by 64 gives 0
	}
	lo, hi = lo^neg, hi^neg
	lo, c := bits.Add64(lo, neg&1, 0)
	return i128{lo, hi + c}
}

// float returns a correctly rounded (to nearest, ties to even) float64 of
// a (in units, not scaled).
func (a i128) float() float64 {
	m := a.abs()
	var f float64
	if m.hi == 0 {
		f = float64(m.lo)
	} else {
		n := uint(64 - bits.LeadingZeros64(m.hi)) // bits of hi, in [1, 64]
		top := m.hi<<(64-n) | m.lo>>n
		if m.lo&(1<<n-1) != 0 {
			top |= 1 // sticky: the 10 bits below a float64's last bit keep ties exact
		}
		f = math.Ldexp(float64(top), int(n))
	}
	if a.negative() {
		return -f
	}
	return f
}

// exactSum is the fixed-point sum Σ q(wᵢ·Δᵢ) and Σ q(wᵢ) of the updates
// added to it, where q rounds to a multiple of 2^-FracBits. Integer
// addition is associative and commutative, so the sum has the same bits
// whatever the order and the grouping of its terms: a tree of partial
// sums gives the bits of the flat sum. This is the simplest form of
// reproducible summation (Demmel and Nguyen, "Parallel Reproducible
// Summation", IEEE TC 2015, use binned floating point for the same end).
type exactSum struct {
	count  int    // updates summed
	weight i128   // Σ q(wᵢ)
	vec    []i128 // Σ q(wᵢ·Δᵢⱼ)
}

// reset makes s an empty sum of dimension d, reusing its memory.
func (s *exactSum) reset(d int) {
	s.count, s.weight = 0, i128{}
	if cap(s.vec) < d {
		s.vec = make([]i128, d)
	}
	s.vec = s.vec[:d]
	clear(s.vec)
}

// addUpdate adds w·delta. It checks every term before it adds any, so a
// refused update leaves s unchanged; the error wraps ErrRange.
func (s *exactSum) addUpdate(w float64, delta []float64) error {
	if len(delta) != len(s.vec) {
		return fmt.Errorf("%w: %d, want %d", fl.ErrLength, len(delta), len(s.vec))
	}
	if s.count >= MaxTerms {
		return fmt.Errorf("%w: more than %d updates in one sum", ErrRange, MaxTerms)
	}
	qw, ok := quantize(w)
	if !ok || !(w > 0) || qw == (i128{}) {
		return fmt.Errorf("%w: weight %v (want 2⁻⁶⁵ ≤ w < 2³⁶)", ErrRange, w)
	}
	if j := addTerms(s.vec, w, delta); j >= 0 {
		// Take back the terms added: the sum is left as it was.
		for k, x := range delta[:j] {
			t, _ := term(w, x)
			s.vec[k] = s.vec[k].add(t.neg())
		}
		return fmt.Errorf("%w: weight·coordinate %d = %v", ErrRange, j, w*delta[j])
	}
	s.weight = s.weight.add(qw)
	s.count++
	return nil
}

// addTerms adds q(w·delta[j]) to vec[j] for each j, and returns -1, or
// the first j whose term is out of range (the terms before it are added).
func addTerms(vec []i128, w float64, delta []float64) int {
	vec = vec[:len(delta)]
	for j, x := range delta {
		// term(w, x) and the addition, written out: the compiler does not
		// inline them, and this loop is the aggregation's cost.
		b := math.Float64bits(float64(w * x)) // the conversion forbids fusing
		a := math.Float64frombits(b &^ (1 << 63))
		if !(a < MaxTerm) {
			return j
		}
		y := a * 0x1p64
		var lo, hi uint64
		if y < 0x1p52 {
			lo = uint64(float64(y+0x1p52) - 0x1p52)
		} else {
			yb := math.Float64bits(y)
			sh := uint(yb>>52) - 1075
			mant := yb&(1<<52-1) | 1<<52
			lo, hi = mant<<sh, mant>>(64-sh) // a shift by 64 gives 0
		}
		neg := uint64(int64(b) >> 63)
		var c uint64
		lo, c = bits.Add64(lo^neg, neg&1, 0)
		hi = hi ^ neg + c
		v := &vec[j]
		v.lo, c = bits.Add64(v.lo, lo, 0)
		v.hi += hi + c
	}
	return -1
}

// addSum adds the partial sum p (checked by decodePartial) to s.
func (s *exactSum) addSum(p *exactSum) error {
	if len(p.vec) != len(s.vec) {
		return fmt.Errorf("%w: dimension %d, want %d", ErrPartial, len(p.vec), len(s.vec))
	}
	if s.count+p.count > MaxTerms {
		return fmt.Errorf("%w: more than %d updates in one sum", ErrRange, MaxTerms)
	}
	for j := range s.vec {
		s.vec[j] = s.vec[j].add(p.vec[j])
	}
	s.weight = s.weight.add(p.weight)
	s.count += p.count
	return nil
}

// mean writes Σ q(wᵢ·Δᵢ) / Σ q(wᵢ) to dst: each numerator and the
// denominator correctly rounded to float64, then one division.
func (s *exactSum) mean(dst []float64) {
	if len(dst) != len(s.vec) {
		panic("hier: mean: dst has the wrong length")
	}
	w := s.weight.float()
	for j, v := range s.vec {
		dst[j] = v.float() / w
	}
}

// totalWeight returns Σ q(wᵢ) as a float64 (correctly rounded).
func (s *exactSum) totalWeight() float64 { return math.Ldexp(s.weight.float(), -FracBits) }

// The partial-sum payload an edge sends upstream, version 1:
//
//	"FGHS" | version (1 byte) | FracBits (1 byte) | count (uvarint) |
//	weight (16 bytes) | dimension (uvarint) | dimension × 16 bytes
//
// Each 128-bit integer is two little-endian uint64, low word first.
const (
	partialMagic   = "FGHS"
	partialVersion = 1
)

// appendPartial appends the payload of s to dst.
func appendPartial(dst []byte, s *exactSum) []byte {
	dst = append(dst, partialMagic...)
	dst = append(dst, partialVersion, FracBits)
	dst = binary.AppendUvarint(dst, uint64(s.count))
	dst = binary.LittleEndian.AppendUint64(dst, s.weight.lo)
	dst = binary.LittleEndian.AppendUint64(dst, s.weight.hi)
	dst = binary.AppendUvarint(dst, uint64(len(s.vec)))
	for _, v := range s.vec {
		dst = binary.LittleEndian.AppendUint64(dst, v.lo)
		dst = binary.LittleEndian.AppendUint64(dst, v.hi)
	}
	return dst
}

// isPartial reports whether b starts like a partial-sum payload.
func isPartial(b []byte) bool { return len(b) >= len(partialMagic) && string(b[:4]) == partialMagic }

// decodePartial decodes a partial sum of dimension dim into s (reusing its
// memory). It refuses, with an error wrapping ErrPartial, a payload of
// another version or dimension, a count outside [1, MaxTerms], a
// non-positive weight, or a value no sum of count terms can reach (so a
// lying sender cannot make a later addition overflow). It allocates
// nothing beyond dim values, whatever the payload claims.
func decodePartial(s *exactSum, b []byte, dim int) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrPartial}, args...)...)
	}
	if !isPartial(b) || len(b) < 6 {
		return bad("bad magic")
	}
	if b[4] != partialVersion || b[5] != FracBits {
		return bad("version %d with %d fractional bits, want %d with %d", b[4], b[5], partialVersion, FracBits)
	}
	b = b[6:]
	count, n := minimalUvarint(b)
	if n <= 0 || count < 1 || count > MaxTerms {
		return bad("count out of range")
	}
	b = b[n:]
	if len(b) < 16 {
		return bad("truncated weight")
	}
	bound := i128{hi: count << (termBits - 64)} // count·2^termBits < 2^126
	weight := i128{lo: binary.LittleEndian.Uint64(b), hi: binary.LittleEndian.Uint64(b[8:])}
	if weight.negative() || weight == (i128{}) || !weight.less(bound) {
		return bad("weight out of range")
	}
	b = b[16:]
	d, n := minimalUvarint(b)
	if n <= 0 || d != uint64(dim) {
		return bad("dimension %d, want %d", d, dim)
	}
	b = b[n:]
	if uint64(len(b)) != 16*d {
		return bad("%d bytes of values, want %d", len(b), 16*d)
	}
	s.reset(dim)
	for j := range s.vec {
		v := i128{lo: binary.LittleEndian.Uint64(b[16*j:]), hi: binary.LittleEndian.Uint64(b[16*j+8:])}
		if !v.abs().less(bound) {
			return bad("value %d out of range for %d terms", j, count)
		}
		s.vec[j] = v
	}
	s.count, s.weight = int(count), weight
	return nil
}

// minimalUvarint is binary.Uvarint that also refuses a non-minimal
// encoding, so that a payload has one encoding only.
func minimalUvarint(b []byte) (uint64, int) {
	v, n := binary.Uvarint(b)
	if n > 1 && b[n-1] == 0 {
		return 0, -1
	}
	return v, n
}
