package ddp

import (
	"crypto/sha256"
	"math"
	mrand "math/rand/v2"
)

// padLen returns D, the smallest power of two ≥ d (d ≥ 1).
func padLen(d int) int {
	D := 1
	for D < d {
		D <<= 1
	}
	return D
}

// fwht replaces x (len a power of two) by H·x/√len, the normalized
// Walsh–Hadamard transform, which is orthogonal and its own inverse.
func fwht(x []float64) {
	n := len(x)
	for h := 1; h < n; h <<= 1 {
		for i := 0; i < n; i += h << 1 {
			a, b := x[i:i+h], x[i+h:i+2*h]
			for j := range a {
				u, v := a[j], b[j]
				a[j], b[j] = u+v, u-v
			}
		}
	}
	s := 1 / math.Sqrt(float64(n))
	if n&(n-1) == 0 && bitsEven(n) {
		s = math.Ldexp(1, -log2(n)/2) // exact when √n is a power of two
	}
	for i := range x {
		x[i] *= s
	}
}

func log2(n int) int {
	k := 0
	for 1<<k < n {
		k++
	}
	return k
}

func bitsEven(n int) bool { return log2(n)%2 == 0 }

// rotationSigns returns the generator of the random signs of the round's
// rotation, keyed by SHA-256 of a domain string and the round id, so that
// every client and the server derive the same signs and no two rounds
// share them.
func rotationSigns(roundID [32]byte) *mrand.ChaCha8 {
	h := sha256.New()
	h.Write([]byte("fedgo/privacy/ddp/v1 rotation"))
	h.Write(roundID[:])
	var key [32]byte
	h.Sum(key[:0])
	return mrand.NewChaCha8(key)
}

// applySigns multiplies x by the round's diagonal of random ±1.
func applySigns(x []float64, roundID [32]byte) {
	g := rotationSigns(roundID)
	for i := 0; i < len(x); i += 64 {
		w := g.Uint64()
		for j := i; j < min(i+64, len(x)); j++ {
			if w&1 == 1 {
				x[j] = -x[j]
			}
			w >>= 1
		}
	}
}

// rotate replaces x (len a power of two) by H·S·x/√len, the randomized
// Hadamard rotation of the round (Kairouz, Liu, Steinke 2021, §4.2).
func rotate(x []float64, roundID [32]byte) {
	applySigns(x, roundID)
	fwht(x)
}

// unrotate inverts rotate: x ← S·H·x/√len.
func unrotate(x []float64, roundID [32]byte) {
	fwht(x)
	applySigns(x, roundID)
}
