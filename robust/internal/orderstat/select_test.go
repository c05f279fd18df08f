package orderstat

import (
	"math/rand/v2"
	"slices"
	"testing"
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
				SelectK(b, k)
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
					t.Fatal("SelectK lost values")
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
			SelectIdx(idx, key, k)
			got := slices.Clone(idx[:k])
			SortIdx(got, key)
			if !slices.Equal(got, want[:k]) {
				t.Fatalf("n=%d k=%d: %v, want %v (keys %v)", n, k, got, want[:k], key)
			}
		}
	}
}
