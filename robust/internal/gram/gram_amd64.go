//go:build !purego

package gram

import "golang.org/x/sys/cpu"

// hasFMA reports whether tileFMA can run: AVX2 for the 256-bit loads and
// FMA for VFMADD231PD.
var hasFMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// tileFMA sets out[a·4+b], for a < 3 and b < 4, to the dot product of
// rows a of xi and b of xj (rows w values apart): four lane sums folded as
// (l₀ + l₁) + (l₂ + l₃).
//
//go:noescape
func tileFMA(xi, xj *float64, w int, out *[12]float64)

// subFMA sets y[k] = x[k] − c[k] for k < n (a multiple of 4) and bad to
// four lanes that are ±0 if every x[k] was finite and NaN otherwise (the
// sums of x[k]·0).
//
//go:noescape
func subFMA(y, x, c *float64, n int, bad *[4]float64)

// prefetchLines asks for the n cache lines from p (64 bytes apart) to be
// brought into the cache; it reads and changes nothing.
//
//go:noescape
func prefetchLines(p *float64, n int)
