package privacy

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
)

// ErrSecretState is returned by [Source.MarshalBinary] for a source keyed
// from crypto/rand: its state would let anyone who reads it predict, and so
// subtract, the noise still to come.
var ErrSecretState = errors.New("privacy: refusing to export the state of a secret noise source")

// Source is the random source of every noise mechanism in this package: a
// ChaCha8 stream cipher used as a cryptographically secure pseudorandom
// generator (math/rand/v2's [mrand.ChaCha8], a CSPRNG with forward secrecy
// after each 992-byte block), keyed with 32 bytes read once from an
// [io.Reader] — by default crypto/rand.
//
// A Source built from an injected reader (a seeded one, in tests and
// reproducible simulations) is deterministic in that reader and gives no
// privacy against whoever knows the seed. Only such a source may be
// serialized (for checkpoints); one keyed from crypto/rand refuses.
//
// A Source is not safe for concurrent use.
type Source struct {
	c      *mrand.ChaCha8
	r      *mrand.Rand
	seeded bool
}

// NewSource returns a Source keyed with 32 bytes read from random; nil
// means crypto/rand. It returns an error if random cannot supply them.
func NewSource(random io.Reader) (*Source, error) {
	var key [32]byte
	seeded := random != nil
	if random == nil {
		random = rand.Reader
	}
	if _, err := io.ReadFull(random, key[:]); err != nil {
		return nil, fmt.Errorf("privacy: keying the noise source: %w", err)
	}
	c := mrand.NewChaCha8(key)
	clear(key[:])
	return &Source{c: c, r: mrand.New(c), seeded: seeded}, nil
}

// Seeded reports whether the source was keyed from an injected reader
// rather than crypto/rand.
func (s *Source) Seeded() bool { return s.seeded }

// Uint64 returns 64 uniformly random bits.
func (s *Source) Uint64() uint64 { return s.c.Uint64() }

// Uint64N returns a uniform integer in [0, n), without bias. It panics if
// n is 0.
func (s *Source) Uint64N(n uint64) uint64 { return s.r.Uint64N(n) }

// Read fills p with random bytes; it never fails.
func (s *Source) Read(p []byte) (int, error) { return s.c.Read(p) }

const (
	twoPi = 2 * math.Pi
	inv53 = 0x1p-53
)

// boxMuller returns two independent standard normal values from two
// 53-bit uniforms: u1 in (0, 1] (so the logarithm is finite) and u2 in
// [0, 1).
func boxMuller(x, y uint64) (float64, float64) {
	u1 := float64(x>>11+1) * inv53
	u2 := float64(y>>11) * inv53
	r := math.Sqrt(-2 * math.Log(u1))
	sin, cos := math.Sincos(twoPi * u2)
	return r * cos, r * sin
}

// Normal returns a standard normal value (Box–Muller over 53-bit
// uniforms). See the package documentation for its floating-point
// caveats.
func (s *Source) Normal() float64 {
	z, _ := boxMuller(s.c.Uint64(), s.c.Uint64())
	return z
}

// AddGaussian adds independent N(0, sigma²) noise to every element of dst
// and returns dst. sigma = 0 leaves dst unchanged without drawing. It
// panics if sigma is negative, NaN or infinite (a programmer error: the
// mechanisms validate σ in their configs). It does not allocate.
func (s *Source) AddGaussian(dst []float64, sigma float64) []float64 {
	if !(sigma >= 0) || math.IsInf(sigma, 0) {
		panic("privacy: AddGaussian: sigma must be finite and >= 0")
	}
	if sigma == 0 {
		return dst
	}
	i := 0
	for ; i+2 <= len(dst); i += 2 {
		z0, z1 := boxMuller(s.c.Uint64(), s.c.Uint64())
		dst[i] += sigma * z0
		dst[i+1] += sigma * z1
	}
	if i < len(dst) {
		z0, _ := boxMuller(s.c.Uint64(), s.c.Uint64())
		dst[i] += sigma * z0
	}
	return dst
}

// MarshalBinary returns the generator's state, for a seeded source only;
// a source keyed from crypto/rand returns [ErrSecretState].
func (s *Source) MarshalBinary() ([]byte, error) {
	if !s.seeded {
		return nil, ErrSecretState
	}
	return s.c.MarshalBinary()
}

// UnmarshalBinary restores a state returned by MarshalBinary and marks the
// source as seeded.
func (s *Source) UnmarshalBinary(b []byte) error {
	c := new(mrand.ChaCha8)
	if err := c.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("privacy: noise source state: %w", err)
	}
	s.c, s.r, s.seeded = c, mrand.New(c), true
	return nil
}
