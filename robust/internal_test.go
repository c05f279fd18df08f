package robust

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl"
)

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
