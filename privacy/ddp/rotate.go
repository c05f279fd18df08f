package ddp

import (
	"crypto/sha256"
	"math"
	mrand "math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
)

// padLen returns D, the smallest power of two ≥ d (d ≥ 1).
func padLen(d int) int {
	D := 1
	for D < d {
		D <<= 1
	}
	return D
}

// fwhtBlock is the number of values (64 KiB) whose stages h < fwhtBlock
// run block by block, in cache and in parallel across blocks.
const fwhtBlock = 1 << 13

// fwhtParts is the number of ranges per worker that a stage over the
// whole vector is cut into (for balance when a worker is descheduled).
const fwhtParts = 4

// fwht replaces x (len a power of two) by H·x/√len, the normalized
// Walsh–Hadamard transform, which is orthogonal and its own inverse. It
// uses GOMAXPROCS goroutines; the result does not depend on their number.
func fwht(x []float64) { fwhtWorkers(x, nil, nil, runtime.GOMAXPROCS(0)) }

// fwhtScale returns 1/√n, exact when √n is a power of two.
func fwhtScale(n int) float64 {
	if bitsEven(n) {
		return math.Ldexp(1, -log2(n)/2)
	}
	return 1 / math.Sqrt(float64(n))
}

// fwhtWorkers is fwht on up to workers goroutines, with the sign flips of
// pre (bit i of pre[i/64] set: x[i] ← −x[i]) applied before the transform
// and those of post after it (either may be nil). Every value goes
// through the same floating-point operations, in the same order, as in
// the textbook loop (fwhtRef in the tests): stage h maps (u, v) at
// (i, i+h) to (u+v, u−v), then every value is multiplied by 1/√n. The
// stages h < fwhtBlock run per block of fwhtBlock values (they do not
// mix blocks), the later ones over ranges of the vector; both go two
// stages at a time (the radix-4 butterfly of stages h and 2h on four
// values), with a last radix-2 stage when their number is odd.
func fwhtWorkers(x []float64, pre, post []uint64, workers int) {
	n := len(x)
	if n == 0 {
		return
	}
	s := fwhtScale(n)
	B := min(n, fwhtBlock)
	last := B == n // the blocked stages are all the stages: scale there
	parallelFor(n/B, workers, func(k int) {
		lo := k * B
		blk := x[lo : lo+B]
		if pre != nil {
			flipSigns(blk, pre, lo)
		}
		h := 1
		if B >= 4 { // stages 1 and 2 on four consecutive values
			for i := 0; i+4 <= B; i += 4 {
				q := blk[i : i+4 : i+4]
				a0, a1 := q[0]+q[1], q[0]-q[1]
				a2, a3 := q[2]+q[3], q[2]-q[3]
				q[0], q[2] = a0+a2, a0-a2
				q[1], q[3] = a1+a3, a1-a3
			}
			h = 4
		}
		for ; h<<1 < B; h <<= 2 {
			radix4(blk, h, 0, B/4, false, 0, nil)
		}
		if h < B { // one stage left
			for i := 0; i < B; i += h << 1 {
				a, b := blk[i:i+h], blk[i+h:i+2*h]
				for j := range a {
					u, v := a[j], b[j]
					a[j], b[j] = u+v, u-v
				}
			}
		}
		if last {
			for i := range blk {
				blk[i] *= s
			}
			if post != nil {
				flipSigns(blk, post, lo)
			}
		}
	})
	if last {
		return
	}
	quads := n / 4
	parts := min(max(1, workers)*fwhtParts, quads)
	h := B
	for ; h<<1 < n; h <<= 2 {
		final := h<<2 == n
		parallelFor(parts, workers, func(p int) {
			radix4(x, h, quads*p/parts, quads*(p+1)/parts, final, s, post)
		})
	}
	if h < n { // one stage left: h = n/2
		pairs := n / 2
		parts := min(max(1, workers)*fwhtParts, pairs)
		parallelFor(parts, workers, func(p int) {
			lo, hi := pairs*p/parts, pairs*(p+1)/parts
			a, b := x[lo:hi], x[h+lo:h+hi]
			for j := range a {
				u, v := a[j], b[j]
				a[j], b[j] = (u+v)*s, (u-v)*s
			}
			if post != nil {
				flipSigns(a, post, lo)
				flipSigns(b, post, h+lo)
			}
		})
	}
}

// radix4 runs stages h and 2h on the quads q ∈ [qlo, qhi): quad q is the
// values at i, i+h, i+2h, i+3h with i = ⌊q/h⌋·4h + q mod h. When final,
// the outputs are also multiplied by s and flipped by post.
func radix4(x []float64, h, qlo, qhi int, final bool, s float64, post []uint64) {
	for q := qlo; q < qhi; {
		blk, j := q/h, q%h
		end := min(qhi-blk*h, h) // j runs to end within this block
		base := blk * 4 * h
		a := x[base+j : base+end]
		b := x[base+h+j : base+h+end]
		c := x[base+2*h+j : base+2*h+end]
		d := x[base+3*h+j : base+3*h+end]
		if final {
			for k := range a {
				a0, a1 := a[k]+b[k], a[k]-b[k]
				a2, a3 := c[k]+d[k], c[k]-d[k]
				a[k], c[k] = (a0+a2)*s, (a0-a2)*s
				b[k], d[k] = (a1+a3)*s, (a1-a3)*s
			}
			if post != nil {
				flipSigns(a, post, base+j)
				flipSigns(b, post, base+h+j)
				flipSigns(c, post, base+2*h+j)
				flipSigns(d, post, base+3*h+j)
			}
		} else {
			for k := range a {
				a0, a1 := a[k]+b[k], a[k]-b[k]
				a2, a3 := c[k]+d[k], c[k]-d[k]
				a[k], c[k] = a0+a2, a0-a2
				b[k], d[k] = a1+a3, a1-a3
			}
		}
		q = blk*h + end
	}
}

// flipSigns negates x[k] where bit off+k of signs is set.
func flipSigns(x []float64, signs []uint64, off int) {
	for k := range x {
		i := off + k
		if signs[i>>6]>>(i&63)&1 == 1 {
			x[k] = -x[k]
		}
	}
}

// parallelFor calls fn(i) for every i in [0, n) on up to workers
// goroutines (the calling one included) and returns when all have
// returned.
func parallelFor(n, workers int, fn func(i int)) {
	workers = min(workers, n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	work := func() {
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			fn(i)
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
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

// signWords returns the round's diagonal of random ±1 for n values: bit i
// of word i/64 set means −1 (the i-th bit, low first, of the i/64-th
// word of the round's generator).
func signWords(n int, roundID [32]byte) []uint64 {
	g := rotationSigns(roundID)
	w := make([]uint64, (n+63)/64)
	for i := range w {
		w[i] = g.Uint64()
	}
	return w
}

// rotate replaces x (len a power of two) by H·S·x/√len, the randomized
// Hadamard rotation of the round (Kairouz, Liu, Steinke 2021, §4.2), on
// GOMAXPROCS goroutines.
func rotate(x []float64, roundID [32]byte) {
	fwhtWorkers(x, signWords(len(x), roundID), nil, runtime.GOMAXPROCS(0))
}

// unrotate inverts rotate: x ← S·H·x/√len.
func unrotate(x []float64, roundID [32]byte) {
	fwhtWorkers(x, nil, signWords(len(x), roundID), runtime.GOMAXPROCS(0))
}
