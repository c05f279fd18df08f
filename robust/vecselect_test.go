package robust

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// kernelModes are the kernels the selection can run on here: the portable
// ones always, the AVX-512 ones where the processor has them.
func kernelModes() []bool {
	if hasAVX512 {
		return []bool{false, true}
	}
	return []bool{false}
}

// randColumn returns n values drawn from one of several shapes: few
// distinct values (ties), many, sorted, reversed, or with ±0.
func randColumn(rng *rand.Rand, n int) []float64 {
	a := make([]float64, n)
	switch rng.IntN(6) {
	case 0:
		for i := range a {
			a[i] = float64(rng.IntN(3))
		}
	case 1:
		for i := range a {
			a[i] = float64(rng.IntN(n + 1))
		}
	case 2:
		for i := range a {
			a[i] = rng.NormFloat64()
		}
		slices.Sort(a)
	case 3:
		for i := range a {
			a[i] = rng.NormFloat64()
		}
		slices.Sort(a)
		slices.Reverse(a)
	case 4:
		for i := range a {
			a[i] = math.Copysign(0, float64(rng.IntN(2))-0.5) + float64(rng.IntN(2))
		}
	default:
		for i := range a {
			a[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(20)-10))
		}
	}
	return a
}

// The vectorised kernels agree bit for bit with the portable ones,
// including the lanes of the partial sums, at every length mod 8.
func TestKernelsMatchPortable(t *testing.T) {
	if !hasAVX512 {
		t.Log("no AVX-512 here: only the portable kernels exist, compared with the scalar selection below")
		return
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for n := range 70 {
		for range 30 {
			a := randColumn(rng, n)
			var p float64
			if n > 0 {
				p = a[rng.IntN(n)]
			}
			for _, orEqual := range []bool{false, true} {
				l1, g1 := make([]float64, n+8), make([]float64, n+8)
				l2, g2 := make([]float64, n+8), make([]float64, n+8)
				k1 := partGo(a, l1, g1, p, orEqual)
				k2 := partSIMD(a, l2, g2, p, orEqual)
				if k1 != k2 || !slices.Equal(l1[:k1], l2[:k2]) || !slices.Equal(g1[:n-k1], g2[:n-k2]) {
					t.Fatalf("n=%d p=%v orEqual=%v: SIMD partition %d %v|%v, want %d %v|%v",
						n, p, orEqual, k2, l2[:k2], g2[:n-k2], k1, l1[:k1], g1[:n-k1])
				}
			}
			if n >= 1 && n <= 16 {
				k1, k2 := rng.IntN(n), rng.IntN(n)
				x1, x2 := ranksSmallGo(a, k1, k2)
				y1, y2 := ranksSmallSIMD(a, k1, k2)
				if x1 != y1 || x2 != y2 {
					t.Fatalf("n=%d: SIMD ranks %d,%d of %v = %v,%v, want %v,%v", n, k1, k2, a, y1, y2, x1, x2)
				}
			}
			lo, hi := p, p+1
			if n > 1 {
				lo, hi = min(a[0], a[n-1]), max(a[0], a[n-1])
			}
			s1, le1, lt1 := sumBetweenGo(a, lo, hi)
			s2, le2, lt2 := sumBetweenSIMD(a, lo, hi)
			if math.Float64bits(s1) != math.Float64bits(s2) || le1 != le2 || lt1 != lt2 {
				t.Fatalf("n=%d: SIMD sumBetween (%v %d %d), want (%v %d %d)", n, s2, le2, lt2, s1, le1, lt1)
			}
		}
	}
}

// The out-of-place selection finds the values a sort puts at the ranks
// asked for, leaves its input alone, and gives the median and trimmed mean
// of the scalar in-place code.
func TestVecSelect(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, simd := range kernelModes() {
		for _, n := range []int{1, 2, 3, 12, 13, 14, 25, 64, 99, 100, 101, 257} {
			s := newVecSel(n, simd)
			for range 60 {
				a := randColumn(rng, n)
				orig := slices.Clone(a)
				sorted := slices.Clone(a)
				slices.Sort(sorted)
				k1 := rng.IntN(n)
				k2 := k1 + rng.IntN(n-k1)
				if got := s.rank(a, -1, -1, k1); got != sorted[k1] {
					t.Fatalf("simd=%v n=%d: rank %d = %v, want %v", simd, n, k1, got, sorted[k1])
				}
				x, y := s.ranks2(a, k1, k2)
				if x != sorted[k1] || y != sorted[k2] {
					t.Fatalf("simd=%v n=%d: ranks %d,%d = %v,%v, want %v,%v", simd, n, k1, k2, x, y, sorted[k1], sorted[k2])
				}
				if got, want := s.median(a), median(slices.Clone(a)); got != want {
					t.Fatalf("simd=%v n=%d: median %v, want %v", simd, n, got, want)
				}
				f := rng.IntN((n + 1) / 2)
				ref := sortedTrimmedMean(sorted, f)
				if got := s.trimmedMean(a, f); math.Abs(got-ref) > 1e-12*(math.Abs(ref)+maxAbs(sorted)) {
					t.Fatalf("simd=%v n=%d f=%d: trimmed mean %v, want %v", simd, n, f, got, ref)
				}
				if !slices.Equal(a, orig) {
					t.Fatal("selection modified its input")
				}
			}
		}
	}
}

// sortedMedian is the median by its definition, of sorted values: the
// middle one, or the mean of the two middle ones.
func sortedMedian(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return s[n/2-1]/2 + s[n/2]/2
}

// sortedTrimmedMean is the trimmed mean by its definition, of sorted
// values: drop f at each end and average the rest, in order (each term
// divided first, so that huge values do not overflow the sum).
func sortedTrimmedMean(s []float64, f int) float64 {
	var m float64
	for _, v := range s[f : len(s)-f] {
		m += v / float64(len(s)-2*f)
	}
	return m
}

// sortedColumn returns coordinate j of every row, sorted.
func sortedColumn(rows [][]float64, j int) []float64 {
	col := make([]float64, len(rows))
	for i := range col {
		col[i] = rows[i][j]
	}
	slices.Sort(col)
	return col
}

func maxAbs(a []float64) float64 {
	var m float64
	for _, v := range a {
		m = max(m, math.Abs(v))
	}
	return m
}

// FuzzVecSelect: any finite column (the bytes read as float64s, non-finite
// ones replaced) gets from the vectorised selection the median and the
// trimmed means of their definitions.
func FuzzVecSelect(f *testing.F) {
	f.Add([]byte{}, uint8(0))
	f.Add(make([]byte, 8*17), uint8(3))
	seed := make([]byte, 8*100)
	for i := range 100 {
		binary.LittleEndian.PutUint64(seed[8*i:], math.Float64bits(float64(i%7)-3))
	}
	f.Add(seed, uint8(10))
	f.Fuzz(func(t *testing.T, data []byte, fb uint8) {
		n := len(data) / 8
		if n == 0 || n > 300 {
			return
		}
		a := make([]float64, n)
		for i := range a {
			v := math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
			if math.IsNaN(v) || math.IsInf(v, 0) {
				v = float64(i)
			}
			a[i] = v
		}
		sorted := slices.Clone(a)
		slices.Sort(sorted)
		f := int(fb) % ((n + 1) / 2)
		for _, simd := range kernelModes() {
			s := newVecSel(n, simd)
			if got, want := s.median(slices.Clone(a)), sortedMedian(sorted); got != want {
				t.Fatalf("simd=%v: median of %v = %v, want %v", simd, a, got, want)
			}
			got := s.trimmedMean(slices.Clone(a), f)
			tol := 1e-9*maxAbs(sorted) + 1e-300 // the sum's rounding
			if got < sorted[f]-tol || got > sorted[n-f-1]+tol {
				t.Fatalf("simd=%v f=%d: trimmed mean %v outside [%v, %v]", simd, f, got, sorted[f], sorted[n-f-1])
			}
			if ref := sortedTrimmedMean(sorted, f); math.Abs(got-ref) > tol && !math.IsInf(ref, 0) {
				t.Fatalf("simd=%v f=%d: trimmed mean %v, want %v", simd, f, got, ref)
			}
		}
	})
}
