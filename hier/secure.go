package hier

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/secagg"
	"github.com/fedgo/fedgo/secagg/fedround"
)

// Secure is the quantization grid of secure aggregation within the edges
// (see the package doc): every edge's fedround.Config must have the same
// Clip, Bits and WeightCap. The root sets it on its [Exchange] and sends
// it down with the number of leaf clients of the round (the quantizer's n,
// fedround.KeySummands), so that every edge's integer sum is on one grid
// and the root adds them exactly.
type Secure struct {
	// Clip is the coordinate range c of every client (fedround.Config.Clip).
	Clip float64
	// Bits of the secagg ring; 0 means fedround.DefaultBits.
	Bits int
	// WeightCap of the capped-weight mean (fedround.Config.WeightCap); 0
	// means the unweighted mean.
	WeightCap float64
}

// Keys of the train message's fl.Config that carry the round's grid from
// the root down to the secure edges (with fedround.KeySummands).
const (
	KeySecureClip      = "hier/secure_clip"
	KeySecureBits      = "hier/secure_bits"
	KeySecureWeightCap = "hier/secure_weight_cap"
)

// ErrGrid is wrapped by the error for a secure round whose grid is
// malformed or differs from a node's own (an edge configured with another
// Clip, Bits or WeightCap than the root's).
var ErrGrid = errors.New("hier: secure aggregation grid mismatch")

// validate reports a grid out of range.
func (s *Secure) validate() error {
	var errs []error
	if !(s.Clip > 0) || math.IsInf(s.Clip, 0) {
		errs = append(errs, fmt.Errorf("Secure.Clip = %v, want finite and > 0", s.Clip))
	}
	if s.Bits < 0 || s.Bits > 64 {
		errs = append(errs, fmt.Errorf("Secure.Bits = %d, want 0 (%d) or 1..64", s.Bits, fedround.DefaultBits))
	}
	if !(s.WeightCap >= 0) || math.IsInf(s.WeightCap, 0) {
		errs = append(errs, fmt.Errorf("Secure.WeightCap = %v, want finite and ≥ 0", s.WeightCap))
	}
	return errors.Join(errs...)
}

// grid is one round's quantization grid: (clip, bits, summands) and the
// weight cap.
type grid struct {
	clip      float64
	bits      int
	weightCap float64
	summands  int
}

func (s *Secure) grid(summands int) grid {
	bits := s.Bits
	if bits == 0 {
		bits = fedround.DefaultBits
	}
	return grid{clip: s.Clip, bits: bits, weightCap: s.WeightCap, summands: summands}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// put writes g into cfg.
func (g grid) put(cfg fl.Config) {
	cfg[KeySecureClip] = g.clip
	cfg[KeySecureBits] = float64(g.bits)
	cfg[KeySecureWeightCap] = g.weightCap
	cfg[fedround.KeySummands] = float64(g.summands)
}

// levels returns the largest quantized value of one client.
func (g grid) levels() uint64 { return secagg.QuantLevels(g.bits, g.summands) }

// extra returns the coordinates the secure sum has beyond the model's: 1
// for the capped weight.
func (g grid) extra() int { return b2i(g.weightCap > 0) }

// gridOf reads the round's grid from cfg; ok is false for a plain round
// (no grid keys at all).
func gridOf(cfg fl.Config) (g grid, ok bool, err error) {
	clip, hasClip := cfg[KeySecureClip]
	bits, hasBits := cfg[KeySecureBits]
	wc, hasCap := cfg[KeySecureWeightCap]
	n, hasN := cfg[fedround.KeySummands]
	if !hasClip && !hasBits && !hasCap && !hasN {
		return grid{}, false, nil
	}
	if !hasClip || !hasBits || !hasCap || !hasN {
		return grid{}, true, fmt.Errorf("%w: the round's config carries part of a grid", ErrGrid)
	}
	s := Secure{Clip: clip, WeightCap: wc}
	if bits >= 1 && bits <= 64 && bits == math.Trunc(bits) {
		s.Bits = int(bits)
	} else {
		s.Bits = -1
	}
	if err := s.validate(); err != nil {
		return grid{}, true, fmt.Errorf("%w: %w", ErrGrid, err)
	}
	if !(n >= 1) || n > MaxTerms || n != math.Trunc(n) || secagg.QuantLevels(s.Bits, int(n)) == 0 {
		return grid{}, true, fmt.Errorf("%w: %s = %v", ErrGrid, fedround.KeySummands, n)
	}
	return s.grid(int(n)), true, nil
}

// quantSum is an exact sum of quantized inputs on one grid: vec[j] = Σ qᵢⱼ
// over count clients. Every qᵢⱼ is at most g.levels() and count is at most
// g.summands, so no sum reaches 2^bits (g.summands·levels < 2^bits ≤ 2⁶⁴).
type quantSum struct {
	g     grid
	count int
	vec   []uint64
}

// reset makes q an empty sum of n coordinates on g, reusing its memory.
func (q *quantSum) reset(g grid, n int) {
	q.g, q.count = g, 0
	if cap(q.vec) < n {
		q.vec = make([]uint64, n)
	}
	q.vec = q.vec[:n]
	clear(q.vec)
}

// add adds p (checked by decodeQuant against q's grid) to q.
func (q *quantSum) add(p *quantSum) error {
	if p.g != q.g || len(p.vec) != len(q.vec) {
		return fmt.Errorf("%w: a partial sum on another grid", ErrGrid)
	}
	if q.count+p.count > q.g.summands {
		return fmt.Errorf("%w: %d + %d inputs exceed the grid's %d summands", ErrPartial, q.count, p.count, q.g.summands)
	}
	for j, v := range p.vec {
		q.vec[j] += v
	}
	q.count += p.count
	return nil
}

// mean writes the round's update to dst, as fedround.Exchange.Run does for
// one flat round on the same grid: the survivors' sum dequantized
// (secagg.Dequantize), then divided by the survivors (or by their capped
// weights Σw), or, with a Privacy, released by priv.NoiseSum. full is
// scratch of len(q.vec).
func (q *quantSum) mean(dst, full []float64, priv fl.Privacy) error {
	d := len(dst)
	if q.g.extra() == 0 {
		full = dst
	}
	if _, err := secagg.Dequantize(full, q.vec, q.g.clip, q.g.bits, q.g.summands, q.count); err != nil {
		return err
	}
	total := float64(q.count)
	if q.g.weightCap > 0 {
		total = full[d] / q.g.clip
		if !(total > 0) {
			return fmt.Errorf("%w: the survivors' total weight is %v", ErrPartial, total)
		}
		copy(dst, full)
	}
	if priv != nil {
		return priv.NoiseSum(dst)
	}
	inv := 1 / total
	for j := range dst {
		dst[j] *= inv
	}
	return nil
}

// The secure partial-sum payload, version 1:
//
//	"FGHQ" | version (1 byte) | bits (1 byte) | count (uvarint) |
//	summands (uvarint) | clip (8 bytes) | weight cap (8 bytes) |
//	length (uvarint) | length × 8 bytes
//
// Floats are IEEE 754 bits and integers little-endian.
const (
	quantMagic   = "FGHQ"
	quantVersion = 1
)

// appendQuant appends the payload of q to dst.
func appendQuant(dst []byte, q *quantSum) []byte {
	dst = append(dst, quantMagic...)
	dst = append(dst, quantVersion, byte(q.g.bits))
	dst = binary.AppendUvarint(dst, uint64(q.count))
	dst = binary.AppendUvarint(dst, uint64(q.g.summands))
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(q.g.clip))
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(q.g.weightCap))
	dst = binary.AppendUvarint(dst, uint64(len(q.vec)))
	for _, v := range q.vec {
		dst = binary.LittleEndian.AppendUint64(dst, v)
	}
	return dst
}

// isQuant reports whether b starts like a secure partial sum.
func isQuant(b []byte) bool { return len(b) >= len(quantMagic) && string(b[:4]) == quantMagic }

// decodeQuant decodes a secure partial sum of n coordinates on grid g into
// q (reusing its memory). It refuses, with an error wrapping ErrPartial
// (or ErrGrid for another grid), a payload of another version, grid or
// length, a count outside [1, g.summands], or a value above count·levels
// (which no count honest inputs reach, and which could make the root's
// sum wrap). It allocates nothing beyond n values, whatever the payload
// claims.
func decodeQuant(q *quantSum, b []byte, g grid, n int) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: secure partial sum: "+format, append([]any{ErrPartial}, args...)...)
	}
	if !isQuant(b) || len(b) < 6 {
		return bad("bad magic")
	}
	if b[4] != quantVersion {
		return bad("version %d, want %d", b[4], quantVersion)
	}
	bits := int(b[5])
	b = b[6:]
	count, k := minimalUvarint(b)
	if k <= 0 || count < 1 || count > uint64(g.summands) {
		return bad("count out of range")
	}
	b = b[k:]
	summands, k := minimalUvarint(b)
	if k <= 0 {
		return bad("truncated")
	}
	b = b[k:]
	if len(b) < 16 {
		return bad("truncated")
	}
	clip := math.Float64frombits(binary.LittleEndian.Uint64(b))
	wc := math.Float64frombits(binary.LittleEndian.Uint64(b[8:]))
	b = b[16:]
	if bits != g.bits || summands != uint64(g.summands) || math.Float64bits(clip) != math.Float64bits(g.clip) || math.Float64bits(wc) != math.Float64bits(g.weightCap) {
		return fmt.Errorf("%w: partial on (clip %v, bits %d, summands %d, weight cap %v), the round's is (%v, %d, %d, %v)",
			ErrGrid, clip, bits, summands, wc, g.clip, g.bits, g.summands, g.weightCap)
	}
	l, k := minimalUvarint(b)
	if k <= 0 || l != uint64(n) {
		return bad("length %d, want %d", l, n)
	}
	b = b[k:]
	if uint64(len(b)) != 8*l {
		return bad("%d bytes of values, want %d", len(b), 8*l)
	}
	q.reset(g, n)
	bound := count * g.levels() // ≤ summands·levels < 2^bits
	for j := range q.vec {
		v := binary.LittleEndian.Uint64(b[8*j:])
		if v > bound {
			return bad("value %d above %d inputs of at most %d", j, count, g.levels())
		}
		q.vec[j] = v
	}
	q.count = int(count)
	return nil
}

// fromSum turns the integer sum of an edge's secure round into a partial
// sum on g, checking that the round ran on g.
func fromSum(q *quantSum, s *fedround.Sum, g grid, n int) error {
	got := grid{clip: s.Clip, bits: s.Bits, weightCap: s.WeightCap, summands: s.Summands}
	if got != g || len(s.Vec) != n {
		return fmt.Errorf("%w: the edge's secure round ran on (clip %v, bits %d, summands %d, weight cap %v), the parent's grid is (%v, %d, %d, %v)",
			ErrGrid, s.Clip, s.Bits, s.Summands, s.WeightCap, g.clip, g.bits, g.summands, g.weightCap)
	}
	q.g, q.count, q.vec = g, s.Count, s.Vec
	return nil
}
