package ddp

import (
	"fmt"
	"io"
	"math"
	"math/big"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/fedgo/fedgo/privacy"
	"github.com/fedgo/fedgo/secagg/fedround"
)

// Encoder is one client's side of the mechanism, a fedround.Encoding:
// Encode runs the client pipeline of Kairouz, Liu and Steinke 2021
// (Algorithm 1) on a delta. Get one per client from [DDP.Encoder]. Its
// randomness (rounding and noise) comes from ChaCha8 generators keyed
// from crypto/rand, one per chunk of coordinates and per pass (each
// rounding attempt, the noise), or from an injected reader in tests; the
// rotation, the rounding and the noise run on GOMAXPROCS goroutines and a
// seeded encoder's output does not depend on their number. An Encoder is
// safe for concurrent use (calls are serialized).
type Encoder struct {
	p     *Params
	clip  float64
	beta  float64
	tries int

	mu   sync.Mutex
	src  *privacy.Source
	buf  []float64
	dg   *privacy.DiscreteGaussian
	pois *poisson
}

var _ fedround.Encoding = (*Encoder)(nil)

func newEncoder(p *Params, c *Config, random io.Reader) (*Encoder, error) {
	src, err := privacy.NewSource(random)
	if err != nil {
		return nil, err
	}
	e := &Encoder{p: p, clip: c.ClipNorm, beta: c.RoundingBeta, tries: c.MaxRetries, src: src}
	switch p.Mechanism {
	case Skellam:
		if e.pois, err = newPoisson(p.ShareVariance / 2); err != nil {
			return nil, err
		}
	default:
		if e.dg, err = privacy.NewDiscreteGaussian(new(big.Rat).SetInt64(int64(p.ShareVariance))); err != nil {
			return nil, err
		}
		// The table sampler when the share's σ² allows it, built before
		// any draw so that a seeded encoder's shares do not depend on the
		// schedule of its noise goroutines.
		e.dg.UseTable()
	}
	return e, nil
}

// Bits returns b.
func (e *Encoder) Bits() int { return e.p.Bits }

// Len returns D for d = the configured dimension, and an error otherwise.
func (e *Encoder) Len(d int) (int, error) { return encodedLen(e.p, d) }

func encodedLen(p *Params, d int) (int, error) {
	if d != p.Dim {
		return 0, fmt.Errorf("%w: a vector of %d values, the mechanism is configured for %d", ErrInput, d, p.Dim)
	}
	return p.Padded, nil
}

// Encode writes the client's input for delta into dst (len D), each value
// in [0, 2^b):
//  1. clip delta to L2 norm C; pad it with zeros to D;
//  2. rotate it by the round's randomized Hadamard transform H·S/√D (S the
//     diagonal of random signs derived from roundID);
//  3. scale by 1/γ and round each coordinate to ⌊x⌋ or ⌈x⌉ with
//     probability of the fractional part, retried until the integer
//     vector's squared norm is at most NormSquaredMax (checked exactly;
//     after MaxRetries failures it returns an error wrapping
//     [ErrRounding] and nothing leaves the client);
//  4. add one noise share per coordinate, drawn exactly: N_Z(0,
//     ShareVariance) or the difference of two Poisson(ShareVariance/2);
//  5. reduce modulo 2^b.
//
// It returns an error wrapping [ErrInput] for a delta of the wrong length
// or with a NaN or Inf. It panics if len(dst) != D.
func (e *Encoder) Encode(dst []uint64, delta []float64, roundID [32]byte) error {
	p := e.p
	if len(dst) != p.Padded {
		panic("ddp: Encode: len(dst) != Padded")
	}
	if len(delta) != p.Dim {
		return fmt.Errorf("%w: a delta of %d values, want %d", ErrInput, len(delta), p.Dim)
	}
	for i, x := range delta {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: delta[%d] = %v", ErrInput, i, x)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if cap(e.buf) < p.Padded {
		e.buf = make([]float64, p.Padded)
	}
	x := e.buf[:p.Padded]
	f := privacy.ClipFactor(privacy.L2Norm(delta), e.clip) / p.Gamma
	copy(x, delta)
	clear(x[p.Dim:])
	rotate(x, roundID)
	// clip and scale to the grid after the orthogonal rotation, in round
	if err := e.round(dst, x, f); err != nil {
		return err
	}
	return e.noise(dst)
}

// round writes a conditional randomized rounding of f·x (as int64 bits)
// to dst. Each attempt splits the coordinates in chunks of noiseChunk,
// each rounded with its own Source (keyed as the noise chunks are, see
// [Encoder.noise]) on GOMAXPROCS goroutines, and accepts the attempt when
// the squared norm of the whole integer vector is at most NormSquaredMax
// (exactly, in integers); after max(MaxRetries, 1) rejected attempts it
// returns an error wrapping [ErrRounding]. A seeded encoder's output does
// not depend on the number of workers.
func (e *Encoder) round(dst []uint64, x []float64, f float64) error {
	limit := e.p.NormSquaredMax
	chunks := (len(dst) + noiseChunk - 1) / noiseChunk
	norms := make([]uint64, chunks)
	for range max(e.tries, 1) {
		srcs, err := e.chunkSources(chunks)
		if err != nil {
			return err
		}
		var over atomic.Bool
		parallelFor(chunks, runtime.GOMAXPROCS(0), func(c int) {
			lo := c * noiseChunk
			hi := min(lo+noiseChunk, len(dst))
			n, ok := roundRange(dst[lo:hi], x[lo:hi], f, srcs[c], limit, &over)
			norms[c] = n
			if !ok {
				over.Store(true)
			}
		})
		if !over.Load() && sumAtMost(norms, limit) {
			return nil
		}
	}
	return fmt.Errorf("%w: %d attempts", ErrRounding, max(e.tries, 1))
}

// roundRange rounds f·x[i] to ⌊f·x[i]⌋ or ⌈f·x[i]⌉ with probability of
// the fractional part into dst[i], and returns the squared norm of the
// integers, or false as soon as it exceeds limit or over is set (another
// chunk has exceeded it).
func roundRange(dst []uint64, x []float64, f float64, s *privacy.Source, limit uint64, over *atomic.Bool) (uint64, bool) {
	var norm2 uint64
	for i, v := range x {
		v *= f
		fl := math.Floor(v)
		if float64(s.Uint64()>>11)*0x1p-53 < v-fl {
			fl++
		}
		z := int64(fl)
		dst[i] = uint64(z)
		a := uint64(z)
		if z < 0 {
			a = uint64(-z)
		}
		// |z| < 2^31 + √D, so a² < 2^63 and norm2 + a² cannot wrap
		// while norm2 ≤ limit < 2^63.
		norm2 += a * a
		if norm2 > limit {
			return 0, false
		}
		if i&4095 == 4095 && over.Load() {
			return 0, false
		}
	}
	return norm2, true
}

// sumAtMost reports whether the sum of norms is at most limit, without
// wrapping (each norm is at most limit < 2^63).
func sumAtMost(norms []uint64, limit uint64) bool {
	var t uint64
	for _, n := range norms {
		if n > limit-t {
			return false
		}
		t += n
	}
	return true
}

// chunkSources returns one Source per chunk: keyed from crypto/rand, or,
// for an encoder with an injected reader, from the encoder's stream in
// chunk order.
func (e *Encoder) chunkSources(chunks int) ([]*privacy.Source, error) {
	srcs := make([]*privacy.Source, chunks)
	for i := range srcs {
		var r io.Reader // crypto/rand
		if e.src.Seeded() {
			r = e.src
		}
		s, err := privacy.NewSource(r)
		if err != nil {
			return nil, err
		}
		srcs[i] = s
	}
	return srcs, nil
}

// noiseChunk is the number of coordinates per noise source.
const noiseChunk = 1 << 15

// noise adds the client's noise share to each coordinate of dst (int64
// bits) and reduces it modulo 2^b. The coordinates are split in chunks of
// noiseChunk, each with its own Source — keyed from crypto/rand, or, for
// an encoder with an injected reader, from the encoder's stream in chunk
// order, so that a seeded encoder's output does not depend on the number
// of workers — and the chunks are shared among GOMAXPROCS goroutines,
// joined before it returns. Noise needs no determinism: a deployed
// encoder's shares are fresh every call.
func (e *Encoder) noise(dst []uint64) error {
	chunks := (len(dst) + noiseChunk - 1) / noiseChunk
	srcs, err := e.chunkSources(chunks)
	if err != nil {
		return err
	}
	parallelFor(chunks, runtime.GOMAXPROCS(0), func(c int) {
		lo := c * noiseChunk
		e.noiseRange(dst[lo:min(lo+noiseChunk, len(dst))], srcs[c])
	})
	return nil
}

// noiseRange is noise on one chunk with one source. The discrete
// Gaussian's shares are drawn in blocks by AddTo (its table loop, without
// a call per value), the same values as one Sample per coordinate; the
// Skellam shares by the Poisson table's loop, the same values as one
// skellam per coordinate.
func (e *Encoder) noiseRange(dst []uint64, s *privacy.Source) {
	mask := uint64(1)<<e.p.Bits - 1
	switch {
	case e.pois != nil && e.pois.tab != nil:
		e.pois.tab.addSkellam(dst, mask, e.pois, s)
		return
	case e.pois != nil:
		for i, z := range dst {
			dst[i] = (z + uint64(e.pois.skellam(s))) & mask
		}
		return
	case e.dg == nil: // no noise
		for i, z := range dst {
			dst[i] = z & mask
		}
		return
	}
	var buf [256]int64
	for lo := 0; lo < len(dst); lo += len(buf) {
		d := dst[lo:min(lo+len(buf), len(dst))]
		b := buf[:len(d)]
		clear(b)
		e.dg.AddTo(b, s)
		for i, n := range b {
			d[i] = (d[i] + uint64(n)) & mask
		}
	}
}

// Decode is the server's side; an Encoder refuses it.
func (e *Encoder) Decode([]float64, []uint64, [32]byte) error {
	return fmt.Errorf("%w: an Encoder does not decode (use DDP.Exchange on the server)", ErrConfig)
}

// decoder is the server's side of the mechanism, a fedround.Encoding whose
// Decode reverses the pipeline. It remembers the vector it last decoded so
// that the privacy release can refuse any other ([ErrNotDDP]).
type decoder struct {
	d   *DDP
	buf []float64
}

func (c *decoder) Bits() int              { return c.d.p.Bits }
func (c *decoder) Len(d int) (int, error) { return encodedLen(&c.d.p, d) }

func (c *decoder) Encode([]uint64, []float64, [32]byte) error {
	return fmt.Errorf("%w: the server's encoding does not encode (give clients DDP.Encoder)", ErrConfig)
}

// Decode maps the sum mod 2^b to centred integers in [−2^{b−1}, 2^{b−1}),
// multiplies them by γ, inverts the rotation and drops the padding.
func (c *decoder) Decode(dst []float64, sum []uint64, roundID [32]byte) error {
	p := &c.d.p
	if len(sum) != p.Padded || len(dst) != p.Dim {
		return fmt.Errorf("%w: a sum of %d values into %d, want %d into %d", ErrInput, len(sum), len(dst), p.Padded, p.Dim)
	}
	if cap(c.buf) < p.Padded {
		c.buf = make([]float64, p.Padded)
	}
	x := c.buf[:p.Padded]
	centre(x, sum, p.Bits, p.Gamma)
	unrotate(x, roundID)
	copy(dst, x)
	c.d.decoded(dst)
	return nil
}

// centre writes the centred value of each sum (mod 2^b) times gamma to x.
func centre(x []float64, sum []uint64, bits int, gamma float64) {
	mask := uint64(1)<<bits - 1
	half := uint64(1) << (bits - 1)
	for i, s := range sum {
		s &= mask
		v := int64(s)
		if s >= half {
			v -= int64(mask) + 1
		}
		x[i] = float64(v) * gamma
	}
}
