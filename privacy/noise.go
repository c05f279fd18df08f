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
func (s *Source) Uint64N(n uint64) uint64 { return s.uint64n(n) }

// Read fills p with random bytes; it never fails.
func (s *Source) Read(p []byte) (int, error) { return s.c.Read(p) }

// Ziggurat tables (Marsaglia and Tsang 2000, "The Ziggurat Method for
// Generating Random Variables", 256 layers): f(x) = exp(−x²/2) is covered by
// 255 rectangles and a base strip with the tail beyond zigR, all of area
// zigV. zigX[i] is the right edge of layer i (zigX[0] = zigV/f(zigR) is the
// base strip's virtual width, zigX[256] = 0), zigF[i] = f(zigX[i]), and
// zigK[i] = zigX[i+1]/zigX[i] is the fraction of layer i that lies wholly
// under the curve. The tables are constants computed once.
const (
	zigR = 3.6541528853610088
	zigV = 4.92867323399e-3
)

var zigX, zigF, zigK = zigTables()

func zigTables() (x, f, k [257]float64) {
	pdf := func(x float64) float64 { return math.Exp(-0.5 * x * x) }
	x[0] = zigV / pdf(zigR)
	x[1] = zigR
	for i := 1; i < 255; i++ {
		x[i+1] = math.Sqrt(-2 * math.Log(zigV/x[i]+pdf(x[i])))
	}
	x[256] = 0
	for i := range x {
		f[i] = pdf(x[i])
	}
	for i := 0; i < 256; i++ {
		k[i] = x[i+1] / x[i]
	}
	return x, f, k
}

// unit53 returns a uniform value in (0, 1] with 53 random bits.
func unit53(b uint64) float64 { return float64(b>>11+1) * 0x1p-53 }

// Normal returns a standard normal value: the ziggurat method over one
// 64-bit draw per try (8 bits pick the layer, 1 bit the sign, 53 bits the
// position), with Marsaglia's exact tail algorithm beyond zigR. See the
// package documentation for the floating-point caveats.
func (s *Source) Normal() float64 {
	for {
		b := s.c.Uint64()
		i := b & 0xff
		u := float64(b>>11) * 0x1p-53
		z := u * zigX[i]
		neg := b&0x100 != 0
		switch {
		case u < zigK[i]:
			// Inside the part of the layer that lies under the curve.
		case i == 0:
			// The tail beyond zigR (Marsaglia 1964).
			for {
				a := -math.Log(unit53(s.c.Uint64())) / zigR
				c := -math.Log(unit53(s.c.Uint64()))
				if 2*c > a*a {
					z = zigR + a
					break
				}
			}
		default:
			// The wedge between the layer's rectangle and the curve.
			y := zigF[i] + (zigF[i+1]-zigF[i])*float64(s.c.Uint64()>>11)*0x1p-53
			if y >= math.Exp(-0.5*z*z) {
				continue
			}
		}
		if neg {
			return -z
		}
		return z
	}
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
	for i := range dst {
		dst[i] += sigma * s.Normal()
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
