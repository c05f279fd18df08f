package robust

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/fl"
)

func TestSelectK(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 16, 17, 18, 50, 101, 400} {
		for _, distinct := range []int{2, 5, 1 << 30} { // many ties, some ties, none
			for trial := range 20 {
				a := make([]float64, n)
				for i := range a {
					a[i] = float64(rng.IntN(distinct))
				}
				sorted := slices.Clone(a)
				slices.Sort(sorted)
				k := rng.IntN(n)
				b := slices.Clone(a)
				selectK(b, k)
				if b[k] != sorted[k] {
					t.Fatalf("n=%d trial %d: a[%d] = %v, want %v", n, trial, k, b[k], sorted[k])
				}
				for i := range b {
					if (i < k && b[i] > b[k]) || (i > k && b[i] < b[k]) {
						t.Fatalf("n=%d: not partitioned around %d", n, k)
					}
				}
				slices.Sort(b)
				if !slices.Equal(b, sorted) {
					t.Fatal("selectK lost values")
				}
			}
		}
	}
}

func TestSelectIdx(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{2, 3, 10, 40} {
		for range 50 {
			key := make([]float64, n)
			for i := range key {
				key[i] = float64(rng.IntN(4))
			}
			idx := make([]int32, n)
			for i := range idx {
				idx[i] = int32(i)
			}
			want := slices.Clone(idx)
			slices.SortStableFunc(want, func(a, b int32) int {
				if key[a] < key[b] {
					return -1
				} else if key[a] > key[b] {
					return 1
				}
				return 0
			})
			k := 1 + rng.IntN(n-1)
			rng.Shuffle(n, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
			selectIdx(idx, key, k)
			got := slices.Clone(idx[:k])
			sortIdx(got, key)
			if !slices.Equal(got, want[:k]) {
				t.Fatalf("n=%d k=%d: %v, want %v (keys %v)", n, k, got, want[:k], key)
			}
		}
	}
}

// TestPairwise checks the Gram-matrix distances against explicit loops,
// including vectors far from the origin, where ‖a‖²+‖b‖²−2a·b cancels.
func TestPairwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, sz := range []struct {
		n, d   int
		offset float64
	}{{1, 5, 0}, {3, 1, 0}, {7, 513, 0}, {12, 20000, 0}, {5, 100, 100}} {
		ups := make([]fl.Update, sz.n)
		for i := range ups {
			v := make([]float64, sz.d)
			for j := range v {
				v[j] = sz.offset + rng.NormFloat64()
			}
			ups[i].Delta = v
		}
		var s distScratch
		if !s.pairwise(ups) {
			t.Fatal("pairwise reported NaN")
		}
		var scale float64
		for _, u := range ups {
			scale = max(scale, dot(u.Delta, u.Delta))
		}
		for i := range ups {
			for j := range ups {
				var want float64
				for k := range ups[i].Delta {
					x := ups[i].Delta[k] - ups[j].Delta[k]
					want += x * x
				}
				got := s.dist[i*sz.n+j]
				if math.Abs(got-want) > 1e-12*scale || got < 0 {
					t.Fatalf("%+v: dist[%d][%d] = %v, want %v", sz, i, j, got, want)
				}
			}
		}
		ups[sz.n-1].Delta[sz.d-1] = math.NaN()
		if s.pairwise(ups) {
			t.Fatalf("%+v: NaN not reported", sz)
		}
	}
}
