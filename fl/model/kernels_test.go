package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

func randSlice(rng *rand.Rand, n int, zeroFrac float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		if rng.Float64() >= zeroFrac {
			s[i] = rng.NormFloat64()
		}
	}
	return s
}

func assertClose(t *testing.T, name string, got, want []float64) {
	t.Helper()
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %v, want %v", name, i, got[i], want[i])
		}
	}
}

// TestKernelsMatchNaive checks the matrix kernels against triple loops
// written from the definitions, on random shapes with zeros in dz (as ReLU
// leaves them).
func TestKernelsMatchNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range []struct{ m, n, k int }{{1, 1, 1}, {3, 5, 7}, {10, 128, 33}, {7, 2, 1}} {
		m, n, k := s.m, s.n, s.k
		a := randSlice(rng, m*k, 0)
		w := randSlice(rng, n*k, 0)
		bias := randSlice(rng, n, 0)
		dz := randSlice(rng, m*n, 0.4)

		c := randSlice(rng, m*n, 0) // overwritten
		mulABtBias(c, a, w, bias, m, n, k)
		want := make([]float64, m*n)
		for r := range m {
			for j := range n {
				want[r*n+j] = bias[j]
				for i := range k {
					want[r*n+j] += a[r*k+i] * w[j*k+i]
				}
			}
		}
		assertClose(t, "mulABtBias", c, want)

		g := randSlice(rng, n*k, 0) // accumulated into
		gb := randSlice(rng, n, 0)
		wantG := append([]float64(nil), g...)
		wantGb := append([]float64(nil), gb...)
		addAtB(g, gb, dz, a, m, n, k)
		for j := range n {
			for r := range m {
				wantGb[j] += dz[r*n+j]
				for i := range k {
					wantG[j*k+i] += dz[r*n+j] * a[r*k+i]
				}
			}
		}
		assertClose(t, "addAtB g", g, wantG)
		assertClose(t, "addAtB gb", gb, wantGb)

		da := randSlice(rng, m*k, 0) // overwritten
		mulAB(da, dz, w, m, n, k)
		wantDa := make([]float64, m*k)
		for r := range m {
			for i := range k {
				for j := range n {
					wantDa[r*k+i] += dz[r*n+j] * w[j*k+i]
				}
			}
		}
		assertClose(t, "mulAB", da, wantDa)
	}
}

// BenchmarkMatmul compares the serial kernels with blas64.Gemm on the
// products of a 784→128→10 MLP minibatch of 10 (and 64) examples.
func BenchmarkMatmul(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, batch := range []int{10, 64} {
		const in, hid = 784, 128
		x := randSlice(rng, batch*in, 0)
		w := randSlice(rng, hid*in, 0)
		bias := make([]float64, hid)
		h := make([]float64, batch*hid)
		dz := randSlice(rng, batch*hid, 0.5)
		g := make([]float64, hid*in)
		gb := make([]float64, hid)
		flops := func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(8 * hid * in))
		}
		b.Run(fmt.Sprintf("forward/b=%d/kernel", batch), func(b *testing.B) {
			flops(b)
			for b.Loop() {
				mulABtBias(h, x, w, bias, batch, hid, in)
			}
		})
		b.Run(fmt.Sprintf("forward/b=%d/gemm", batch), func(b *testing.B) {
			flops(b)
			for b.Loop() {
				blas64.Gemm(blas.NoTrans, blas.Trans, 1,
					blas64.General{Rows: batch, Cols: in, Stride: in, Data: x},
					blas64.General{Rows: hid, Cols: in, Stride: in, Data: w}, 0,
					blas64.General{Rows: batch, Cols: hid, Stride: hid, Data: h})
			}
		})
		b.Run(fmt.Sprintf("weightgrad/b=%d/kernel", batch), func(b *testing.B) {
			flops(b)
			for b.Loop() {
				addAtB(g, gb, dz, x, batch, hid, in)
			}
		})
		b.Run(fmt.Sprintf("weightgrad/b=%d/gemm", batch), func(b *testing.B) {
			flops(b)
			for b.Loop() {
				blas64.Gemm(blas.Trans, blas.NoTrans, 1,
					blas64.General{Rows: batch, Cols: hid, Stride: hid, Data: dz},
					blas64.General{Rows: batch, Cols: in, Stride: in, Data: x}, 1,
					blas64.General{Rows: hid, Cols: in, Stride: in, Data: g})
			}
		})
	}
}

// TestKernelsSameBitsAsAxpyLoops: the MLP kernels, now on the blocked
// products, give the bits of the loops of axpys and dots they replaced
// (written out here from the portable definitions), with zeros of both
// signs in dz (skipped) and infinities in a (which a zero weight would
// turn into NaN were it not skipped).
func TestKernelsSameBitsAsAxpyLoops(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	v := blockedValues(rng, true, true)
	for _, s := range []struct{ m, n, k int }{{1, 1, 1}, {3, 5, 7}, {10, 128, 33}, {64, 128, 784}, {7, 2, 1}, {13, 10, 129}} {
		m, n, k := s.m, s.n, s.k
		a, w, bias := fillWith(v, m*k), fillWith(v, n*k), fillWith(v, n)
		dz := fillWith(v, m*n)
		for i := range dz {
			if rng.IntN(3) == 0 {
				dz[i] = [2]float64{0, math.Copysign(0, -1)}[rng.IntN(2)]
			}
		}

		c := make([]float64, m*n)
		mulABtBias(c, a, w, bias, m, n, k)
		want := make([]float64, m*n)
		for j := range n {
			for r := range m {
				want[r*n+j] = bias[j] + dotGo(a[r*k:(r+1)*k], w[j*k:(j+1)*k])
			}
		}
		if i := firstDiff(c, want); i >= 0 {
			t.Fatalf("%v: mulABtBias[%d] = %v, loop of dots %v", s, i, c[i], want[i])
		}

		g, gb := fillWith(v, n*k), fillWith(v, n)
		wantG, wantGb := append([]float64(nil), g...), append([]float64(nil), gb...)
		addAtB(g, gb, dz, a, m, n, k)
		for r := range m {
			for j, x := range dz[r*n : (r+1)*n] {
				if x != 0 {
					wantGb[j] += x
					axpyGo(x, a[r*k:(r+1)*k], wantG[j*k:(j+1)*k])
				}
			}
		}
		if i := firstDiff(g, wantG); i >= 0 {
			t.Fatalf("%v: addAtB g[%d] = %v, loop of axpys %v", s, i, g[i], wantG[i])
		}
		if i := firstDiff(gb, wantGb); i >= 0 {
			t.Fatalf("%v: addAtB gb[%d] = %v, want %v", s, i, gb[i], wantGb[i])
		}

		da := fillWith(v, m*k)
		mulAB(da, dz, w, m, n, k)
		wantDa := make([]float64, m*k)
		for r := range m {
			for j, x := range dz[r*n : (r+1)*n] {
				if x != 0 {
					axpyGo(x, w[j*k:(j+1)*k], wantDa[r*k:(r+1)*k])
				}
			}
		}
		if i := firstDiff(da, wantDa); i >= 0 {
			t.Fatalf("%v: mulAB[%d] = %v, loop of axpys %v", s, i, da[i], wantDa[i])
		}
	}
}
